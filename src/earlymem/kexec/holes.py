"""kexec-tools' segment placement: ``add_buffer()``, ``locate_hole()`` and
``valid_memory_range()`` (kexec/kexec.c), for the releases earlymem models.

The free list is the RAM ranges minus the segments placed so far (merged in
address order, with two quirks kept: a segment below the current range start
still moves it, and a one-byte leftover is dropped).  Each free range is
clipped to [mem_min, mem_max] and to the buffer's [min, max]; the lowest fit
(``end > 0``) or the highest fit (``end < 0``) wins.  Ends are inclusive.

Two arithmetic generations:

* 2.0.2 (2010): fits if ``end - start >= size``; the highest fit is
  ``(end - size) & ~(align - 1)``, one page lower than the region allows.
* 2.0.3 and later, read in 2.0.25: fits if ``end - start >= size - 1``
  (or size 0); the highest fit is ``ALIGN_DOWN(end - size + 1, align)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.lib.errors import InputError
from earlymem.lib.x86_64 import PAGE

__all__ = ["HoleFinder", "KexecLoadError", "Segment", "PAGE", "ULONG_MAX"]

ULONG_MAX = (1 << 64) - 1


class KexecLoadError(InputError):
    """kexec-tools would die (or fail the load) with this message."""


@dataclass(frozen=True)
class Segment:
    """One segment in load order: ``memsz`` bytes at ``mem`` (``bufsz`` of them from the buffer)."""

    name: str
    mem: int
    memsz: int
    bufsz: int

    @property
    def end(self) -> int:
        return self.mem + self.memsz


class HoleFinder:
    """The ``kexec_info`` of one load: RAM ranges, limits and the segments so far.

    :param ram: RAM ranges with inclusive ends, in address order.
    :param modern: 2.0.3+ arithmetic (see the module text); False for 2.0.2.
    """

    def __init__(self, ram: list[tuple[int, int]], mem_min: int = 0, mem_max: int = ULONG_MAX, *, modern: bool = True) -> None:
        self.ram = sorted(ram)
        self.mem_min, self.mem_max = mem_min, mem_max
        self.modern = modern
        self.segments: list[Segment] = []

    def locate_hole(self, size: int, align: int, hmin: int, hmax: int, end: int) -> int | None:
        align = max(align, PAGE)
        segs = sorted(self.segments, key=lambda s: s.mem)  # sort_segments()
        free: list[tuple[int, int]] = []
        j = 0
        for ms, me in self.ram:
            while j < len(segs) and segs[j].mem <= me:
                if ms < segs[j].mem:
                    free.append((ms, segs[j].mem - 1))
                ms = segs[j].mem + segs[j].memsz
                j += 1
            if ms < me:
                free.append((ms, me))
        base = None
        for s, e in free:
            s = max(s, self.mem_min, hmin)
            s = -(-s // align) * align
            e = min(e, self.mem_max, hmax)
            if s >= e or s >= self.mem_max or e <= self.mem_min:
                continue
            fits = (not size or e - s >= size - 1) if self.modern else e - s >= size
            if fits:
                if end > 0:
                    return s
                base = ((e - size + 1) if self.modern else (e - size)) // align * align
        return base

    def valid(self, s: int, e: int) -> bool:
        """``valid_memory_range()``: inside one RAM range (merged with a next one
        only when ``end == next.start`` -- inclusive ends make that rare)."""
        if s > e or e > self.mem_max or s < self.mem_min:
            return False
        for i, (ms, me) in enumerate(self.ram):
            if i + 1 < len(self.ram) and me == self.ram[i + 1][0]:
                me = self.ram[i + 1][1]
            if ms <= s and me >= e:
                return True
        return False

    def add_buffer(self, name: str, bufsz: int, memsz: int, align: int, hmin: int, hmax: int, end: int) -> Segment:
        """``add_buffer()``: memsz page-rounded, a hole found, the segment appended."""
        memsz = -(-memsz // PAGE) * PAGE
        base = self.locate_hole(memsz, align, hmin, hmax, end)
        if base is None:
            raise KexecLoadError(f"Could not find a free area of memory of 0x{memsz:x} bytes... locate_hole failed ({name})", field=name)
        if memsz and base + memsz - 1 > hmax:
            raise KexecLoadError(f"Could not find a free area of memory below: 0x{hmax:x}... locate_hole failed ({name})", field=name)
        if not self.valid(base, base + memsz - 1):
            raise KexecLoadError(f"Invalid memory segment {base:#x} - {base + memsz - 1:#x} ({name})", field=name)
        seg = Segment(name, base, memsz, min(bufsz, memsz))
        self.segments.append(seg)
        return seg
