"""Where ``check`` and ``recommend`` find a machine's kdump set-up.

A source is detected from what it is:

* nothing: **this machine** -- /proc/cmdline, /proc/iomem, /sys/firmware/memmap,
  /sys/kernel/kexec_crash_size and kexec_crash_loaded, the kernel's log
  (``dmesg``, or the journal of this boot when the ring buffer has wrapped
  past the firmware map), /boot's kernels and the kdump initramfs, and the
  kdump configuration (/etc/kdump.conf, /etc/sysconfig/kdump,
  /etc/default/kdump-tools);
* a **sosreport** or an **Insights archive** (its directory, or the archive as shipped:
  :mod:`earlymem.sources.sosreport`); an Insights archive keeps only the dmesg lines its
  uploader's patterns match, so it usually has no firmware map: then only what it observed
  (crashkernel=, kexec_crash_size, kexec_crash_loaded) is checked;
* a directory holding a copy of a system's ``proc/`` and ``sys/`` files;
* a ``.toml`` file: a **machine description** (docs/machine-toml.md), with ``--kernel`` and ``--initrd``;
* anything else: a **boot log** (with ``--kernel`` and ``--initrd`` for the capture kernel).

What a source lacks is listed (:class:`~earlymem.kdump.check.Missing`) with what
it would change; options given on the command line fill the gaps.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.kdump.check import Missing
from earlymem.kdump.evaluate import KdumpSetup
from earlymem.kdump.initrd import InitrdFacts, initrd_facts
from earlymem.kernels.builds import KernelBuild, PINNED, pinned_build
from earlymem.kernels.eras import check_known
from earlymem.kexec.capture import LoadMethod
from earlymem.lib.errors import InputError
from earlymem.lib.units import parse_size
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.sources.dmesg import machine_from_boot_log, parse_boot_logs
from earlymem.sources.initrd_listing import parse_initrd_listing
from earlymem.sources.inputs import read_kernel
from earlymem.sources.procfs import machine_from_proc
from earlymem.sources.sosreport import MARKERS, SosReport, read_sosreport
from earlymem.sources.toml import machine_from_toml
from earlymem.sources.text import read_text_lines

__all__ = ["Options", "Gathered", "gather", "DEFAULT_APPEND", "kdump_config", "installed_builds", "kdump_targets"]

#: the words every distribution's capture kernel command line holds (kdumpctl's and kdump-tools'
#: defaults share them); used when no kdump configuration is at hand
DEFAULT_APPEND = "irqpoll nr_cpus=1 reset_devices"


@dataclass(frozen=True)
class Options:
    """What the command line gives (None: take it from the source)."""

    boot: int = 1
    kernel: str | None = None  # the capture kernel: a vmlinuz path, or a pinned release
    initrd: str | None = None  # the kdump initramfs: an image, or a listing (lsinitrd, lsinitramfs -l, cpio -itv)
    initrd_size: str | None = None  # bytes, or a size such as 26M
    append: str | None = None
    file_load: bool | None = None


@dataclass
class Gathered:
    #: None when the source has no firmware map (an Insights archive's filtered dmesg, a wrapped
    #: ring buffer without proc/iomem): only what it observed is checked (``observed``)
    setup: KdumpSetup | None
    source: str
    missing: list[Missing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: other installed kernels: (release, its vmlinuz path or None when only listed)
    installed: list[tuple[str, Path | None]] | None = None
    #: /sys/kernel/kexec_crash_loaded as the source shows it ("0", "1"), and where; None: not in the source
    crash_loaded: tuple[str, str] | None = None
    #: what the source observed without a machine: (name, value, where) of cmdline, kexec_crash_size
    observed: list[tuple[str, str, str]] = field(default_factory=list)
    #: kdump.conf's target and core_collector lines (kdump_targets())
    targets: list[tuple[str, str, str]] = field(default_factory=list)


def kdump_config(text: str | None, source: str | None = None) -> dict[str, str]:
    """``KEY=value`` lines of /etc/sysconfig/kdump or /etc/default/kdump-tools (shell quoting undone;
    comments and other lines skipped).  :raises InputError: naming ``source`` and the line, for a value
    whose quotes do not close (the shell that sources the file stops there too)."""
    out = {}
    for lineno, line in enumerate((text or "").splitlines(), 1):
        m = re.match(r"\s*([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if m:
            try:
                words = shlex.split(m.group(2), comments=True)
            except ValueError:
                raise InputError(f"{m.group(1)}: its quotes do not close", source=source or "kdump configuration",
                                 line=lineno) from None
            out[m.group(1)] = " ".join(words)
    return out


#: kdump.conf's dump targets (rhkdump/kdump-utils kdump.conf.5): the directives that name where the
#: dump goes (earlymem.kdump.check.NETWORK_TARGETS need the network in the capture kernel)
TARGETS = ("raw", "nfs", "ssh", "ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs", "path")


def kdump_targets(text: str | None, where: str | None) -> list[tuple[str, str, str]]:
    """``(directive, value, file:line)`` of kdump.conf's target and core_collector lines (comments skipped)."""
    out = []
    for lineno, line in enumerate((text or "").splitlines(), 1):
        words = line.split("#", 1)[0].split(None, 1)
        if words and (words[0] in TARGETS or words[0] in ("core_collector", "dracut_args")):
            out.append((words[0], words[1].strip() if len(words) > 1 else "", f"{where}:{lineno}"))
    return out


