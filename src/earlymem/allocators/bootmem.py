"""The bootmem allocator of 2.6.2x kernels (mm/bootmem.c, read in its 2.6.24 copy).

One ``bootmem_data`` per node: the node's first physical address, its end PFN
(exclusive) and a bitmap with one bit per page, **1 = reserved or allocated,
0 = free**.  The bitmap is held as the kernel held it: a ``bytearray`` of
``ceil(pages / 8)`` bytes (bit ``i`` of byte ``i >> 3`` is page ``i``, the
layout of x86's ``test_bit`` on unsigned longs).

What matters for the 2011 report and is kept exact:

* ``init_bootmem_node()`` sets every bit (all reserved); the caller clears the
  RAM pages (``free_bootmem_with_active_regions``);
* ``reserve_bootmem_core()`` sets ``[PFN_DOWN(addr), PFN_UP(addr + size))``
  and, before 2.6.25, silently accepts pages already reserved;
  ``BOOTMEM_EXCLUSIVE`` (2.6.25) refuses with -EBUSY instead;
* ``free_bootmem_core()`` clears ``[PFN_UP(addr), PFN_DOWN(addr + size))``;
* ``__alloc_bootmem_core()`` is first fit over the bitmap from ``goal``,
  page-granular (sub-page packing is not modelled: every request here is
  page-sized or larger);
* ``free_all_bootmem_core()`` hands free pages to the page allocator word by
  word (64 free, aligned pages at once as an order-6 block, else one page at
  a time) and then **frees the bitmap's own pages unconditionally**.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BootmemNode", "FreedRun", "BootmemError", "BOOTMEM_DEFAULT", "BOOTMEM_EXCLUSIVE", "EBUSY"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
BITS_PER_LONG = 64
BOOTMEM_DEFAULT = 0
BOOTMEM_EXCLUSIVE = 1
EBUSY = 16


class BootmemError(Exception):
    """A condition the kernel BUG()s or panics on."""


@dataclass(frozen=True)
class FreedRun:
    """Pages ``[start_pfn, end_pfn)`` handed to the page allocator as blocks of ``order``.

    :param what: ``"free"`` (pages whose bit was clear) or ``"bitmap"`` (the
        bitmap's own pages, freed without looking at any reservation).
    """

    start_pfn: int
    end_pfn: int
    order: int
    what: str


_ANY_SET = re.compile(rb"[^\x00]")
_ANY_CLEAR = re.compile(rb"[^\xff]")


def _pfn_up(x: int) -> int:
    return (x + PAGE_SIZE - 1) >> PAGE_SHIFT


class BootmemNode:
    """``bootmem_data_t`` of one node after ``init_bootmem_node(pgdat, map, start, end)``.

    :param map_phys: physical address of the bitmap (where init put it).
    """

    def __init__(self, nid: int, map_phys: int, start_pfn: int, end_pfn: int) -> None:
        if end_pfn <= start_pfn:
            raise BootmemError(f"node {nid}: empty span")
        self.nid = nid
        self.node_boot_start = start_pfn << PAGE_SHIFT
        self.node_low_pfn = end_pfn
        self.map_phys = map_phys
        self.pages = end_pfn - start_pfn
        # init_bootmem_core(): memset(map, 0xff, mapsize) -- everything reserved
        self.bits = bytearray(b"\xff" * self.mapsize)
        self.last_success = self.node_boot_start

    # -- sizes -------------------------------------------------------------------------

    @property
    def mapsize(self) -> int:
        """``get_mapsize()``: ceil(pages / 8) rounded up to sizeof(long)."""
        return (((self.pages + 7) // 8) + 7) // 8 * 8

    @property
    def map_pages(self) -> int:
        """Pages the bitmap occupies (what free_all_bootmem_core frees at the end)."""
        return (self.mapsize + PAGE_SIZE - 1) >> PAGE_SHIFT

    @property
    def start_pfn(self) -> int:
        return self.node_boot_start >> PAGE_SHIFT

    # -- bitmap ------------------------------------------------------------------------

    def _fill(self, s: int, e: int, value: bool) -> None:
        """Set (value) or clear bits [s, e) (indices relative to the node start)."""
        if s >= e:
            return
        fill = 0xFF if value else 0x00
        while s < e and s & 7:
            self._bit(s, value)
            s += 1
        full_end = e & ~7
        if s < full_end:
            self.bits[s >> 3 : full_end >> 3] = bytes([fill]) * ((full_end - s) >> 3)
            s = full_end
        while s < e:
            self._bit(s, value)
            s += 1

    def _bit(self, i: int, value: bool) -> None:
        if value:
            self.bits[i >> 3] |= 1 << (i & 7)
        else:
            self.bits[i >> 3] &= ~(1 << (i & 7)) & 0xFF

    def test(self, pfn: int) -> bool:
        """Whether page ``pfn`` is reserved (its bit is set)."""
        i = pfn - self.start_pfn
        return bool(self.bits[i >> 3] >> (i & 7) & 1)

    def reserved_in(self, s_pfn: int, e_pfn: int) -> int:
        """How many pages of [s_pfn, e_pfn) have their bit set."""
        s = max(s_pfn, self.start_pfn) - self.start_pfn
        e = min(e_pfn, self.node_low_pfn) - self.start_pfn
        if s >= e:
            return 0
        chunk = int.from_bytes(self.bits[s >> 3 : (e + 7) >> 3], "little") >> (s & 7)
        return (chunk & ((1 << (e - s)) - 1)).bit_count()

    def _next(self, i: int, reserved: bool) -> int:
        """The first index >= ``i`` whose bit is set (``reserved``) or clear; ``pages`` if none
        (find_next_bit() / find_next_zero_bit() over the map)."""
        if i >= self.pages:
            return self.pages
        byte = self.bits[i >> 3] >> (i & 7)
        if reserved and byte:
            return min(i + ((byte & -byte).bit_length() - 1), self.pages)
        if not reserved and byte != (0xFF >> (i & 7)):
            inv = ~byte & (0xFF >> (i & 7))
            return min(i + ((inv & -inv).bit_length() - 1), self.pages)
        m = (_ANY_SET if reserved else _ANY_CLEAR).search(self.bits, (i >> 3) + 1)
        if m is None:
            return self.pages
        b = self.bits[m.start()] if reserved else ~self.bits[m.start()] & 0xFF
        return min((m.start() << 3) + (b & -b).bit_length() - 1, self.pages)

    # -- the API -----------------------------------------------------------------------

    def free_range(self, addr: int, size: int) -> None:
        """``free_bootmem_core()``: only whole pages become free."""
        s = max(_pfn_up(addr) - self.start_pfn, 0)
        e = min((addr + size) >> PAGE_SHIFT, self.node_low_pfn) - self.start_pfn
        if s < e and self.reserved_in(s + self.start_pfn, e + self.start_pfn) != e - s:
            raise BootmemError(f"node {self.nid}: freeing a free page in [{(s + self.start_pfn):#x}, {(e + self.start_pfn):#x})")
        self._fill(s, e, False)

    def release_free(self, addr: int, size: int) -> None:
        """``free_bootmem_with_active_regions()`` for one active range (no double-free check:
        the bitmap starts all-ones)."""
        s = max(_pfn_up(addr), self.start_pfn) - self.start_pfn
        e = min((addr + size) >> PAGE_SHIFT, self.node_low_pfn) - self.start_pfn
        self._fill(s, e, False)

    def reserve(self, addr: int, size: int, flags: int = BOOTMEM_DEFAULT) -> tuple[int, int]:
        """``reserve_bootmem_core()`` (with 2.6.25's ``can_reserve_bootmem_core()`` for
        ``BOOTMEM_EXCLUSIVE``).

        :return: ``(error, pages_already_reserved)``; error is -EBUSY or 0.
        :raises BootmemError: where the kernel BUG()s (size 0, outside the node).
        """
        if not size:
            raise BootmemError("reserve_bootmem_core: size 0")
        if (addr >> PAGE_SHIFT) >= self.node_low_pfn:
            raise BootmemError(f"reserve_bootmem_core: {addr:#x} beyond node {self.nid}")
        if _pfn_up(addr + size) > self.node_low_pfn:
            raise BootmemError(f"reserve_bootmem_core: [{addr:#x}, +{size:#x}) runs past node {self.nid}")
        s = (addr >> PAGE_SHIFT) - self.start_pfn
        e = _pfn_up(addr + size) - self.start_pfn
        already = self.reserved_in(s + self.start_pfn, e + self.start_pfn)
        if already and flags & BOOTMEM_EXCLUSIVE:
            return -EBUSY, already
        self._fill(s, e, True)
        return 0, already

    def alloc(self, size: int, align: int, goal: int, limit: int = 0) -> int | None:
        """``__alloc_bootmem_core()``: first fit from ``goal`` (else from the node start).

        :return: the physical address, or None.
        """
        align_pages = max(1, align >> PAGE_SHIFT)
        areasize = _pfn_up(size)
        eidx = self.pages
        if limit and (limit >> PAGE_SHIFT) - self.start_pfn < eidx:
            eidx = (limit >> PAGE_SHIFT) - self.start_pfn
        start = 0
        if goal and self.node_boot_start <= goal < (self.node_low_pfn << PAGE_SHIFT):
            start = (goal >> PAGE_SHIFT) - self.start_pfn
        for first in ([start, 0] if start else [0]):
            i = first
            while i < eidx:
                # i = ALIGN(find_next_zero_bit(map, eidx, i), incr)
                i = -(-self._next(i, False) // align_pages) * align_pages
                if i >= eidx:
                    break
                if self._test_idx(i):
                    i += align_pages
                    continue
                # the area's pages must all be clear; the scan fails at the
                # first set bit or at eidx
                j = min(self._next(i + 1, True), eidx)
                if j >= i + areasize:
                    self._fill(i, i + areasize, True)
                    return (i + self.start_pfn) << PAGE_SHIFT
                # fail_block: i = ALIGN(j, incr), then the loop's i += incr --
                # with incr > 1 an aligned start just after j is skipped, as in the kernel
                i = -(-j // align_pages) * align_pages + align_pages
        return None

    def _test_idx(self, i: int) -> bool:
        return bool((self.bits[i >> 3] >> (i & 7)) & 1)

    def free_all(self) -> list[FreedRun]:
        """``free_all_bootmem_core()``: the pages handed to the page allocator, in order.

        Consecutive frees of the same order are merged into one run.
        """
        runs: list[FreedRun] = []

        def add(s: int, e: int, order: int, what: str) -> None:
            if runs and runs[-1].end_pfn == s and runs[-1].order == order and runs[-1].what == what:
                runs[-1] = FreedRun(runs[-1].start_pfn, e, order, what)
            else:
                runs.append(FreedRun(s, e, order, what))

        pfn = self.start_pfn
        idx = self.pages
        nbs = self.node_boot_start
        gofast = nbs == 0 or ((nbs & -nbs).bit_length() - PAGE_SHIFT) > BITS_PER_LONG.bit_length()
        words = bytes(self.bits + b"\xff" * (-len(self.bits) % 8))
        nwords = -(-idx // BITS_PER_LONG)
        w = 0
        while w < nwords:
            # whole words of free pages up to the next byte with a reserved bit:
            # order-6 frees on the fast path, single pages otherwise
            m = _ANY_SET.search(words, w << 3)
            stop = min(nwords, (m.start() >> 3) if m else nwords)
            if stop > w:
                s, e = pfn + (w << 6), pfn + (stop << 6)
                add(s, e, 6 if gofast else 0, "free")
                w = stop
                continue
            word = int.from_bytes(words[w << 3 : (w << 3) + 8], "little")
            v = ~word & ((1 << 64) - 1)
            if v == 0:
                m = _ANY_CLEAR.search(words, (w + 1) << 3)
                w = min(nwords, (m.start() >> 3) if m else nwords)
                continue
            base = pfn + (w << 6)
            for m_ in range(min(BITS_PER_LONG, idx - (w << 6))):
                if v >> m_ & 1:
                    add(base + m_, base + m_ + 1, 0, "free")
            w += 1
        # "Now free the allocator bitmap itself, it's not needed anymore"
        first = self.map_phys >> PAGE_SHIFT
        add(first, first + self.map_pages, 0, "bitmap")
        self.bits = bytearray()
        return runs
