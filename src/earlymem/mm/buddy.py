"""The buddy allocator's free lists after pages are handed to it (mm/page_alloc.c).

``__free_one_page()`` merges a freed block with its buddy (``pfn ^ (1 <<
order)``) while the buddy is free, of the same order and in the same zone, up
to order ``MAX_ORDER - 1``.  Because merging is eager, the state after any
sequence of frees depends only on the set of free pages: every maximal
aligned block ``[pfn, pfn + 2^k)`` (``pfn % 2^k == 0``, ``k <= MAX_ORDER - 1``)
that is wholly free and whose parent block is not.  So the state is computed
from free *ranges* (cost grows with ranges, not pages).

Zone boundaries on x86_64 (16 MiB, 4 GiB, node starts at GiB multiples) are
aligned far above order 10, so no block crosses one.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.ranges import Range, RangeSet

__all__ = ["BuddyZone", "buddy_blocks", "buddyinfo_line"]

#: include/linux/mmzone.h: MAX_ORDER = 11 (orders 0..10) for x86_64 2.6.x to 6.x.
MAX_ORDER = 11


def buddy_blocks(free_pfns: RangeSet, max_order: int = MAX_ORDER) -> list[tuple[int, int]]:
    """``(pfn, order)`` of every free block, ascending."""
    out: list[tuple[int, int]] = []
    for r in free_pfns:
        pfn = r.start
        while pfn < r.end:
            order = min(max_order - 1, (pfn & -pfn).bit_length() - 1 if pfn else max_order - 1)
            while pfn + (1 << order) > r.end:
                order -= 1
            out.append((pfn, order))
            pfn += 1 << order
    return out


@dataclass
class BuddyZone:
    """One zone's free area: ``counts[order]`` = free blocks of that order."""

    nid: int
    name: str
    span: Range  # pfns
    counts: list[int]

    @property
    def free_pages(self) -> int:
        return sum(c << o for o, c in enumerate(self.counts))

    @classmethod
    def build(cls, nid: int, name: str, span: Range, free_pfns: RangeSet, max_order: int = MAX_ORDER) -> "BuddyZone":
        counts = [0] * max_order
        for _pfn, order in buddy_blocks(free_pfns.intersect([span]), max_order):
            counts[order] += 1
        return cls(nid, name, span, counts)


def buddyinfo_line(zone: BuddyZone) -> str:
    """One /proc/buddyinfo line (mm/vmstat.c frag_show_print(): ``"Node %d, zone %8s "``
    then ``"%6lu "`` per order -- a trailing space, as the captures show)."""
    return f"Node {zone.nid}, zone {zone.name:>8s} " + "".join(f"{c:6d} " for c in zone.counts)
