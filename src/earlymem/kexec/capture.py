"""From a booted first kernel to a loaded capture kernel and its boot.

1. The first kernel's :class:`~earlymem.result.BootResult` gives what
   kexec-tools reads: the firmware map (/sys/firmware/memmap, its
   ``firmware_e820``) and /proc/iomem (its ``iomem``: System RAM, Reserved,
   Crash kernel ...), as data -- never parsed back from text.
2. :mod:`earlymem.kexec.tools_2_0_25` (``kexec -p``, ``kexec -l``) or
   :mod:`earlymem.kexec.file_load` (``kexec -s -p``) places the segments and
   writes the capture kernel's e820 map and command line.
3. The capture kernel is a new :class:`~earlymem.machine.Machine`: that e820
   map (what it prints as ``BIOS-e820``), that command line, the same SRAT
   (the kdump kernel parses it again), the same RSDP, its image where the
   kernel segment was loaded (it runs where it was put: relocatable, and
   ``nokaslr`` is passed on) and its initrd where the initrd segment went.
   :func:`earlymem.boot` then boots it like any machine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.eras import profile_for, rules_label
from earlymem.kernels.profile import KernelProfile
from earlymem.kexec.file_load import file_load_bzimage64
from earlymem.kexec.holes import KexecLoadError, Segment
from earlymem.kexec.tools_2_0_25 import (
    RANGE_ACPI,
    RANGE_ACPI_NVS,
    RANGE_PMEM,
    RANGE_PRAM,
    RANGE_RAM,
    RANGE_RESERVED,
    crash_load_bzimage64,
    normal_load_bzimage64,
)
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.version import KernelVersion
from earlymem.lib.ranges import Range
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.phases.paging_init import logical_cpu_apic
from earlymem.pipeline import boot
from earlymem.kaslr import predict_for
from earlymem.result import BootResult, CrashRegion, IomemResource

__all__ = ["KexecResult", "kexec_load", "capture_machine", "firmware_memmap", "iomem_tuples", "LoadMethod", "with_crash_regions"]

_MEMMAP_TYPE = {E820Type.RAM: RANGE_RAM, E820Type.ACPI: RANGE_ACPI, E820Type.NVS: RANGE_ACPI_NVS,
                E820Type.PMEM: RANGE_PMEM, E820Type.PRAM: RANGE_PRAM}


class LoadMethod:
    """How the segments are placed (``KexecResult.method``)."""

    KEXEC_LOAD = "kexec_load"  # kexec -p, kexec-tools 2.0.25
    KEXEC_FILE_LOAD = "kexec_file_load"  # kexec -s -p, the running kernel places them
    NORMAL = "kexec_load_normal"  # kexec -l, kexec-tools 2.0.25


@dataclass(frozen=True)
class KexecResult:
    """A kexec load and, for a crash load, the capture kernel's boot.

    :param method: a :class:`LoadMethod` value.
    :param error: the real tool's (or kernel's) own words when the load fails; then nothing else is set.
    :param e820: the map handed to the new kernel ``(start, end inclusive, e820 type)``, in the order written.
    :param debug: what ``kexec --debug`` (or the kernel's kexec_file debug) prints.
    :param segment_lines: the placement lines of ``debug`` (no userspace buffer addresses).
    :param capture: the capture kernel's boot (crash loads that fit).
    """

    method: str
    error: str | None = None
    segments: tuple[Segment, ...] = ()
    e820: tuple[tuple[int, int, int], ...] = ()
    cmdline: str = ""
    debug: tuple[str, ...] = ()
    segment_lines: tuple[str, ...] = ()
    capture: BootResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        return self.error is None


def firmware_memmap(first: BootResult) -> list[tuple[int, int, int]]:
    """/sys/firmware/memmap (the sanitized BIOS map) as kexec-tools reads it:
    ``(start, end inclusive, RANGE_* type)``."""
    return [(e.start, e.end - 1, _MEMMAP_TYPE.get(E820Type(e.type) if e.type in E820Type._value2member_map_ else e.type, RANGE_RESERVED))
            for e in first.firmware_e820 if e.end > e.start]


def iomem_tuples(first: BootResult) -> list[tuple[int, int, str]]:
    """/proc/iomem as kexec-tools' ``sscanf("%llx-%llx : %n")`` reads it: every line, inclusive ends."""
    return [(r.start, r.end - 1, r.name) for r in first.iomem]


def with_crash_regions(first: BootResult, regions: tuple[Range, ...]) -> BootResult:
    """``first`` with the crash regions a running system's /proc/iomem shows instead of
    the predicted ones: kexec-tools reads them there (kexec/arch/i386/crashdump-x86.c
    get_crash_memory_ranges(), kexec/kexec-iomem.c), so on a live system they are facts."""
    ordered = sorted(regions, key=lambda r: r.start)
    crash = tuple(CrashRegion(r.start, r.end, low=len(ordered) > 1 and i < len(ordered) - 1) for i, r in enumerate(ordered))
    iomem = [r for r in first.iomem if r.name != "Crash kernel"]
    for r in ordered:
        parent = next((i for i, p in enumerate(iomem) if p.depth == 0 and p.start <= r.start and r.end <= p.end), None)
        if parent is None:
            continue  # not inside System RAM as predicted: kexec-tools still reads the line
        at = parent + 1
        while at < len(iomem) and iomem[at].depth > 0 and iomem[at].start < r.start:
            at += 1
        iomem.insert(at, IomemResource(r.start, r.end, "Crash kernel", 1))
    return dataclasses.replace(first, crash=crash, crash_predicted=True, crash_requested=None, iomem=tuple(iomem))


def first_boots(machine: Machine, profile: KernelProfile, running: KernelBuild | None, *,
                crash_load: bool = True) -> tuple[list[tuple[BootResult, Fraction]], list[str]]:
    """The first kernel's boots a load goes into: ``(boot, probability)``, most probable first,
    and notes.  One boot, certain, when the kernel's place is known; under KASLR one per
    crash-region outcome (earlymem.kaslr), with its share of the slots.  A running system's
    /proc/iomem Crash kernel lines (``machine.crash_observed``) replace the predicted regions."""
    notes: list[str] = []
    kp, why_not = predict_for(machine, profile, running)
    if why_not is not None:
        notes.append(f"KASLR: the kernel's place is drawn at boot, and its distribution is not predicted: {why_not}")
    if kp is not None:
        groups: dict[tuple, list] = {}
        for o in kp.outcomes:
            key = (tuple((c.start, c.end) for c in o.result.crash), o.result.panic)
            groups.setdefault(key, [o.result, Fraction(0)])[1] += o.probability
        candidates = [(r, p) for r, p in sorted(groups.values(), key=lambda rp: -rp[1])]
    else:
        candidates = [(boot(machine, profile, running), Fraction(1))]
    observed = machine.crash_observed
    if observed is not None and crash_load:
        candidates = [(with_crash_regions(candidates[0][0], observed), Fraction(1))]
        where = f"{machine.source}/proc/iomem"
        if observed:
            regions = ", ".join(f"[mem {r.start:#010x}-{r.end - 1:#010x}]" for r in observed)
            notes.append(f"the crash region{'s' if len(observed) > 1 else ''} {regions}: the running system's ({where})")
        else:
            notes.append(f"the running system reserved no crash region ({where} has no Crash kernel line)")
    return candidates, notes


def capture_machine(machine: Machine, load: KexecResult, initrd_size: int | None, crash_cpu: int | None,
                    release: KernelVersion | None = None) -> Machine:
    """The machine the capture kernel boots on.  It boots on the CPU that crashed
    (machine_kexec() runs there), so that CPU, ``crash_cpu`` in the first
    kernel's numbering, is its boot CPU (None: unknown); it runs ``release``
    (the capture image's; None: the first kernel's)."""
    kern = next(s for s in load.segments if s.name == "kernel")
    rd = next((s for s in load.segments if s.name == "initrd"), None)
    return dataclasses.replace(
        machine,
        # the capture kernel sanitizes what it is handed (e820__memory_setup()), so the
        # kernel's unsorted crash_setup_memmap_entries() list prints sorted
        e820=[E820Entry(s, e - s + 1, t) for s, e, t in load.e820],
        e820_printed=False,
        e820_who="BIOS-e820",
        command_line=CommandLine(load.cmdline),
        kernel_image=None,
        kernel_load_addr=kern.mem,
        initrd=Range(rd.mem, rd.mem + initrd_size) if rd is not None and initrd_size else None,
        boot_apic=logical_cpu_apic(machine, crash_cpu) if crash_cpu is not None else None,
        source=f"{machine.source} (kdump kernel)",
        kernel_version=release or machine.kernel_version,
        kernel_banner=None,
    )


def kexec_load(machine: Machine, first: BootResult, capture: KernelBuild, *, profile: KernelProfile | None = None,
               initrd_size: int | None = None, append: str = "", method: str = LoadMethod.KEXEC_LOAD,
               running: KernelBuild | None = None, cpus: int = 1, rng_ready: bool = False,
               crash_cpu: int | None = 0) -> KexecResult:
    """Load ``capture`` (its bzImage header) into the first kernel ``first`` booted on ``machine``.

    :param profile: the first kernel's profile (kexec_file's rules are the running kernel's);
        default: its release's era.
    :param method: a :class:`LoadMethod`; ``KEXEC_FILE_LOAD`` needs the running kernel's
        purgatory (``running``, default ``capture``: the usual same build).
    :param cpus: the first kernel's possible CPUs (one PT_NOTE each).
    :param crash_cpu: the first kernel's logical CPU that crashes (None: unknown).
    :return: the load; when the real tool refuses it, ``error`` holds its words.
    :raises InputError: when the load cannot be predicted at all (no header, an era without kexec_file).
    """
    if first.panic is not None:
        # nothing runs kexec: the first kernel never reaches user space
        return KexecResult(method, error=f"the first kernel panics during boot ({first.panic.function}()), so nothing is loaded",
                           notes=(f"the first kernel panics: {first.panic.why}",))
    if capture.header is None:
        raise InputError(f"no bzImage setup header known for {capture.name}", field="--kernel")
    if profile is None:
        if machine.kernel_version is None:
            raise InputError("the first kernel's release is unknown: pass its profile", source=machine.source)
        profile = profile_for(machine.kernel_version)
    efi = None
    if machine.efi_boot is not None:
        # kexec-tools passes the EFI runtime map (setup_efi_data()); the kernel's kexec_file
        # passes it its own way (arch/x86/kernel/kexec-bzimage64.c setup_efi_state())
        if method == LoadMethod.KEXEC_FILE_LOAD:
            raise InputError("kexec_file_load over a UEFI first kernel is not modelled yet (the kernel passes the EFI "
                             "runtime map in its boot parameters)", source=machine.source)
        if machine.efi_runtime_map is None:
            raise InputError("a UEFI first kernel: kexec-tools passes its EFI runtime map, whose size the log gives only "
                             "with efi=debug ('efi: EFI runtime memory map:')", source=machine.source)
        efi = machine.efi_runtime_map
    try:
        if method == LoadMethod.NORMAL:
            load = normal_load_bzimage64(firmware_memmap(first), capture.header, initrd_size, append, rng_ready=rng_ready,
                                         efi_runtime_map=efi)
        elif method == LoadMethod.KEXEC_FILE_LOAD:
            purgatory = (running or capture).purgatory
            if profile.kexec_file is None:
                raise InputError(f"kexec_file_load is not modelled for the {rules_label(profile)}", field="--file-load")
            if purgatory is None:
                raise InputError("no kexec_file purgatory in the running kernel's image (CONFIG_KEXEC_FILE off?)",
                                 source=(running or capture).name, field="purgatory")
            load = file_load_bzimage64(iomem_tuples(first), capture.header, purgatory, initrd_size, append, profile.kexec_file, cpus=cpus)
        else:
            load = crash_load_bzimage64(firmware_memmap(first), iomem_tuples(first), capture.header, initrd_size, append,
                                        cpus=cpus, rsdp=machine.rsdp, rng_ready=rng_ready, efi_runtime_map=efi)
    except KexecLoadError as exc:
        return KexecResult(method, error=exc.message)
    result = KexecResult(method, segments=tuple(load.segments),
                         e820=tuple(load.e820), cmdline=load.cmdline, debug=tuple(load.debug),
                         segment_lines=tuple(load.segment_lines()))
    if method == LoadMethod.NORMAL:
        return result
    release = capture.version
    if efi is not None:
        return dataclasses.replace(result, notes=(
            "the capture kernel boots through EFI (kexec-tools passes SETUP_EFI and the runtime map): its boot is not "
            "modelled yet",))
    kdump = capture_machine(machine, result, initrd_size, crash_cpu, release)
    notes: list[str] = []
    try:
        # the capture kernel follows its own era's rules (the first kernel's when its release is unknown)
        kboot = boot(kdump, profile_for(release) if release is not None else profile, capture)
    except InputError as exc:
        notes.append(f"the capture kernel's boot is not predicted: {exc.message}")
        kboot = None
    return dataclasses.replace(result, capture=kboot, notes=tuple(notes))
