"""The running system: how a 2.6.2x page allocator hands out the pages bootmem freed.

Sources (mm/page_alloc.c, read in 2.6.2x copies -- 2.6.23 added the zonelist
order selection and ZONE_MOVABLE, both used here):

* Zones and their sizes -- ``free_area_init_core()``: ``present_pages`` =
  spanned pages - holes - ``memmap_pages`` (``PAGE_ALIGN(spanned *
  sizeof(struct page)) >> PAGE_SHIFT``) - ``dma_reserve`` for ZONE_DMA.
* Watermarks -- ``init_per_zone_pages_min()``: ``min_free_kbytes =
  int_sqrt(lowmem_kbytes * 16)`` clamped to [128, 65536], ``lowmem_kbytes`` =
  ``nr_free_buffer_pages()`` (present pages above ``pages_high``, which is
  still 0) * 4; ``setup_per_zone_pages_min()``: each zone's share ``tmp =
  pages_min * present / lowmem_pages``, ``pages_low = min + tmp/4``,
  ``pages_high = min + tmp/2``.
* ``setup_per_zone_lowmem_reserve()``: ``lower_zone->lowmem_reserve[j] =
  (present pages of the zones above it up to j) / sysctl_lowmem_reserve_ratio``
  with ratios {DMA 256, DMA32 256, Normal 32}.
* Zonelists -- ``default_zonelist_order()`` (2.6.23): node order if the low
  zones (DMA, DMA32) hold more than half the memory, or more than 70 % of a
  node bigger than the average; zone order otherwise.  Zone order
  (``build_zonelists_in_zone_order()``): Normal of every node (local node
  first, then by distance), then DMA32, then DMA.
* ``get_page_from_freelist()``'s first pass takes a page from a zone while
  ``zone_watermark_ok(z, 0, pages_low, classzone, ...)``: free pages >
  ``pages_low + lowmem_reserve[classzone]``; classzone = the zonelist's first
  zone (Normal for GFP_KERNEL / GFP_HIGHUSER_MOVABLE on x86_64).
* Inside a zone: ``__free_one_page()`` puts each block, after merging, at the
  **head** of its order's list; ``__rmqueue_smallest()`` takes the head of the
  smallest non-empty order and ``expand()`` puts the upper halves of a split
  block back at the heads.  So single pages come out newest block first, and
  a split block is used from its lowest page upward.

Simplifications (stated, not hidden): the per-CPU hot/cold lists and the
migrate-type lists of 2.6.23 are not modelled -- one LIFO list per order, as if
every allocation were movable (page cache, the bulk of a server's memory).
Both are LIFO too, so the pages freed last -- the bootmem bitmap -- are still
the first a zone hands out.  Reclaim is not modelled: the workload takes pages
until the amount asked for is met or every zone is at its watermark.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from math import isqrt

from earlymem.lib.ranges import Range, RangeSet
from earlymem.mm.buddy import FreeArea, buddy_blocks

__all__ = ["Zone", "PageAllocator", "STRUCT_PAGE_2_6_23", "LOWMEM_RESERVE_RATIO"]

#: sizeof(struct page) on x86_64 2.6.2x (flags, _count, _mapcount, private,
#: mapping, index, lru = 8+4+4+8+8+8+16) [assumption: no CONFIG_DEBUG fields].
STRUCT_PAGE_2_6_23 = 56
#: mm/page_alloc.c sysctl_lowmem_reserve_ratio: DMA 256, DMA32 256, Normal 32.
LOWMEM_RESERVE_RATIO = (256, 256, 32)
ZONE_NAMES = ("DMA", "DMA32", "Normal")


@dataclass
class Zone:
    nid: int
    idx: int  # 0 DMA, 1 DMA32, 2 Normal
    span: Range  # pfns
    present_pages: int
    #: the free lists (earlymem.mm.buddy.FreeArea), filled by PageAllocator
    area: FreeArea | None = None
    pages_min: int = 0
    pages_low: int = 0
    pages_high: int = 0
    lowmem_reserve: list[int] = field(default_factory=lambda: [0, 0, 0])
    #: the first pages :meth:`take` handed out, in the order handed out
    first_out: list[Range] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ZONE_NAMES[self.idx]

    @property
    def free_pages(self) -> int:
        return self.area.free_pages if self.area else 0

    def take(self, n: int) -> RangeSet:
        """Hand out ``n`` single pages the way repeated order-0 allocations would
        (FreeArea.take_pages())."""
        if self.area is None:
            return RangeSet()
        got = self.area.take_pages(n)
        if not self.first_out:
            self.first_out = self.area.last_taken[:4]
        return got


def _creation_order(free: RangeSet, freed_runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Every free block ``(pfn, order, when)``: ``when`` = the sequence number of the
    free that completed it (its latest page), which is when __free_one_page()
    put it on its list."""
    seq: list[tuple[int, int, int]] = []  # (start, end, seq of first page), sorted by start
    t = 0
    for s, e in freed_runs:
        seq.append((s, e, t))
        t += e - s
    seq.sort()
    starts = [s for s, _, _ in seq]
    out = []
    for pfn, order in buddy_blocks(free):
        end = pfn + (1 << order)
        when = -1
        i = max(0, bisect.bisect_right(starts, pfn) - 1)
        while i < len(seq) and seq[i][0] < end:
            s, e, t0 = seq[i]
            if e > pfn:
                when = max(when, t0 + min(e, end) - 1 - s)
            i += 1
        out.append((pfn, order, when))
    return out


