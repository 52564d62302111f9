"""One fuzz target per input reader: ``TARGETS[name](data: bytes)``.

The contract every target checks (README, "Fuzzing"): for any bytes a reader
returns a value or raises :class:`~earlymem.lib.errors.InputError` whose
``str()`` is one line.  Anything else escaping a target is a crash: the
driver (fuzz/run.py, atheris) reports it and saves the input.

Readers that take a path get the bytes written to a file in a private
scratch directory (on tmpfs when there is one); readers that take a
directory (``/sys/firmware/memmap``, a /proc root) get a small tree decoded
from the bytes by :func:`write_tree`::

    === 0/start
    0x0
    === 0/end
    0x9fbff
    === 0/type
    System RAM

Nothing here catches an exception other than InputError.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from earlymem.kdump.gather import kdump_config, kdump_targets
from earlymem.lib.errors import InputError
from earlymem.oracle.config import read_matrix
from earlymem.scenario.replay import load_scenario
from earlymem.sources import bzimage as _bzimage
from earlymem.sources import image_cache as _image_cache
from earlymem.sources.btf import struct_sizes
from earlymem.sources.capture import read_capture
from earlymem.sources.cpio import read_cpio
from earlymem.sources.initrd_listing import parse_initrd_listing
from earlymem.sources.dmesg import (
    crash_cpu,
    machine_from_boot_log,
    memory_line,
    read_boot_logs,
)
from earlymem.sources.inputs import load_input, load_machine
from earlymem.sources.iomem import iomem_e820, read_firmware_memmap, read_iomem
from earlymem.sources.memblock_trace import kernel_calls, reserved_at_handoff
from earlymem.sources.purgatory import purgatory_facts
from earlymem.sources.realmode import realmode_size
from earlymem.sources.sosreport import read_sosreport
from earlymem.sources.text import read_text_lines
from earlymem.sources.toml import machine_from_toml
from earlymem.verification import setup_data_chain

__all__ = ["TARGETS", "check_error", "scratch", "write_tree"]

_SCRATCH: Path | None = None


def scratch() -> Path:
    """This process's scratch directory (created on first use, on /dev/shm if it exists)."""
    global _SCRATCH
    if _SCRATCH is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="earlymem-fuzz-", dir=base))
    return _SCRATCH


def cleanup() -> None:
    """Remove the scratch directory (the driver's workers call this at exit)."""
    if _SCRATCH is not None:
        shutil.rmtree(_SCRATCH, ignore_errors=True)


def check_error(exc: InputError) -> None:
    """An InputError must read as one line that names the file (``file[:line][: field]: message``)."""
    text = str(exc)
    if "\n" in text or "\r" in text:
        raise AssertionError(f"InputError message is not one line: {text!r}")
    if not exc.message.strip():
        raise AssertionError("InputError with an empty message")
    if not exc.source:
        raise AssertionError(f"InputError that names no file: {text!r}")


def _file(data: bytes, name: str) -> Path:
    p = scratch() / name
    p.write_bytes(data)
    return p


_COMPONENT = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")
_MAX_FILES = 96


def write_tree(data: bytes, name: str) -> Path:
    """Decode ``=== relative/path`` sections into a fresh directory tree; returns its root.

    Paths are sanitized (plain components, no ``..``, at most 8 deep); a path ending in
    ``/`` makes an empty directory; sections whose path is unusable are dropped.
    """
    root = scratch() / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    chunks = (b"\n" + data).split(b"\n=== ")
    for chunk in chunks[1 : _MAX_FILES + 1]:
        head, _, body = chunk.partition(b"\n")
        rel = head.decode("latin-1").strip()
        is_dir = rel.endswith("/")
        parts = [c for c in rel.split("/") if c]
        if not parts or len(parts) > 8 or not all(_COMPONENT.match(c) and c not in (".", "..") for c in parts):
            continue
        target = root.joinpath(*parts)
        try:
            if is_dir:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            continue  # a file where a directory is wanted, or the reverse
    return root


def _guard(fn: Callable[[bytes], object]) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        try:
            return fn(data)
        except InputError as exc:
            check_error(exc)
            return None

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _each(*calls: Callable[[], object]) -> None:
    """Run every call; each may raise InputError (checked), nothing else."""
    for call in calls:
        try:
            call()
        except InputError as exc:
            check_error(exc)


def t_text(data: bytes) -> object:
    """sources/text.py read_text_lines: encodings, NULs, CR/LF, long lines; the same bytes as a
    gzip file (serial.log.gz: bounded decompression, damaged and truncated streams)."""
    _each(lambda: read_text_lines(_file(data, "text.log.gz")))
    return read_text_lines(_file(data, "text.log"))


def t_dmesg(data: bytes) -> object:
    """sources/dmesg.py: read_boot_logs, then machine_from_boot_log on every boot."""
    path = _file(data, "dmesg.log")
    boots = read_boot_logs(path)
    _each(*[(lambda b=b: machine_from_boot_log(b)) for b in boots])
    lines = read_text_lines(path)
    crash_cpu(lines)
    memory_line(lines)
    return boots


