"""memblock_free_all(): memblock's free memory handed to the buddy allocator.

``free_low_memory_core_early()`` (mm/memblock.c, 5.10; mm/mm_init.c keeps the
same steps to 7.x): every reserved range becomes PageReserved, then each free
range (``for_each_free_mem_range(NUMA_NO_NODE, MEMBLOCK_NONE)``: memory minus
reserved, region by region, so never across a node) is freed by
``__free_memory_core()`` from ``PFN_UP(start)`` to ``PFN_DOWN(end)`` (capped at
max_low_pfn) in naturally aligned blocks of at most ``MAX_ORDER - 1``
(``__free_pages_memory()``).  Each block adds its pages to its zone's
``managed_pages``; ``__free_one_page()`` merges it with free buddies, so with
every page of a zone freed in address order the free lists hold the maximal
aligned blocks of each free run (mm/buddy.py) -- also with
CONFIG_DEFERRED_STRUCT_PAGE_INIT, which frees the same pages later in
MAX_ORDER chunks.

Runs are counted by arithmetic -- a head of at most ten blocks up to the next
4 MiB boundary, the 4 MiB blocks in between as one number, a tail of at most
ten -- so the cost grows with the number of free ranges, not with memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import NUMA_NO_NODE, Memblock
from earlymem.lib.x86_64 import PAGE_SHIFT
from earlymem.mm.buddy import MAX_ORDER, run_orders
from earlymem.phases.free_area_init import ZoneSize

__all__ = ["ZoneHandoff", "memblock_free_all", "run_orders", "MAX_ORDER"]



@dataclass
class ZoneHandoff:
    """One zone right after the hand-off."""

    zone: ZoneSize
    managed: int = 0
    #: free blocks per order (/proc/buddyinfo's columns)
    counts: list[int] = field(default_factory=lambda: [0] * MAX_ORDER)
    #: free pfn runs ``(start, end)`` in address order
    runs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def free_pages(self) -> int:
        return sum(c << o for o, c in enumerate(self.counts))


def memblock_free_all(mb: Memblock, zones: list[ZoneSize], max_low_pfn: int) -> list[ZoneHandoff]:
    """The zones (same order as ``zones``) with their managed pages and free lists."""
    out = [ZoneHandoff(z) for z in zones]
    by_node: dict[int, list[ZoneHandoff]] = {}
    for h in out:
        if h.zone.spanned:
            by_node.setdefault(h.zone.nid, []).append(h)
    for start, end, nid in mb.free_ranges(NUMA_NO_NODE):
        s, e = -(-start >> PAGE_SHIFT), min(end >> PAGE_SHIFT, max_low_pfn)
        if s >= e:
            continue
        for h in by_node.get(nid, []):
            z = h.zone
            a, b = max(s, z.start_pfn), min(e, z.start_pfn + z.spanned)
            if a < b:
                h.managed += b - a
                if h.runs and h.runs[-1][1] == a:
                    h.runs[-1] = (h.runs[-1][0], b)
                else:
                    h.runs.append((a, b))
    for h in out:
        for a, b in h.runs:
            run_orders(a, b, h.counts)
    return out
