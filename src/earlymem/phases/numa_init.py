"""Nodes and zones as a memblock-era x86_64 kernel lays them out at boot.

From the user-defined e820 table to the lines ``free_area_init()`` prints:

0. ``e820_add_kernel_range()``: if ``[_text, _end)`` is not all RAM (a
   ``memmap=`` over the kernel), it is made RAM again;
1. ``trim_bios_range()`` (arch/x86/kernel/setup.c): page 0 RAM -> reserved,
   RAM in [640 KiB, 1 MiB) removed, table sanitized;
2. ``max_pfn = e820__end_of_ram_pfn()``;
3. ``e820__memblock_setup()``: every RAM entry into memblock.memory, then
   ``memblock_trim_memory(PAGE_SIZE)``;
4. NUMA (``x86_numa_init()``): SRAT memory affinities become node blocks,
   ``numa_cleanup_meminfo()`` clamps and merges them (printing ``NUMA: Node
   ...  -> ...``), they must cover the RAM, and ``memblock_set_node()`` gives
   memory its nodes; without SRAT, ``dummy_numa_init()`` fakes node 0 over
   ``[0, max_pfn)``;
5. ``zone_sizes_init()`` + ``free_area_init()``: zone limits DMA = 16 MiB,
   DMA32 = 4 GiB, Normal = max_pfn (max_low_pfn == max_pfn on x86_64), then
   ``Zone ranges:``, ``Movable zone start for each node``, ``Early memory node
   ranges`` (one line per memblock memory region) and ``Initmem setup node``.

NODE_DATA placement needs the early reservations and allocations before it:
:mod:`earlymem.phases.setup_arch` replays them on this module's memblock.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.allocators.memblock import (
    MEMBLOCK_ALLOC_ACCESSIBLE,
    NUMA_NO_NODE,
    Memblock,
)
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range
from earlymem.lib.x86_64 import MAX_DMA32_PFN, MAX_DMA_PFN, PAGE_SHIFT, SMP_CACHE_BYTES
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Table, E820Type, sanitize

__all__ = ["EarlyNodes", "early_nodes", "alloc_node_data", "early_pfn_to_nid", "MAX_DMA_PFN", "MAX_DMA32_PFN"]

BIOS_BEGIN, BIOS_END = 0xA0000, 0x100000


@dataclass
class EarlyNodes:
    """Memory, nodes and zone limits after NUMA init, and the lines the kernel prints."""

    memblock: Memblock
    max_pfn: int
    node_ids: list[int]
    numa_lines: list[str]
    zone_lines: list[str]
    node_range_lines: list[str]
    initmem_lines: list[str]
    #: The kernel's e820_table after e820_add_kernel_range() and trim_bios_range().
    e820: list[E820Entry] | None = None
    #: True when the nodes come from SRAT (not dummy_numa_init()'s fake node).
    from_srat: bool = False
    #: free_area_init()'s arch_zone_lowest/highest_possible_pfn: ``(name, low, high)``
    #: per zone below ZONE_MOVABLE, in zone order (pfns).
    zone_limits: list[tuple[str, int, int]] | None = None


def e820_add_kernel_range(table: E820Table, image: Range | None) -> None:
    """``e820_add_kernel_range()``: the running kernel must be RAM in e820."""
    if image is None:
        return
    pos = image.start
    for e in sorted((e for e in table.entries if e.type == E820Type.RAM and e.size), key=lambda e: e.addr):
        if e.addr <= pos < e.addr + e.size:
            pos = e.addr + e.size
    if pos >= image.end:
        return
    table.warnings.append(".text .data .bss are not marked as E820_TYPE_RAM!")
    table.remove_range(image.start, image.size, None)
    table.add(image.start, image.size, E820Type.RAM)


def trim_bios_range(table: E820Table, profile: KernelProfile) -> None:
    """``trim_bios_range()``: page 0 and the legacy BIOS area are not RAM."""
    table.update_range(0, 4096, E820Type.RAM, E820Type.RESERVED)
    table.remove_range(BIOS_BEGIN, BIOS_END - BIOS_BEGIN, E820Type.RAM)
    new = sanitize(table.entries, no_merge_types=profile.e820.no_merge_types, max_entries=table.capacity)
    if new is not None:
        table.entries = new


#: ZONE_ALIGN (arch/x86/mm/numa.c, 3.x): 1 << (MAX_ORDER + PAGE_SHIFT), MAX_ORDER 11
ZONE_ALIGN = 1 << (11 + PAGE_SHIFT)


def _hex(value: int, width: int) -> str:
    """``%#0<width>Lx``: 0x, then at least width - 2 hex digits."""
    return f"{value:#0{width}x}"


