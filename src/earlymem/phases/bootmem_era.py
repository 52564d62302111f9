"""x86_64 setup_arch() of the bootmem era (2.6.23), up to bootmem's retirement.

The steps that decide where the bootmem bitmaps and the crash region land
(arch/x86_64/kernel/setup.c, e820.c, machine_kexec.c, arch/x86_64/mm/numa.c,
init.c, mm/bootmem.c; read in their ~2.6.20-2.6.24 copies, see
../shared/spec/kernel-early-memory.md section 2):

1. ``crashkernel=size@base`` (early_param in machine_kexec.c): only with
   ``@``; no check, no message;
2. ``discover_ebda()``: EBDA size rounded to pages with its offset, max 64 KiB;
3. ``find_early_table_space()``: the direct-mapping page tables (one PUD page
   per 512 GiB, one PMD page per GiB, 2 MiB pages) found with
   ``find_e820_area(0x8000, end, tables)``;
4. ``compute_hash_shift()``: the node-map hash, allocated with
   ``find_e820_area(0x8000, ...)`` when it outgrows the embedded map;
5. ``setup_node_bootmem()`` per node: pgdat then bitmap, each with
   ``find_e820_area`` -- first fit in e820 order, skipping only ``bad_addr()``'s
   fixed list (low 32 KiB, page tables, initrd, kernel, EBDA, node map), **not**
   the crash region nor earlier pgdats/bitmaps;
6. the reservations, in setup_arch order, through ``reserve_bootmem_generic()``
   (the node of the start address only), the crash region last;
7. ``paging_init()``: each node's mem_map from bootmem (goal 16 MiB);
8. ``free_all_bootmem_core()`` per node at mem_init().

The printed ``NUMA: Using %d for the hash shift.``, ``Bootmem setup node``,
``NODE_DATA [...]`` and ``bootmap [... -  ...] pages`` lines are the same in the
~2.6.20-2.6.22 numa.c copies and in a ~2.6.29 arch/x86/mm/numa_64.c copy, so
2.6.23, in between, is taken to print them alike [no 2.6.23 log with them has
been found].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.bootmem import (
    BOOTMEM_DEFAULT,
    BOOTMEM_EXCLUSIVE,
    BootmemNode,
    FreedRun,
)
from earlymem.kernels.eras import profile_for
from earlymem.lib.errors import InputError, KernelPanic
from earlymem.lib.ranges import Range
from earlymem.lib.units import memparse
from earlymem.lib.x86_64 import MAX_DMA_ADDRESS, PAGE, PGDIR_SIZE, PUD_SIZE
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.phases.crashkernel import parse_crashkernel

__all__ = ["BootmemBoot", "Event", "boot_bootmem_era", "find_e820_area"]

#: include/linux/mmzone.h struct memnode: u8 embedded_map[64 - 16] (2.6.2x).
EMBEDDED_NODEMAP = 64 - 16
L1_CACHE_BYTES = 64
#: include/linux/mmzone.h: MAX_ORDER 11 -> MAX_ORDER_NR_PAGES = 1024.
MAX_ORDER_NR_PAGES = 1 << 10
#: arch/x86_64/kernel/trampoline.S / smp.h: SMP_TRAMPOLINE_BASE [unverified: 0x6000].
SMP_TRAMPOLINE_BASE = 0x6000
#: round_up(sizeof(pg_data_t), PAGE_SIZE) of a 2.6.23 NUMA x86_64 build
#: [unverified: depends on NR_CPUS; it only moves the bitmap inside the low
#: 640 KiB search, where a big bitmap never fits anyway].
PGDAT_SIZE_2_6_23 = 0x2000


@dataclass
class Event:
    """One step of the timeline: ``kind`` names it, ``text`` is the kernel's line
    (when it printed one) or earlymem's description."""

    kind: str
    text: str
    kernel_line: bool = False
    data: dict = field(default_factory=dict)


