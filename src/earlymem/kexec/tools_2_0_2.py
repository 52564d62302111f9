"""``kexec -p`` as kexec-tools 2.0.2 (July 2010, the release in use in May 2011) did it
on x86_64 for a bzImage.

Sources: the v2.0.2 tag of kexec-tools (git://git.kernel.org/pub/scm/utils/
kernel/kexec/kexec-tools.git, mirrored as horms/kexec-tools):

* kexec/arch/x86_64/kexec-x86_64.c: the file types are tried in the order
  elf-x86_64, multiboot, elf-x86, **bzImage** -- a bzImage goes to the 32-bit
  loader, kexec/arch/i386/kexec-bzImage.c ``do_bzImage_load()`` (the bzImage64
  loader only came with 2.0.4, 2013).
* kexec/arch/i386/kexec-x86-common.c ``get_memory_ranges()``: for ``-p``,
  ``mem_min``/``mem_max`` become the "Crash kernel" entry of /proc/iomem.
* Load order, each with ``add_buffer(bufsz, memsz, align, min, max, end)``
  (end > 0: lowest fit, end < 0: highest fit):

  1. kexec/arch/x86_64/crashdump-x86_64.c ``load_crashdump_segments()``:
     the backup of the first 640 KiB (``BACKUP_SRC_SIZE`` 0xa0000, align 1024,
     **first fit**), then the ELF core header (``memsz`` at least 16 KiB,
     align 1024, last fit);
  2. the purgatory (``elf_rel_build_load``, min 0x3000, max 0x7fffffff, last
     fit; its size comes from the built purgatory, see :data:`PURGATORY_MEMSZ`);
  3. the setup segment: ``kern16_size + cmdline_len + PURGATORY_CMDLINE_SIZE``
     (64), align 16, min 0x3000, **first fit** for a crash load;
  4. the kernel: ``file_len - kern16_size`` bytes, align ``kernel_alignment``,
     min 1 MiB, max min(0x37ffffff, ``initrd_addr_max``), **first fit**;
  5. the initrd (x86-linux-setup.c ``setup_linux_bootloader_parameters()``):
     align 4096, min ``INITRD_BASE`` 16 MiB, max ``initrd_addr_max``, last fit.

* kexec/kexec.c ``locate_hole()`` of 2.0.2: free RAM minus the segments so
  far, each piece clipped to [mem_min, mem_max] and [min, max]; a piece fits
  if ``end - start >= size`` (inclusive ends); the last fit is
  ``(end - size) & ~(align - 1)``, so a top-placed segment leaves the last
  page of the region unused.

The kernel then (kernel/kexec.c ``kimage_load_crash_segment()``) writes each
segment straight into its destination pages at load time: ``bufsz`` bytes
copied, the rest of ``memsz`` zeroed.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.kexec.holes import PAGE, ULONG_MAX, HoleFinder, KexecLoadError, Segment
from earlymem.kexec.tools_2_0_25 import (
    delete_memmap,  # the same in 2.0.2 (its entries had no type)
)

__all__ = ["KdumpKernel", "KexecLoadError", "Segment", "crash_load", "PURGATORY_MEMSZ"]

BACKUP_SRC_SIZE = 0xA0000  # crashdump-x86_64.h: BACKUP_SRC_END 0x9ffff
ELF_CORE_HEADER_ALIGN = 1024
PURGATORY_CMDLINE_SIZE = 64  # x86-linux-setup.h
DEFAULT_BZIMAGE_ADDR_MAX = 0x37FFFFFF
INITRD_BASE = 0x1000000
COMMAND_LINE_SIZE = 2048
#: memsz of the x86_64 purgatory of the v2.0.2 tag: .text/.rodata/.eh_frame/.data
#: packed to 0x70e0 bytes, bss padded to the next page + 0x1000 of bss = 0x9000,
#: from ``make purgatory/purgatory.ro`` of that tag with gcc 12 and
#: ``elf_rel_build_load()``'s sizing (a 2010 compiler may differ by a page).
PURGATORY_MEMSZ = 0x9000
PURGATORY_BUFSZ = 0x70E0


@dataclass
class KdumpKernel:
    """What the 32-bit bzImage loader reads from the capture kernel's header."""

    file_len: int
    setup_sects: int
    protocol: int  # (major << 8) | minor
    relocatable: bool
    kernel_alignment: int
    initrd_addr_max: int = DEFAULT_BZIMAGE_ADDR_MAX

    @property
    def kern16_size(self) -> int:
        return ((self.setup_sects or 4) + 1) * 512


def _ultoa_k(v: int) -> str:
    return f"{v}K"


