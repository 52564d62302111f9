"""min_free_kbytes, the zone watermarks and lowmem_reserve after the hand-off.

Read in Debian's 5.10.223 mm/page_alloc.c and mm/khugepaged.c; the same
arithmetic runs in 6.1, 6.12 and 7.2 (their /proc/zoneinfo adds ``boost``,
``cma`` and, by 6.12, ``promo``: see :data:`ZONEINFO_FIELDS`):

* ``init_per_zone_wmark_min()`` (postcore_initcall): ``min_free_kbytes =
  clamp(int_sqrt(nr_free_buffer_pages() * 4 * 16), 128, 262144)``, where
  ``nr_free_buffer_pages()`` sums ``managed - high`` over the zones up to
  ZONE_NORMAL (the watermarks are still 0 then); then
  ``__setup_per_zone_wmarks()`` and ``setup_per_zone_lowmem_reserve()``;
* ``__setup_per_zone_wmarks()``: ``pages_min = min_free_kbytes >> 2``; per
  zone ``min = pages_min * managed / lowmem_pages`` (no highmem on x86_64;
  from 6.12 ZONE_MOVABLE is treated like highmem: ``min = clamp(managed /
  1024, 32, 128)`` even when empty, and left out of lowmem_pages), ``tmp = max(min >> 2, managed * watermark_scale_factor / 10000)``
  (factor 10), ``low = min + tmp``, ``high = min + 2 * tmp`` (``promo = min +
  3 * tmp``);
* ``setup_per_zone_lowmem_reserve()``: for each zone below the last,
  ``lowmem_reserve[j] = (sum of managed of zones i+1..j) / ratio[i]`` with
  ratios DMA 256, DMA32 256, Normal 32, Movable 0; 0 when the ratio or the
  zone's managed pages are 0;
* with transparent hugepages on (Debian) and at least 512 MiB of managed
  pages (hugepage_init() turns THP off below), khugepaged's start
  (subsys_initcall hugepage_init() -> set_recommended_min_free_kbytes())
  raises min_free_kbytes to ``pageblock_nr_pages * nr_zones * (2 +
  MIGRATE_PCPTYPES^2)`` KiB-scaled (at most 5% of nr_free_buffer_pages()),
  counting populated zones up to ZONE_NORMAL on every node, and sets the
  watermarks again (not lowmem_reserve).

Both run before the initrd and the kernel's init memory are freed, so they
see the hand-off's managed pages plus the SMP alternatives start_kernel()
gave back (earlymem.phases.kernel_init.LateFree.before_initcalls).  lowmem_reserve is
recomputed whenever managed pages change from 7.x (adjust_managed_page_count();
profile ``zoneinfo.lowmem_reserve_follows_managed``): /proc/zoneinfo's protection then
reflects the managed pages after boot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isqrt

__all__ = ["Watermarks", "zone_watermarks", "lowmem_reserve", "LOWMEM_RESERVE_RATIO"]

#: mm/page_alloc.c sysctl_lowmem_reserve_ratio[], by zone name (Device: not set, 0).
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, "Movable": 0, "Device": 0}
WATERMARK_SCALE_FACTOR = 10
PAGEBLOCK_NR_PAGES = 512
MIGRATE_PCPTYPES = 3
SWAP_CLUSTER_MAX = 32
#: mm/huge_memory.c hugepage_init(): 512 << (20 - PAGE_SHIFT)
THP_MIN_PAGES = 512 << 8
#: zones a GFP_USER allocation may use (gfp_zone(GFP_USER) == ZONE_NORMAL)
_USER_ZONES = ("DMA", "DMA32", "Normal")


@dataclass
class Watermarks:
    """The result for one set of zones (every online node's, in order)."""

    min_free_kbytes: int
    #: per zone, same order as given: (min, low, high, promo)
    marks: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: per zone: lowmem_reserve[] over all zone indexes of its node
    protection: list[list[int]] = field(default_factory=list)


def _wmarks(min_free_kbytes: int, managed: list[int], capped: list[bool]) -> list[tuple[int, int, int, int]]:
    pages_min = min_free_kbytes >> 2
    lowmem = sum(m for m, c in zip(managed, capped) if not c)
    out = []
    for m, c in zip(managed, capped):
        tmp = pages_min * m // lowmem if lowmem else 0
        # highmem (none on x86_64) and, from 6.12, ZONE_MOVABLE: a small fixed minimum
        wmin = min(max(m // 1024, SWAP_CLUSTER_MAX), 128) if c else tmp
        tmp = max(tmp >> 2, m * WATERMARK_SCALE_FACTOR // 10000)
        out.append((wmin, wmin + tmp, wmin + 2 * tmp, wmin + 3 * tmp))
    return out


def zone_watermarks(zones: list[tuple[int, str, int]], thp: bool = True, movable_like_highmem: bool = False) -> Watermarks:
    """``zones``: ``(nid, zone name, managed pages)`` of every zone of every
    online node, nodes ascending, zones in index order.

    :param movable_like_highmem: ZONE_MOVABLE gets highmem's ``clamp(managed /
        1024, 32, 128)`` minimum and leaves lowmem_pages (the profile's
        ``zoneinfo.movable_wmark_like_highmem``).
    """
    managed = [m for _, _, m in zones]
    capped = [movable_like_highmem and name == "Movable" for _, name, _ in zones]
    user = [i for i, (_, name, _) in enumerate(zones) if name in _USER_ZONES]
    lowmem_kbytes = sum(managed[i] for i in user) * 4
    mfk = min(max(isqrt(lowmem_kbytes * 16), 128), 262144)
    marks = _wmarks(mfk, managed, capped)
    # hugepage_init(): below 512 MiB of totalram_pages() THP is switched off
    # and khugepaged never starts
    if thp and sum(managed) >= THP_MIN_PAGES:
        nr_zones = sum(1 for i in user if managed[i])  # for_each_populated_zone()
        rec = PAGEBLOCK_NR_PAGES * nr_zones * 2 + PAGEBLOCK_NR_PAGES * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
        free_buffer = sum(max(0, managed[i] - marks[i][2]) for i in user)
        rec = min(rec, free_buffer // 20) << 2
        if rec > mfk:
            mfk = rec
            marks = _wmarks(mfk, managed, capped)
    protection = lowmem_reserve(zones)
    return Watermarks(mfk, marks, protection)


def lowmem_reserve(zones: list[tuple[int, str, int]]) -> list[list[int]]:
    """setup_per_zone_lowmem_reserve(): per zone, over its node's zone indexes,
    ``lowmem_reserve[j] = (managed of zones i+1..j) / ratio[i]`` (0 for the
    last zone, a zero ratio or no managed pages).  ``zones`` as for
    :func:`zone_watermarks`."""
    by_node: dict[int, list[int]] = {}
    for i, (nid, _, _) in enumerate(zones):
        by_node.setdefault(nid, []).append(i)
    protection: list[list[int]] = []
    for i, (nid, name, m) in enumerate(zones):
        node = by_node[nid]
        pos = node.index(i)
        ratio = LOWMEM_RESERVE_RATIO.get(name, 0)
        row = [0] * len(node)
        if pos < len(node) - 1 and ratio and m:
            acc = 0
            for k in range(pos + 1, len(node)):
                acc += zones[node[k]][2]
                row[k] = acc // ratio
        protection.append(row)
    return protection