@dataclass
class BootmemBoot:
    """What the bootmem-era boot decided."""

    events: list[Event]
    nodes: list[BootmemNode]
    bitmaps: dict[int, Range]
    pgdats: dict[int, Range]
    crash: Range | None
    crash_reserved: bool
    freed: dict[int, list[FreedRun]]
    reserved: list[tuple[str, Range]]
    #: paging_init()'s mem_map per node (alloc_node_mem_map()).
    mem_maps: dict[int, Range] = field(default_factory=dict)
    #: pages reserve_bootmem_generic() counted against ZONE_DMA (set_dma_reserve()).
    dma_reserve: int = 0


@dataclass
class _BadAddr:
    """bad_addr()'s fixed list (arch/x86_64/kernel/e820.c, 2.6.2x)."""

    tables: Range | None = None
    initrd: Range | None = None
    kernel: Range | None = None
    ebda: Range | None = None
    nodemap: Range | None = None

    def check(self, addr: int, size: int) -> int | None:
        """The address to move to, or None if [addr, addr+size] hits nothing."""
        last = addr + size
        if addr < 0x8000:
            return 0x8000
        for r, page_align in ((self.tables, True), (self.initrd, True), (self.kernel, True), (self.ebda, True), (self.nodemap, False)):
            if r is not None and r.size and last >= r.start and addr < r.end:
                return -(-r.end // PAGE) * PAGE if page_align else r.end
        return None


def find_e820_area(e820: list[E820Entry], bad: _BadAddr, start: int, end: int, size: int) -> int | None:
    """``find_e820_area(start, end, size)`` of 2.6.2x: first fit, table order, RAM only."""
    for e in e820:
        if e.type != E820Type.RAM:
            continue
        e_end = e.addr + e.size
        addr = max(e.addr, start)
        if addr > e_end:
            continue
        while addr + size <= e_end:
            moved = bad.check(addr, size)
            if moved is None:
                break
            addr = moved
        last = -(-addr // PAGE) * PAGE + size
        if last > e_end or last > end:
            continue
        return addr
    return None


def crashkernel_size_at_base(machine: Machine) -> Range | None:
    """2.6.23 early_param("crashkernel"): ``size@base`` or nothing."""
    value = machine.command_line.get("crashkernel")
    if not value:
        return None
    r = memparse(value, 0)
    if r.end == 0 or value[r.end : r.end + 1] != "@":
        return None
    b = memparse(value, r.end + 1)
    return Range(b.value, b.value + r.value) if r.value else None


def crashkernel_request(machine: Machine, system_ram: int, events: list[Event]) -> tuple[int, int]:
    """``(size, base)`` from the generic parse_crashkernel() of 2.6.24 on (kernel/kexec.c):
    ``size@base`` and the ``range:size[,range:size...][@base]`` list against
    System RAM; its warnings go to ``events``.  ``(0, 0)``: nothing usable."""

    req = parse_crashkernel(machine.command_line.text, system_ram, profile_for("2.6.25"))
    if req is None:
        return 0, 0
    events.extend(Event("crashkernel", w, True) for w in req.warnings)
    if req.error or not req.size:
        return 0, 0
    return req.size, req.base


def boot_bootmem_era(machine: Machine, e820: list[E820Entry], *, exclusive: bool = False, announce: bool = False,
                     pgdat_size: int = PGDAT_SIZE_2_6_23, struct_page: int = 56, failed_text: str = "crashkernel reservation failed - memory is in use") -> BootmemBoot:
    """Run the 2.6.23 steps.

    :param exclusive: 2.6.25's BOOTMEM_EXCLUSIVE crashkernel reservation, which
        fails visibly on an overlap and prints the "Reserving" line after success.
    :param announce: 2.6.24's reserve_crashkernel() (setup_64.c), which prints
        "Reserving ...MB of memory at ...MB for crashkernel (System RAM: ...MB)"
        before reserving, without a check (System RAM = (max_low_pfn -
        min_low_pfn) pages, holes included on x86_64).
    """
    if machine.kernel_image is None:
        raise InputError("the bootmem-era replay needs the kernel image's [_text, _end)", field="kernel_image")
    events: list[Event] = []
    ram = [e for e in e820 if e.type == E820Type.RAM]
    end = max(e.addr + e.size for e in ram)
    end_pfn = end >> 12
    bad = _BadAddr(kernel=machine.kernel_image, initrd=machine.initrd)
    no_base = False
    parse_warnings: list[Event] = []  # printed by reserve_crashkernel(), after the other reservations
    if announce:
        size, base = crashkernel_request(machine, end_pfn << 12, parse_warnings)
        crash = Range(base, base + size) if size and base else None
        no_base = bool(size) and not base  # x86_64: "you have to specify a base address"
    else:
        crash = crashkernel_size_at_base(machine)
    # discover_ebda(): the BIOS data area word at 0x40e; scenarios give its place
    ebda = next((e for e in e820 if e.type != E820Type.RAM and e.addr < 0xA0000 <= e.addr + e.size), None)
    if ebda is not None:
        ebda_size = min(-(-(0x400 + (ebda.addr & 0xFFF)) // PAGE) * PAGE, 64 << 10)
        bad.ebda = Range(ebda.addr, ebda.addr + ebda_size)
    # find_early_table_space(end): round_up(puds * 8) + round_up(pmds * 8) bytes with
    # puds = GiB and pmds = 2 MiB steps of [0, end); kernel_physical_mapping_init()
    # then uses one PUD page per 512 GiB and one PMD page per GiB (2 MiB pages).
    gib = -(-end // PUD_SIZE)
    tables = -(-(gib * 8) // PAGE) * PAGE + -(-(-(-end // (2 << 20)) * 8) // PAGE) * PAGE
    used = (-(-end // PGDIR_SIZE) + gib) * PAGE
    t = find_e820_area(e820, bad, 0x8000, end, tables)
    if t is None:
        # arch/x86/mm/init_64.c find_early_table_space(): panic("Cannot find space for the kernel page tables")
        raise KernelPanic("Cannot find space for the kernel page tables", function="find_early_table_space",
                          detail=f"no free {tables:#x} bytes in the e820 map between 0x8000 and {end:#x}")
    bad.tables = Range(t, t + used)
    events.append(Event("page tables", f"direct-mapping page tables at [{t:#x}-{t + used - 1:#x}] ({used >> 12} pages)", data={"start": t, "end": t + used}))
    # NUMA: SRAT nodes, or one faked node
    nodes_r: dict[int, Range] = {}
    for a in machine.numa:
        r = nodes_r.get(a.node)
        nodes_r[a.node] = Range(min(r.start, a.range.start), max(r.end, a.range.end)) if r else a.range
    if not nodes_r:
        events.append(Event("numa", "No NUMA configuration found", True))
        events.append(Event("numa", f"Faking a node at {0:016x}-{end:016x}", True))
        nodes_r = {0: Range(0, end)}
    # compute_hash_shift(): lowest set bit of the node starts
    spans = [r for r in nodes_r.values() if r.size]
    bitfield = 0
    for r in spans:
        bitfield |= r.start
    shift = 63 if len(spans) <= 1 else (bitfield & -bitfield).bit_length() - 1
    mapsize = (max(r.end for r in spans) >> shift) + 1
    if mapsize > EMBEDDED_NODEMAP:
        nsize = -(-mapsize // L1_CACHE_BYTES) * L1_CACHE_BYTES
        n = find_e820_area(e820, bad, 0x8000, end, nsize)
        if n is None:
            raise InputError("NUMA: Unable to allocate Memory to Node hash map", field="numa")
        bad.nodemap = Range(n, n + nsize)
        events.append(Event("numa", f"node map of {mapsize} bytes at {n:#x}", data={"start": n, "size": nsize}))
    events.append(Event("numa", f"NUMA: Using {shift} for the hash shift.", True))
    # setup_node_bootmem() per node
    nodes: list[BootmemNode] = []
    bitmaps: dict[int, Range] = {}
    pgdats: dict[int, Range] = {}
    zone_align = 8 << 20
    for nid in sorted(nodes_r):
        r = nodes_r[nid]
        start = -(-r.start // zone_align) * zone_align
        events.append(Event("bootmem", f"Bootmem setup node {nid} {start:016x}-{r.end:016x}", True))
        pg = find_e820_area(e820, bad, start, r.end, pgdat_size)
        if pg is None:
            raise InputError(f"Cannot find {pgdat_size} bytes in node {nid}", field="numa")
        events.append(Event("bootmem", f"  NODE_DATA [{pg:016x} - {pg + pgdat_size - 1:016x}]", True))
        start_pfn, end_pfn_n = start >> 12, r.end >> 12
        bitmap_bytes = -(-(end_pfn_n - start_pfn) // 8)
        bitmap_pages = -(-bitmap_bytes // PAGE)
        bstart = -(-(pg + pgdat_size) // PAGE) * PAGE
        bm = find_e820_area(e820, bad, bstart, r.end, bitmap_pages << 12)
        if bm is None:
            raise InputError(f"Cannot find {bitmap_pages << 12} bytes in node {nid}", field="numa")
        node = BootmemNode(nid, bm, start_pfn, end_pfn_n)
        events.append(Event("bootmem", f"  bootmap [{bm:016x} -  {bm + (bitmap_pages << 12) - 1:016x}] pages {bitmap_pages:x}", True,
                            {"nid": nid, "start": bm, "bytes": node.mapsize, "pages": bitmap_pages}))
        for e in ram:
            s, t_end = max(e.addr, start), min(e.addr + e.size, r.end)
            if s < t_end:
                node.release_free(s, t_end - s)
        node.reserve(pg, pgdat_size)
        node.reserve(bm, bitmap_pages << 12)
        nodes.append(node)
        bitmaps[nid] = Range(bm, bm + node.mapsize)
        pgdats[nid] = Range(pg, pg + pgdat_size)

    def node_of(addr: int) -> BootmemNode:
        for n in nodes:
            if n.node_boot_start <= addr < n.node_low_pfn << 12:
                return n
        return nodes[0]

    reserved: list[tuple[str, Range]] = []
    dma_reserve = 0

    def reserve(what: str, r: Range, flags: int = BOOTMEM_DEFAULT) -> tuple[int, int]:
        nonlocal dma_reserve
        if (r.start >> 12) >= end_pfn:
            return 0, 0  # reserve_bootmem_generic(): beyond end_pfn -> silently ignored
        err, already = node_of(r.start).reserve(r.start, r.size, flags)
        if not err:
            reserved.append((what, r))
            if r.end <= MAX_DMA_ADDRESS:
                dma_reserve += r.size // PAGE  # reserve_bootmem_generic(): set_dma_reserve()
        overlaps = [(w, b) for w, b in [(f"bootmem bitmap of node {n}", bitmaps[n]) for n in bitmaps] + [(f"NODE_DATA({n})", pgdats[n]) for n in pgdats] if b.overlaps(r)]
        events.append(Event("reserve", f"reserve {what} [{r.start:#x}-{r.end - 1:#x}]"
                            + (f": {already} page(s) already reserved ({', '.join(w for w, _ in overlaps) or 'earlier reservations'})"
                               + (" -- refused (-EBUSY)" if err else " -- accepted without a word") if already else ""),
                            data={"what": what, "start": r.start, "end": r.end, "already": already, "error": err}))
        return err, already

    # setup_arch's reservations, in order
    reserve("direct-mapping page tables", bad.tables)
    reserve("kernel image", machine.kernel_image)
    reserve("page 0 (BIOS data)", Range(0, PAGE))
    if bad.ebda is not None:
        reserve("EBDA", bad.ebda)
    if bad.nodemap is not None:
        reserve("NUMA node map", bad.nodemap)
    reserve("SMP trampoline", Range(SMP_TRAMPOLINE_BASE, SMP_TRAMPOLINE_BASE + 2 * PAGE))
    if machine.initrd is not None:
        if machine.initrd.end <= end_pfn << 12:
            reserve("initrd", Range(machine.initrd.start, -(-machine.initrd.end // PAGE) * PAGE))
        else:
            events.append(Event("initrd", f"initrd extends beyond end of memory (0x{machine.initrd.end:08x} > 0x{end_pfn << 12:08x})", True))
            events.append(Event("initrd", "disabling initrd", True))
    crash_ok = False
    events.extend(parse_warnings)
    if no_base:
        # 2.6.24/25 reserve_crashkernel(): a base of 0 is refused
        events.append(Event("crashkernel", "crashkernel reservation failed - you have to specify a base address", True))
    if crash is not None:
        if announce and not exclusive:
            events.append(Event("crashkernel", f"Reserving {crash.size >> 20}MB of memory at {crash.start >> 20}MB for crashkernel (System RAM: {end_pfn >> 8}MB)", True))
        err, already = reserve("crashkernel", crash, BOOTMEM_EXCLUSIVE if exclusive else BOOTMEM_DEFAULT)
        crash_ok = not err
        if exclusive:
            events.append(Event("crashkernel", failed_text if err else
                                f"Reserving {crash.size >> 20}MB of memory at {crash.start >> 20}MB for crashkernel (System RAM: {end_pfn >> 8}MB)", True))
    # paging_init() -> free_area_init_nodes() -> alloc_node_mem_map() per node
    # (mm/page_alloc.c, FLAT_NODE_MEM_MAP: x86_64 NUMA was DISCONTIGMEM by default
    # [assumption: ARCH_DISCONTIGMEM_DEFAULT]): the span rounded out to
    # MAX_ORDER_NR_PAGES, sizeof(struct page) each, from alloc_bootmem_node()
    # with goal __pa(MAX_DMA_ADDRESS) = 16 MiB -- first fit in the node's bitmap.
    mem_maps: dict[int, Range] = {}
    for node in nodes:
        first = node.start_pfn & ~(MAX_ORDER_NR_PAGES - 1)
        last = -(-node.node_low_pfn // MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES
        size = (last - first) * struct_page
        at = node.alloc(size, L1_CACHE_BYTES, MAX_DMA_ADDRESS)
        if at is None:
            raise InputError(f"Out of memory: node {node.nid} cannot hold its {size}-byte mem_map", field="numa")
        mem_maps[node.nid] = Range(at, at + size)
        events.append(Event("mem_map", f"node {node.nid}: mem_map ({last - first} struct pages, {size >> 20} MiB) at [{at:#x}-{at + size - 1:#x}]",
                            data={"nid": node.nid, "start": at, "end": at + size}))
    # mem_init(): numa_free_all_bootmem()
    freed: dict[int, list[FreedRun]] = {}
    for node in nodes:
        runs = node.free_all()
        freed[node.nid] = runs
        pages = sum(r.end_pfn - r.start_pfn for r in runs)
        bm = [r for r in runs if r.what == "bitmap"]
        events.append(Event("free_all", f"node {node.nid}: {pages} pages handed to the page allocator, the last {sum(r.end_pfn - r.start_pfn for r in bm)} being the bitmap's own",
                            data={"nid": node.nid, "pages": pages}))
    return BootmemBoot(events, nodes, bitmaps, pgdats, crash, crash_ok, freed, reserved, mem_maps, dma_reserve)
