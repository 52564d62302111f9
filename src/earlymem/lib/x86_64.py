"""x86_64 constants the memory models share (4 KiB pages, 4-level paging).

arch/x86/include/asm/page_types.h, pgtable_64_types.h, dma.h and cache.h
(CONFIG_X86_L1_CACHE_SHIFT=6 in Debian's configs).
"""

from __future__ import annotations

from earlymem.lib.units import PAGE_SHIFT, PAGE_SIZE

__all__ = ["PAGE_SHIFT", "PAGE", "PMD_SIZE", "PUD_SHIFT", "PUD_SIZE", "PGDIR_SHIFT", "PGDIR_SIZE",
           "SMP_CACHE_BYTES", "MAX_DMA_ADDRESS", "MAX_DMA_PFN", "MAX_DMA32_PFN", "MAX_NUMNODES", "E820_MAX_ENTRIES", "MAX_PHYS_BITS", "NR_CPUS"]

PAGE = PAGE_SIZE
PMD_SIZE = 2 << 20
PUD_SHIFT = 30
PUD_SIZE = 1 << PUD_SHIFT
PGDIR_SHIFT = 39
PGDIR_SIZE = 1 << PGDIR_SHIFT
#: L1_CACHE_BYTES
SMP_CACHE_BYTES = 64
#: the end of ZONE_DMA (16 MiB) and of ZONE_DMA32 (4 GiB)
MAX_DMA_ADDRESS = 16 << 20
MAX_DMA_PFN = MAX_DMA_ADDRESS >> PAGE_SHIFT
MAX_DMA32_PFN = (4 << 30) >> PAGE_SHIFT

#: MAX_NUMNODES = 1 << CONFIG_NODES_SHIFT, and arch/x86/Kconfig bounds NODES_SHIFT
#: to "range 1 10" (MAXSMP sets 10, as Debian's, RHEL's and Ubuntu's amd64
#: configs do): no x86_64 kernel knows a node id of 1024 or more.
MAX_NUMNODES = 1 << 10
#: E820_MAX_ENTRIES (arch/x86/include/asm/e820/types.h, 2.6.27 on: E820_X_MAX):
#: the kernel's e820 tables hold at most 128 + 3 * MAX_NUMNODES entries (the
#: zeropage's 128 and what SETUP_E820_EXT and EFI add)
E820_MAX_ENTRIES = 128 + 3 * MAX_NUMNODES

#: The widest physical address any x86_64 CPU has: MAXPHYADDR is at most 52 (CPUID
#: 0x80000008; MAX_PHYSMEM_BITS is 52 with 5-level paging, 46 with 4-level), so no
#: firmware map or NUMA table of a real machine names memory at or above 2^52.
MAX_PHYS_BITS = 52

#: CONFIG_NR_CPUS of Debian's x86_64 kernels (MAXSMP: 8192, as RHEL's and Ubuntu's):
#: no more CPUs can be possible
NR_CPUS = 8192