def memblock_from_e820(entries: list[E820Entry]) -> Memblock:
    """``e820__memblock_setup()``: RAM entries (and RESERVED_KERN) become memory."""
    mb = Memblock()
    mb.allow_resize()
    for e in entries:
        if e.addr + e.size > (1 << 64) - 1:
            continue
        if e.type in (E820Type.RAM, E820Type.RESERVED_KERN):
            mb.add(e.addr, e.size)
    mb.trim_memory(4096)
    return mb


@dataclass
class _Blk:
    start: int
    end: int
    nid: int


def _numa_cleanup(blks: list[_Blk], mb: Memblock, max_pfn: int, profile: KernelProfile) -> tuple[list[_Blk], list[str]]:
    """``numa_cleanup_meminfo()``: drop blocks without memory, clamp, merge same-node neighbours."""
    lines: list[str] = []
    low = mb.start_of_dram() if profile.numa.low_is_dram_start else 0
    high = mb.end_of_dram() if profile.numa.low_is_dram_start else max_pfn << PAGE_SHIFT
    mem = [(r.base, r.end) for r in mb.memory]
    kept: list[_Blk] = []
    for b in blks:
        if not any(s < b.end and b.start < e for s, e in mem):
            continue  # moved to numa_reserved_meminfo
        b = _Blk(max(b.start, low), min(b.end, high), b.nid)
        if b.start < b.end:
            kept.append(b)
    i = 0
    while i < len(kept):
        j = i + 1
        while j < len(kept):
            bi, bj = kept[i], kept[j]
            if bi.nid != bj.nid:
                j += 1
                continue
            start, end = min(bi.start, bj.start), max(bi.end, bj.end)
            if any(bk.nid != bi.nid and start < bk.end and end > bk.start for bk in kept):
                j += 1
                continue
            lines.append(
                f"NUMA: Node {bi.nid} [mem {bi.start:#010x}-{bi.end - 1:#010x}] + "
                f"[mem {bj.start:#010x}-{bj.end - 1:#010x}] -> [mem {start:#010x}-{end - 1:#010x}]"
            )
            bi.start, bi.end = start, end
            del kept[j]
        i += 1
    return kept, lines


