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

from earlymem.lib.ranges import Range, RangeSet

__all__ = ["BuddyZone", "FreeArea", "buddy_blocks", "run_orders", "buddyinfo_line"]

#: include/linux/mmzone.h: MAX_ORDER = 11 (orders 0..10) on x86_64 2.6.x to 6.3; from
#: 6.4 MAX_ORDER = 10 inclusive, from 6.8 MAX_PAGE_ORDER = 10 -- eleven orders in every era.
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


def run_orders(start: int, end: int, counts: list[int]) -> None:
    """Add the blocks ``__free_pages_memory(start, end)`` frees (and the buddy
    keeps, merged) to ``counts[order]``."""
    top = len(counts) - 1
    big = 1 << top
    s = start
    # head: up to the first max-order boundary
    while s < end and s & (big - 1):
        order = min(top, (s & -s).bit_length() - 1)
        while s + (1 << order) > end:
            order -= 1
        counts[order] += 1
        s += 1 << order
    n = (end - s) >> top
    counts[top] += n
    s += n << top
    # tail: what is left below end, largest first
    while s < end:
        order = (end - s).bit_length() - 1
        counts[order] += 1
        s += 1 << order


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
        for r in free_pfns.intersect([span]):  # per run, not per block
            run_orders(r.start, r.end, counts)
        return cls(nid, name, span, counts)


def buddyinfo_line(zone: BuddyZone) -> str:
    """One /proc/buddyinfo line (mm/vmstat.c frag_show_print(): ``"Node %d, zone %8s "``
    then ``"%6lu "`` per order -- a trailing space, as the captures show)."""
    return f"Node {zone.nid}, zone {zone.name:>8s} " + "".join(f"{c:6d} " for c in zone.counts)


class FreeArea:
    """One zone's free lists with the allocator's operations (mm/page_alloc.c).

    * ``free(pfn, order)`` -- ``__free_one_page()``: while the buddy (``pfn ^ (1
      << order)``) lies in the zone and is free at the same order, take it off
      its list and merge (``pfn &= ~(1 << order)``), up to ``MAX_ORDER - 1``;
      the result goes to the head of its list (or the tail with ``tail``, as
      __free_pages_core() frees boot memory from 5.10: FPI_TO_TAIL);
    * ``alloc(order)`` -- ``__rmqueue_smallest()``: the head of the smallest
      non-empty list at or above ``order``; ``expand()`` puts the upper halves
      of a split block back at the heads of the lower lists;
    * ``take_pages(n)`` -- ``n`` order-0 allocations at once (whole blocks in
      list order, then the lowest pages of the next block, the rest back at
      the heads).

    The lists below the top order are ordered dicts (O(1) head/tail insertion,
    removal of a buddy); the top order, where nearly all boot memory sits, is
    a list of runs ``[first, count, step]`` of consecutive blocks in list
    order, so a zone costs per run, not per block.  Migrate types and per-CPU
    lists are not modelled (every block is movable, as at boot).
    """

    def __init__(self, span: Range, max_order: int = MAX_ORDER) -> None:
        from collections import OrderedDict, deque

        self.span = span
        self.top = max_order - 1
        self.lists: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(self.top)]
        self.runs: deque[list[int]] = deque()  # top order: [first pfn, count, step]
        self.top_count = 0
        self.last_taken: list[Range] = []

    # -- list primitives ------------------------------------------------------------------
    def insert(self, pfn: int, order: int, tail: bool = False) -> None:
        if order == self.top:
            step = 1 << order
            self.top_count += 1
            if tail:
                last = self.runs[-1] if self.runs else None
                if last and last[0] + last[1] * last[2] == pfn:
                    last[1] += 1
                elif last and last[1] == 1 and last[0] - step == pfn:  # a descending run
                    last[1], last[2] = 2, -step
                else:
                    self.runs.append([pfn, 1, step])
            else:
                head = self.runs[0] if self.runs else None
                if head and head[0] - head[2] == pfn:
                    head[0], head[1] = pfn, head[1] + 1
                elif head and head[1] == 1 and head[0] + step == pfn:  # a descending run
                    head[0], head[1], head[2] = pfn, 2, -step
                else:
                    self.runs.appendleft([pfn, 1, step])
            return
        od = self.lists[order]
        od[pfn] = None
        if not tail:
            od.move_to_end(pfn, last=False)

    def _pop_head(self, order: int) -> int:
        if order == self.top:
            head = self.runs[0]
            pfn = head[0]
            head[0] += head[2]
            head[1] -= 1
            if not head[1]:
                self.runs.popleft()
            self.top_count -= 1
            return pfn
        return self.lists[order].popitem(last=False)[0]

    def count(self, order: int) -> int:
        return self.top_count if order == self.top else len(self.lists[order])

    def counts(self) -> list[int]:
        return [self.count(o) for o in range(self.top + 1)]

    @property
    def free_pages(self) -> int:
        return sum(c << o for o, c in enumerate(self.counts()))

    def blocks(self, order: int) -> list[int]:
        """The list of ``order`` head first (for tests and small zones)."""
        if order == self.top:
            return [r[0] + i * r[2] for r in self.runs for i in range(r[1])]
        return list(self.lists[order])

    # -- the allocator ---------------------------------------------------------------------
    def free(self, pfn: int, order: int, tail: bool = False) -> None:
        while order < self.top:
            buddy = pfn ^ (1 << order)
            if not (self.span.start <= buddy and buddy + (1 << order) <= self.span.end) or buddy not in self.lists[order]:
                break
            del self.lists[order][buddy]
            pfn &= buddy
            order += 1
        self.insert(pfn, order, tail)

    def alloc(self, order: int = 0) -> int | None:
        for high in range(order, self.top + 1):
            if self.count(high):
                pfn = self._pop_head(high)
                while high > order:  # expand()
                    high -= 1
                    self.insert(pfn + (1 << high), high)
                return pfn
        return None

    def take_pages(self, n: int) -> RangeSet:
        got: list[Range] = []
        for order in range(self.top + 1):
            size = 1 << order
            whole = min(self.count(order), n >> order)
            n -= whole << order
            if order == self.top:
                while whole:
                    first, count, step = self.runs[0]
                    k = min(whole, count)
                    lo = first if step > 0 else first + (k - 1) * step
                    got.append(Range(lo, lo + k * size))
                    self.runs[0][0] += k * step
                    self.runs[0][1] -= k
                    if not self.runs[0][1]:
                        self.runs.popleft()
                    self.top_count -= k
                    whole -= k
            else:
                for _ in range(whole):
                    pfn = self._pop_head(order)
                    got.append(Range(pfn, pfn + size))
            if n and self.count(order):
                # the next block goes from its lowest page up; the upper part
                # returns to the heads of the lower orders
                pfn = self._pop_head(order)
                got.append(Range(pfn, pfn + n))
                for p, o in sorted(buddy_blocks(RangeSet([Range(pfn + n, pfn + size)])), reverse=True):
                    self.insert(p, o)
                n = 0
            if not n:
                break
        self.last_taken = got  # in the order handed out
        return RangeSet(got)
