"""memblock: the boot-time memory allocator (mm/memblock.c; x86 since 2.6.37).

Data model (as the kernel's DOC comment describes it): two *types*,
``memory`` (all physical memory the kernel may use) and ``reserved`` (what is
allocated or set aside), each an array of *regions* ``{base, size, flags,
nid}`` kept sorted, non-overlapping, and with no two neighbours that could be
merged (adjacent, same nid, same flags).  "Free" memory is ``memory`` minus
``reserved``.  Allocations search free ranges top-down (the x86 default since
2.6.37) or bottom-up, and record themselves in ``reserved``.

The operations below follow the v5.x/v6.x code path by path, including its
quirks (``memblock_trim_memory`` does not lower ``total_size`` for shrunk
regions; an empty type keeps one zero-sized dummy region; the lower bound of
``memblock_alloc_try_nid`` is only a preference).  Era differences are
constructor parameters, chosen by the kernel profile:

* ``empty_dummy`` -- an empty type holds a dummy ``{0, 0}`` region with
  ``cnt == 1`` (true through v6.x; the newest code uses ``cnt == 0``);
* ``reserve_kern`` -- allocations are reserved with ``MEMBLOCK_RSRV_KERN`` and
  the request's nid (the newest kernels), so they do not merge with plain
  ``memblock_reserve()`` regions;
* ``smp_cache_bytes`` -- the default alignment (64 on x86_64; 32 in the
  kernel's own tools/testing/memblock harness).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterator

__all__ = [
    "PHYS_ADDR_MAX",
    "MEMBLOCK_ALLOC_ANYWHERE",
    "MEMBLOCK_ALLOC_ACCESSIBLE",
    "MEMBLOCK_ALLOC_NOLEAKTRACE",
    "NUMA_NO_NODE",
    "MEMBLOCK_NONE",
    "MEMBLOCK_HOTPLUG",
    "MEMBLOCK_MIRROR",
    "MEMBLOCK_NOMAP",
    "MEMBLOCK_DRIVER_MANAGED",
    "MEMBLOCK_RSRV_NOINIT",
    "MEMBLOCK_RSRV_KERN",
    "Region",
    "MemblockType",
    "Memblock",
    "MemblockError",
]

PHYS_ADDR_MAX = (1 << 64) - 1
#: errno ENOMEM: memblock_add_range() could not make room
ENOMEM = 12
MEMBLOCK_ALLOC_ANYWHERE = PHYS_ADDR_MAX
MEMBLOCK_ALLOC_ACCESSIBLE = 0
#: Named MEMBLOCK_ALLOC_KASAN in v5.x; both mean "up to current_limit".
MEMBLOCK_ALLOC_NOLEAKTRACE = 1
NUMA_NO_NODE = -1

MEMBLOCK_NONE = 0x0
MEMBLOCK_HOTPLUG = 0x1
MEMBLOCK_MIRROR = 0x2
MEMBLOCK_NOMAP = 0x4
MEMBLOCK_DRIVER_MANAGED = 0x8
MEMBLOCK_RSRV_NOINIT = 0x10
MEMBLOCK_RSRV_KERN = 0x20

#: sizeof(struct memblock_region) on x86_64 with CONFIG_NUMA: two u64, an
#: enum and an int.
REGION_BYTES = 24
PAGE_SIZE = 4096


class MemblockError(Exception):
    """Where the kernel would BUG() or panic (e.g. an array that cannot grow)."""


@dataclass(slots=True)
class Region:
    """``struct memblock_region``: ``size`` bytes at ``base`` (physical)."""

    base: int
    size: int
    flags: int = MEMBLOCK_NONE
    nid: int = 0

    @property
    def end(self) -> int:
        return self.base + self.size


class MemblockType:
    """``struct memblock_type``: a sorted region array with a capacity.

    :param name: ``memory`` or ``reserved``.
    :param max: capacity (INIT_MEMBLOCK_REGIONS = 128).
    """

    def __init__(self, name: str, max: int, owner: "Memblock") -> None:
        self.name = name
        self.max = max
        self.regions: list[Region] = []
        self.total_size = 0
        self._owner = owner
        #: Physical location of a dynamically allocated array (0: the static one).
        self.array_base = 0
        self._reset_empty()

    def _reset_empty(self) -> None:
        if self._owner.empty_dummy:
            self.regions = [Region(0, 0, MEMBLOCK_NONE, self._owner.max_numnodes)]
        else:
            self.regions = []

    @property
    def cnt(self) -> int:
        return len(self.regions)

    @property
    def is_empty(self) -> bool:
        return not self.regions or self.regions[0].size == 0

    def __iter__(self) -> Iterator[Region]:
        return iter(r for r in self.regions if r.size)

    def ranges(self) -> list[tuple[int, int]]:
        """``(base, size)`` of every real region, in array order."""
        return [(r.base, r.size) for r in self]


def _round_up(x: int, a: int) -> int:
    return -(-x // a) * a


def _round_down(x: int, a: int) -> int:
    return (x // a) * a


def _base(r: "Region") -> int:
    return r.base


class Memblock:
    """The global ``struct memblock``.

    Set ``Memblock.TRACE = True`` to have new instances keep :attr:`trace`.

    :param max_numnodes: MAX_NUMNODES (the nid of regions added without one).
    :param init_regions: INIT_MEMBLOCK_REGIONS.
    :param init_reserved_regions: INIT_MEMBLOCK_RESERVED_REGIONS.
    """

    TRACE = False

    def __init__(
        self,
        *,
        max_numnodes: int = 1 << 10,
        init_regions: int = 128,
        init_reserved_regions: int = 128,
        empty_dummy: bool = True,
        reserve_kern: bool = False,
        smp_cache_bytes: int = 64,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.max_numnodes = max_numnodes
        self.empty_dummy = empty_dummy
        self.reserve_kern = reserve_kern
        self.smp_cache_bytes = smp_cache_bytes
        self.page_size = page_size
        self.memory = MemblockType("memory", init_regions, self)
        self.reserved = MemblockType("reserved", init_reserved_regions, self)
        self.bottom_up = False
        self.current_limit = MEMBLOCK_ALLOC_ANYWHERE
        self.can_resize = False
        self.system_has_some_mirror = False
        self.movable_node = False
        #: Messages the kernel would print (warnings), in order.
        self.log: list[str] = []
        #: When a list: every reservation and free as ``("reserve"|"free", base, size)``,
        #: in call order -- what ``memblock=debug`` prints (see tools/memblock_trace.py).
        self.trace: list[tuple[str, int, int]] | None = [] if Memblock.TRACE else None

    # -- region array primitives ---------------------------------------------------------

    def _insert_region(self, type_: MemblockType, idx: int, base: int, size: int, nid: int, flags: int) -> None:
        """``memblock_insert_region()``."""
        if type_.cnt >= type_.max:
            raise MemblockError(f"BUG: {type_.name} array full ({type_.cnt} regions)")
        type_.regions.insert(idx, Region(base, size, flags, nid))
        type_.total_size += size

    def _remove_region(self, type_: MemblockType, idx: int) -> None:
        """``memblock_remove_region()``: an emptied type gets its dummy back."""
        type_.total_size -= type_.regions[idx].size
        del type_.regions[idx]
        if not type_.regions:
            type_._reset_empty()

    def _merge_regions(self, type_: MemblockType, start_rgn: int = 0, end_rgn: int | None = None) -> None:
        """``memblock_merge_regions()``: merge adjacent regions of equal nid and flags.

        With ``start_rgn``/``end_rgn`` only the pairs around the regions just
        inserted are looked at, as the kernel does since Peng Zhang's "memblock:
        Avoid useless checks in memblock_merge_regions()" (Jan 2023, v6.3
        [release unverified]); the same result as the older whole-array pass,
        since every operation leaves the array merged.
        """
        regs = type_.regions
        i = start_rgn - 1 if start_rgn else 0
        last = len(regs) - 1 if end_rgn is None else min(end_rgn, len(regs) - 1)
        while i < last:
            this, nxt = regs[i], regs[i + 1]
            if this.end != nxt.base or this.nid != nxt.nid or this.flags != nxt.flags:
                if this.end > nxt.base:
                    raise MemblockError(f"BUG: overlapping {type_.name} regions {this} {nxt}")
                i += 1
                continue
            this.size += nxt.size
            del regs[i + 1]
            last -= 1

    def _double_array(self, type_: MemblockType, new_area_start: int, new_area_size: int) -> bool:
        """``memblock_double_array()``: twice the capacity, in memory found with memblock.

        The new array is page aligned and reserved; a previous dynamic array
        is freed (the initial ones are static, in the kernel image).
        """
        if self.trace is not None:
            self.trace.append(("double", type_.cnt, type_.max))
        if not self.can_resize:
            raise MemblockError(f"memblock: cannot resize {type_.name} array")
        old_size = type_.max * REGION_BYTES
        new_size = old_size * 2
        old_alloc = _round_up(old_size, self.page_size)
        new_alloc = _round_up(new_size, self.page_size)
        if type_ is self.memory:
            new_area_start = new_area_size = 0
        addr = self.find_in_range(new_area_start + new_area_size, self.current_limit, new_alloc, self.page_size)
        if not addr and new_area_size:
            addr = self.find_in_range(0, min(new_area_start, self.current_limit), new_alloc, self.page_size)
        if not addr:
            # pr_err() and -1: the add or reserve that needed room fails with -ENOMEM and changes nothing
            self.log.append(f"memblock: Failed to double {type_.name} array from {type_.max} to {type_.max * 2} entries !")
            return False
        old_base = type_.array_base
        type_.max *= 2
        type_.array_base = addr
        if old_base:
            self.phys_free(old_base, old_alloc)
        self._reserve(addr, new_alloc, NUMA_NO_NODE if self.reserve_kern else self.max_numnodes, MEMBLOCK_RSRV_KERN if self.reserve_kern else MEMBLOCK_NONE)
        return True

    # -- adding -----------------------------------------------------------------------------

    def add_range(self, type_: MemblockType, base: int, size: int, nid: int, flags: int) -> int:
        """``memblock_add_range()``: add ``[base, base+size)``; existing regions are kept.

        Only the parts not already covered are inserted, with the new nid and
        flags; then neighbours merge.  :return: 0, or -ENOMEM when the array
        could not be doubled (nothing is added; the kernel's callers mostly ignore it).
        """
        size = min(size, PHYS_ADDR_MAX - base)
        obase, end = base, base + size
        if not size:
            return 0
        if type_.is_empty:
            if type_.total_size:
                self.log.append(f"WARNING: {type_.name}: empty array with total_size {type_.total_size}")
            type_.regions = [Region(base, size, flags, nid)]
            type_.total_size = size
            return 0
        insert = False
        # regions ending at or before base are skipped by the kernel's walk; bisect past them
        first = max(bisect_right(type_.regions, obase, key=_base) - 1, 0)
        while True:
            base = obase
            nr_new = 0
            idx = first
            start_rgn = end_rgn = -1
            while idx < len(type_.regions):
                rgn = type_.regions[idx]
                rbase, rend = rgn.base, rgn.end
                if rbase >= end:
                    break
                if rend <= base:
                    idx += 1
                    continue
                if rbase > base:
                    nr_new += 1
                    if insert:
                        if start_rgn < 0:
                            start_rgn = idx
                        end_rgn = idx + 1
                        self._insert_region(type_, idx, base, rbase - base, nid, flags)
                        idx += 1
                base = min(rend, end)
                idx += 1
            if base < end:
                nr_new += 1
                if insert:
                    if start_rgn < 0:
                        start_rgn = idx
                    end_rgn = idx + 1
                    self._insert_region(type_, idx, base, end - base, nid, flags)
            if not nr_new:
                return 0
            if not insert:
                while type_.cnt + nr_new > type_.max:
                    if not self._double_array(type_, obase, size):
                        return -ENOMEM
                insert = True
                first = max(bisect_right(type_.regions, obase, key=_base) - 1, 0)  # (doubling may have reserved below)
                continue
            self._merge_regions(type_, start_rgn, end_rgn)
            return 0

    def add_node(self, base: int, size: int, nid: int, flags: int = MEMBLOCK_NONE) -> int:
        """``memblock_add_node()`` (the flags argument exists since v5.16)."""
        return self.add_range(self.memory, base, size, nid, flags)

    def add(self, base: int, size: int) -> int:
        """``memblock_add()``: memory with nid MAX_NUMNODES."""
        return self.add_range(self.memory, base, size, self.max_numnodes, MEMBLOCK_NONE)

    def _reserve(self, base: int, size: int, nid: int, flags: int) -> int:
        if self.trace is not None:
            self.trace.append(("reserve", base, size))
        rc = self.add_range(self.reserved, base, size, nid, flags)
        if self.trace is not None:
            self.trace.append(("count", self.reserved.cnt, self.reserved.max))
        return rc

    def reserve(self, base: int, size: int) -> int:
        """``memblock_reserve()``: nid MAX_NUMNODES (NUMA_NO_NODE in the newest code), flags 0."""
        return self._reserve(base, size, NUMA_NO_NODE if self.reserve_kern else self.max_numnodes, MEMBLOCK_NONE)

    def reserve_kern(self, base: int, size: int, nid: int = NUMA_NO_NODE) -> int:
        """``memblock_reserve_kern()`` of the newest kernels (plain reserve before)."""
        if self.reserve_kern:
            return self._reserve(base, size, nid, MEMBLOCK_RSRV_KERN)
        return self.reserve(base, size)

    # -- removing and marking -------------------------------------------------------------

    def isolate_range(self, type_: MemblockType, base: int, size: int) -> tuple[int, int]:
        """``memblock_isolate_range()``: split regions at ``base`` and ``base+size``.

        :return: ``(start_rgn, end_rgn)``, the indices of the regions inside.
        """
        size = min(size, PHYS_ADDR_MAX - base)
        end = base + size
        start_rgn = end_rgn = 0
        if not size:
            return 0, 0
        while type_.cnt + 2 > type_.max:
            if not self._double_array(type_, base, size):
                return -1, -1  # -ENOMEM: nothing is split
        idx = max(bisect_right(type_.regions, base, key=_base) - 1, 0)  # (the walk skips regions ending before base)
        while idx < len(type_.regions):
            rgn = type_.regions[idx]
            rbase, rend = rgn.base, rgn.end
            if rbase >= end:
                break
            if rend <= base:
                idx += 1
                continue
            if rbase < base:
                rgn.base = base
                rgn.size -= base - rbase
                type_.total_size -= base - rbase
                self._insert_region(type_, idx, rbase, base - rbase, rgn.nid, rgn.flags)
            elif rend > end:
                rgn.base = end
                rgn.size -= end - rbase
                type_.total_size -= end - rbase
                self._insert_region(type_, idx, rbase, end - rbase, rgn.nid, rgn.flags)
                idx -= 1
            else:
                if not end_rgn:
                    start_rgn = idx
                end_rgn = idx + 1
            idx += 1
        return start_rgn, end_rgn

    def remove_range(self, type_: MemblockType, base: int, size: int) -> None:
        """``memblock_remove_range()``."""
        start, end = self.isolate_range(type_, base, size)
        if start < 0:
            return
        for i in range(end - 1, start - 1, -1):
            self._remove_region(type_, i)

    def remove(self, base: int, size: int) -> None:
        """``memblock_remove()``: take memory away."""
        self.remove_range(self.memory, base, size)

    def phys_free(self, base: int, size: int) -> None:
        """``memblock_phys_free()`` (``memblock_free(phys)`` before v5.16): unreserve."""
        if self.trace is not None:
            self.trace.append(("free", base, size))
        self.remove_range(self.reserved, base, size)
        if self.trace is not None:
            self.trace.append(("count", self.reserved.cnt, self.reserved.max))

    def _setclr_flag(self, type_: MemblockType, base: int, size: int, set_: bool, flag: int) -> None:
        start, end = self.isolate_range(type_, base, size)
        for i in range(start, end):
            r = type_.regions[i]
            r.flags = (r.flags | flag) if set_ else (r.flags & ~flag)
        self._merge_regions(type_)

    def mark_hotplug(self, base: int, size: int) -> None:
        self._setclr_flag(self.memory, base, size, True, MEMBLOCK_HOTPLUG)

    def clear_hotplug(self, base: int, size: int) -> None:
        self._setclr_flag(self.memory, base, size, False, MEMBLOCK_HOTPLUG)

    def mark_mirror(self, base: int, size: int) -> None:
        self.system_has_some_mirror = True
        self._setclr_flag(self.memory, base, size, True, MEMBLOCK_MIRROR)

    def mark_nomap(self, base: int, size: int) -> None:
        self._setclr_flag(self.memory, base, size, True, MEMBLOCK_NOMAP)

    def clear_nomap(self, base: int, size: int) -> None:
        self._setclr_flag(self.memory, base, size, False, MEMBLOCK_NOMAP)

    def set_node(self, base: int, size: int, type_: MemblockType, nid: int) -> None:
        """``memblock_set_node()``: give ``[base, base+size)`` of ``type_`` node ``nid``."""
        start, end = self.isolate_range(type_, base, size)
        for i in range(start, end):
            type_.regions[i].nid = nid
        self._merge_regions(type_)

    def trim_memory(self, align: int) -> None:
        """``memblock_trim_memory()``: drop partial ``align`` units at region edges.

        Quirk kept from the kernel: a shrunk region does not lower ``total_size``.
        """
        i = 0
        while i < len(self.memory.regions):
            r = self.memory.regions[i]
            if not r.size:
                i += 1
                continue
            start, end = _round_up(r.base, align), _round_down(r.end, align)
            if start == r.base and end == r.end:
                i += 1
                continue
            if start < end:
                r.base, r.size = start, end - start
                i += 1
            else:
                self._remove_region(self.memory, i)

    # -- free ranges and searches ---------------------------------------------------------

    def _should_skip(self, m: Region, nid: int, flags: int) -> bool:
        """``should_skip_region()`` for memory regions."""
        if nid != NUMA_NO_NODE and nid != m.nid:
            return True
        if self.movable_node and m.flags & MEMBLOCK_HOTPLUG and not flags & MEMBLOCK_HOTPLUG:
            return True
        if flags & MEMBLOCK_MIRROR and not m.flags & MEMBLOCK_MIRROR:
            return True
        if not flags & MEMBLOCK_NOMAP and m.flags & MEMBLOCK_NOMAP:
            return True
        if not flags & MEMBLOCK_DRIVER_MANAGED and m.flags & MEMBLOCK_DRIVER_MANAGED:
            return True
        return False

    def free_ranges(self, nid: int = NUMA_NO_NODE, flags: int = MEMBLOCK_NONE, reverse: bool = False) -> list[tuple[int, int, int]]:
        """``for_each_free_mem_range[_reverse]()``: ``(start, end, nid)`` of memory not reserved.

        Pieces are cut per memory region (so regions of different nodes give
        different pieces), ascending, or descending with ``reverse``.
        """
        return list(self._free_ranges_rev(nid, flags) if reverse else self._free_ranges_fwd(nid, flags))

    def _free_ranges_fwd(self, nid: int, flags: int) -> Iterator[tuple[int, int, int]]:
        """__next_mem_range(): memory less reserved, ascending, lazily (the
        reserved array is sorted: each memory region finds its first
        overlapping reservation by bisection)."""
        res = self.reserved.regions
        for m in self.memory.regions:
            if not m.size or self._should_skip(m, nid, flags):
                continue
            cur, end = m.base, m.end
            k = max(bisect_right(res, cur, key=_base) - 1, 0)
            while cur < end:
                while k < len(res) and res[k].end <= cur:
                    k += 1
                if k < len(res) and res[k].base < end:
                    if res[k].base > cur:
                        yield (cur, res[k].base, m.nid)
                    cur = max(cur, res[k].end)
                    k += 1
                else:
                    yield (cur, end, m.nid)
                    break

    def _free_ranges_rev(self, nid: int, flags: int, lo: int = 0, hi: int | None = None,
                         min_size: int = 0) -> Iterator[tuple[int, int, int]]:
        """__next_mem_range_rev(): the same pieces, descending, lazily -- a
        top-down search stops at the first that fits instead of walking every
        region (the cost of an allocation follows how far down it looks).

        A search may say where it looks: memory regions wholly at or above
        ``hi`` or at or below ``lo``, and those smaller than ``min_size``, hold
        no piece it could use and are not visited."""
        res = self.reserved.regions
        regs = self.memory.regions
        top = len(regs) if hi is None else bisect_left(regs, hi, key=_base)
        hi_ = PHYS_ADDR_MAX if hi is None else hi
        for i in range(top - 1, -1, -1):
            m = regs[i]
            if m.base + m.size <= lo:
                break
            if m.size < min_size or not m.size or self._should_skip(m, nid, flags):
                continue
            cur, base = m.end, m.base
            k = bisect_left(res, cur, key=_base) - 1
            while cur > base:
                while k >= 0 and res[k].base >= cur:
                    k -= 1
                if k >= 0 and res[k].end > base and res[k].size:
                    if res[k].end < cur:
                        piece = max(res[k].end, base)
                        # (a piece too small once clamped to [lo, hi) is of no use to the search)
                        if min(cur, hi_) - max(piece, lo) >= min_size:
                            yield (piece, cur, m.nid)
                    cur = min(cur, res[k].base)
                    k -= 1
                else:
                    if min(cur, hi_) - max(base, lo) >= min_size:
                        yield (base, cur, m.nid)
                    break

    def mem_pfn_ranges(self, nid: int = NUMA_NO_NODE) -> list[tuple[int, int, int]]:
        """``for_each_mem_pfn_range()``: each memory region's whole pages
        ``(PFN_UP(base), PFN_DOWN(end), nid)``, empty ones skipped; one node's with ``nid``."""
        shift = self.page_size.bit_length() - 1
        out = []
        for r in self.memory.regions:
            if not r.size or (nid != NUMA_NO_NODE and r.nid != nid):
                continue
            s, e = -(-r.base >> shift), r.end >> shift
            if s < e:
                out.append((s, e, r.nid))
        return out

    def find_in_range_node(self, size: int, align: int, start: int, end: int, nid: int, flags: int) -> int:
        """``memblock_find_in_range_node()``: a free, aligned address, or 0."""
        if end in (MEMBLOCK_ALLOC_ACCESSIBLE, MEMBLOCK_ALLOC_NOLEAKTRACE):
            end = self.current_limit
        start = max(start, self.page_size)  # "avoid allocating the first page"
        end = max(start, end)
        if self.bottom_up:
            for s, e, _ in self._free_ranges_fwd(nid, flags):
                s, e = min(max(s, start), end), min(max(e, start), end)
                cand = _round_up(s, align)
                if cand < e and e - cand >= size:
                    return cand
            return 0
        for s, e, _ in self._free_ranges_rev(nid, flags, *((start, end, size) if size else ())):
            s, e = min(max(s, start), end), min(max(e, start), end)
            if e < size:
                continue
            cand = _round_down(e - size, align)
            if cand >= s:
                return cand
        return 0

    def find_in_range(self, start: int, end: int, size: int, align: int) -> int:
        """``memblock_find_in_range()``: any node, mirrored memory first if there is some."""
        flags = MEMBLOCK_MIRROR if self.system_has_some_mirror else MEMBLOCK_NONE
        while True:
            found = self.find_in_range_node(size, align, start, end, NUMA_NO_NODE, flags)
            if found or not flags & MEMBLOCK_MIRROR:
                return found
            self.log.append(f"Could not allocate {size:#x} bytes of mirrored memory")
            flags &= ~MEMBLOCK_MIRROR

    # -- allocating -------------------------------------------------------------------------

    def alloc_range_nid(self, size: int, align: int, start: int, end: int, nid: int, exact_nid: bool) -> int:
        """``memblock_alloc_range_nid()``: find and reserve; 0 on failure.

        With a node that has no room and ``exact_nid`` false, any node will do;
        mirrored memory is preferred when the system has some.
        """
        flags = MEMBLOCK_MIRROR if self.system_has_some_mirror else MEMBLOCK_NONE
        if nid == self.max_numnodes:
            self.log.append("WARNING: Usage of MAX_NUMNODES is deprecated. Use NUMA_NO_NODE instead")
            nid = NUMA_NO_NODE
        if not align:
            align = self.smp_cache_bytes
        while True:
            # "if (found && !memblock_reserve(found, size)) goto done;"
            found = self.find_in_range_node(size, align, start, end, nid, flags)
            if found and not self._reserve_alloc(found, size, nid):
                return found
            if nid != NUMA_NO_NODE and not exact_nid:
                found = self.find_in_range_node(size, align, start, end, NUMA_NO_NODE, flags)
                if found and not self._reserve_alloc(found, size, nid):
                    return found
            if flags & MEMBLOCK_MIRROR:
                flags &= ~MEMBLOCK_MIRROR
                self.log.append(f"Could not allocate {size:#x} bytes of mirrored memory")
                continue
            return 0

    def _reserve_alloc(self, base: int, size: int, nid: int) -> int:
        if self.reserve_kern:
            return self._reserve(base, size, nid, MEMBLOCK_RSRV_KERN)
        return self.reserve(base, size)

    def phys_alloc_range(self, size: int, align: int, start: int, end: int) -> int:
        """``memblock_phys_alloc_range()``."""
        return self.alloc_range_nid(size, align, start, end, NUMA_NO_NODE, False)

    def phys_alloc(self, size: int, align: int) -> int:
        """``memblock_phys_alloc()``: anywhere below current_limit."""
        return self.phys_alloc_range(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE)

    def phys_alloc_try_nid(self, size: int, align: int, nid: int) -> int:
        """``memblock_phys_alloc_try_nid()``."""
        return self.alloc_range_nid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, False)

    def alloc_internal(self, size: int, align: int, min_addr: int, max_addr: int, nid: int, exact_nid: bool) -> int:
        """``memblock_alloc_internal()``: the lower bound is only a preference."""
        if max_addr > self.current_limit:
            max_addr = self.current_limit
        found = self.alloc_range_nid(size, align, min_addr, max_addr, nid, exact_nid)
        if not found and min_addr:
            found = self.alloc_range_nid(size, align, 0, max_addr, nid, exact_nid)
        return found

    def alloc_try_nid(self, size: int, align: int, min_addr: int, max_addr: int, nid: int) -> int:
        """``memblock_alloc_try_nid()`` (and ``_raw``): physical address, 0 for NULL."""
        return self.alloc_internal(size, align, min_addr, max_addr, nid, False)

    def alloc_try_nid_repeat(self, count: int, size: int, align: int, min_addr: int, max_addr: int, nid: int) -> list[tuple[int, int]]:
        """``count`` calls of ``memblock_alloc_try_nid(size, align, ...)`` in a row.

        Top-down, each call lands right below the previous one while the
        memory there is free, in the same region and above the bound that
        call would use -- nothing above it could hold a block, and reserving
        only shrinks what is free -- so such a stretch is reserved at once.
        Where it ends, one more real call decides.  Needs ``size % align == 0``.

        :return: stretches ``(first, n)``: n calls that returned first,
            first - size, ... in that order; ``(0, n)`` for n failed calls.
        """
        out: list[tuple[int, int]] = []
        done = 0
        while done < count:
            a = self.alloc_try_nid(size, align, min_addr, max_addr, nid)
            if not a:
                out.append((0, count - done))
                break
            n = 0
            left = count - done - 1
            if left and size % align == 0:
                # the next call's block lies in the same memory region (so the
                # same node: the node pass succeeds again if it did), above
                # min_addr if that pass found this one, and below no reservation
                floor = next(r.base for r in self.memory.regions if r.base <= a < r.end)
                if min_addr and a >= min_addr:
                    floor = max(floor, min_addr)
                # (the block just reserved may have merged with a reservation below it)
                floor = max([floor] + [min(r.end, a) for r in self.reserved.regions if r.base < a and r.size])
                n = min(left, (a - floor) // size)
                if n:
                    self._reserve_alloc(a - n * size, n * size, nid)
            out.append((a, n + 1))
            done += n + 1
        return out

    def alloc_exact_nid_raw(self, size: int, align: int, min_addr: int, max_addr: int, nid: int) -> int:
        """``memblock_alloc_exact_nid_raw()``."""
        return self.alloc_internal(size, align, min_addr, max_addr, nid, True)

    def alloc(self, size: int, align: int) -> int:
        """``memblock_alloc()``."""
        return self.alloc_try_nid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE)

    def alloc_from(self, size: int, align: int, min_addr: int) -> int:
        """``memblock_alloc_from()``."""
        return self.alloc_try_nid(size, align, min_addr, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE)

    def alloc_node(self, size: int, align: int, nid: int) -> int:
        """``memblock_alloc_node()``."""
        return self.alloc_try_nid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid)

    # -- queries ----------------------------------------------------------------------------

    def set_current_limit(self, limit: int) -> None:
        self.current_limit = limit

    def allow_resize(self) -> None:
        """``memblock_allow_resize()``."""
        self.can_resize = True

    def start_of_dram(self) -> int:
        return self.memory.regions[0].base

    def end_of_dram(self) -> int:
        return self.memory.regions[-1].end

    def phys_mem_size(self) -> int:
        return self.memory.total_size

    def is_reserved(self, addr: int) -> bool:
        return any(r.base <= addr < r.end for r in self.reserved)

    def is_region_reserved(self, base: int, size: int) -> bool:
        """``memblock_is_region_reserved()``: whether any reserved region overlaps
        [base, base + size) (memblock_overlaps_region(), mm/memblock.c)."""
        end = base + size
        return any(r.base < end and base < r.end for r in self.reserved)

    def memory_region(self, addr: int) -> Region | None:
        """The memory region holding ``addr`` (its ``nid`` is what
        early_pfn_to_nid() answers), or None in a hole."""
        return next((r for r in self.memory if r.base <= addr < r.end), None)

    def check_invariants(self) -> None:
        """Sorted, non-overlapping, merged neighbours, totals consistent (else MemblockError)."""
        for t in (self.memory, self.reserved):
            regs = [r for r in t.regions if r.size]
            if sum(r.size for r in regs) != t.total_size and t is self.reserved:
                raise MemblockError(f"{t.name}: total_size {t.total_size} != sum of regions")
            for a, b in zip(regs, regs[1:]):
                if a.end > b.base:
                    raise MemblockError(f"{t.name}: {a} overlaps {b}")
                if a.end == b.base and a.nid == b.nid and a.flags == b.flags:
                    raise MemblockError(f"{t.name}: {a} and {b} should have merged")
            if t.cnt > t.max:
                raise MemblockError(f"{t.name}: {t.cnt} regions exceed max {t.max}")
