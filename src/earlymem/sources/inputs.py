"""Where a prediction's inputs come from: a boot log, a TOML machine, or /proc.

Every command that predicts (``e820`` now; ``predict`` and ``verify`` later)
loads its input the same way: one source, an optional ``--boot`` for logs
holding several boots, an optional ``--kernel-version`` override and optional
extra command-line parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from earlymem.kernels import profile_for
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.sources.dmesg import machine_from_boot_log
from earlymem.sources.procfs import machine_from_proc
from earlymem.sources.toml import machine_from_toml

__all__ = ["LoadedInput", "load_input"]


@dataclass
class LoadedInput:
    """A machine, the profile of its kernel era, and how its e820 map was obtained.

    :param map_is_sanitized: the map is one the kernel already sanitized and
        printed (a log's BIOS-e820 lines, /sys/firmware/memmap), not a raw one.
    :param who: the ``who`` string the firmware map was printed with.
    :param cmdline_source: ``(source, line, field)`` to blame for a bad parameter.
    """

    machine: Machine
    profile: KernelProfile
    map_is_sanitized: bool
    who: str
    cmdline_source: tuple[str, int | None, str | None]
    kaslr_note: str | None = None
    #: the logical CPU the log shows panicking into a loaded crash kernel.
    crash_cpu: int | None = None


def _profile(version_text: str | None, override: str | None, source: str, line: int | None = None) -> KernelProfile:
    if override:
        try:
            return profile_for(parse_version(override))
        except InputError as exc:
            raise exc.located(source="--kernel-version")
    if not version_text:
        raise InputError("no kernel version (no 'Linux version' banner); pass --kernel-version", source=source)
    try:
        return profile_for(parse_version(version_text))
    except InputError as exc:
        raise exc.located(source=source, line=line)


def load_input(
    *,
    dmesg: Path | None = None,
    machine_file: Path | None = None,
    proc_root: Path | None = None,
    boot: int = 1,
    kernel_version: str | None = None,
    append: str | None = None,
    kernel_image: Path | None = None,
) -> LoadedInput:
    """Load exactly one of a boot log, a TOML machine or a /proc root.

    :raises InputError: for any bad input, located in its file.
    :raises ValueError: if not exactly one source is given (a usage error).
    """
    from earlymem.sources.dmesg import read_boot_logs

    if sum(x is not None for x in (dmesg, machine_file, proc_root)) != 1:
        raise ValueError("give exactly one of --dmesg FILE, --machine FILE or --proc DIR")
    if dmesg is not None:
        boots = read_boot_logs(dmesg)
        if boot > len(boots):
            raise InputError(f"the log has {len(boots)} boot(s), not {boot}", source=str(dmesg), field="--boot")
        log = boots[boot - 1]
        machine = machine_from_boot_log(log)
        profile = _profile(log.version, kernel_version, str(dmesg), log.version_lineno)
        # The BIOS-e820 lines of a log were printed after sanitizing.
        loaded = LoadedInput(machine, profile, True, log.firmware.who, (str(dmesg), log.command_line_lineno, None), crash_cpu=log.crash_cpu)
    elif machine_file is not None:
        machine = machine_from_toml(machine_file)
        version = str(machine.kernel_version) if machine.kernel_version else None
        profile = _profile(version, kernel_version, str(machine_file))
        loaded = LoadedInput(machine, profile, False, "BIOS-e820", (str(machine_file), None, "command_line"))
    else:
        machine = machine_from_proc(proc_root)
        version = str(machine.kernel_version) if machine.kernel_version else None
        profile = _profile(version, kernel_version, str(proc_root))
        # /sys/firmware/memmap is e820_table_firmware: the sanitized BIOS map
        # (tests/test_proc_captures.py checks this on real kernels).
        loaded = LoadedInput(machine, profile, True, "BIOS-e820", (str(proc_root), None, "proc/cmdline"))
    if append:
        machine.command_line = CommandLine(f"{machine.command_line.text} {append}".strip())
        loaded.cmdline_source = ("--append", None, None)
    if kernel_image is not None:
        from earlymem.sources.bzimage import read_bzimage

        image = read_bzimage(kernel_image)
        machine.struct_sizes = dict(image.struct_sizes)
        if image.percpu_static is not None:
            machine.struct_sizes["percpu_static"] = image.percpu_static
        machine.image_frees = dict(image.image_frees)
        # With nokaslr the decompressor runs the kernel at its default address
        # (the PT_LOAD addresses); with KASLR it picks a random one, unknown here.
        if machine.command_line.flag("nokaslr"):
            machine.kernel_image = image.image_extent
            if image.image_extent is not None and image.reserve_end:
                machine.kernel_reserve = Range(image.image_extent.start, image.reserve_end)
                machine.kernel_brk_size = image.brk_size
            machine.kernel_resources = list(image.kernel_resources)
        loaded.kaslr_note = None if machine.command_line.flag("nokaslr") else (
            "KASLR is on (no nokaslr): the kernel's physical placement varies from boot to boot, "
            "so predictions that depend on it are not made"
        )
    return loaded
