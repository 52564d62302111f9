"""memblock against the kernel's own test suite (tools/testing/memblock).

Each test is one case of ../shared/spec/memblock-conformance.md, named after
the kernel test it reproduces (basic_api.c, alloc_api.c, alloc_helpers_api.c,
alloc_nid_api.c; v5.19-era copies) or marked [D] where the spec derives it
from mm/memblock.c.  The harness conventions are the kernel harness's:
SMP_CACHE_BYTES = 32, MEM_SIZE = 32 KiB at a fake base B, an empty type holds
one zero-sized dummy region.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earlymem.allocators.memblock import (
    MEMBLOCK_ALLOC_ANYWHERE,
    MEMBLOCK_HOTPLUG,
    NUMA_NO_NODE,
    PHYS_ADDR_MAX,
    Memblock,
    MemblockError,
)

K, M, G = 1 << 10, 1 << 20, 1 << 30
MEM_SIZE = 0x8000
B = 0x10000000
E = B + MEM_SIZE


def fresh() -> Memblock:
    return Memblock(smp_cache_bytes=32)


def setup_memblock(bottom_up: bool = False) -> Memblock:
    mb = fresh()
    mb.add(B, MEM_SIZE)
    mb.bottom_up = bottom_up
    return mb


def reserved(mb):
    return mb.reserved.ranges(), mb.reserved.cnt, mb.reserved.total_size


BOTH = pytest.mark.parametrize("bottom_up", [False, True], ids=["TD", "BU"])


# -- basic_api.c ---------------------------------------------------------------------------


def test_B01_memblock_initialization_check():
    mb = fresh()
    assert (mb.memory.cnt, mb.memory.max, mb.memory.name) == (1, 128, "memory")
    assert (mb.reserved.cnt, mb.reserved.name) == (1, "reserved")
    assert mb.bottom_up is False and mb.current_limit == MEMBLOCK_ALLOC_ANYWHERE


def test_B02_memblock_add_simple_check():
    mb = fresh()
    mb.add(G, 4 * M)
    assert (mb.memory.ranges(), mb.memory.cnt, mb.memory.total_size) == ([(G, 4 * M)], 1, 4 * M)


def test_B03_memblock_add_node_simple_check():
    mb = fresh()
    mb.add_node(M, 16 * M, 1, MEMBLOCK_HOTPLUG)
    r = mb.memory.regions[0]
    assert (r.base, r.size, r.nid, r.flags, mb.memory.cnt, mb.memory.total_size) == (M, 16 * M, 1, 0x1, 1, 16 * M)


@pytest.mark.parametrize(
    "case, adds, expected, total",
    [
        ("B04_add_disjoint", [(G, 8 * K), (G + 16 * K, 8 * K)], [(G, 8 * K), (G + 16 * K, 8 * K)], 16 * K),
        ("B05_add_overlap_top", [(512 * M, G), (256 * M, 512 * M)], [(256 * M, 1280 * M)], 1280 * M),
        ("B06_add_overlap_bottom", [(128 * M, 512 * M), (256 * M, G)], [(128 * M, 1152 * M)], 1152 * M),
        ("B07_add_within", [(8 * M, 32 * M), (16 * M, M)], [(8 * M, 32 * M)], 32 * M),
        ("B08_add_twice", [(16 * K, 2 * M), (16 * K, 2 * M)], [(16 * K, 2 * M)], 2 * M),
    ],
)
def test_memblock_add(case, adds, expected, total):
    mb = fresh()
    for b, s in adds:
        mb.add(b, s)
    assert (mb.memory.ranges(), mb.memory.cnt, mb.memory.total_size) == (expected, len(expected), total)


@pytest.mark.parametrize(
    "case, calls, expected, total",
    [
        ("B09_reserve_simple", [(2 * G, 128 * M)], [(2 * G, 128 * M)], 128 * M),
        ("B10_reserve_disjoint", [(256 * M, 16 * M), (512 * M, 512 * M)], [(256 * M, 16 * M), (512 * M, 512 * M)], 528 * M),
        ("B11_reserve_overlap_top", [(G, G), (128 * M, G)], [(128 * M, 1920 * M)], 1920 * M),
        ("B12_reserve_overlap_bottom", [(2 * K, 128 * K), (128 * K, 128 * K)], [(0x800, 0x3F800)], 254 * K),
        ("B13_reserve_within", [(M, 8 * M), (2 * M, 64 * K)], [(M, 8 * M)], 8 * M),
        ("B14_reserve_twice", [(16 * K, 2 * M), (16 * K, 2 * M)], [(16 * K, 2 * M)], 2 * M),
    ],
)
def test_memblock_reserve(case, calls, expected, total):
    mb = fresh()
    for b, s in calls:
        mb.reserve(b, s)
    assert reserved(mb) == (expected, len(expected), total)


@pytest.mark.parametrize(
    "case, adds, remove, expected, total",
    [
        ("B15_remove_simple", [(2 * K, 4 * K), (128 * K, 4 * M)], (2 * K, 4 * K), [(128 * K, 4 * M)], 4 * M),
        ("B16_remove_absent", [(512 * K, 4 * M)], (64 * M, G), [(512 * K, 4 * M)], 4 * M),
        ("B17_remove_overlap_top", [(32 * M, 32 * M)], (16 * M, 32 * M), [(48 * M, 16 * M)], 16 * M),
        ("B18_remove_overlap_bottom", [(2 * M, 64 * M)], (32 * M, 256 * M), [(2 * M, 30 * M)], 30 * M),
        ("B19_remove_within", [(M, 32 * M)], (16 * M, M), [(M, 15 * M), (17 * M, 16 * M)], 31 * M),
    ],
)
def test_memblock_remove(case, adds, remove, expected, total):
    mb = fresh()
    for b, s in adds:
        mb.add(b, s)
    mb.remove(*remove)
    assert (mb.memory.ranges(), mb.memory.cnt, mb.memory.total_size) == (expected, len(expected), total)


@pytest.mark.parametrize(
    "case, reserves, free, expected, total",
    [
        ("B20_free_simple", [(4 * M, M), (8 * M, M)], (4 * M, M), [(8 * M, M)], M),
        ("B21_free_absent", [(2 * M, 8 * K)], (16 * M, 128 * M), [(2 * M, 8 * K)], 8 * K),
        ("B22_free_overlap_top", [(8 * M, 32 * M)], (M, 8 * M), [(9 * M, 31 * M)], 31 * M),
        ("B23_free_overlap_bottom", [(8 * M, 32 * M)], (32 * M, 32 * M), [(8 * M, 24 * M)], 24 * M),
        ("B24_free_within", [(M, 8 * M)], (4 * M, M), [(M, 3 * M), (5 * M, 4 * M)], 7 * M),
    ],
)
def test_memblock_free(case, reserves, free, expected, total):
    mb = fresh()
    for b, s in reserves:
        mb.reserve(b, s)
    mb.phys_free(*free)
    assert reserved(mb) == (expected, len(expected), total)


@pytest.mark.parametrize(
    "case, adds, expected",
    [
        ("B25_trim_aligned", [(32, 128)], [(32, 128)]),
        ("B26_trim_too_small", [(32, 64), (128, 30)], [(32, 64)]),
        ("B27_trim_unaligned_base", [(32, 64), (130, 62)], [(32, 64), (160, 32)]),
        ("B28_trim_unaligned_end", [(32, 64), (128, 62)], [(32, 64), (128, 32)]),
    ],
)
def test_memblock_trim_memory(case, adds, expected):
    mb = fresh()
    for b, s in adds:
        mb.add(b, s)
    mb.trim_memory(32)
    assert mb.memory.ranges() == expected and mb.memory.cnt == len(expected)


# -- alloc_api.c ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, bottom_up, reserves, size, align, expected",
    [
        ("A01_top_down_simple", False, [], 2, 32, [(E - 32, 2)]),
        ("A02_bottom_up_simple", True, [], 2, 32, [(B, 2)]),
        ("A03_top_down_disjoint", False, [(E - 2, 2)], 16, 64, [(E - 64, 16), (E - 2, 2)]),
        ("A04_bottom_up_disjoint", True, [(B + 2, 2)], 16, 64, [(B + 2, 2), (B + 64, 16)]),
        ("A05_top_down_before", False, [(E - 544, 32)], 512, 32, [(E - 544, 544)]),
        ("A06_bottom_up_before", True, [(B + 512, 128)], 512, 32, [(B, 640)]),
        ("A07_top_down_after", False, [(E - 32, 8)], 512, 32, [(E - 544, 520)]),
        ("A08_bottom_up_after", True, [(B + 32, 64)], 512, 32, [(B + 32, 576)]),
        ("A09_top_down_second_fit", False, [(E - 512, 512), (E - 1024, 256)], 1024, 32, [(E - 2048, 1280), (E - 512, 512)]),
        ("A10_bottom_up_second_fit", True, [(B, 512), (B + 1024, 256)], 1024, 32, [(B, 512), (B + 1024, 1280)]),
    ],
)
def test_memblock_alloc(case, bottom_up, reserves, size, align, expected):
    mb = setup_memblock(bottom_up)
    for b, s in reserves:
        mb.reserve(b, s)
    assert mb.alloc(size, align)
    assert reserved(mb) == (expected, len(expected), sum(s for _, s in expected))


@BOTH
def test_A11_alloc_in_between_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    mb.reserve(E - 16352, 16320)
    mb.reserve(B + 32, 16320)
    assert mb.alloc(64, 32) == B + 16352
    assert reserved(mb) == ([(B + 32, 32704)], 1, 32704)


@BOTH
def test_A12_alloc_small_gaps_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    for k in range(26):
        mb.reserve(B + 256 + 1280 * k, 1024)
    assert mb.alloc(1024, 32) == 0


@BOTH
def test_A13_alloc_all_reserved_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    mb.reserve(B, MEM_SIZE)
    assert mb.alloc(256, 32) == 0


@BOTH
def test_A14_alloc_no_space_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    mb.reserve(B, MEM_SIZE - 256)
    assert mb.alloc(1024, 32) == 0


@BOTH
def test_A15_alloc_limited_space_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    mb.reserve(B, MEM_SIZE - 256)
    assert mb.alloc(256, 32) == E - 256
    assert reserved(mb) == ([(B, MEM_SIZE)], 1, MEM_SIZE)


@BOTH
def test_A16_alloc_no_memory_generic_check(bottom_up):
    mb = fresh()
    mb.bottom_up = bottom_up
    assert mb.alloc(1024, 32) == 0
    r = mb.reserved.regions[0]
    assert (r.base, r.size, mb.reserved.total_size) == (0, 0, 0)


# -- alloc_helpers_api.c -------------------------------------------------------------------


@BOTH
def test_H01_alloc_from_simple_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    assert mb.alloc_from(16, 32, E - 32) == E - 32
    assert reserved(mb) == ([(E - 32, 16)], 1, 16)


@BOTH
def test_H02_alloc_from_misaligned_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    assert mb.alloc_from(32, 32, E - 63) == E - 32
    assert reserved(mb) == ([(E - 32, 32)], 1, 32)


def test_H03_alloc_from_top_down_high_addr_check():
    mb = setup_memblock()
    assert mb.alloc_from(32, 32, E - 16) == E - 32  # [E-16, E) fails; retried with min 0


def test_H04_alloc_from_top_down_min_addr_cap_check():
    mb = setup_memblock()
    mb.reserve(B + 64, MEM_SIZE - 64)
    assert mb.alloc_from(64, 32, B - 96) == B
    assert reserved(mb) == ([(B, MEM_SIZE)], 1, MEM_SIZE)


def test_H05_alloc_from_top_down_no_space_above_check():
    mb = setup_memblock()
    mb.reserve(E - 64, 2)
    assert mb.alloc_from(64, 32, E - 64) == E - 128
    assert reserved(mb) == ([(E - 128, 66)], 1, 66)


# -- alloc_nid_api.c (NUMA_NO_NODE) --------------------------------------------------------


@pytest.mark.parametrize(
    "case, bottom_up, reserves, size, lo, hi, expected",
    [
        ("N01_top_down_simple", False, [], 128, B + 64, B + 576, [(B + 448, 128)]),
        ("N02_top_down_end_misaligned", False, [], 128, B + 64, B + 578, [(B + 448, 128)]),
        ("N03_exact_address_TD", False, [], 1024, B + 32, B + 1056, [(B + 32, 1024)]),
        ("N03_exact_address_BU", True, [], 1024, B + 32, B + 1056, [(B + 32, 1024)]),
        ("N04_top_down_narrow_range", False, [], 256, B + 512, B + 544, [(B + 288, 256)]),
        ("N06_min_reserved_TD", False, [(E - 192, 128)], 64, E - 64, E, [(E - 192, 192)]),
        ("N06_min_reserved_BU", True, [(E - 192, 128)], 64, E - 64, E, [(E - 192, 192)]),
        ("N07_max_reserved_TD", False, [(E - 64, 64)], 128, E - 192, E - 64, [(E - 192, 192)]),
        ("N07_max_reserved_BU", True, [(E - 64, 64)], 128, E - 192, E - 64, [(E - 192, 192)]),
        ("N08_top_down_reserved_with_space", False, [(E - 64, 32), (E - 288, 128)], 64, E - 160, E - 64, [(E - 288, 128), (E - 128, 96)]),
        ("N09_reserved_full_merge_TD", False, [(E - 64, 32), (E - 256, 128)], 64, E - 128, E - 64, [(E - 256, 224)]),
        ("N09_reserved_full_merge_BU", True, [(E - 64, 32), (E - 256, 128)], 64, E - 128, E - 64, [(E - 256, 224)]),
        ("N10_top_down_reserved_no_space", False, [(E - 64, 32), (E - 224, 128)], 256, E - 96, E - 64, [(E - 480, 384), (E - 64, 32)]),
        ("N12_top_down_cap_max", False, [], 256, E - 1024, E + 256, [(E - 256, 256)]),
    ],
)
def test_memblock_alloc_try_nid(case, bottom_up, reserves, size, lo, hi, expected):
    mb = setup_memblock(bottom_up)
    for b, s in reserves:
        mb.reserve(b, s)
    assert mb.alloc_try_nid(size, 32, lo, hi, NUMA_NO_NODE)
    assert reserved(mb) == (expected, len(expected), sum(s for _, s in expected))


@BOTH
def test_N05_alloc_try_nid_low_max_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    assert mb.alloc_try_nid(1024, 32, B, B + 32, NUMA_NO_NODE) == 0


@BOTH
def test_N11_alloc_try_nid_reserved_all_generic_check(bottom_up):
    mb = setup_memblock(bottom_up)
    mb.reserve(E - 32, 32)
    mb.reserve(B, MEM_SIZE - 64)
    assert mb.alloc_try_nid(256, 32, E - 64, E - 32, NUMA_NO_NODE) == 0


# -- derived from mm/memblock.c [D] --------------------------------------------------------


def test_D01_size_capped_to_phys_addr_max():
    mb = fresh()
    mb.add(PHYS_ADDR_MAX - M, 2 * M)
    assert mb.memory.ranges() == [((1 << 64) - 1 - M, M)] and mb.memory.total_size == M


def test_D02_adjacent_regions_merge():
    mb = fresh()
    mb.add(0, 4 * K)
    mb.add(4 * K, 4 * K)
    assert mb.memory.ranges() == [(0, 8 * K)]


def test_D03_different_nid_does_not_merge():
    mb = fresh()
    mb.add_node(0, 4 * K, 0)
    mb.add_node(4 * K, 4 * K, 1)
    assert [(r.base, r.size, r.nid) for r in mb.memory] == [(0, 4 * K, 0), (4 * K, 4 * K, 1)]


def test_D04_setclr_flag_isolates_then_merges():
    mb = fresh()
    mb.add(0, 8 * K)
    mb.mark_hotplug(4 * K, 4 * K)
    assert [(r.base, r.size, r.flags) for r in mb.memory] == [(0, 4 * K, 0), (4 * K, 4 * K, 1)]
    mb.clear_hotplug(4 * K, 4 * K)
    assert mb.memory.ranges() == [(0, 8 * K)]


def test_D05_overlapping_add_keeps_existing_and_inserts_tail_with_new_flags():
    mb = fresh()
    mb.add(M, 8 * K)
    mb.add_node(M + 4 * K, 8 * K, mb.max_numnodes, MEMBLOCK_HOTPLUG)
    assert [(r.base, r.size, r.flags) for r in mb.memory] == [(M, 8 * K, 0), (M + 8 * K, 4 * K, 1)]


def test_D06_accessible_end_is_pumped_to_current_limit():
    mb = setup_memblock()
    mb.set_current_limit(B + 0x1000)
    assert mb.alloc(64, 32) == B + 0xFC0


def test_D07_first_page_is_never_returned():
    mb = fresh()
    mb.add(0, 0x8000)
    mb.bottom_up = True
    assert mb.phys_alloc_range(64, 32, 0, 0x8000) == 0x1000


def test_D08_too_large_request_fails_without_side_effects():
    mb = setup_memblock()
    assert mb.phys_alloc_range(0x10000, 32, B, E) == 0
    assert mb.reserved.total_size == 0 and mb.reserved.cnt == 1


def test_D09_emptied_type_gets_its_dummy_region_back():
    mb = fresh()
    mb.reserve(B, 32)
    mb.phys_free(B, 32)
    r = mb.reserved.regions[0]
    assert (mb.reserved.cnt, r.base, r.size, mb.reserved.total_size) == (1, 0, 0, 0)


def test_D10_free_is_memory_minus_reserved():
    mb = fresh()
    mb.add(0x1000, 0x9E000)
    mb.add(0x100000, 0x7FF00000)
    mb.reserve(0x1000, 0xFF000)
    assert [(s, e) for s, e, _ in mb.free_ranges()] == [(0x100000, 0x80000000)]


def test_array_full_without_resize_is_an_error_and_doubles_when_allowed():
    mb = fresh()
    mb.add(0, 1 << 40)
    for i in range(128):
        mb.reserve(0x100000 + i * 0x2000, 0x1000)
    with pytest.raises(MemblockError, match="cannot resize reserved"):
        mb.reserve(0x10000000, 0x1000)
    mb.allow_resize()
    mb.reserve(0x10000000, 0x1000)
    # the new 256-entry array (6144 bytes, page aligned to 8 KiB) was found
    # top-down and reserved itself
    assert mb.reserved.max == 256
    assert mb.reserved.array_base == (1 << 40) - 0x2000
    assert ((1 << 40) - 0x2000, 0x2000) in mb.reserved.ranges()
    mb.check_invariants()


# -- properties ----------------------------------------------------------------------------

ops = st.lists(
    st.tuples(st.sampled_from(["add", "reserve", "remove", "free", "alloc"]), st.integers(0, 63), st.integers(1, 16)),
    max_size=40,
)


@given(ops, st.booleans())
def test_invariants_hold_and_free_is_memory_minus_reserved(sequence, bottom_up):
    mb = fresh()
    mb.bottom_up = bottom_up
    mem, res = set(), set()
    for op, a, n in sequence:
        base, size = a * 0x1000, n * 0x1000
        pages = set(range(a, a + n))
        if op == "add":
            mb.add(base, size)
            mem |= pages
        elif op == "reserve":
            mb.reserve(base, size)
            res |= pages
        elif op == "remove":
            mb.remove(base, size)
            mem -= pages
        elif op == "free":
            mb.phys_free(base, size)
            res -= pages
        else:
            got = mb.alloc(size, 0x1000)
            if got:
                new = set(range(got // 0x1000, got // 0x1000 + n))
                assert new <= mem - res, "allocated memory that was not free"
                assert got >= 0x1000
                res |= new
            else:
                free = sorted(p for p in mem - res if p >= 1)
                runs = 0
                best = 0
                prev = None
                for p in free:
                    runs = runs + 1 if prev is not None and p == prev + 1 else 1
                    best = max(best, runs)
                    prev = p
                assert best < n, "a free run was big enough but alloc failed"
        mb.check_invariants()
        free_pages = {p for s, e, _ in mb.free_ranges() for p in range(s // 0x1000, e // 0x1000)}
        assert free_pages == mem - res
        assert mb.memory.total_size == len(mem) * 0x1000
