"""RangeSet against a plain set of integers on a small address space."""

from hypothesis import given
from hypothesis import strategies as st

from earlymem.lib.ranges import Range, RangeSet

ranges = st.lists(st.tuples(st.integers(0, 64), st.integers(0, 16)).map(lambda t: Range(t[0], t[0] + t[1])), max_size=8)


def addrs(rs):
    return {a for r in rs for a in range(r.start, r.end)}


@given(ranges)
def test_normalised_sorted_disjoint_non_touching(rs):
    s = list(RangeSet(rs))
    assert all(r.size > 0 for r in s)
    assert all(a.end < b.start for a, b in zip(s, s[1:]))
    assert addrs(s) == addrs(rs)


@given(ranges, ranges)
def test_set_algebra_matches_python_sets(a, b):
    A, B = RangeSet(a), RangeSet(b)
    assert addrs(A.union(B)) == addrs(a) | addrs(b)
    assert addrs(A.intersect(B)) == addrs(a) & addrs(b)
    assert addrs(A.subtract(B)) == addrs(a) - addrs(b)
    assert A.total == len(addrs(a))


@given(ranges, st.integers(0, 90))
def test_contains_and_index(rs, x):
    s = RangeSet(rs)
    assert (x in s) == (x in addrs(rs))
    i = s.index_of(x)
    assert (i >= 0) == (x in s)


@given(ranges, st.integers(0, 40), st.integers(0, 60))
def test_gaps_within(rs, start, length):
    s = RangeSet(rs)
    w = Range(start, start + length)
    gaps = list(s.gaps(w))
    assert addrs(gaps) == set(range(w.start, w.end)) - addrs(rs)
    assert s.covers(w) == (not gaps or not w)


def test_inclusive_constructor_matches_kernel_print():
    r = Range.from_inclusive(0x9FC00, 0x9FFFF)
    assert (r.start, r.end, r.size, r.last) == (0x9FC00, 0xA0000, 0x400, 0x9FFFF)
