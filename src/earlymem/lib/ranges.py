"""Physical address ranges and sets of them.

Every later layer (e820, memblock, zones, the page ledger) speaks in half-open
ranges ``[start, end)`` of physical addresses, so that cost grows with the
number of regions rather than with bytes of RAM (DESIGN.md, principle 2).

A :class:`RangeSet` is kept sorted, with no two ranges overlapping or
touching: adjacent ranges are merged on insertion.  All operations return new
sets; a set is never mutated after construction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterable, Iterator

__all__ = ["Range", "RangeSet"]


@dataclass(frozen=True, slots=True, order=True)
class Range:
    """Half-open physical range ``[start, end)``.

    :param start: first byte (physical address).
    :param end: one past the last byte; ``end >= start``.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid range [{self.start:#x}, {self.end:#x})")

    @classmethod
    def from_inclusive(cls, first: int, last: int) -> "Range":
        """Build from an inclusive ``[first, last]`` pair, as the kernel prints."""
        return cls(first, last + 1)

    @classmethod
    def sized(cls, start: int, size: int) -> "Range":
        """Build from a start address and a size in bytes."""
        return cls(start, start + size)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.end - self.start

    @property
    def last(self) -> int:
        """Last byte (inclusive end), as printed by ``[mem %#x-%#x]``."""
        return self.end - 1

    def __bool__(self) -> bool:
        return self.end > self.start

    def __contains__(self, addr: object) -> bool:
        return isinstance(addr, int) and self.start <= addr < self.end

    def pfns(self) -> "Range":
        """The page frames (4 KiB) a byte range touches: ``[start >> 12, PFN_UP(end))``."""
        return Range(self.start >> 12, -(-self.end >> 12))

    def overlaps(self, other: "Range") -> bool:
        """True if the two ranges share at least one byte."""
        return self.start < other.end and other.start < self.end

    def intersect(self, other: "Range") -> "Range | None":
        """The common part, or None if they do not overlap."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Range(start, end) if start < end else None

    def __repr__(self) -> str:
        return f"Range({self.start:#x}, {self.end:#x})"


class RangeSet:
    """An immutable set of physical addresses held as sorted disjoint ranges.

    :param ranges: any ranges; overlapping and adjacent ones are merged and
        empty ones dropped.
    """

    __slots__ = ("_starts", "_ends")

    def __init__(self, ranges: Iterable[Range] = ()) -> None:
        merged: list[list[int]] = []
        for r in sorted(r for r in ranges if r):
            if merged and r.start <= merged[-1][1]:
                if r.end > merged[-1][1]:
                    merged[-1][1] = r.end
            else:
                merged.append([r.start, r.end])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    @classmethod
    def _raw(cls, starts: list[int], ends: list[int]) -> "RangeSet":
        obj = cls.__new__(cls)
        obj._starts, obj._ends = starts, ends
        return obj

    def __iter__(self) -> Iterator[Range]:
        return (Range(s, e) for s, e in zip(self._starts, self._ends))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self._starts == other._starts and self._ends == other._ends

    def __hash__(self) -> int:
        return hash((tuple(self._starts), tuple(self._ends)))

    def __repr__(self) -> str:
        return "RangeSet([" + ", ".join(repr(r) for r in self) + "])"

    @property
    def total(self) -> int:
        """Number of bytes in the set."""
        return sum(e - s for s, e in zip(self._starts, self._ends))

    @property
    def span(self) -> Range | None:
        """The smallest range covering the set, or None if empty."""
        return Range(self._starts[0], self._ends[-1]) if self._starts else None

    def __contains__(self, addr: object) -> bool:
        if not isinstance(addr, int):
            return False
        i = bisect_right(self._starts, addr) - 1
        return i >= 0 and addr < self._ends[i]

    def covers(self, r: Range) -> bool:
        """True if every byte of ``r`` is in the set."""
        if not r:
            return True
        i = bisect_right(self._starts, r.start) - 1
        return i >= 0 and r.end <= self._ends[i]

    def overlapping(self, r: Range) -> Iterator[Range]:
        """The parts of the set that fall inside ``r``, in address order."""
        i = max(bisect_right(self._ends, r.start), 0)
        while i < len(self._starts) and self._starts[i] < r.end:
            yield Range(max(self._starts[i], r.start), min(self._ends[i], r.end))
            i += 1

    def union(self, other: "RangeSet | Iterable[Range]") -> "RangeSet":
        """All addresses in either set."""
        return RangeSet([*self, *other])

    def intersect(self, other: "RangeSet | Iterable[Range]") -> "RangeSet":
        """Addresses in both sets."""
        other = other if isinstance(other, RangeSet) else RangeSet(other)
        out: list[Range] = []
        for r in other:
            out.extend(self.overlapping(r))
        return RangeSet(out)

    def subtract(self, other: "RangeSet | Iterable[Range]") -> "RangeSet":
        """Addresses in this set and not in ``other``."""
        other = other if isinstance(other, RangeSet) else RangeSet(other)
        starts: list[int] = []
        ends: list[int] = []
        for s, e in zip(self._starts, self._ends):
            cur = s
            j = bisect_right(other._ends, s)
            while j < len(other._starts) and other._starts[j] < e:
                if other._starts[j] > cur:
                    starts.append(cur)
                    ends.append(other._starts[j])
                cur = max(cur, other._ends[j])
                j += 1
            if cur < e:
                starts.append(cur)
                ends.append(e)
        return RangeSet._raw(starts, ends)

    def gaps(self, within: Range | None = None) -> Iterator[Range]:
        """The holes between ranges, optionally limited to ``within``.

        Without ``within`` only the holes between the first and the last range
        are given; with it, the holes at either end of ``within`` too.
        """
        if within is None:
            for i in range(1, len(self._starts)):
                yield Range(self._ends[i - 1], self._starts[i])
            return
        cur = within.start
        for r in self.overlapping(within):
            if r.start > cur:
                yield Range(cur, r.start)
            cur = r.end
        if cur < within.end:
            yield Range(cur, within.end)

    def index_of(self, addr: int) -> int:
        """Index of the range containing ``addr``, or -1."""
        i = bisect_left(self._ends, addr + 1)
        return i if i < len(self._starts) and self._starts[i] <= addr else -1
