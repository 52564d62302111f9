"""kernel_init(): what the kernel gives back after the hand-off, and the lines it prints.

Each goes through free_reserved_area() ("Freeing %s memory: %ldK", whole pages
from PAGE_ALIGN(start) to end & PAGE_MASK; nothing printed for an empty
range), in the order a boot prints them:

1. ``SMP alternatives`` -- alternative_instructions() (arch/x86/kernel/
   alternative.c, 5.10): the .smp_locks section, unless the kernel patched
   itself for one CPU while more may come (one present, several possible);
2. ``initrd`` -- populate_rootfs() -> free_initrd_mem(): the initrd's pages,
   unless it lies in the crash region (kexec_free_initrd()) or
   ``retain_initrd`` is given;
3. ``unused decrypted`` -- mem_encrypt_free_decrypted_mem(): the unused end
   of the 2 MiB .bss..decrypted area (no SME/SEV);
4. ``unused kernel image (initmem)`` -- free_initmem(): [__init_begin, __init_end);
5. ``unused kernel image (text/rodata gap)`` and ``(rodata/data gap)`` --
   mark_rodata_ro() (arch/x86/mm/init_64.c).

Sizes 1, 3, 4 and 5 are the build's (earlymem.kernels.builds: an image's
section headers, earlymem.sources.bzimage._image_frees(), or a pinned build's
table).  swiotlb's "mapped" line, printed by pci_iommu_init() (a
rootfs_initcall), falls among them (:func:`kernel_init_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range
from earlymem.lib.x86_64 import PAGE
from earlymem.machine import Machine

__all__ = ["LateFree", "late_frees", "pages_by_zone", "kernel_init_lines"]

@dataclass(frozen=True)
class LateFree:
    """Pages given back: ``what`` (as printed), how many, and where (for the zone)."""

    what: str
    pages: int
    at: int

    @property
    def before_initcalls(self) -> bool:
        """Given back in start_kernel() itself (alternative_instructions() from
        arch_cpu_finalize_init()), before init_per_zone_wmark_min() and
        hugepage_init() set the watermarks; the rest comes after them."""
        return self.what == "SMP alternatives"

    @property
    def line(self) -> str:
        return f"Freeing {self.what} memory: {self.pages << 2}K"


def late_frees(machine: Machine, sizes, image: Range, crash_regions: list[Range], cpus_present: int, cpus_possible: int,
               initrd: Range | None = None) -> list[LateFree]:
    """The frees after the hand-off, in print order (empty ones left out).

    :param sizes: the build's image frees, bytes (KernelBuild.image_frees).
    :param initrd: where the initrd is by then (reserve_initrd() may have
        moved it below the direct mapping); default: where it was loaded.
    """
    out: list[LateFree] = []
    if "smp_locks" in sizes and not (cpus_present == 1 and cpus_possible > 1):
        out.append(LateFree("SMP alternatives", sizes["smp_locks"] // PAGE, image.start))
    rd = initrd or machine.initrd
    if rd is not None and not machine.command_line.flag("retain_initrd"):
        in_crash = any(c.start <= rd.start and rd.end <= c.end for c in crash_regions)
        if not in_crash:
            start = -(-rd.start // PAGE) * PAGE
            end = -(-rd.end // PAGE) * PAGE  # free_initrd_mem(): PAGE_ALIGN(end)
            if end > start:
                out.append(LateFree("initrd", (end - start) // PAGE, start))
    for what, name in (("unused decrypted", "decrypted"), ("unused kernel image (initmem)", "initmem"),
                       ("unused kernel image (text/rodata gap)", "text_gap"), ("unused kernel image (rodata/data gap)", "rodata_gap")):
        pages = sizes.get(name, 0) // PAGE
        if pages:
            out.append(LateFree(what, pages, image.start))
    return out


def pages_by_zone(frees: list[LateFree], zones) -> dict[tuple[int, str], int]:
    """Pages given back per ``(nid, zone name)``: each free lands in the zone
    holding its first page (``zones``: earlymem.phases.free_area_init.ZoneSize)."""
    out: dict[tuple[int, str], int] = {}
    for f in frees:
        pfn = f.at >> 12
        for z in zones:
            if z.spanned and z.start_pfn <= pfn < z.start_pfn + z.spanned:
                out[(z.nid, z.name)] = out.get((z.nid, z.name), 0) + f.pages
                break
    return out


def kernel_init_lines(frees: list[LateFree], mapped: str | None, profile: KernelProfile) -> list[tuple[str, str]]:
    """The frees' lines in print order, with swiotlb_print_info()'s ``mapped``
    line where pci_iommu_init() (a rootfs_initcall, arch/x86/kernel/pci-dma.c)
    prints it: after the SMP alternatives are freed, and after the initrd where
    populate_rootfs() still ran synchronously before it (profile
    ``start.initrd_unpacked_async``)."""
    cut = max([i + 1 for i, f in enumerate(frees)
               if f.before_initcalls or (f.what == "initrd" and not profile.start.initrd_unpacked_async)], default=0)
    out = [("frees", f.line) for f in frees[:cut]]
    out += [("swiotlb", mapped)] if mapped else []
    out += [("frees", f.line) for f in frees[cut:]]
    return out
