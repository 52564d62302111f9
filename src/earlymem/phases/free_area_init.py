"""Each online node's zones as free_area_init() sizes them (x86_64, 5.10 to 7.x).

``free_area_init()`` (mm/page_alloc.c in 5.10, mm/mm_init.c from 6.4) ->
``free_area_init_node()`` -> ``calculate_node_totalpages()``, per zone in zone
index order (DMA, DMA32, Normal, Movable, Device):

* the node's span ``[node_start, node_end)`` is ``get_pfn_range_for_nid()``:
  the lowest ``PFN_UP(base)`` and highest ``PFN_DOWN(end)`` of its memblock
  memory regions (0, 0 for a memoryless node);
* ``zone_spanned_pages_in_node()``: the zone's range in the node is the span
  clamped to ``[arch_zone_lowest_possible_pfn, arch_zone_highest_possible_pfn)``
  -- the limits the ``Zone ranges:`` lines print;
* ``zone_absent_pages_in_node()``: spanned pages that no memblock memory region
  of the node covers (``__absent_pages_in_range()``); ``present = spanned -
  absent``, reserved memory included.

ZONE_MOVABLE stays empty without ``kernelcore=``/``movablecore=``/``movable_node``
(those are not modelled: :func:`zone_sizes` says so), and ZONE_DEVICE is empty
at boot.  A zone is printed in /proc/zoneinfo for every online node, populated
or not: nodes with memory, and nodes onlined for their CPUs (5.10's
init_cpu_to_node(); from 6.1 try_online_node() when the CPU comes up).
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.phases.numa_init import EarlyNodes

__all__ = ["ZoneSize", "zone_sizes", "ZONE_ORDER", "MOVABLE_PARAMS"]

#: enum zone_type with Debian's configs (CONFIG_ZONE_DMA, _DMA32, _DEVICE; no HIGHMEM).
ZONE_ORDER = ("DMA", "DMA32", "Normal", "Movable", "Device")
#: parameters that give ZONE_MOVABLE pages (find_zone_movable_pfns_for_nodes()).
MOVABLE_PARAMS = ("kernelcore", "movablecore", "movable_node")


@dataclass(frozen=True)
class ZoneSize:
    """One zone of one node: first pfn, spanned and present pages."""

    nid: int
    name: str
    start_pfn: int
    spanned: int
    present: int


def zone_sizes(nodes: EarlyNodes, online: list[int]) -> list[ZoneSize]:
    """Every zone of every node in ``online`` (ascending), in zone order.

    :raises ValueError: when the early layout has no zone limits (an era
        that does not model it).
    """
    if nodes.zone_limits is None:
        raise ValueError("zone limits unknown")
    limits = {name: (low, high) for name, low, high in nodes.zone_limits}
    out: list[ZoneSize] = []
    for nid in sorted(set(online)):
        ranges = [(s, e) for s, e, _ in nodes.memblock.mem_pfn_ranges(nid)]
        node_start = min((s for s, _ in ranges), default=0)
        node_end = max((e for _, e in ranges), default=0)
        for name in ZONE_ORDER:
            if name not in limits:  # Movable (no kernelcore=) and Device: empty at boot
                out.append(ZoneSize(nid, name, 0, 0, 0))
                continue
            low, high = limits[name]
            start = min(max(node_start, low), high)
            end = min(max(node_end, low), high)
            if start >= end:
                out.append(ZoneSize(nid, name, 0, 0, 0))
                continue
            present = sum(max(0, min(e, end) - max(s, start)) for s, e in ranges)
            out.append(ZoneSize(nid, name, start, end - start, present))
    return out
