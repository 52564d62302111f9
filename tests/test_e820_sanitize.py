"""sanitize_e820_map() / e820__update_table(): properties and fixed cases.

The precedence rule (highest numeric type wins), the start-before-end order
of change points and the no-merge types are those of arch/x86/kernel/e820.c
(cpcompare, e820_nomerge) -- see earlymem.machine.e820.sanitize.
"""

from hypothesis import given
from hypothesis import strategies as st

from earlymem.machine.e820 import E820Entry, E820Type, sanitize

TYPES = [1, 2, 3, 4, 5, 7, 12, 20, 0xEFFFFFFF]
entries_st = st.lists(
    st.builds(lambda a, s, t: E820Entry(a * 0x1000, s * 0x1000, t), st.integers(0, 64), st.integers(0, 24), st.sampled_from(TYPES)),
    min_size=2,
    max_size=12,
)
NO_MERGE = (12, 0xEFFFFFFF)


def page_types(entries):
    """Page -> highest type of the entries covering it (the kernel's rule)."""
    out = {}
    for e in entries:
        for p in range(e.addr // 0x1000, (e.addr + e.size) // 0x1000):
            out[p] = max(out.get(p, 0), e.type)
    return out


@given(entries_st)
def test_output_sorted_non_overlapping_non_empty(entries):
    out = sanitize(entries, no_merge_types=NO_MERGE)
    assert out is not None
    assert all(e.size > 0 for e in out)
    assert all(a.addr + a.size <= b.addr for a, b in zip(out, out[1:]))


@given(entries_st)
def test_highest_type_wins_everywhere(entries):
    assert page_types(sanitize(entries, no_merge_types=NO_MERGE)) == page_types(entries)


@given(entries_st)
def test_adjacent_equal_types_are_merged_unless_no_merge(entries):
    out = sanitize(entries, no_merge_types=NO_MERGE)
    for a, b in zip(out, out[1:]):
        if a.addr + a.size == b.addr and a.type == b.type:
            assert a.type in NO_MERGE


@given(entries_st)
def test_idempotent(entries):
    once = sanitize(entries, no_merge_types=NO_MERGE)
    if len(once) >= 2:
        assert sanitize(once, no_merge_types=NO_MERGE) == once


@given(entries_st)
def test_without_no_merge_types_everything_coalesces(entries):
    out = sanitize(entries)
    for a, b in zip(out, out[1:]):
        assert not (a.addr + a.size == b.addr and a.type == b.type)


def test_fewer_than_two_entries_is_refused():
    assert sanitize([E820Entry(0, 0x1000, 1)]) is None
    assert sanitize([]) is None


def test_wrapping_entry_refuses_whole_table():
    assert sanitize([E820Entry(0, 0x1000, 1), E820Entry(0xFFFF_FFFF_FFFF_F000, 0x2000, 2)]) is None


def test_reserved_carved_out_of_ram():
    ram = E820Entry(0, 0x100000, E820Type.RAM)
    hole = E820Entry(0x9F000, 0x1000, E820Type.RESERVED)
    assert sanitize([ram, hole]) == [
        E820Entry(0, 0x9F000, 1),
        E820Entry(0x9F000, 0x1000, 2),
        E820Entry(0xA0000, 0x60000, 1),
    ]


def test_pram_pieces_stay_split_at_original_boundaries():
    # memmap=64M!0x140000000,64M!0x144000000 on v4.1+: two PRAM entries printed.
    a = E820Entry(0x140000000, 64 << 20, E820Type.PRAM)
    b = E820Entry(0x144000000, 64 << 20, E820Type.PRAM)
    ram = E820Entry(0, 0x1000, 1)
    assert sanitize([ram, a, b], no_merge_types=(12,)) == [ram, a, b]
    assert sanitize([ram, a, b]) == [ram, E820Entry(0x140000000, 128 << 20, 12)]


def test_capacity_truncates_like_the_kernel():
    entries = [E820Entry(i * 0x2000, 0x1000, 1) for i in range(10)]
    assert len(sanitize(entries, max_entries=4)) == 4