def _append(first_cmdline: str, sysconfig: dict, tools: dict, opts: Options, notes: list[str]) -> str:
    """The capture kernel's command line as the distribution's service builds it."""
    if opts.append is not None:
        return opts.append
    if sysconfig:
        # kdumpctl prepare_cmdline(): /proc/cmdline (or KDUMP_COMMANDLINE) minus KDUMP_COMMANDLINE_REMOVE
        # and crashkernel=, plus KDUMP_COMMANDLINE_APPEND
        base = sysconfig.get("KDUMP_COMMANDLINE") or first_cmdline
        remove = set(sysconfig.get("KDUMP_COMMANDLINE_REMOVE", "").split())
        words = [w for w in base.split() if w.split("=")[0] not in remove and not w.startswith("crashkernel=")]
        return " ".join(words + sysconfig.get("KDUMP_COMMANDLINE_APPEND", "").split())
    if tools:
        # kdump-tools kdump_load(): /proc/cmdline minus crashkernel= and a few, plus KDUMP_CMDLINE_APPEND
        base = tools.get("KDUMP_CMDLINE") or first_cmdline
        words = [w for w in base.split() if not w.startswith(("crashkernel=", "BOOT_IMAGE="))]
        return " ".join(words + tools.get("KDUMP_CMDLINE_APPEND", "").split())
    notes.append(f"the capture kernel's command line is taken to be {DEFAULT_APPEND!r} (no kdump configuration; "
                 "pass --append for the real one)")
    return DEFAULT_APPEND


def _capture_build(opts: Options, release: str | None, live_root: Path | None, missing: list[Missing]) -> KernelBuild | None:
    if opts.kernel is not None:
        if Path(opts.kernel).is_file():
            return read_kernel(Path(opts.kernel))
        b = pinned_build(parse_version(opts.kernel)) if re.match(r"^\d+\.\d+", opts.kernel) else None
        if b is None:
            raise InputError("neither a file nor a release earlymem knows (" + ", ".join(p.release for p in PINNED) + ")",
                             source="--kernel")
        return b
    if live_root is not None and release:
        vmlinuz = live_root / "boot" / f"vmlinuz-{release}"
        if vmlinuz.is_file() and os.access(vmlinuz, os.R_OK):
            return read_kernel(vmlinuz)
    b = pinned_build(parse_version(release)) if release else None
    if b is None:
        missing.append(Missing("the capture kernel's image (--kernel VMLINUZ)",
                               "the load is not placed and the capture kernel's memory is not followed"))
    return b


