"""From a predicted first kernel to a loaded capture kernel and its boot.

1. The first kernel's prediction gives what kexec-tools reads: the firmware
   map (/sys/firmware/memmap) and /proc/iomem (System RAM, Reserved, Crash
   kernel ...).
2. :mod:`earlymem.kexec.tools_2_0_25` places the ``kexec -p`` segments and
   writes the capture kernel's e820 map and command line.
3. The capture kernel is a new :class:`~earlymem.machine.Machine`: that e820
   map (what it prints as ``BIOS-e820``), that command line, the same SRAT
   (the kdump kernel parses it again), the same RSDP, its image where the
   kernel segment was loaded (it runs where it was put: relocatable, and
   ``nokaslr`` is passed on) and its initrd where the initrd segment went.
   The same predictor then predicts its boot.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from earlymem.boot.e820 import E820Report
from earlymem.boot.numa_init import DEBIAN_IMAGE_SIZE, DEBIAN_RESERVE_SPAN
from earlymem.kernels.profile import KernelProfile
from earlymem.kexec.file_load import FileLoad, KernelPurgatory, file_load_bzimage64
from earlymem.kexec.tools_2_0_25 import (
    RANGE_ACPI,
    RANGE_ACPI_NVS,
    RANGE_PMEM,
    RANGE_PRAM,
    RANGE_RAM,
    RANGE_RESERVED,
    CrashLoad,
    KernelHeader,
    crash_load_bzimage64,
    normal_load_bzimage64,
)
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type

__all__ = ["KexecPrediction", "predict_crash_load", "DEBIAN_BZIMAGE", "DEBIAN_IMAGE_SPAN", "DEBIAN_RESERVE_SPAN", "DEBIAN_KERNEL_PURGATORY", "predict_normal_load", "place_crash_load", "kdump_boot"]

#: The setup headers of the pinned Debian kernels (the oracle's), read with
#: ``earlymem bzimage`` from their vmlinuz files: file length, setup_sects,
#: protocol, loadflags, xloadflags, relocatable, kernel_alignment, init_size,
#: cmdline_size.  tests/test_oracle_real_boot.py compares the 6.1 entry with
#: the real image when it is downloaded.
DEBIAN_BZIMAGE: dict[tuple[int, int], KernelHeader] = {
    (5, 10): KernelHeader(7071904, 30, 0x020F, 1, 0x3F, True, 0x200000, 62365696, 2047),
    (6, 1): KernelHeader(8221184, 39, 0x020F, 1, 0x7F, True, 0x200000, 66678784, 2047),
    (6, 12): KernelHeader(12169728, 39, 0x020F, 1, 0x7F, True, 0x200000, 58650624, 2047),
    (7, 2): KernelHeader(14546880, 39, 0x020F, 1, 0x7F, True, 0x200000, 63234048, 2047),
}
#: The purgatory each image embeds (kexec_purgatory), sized as the kernel's
#: kexec_purgatory_setup_kbuf() does: tools/purgatory_facts.py on the
#: decompressed vmlinux (bufsz padded to the bss alignment, memsz, alignment).
DEBIAN_KERNEL_PURGATORY: dict[tuple[int, int], KernelPurgatory] = {
    (5, 10): KernelPurgatory(0x5000, 0x6000, 0x1000),
    (6, 1): KernelPurgatory(0x4000, 0x5000, 0x1000),
    (6, 12): KernelPurgatory(0x4000, 0x5000, 0x1000),
    (7, 2): KernelPurgatory(0x4000, 0x5000, 0x1000),
}
#: _end - _text and __end_of_kernel_reserve - _text of the same images (earlymem.boot.numa_init).
DEBIAN_IMAGE_SPAN = DEBIAN_IMAGE_SIZE

_MEMMAP_TYPE = {E820Type.RAM: RANGE_RAM, E820Type.ACPI: RANGE_ACPI, E820Type.NVS: RANGE_ACPI_NVS,
                E820Type.PMEM: RANGE_PMEM, E820Type.PRAM: RANGE_PRAM}
_IOMEM_RX = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) : (.*)$")


@dataclass
class KexecPrediction:
    load: CrashLoad | FileLoad
    kdump: Machine
    #: the capture kernel's predicted lines, ``(family, text)`` as predict_lines() gives them
    kdump_lines: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def firmware_memmap(report: E820Report) -> list[tuple[int, int, int]]:
    """/sys/firmware/memmap (the sanitized BIOS map) as kexec-tools reads it:
    ``(start, end inclusive, RANGE_* type)``."""
    return [(e.addr, e.addr + e.size - 1, _MEMMAP_TYPE.get(E820Type(e.type) if e.type in E820Type._value2member_map_ else e.type, RANGE_RESERVED))
            for e in report.firmware if e.size]


def iomem_tuples(lines: list[str]) -> list[tuple[int, int, str]]:
    """/proc/iomem lines as kexec-tools' ``sscanf("%llx-%llx : %n")`` reads them."""
    out = []
    for ln in lines:
        m = _IOMEM_RX.match(ln)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return out