def early_nodes(user_table: E820Table, machine: Machine, profile: KernelProfile, image: Range | None) -> EarlyNodes:
    """Lay out memory, nodes and zones from the (user-defined) e820 table and SRAT.

    :param image: the kernel's ``[_text, _end)`` (earlymem.phases.image), None if unknown.
    """
    table = user_table.copy()
    e820_add_kernel_range(table, image)
    trim_bios_range(table, profile)
    numa = machine.numa
    max_pfn = table.end_of_ram_pfn(1 << (46 - PAGE_SHIFT))
    mb = memblock_from_e820(table.entries)
    numa_lines: list[str] = []
    blks: list[_Blk] = []
    if numa:
        blks, numa_lines = _numa_cleanup([_Blk(a.range.start, a.range.end, a.node) for a in numa], mb, max_pfn, profile)
        covered = sum(
            max(0, min(r.end, b.end) - max(r.base, b.start)) >> PAGE_SHIFT for r in mb.memory for b in blks
        )
        total = sum(r.size >> PAGE_SHIFT for r in mb.memory)
        if total - covered >= 1 << (20 - PAGE_SHIFT):
            numa_lines.append(f"NUMA: nodes only cover {covered >> 8}MB of your {total >> 8}MB e820 RAM. Not used.")
            blks = []
    from_srat = bool(blks)
    if not blks:
        numa_lines += ["No NUMA configuration found", f"Faking a node at [mem {0:#018x}-{(max_pfn << PAGE_SHIFT) - 1:#018x}]"]
        blks = [_Blk(0, max_pfn << PAGE_SHIFT, 0)]
    for b in blks:
        mb.set_node(b.start, b.end - b.start, mb.memory, b.nid)

    w = profile.memmap.range_digits
    # zone_sizes_init(): max_low_pfn == max_pfn on x86_64
    if profile.memmap.zone_limits_clamped is False:  # before c072b90c8dfe (3.19)
        limits = {"DMA": MAX_DMA_PFN, "DMA32": MAX_DMA32_PFN, "Normal": max_pfn}
    else:
        limits = {"DMA": min(MAX_DMA_PFN, max_pfn), "DMA32": min(MAX_DMA32_PFN, max_pfn), "Normal": max_pfn}
    zone_lines = ["Zone ranges:"]
    zone_limits = []
    start = mb.start_of_dram() >> PAGE_SHIFT
    for name in profile.memmap.zone_names:
        end = max(limits.get(name, 0), start)
        label = f"  {name:<8} "
        zone_lines.append(label + ("empty" if start == end else f"[mem {_hex(start << PAGE_SHIFT, w)}-{_hex((end << PAGE_SHIFT) - 1, w)}]"))
        zone_limits.append((name, start, end))
        start = end
    zone_lines.append("Movable zone start for each node")

    node_range_lines = ["Early memory node ranges"]
    spans: dict[int, list[int]] = {}
    for s, e, nid in mb.mem_pfn_ranges():
        node_range_lines.append(f"  node {nid:3d}: [mem {_hex(s << PAGE_SHIFT, w)}-{_hex((e << PAGE_SHIFT) - 1, w)}]")
        span = spans.setdefault(nid, [s, e])
        span[0], span[1] = min(span[0], s), max(span[1], e)
    node_ids = sorted({b.nid for b in blks})
    initmem: dict[int, str] = {}
    for nid in node_ids:
        if nid in spans:
            s, e = spans[nid]
            initmem[nid] = f"Initmem setup node {nid} [mem {_hex(s << PAGE_SHIFT, w)}-{_hex((e << PAGE_SHIFT) - 1, w)}]"
        else:
            initmem[nid] = f"Initmem setup node {nid} as memoryless"
    # Nodes SRAT named (numa_nodes_parsed -> node_possible_map: memory
    # affinities and processor affinities alike) that kept no memory -- a
    # kdump kernel's other nodes, nodes above mem=, nodes of CPUs only -- are
    # set up as memoryless, in node order: free_area_init() walks every
    # possible node.  (Before, 5.10 set up only the nodes of possible CPUs,
    # later, from init_cpu_to_node(): earlymem.phases.paging_init.)
    if from_srat and profile.numa.memoryless_initmem_as_memoryless:
        for nid in {a.node for a in numa} | {c.node for c in machine.cpus}:
            initmem.setdefault(nid, f"Initmem setup node {nid} as memoryless")
    if profile.memmap.initmem_style == "setup_node_data":
        # older x86 setup_node_data(): the node's span, start rounded up to ZONE_ALIGN (halfline/rhel7@2e8bb677:
        # arch/x86/mm/numa.c), printed while NUMA is set up, with %#010Lx
        initmem = {}
        for nid in node_ids:
            mine = [b for b in blks if b.nid == nid]
            start = -(-min(b.start for b in mine) // ZONE_ALIGN) * ZONE_ALIGN
            initmem[nid] = f"Initmem setup node {nid} [mem {start:#010x}-{max(b.end for b in mine) - 1:#010x}]"
    initmem_lines = [initmem[nid] for nid in sorted(initmem)]
    return EarlyNodes(mb, max_pfn, node_ids, numa_lines, zone_lines, node_range_lines, initmem_lines, list(table.entries), from_srat, zone_limits)


# -- arch/x86/mm/numa.c: NODE_DATA ---------------------------------------------------------


def alloc_node_data(mb: Memblock, nid: int, nd_size: int) -> tuple[int, list[str]]:
    """arch/x86/mm/numa.c alloc_node_data(): ``memblock_phys_alloc_try_nid(nd_size,
    SMP_CACHE_BYTES, nid)`` and its lines; the address is 0 when it failed."""
    addr = mb.alloc_range_nid(nd_size, SMP_CACHE_BYTES, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, False)
    if not addr:
        return 0, [f"Cannot find {nd_size} bytes in any node (initial node: {nid})"]
    lines = [f"NODE_DATA({nid}) allocated [mem {addr:#010x}-{addr + nd_size - 1:#010x}]"]
    tnid = early_pfn_to_nid(mb, addr)
    if tnid != nid:
        lines.append(f"    NODE_DATA({nid}) on node {tnid}")
    return addr, lines


def early_pfn_to_nid(mb: Memblock, addr: int) -> int:
    region = mb.memory_region(addr)
    return region.nid if region is not None else NUMA_NO_NODE