def _size_option(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        size = parse_size(text, what="--initrd-size")
    except InputError as exc:
        raise exc.located(source="--initrd-size") from None
    if not 0 < size < 1 << 34:
        raise InputError(f"{text} is not a size an initramfs can have", source="--initrd-size")
    return size


def _initrd(opts: Options, found: Path | None, listing: tuple[list[str], str] | None, sizes: dict[str, int],
            missing: list[Missing], notes: list[str]) -> InitrdFacts | None:
    given_size = _size_option(opts.initrd_size)
    path = Path(opts.initrd) if opts.initrd else found
    if path is not None:
        if not path.is_file():
            raise InputError("no such file", source=str(path))
        head = path.open("rb").read(6)
        if head[:1] in (b"0",) or head[:2] in (b"\x1f\x8b", b"BZ", b"\x02\x21", b"\x89L") or head[:6] in (b"\xfd7zXZ\x00",) \
                or head[:4] in (b"\x28\xb5\x2f\xfd",) or head[:3] == b"]\x00\x00" or head == bytes(6):
            facts = initrd_facts(path)
            return facts if given_size is None else InitrdFacts(given_size, facts.unpacked_pages, facts.files, facts.source)
        listing = (read_text_lines(path), str(path))
    if listing is None:
        missing.append(Missing("the kdump initramfs (--initrd FILE, or a listing of it)",
                               "the load is not placed and the unpacked files are not counted"))
        return None
    parsed = parse_initrd_listing(*listing)
    size = given_size or (sizes.get(Path(parsed.image).name) if parsed.image else None)
    if size is None and parsed.size_bound is not None:
        size = parsed.size_bound[1]
        notes.append(f"the kdump initramfs's size is taken as {size} bytes, the top of what lsinitrd's rounded "
                     f"'Image:' line allows ({listing[1]}); pass --initrd-size for the exact size")
    if size is None:
        missing.append(Missing("the kdump initramfs's size in bytes (--initrd-size, or a /boot listing)",
                               "the load is not placed"))
        return None
    return InitrdFacts(size, parsed.unpacked_pages, parsed.files, parsed.source)


def _boot_sizes(listing: str | None) -> dict[str, int]:
    """File name -> size from ``ls -lan /boot``-style lines."""
    out = {}
    for line in (listing or "").splitlines():
        m = re.match(r"^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(\S+)$", line.strip())
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def _log_machine(lines: list[str], source: str, boot: int) -> Machine | None:
    """The machine of a kernel log, None when its firmware map is gone (the ring buffer wrapped)."""
    try:
        boots = parse_boot_logs(lines, source)
    except InputError:
        return None
    if boot > len(boots):
        raise InputError(f"the log has {len(boots)} boot(s), not {boot}", source=source, field="--boot")
    try:
        return machine_from_boot_log(boots[boot - 1])
    except InputError:
        return None


def _finish(machine: Machine, source: str, opts: Options, *, live_root: Path | None = None, sysconfig: dict | None = None,
            tools: dict | None = None, initrd_found: Path | None = None, listing=None, boot_sizes=None,
            missing: list[Missing], notes: list[str], installed=None) -> Gathered:
    if machine.kernel_version is None:
        raise InputError("no kernel release (no 'Linux version' banner, no osrelease)", source=source)
    profile = check_known(machine.kernel_version)
    release = machine.kernel_version.text
    sysconfig, tools = sysconfig or {}, tools or {}
    capture = _capture_build(opts, release, live_root, missing)
    initrd = _initrd(opts, initrd_found, listing, boot_sizes or {}, missing, notes)
    append = _append(machine.command_line.text, sysconfig, tools, opts, notes)
    file_load = opts.file_load
    if file_load is None:
        args = sysconfig.get("KEXEC_ARGS", "") + " " + tools.get("KDUMP_KEXEC_ARGS", "")
        file_load = sysconfig.get("KDUMP_FILE_LOAD") == "on" or bool(re.search(r"(^|\s)(-s|--kexec-file-syscall)(\s|$)", args))
    method = LoadMethod.KEXEC_FILE_LOAD if file_load else LoadMethod.KEXEC_LOAD
    running = pinned_build(machine.kernel_version, machine.kernel_banner)
    setup = KdumpSetup(machine, profile, running, capture, initrd, append, method, max(1, len(machine.cpus) or 1), 0)
    return Gathered(setup, source, missing, notes, installed)


def _is_report(d: Path) -> bool:
    return any((d / m).is_dir() for m in MARKERS)


def gather(source: str | None, opts: Options = Options()) -> Gathered:
    """The set-up of ``source`` (None: this machine).  :raises InputError: for bad input, naming it."""
    if source is None:
        return _live(Path("/"), opts)
    p = Path(source)
    if p.is_dir() and (_is_report(p) or any(_is_report(d) for d in p.iterdir() if d.is_dir())):
        return _sos(read_sosreport(p), opts)
    if p.is_file() and re.search(r"\.tar(\.(xz|gz|bz2))?$|\.t[gx]z$", p.name):
        return _sos(read_sosreport(p), opts)
    if p.is_dir():
        return _live(p, opts, commands=False)
    if p.suffix == ".toml":  # a machine description (docs/machine-toml.md): its map, command line and kernel
        return _finish(machine_from_toml(p), str(p), opts, missing=[], notes=[])
    lines = read_text_lines(p)
    missing: list[Missing] = []
    machine = _log_machine(lines, str(p), opts.boot)
    if machine is None:
        parse_boot_logs(lines, str(p))  # raises the reader's own one-line error
        raise InputError("no 'BIOS-provided physical RAM map' (BIOS-e820 lines) in this boot", source=str(p))
    return _finish(machine, str(p), opts, missing=missing, notes=[])


def _observed(sos: SosReport, missing: list[Missing]) -> Gathered:
    """A report without a firmware map: what it observed, nothing predicted."""
    missing.append(Missing("the kernel's boot messages with its firmware map" + (
        " (an Insights archive keeps only the dmesg lines its uploader's patterns match)" if sos.kind != "sosreport"
        else " (the ring buffer wrapped, and no journal of this boot)"),
        "nothing is predicted: not where the region lands, the load, nor the capture kernel's memory"))
    seen = [(name, sos.text(name).strip(), sos.where(name)) for name in ("cmdline", "kexec_crash_size", "kexec_crash_loaded")
            if sos.text(name) is not None]
    loaded = next(((v, w) for n, v, w in seen if n == "kexec_crash_loaded"), None)
    return Gathered(None, sos.source, missing, [], None, loaded, seen)


def _sos(sos: SosReport, opts: Options) -> Gathered:
    missing: list[Missing] = []
    notes: list[str] = []
    machine = None
    for name in ("dmesg", "journal"):
        text = sos.text(name)
        if text is not None:
            machine = _log_machine(text.splitlines(), sos.where(name), opts.boot)
            if machine is not None:
                break
    if machine is None:
        return _observed(sos, missing)
    sysconfig = kdump_config(sos.text("sysconfig_kdump"), sos.where("sysconfig_kdump"))
    tools = kdump_config(sos.text("kdump_tools"), sos.where("kdump_tools"))
    listing = (sos.text("kdump_initrd_listing").splitlines(), sos.where("kdump_initrd_listing")) \
        if sos.text("kdump_initrd_listing") is not None and sos.kind == "sosreport" else None
    if sos.kind != "sosreport" and sos.text("kdump_initrd_listing") is not None:
        notes.append(f"{sos.where('kdump_initrd_listing')}: an Insights archive keeps only the lsinitrd lines its uploader's "
                     "patterns match, so the listing does not count the initramfs's files; give --initrd")
    sizes = _boot_sizes(sos.text("boot_listing"))
    if sos.text("boot_listing") is None:
        missing.append(Missing("a /boot listing (ls -lanR /boot)",
                               "the kdump initramfs's exact size and the other installed kernels"))
    g = _finish(machine, sos.source, opts, sysconfig=sysconfig, tools=tools, listing=listing, boot_sizes=sizes,
                missing=missing, notes=notes, installed=_installed_from_listing(sizes, machine))
    g.targets = kdump_targets(sos.text("kdump_conf"), sos.where("kdump_conf"))
    loaded = sos.text("kexec_crash_loaded")
    g.crash_loaded = (loaded.strip(), sos.where("kexec_crash_loaded")) if loaded is not None else None
    return g


def installed_builds(g: "Gathered") -> list[tuple[str, KernelBuild | None]]:
    """The other installed kernels with their builds: the image read where the source has it, else the
    pinned build the release names, else None.  :raises InputError: for an image that cannot be read."""
    out = []
    for release, path in g.installed or []:
        build = None
        if path is not None and os.access(path, os.R_OK):
            build = read_kernel(path)
        elif re.match(r"^\d+\.\d+", release):
            try:
                build = pinned_build(parse_version(release))
            except InputError:
                build = None
        out.append((release, build))
    return out


def _installed_from_listing(sizes: dict[str, int], machine: Machine) -> list[tuple[str, Path | None]] | None:
    if not sizes:
        return None
    running = machine.kernel_version.text if machine.kernel_version else None
    return [(n[len("vmlinuz-"):], None) for n in sorted(sizes) if n.startswith("vmlinuz-") and n[len("vmlinuz-"):] != running
            and "rescue" not in n]


def _read(p: Path) -> str | None:
    try:
        return p.read_text(errors="replace")
    except OSError:
        return None


def _kernel_log(commands: bool) -> tuple[list[str], str] | None:
    """This machine's kernel log: ``dmesg``, else the journal of this boot."""
    if not commands:
        return None
    for argv, label in ((["dmesg"], "dmesg"), (["journalctl", "-k", "-b", "0", "-o", "short-monotonic", "--no-pager"], "journalctl -k -b")):
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and ("BIOS-e820" in proc.stdout or "BIOS-provided physical RAM map" in proc.stdout):
            return proc.stdout.splitlines(), label
    return None


def _live(root: Path, opts: Options, commands: bool = True) -> Gathered:
    missing: list[Missing] = []
    notes: list[str] = []
    proc_machine = machine_from_proc(root)
    log = _kernel_log(commands)
    machine = _log_machine(*log, opts.boot) if log else None
    if machine is None:
        machine = proc_machine
        missing.append(Missing("the kernel's boot messages (dmesg has wrapped past the firmware map, or cannot be read; "
                               "no journal of this boot)" if commands else "the kernel's boot messages",
                               "the machine is read from /sys/firmware/memmap and /proc: NUMA affinity and the early "
                               "reservations the log names are not known"))
    else:
        # the running system's own facts: where the kernel is, which regions it reserved
        machine = dataclasses.replace(machine, kernel_load_addr=proc_machine.kernel_load_addr,
                                      kernel_at_from=proc_machine.kernel_at_from, crash_observed=proc_machine.crash_observed,
                                      source=str(root).rstrip("/"))
    release = machine.kernel_version.text if machine.kernel_version else None
    etc = root / "etc"
    sysconfig = kdump_config(_read(etc / "sysconfig/kdump"), str(etc / "sysconfig/kdump"))
    tools = kdump_config(_read(etc / "default/kdump-tools"), str(etc / "default/kdump-tools"))
    initrd = None
    if release:
        for cand in (root / "boot" / f"initramfs-{release}kdump.img", root / "var/lib/kdump" / f"initrd.img-{release}",
                     root / "boot" / f"initrd-{release}-kdump"):
            if cand.is_file() and os.access(cand, os.R_OK):
                initrd = cand
                break
    installed = None
    if (root / "boot").is_dir():
        installed = [(f.name[len("vmlinuz-"):], f) for f in sorted((root / "boot").glob("vmlinuz-*"))
                     if f.name != f"vmlinuz-{release}" and "rescue" not in f.name]
    g = _finish(machine, str(root) if root != Path("/") else "this machine", opts, live_root=root, sysconfig=sysconfig,
                tools=tools, initrd_found=initrd, missing=missing, notes=notes, installed=installed)
    g.targets = kdump_targets(_read(etc / "kdump.conf"), str(etc / "kdump.conf"))
    loaded = _read(root / "sys/kernel/kexec_crash_loaded")
    g.crash_loaded = (loaded.strip(), str(root / "sys/kernel/kexec_crash_loaded")) if loaded is not None else None
    return g
