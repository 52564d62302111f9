"""A running system's input facts from its /proc and /sys files (or a copy of them)."""

from __future__ import annotations

from pathlib import Path

from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.lib.ranges import Range
from earlymem.sources.iomem import iomem_e820, read_firmware_memmap, read_iomem

__all__ = ["machine_from_proc"]


def machine_from_proc(root: str | Path = "/") -> Machine:
    """Read a running system (or a copy of its files under ``root``).

    Uses ``sys/firmware/memmap`` for the firmware map (falling back to the
    top level of ``proc/iomem``), ``proc/cmdline`` and ``proc/sys/kernel/osrelease``.
    """
    base = Path(root)
    if not base.is_dir():
        raise InputError("no such directory (give / or a copy of a system's proc/ and sys/ files)" if not base.exists()
                         else "not a directory (give / or a copy of a system's proc/ and sys/ files)", source=str(base))
    if not (base / "sys/firmware/memmap").is_dir() and not (base / "proc/iomem").is_file():
        raise InputError("neither sys/firmware/memmap/ nor proc/iomem is here: not a system's root", source=str(base))
    memmap = base / "sys/firmware/memmap"
    iomem = read_iomem(base / "proc/iomem") if (base / "proc/iomem").is_file() else None
    if memmap.is_dir():
        e820 = read_firmware_memmap(memmap)
    else:
        e820 = iomem_e820(iomem or [])
    # /proc/iomem's Kernel code (its start is __pa_symbol(_text), kernel/resource setup in
    # arch/x86/kernel/setup.c) and Crash kernel lines: the kernel's place and the crash
    # regions, facts on a running system (KASLR or not)
    kernel_at = kernel_at_from = crash = None
    if iomem is not None:
        code = next((r for r in iomem if r.name == "Kernel code"), None)
        if code is not None:
            kernel_at, kernel_at_from = code.start, (str(base / "proc/iomem"), code.lineno, "Kernel code")
        crash = tuple(Range(r.start, r.last + 1) for r in iomem if r.name == "Crash kernel")
    cmd = _read_optional(base / "proc/cmdline")
    rel = _read_optional(base / "proc/sys/kernel/osrelease")
    try:
        version = parse_version(rel) if rel else None
    except InputError as exc:
        raise exc.located(source=str(base / "proc/sys/kernel/osrelease")) from None
    return Machine(
        e820=e820,
        command_line=CommandLine(cmd or ""),
        kernel_version=version,
        source=str(base),
        # /sys/firmware/memmap is e820_table_firmware: the sanitized BIOS map
        # (tests/test_proc_captures.py checks this on real kernels)
        e820_printed=True,
        command_line_at=(str(base), None, "proc/cmdline"),
        kernel_load_addr=kernel_at,
        kernel_at_from=kernel_at_from,
        crash_observed=crash,
        efi_boot=(str(base / "sys/firmware/efi"), None, "sys/firmware/efi") if (base / "sys/firmware/efi").is_dir() else None,
    )


def _read_optional(p: Path) -> str | None:
    """The file's text, stripped; None if it cannot be read.  :raises InputError: if it is not UTF-8."""
    try:
        return p.read_bytes().decode("utf-8").strip()
    except OSError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=str(p)) from None
