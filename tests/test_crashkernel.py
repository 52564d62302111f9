"""crashkernel= parsing as kernel/crash_core.c (crash_reserve.c) does it."""

import pytest

from earlymem.phases.crashkernel import parse_crashkernel
from earlymem.kernels import profile_for

RAM = 4095 << 20
P61, P612 = profile_for("6.1"), profile_for("6.12")


def parse(cmd, profile=P61):
    return parse_crashkernel(cmd, RAM, profile)


def test_no_crashkernel_is_none():
    assert parse("console=ttyS0 nokaslr") is None


def test_last_unsuffixed_occurrence_wins():
    r = parse("crashkernel=128M crashkernel=320M,high crashkernel=256M quiet")
    assert (r.size, r.fixed, r.high) == (256 << 20, False, False)


def test_fixed_base():
    r = parse("crashkernel=128M@16M")
    assert (r.size, r.base, r.fixed) == (128 << 20, 16 << 20, True)


def test_high_with_and_without_low():
    r = parse("crashkernel=512M,high")
    assert (r.size, r.high, r.low_size) == (512 << 20, True, None)
    r = parse("crashkernel=512M,high crashkernel=64M,low")
    assert (r.size, r.high, r.low_size) == (512 << 20, True, 64 << 20)


def test_low_alone_is_ignored_without_a_word():
    assert parse("crashkernel=128M,low") is None


@pytest.mark.parametrize(
    "cmd, warning",
    [
        ("crashkernel=256Q", "crashkernel: unrecognized char: Q"),
        ("crashkernel=foo", "crashkernel: memory value expected"),
        ("crashkernel=512M,highx", "crashkernel: unrecognized char: ,"),  # not a known suffix: simple syntax
    ],
)
def test_warnings_are_the_kernels_texts(cmd, warning):
    r = parse(cmd)
    assert r.error and r.warnings == [warning]


def test_generic_code_refuses_sizes_not_below_system_ram():
    assert parse("crashkernel=4G", P612).error and not parse("crashkernel=4G", P612).warnings
    assert not parse("crashkernel=4G", P61).error


P510 = profile_for("5.10")


def test_range_list_rounding_is_per_era():
    # captures pc-4g-ckrange: 4095 MB of RAM gets 192M on 5.10 (no rounding)
    # and 256M on 6.1 (rounded up to 4096 MB, so "4G-" matches)
    assert parse("crashkernel=1G-4G:192M,4G-:256M", P510).size == 192 << 20
    assert parse("crashkernel=1G-4G:192M,4G-:256M", P61).size == 256 << 20


def test_range_list_with_offset_and_open_end():
    r = parse("crashkernel=512M-2G:64M,2G-:128M@16M")
    assert (r.size, r.base, r.fixed) == (128 << 20, 16 << 20, True)


def test_range_list_without_a_match_is_zero_bytes():
    r = parse("crashkernel=8G-16G:512M")
    assert r.size == 0 and not r.error and r.warnings == ["crashkernel size resulted in zero bytes"]


@pytest.mark.parametrize(
    "cmd, warning",
    [
        ("crashkernel=1G:128M", "crashkernel: '-' expected"),
        ("crashkernel=4G-1G:128M", "crashkernel: end <= start"),
        ("crashkernel=1G-x:128M", "crashkernel: Memory value expected"),
        ("crashkernel=1G-8G:x", "Memory value expected"),
        ("crashkernel=1G-8G:8G", "crashkernel: invalid size"),
        ("crashkernel=1G-8G:128M@x", "Memory value expected after '@'"),
    ],
)
def test_range_list_warnings(cmd, warning):
    r = parse(cmd)
    assert r.error and r.warnings == [warning]


def test_empty_or_zero_base_means_search():
    # found by the hold-out boots: crashkernel=256M@ is placed like crashkernel=256M
    r = parse("crashkernel=256M@")
    assert (r.size, r.base, r.fixed, r.error) == (256 << 20, 0, False, False)
    assert not parse("crashkernel=256M@0").fixed
