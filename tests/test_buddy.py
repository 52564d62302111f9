"""The buddy allocator (earlymem.mm.buddy.FreeArea) against a plain reference:
per-order Python lists, head insertion, the buddy found by searching the list
-- the kernel's __free_one_page() / __rmqueue_smallest() / expand() spelled out."""

from hypothesis import given, settings
from hypothesis import strategies as st

from earlymem.lib.ranges import Range
from earlymem.mm.buddy import FreeArea

TOP = 4  # a small MAX_ORDER - 1 keeps the cases readable; the rules do not depend on it


class Reference:
    def __init__(self, span):
        self.span = span
        self.lists = [[] for _ in range(TOP + 1)]

    def free(self, pfn, order, tail=False):
        while order < TOP:
            buddy = pfn ^ (1 << order)
            if not (self.span.start <= buddy and buddy + (1 << order) <= self.span.end) or buddy not in self.lists[order]:
                break
            self.lists[order].remove(buddy)
            pfn, order = min(pfn, buddy), order + 1
        if tail:
            self.lists[order].append(pfn)
        else:
            self.lists[order].insert(0, pfn)

    def alloc(self, order):
        for high in range(order, TOP + 1):
            if self.lists[high]:
                pfn = self.lists[high].pop(0)
                while high > order:
                    high -= 1
                    self.lists[high].insert(0, pfn + (1 << high))
                return pfn
        return None


ops = st.lists(st.one_of(st.tuples(st.just("alloc"), st.integers(0, TOP)), st.tuples(st.just("free"), st.integers(0, 50))), max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3), st.integers(1, 200), st.lists(st.integers(0, 199), max_size=40), st.booleans(), ops)
def test_free_area_is_the_reference(start_blocks, length, holes, tail, seq):
    span = Range(start_blocks * 16 + 3, start_blocks * 16 + 3 + length)
    fa, ref = FreeArea(span, TOP + 1), Reference(span)
    for pfn in range(span.start, span.end):  # boot: every page freed in address order, some kept back
        if (pfn - span.start) in holes:
            continue
        fa.free(pfn, 0, tail)
        ref.free(pfn, 0, tail)
    held = []
    for op, arg in seq:
        if op == "alloc":
            got, want = fa.alloc(arg), ref.alloc(arg)
            assert got == want
            if got is not None:
                held.append((got, arg))
        elif held:
            pfn, order = held.pop(arg % len(held))
            fa.free(pfn, order)
            ref.free(pfn, order)
    assert [fa.blocks(o) for o in range(TOP + 1)] == ref.lists


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.lists(st.integers(0, 299), max_size=30), st.integers(0, 320), st.booleans())
def test_take_pages_is_repeated_order0_allocation(length, holes, n, tail):
    span = Range(0, length)
    a, b = FreeArea(span, TOP + 1), FreeArea(span, TOP + 1)
    for pfn in range(length):
        if pfn not in holes:
            a.free(pfn, 0, tail)
            b.free(pfn, 0, tail)
    got = a.take_pages(n)
    one = []
    for _ in range(n):
        p = b.alloc(0)
        if p is None:
            break
        one.append(Range(p, p + 1))
    from earlymem.lib.ranges import RangeSet

    assert got == RangeSet(one)
    assert a.counts() == b.counts() and a.free_pages == b.free_pages
    assert [a.blocks(o) for o in range(TOP + 1)] == [b.blocks(o) for o in range(TOP + 1)]


def test_top_order_runs_stay_few():
    # 64 TiB of order-10 blocks freed in address order: one run, not 16 million blocks
    fa = FreeArea(Range(0, 1 << 34))
    for pfn in range(0, 1 << 20, 1 << 10):
        fa.free(pfn, 10, tail=True)
    assert len(fa.runs) == 1 and fa.count(10) == 1024
    assert fa.alloc(0) == 0 and fa.counts()[:10] == [1] * 10 and fa.count(10) == 1023