def crash_load(ram: list[tuple[int, int]], acpi: list[tuple[int, int]], crash: tuple[int, int],
               kernel: KdumpKernel, initrd_size: int, append: str, cpus: int = 1) -> tuple[list[Segment], str, list[str]]:
    """The segments of ``kexec -p`` in load order, the capture kernel's command line,
    and kexec-tools' ``-d`` lines.

    :param ram: System RAM ranges of the running kernel's /proc/iomem (inclusive ends).
    :param acpi: ACPI Tables / ACPI NVS ranges (inclusive ends), passed as memmap=...K#...K.
    :param crash: the "Crash kernel" entry (inclusive end).
    """
    if kernel.protocol < 0x0205 or not kernel.relocatable:
        raise KexecLoadError("BzImage is not relocatable. Can't be used as capture kernel.", field="kdump")
    if kernel.file_len < kernel.kern16_size:
        raise KexecLoadError("BzImage truncated?", field="kdump")
    if kernel.protocol >= 0x0206 and len(append) + 1 > COMMAND_LINE_SIZE:
        raise KexecLoadError("Kernel command line too long for kernel!", field="kdump.append")
    ram = [(max(s, 0x100) if s < 0x100 else s, e) for s, e in ram]
    info = HoleFinder(ram, crash[0], crash[1], modern=False)
    debug: list[str] = []
    # load_crashdump_segments(): memmap list = first 640K + the crash region
    memmap = [[0, BACKUP_SRC_SIZE - 1, 0], [crash[0], crash[1], 0]]
    backup = info.add_buffer("backup", BACKUP_SRC_SIZE, BACKUP_SRC_SIZE, 1024, 0, ULONG_MAX, 1)
    delete_memmap(memmap, backup.mem, BACKUP_SRC_SIZE)
    # crash_create_elf64_headers(): ELF header + PT_NOTE per CPU + kernel text + one
    # PT_LOAD per crash memory range (the first 640K, every RAM/ACPI range),
    # rounded to ELF_CORE_HEADER_ALIGN
    nr_ranges = 1 + len(ram) + len(acpi) + 1  # +1: the crash region splits its RAM range
    bufsz = -(-(64 + 56 * (cpus + 1 + nr_ranges)) // ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN
    elf = info.add_buffer("elf core header", bufsz, max(bufsz, 16 << 10), 1024, 0, ULONG_MAX, -1)
    delete_memmap(memmap, elf.mem, max(bufsz, 16 << 10))
    cmdline = append
    cmdline += " memmap=exactmap"
    for s, e, _t in memmap:
        startk, endk = s // 1024, (e + 1) // 1024
        if endk - startk >= 100:
            cmdline += f" memmap={_ultoa_k(endk - startk)}@{_ultoa_k(startk)}"
    cmdline += f" elfcorehdr={_ultoa_k(elf.mem // 1024)}"
    for s, e in acpi:
        if e - s:
            startk, endk = s // 1024, (e + 1023) // 1024
            cmdline += f" memmap={_ultoa_k(endk - startk)}#{_ultoa_k(startk)}"
    if len(cmdline) > COMMAND_LINE_SIZE - 1:
        raise KexecLoadError("Command line overflow", field="kdump.append")
    purg = info.add_buffer("purgatory", PURGATORY_BUFSZ, PURGATORY_MEMSZ, PAGE, 0x3000, 0x7FFFFFFF, -1)
    debug.append(f"Loaded purgatory at addr {purg.mem:#x}")
    setup_size = kernel.kern16_size + len(cmdline) + 1 + PURGATORY_CMDLINE_SIZE
    setup = info.add_buffer("setup (boot parameters + command line)", setup_size, setup_size, 16, 0x3000, ULONG_MAX, 1)
    debug.append(f"Loaded real-mode code and command line at {setup.mem:#x}")
    if purg.mem < setup.mem:
        raise KexecLoadError("Could not put setup code above the kernel parameters", field="kdump")
    size = kernel.file_len - kernel.kern16_size
    kmax = DEFAULT_BZIMAGE_ADDR_MAX
    if kernel.protocol >= 0x0203:
        kmax = min(kmax, kernel.initrd_addr_max)
    kern = info.add_buffer("kernel", size, size, kernel.kernel_alignment, 0x100000, kmax, 1)
    debug.append(f"Loaded 32bit kernel at {kern.mem:#x}")
    if initrd_size:
        imax = kernel.initrd_addr_max if kernel.protocol >= 0x0203 else DEFAULT_BZIMAGE_ADDR_MAX
        rd = info.add_buffer("initrd", initrd_size, initrd_size, PAGE, INITRD_BASE, imax, -1)
        debug.append(f"Loaded initrd at {rd.mem:#x} size {initrd_size:#x}")
    return info.segments, cmdline, debug
