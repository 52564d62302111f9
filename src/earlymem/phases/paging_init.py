"""setup_arch() after reserve_crashkernel(), up to init_cpu_to_node() (x86_64).

In the 5.10 era a NUMA node that has CPUs but no memory gets its ``pg_data_t``
late: ``init_cpu_to_node()`` (arch/x86/mm/numa.c) walks the possible CPUs and,
for a CPU whose node is not online, calls ``init_memory_less_node()`` --
``alloc_node_data()`` (printing ``NODE_DATA(n) allocated [mem ...]`` and,
since the node has no memory, ``    NODE_DATA(n) on node m``) and
``free_area_init_memoryless_node()`` (``Initmem setup node n [mem
0x0000000000000000-0x0000000000000000]``).  A kdump kernel booted with
``nr_cpus=1`` on a CPU whose node lies outside the crash region does exactly
this.  Later kernels set every possible memoryless node up in
free_area_init() ("mm: handle uninitialized numa nodes gracefully"; 6.1
prints "as memoryless", 5.10 does not [release between them unverified]);
the era's profile says which applies: ``numa.memoryless_initmem_as_memoryless``.

Where that NODE_DATA lands depends on everything memblock handed out since the
first NODE_DATA, in this order (read in Debian's 5.10.223 source):

1. ``reserve_crashkernel()`` (first kernel only; :mod:`earlymem.phases.crashkernel`);
2. ``paging_init()`` -> ``sparse_init()`` (mm/sparse.c, SPARSEMEM_EXTREME +
   SPARSEMEM_VMEMMAP + MEMORY_HOTREMOVE as Debian builds):

   - ``memblocks_present()``: for each memblock memory pfn range,
     ``memory_present()``; the first call allocates the root array
     ``mem_section`` (``memblock_alloc(sizeof(void *) * NR_SECTION_ROOTS,
     1 << INTERNODE_CACHE_SHIFT)``), then each section's root, when new, gets
     one page of ``struct mem_section`` (``memblock_alloc_node(PAGE_SIZE,
     SMP_CACHE_BYTES, nid)``); a section belongs to the first node that
     touches it;
   - per run of present sections of one node, ``sparse_init_nid()``: the
     usemaps (``mem_section_usage_size() * map_count`` bytes) from the 128 MiB
     section holding the node's pg_data_t (``memblock_alloc_try_nid(size,
     SMP_CACHE_BYTES, goal, goal + 128 MiB, nid)``, then without the upper
     limit); the memmap buffer (``memblock_alloc_exact_nid_raw(map_count *
     2 MiB, 2 MiB, __pa(MAX_DMA_ADDRESS), ACCESSIBLE, nid)``); then per
     section ``vmemmap_populate()`` (arch/x86/mm/init_64.c, huge pages): a
     page for the PUD table when the vmemmap PGD entry is empty and a page for
     each PMD table (``vmemmap_alloc_block_zero(PAGE_SIZE, node)`` ->
     ``memblock_alloc_try_nid_raw(PAGE_SIZE, PAGE_SIZE, 16 MiB, ACCESSIBLE,
     node)``), each 2 MiB of memmap from the buffer;
3. ``acpi_boot_init()`` -> ``acpi_parse_hpet()`` (arch/x86/kernel/acpi/boot.c):
   ``memblock_alloc(sizeof(struct resource) + 9, SMP_CACHE_BYTES)`` when the
   firmware has an HPET table;
4. ``prefill_possible_map()`` and ``generic_processor_info()``
   (arch/x86/kernel/apic/apic.c): the boot CPU is CPU 0, the others follow in
   MADT order; with ``nr_cpus=N`` only N are possible and one slot is kept for
   the boot CPU;
5. ``init_cpu_to_node()``;
6. the rest of setup_arch() (:func:`setup_arch_resources`): the I/O APIC
   resources, the e820 resources and firmware map entries, the nosave regions.

7.x runs step 2 (and the rest of free_area_init()) after step 6, from
start_kernel() -> mm_core_init_early(), and populates the vmemmap block by
block instead of from one buffer (profile ``memmap.sparse_init_in_start_kernel``).

Assumed and stated: 4-level paging (``MAX_PHYSMEM_BITS`` 46), the vmemmap
base PGD-aligned and not randomized (``nokaslr``), CPUs with PSE, the MADT
listing CPUs in the order SRAT does, no generic-initiator nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import (
    MEMBLOCK_ALLOC_ACCESSIBLE,
    NUMA_NO_NODE,
    Memblock,
)
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.x86_64 import (
    MAX_DMA_ADDRESS,
    PAGE,
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SIZE,
    PUD_SHIFT,
    PUD_SIZE,
    SMP_CACHE_BYTES,
)
from earlymem.machine import CpuAffinity, Machine
from earlymem.machine.e820 import E820Type
from earlymem.phases.efi import efi_late_reserves
from earlymem.phases.numa_init import alloc_node_data, early_pfn_to_nid

__all__ = ["LateNodes", "late_node_data", "setup_arch_resources", "possible_cpus", "logical_cpu_apic", "sparse_init", "iomem_resources", "IOMEM_NAMES"]

#: CONFIG_X86_INTERNODE_CACHE_SHIFT=6 in Debian's configs.
INTERNODE_CACHE_BYTES = 1 << 6
#: arch/x86/include/asm/sparsemem.h (x86_64): SECTION_SIZE_BITS 27, MAX_PHYSMEM_BITS 46 with 4 levels.
SECTION_SIZE_BITS = 27
MAX_PHYSMEM_BITS = 46
PFN_SECTION_SHIFT = SECTION_SIZE_BITS - PAGE_SHIFT
PAGES_PER_SECTION = 1 << PFN_SECTION_SHIFT
NR_MEM_SECTIONS = 1 << (MAX_PHYSMEM_BITS - SECTION_SIZE_BITS)
#: include/linux/pageblock-flags.h: pageblock_order = MAX_ORDER - 1 (HUGETLB_PAGE_ORDER 9), 4 bits a block.
PAGEBLOCK_ORDER = 9
NR_PAGEBLOCK_BITS = 4
#: arch/x86/kernel/acpi/boot.c acpi_parse_hpet(): the resource's name buffer.
HPET_RESOURCE_NAME_SIZE = 9
#: arch/x86/kernel/apic/io_apic.c ioapic_setup_resources(): each I/O APIC's name buffer.
IOAPIC_RESOURCE_NAME_SIZE = 11
#: sizeof(struct firmware_map_entry) (drivers/firmware/memmap.c: start, end,
#: type, list, kobj) and sizeof(struct nosave_region) (kernel/power/snapshot.c:
#: list, start_pfn, end_pfn): 104 and 32 in all four pinned kernels
#: (their memblock=debug traces: firmware_map_add_early(104), register_nosave_region(32))
FIRMWARE_MAP_ENTRY_SIZE = 104
NOSAVE_REGION_SIZE = 32


@dataclass
class LateNodes:
    """What init_cpu_to_node() prints, and what was allocated before it."""

    #: ``(family, line)``: ``numa`` for NODE_DATA lines, ``initmem`` for Initmem.
    lines: list[tuple[str, str]] = field(default_factory=list)
    #: ``(what, base, size)`` in allocation order, from paging_init() on.
    allocations: list[tuple[str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: memblock_find_dma_reserve() (arch/x86/mm/init.c, to 6.9): memory pages
    #: below 16 MiB that are not free, just before paging_init()
    dma_reserve: int = 0
    #: e820_table at the end of setup_arch() (after efi_mem_reserve()'s updates); None: not replayed
    e820: list | None = None
    #: whole free pages in memblock after sparse_init() (6.10+
    #: calc_nr_kernel_pages(), called from free_area_init())
    free_after_sparse: int = 0


def sparse_init(mb: Memblock, node_data: dict[int, int], sizes: dict[str, int], allocations: list[tuple[str, int, int]],
                notes: list[str], profile: KernelProfile | None = None) -> None:
    """mm/sparse.c sparse_init() as 5.10 runs it, on ``mb``; with a profile
    whose ``memmap.sparse_init_in_start_kernel`` is set, as 7.2 does (see
    :func:`_sparse_init_nid`), and its ``memmap.pageblock_bits``.

    Sections are handled as runs of consecutive section numbers, so the cost
    grows with memory regions and vmemmap page tables, not with sections.

    :param node_data: physical address of each online node's pg_data_t.
    :param sizes: ``mem_section``, ``mem_section_usage`` and ``page`` sizeof()s.
    """
    per_root = PAGE // sizes["mem_section"]  # SECTIONS_PER_ROOT
    ranges = mb.mem_pfn_ranges()
    if not ranges:
        return
    # memblocks_present(): the root array, then each new root's page on the
    # node that first touches it; a section keeps the first node that touches it
    size = 8 * (NR_MEM_SECTIONS // per_root)
    addr = mb.alloc(size, INTERNODE_CACHE_BYTES)
    allocations.append(("mem_section roots", addr, size))
    next_root = 0  # ranges ascend: the roots below this one have their page
    present: list[list[int]] = []  # [first, last + 1, nid] runs, ascending, disjoint
    limit = 1 << (MAX_PHYSMEM_BITS - PAGE_SHIFT)  # mminit_validate_memmodel_limits()
    for start, end, nid in ranges:
        end = min(end, limit)
        if start >= end:
            continue
        first, last = start >> PFN_SECTION_SHIFT, (end - 1) >> PFN_SECTION_SHIFT
        r_lo, r_hi = max(first // per_root, next_root), last // per_root + 1
        if r_lo < r_hi:
            # memblock_alloc_node() once per new root, in a row
            root = r_lo
            for addr, n in mb.alloc_try_nid_repeat(r_hi - r_lo, PAGE, SMP_CACHE_BYTES, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid):
                name = f"mem_section[{root}]" if n == 1 else f"mem_section[{root}..{root + n - 1}]"
                allocations.append((name, addr - (n - 1) * PAGE if addr else 0, n * PAGE))
                root += n
            next_root = r_hi
        if present and present[-1][1] > first:  # the shared section keeps its node
            first = present[-1][1]
        if first > last:
            continue
        if present and present[-1][1] == first and present[-1][2] == nid:
            present[-1][1] = last + 1
        else:
            present.append([first, last + 1, nid])
    # sparse_init(): runs of present sections of one node (a gap in numbers
    # does not end a run: for_each_present_section_nr() skips it)
    runs: list[tuple[int, list[tuple[int, int]]]] = []
    for first, end, nid in present:
        if runs and runs[-1][0] == nid:
            runs[-1][1].append((first, end))
        else:
            runs.append((nid, [(first, end)]))
    usage_size = sizes["mem_section_usage"] + _usemap_size(profile.memmap.pageblock_bits if profile else NR_PAGEBLOCK_BITS)
    no_buffer = bool(profile and profile.memmap.sparse_init_in_start_kernel)
    map_size = -(-sizes["page"] * PAGES_PER_SECTION // PMD_SIZE) * PMD_SIZE  # section_map_size()
    tables: dict[str, RangeSet] = {}
    for nid, secs in runs:
        _sparse_init_nid(mb, nid, secs, node_data, usage_size, map_size, sizes["page"], tables, allocations, notes, no_buffer)


def _usemap_size(pageblock_bits: int) -> int:
    """usemap_size(): BITS_TO_LONGS(SECTION_BLOCKFLAGS_BITS) * sizeof(long)."""
    bits = (1 << (PFN_SECTION_SHIFT - PAGEBLOCK_ORDER)) * pageblock_bits
    return -(-bits // 64) * 8


def _sparse_init_nid(mb: Memblock, nid: int, secs: list[tuple[int, int]], node_data: dict[int, int], usage_size: int,
                     map_size: int, page_size: int, tables: dict[str, RangeSet], allocations: list, notes: list[str],
                     no_buffer: bool = False) -> None:
    """sparse_init_nid().  5.10 to 6.12: the usemaps near the node's
    pg_data_t, then one memmap buffer for all the run's sections.  7.2
    (``no_buffer``): sparse_usage_init() takes the usemaps with
    ``memblock_alloc_node(size, SMP_CACHE_BYTES, nid)`` and there is no
    buffer: vmemmap_populate_hugepages() takes each 2 MiB block with
    vmemmap_alloc_block() -> ``memblock_alloc_try_nid_raw(PMD_SIZE,
    PMD_SIZE, __pa(MAX_DMA_ADDRESS), ACCESSIBLE, nid)`` (mm/sparse-vmemmap.c),
    after the page-table pages its address needs."""
    count = sum(e - s for s, e in secs)
    if no_buffer:
        usage = mb.alloc_try_nid(usage_size * count, SMP_CACHE_BYTES, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid)
        if not usage:
            notes.append(f"sparse_init_nid: node[{nid}] usemap allocation failed")
            return
        allocations.append((f"usemaps node {nid}", usage, usage_size * count))
        _vmemmap_blocks(mb, nid, [_vmemmap_range(first, end, page_size) for first, end in secs], tables, allocations)
        return
    # sparse_early_usemaps_alloc_pgdat_section(): near the node's pg_data_t
    pgdat = node_data.get(nid)
    if pgdat is None:
        notes.append(f"node {nid} has sections but no pg_data_t: its usemaps are not modelled")
        return
    goal = pgdat & ~((1 << SECTION_SIZE_BITS) - 1)
    limit = goal + (1 << SECTION_SIZE_BITS)
    unid = early_pfn_to_nid(mb, goal)
    if unid == NUMA_NO_NODE:
        unid = min(node_data)  # early_pfn_to_nid(): first_online_node
    usage = mb.alloc_try_nid(usage_size * count, SMP_CACHE_BYTES, goal, limit, unid)
    if not usage:
        usage = mb.alloc_try_nid(usage_size * count, SMP_CACHE_BYTES, goal, MEMBLOCK_ALLOC_ACCESSIBLE, unid)
    if not usage:
        notes.append(f"sparse_init_nid: node[{nid}] usemap allocation failed")
        return
    allocations.append((f"usemaps node {nid}", usage, usage_size * count))
    # sparse_buffer_init()
    buf = mb.alloc_exact_nid_raw(count * map_size, map_size, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid)
    left = count * map_size if buf else 0
    if buf:
        allocations.append((f"memmap buffer node {nid}", buf, count * map_size))
    # __populate_section_memmap() -> vmemmap_populate_hugepages(), PMD by PMD:
    # a page for each empty PGD entry (its PUD table) and PUD entry (its PMD
    # table), then 2 MiB of struct pages from the buffer while it lasts --
    # after that, block by block as 7.2 always does
    rest: list[tuple[int, int]] = []
    for vstart, vend in (_vmemmap_range(first, end, page_size) for first, end in secs):
        from_buffer = min(vend - vstart, left)
        if from_buffer:
            _vmemmap_table_pages(mb, nid, _vmemmap_tables_for(tables, vstart, vstart + from_buffer), allocations)
            left -= from_buffer
        if vstart + from_buffer < vend:
            rest.append((vstart + from_buffer, vend))
    _vmemmap_blocks(mb, nid, rest, tables, allocations)
    if buf and left:  # sparse_buffer_fini()
        mb.phys_free(buf + count * map_size - left, left)


def _vmemmap_range(first: int, end: int, page_size: int) -> tuple[int, int]:
    """The vmemmap offsets of sections [first, end): their struct pages."""
    return (first << PFN_SECTION_SHIFT) * page_size, (end << PFN_SECTION_SHIFT) * page_size


def setup_arch_resources(machine: Machine, profile: KernelProfile, mb: Memblock, e820: list, firmware_entries: int,
                         max_pfn: int, sizes: dict[str, int], allocations: list[tuple[str, int, int]],
                         notes: list[str]) -> list[str]:
    """The end of setup_arch() (arch/x86/kernel/setup.c, 5.10 to 7.2), after
    init_cpu_to_node(), on ``mb``; returns the nosave lines it prints.

    1. ``io_apic_init_mappings()`` -> ``ioapic_setup_resources()``: one
       ``memblock_alloc(nr_ioapics * (sizeof(struct resource) + 11),
       SMP_CACHE_BYTES)`` (none without I/O APICs);
    2. ``e820__reserve_resources()`` (arch/x86/kernel/e820.c): a struct
       resource per e820_table entry in one ``memblock_alloc()``, then
       ``firmware_map_add_early()`` (drivers/firmware/memmap.c) for each entry
       of e820_table_firmware, one ``memblock_alloc(sizeof(struct
       firmware_map_entry), SMP_CACHE_BYTES)`` each;
    3. ``e820__register_nosave_regions(max_pfn)`` -> ``register_nosave_region()``
       (kernel/power/snapshot.c): a region that starts where the last one
       ended extends it, any other takes ``memblock_alloc(sizeof(struct
       nosave_region), SMP_CACHE_BYTES)``; each call with pages prints
       ``PM: hibernation: Registered nosave memory: [mem ...]``.  Which ranges
       are registered is the era's (``profile.e820.nosave_ram_walk``).

    :param e820: the kernel's e820_table at that point (earlymem.phases.numa_init.EarlyNodes.e820).
    :param firmware_entries: entries of e820_table_firmware (the sanitized firmware map).
    """
    ioapics = machine.ioapics
    if ioapics is None:
        ioapics = 1
        notes.append("the I/O APICs are unknown (no 'IOAPIC[n]:' lines): one is assumed (ioapic_setup_resources())")
    if ioapics:
        n = ioapics * (sizes["resource"] + IOAPIC_RESOURCE_NAME_SIZE)
        allocations.append(("I/O APIC resources", mb.alloc(n, SMP_CACHE_BYTES), n))
    n = sizes["resource"] * len(e820)
    allocations.append(("e820 resources", mb.alloc(n, SMP_CACHE_BYTES), n))
    # firmware_map_add_early(), once per firmware entry, in a row
    for addr, k in mb.alloc_try_nid_repeat(firmware_entries, FIRMWARE_MAP_ENTRY_SIZE, SMP_CACHE_BYTES, 0,
                                           MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE):
        allocations.append((f"firmware map entries ({k})", addr, k * FIRMWARE_MAP_ENTRY_SIZE))
    lines: list[str] = []
    last_end: list[int] = []  # end pfn of the last region registered

    def register(start: int, end: int) -> None:
        if start >= end:
            return
        if last_end and last_end[0] == start:
            last_end[0] = end
        else:
            allocations.append(("nosave region", mb.alloc(NOSAVE_REGION_SIZE, SMP_CACHE_BYTES), NOSAVE_REGION_SIZE))
            last_end[:] = [end]
        lines.append(f"PM: hibernation: Registered nosave memory: [mem {start << PAGE_SHIFT:#010x}-{(end << PAGE_SHIFT) - 1:#010x}]")

    def up(a: int) -> int:
        return -(-a >> PAGE_SHIFT)

    if profile.e820.nosave_ram_walk:
        # the gaps between RAM entries, and from the last one to max_pfn; the releases
        # that still have E820_TYPE_RESERVED_KERN walk it as RAM (OVMF captures of 6.1.176
        # and 6.12.117: no nosave region at a setup_data node)
        last = 0
        for e in e820:
            if e.type not in (E820Type.RAM, E820Type.RESERVED_KERN):
                continue
            if last < e.addr:
                register(last >> PAGE_SHIFT, up(e.addr))
            last = e.end
        register(last >> PAGE_SHIFT, max_pfn)
    else:
        # holes before entries, and every entry that is neither RAM nor RESERVED_KERN, up to max_pfn
        pfn = 0
        for e in e820:
            if pfn < up(e.addr):
                register(pfn, up(e.addr))
            pfn = e.end >> PAGE_SHIFT
            if e.type not in (E820Type.RAM, E820Type.RESERVED_KERN):
                register(up(e.addr), pfn)
            if pfn >= max_pfn:
                break
    return lines


def _vmemmap_tables_for(tables: dict[str, RangeSet], lo: int, hi: int) -> int:
    """Pages for the PGD entries (PUD tables) and PUD entries (PMD tables) of
    vmemmap [lo, hi) that have none yet; marks them made."""
    n = 0
    for level, shift in (("PUD", PGDIR_SHIFT), ("PMD", PUD_SHIFT)):
        idx = Range(lo >> shift, ((hi - 1) >> shift) + 1)
        have = tables.get(level, RangeSet())
        n += idx.size - have.intersect([idx]).total
        tables[level] = have.union([idx])
    return n


def _vmemmap_table_pages(mb: Memblock, nid: int, n: int, allocations: list) -> list[tuple[int, int]]:
    """vmemmap_alloc_block_zero() -> memblock_alloc_try_nid_raw(PAGE_SIZE,
    PAGE_SIZE, 16 MiB, ACCESSIBLE, node), ``n`` in a row; their stretches."""
    got = mb.alloc_try_nid_repeat(n, PAGE, PAGE, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid) if n else []
    for addr, k in got:
        allocations.append((f"vmemmap page tables ({k})", addr - (k - 1) * PAGE if addr else 0, k * PAGE))
    return got


#: take the shortcut of _vmemmap_stack() (tests turn it off to compare)
VMEMMAP_STACK_SHORTCUT = True


def _vmemmap_blocks(mb: Memblock, nid: int, vranges: list[tuple[int, int]], tables: dict[str, RangeSet],
                    allocations: list) -> None:
    """The vmemmap ``vranges`` without a buffer (7.2; 5.10-6.12 once the
    buffer is spent): PMD by PMD, the table pages its address needs, then
    the block.  A PMD table covers 1 GiB of vmemmap, so between two 1 GiB
    boundaries only blocks are taken: those are done as one row of
    identical calls (Memblock.alloc_try_nid_repeat); and once a 1 GiB step
    has left its table pages above its blocks, the rest may be placed at
    once (:func:`_vmemmap_stack`)."""
    last: tuple[int, int, int] | None = None  # lowest table page, lowest block, end of the blocks
    for v, vend in vranges:
        while v < vend:
            if last is not None and VMEMMAP_STACK_SHORTCUT:
                stop = _vmemmap_stack(mb, nid, tables, v, vend, last, allocations)
                if stop != v:
                    v, last = stop, None  # the next step is taken one by one and sets ``last`` again
                    continue
            stop = min(vend, ((v >> PUD_SHIFT) + 1) << PUD_SHIFT)
            got = _vmemmap_table_pages(mb, nid, _vmemmap_tables_for(tables, v, v + PMD_SIZE), allocations)
            blocks = mb.alloc_try_nid_repeat((stop - v) // PMD_SIZE, PMD_SIZE, PMD_SIZE, MAX_DMA_ADDRESS,
                                             MEMBLOCK_ALLOC_ACCESSIBLE, nid)
            for addr, k in blocks:
                allocations.append((f"vmemmap blocks ({k})", addr - (k - 1) * PMD_SIZE if addr else 0, k * PMD_SIZE))
            # the step can seed _vmemmap_stack() if it took one stretch of
            # table pages (or none: the last step's still mark the top) and one of blocks
            if len(got) == 1 and got[0][0]:
                table_low = got[0][0] - (got[0][1] - 1) * PAGE
            elif not got and last is not None:
                table_low = last[0]
            else:
                table_low = None
            if table_low is not None and len(blocks) == 1 and blocks[0][0]:
                addr, k = blocks[0]
                last = (table_low, addr - (k - 1) * PMD_SIZE, addr + PMD_SIZE)
            else:
                last = None
            v = stop


def _vmemmap_stack(mb: Memblock, nid: int, tables: dict[str, RangeSet], v: int, vend: int, last: tuple[int, int, int],
                   allocations: list) -> int:
    """Place as much of the vmemmap [v, vend) of a node at once as would go
    where step-by-step allocation puts it.  ``last`` is a step placed by real
    calls: its table pages went to the highest free pages of the node (so
    nothing above them is free) and its blocks to the highest free 2 MiB
    (so no whole free 2 MiB is left above them).  Each later table page is
    then the next free page below the last one, and each block the next
    2 MiB below the last -- while the free pages right below the table pages
    last and the memory below the blocks is free, in the node, above
    16 MiB.  Reserves both stretches; returns where the vmemmap left to
    place starts (``v`` if nothing was placed)."""
    table_low, block_low, block_end = last
    if not block_end <= table_low or v & (PUD_SIZE - 1):
        return v
    below_blocks, below_tables = mb.memory_region(block_low - 1), mb.memory_region(table_low - 1)
    if below_blocks is None or below_tables is None or below_blocks.nid != nid or below_tables.nid != nid:
        return v
    reserved_ends = [r.base + r.size for r in mb.reserved.regions if r.size]
    floor = max([below_blocks.base, MAX_DMA_ADDRESS] + [e for e in reserved_ends if e <= block_low])
    if any(r.size and r.base < block_low and r.base + r.size > floor for r in mb.reserved.regions):
        return v
    top = max([below_tables.base, block_end] + [e for e in reserved_ends if e <= table_low])
    if any(r.size and r.base < table_low and r.base + r.size > top for r in mb.reserved.regions):
        return v
    room = (table_low - top) // PAGE  # free pages right below the table pages
    # the most whole 1 GiB steps (or up to vend) whose blocks fit above floor and whose tables fit the hole
    end = min(vend, v + (block_low - floor) // PMD_SIZE * PMD_SIZE)
    steps = -(-(end - v) // PUD_SIZE)

    def cut(k: int) -> int:
        return min(end, v + k * PUD_SIZE)

    def need(k: int) -> tuple[int, dict]:
        trial = dict(tables)
        return _vmemmap_tables_for(trial, v, cut(k)), trial

    lo, hi = 0, steps
    while lo < hi:  # the largest k whose tables fit
        mid = (lo + hi + 1) // 2
        if need(mid)[0] <= room:
            lo = mid
        else:
            hi = mid - 1
    if not lo:
        return v
    stop = cut(lo)
    if stop != vend and stop & (PUD_SIZE - 1):
        stop = v + (stop - v) // PUD_SIZE * PUD_SIZE  # whole steps only, unless it ends the run
        if stop == v:
            return v
    n_tables, trial = need(-(-(stop - v) // PUD_SIZE))
    n_blocks = (stop - v) // PMD_SIZE
    if n_tables:
        mb._reserve_alloc(table_low - n_tables * PAGE, n_tables * PAGE, nid)
        allocations.append((f"vmemmap page tables ({n_tables})", table_low - n_tables * PAGE, n_tables * PAGE))
    mb._reserve_alloc(block_low - n_blocks * PMD_SIZE, n_blocks * PMD_SIZE, nid)
    allocations.append((f"vmemmap blocks ({n_blocks})", block_low - n_blocks * PMD_SIZE, n_blocks * PMD_SIZE))
    tables.update(trial)
    return stop


def _dma_reserve(mb: Memblock) -> int:
    dma_pfn = MAX_DMA_ADDRESS >> PAGE_SHIFT
    pages = sum(min(e, dma_pfn) - min(s, dma_pfn) for s, e, _ in mb.mem_pfn_ranges())
    free = 0
    for start, end, _ in mb.free_ranges(NUMA_NO_NODE):
        s, e = min(-(-start >> PAGE_SHIFT), dma_pfn), min(end >> PAGE_SHIFT, dma_pfn)
        if s < e:
            free += e - s
    return pages - free


def logical_cpu_apic(machine: Machine, cpu: int) -> int | None:
    """APIC id of the first kernel's logical CPU ``cpu`` (the boot CPU is 0, the
    others follow in firmware order), None if the machine lists no such CPU."""
    order = _boot_first(machine)
    return order[cpu].apic if 0 <= cpu < len(order) else None


def _boot_first(machine: Machine) -> list[CpuAffinity]:
    boot = [c for c in machine.cpus if c.apic == machine.boot_apic][:1]
    return boot + [c for c in machine.cpus if c.apic != machine.boot_apic]


def possible_cpus(machine: Machine) -> list[CpuAffinity]:
    """The possible CPUs in logical order: generic_processor_info() ignores a
    CPU once ``nr_cpu_ids - 1`` are taken unless it is the boot CPU, and any
    once ``nr_cpu_ids`` are."""
    nr = machine.command_line.leading_number("nr_cpus")  # kernel/smp.c nrcpus(): get_option()
    cpus = _boot_first(machine)
    if nr == 1 and not cpus:
        # nr_cpus=1 (a kdump kernel): one possible CPU, the boot CPU, whether or not the log named the
        # CPUs (6.x prints the SRAT's processor lines at KERN_DEBUG).  Its node decides where its per-CPU
        # chunk goes only among nodes with memory: with one such node, that node's memory serves it.
        ram = [e for e in machine.e820 if int(e.type) == 1]
        nodes = {a.node for a in machine.numa if any(a.range.start < e.addr + e.size and e.addr < a.range.end for e in ram)}
        if len(nodes) <= 1:
            node = next(iter(nodes), 0)
            return [CpuAffinity(machine.boot_apic or 0, node, next((a.pxm for a in machine.numa if a.node == node), 0))]
        return cpus
    if nr is None or nr <= 0 or nr >= len(cpus):
        return cpus
    # the boot CPU and the first nr - 1 others in MADT order
    return cpus[:nr]


def late_node_data(machine: Machine, profile: KernelProfile, mb: Memblock, node_data: dict[int, int], nd_size: int,
                   sizes: dict[str, int], from_srat: bool, e820: list | None = None, firmware_entries: int = 0,
                   max_pfn: int = 0) -> LateNodes:
    """Model paging_init() to the end of setup_arch() on ``mb`` (after NODE_DATA
    and the crashkernel reservation) and return what init_cpu_to_node() and
    e820__register_nosave_regions() print.

    sparse_init() and the HPET resource are always replayed (the hand-off
    needs them); with ``e820`` (the kernel's table), so is the end of
    setup_arch() (:func:`setup_arch_resources`).  Eras with
    ``memmap.sparse_init_in_start_kernel`` (7.x) run sparse_init() and the rest of
    free_area_init() after all that, from start_kernel() ->
    mm_core_init_early() (mm/mm_init.c).  Only eras without
    ``numa.memoryless_initmem_as_memoryless`` (5.10) print NODE_DATA lines here;
    without SRAT processor affinities, or for a kdump kernel whose crashing
    CPU is unknown, they are not predicted and a note says why.
    """
    out = LateNodes()
    out.dma_reserve = _dma_reserve(mb)
    if not profile.memmap.sparse_init_in_start_kernel:
        _free_area_init(machine, profile, mb, node_data, sizes, from_srat, out)
    if machine.acpi_tables is None or "HPET" in machine.acpi_tables:
        size = sizes["resource"] + HPET_RESOURCE_NAME_SIZE
        out.allocations.append(("hpet_res", mb.alloc(size, SMP_CACHE_BYTES), size))
    if e820 is not None:
        # acpi_boot_init() -> acpi_parse_bgrt() -> efi_bgrt_init() -> efi_mem_reserve(), after acpi_parse_hpet()
        e820 = out.e820 = efi_late_reserves(mb, machine, profile, e820, out.allocations, out.notes)
    _init_cpu_to_node(machine, profile, mb, node_data, nd_size, from_srat, out)
    if e820 is not None:
        nosave = setup_arch_resources(machine, profile, mb, e820, firmware_entries, max_pfn, sizes, out.allocations, out.notes)
        out.lines += [("nosave", t) for t in nosave]
    if profile.memmap.sparse_init_in_start_kernel:
        _free_area_init(machine, profile, mb, node_data, sizes, from_srat, out)
    return out


def _free_area_init(machine: Machine, profile: KernelProfile, mb: Memblock, node_data: dict[int, int],
                    sizes: dict[str, int], from_srat: bool, out: LateNodes) -> None:
    """What free_area_init() allocates: sparse_init(), then (6.1+) a pg_data_t
    for each possible node without memory; and the free pages it counts."""
    sparse_init(mb, node_data, sizes, out.allocations, out.notes, profile)
    if profile.numa.memoryless_initmem_as_memoryless and from_srat:
        # free_area_init(): every possible node that is not online gets its
        # pg_data_t here ("Initializing node %d as memoryless"):
        # arch_alloc_nodedata() = memblock_alloc(sizeof(pg_data_t), SMP_CACHE_BYTES)
        possible = {a.node for a in machine.numa} | {c.node for c in machine.cpus}
        for nid in sorted(possible - set(node_data)):
            out.allocations.append((f"pg_data_t of memoryless node {nid}", mb.alloc(sizes["pglist_data"], SMP_CACHE_BYTES),
                                    sizes["pglist_data"]))
    out.free_after_sparse = sum(max(0, (e >> PAGE_SHIFT) - (-(-s >> PAGE_SHIFT))) for s, e, _ in mb.free_ranges(NUMA_NO_NODE))


def _init_cpu_to_node(machine: Machine, profile: KernelProfile, mb: Memblock, node_data: dict[int, int], nd_size: int,
                      from_srat: bool, out: LateNodes) -> None:
    """5.10's init_cpu_to_node(): NODE_DATA for possible CPUs' offline nodes."""
    if profile.numa.memoryless_initmem_as_memoryless or not from_srat:
        return  # free_area_init() handles memoryless nodes / no CPU has a node
    if not machine.cpus:
        out.notes.append("SRAT processor affinities unknown: NODE_DATA of memoryless CPU nodes (init_cpu_to_node) not predicted")
        return
    if machine.boot_apic is None:
        out.notes.append("the CPU this kernel boots on is unknown (a kdump kernel: pass the CPU that crashed): "
                         "init_cpu_to_node() not predicted")
        return
    online = set(node_data)
    for cpu in possible_cpus(machine):
        if cpu.node in online:
            continue
        if machine.acpi_tables is None and not out.lines:
            out.notes.append("ACPI tables unknown: an HPET table is assumed (acpi_parse_hpet() allocates its resource)")
        addr, lines = alloc_node_data(mb, cpu.node, nd_size)
        out.lines += [("numa", t) for t in lines]
        if not addr:
            # free_area_init_memoryless_node() would then use a NULL pg_data_t
            out.notes.append(f"NODE_DATA({cpu.node}) cannot be allocated: the kernel oopses in free_area_init_node()")
            break
        out.allocations.append((f"NODE_DATA({cpu.node})", addr, nd_size))
        online.add(cpu.node)  # node_set_online()
        # free_area_init_node(): get_pfn_range_for_nid() finds no memory: 0, 0
        out.lines.append(("initmem", f"Initmem setup node {cpu.node} [mem {0:#018x}-{0:#018x}]"))


#: e820_type_to_string(), v5.x-7.x.
IOMEM_NAMES = {
    E820Type.RAM: "System RAM",
    E820Type.RESERVED_KERN: "System RAM",
    E820Type.ACPI: "ACPI Tables",
    E820Type.NVS: "ACPI Non-volatile Storage",
    E820Type.UNUSABLE: "Unusable memory",
    E820Type.PRAM: "Persistent Memory (legacy)",
    E820Type.PMEM: "Persistent Memory",
    E820Type.SOFT_RESERVED: "Soft Reserved",
    E820Type.RESERVED: "Reserved",
}




def iomem_resources(e820: list, children: list[tuple[str, int, int]]) -> list[tuple[int, int, int, str]]:
    """/proc/iomem's memory part: ``e820__reserve_resources()`` makes one
    top-level resource per e820 entry named by e820_type_to_string(), and the
    kernel image (Kernel code/rodata/data/bss) and the crash regions nest under
    their System RAM entry.  Returns ``(depth, start, end, name)`` in r_show() order."""
    out: list[tuple[int, int, int, str]] = []
    for e in sorted((e for e in e820 if e.size), key=lambda e: e.addr):
        end = e.addr + e.size
        out.append((0, e.addr, end, IOMEM_NAMES.get(e.type, "Unknown E820 type")))
        if IOMEM_NAMES.get(e.type) != "System RAM":
            continue
        for name, a, b in sorted(children, key=lambda c: c[1]):
            if e.addr <= a and b <= end:
                out.append((1, a, b, name))
    return out