class PageAllocator:
    """The zones of every node after bootmem retired, and allocations from them."""

    def __init__(self, zones: list[Zone], freed_runs: list[tuple[int, int]], free: RangeSet, order: str | None = None) -> None:
        """:param order: "node" or "zone" to force the zonelist order (None: 2.6.23's
        default_zonelist_order(); 4.14 removed zone ordering, so later eras pass "node")."""
        self.zones = zones
        self.order = order
        for z in zones:
            # __free_one_page() put each block at the head of its list when
            # its last page was freed: newest first
            z.area = FreeArea(z.span)
            blocks = _creation_order(free.intersect([z.span]), freed_runs)
            for pfn, order, _when in sorted(blocks, key=lambda b: b[2], reverse=True):
                z.area.insert(pfn, order, tail=True)
        self._watermarks()

    # -- init_per_zone_pages_min() and setup_per_zone_lowmem_reserve()
    def _watermarks(self) -> None:
        lowmem_pages = sum(z.present_pages for z in self.zones)
        self.min_free_kbytes = min(max(isqrt(lowmem_pages * 4 * 16), 128), 65536)
        pages_min = self.min_free_kbytes >> 2
        for z in self.zones:
            tmp = pages_min * z.present_pages // lowmem_pages if lowmem_pages else 0
            z.pages_min = tmp
            z.pages_low = tmp + (tmp >> 2)
            z.pages_high = tmp + (tmp >> 1)
        for nid in {z.nid for z in self.zones}:
            node = {z.idx: z for z in self.zones if z.nid == nid}
            for j in range(3):
                present = node[j].present_pages if j in node else 0
                for idx in range(j - 1, -1, -1):
                    if idx in node:
                        node[idx].lowmem_reserve[j] = present // LOWMEM_RESERVE_RATIO[idx]
                        present += node[idx].present_pages

    def zonelist_order(self) -> str:
        """``default_zonelist_order()`` of 2.6.23: "node" or "zone"."""
        low = sum(z.present_pages for z in self.zones if z.idx < 2)
        total = sum(z.present_pages for z in self.zones)
        if not low or low > total // 2:
            return "node"
        nodes = sorted({z.nid for z in self.zones})
        average = total // (len(nodes) + 1)
        for nid in nodes:
            nlow = sum(z.present_pages for z in self.zones if z.nid == nid and z.idx < 2)
            ntotal = sum(z.present_pages for z in self.zones if z.nid == nid)
            if nlow and ntotal > average and nlow > ntotal * 70 // 100:
                return "node"
        return "zone"

    def zonelist(self, nid: int, high_idx: int = 2) -> list[Zone]:
        """The zonelist of an allocation from node ``nid`` that may use zones up to ``high_idx``
        (nodes in distance order: the local node, then the others by number)."""
        nodes = [nid] + sorted({z.nid for z in self.zones} - {nid})
        by = {(z.nid, z.idx): z for z in self.zones}
        if (self.order or self.zonelist_order()) == "zone":
            return [by[(n, i)] for i in range(high_idx, -1, -1) for n in nodes if (n, i) in by and by[(n, i)].present_pages]
        return [by[(n, i)] for n in nodes for i in range(high_idx, -1, -1) if (n, i) in by and by[(n, i)].present_pages]

    def allocate(self, pages: int | None, nid: int = 0) -> list[tuple[Zone, RangeSet]]:
        """Order-0 allocations of ``pages`` pages from node ``nid`` (None: as many as the
        watermarks allow), zone by zone along the zonelist."""
        zl = self.zonelist(nid)
        classzone = zl[0].idx
        out = []
        left = pages
        for z in zl:
            room = z.free_pages - (z.pages_low + z.lowmem_reserve[classzone])
            if room <= 0:
                continue
            n = room if left is None else min(room, left)
            got = z.take(n)
            out.append((z, got))
            if left is not None:
                left -= n
                if not left:
                    break
        return out
