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
the era's profile says which applies: ``memoryless_initmem_as_memoryless``.

Where that NODE_DATA lands depends on everything memblock handed out since the
first NODE_DATA, in this order (read in Debian's 5.10.223 source):

1. ``reserve_crashkernel()`` (first kernel only; :mod:`earlymem.crashkernel`);
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
5. ``init_cpu_to_node()``.

Assumed and stated: 4-level paging (``MAX_PHYSMEM_BITS`` 46), the vmemmap
base PGD-aligned and not randomized (``nokaslr``), CPUs with PSE, the MADT
listing CPUs in the order SRAT does, no generic-initiator nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, Memblock
from earlymem.kernels import KernelProfile
from earlymem.machine import CpuAffinity, Machine
from earlymem.ranges import Range, RangeSet
from earlymem.x86_64 import MAX_DMA_ADDRESS, PAGE, PAGE_SHIFT, PGDIR_SHIFT, PMD_SIZE, PUD_SHIFT, SMP_CACHE_BYTES

__all__ = ["LateNodes", "late_node_data", "possible_cpus", "logical_cpu_apic", "sparse_init", "alloc_node_data"]

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
    #: whole free pages in memblock after sparse_init() (6.10+
    #: calc_nr_kernel_pages(), called from free_area_init())
    free_after_sparse: int = 0


def alloc_node_data(mb: Memblock, nid: int, nd_size: int) -> tuple[int, list[str]]:
    """arch/x86/mm/numa.c alloc_node_data(): ``memblock_phys_alloc_try_nid(nd_size,
    SMP_CACHE_BYTES, nid)`` and its lines; the address is 0 when it failed."""
    addr = mb.alloc_range_nid(nd_size, SMP_CACHE_BYTES, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, False)
    if not addr:
        return 0, [f"Cannot find {nd_size} bytes in any node (initial node: {nid})"]
    lines = [f"NODE_DATA({nid}) allocated [mem {addr:#010x}-{addr + nd_size - 1:#010x}]"]
    tnid = _early_pfn_to_nid(mb, addr)
    if tnid != nid:
        lines.append(f"    NODE_DATA({nid}) on node {tnid}")
    return addr, lines


def _early_pfn_to_nid(mb: Memblock, addr: int) -> int:
    return next((r.nid for r in mb.memory if r.base <= addr < r.end), NUMA_NO_NODE)


def sparse_init(mb: Memblock, node_data: dict[int, int], sizes: dict[str, int], allocations: list[tuple[str, int, int]],
                notes: list[str]) -> None:
    """mm/sparse.c sparse_init() as 5.10 runs it, on ``mb``.

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
    usage_size = sizes["mem_section_usage"] + _usemap_size()
    map_size = -(-sizes["page"] * PAGES_PER_SECTION // PMD_SIZE) * PMD_SIZE  # section_map_size()
    tables: dict[str, RangeSet] = {}
    for nid, secs in runs:
        _sparse_init_nid(mb, nid, secs, node_data, usage_size, map_size, sizes["page"], tables, allocations, notes)


def _usemap_size() -> int:
    """usemap_size(): BITS_TO_LONGS(SECTION_BLOCKFLAGS_BITS) * sizeof(long)."""
    bits = (1 << (PFN_SECTION_SHIFT - PAGEBLOCK_ORDER)) * NR_PAGEBLOCK_BITS
    return -(-bits // 64) * 8


def _sparse_init_nid(mb: Memblock, nid: int, secs: list[tuple[int, int]], node_data: dict[int, int], usage_size: int,
                     map_size: int, page_size: int, tables: dict[str, RangeSet], allocations: list, notes: list[str]) -> None:
    count = sum(e - s for s, e in secs)
    # sparse_early_usemaps_alloc_pgdat_section(): near the node's pg_data_t
    pgdat = node_data.get(nid)
    if pgdat is None:
        notes.append(f"node {nid} has sections but no pg_data_t: its usemaps are not modelled")
        return
    goal = pgdat & ~((1 << SECTION_SIZE_BITS) - 1)
    limit = goal + (1 << SECTION_SIZE_BITS)
    unid = _early_pfn_to_nid(mb, goal)
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
    def tables_for(lo: int, hi: int) -> int:
        """Pages for the PGD entries (PUD tables) and PUD entries (PMD tables)
        of vmemmap [lo, hi) that have none yet."""
        n = 0
        for level, shift in (("PUD", PGDIR_SHIFT), ("PMD", PUD_SHIFT)):
            idx = Range(lo >> shift, ((hi - 1) >> shift) + 1)
            have = tables.get(level, RangeSet())
            n += idx.size - have.intersect([idx]).total
            tables[level] = have.union([idx])
        return n

    def table_pages(n: int) -> None:
        # vmemmap_alloc_block_zero() -> memblock_alloc_try_nid_raw(PAGE_SIZE, PAGE_SIZE, 16 MiB, ACCESSIBLE, node), in a row
        if n:
            for addr, k in mb.alloc_try_nid_repeat(n, PAGE, PAGE, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid):
                allocations.append((f"vmemmap page tables ({k})", addr - (k - 1) * PAGE if addr else 0, k * PAGE))

    for first, end in secs:
        # __populate_section_memmap() -> vmemmap_populate_hugepages(), PMD by
        # PMD: a page for each empty PGD entry (its PUD table) and PUD entry
        # (its PMD table), then 2 MiB of struct pages from the buffer
        vstart = (first << PFN_SECTION_SHIFT) * page_size
        vend = (end << PFN_SECTION_SHIFT) * page_size
        pmds = (vend - vstart) // PMD_SIZE
        if pmds * PMD_SIZE <= left:  # all from the buffer: only table pages are allocated
            table_pages(tables_for(vstart, vend))
            left -= pmds * PMD_SIZE
            continue
        for v in range(vstart, vend, PMD_SIZE):  # the buffer runs out: block by block
            table_pages(tables_for(v, v + PMD_SIZE))
            if left >= PMD_SIZE:
                left -= PMD_SIZE
                continue
            block = mb.alloc_try_nid(PMD_SIZE, PMD_SIZE, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid)
            allocations.append(("vmemmap block", block, PMD_SIZE))
    if buf and left:  # sparse_buffer_fini()
        mb.phys_free(buf + count * map_size - left, left)


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
    if nr is None or nr <= 0 or nr >= len(cpus):
        return cpus
    # the boot CPU and the first nr - 1 others in MADT order
    return cpus[:nr]


def late_node_data(machine: Machine, profile: KernelProfile, mb: Memblock, node_data: dict[int, int], nd_size: int,
                   sizes: dict[str, int], from_srat: bool) -> LateNodes:
    """Model paging_init() to init_cpu_to_node() on ``mb`` (after NODE_DATA and
    the crashkernel reservation) and return what init_cpu_to_node() prints.

    sparse_init() and the HPET resource are always replayed (the hand-off
    needs them).  Only eras without ``memoryless_initmem_as_memoryless``
    (5.10) print anything; without SRAT processor affinities, or for a kdump
    kernel whose crashing CPU is unknown, nothing is predicted and a note says why.
    """
    out = LateNodes()
    out.dma_reserve = _dma_reserve(mb)
    sparse_init(mb, node_data, sizes, out.allocations, out.notes)
    if profile.memoryless_initmem_as_memoryless and from_srat:
        # free_area_init(): every possible node that is not online gets its
        # pg_data_t here ("Initializing node %d as memoryless"):
        # arch_alloc_nodedata() = memblock_alloc(sizeof(pg_data_t), SMP_CACHE_BYTES)
        possible = {a.node for a in machine.numa} | {c.node for c in machine.cpus}
        for nid in sorted(possible - set(node_data)):
            out.allocations.append((f"pg_data_t of memoryless node {nid}", mb.alloc(sizes["pglist_data"], SMP_CACHE_BYTES),
                                    sizes["pglist_data"]))
    out.free_after_sparse = sum(max(0, (e >> PAGE_SHIFT) - (-(-s >> PAGE_SHIFT))) for s, e, _ in mb.free_ranges(NUMA_NO_NODE))
    if machine.acpi_tables is None or "HPET" in machine.acpi_tables:
        size = sizes["resource"] + HPET_RESOURCE_NAME_SIZE
        out.allocations.append(("hpet_res", mb.alloc(size, SMP_CACHE_BYTES), size))
    if profile.memoryless_initmem_as_memoryless or not from_srat:
        return out  # free_area_init() handles memoryless nodes / no CPU has a node
    if not machine.cpus:
        out.notes.append("SRAT processor affinities unknown: NODE_DATA of memoryless CPU nodes (init_cpu_to_node) not predicted")
        return out
    if machine.boot_apic is None:
        out.notes.append("the CPU this kernel boots on is unknown (a kdump kernel: pass the CPU that crashed): "
                         "init_cpu_to_node() not predicted")
        return out
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
    return out