def place_crash_load(machine: Machine, profile: KernelProfile, report: E820Report, first_lines: list[tuple[str, str]], *,
                     header: KernelHeader, initrd_size: int | None, append: str, cpus: int = 1, rng_ready: bool = False,
                     file_load: bool = False, purgatory: KernelPurgatory | None = None) -> CrashLoad | FileLoad:
    """``kexec -p`` (or ``kexec -s -p`` with ``file_load``: the kernel's placement, which
    needs the running kernel's ``purgatory``) on the predicted first kernel.

    :param first_lines: predict_lines() of the first kernel (its ``iomem`` family is read).
    :raises InputError: (KexecLoadError) with the tool's own message when the load fails.
    """
    iomem = iomem_tuples([t for f, t in first_lines if f == "iomem"])
    if file_load:
        if profile.kexec_file is None or purgatory is None:
            raise InputError(f"kexec_file_load is not modelled for the {profile.name} era", field="--file-load")
        return file_load_bzimage64(iomem, header, purgatory, initrd_size, append, profile.kexec_file, cpus=cpus)
    return crash_load_bzimage64(firmware_memmap(report), iomem, header, initrd_size, append, cpus=cpus, rsdp=machine.rsdp, rng_ready=rng_ready)


def predict_crash_load(machine: Machine, profile: KernelProfile, report: E820Report, first_lines: list[tuple[str, str]], *,
                       image_span: int, reserve_span: int | None = None, crash_cpu: int | None = 0, **load_args) -> KexecPrediction:
    """:func:`place_crash_load`, then the capture kernel's boot (:func:`kdump_boot`).

    :param image_span: the capture kernel's ``_end - _text``; ``reserve_span`` its
        ``__end_of_kernel_reserve - _text`` (None: the whole image).
    :param crash_cpu: the first kernel's logical CPU that crashes (None: unknown).
    """
    load = place_crash_load(machine, profile, report, first_lines, **load_args)
    return kdump_boot(machine, profile, load, image_span, reserve_span, load_args.get("initrd_size"), crash_cpu)


def predict_normal_load(report: E820Report, header: KernelHeader, initrd_size: int | None, append: str, *,
                        rng_ready: bool = False) -> CrashLoad:
    """``kexec -l`` (kexec-tools 2.0.25): placed in all of /sys/firmware/memmap's RAM."""
    memmap = firmware_memmap(report)
    return normal_load_bzimage64(memmap, header, initrd_size, append, rng_ready=rng_ready)


def kdump_boot(machine: Machine, profile: KernelProfile, load, image_span: int, reserve_span: int | None,
                initrd_size: int | None, crash_cpu: int | None = 0) -> KexecPrediction:
    """The capture kernel the load boots, predicted like any machine.

    It boots on the CPU that crashed (machine_kexec() runs there), so that
    CPU, ``crash_cpu`` in the first kernel's numbering, is its boot CPU.
    """
    from earlymem.boot.e820 import e820_report
    from earlymem.boot.paging_init import logical_cpu_apic
    from earlymem.pipeline import predict_lines

    kern = next(s for s in load.segments if s.name == "kernel")
    rd = next((s for s in load.segments if s.name == "initrd"), None)
    e820 = [E820Entry(s, e - s + 1, t) for s, e, t in load.e820]
    kdump = dataclasses.replace(
        machine,
        e820=e820,
        command_line=CommandLine(load.cmdline),
        kernel_image=Range(kern.mem, kern.mem + image_span),
        kernel_reserve=Range(kern.mem, kern.mem + (reserve_span or image_span)),
        initrd=Range(rd.mem, rd.mem + initrd_size) if rd is not None and initrd_size else None,
        kernel_resources=[],
        boot_apic=logical_cpu_apic(machine, crash_cpu) if crash_cpu is not None else None,
        source=f"{machine.source} (kdump kernel)",
    )
    # the capture kernel sanitizes what it is handed (e820__memory_setup()), so the
    # kernel's unsorted crash_setup_memmap_entries() list prints sorted
    kreport = e820_report(kdump, profile, already_sanitized=False)
    notes: list[str] = []
    try:
        klines, _ = predict_lines(kdump, profile, kreport, notes)
    except InputError as exc:
        notes.append(f"the capture kernel's boot is not predicted: {exc.message}")
        klines = kreport.lines()
    return KexecPrediction(load, kdump, klines, notes)
