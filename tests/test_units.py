"""memparse() as lib/cmdline.c has it, and sizes printed for people."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earlymem.lib.errors import InputError
from earlymem.lib.units import U64_MAX, format_size, memparse, parse_integer, parse_size


@pytest.mark.parametrize(
    "text, value, end",
    [
        ("4096", 4096, 4),
        ("0x1000", 0x1000, 6),
        ("0X1f", 0x1F, 4),
        ("010", 8, 3),  # leading 0: octal, as simple_strtoull(base 0)
        ("0", 0, 1),
        ("0x", 0, 1),  # "0x" without a hex digit: the 0 is read, x is not
        ("08", 0, 1),  # 8 is not an octal digit
        ("12abc", 12, 2),
    ],
)
def test_parse_integer_base_detection(text, value, end):
    r = parse_integer(text)
    assert (r.value, r.end) == (value, end)


@pytest.mark.parametrize(
    "text, value",
    [
        ("512M", 512 << 20),
        ("512m", 512 << 20),
        ("4G", 4 << 30),
        ("640K", 640 << 10),
        ("1T", 1 << 40),
        ("2P", 2 << 50),
        ("1E", 1 << 60),
        ("0x120000000", 0x120000000),
        ("0x1000K", 0x1000 << 10),
        ("077000000", 0o77000000),
    ],
)
def test_memparse_suffixes(text, value):
    assert memparse(text).value == value
    assert memparse(text).end == len(text)


def test_memparse_stops_after_suffix():
    r = memparse("512M$0x120000000")
    assert (r.value, r.end) == (512 << 20, 4)


def test_memparse_era_without_terabytes_leaves_suffix_unread():
    # 2.6.2x lib/cmdline.c knows only K, M and G.
    r = memparse("1T", suffixes="KMG")
    assert (r.value, r.end) == (1, 1)


def test_memparse_no_digits_consumes_nothing():
    assert memparse("exactmap").end == 0


def test_memparse_refuses_64bit_overflow():
    with pytest.raises(InputError, match="64 bits"):
        memparse("16E")
    with pytest.raises(InputError, match="64 bits"):
        memparse("0x1" + "0" * 16)
    assert memparse("15E").value == 15 << 60
    assert memparse(str(U64_MAX)).value == U64_MAX


def test_parse_size_requires_whole_string():
    assert parse_size("4G") == 4 << 30
    for bad in ("", "4Gx", "G", "4 G", "-1"):
        with pytest.raises(InputError):
            parse_size(bad)


@given(st.integers(min_value=0, max_value=(1 << 44) - 1), st.sampled_from(["", "K", "M", "G", "T", "k", "m", "g"]), st.sampled_from(["dec", "hex", "oct"]))
def test_memparse_round_trip(n, suffix, base):
    text = {"dec": str(n), "hex": hex(n), "oct": "0" + oct(n)[2:]}[base] + suffix
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[suffix.upper()]
    expected = n << shift
    if expected > U64_MAX:
        with pytest.raises(InputError):
            memparse(text)
    else:
        r = memparse(text)
        assert r.value == expected
        assert r.end == len(text)


@given(st.integers(min_value=1, max_value=U64_MAX))
def test_format_size_round_trips_when_exact(n):
    s = format_size(n)
    if "." not in s:
        num, unit = s.split()
        shift = {"B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40, "PiB": 50, "EiB": 60}[unit]
        assert int(num) << shift == n
