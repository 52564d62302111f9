"""Sizes: the kernel's ``memparse`` rules, and printing sizes for people.

``memparse`` (lib/cmdline.c) reads an unsigned number with C base detection
(``0x`` hex, leading ``0`` octal, else decimal; lib/kstrtox.c
``_parse_integer_fixup_radix``) followed by an optional binary suffix.  The
kernel wraps silently on 64-bit overflow; earlymem refuses such values instead
(:class:`~earlymem.lib.errors.InputError`), because a wrapped size is never what a
user meant.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.lib.errors import InputError

__all__ = [
    "U64_MAX",
    "PAGE_SIZE",
    "PAGE_SHIFT",
    "SUFFIX_SHIFTS",
    "parse_integer",
    "memparse",
    "parse_size",
    "format_size",
    "MemparseResult",
]

U64_MAX = (1 << 64) - 1
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

#: Suffix letters and the shift each applies (lib/cmdline.c memparse).  Eras
#: that know fewer letters say so in their profile (``e820.memparse_suffixes``).
SUFFIX_SHIFTS = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}

_DIGITS = "0123456789abcdef"


@dataclass(frozen=True, slots=True)
class MemparseResult:
    """A number read by :func:`memparse`.

    :param value: the value in bytes (or the plain number, without a suffix).
    :param end: index in the input just after what was consumed.
    """

    value: int
    end: int


def parse_integer(text: str, pos: int = 0, base: int = 0) -> MemparseResult:
    """Read an unsigned integer the way ``simple_strtoull(s, &end, base)`` does.

    With ``base == 0`` the radix comes from the prefix: ``0x``/``0X`` followed
    by a hex digit selects 16, a leading ``0`` selects 8, otherwise 10.  When no
    digit follows, ``end == pos`` (nothing consumed), as in the kernel.

    :raises InputError: if the number does not fit in 64 bits.
    """
    i = pos
    if base in (0, 16) and text[i : i + 2].lower() == "0x" and i + 2 < len(text) and text[i + 2].lower() in _DIGITS:
        base, i = 16, i + 2
    elif base == 0:
        base = 8 if text[i : i + 1] == "0" else 10
    value = 0
    start = i
    while i < len(text):
        d = _DIGITS.find(text[i].lower())
        if d < 0 or d >= base:
            break
        value = value * base + d
        i += 1
    if i == start:
        return MemparseResult(0, pos)
    if value > U64_MAX:
        raise InputError(f"number {text[pos:i]!r} does not fit in 64 bits")
    return MemparseResult(value, i)


def memparse(text: str, pos: int = 0, suffixes: str = "KMGTPE") -> MemparseResult:
    """Parse a size as the kernel's ``memparse`` does.

    :param text: the string (e.g. a command-line value).
    :param pos: where to start.
    :param suffixes: the suffix letters this kernel era understands.
    :return: the value in bytes and the index after the number and its suffix.
    :raises InputError: if the value does not fit in 64 bits.
    """
    number = parse_integer(text, pos)
    if number.end == pos:
        return number
    value, end = number.value, number.end
    if end < len(text) and text[end].upper() in suffixes.upper():
        value <<= SUFFIX_SHIFTS[text[end].upper()]
        end += 1
    if value > U64_MAX:
        raise InputError(f"size {text[pos:end]!r} does not fit in 64 bits")
    return MemparseResult(value, end)


def parse_size(text: str, *, what: str = "size") -> int:
    """Parse a whole string as a size with memparse rules (``4G``, ``0x1000``).

    Unlike :func:`memparse`, the entire string must be consumed.

    :raises InputError: on anything that is not exactly one size.
    """
    s = text.strip()
    result = memparse(s)
    if result.end == 0 or result.end != len(s):
        raise InputError(f"{what} {text!r} is not a size (expected e.g. 4G, 512M, 0x1000)")
    return result.value


def format_size(nbytes: int) -> str:
    """Format a byte count for people: the largest binary unit that divides it.

    >>> format_size(4 << 30)
    '4 GiB'
    >>> format_size(0x9fc00)
    '639 KiB'
    """
    for unit, shift in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            if nbytes % (1 << shift) == 0:
                return f"{nbytes >> shift} {unit}"
            return f"{nbytes / (1 << shift):.2f} {unit}"
    return f"{nbytes} B"
