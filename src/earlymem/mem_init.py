"""What mem_init() reserves before memblock_free_all(): the swiotlb bounce buffer.

arch/x86/mm/init_64.c mem_init() -> pci_iommu_alloc(): with more than 4 GiB
of possible memory (``max_possible_pfn > MAX_DMA32_PFN``, unless
``iommu=off``; ``iommu=soft`` forces it) ``pci_swiotlb_detect_4gb()`` turns
swiotlb on and ``swiotlb_init()`` (kernel/dma/swiotlb.c, read in Debian's
5.10.223) takes ``io_tlb_nslabs << IO_TLB_SHIFT`` bytes -- 64 MiB by default,
``swiotlb=N`` slabs of 2 KiB rounded up to IO_TLB_SEGSIZE (128) -- with
``memblock_alloc_low(PAGE_ALIGN(bytes), PAGE_SIZE)`` (top down below 4 GiB),
then its bookkeeping with ``memblock_alloc(..., PAGE_SIZE)``: 5.10 an int and
a phys_addr_t per slab (io_tlb_list, io_tlb_orig_addr); 6.x one ``struct
io_tlb_slot`` (24 bytes) per slab and, cache-line aligned, the areas array.
It prints ``software IO TLB: mapped [mem %pa-%pa] (%luMB)`` (the end is
``io_tlb_end``, one past the buffer).

Not modelled between setup_arch() and here (top-down allocations near the top
of memory, which on a machine with RAM above 4 GiB do not touch this
placement): the per-CPU first chunk, the dentry/inode hash tables and the
other start_kernel() memblock users.
"""

from __future__ import annotations

from earlymem.allocators.memblock import MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, Memblock
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.units import parse_integer

__all__ = ["swiotlb_init"]

PAGE = 4096
IO_TLB_SHIFT = 11
IO_TLB_SEGSIZE = 128
IO_TLB_DEFAULT_SIZE = 64 << 20
MAX_DMA32_PFN = 0x100000
ARCH_LOW_ADDRESS_LIMIT = 0xFFFFFFFF
SMP_CACHE_BYTES = 64


def _page_align(n: int) -> int:
    return -(-n // PAGE) * PAGE


def swiotlb_init(machine: Machine, profile: KernelProfile, mb: Memblock, max_possible_pfn: int,
                 allocations: list[tuple[str, int, int]]) -> list[str]:
    """Reserve the bounce buffer on ``mb``; returns the line it prints (or a warning)."""
    cmd = machine.command_line
    iommu = cmd.get("iommu") or ""
    if "off" in iommu.split(","):
        return []
    if not (max_possible_pfn > MAX_DMA32_PFN or "soft" in iommu.split(",")):
        return []
    nslabs = IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT
    value = cmd.get("swiotlb")
    if value:  # setup_io_tlb_npages(): a leading number of slabs
        try:
            r = parse_integer(value)
            if r.end:
                nslabs = -(-r.value // IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE if r.value else nslabs
        except Exception:  # a number too big for u64: the kernel's strtoul wraps; keep the default
            pass
    size = nslabs << IO_TLB_SHIFT
    start = mb.alloc_try_nid(_page_align(size), PAGE, 0, ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE)
    if not start:
        return ["Cannot allocate buffer"]
    allocations.append(("swiotlb", start, _page_align(size)))
    if profile.swiotlb_slot_bytes:
        meta = [(_page_align(nslabs * profile.swiotlb_slot_bytes), PAGE)]
        nareas = 1  # default_nareas: one area unless swiotlb=,N or more CPUs [6.x: not modelled beyond 1]
        meta.append((16 * nareas, SMP_CACHE_BYTES))
    else:
        meta = [(_page_align(nslabs * 4), PAGE), (_page_align(nslabs * 8), PAGE)]
    for n, align in meta:
        addr = mb.alloc_try_nid(n, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE)
        allocations.append(("swiotlb bookkeeping", addr, n))
    return [f"software IO TLB: mapped [mem {start:#018x}-{start + size:#018x}] ({size >> 20}MB)"]
