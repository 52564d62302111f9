"""x86_64 constants the memory models share (4 KiB pages, 4-level paging).

arch/x86/include/asm/page_types.h, pgtable_64_types.h, dma.h and cache.h
(CONFIG_X86_L1_CACHE_SHIFT=6 in Debian's configs).
"""

from __future__ import annotations

from earlymem.lib.units import PAGE_SHIFT, PAGE_SIZE

__all__ = ["PAGE_SHIFT", "PAGE", "PMD_SIZE", "PUD_SHIFT", "PUD_SIZE", "PGDIR_SHIFT", "PGDIR_SIZE",
           "SMP_CACHE_BYTES", "MAX_DMA_ADDRESS", "MAX_DMA_PFN", "MAX_DMA32_PFN"]

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