def t_inputs(data: bytes) -> object:
    """sources/inputs.py load_machine/load_input: the first byte picks a boot log or a TOML machine."""
    if not data:
        return None
    kind, body = data[0] & 1, data[1:]
    path = _file(body, "machine.toml" if kind else "boot.log")
    _each(lambda: load_machine(path))
    if kind:
        return load_input(machine_file=path, append="quiet")
    return load_input(dmesg=path, boot=1 + (data[0] >> 1) % 3)


def t_iomem(data: bytes) -> object:
    """sources/iomem.py read_iomem and iomem_e820."""
    return iomem_e820(read_iomem(_file(data, "iomem")))


def t_memmap(data: bytes) -> object:
    """sources/iomem.py read_firmware_memmap over a /sys/firmware/memmap tree."""
    return read_firmware_memmap(write_tree(data, "memmap"))


def t_proc(data: bytes) -> object:
    """sources/procfs.py machine_from_proc over a proc/ + sys/ tree (load_machine kind 'proc')."""
    root = write_tree(data, "root")
    return load_machine(root, "proc")


def t_toml(data: bytes) -> object:
    """TOML readers: sources/toml.py machine_from_toml, scenario load_scenario, oracle read_matrix."""
    path = _file(data, "machine.toml")
    _each(lambda: load_scenario(path), lambda: read_matrix(path))
    return machine_from_toml(path)


def t_capture(data: bytes) -> object:
    """sources/capture.py read_capture (a serial log with @@@@BEGIN/END@@@@ sections), and the
    setup_data chain section verify reads from it (sources/setup_data.py)."""
    cap = read_capture(_file(data, "serial.log"))
    _each(lambda: setup_data_chain(cap))
    return cap


def t_bzimage(data: bytes) -> object:
    """sources/bzimage.py parse_bzimage (header, payload decompression, vmlinux ELF, BTF) and kernel_build."""
    img = _bzimage.parse_bzimage(data, "vmlinuz")
    img.kernel_probe_error()
    _bzimage.kernel_header(img)
    return _bzimage.kernel_build(img)


def t_elf(data: bytes) -> object:
    """sources/bzimage.py: the decompressed vmlinux ELF as the payload reader sees it (pyelftools)."""
    return _bzimage._load_segments(data, "vmlinux")


def t_btf(data: bytes) -> object:
    """sources/btf.py struct_sizes."""
    return struct_sizes(data, "vmlinux")


def t_purgatory(data: bytes) -> object:
    """sources/purgatory.py purgatory_facts (a kexec binary with an embedded ET_REL)."""
    return purgatory_facts(data, "kexec")


def t_realmode(data: bytes) -> object:
    """sources/realmode.py realmode_size: the first 8 bytes are the section's address, the rest .init.data."""
    vaddr = int.from_bytes(data[:8], "little")
    return realmode_size(data[8:], vaddr)


def t_memblock(data: bytes) -> object:
    """sources/memblock_trace.py over a boot log's lines (memblock=debug)."""
    path = _file(data, "mbdebug.log")
    lines = read_text_lines(path)
    kernel_calls(lines, str(path))
    return reserved_at_handoff(lines, str(path))


def t_cpio(data: bytes) -> object:
    """sources/cpio.py read_cpio (newc/crc, concatenated, compressed members)."""
    entries = read_cpio(_file(data, "initrd.img"))
    for e in entries:
        e.data  # noqa: B018 -- reading each body is part of the contract
    return entries


def t_sosreport(data: bytes) -> object:
    """sources/sosreport.py: an archive as shipped (tar, tar.gz, tar.xz), read into memory only."""
    sos = read_sosreport(_file(data, "sosreport.tar.xz"))
    return {name: sos.text(name) for name in sos.files}


def t_kdump_text(data: bytes) -> object:
    """kdump's text readers: sources/initrd_listing.py parse_initrd_listing (lsinitrd, lsinitramfs -l,
    cpio -itv), kdump/gather.py kdump_config (sysconfig, kdump-tools) and kdump_targets (kdump.conf)."""
    path = _file(data, "kdump.txt")
    lines = read_text_lines(path)
    text = "\n".join(lines)
    _each(lambda: parse_initrd_listing(lines, str(path)), lambda: kdump_config(text, str(path)),
          lambda: kdump_targets(text, str(path)))
    return None


def t_fleet_rows(data: bytes) -> object:
    """fleet/run.py read_rows: a fleet's own output as a re-run reads it (the first byte picks JSON lines
    or CSV)."""
    from earlymem.fleet.run import read_rows

    return read_rows(_file(data[1:], "rows.csv" if data[:1] == b"c" else "rows.jsonl"))


def t_image_cache(data: bytes) -> object:
    """sources/image_cache.py: a cache file is either trusted facts or None (never an exception)."""
    digest = "0" * 64
    path = _file(data, "cache.json")
    result = _image_cache._load(path, digest)
    if result is None:
        try:  # the same document under the digest it names, if any
            doc = json.loads(data)
            if isinstance(doc, dict) and isinstance(doc.get("sha256"), str):
                return _image_cache._load(path, doc["sha256"])
        except (ValueError, RecursionError):
            pass
    return result


TARGETS: dict[str, Callable[[bytes], object]] = {
    name[2:]: _guard(fn)
    for name, fn in sorted(globals().items())
    if name.startswith("t_") and callable(fn)
}
