"""Where a prediction's inputs come from: a boot log, a TOML machine, or /proc.

:func:`load_machine` is the public reader (a path, its kind guessed or given);
:func:`load_input` is what every predicting command does with its options:
one source, an optional ``--boot`` for logs holding several boots, an optional
``--kernel-version`` override, extra command-line parameters, and the kernel
image (``--kernel``) whose facts the boot uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.eras import check_known, coverage_note, profile_for, rules_label
from earlymem.kernels.vendors import vendor_note
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.units import parse_size
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.sources.image_cache import load_kernel_build
from earlymem.sources.dmesg import machine_from_boot_log, read_boot_logs
from earlymem.sources.procfs import machine_from_proc
from earlymem.sources.setup_data import parse_setup_data_chain
from earlymem.sources.text import read_text_lines
from earlymem.sources.toml import machine_from_toml

__all__ = ["LoadedInput", "load_input", "load_machine", "KINDS"]

#: what :func:`load_machine` reads
KINDS = ("auto", "dmesg", "toml", "proc")


def load_machine(path: str | Path, kind: str = "auto", *, boot: int = 1) -> Machine:
    """A :class:`~earlymem.machine.Machine` from a file or directory.

    :param kind: ``dmesg`` (a boot log: only its input facts are read), ``toml``
        (docs/machine-toml.md), ``proc`` (a running system's root, or a copy of
        its /proc and /sys files), or ``auto``: a directory is ``proc``, a
        ``.toml`` file ``toml``, anything else ``dmesg``.
    :param boot: which boot of a log holding several (1: the first kernel).
    :raises InputError: for any bad input, located in its file.
    """
    p = Path(path)
    if kind == "auto":
        kind = "proc" if p.is_dir() else "toml" if p.suffix == ".toml" else "dmesg"
    if kind == "dmesg":
        boots = read_boot_logs(p)
        if boot > len(boots):
            raise InputError(f"the log has {len(boots)} boot(s), not {boot}", source=str(p), field="--boot")
        return machine_from_boot_log(boots[boot - 1])
    if kind == "toml":
        return machine_from_toml(p)
    if kind == "proc":
        return machine_from_proc(p)
    raise InputError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})", field="kind")


@dataclass
class LoadedInput:
    """A machine, the profile of its kernel era, and the image given for it.

    :param kernel: the build read from ``--kernel`` (None: the pinned build its release names, if any).
    :param crash_cpu: the logical CPU the log shows panicking into a loaded crash kernel.
    """

    machine: Machine
    profile: KernelProfile
    kernel: KernelBuild | None = None
    crash_cpu: int | None = None
    notes: list[str] = field(default_factory=list)
    #: what the prediction assumes about the input (printed in one "assumed" block)
    assumed: list[str] = field(default_factory=list)


def _profile(machine: Machine, override: str | None, assume_era: str | None = None) -> KernelProfile:
    if assume_era is not None:
        try:
            parse_version(assume_era)
            profile_for(assume_era)
        except InputError as exc:
            raise exc.located(source="--assume-era") from None
    if override:
        try:
            return check_known(parse_version(override), assume=assume_era)
        except InputError as exc:
            raise exc.located(source="--kernel-version") from None
    if machine.kernel_version is None:
        raise InputError("no kernel version (no 'Linux version' banner); pass --kernel-version", source=machine.source)
    return check_known(machine.kernel_version, assume=assume_era)


def load_input(
    *,
    dmesg: Path | None = None,
    machine_file: Path | None = None,
    proc_root: Path | None = None,
    boot: int = 1,
    kernel_version: str | None = None,
    append: str | None = None,
    kernel_image: Path | None = None,
    assume_era: str | None = None,
    kernel_at: str | None = None,
    setup_data: Path | None = None,
) -> LoadedInput:
    """Load exactly one of a boot log, a TOML machine or a /proc root.

    :raises InputError: for any bad input, located in its file.
    :raises ValueError: if not exactly one source is given (a usage error).
    """
    if sum(x is not None for x in (dmesg, machine_file, proc_root)) != 1:
        raise ValueError("give exactly one of --dmesg FILE, --machine FILE or --proc DIR")
    crash_cpu = None
    notes: list[str] = []
    if dmesg is not None:
        boots = read_boot_logs(dmesg)
        if boot > len(boots):
            raise InputError(f"the log has {len(boots)} boot(s), not {boot}", source=str(dmesg), field="--boot")
        log = boots[boot - 1]
        machine = machine_from_boot_log(log)
        crash_cpu = log.crash_cpu
        fw = log.firmware
        if fw is not None and fw.lines and fw.lines[-1].lineno >= log.last_lineno:
            notes.append(f"{dmesg}:{fw.lines[-1].lineno}: the log ends inside its BIOS-e820 map: entries after it, "
                         "if the kernel printed any, are missing from the prediction")
        if kernel_version is None and log.version is None:
            raise InputError("no kernel version (no 'Linux version' banner); pass --kernel-version", source=str(dmesg),
                             line=log.first_lineno)
    else:
        machine = load_machine(machine_file if machine_file is not None else proc_root, "toml" if machine_file is not None else "proc")
    try:
        profile = _profile(machine, kernel_version, assume_era)
    except InputError as exc:
        if exc.source is not None:
            raise
        if dmesg is None:  # the TOML's kernel_version, or the /proc root's osrelease
            raise exc.located(source=machine.source) from None
        raise exc.located(source=str(dmesg), line=log.version_lineno) from None
    if kernel_version:
        # the override names the kernel (a series stands for its pinned build)
        machine = dataclasses.replace(machine, kernel_version=parse_version(kernel_version), kernel_banner=None)
    loaded = LoadedInput(machine, profile, crash_cpu=crash_cpu, notes=notes)
    version = machine.kernel_version
    if assume_era is not None:
        loaded.assumed.append(f"kernel {version} is predicted with the {rules_label(profile)}, as --assume-era {assume_era} "
                              "asks; nothing about it was checked")
    elif version is not None:
        note = coverage_note(version, profile)
        if note:
            loaded.assumed.append(note)
        vendor = vendor_note(version.text)
        if vendor:
            loaded.assumed.append(vendor)
    if machine.command_line.init_args:
        notes.append(f"the command line's words after '--' go to init, not the kernel: {' '.join(machine.command_line.init_args)}")
    if append:
        loaded.machine = dataclasses.replace(machine, command_line=CommandLine(f"{machine.command_line.text} {append}".strip()),
                                             command_line_at=("--append", None, None))
    if kernel_image is not None:
        loaded.kernel = read_kernel(kernel_image)
        named = machine.kernel_version.text if machine.kernel_version is not None else None
        if not kernel_version and named and loaded.kernel.release and loaded.kernel.release != named:
            raise InputError(f"the image is {loaded.kernel.release}, the log's banner names {named}: pass --kernel-version to say "
                             "which kernel booted (the image's facts are then used)", source=str(kernel_image))
    if kernel_at is not None:
        # --kernel-at: the kernel's place is a fact (its _text: /proc/iomem's Kernel code start)
        loaded.machine = dataclasses.replace(loaded.machine, kernel_load_addr=parse_kernel_at(kernel_at),
                                             kernel_at_from=("--kernel-at", None, "--kernel-at"))
    if setup_data is not None:
        loaded.machine = dataclasses.replace(loaded.machine, setup_data=read_setup_data(setup_data, loaded.machine))
    return loaded


def read_setup_data(path: Path, machine: Machine) -> tuple[Range, ...]:
    """--setup-data FILE: the setup-data-chain helper's output (earlymem.sources.setup_data).

    :raises InputError: for a bad line, or nodes other than those the log itself shows.
    """
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError:
        empty = False
    # an empty file: the helper found no node (boot_params.hdr.setup_data is 0)
    chain = () if empty else parse_setup_data_chain(read_text_lines(path), str(path))
    if machine.setup_data and sorted(machine.setup_data) != sorted(chain):
        shown = ", ".join(f"[mem {r.start:#x}-{r.end - 1:#x}]" for r in machine.setup_data)
        raise InputError(f"these nodes are not the ones the log shows ({shown}): a file of another boot?", source=str(path))
    return chain


def parse_kernel_at(text: str) -> int:
    """--kernel-at ADDR: a physical address (0x..., or a size such as 1G), page aligned, below 2^52."""
    try:
        value = parse_size(text.strip(), what="--kernel-at")
    except InputError as exc:
        raise exc.located(source="--kernel-at") from None
    if value % 4096 or value >= 1 << 52:
        raise InputError(f"{text} is not a page-aligned physical address below 2^52", source="--kernel-at")
    return value


def read_kernel(path: Path) -> KernelBuild:
    """The build facts of a vmlinuz (cached on disk by the image's hash: earlymem.sources.image_cache).

    :raises InputError: for an unreadable image, or one whose vmlinux cannot be read.
    """
    build, _ = load_kernel_build(path)
    if build is None:
        raise InputError("the kernel's vmlinux could not be read (boot protocol before 2.08?)", source=str(path), field="payload")
    return build
