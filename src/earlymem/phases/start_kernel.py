"""start_kernel() from setup_arch() to memblock_free_all(): the per-CPU first
chunk, the early hash tables and the swiotlb bounce buffer (in that order,
after setup_command_line()'s two copies, which earlymem.pipeline reserves).

setup_per_cpu_areas() -> pcpu_embed_first_chunk(): :func:`percpu_first_chunk`.

vfs_caches_init_early() (fs/dcache.c, fs/inode.c) sizes the dentry and inode
hash tables with ``alloc_large_system_hash()`` (mm/page_alloc.c in 5.10,
mm/mm_init.c later; :func:`hash_tables`) and, when hashdist is 0 -- one node
with memory (page_alloc_init() / free_area_init()) or ``hashdist=0`` --
takes them from memblock (``memblock_alloc(size, SMP_CACHE_BYTES)``, HASH_EARLY
| HASH_ZERO) printing ``... (linear)``; otherwise dcache_init()/inode_init()
vmalloc them later (``vmalloc``).  Their size follows nr_kernel_pages: to
6.9 the zones' present pages less a memmap estimate (calc_memmap_size()) and,
for ZONE_DMA, dma_reserve; from 6.10 (Baoquan He's series, "mm/mm_init.c: add
new function calc_nr_kernel_pages()") the whole free pages memblock has at
free_area_init() -- the profile's ``memmap.nr_kernel_pages_from_memblock``.

arch/x86/mm/init_64.c mem_init() -> pci_iommu_alloc(): with more than 4 GiB
of possible memory (``max_possible_pfn > MAX_DMA32_PFN``, unless
``iommu=off``; ``iommu=soft`` forces it) ``pci_swiotlb_detect_4gb()`` turns
swiotlb on and ``swiotlb_init()`` (kernel/dma/swiotlb.c, read in Debian's
5.10.223) takes ``io_tlb_nslabs << IO_TLB_SHIFT`` bytes -- 64 MiB by default,
``swiotlb=N`` slabs of 2 KiB rounded up to IO_TLB_SEGSIZE (128) -- with
``memblock_alloc_low(PAGE_ALIGN(bytes), PAGE_SIZE)`` (top down below 4 GiB),
then its bookkeeping with ``memblock_alloc(..., PAGE_SIZE)``: 5.10 an int and
a phys_addr_t per slab (io_tlb_list, io_tlb_orig_addr); 6.x one ``struct
io_tlb_slot`` (24 bytes) per slab and, cache-line aligned, the areas array.
It prints ``software IO TLB: mapped [mem %pa-%pa] (%luMB)`` (the end is
``io_tlb_end``, one past the buffer).

Between the per-CPU areas and the hash tables, setup_per_cpu_areas() ends
with the node and local cpumasks (:func:`cpumasks`).  Everything memblock
hands out from e820__memblock_setup() to the hand-off is checked byte for
byte against real kernels' ``memblock=debug`` traces
(tests/test_memblock_trace.py).
"""

from __future__ import annotations

import functools
from fractions import Fraction

from dataclasses import dataclass, field

from earlymem.allocators.memblock import (
    MEMBLOCK_ALLOC_ACCESSIBLE,
    NUMA_NO_NODE,
    Memblock,
)
from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.x86_64 import (
    MAX_DMA32_PFN,
    MAX_DMA_ADDRESS,
    PAGE,
    PMD_SIZE,
    SMP_CACHE_BYTES,
)
from earlymem.machine import Machine

__all__ = ["StartKernel", "start_kernel", "swiotlb_init", "hash_tables", "nr_kernel_pages", "percpu_first_chunk",
           "cpu_entry_area_tables", "cea_table_pages", "CEA_MAP_SIZE"]

IO_TLB_SHIFT = 11
IO_TLB_SEGSIZE = 128
IO_TLB_DEFAULT_SIZE = 64 << 20
#: kernel/dma/swiotlb.c: IO_TLB_MIN_SLABS (1 MiB of slabs), sizeof(struct io_tlb_area)
#: (used, index, lock: 16 in the traces: swiotlb_init_remap(64) with 4 areas)
IO_TLB_MIN_SLABS = (1 << 20) >> 11
IO_TLB_AREA_BYTES = 16
ARCH_LOW_ADDRESS_LIMIT = 0xFFFFFFFF


@dataclass
class StartKernel:
    """What start_kernel() prints up to the hand-off (and after it, the frees)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: why the pages are not known when the CPU entry areas' page tables are a draw earlymem
    #: does not compute (more than two CPUs under KASLR, 6.2+); None: known
    cea_unknown: str | None = None
    #: ``(what, base, size)`` of start_kernel()'s own allocations, in order
    allocations: list[tuple[str, int, int]] = field(default_factory=list)
    #: swiotlb_print_info()'s "mapped" line, printed later from pci_iommu_init()
    #: (earlymem.phases.kernel_init orders it among the frees); None: not predicted
    mapped: str | None = None


def start_kernel(machine: Machine, profile: KernelProfile, build: KernelBuild, nodes, setup, late, cpus: list,
                 zones: list) -> StartKernel:
    """start_kernel() from setup_arch() to memblock_free_all(), on setup.memblock,
    in kernel order -- setup_command_line()'s two copies (init/main.c, 5.10:
    saved_command_line and static_command_line), setup_per_cpu_areas(),
    vfs_caches_init_early(), trap_init(), mem_init()'s swiotlb.

    :param build: the build's facts (static per-CPU area, struct sizes).

    :param late: earlymem.phases.paging_init.LateNodes (dma_reserve, free pages after sparse_init()).
    :param cpus: the possible CPUs (earlymem.phases.paging_init.possible_cpus()); empty when unknown.
    :param zones: every zone of every online node (earlymem.phases.free_area_init).
    """
    out = StartKernel()
    mb, allocs = setup.memblock, out.allocations
    cmd_len = len(machine.command_line.text) + 1
    for _ in range(2):
        allocs.append(("command line copy", mb.alloc(cmd_len, SMP_CACHE_BYTES), cmd_len))
    if cpus:
        cpu_nodes = [c.node if nodes.from_srat else 0 for c in cpus]
        out.lines += [("percpu", t) for t in percpu_first_chunk(build.struct_sizes, mb, cpu_nodes, set(setup.node_data),
                                                                 allocs, profile.start.pcpu_chunk_lists)]
        cpumasks(machine, profile, mb, len(cpus), allocs)
    else:
        out.notes.append("the possible CPUs are unknown: the per-CPU first chunk is not reserved (managed pages a little high)")
    with_memory = {r.nid for r in mb.memory if r.size}
    nr_kernel, nr_all = nr_kernel_pages(profile, zones, late.dma_reserve, late.free_after_sparse)
    value = machine.command_line.get("hashdist")
    hashdist = len(with_memory) > 1 if value is None else value not in ("0", "")
    # num_online_nodes() then: the online nodes ``zones`` covers (from 6.1 the
    # possible CPUs' nodes too: arch/x86/mm/numa.c init_cpu_to_node() sets them online)
    hashes = hash_tables(machine, profile, mb, nr_kernel, nr_all, not hashdist, allocs, len({z.nid for z in zones}))
    if hashdist and not cpus and profile.start.hash_vmalloc_huge == "per-node":
        # CPU-only nodes would count: the "vmalloc hugepage" suffix is not predicted
        hashes = [t for t in hashes if t.endswith("bytes, linear)")]
        out.notes.append("the possible CPUs are unknown: the vmalloc'd hash tables' lines are not predicted")
    out.lines += [("hash", t) for t in hashes]
    if cpus:
        cea = None
        if profile.start.cea_random and not machine.command_line.flag("nokaslr"):
            # init_cea_offsets() scattered the entry areas: the pages are the machine's
            # (earlymem.kaslr enumerates them), else the most probable count
            dist = cea_table_pages(build.struct_sizes["cpu_entry_area"], len(cpus))
            if machine.cea_pages is not None:
                cea = machine.cea_pages
            elif dist is None:
                out.cea_unknown = (f"KASLR scatters the {len(cpus)} CPUs' entry areas (6.2+): the page tables they take vary "
                                   "by boot, and earlymem computes their distribution for one or two CPUs only")
            else:
                cea, p = max(dist.items(), key=lambda kv: kv[1])
                others = ", ".join(f"{n} in {float(q) * 100:.1f}%" for n, q in dist.items() if n != cea)
                out.notes.append(f"KASLR puts the CPU entry area at a random place (6.2+): its page tables take {cea} pages in "
                                 f"{float(p) * 100:.1f}% of boots ({others}); predicted with {cea}")
        cpu_entry_area_tables(build.struct_sizes, mb, len(cpus), allocs, cea)
    # max_possible_pfn: max_pfn, raised by every SRAT memory affinity to
    # PFN_UP(end - 1) (drivers/acpi/numa/srat.c acpi_numa_memory_affinity_init())
    srat = machine.numa if machine.command_line.get("numa") != "off" else []
    possible = max([nodes.max_pfn] + [-(-(a.range.end - 1) >> 12) for a in srat])
    tlb, mapped = swiotlb_init(machine, profile, mb, possible, allocs, len(cpus) or None)
    if not cpus and mapped:
        # the per-CPU chunk was not reserved: where the buffer lands is not known
        mapped = None
        out.notes.append("the possible CPUs are unknown: the swiotlb buffer's place is not predicted")
    out.lines += [("swiotlb", t) for t in tlb]
    out.mapped = mapped
    return out


def _page_align(n: int) -> int:
    return -(-n // PAGE) * PAGE


def _pow2_up(n: int) -> int:
    return 1 << (n - 1).bit_length() if n > 1 else 1


def swiotlb_init(machine: Machine, profile: KernelProfile, mb: Memblock, max_possible_pfn: int,
                 allocations: list[tuple[str, int, int]], ncpus: int | None = 1) -> tuple[list[str], str | None]:
    """Reserve the bounce buffer on ``mb``; returns the lines swiotlb_init()
    prints and the ``mapped [mem ...]`` line swiotlb_print_info() prints
    later (None when there is no buffer).

    ``ncpus``: num_possible_cpus() (None: unknown -- one area is assumed and
    its line not printed), which sizes 6.x's areas: swiotlb_adjust_nareas()
    (kernel/dma/swiotlb.c, Debian 6.1.176/6.12.117/7.2.13) takes
    ``swiotlb=,N`` or the possible CPUs, rounded up to a power of two, prints
    ``area num N.`` and, where the slabs then need it, rounds them up (at
    least IO_TLB_SEGSIZE per area, else the next power of two: ``SWIOTLB
    bounce buffer size roundup to %luMB``); swiotlb_init_remap() halves the
    slabs while the buffer cannot be had (down to IO_TLB_MIN_SLABS, 1 MiB),
    and limit_nareas() keeps IO_TLB_SEGSIZE slabs an area.  (6.1 sizes the
    areas array by the unlimited count; the two differ only below
    IO_TLB_SEGSIZE slabs a CPU.)"""
    cmd = machine.command_line
    iommu = cmd.get("iommu") or ""
    if "off" in iommu.split(","):
        return [], None
    if not (max_possible_pfn > MAX_DMA32_PFN or "soft" in iommu.split(",")):
        return [], None
    nslabs = IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT
    given = cmd.leading_number("swiotlb")  # setup_io_tlb_npages(): a leading number of slabs
    if given:
        nslabs = -(-given // IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE
    lines: list[str] = []
    if not profile.start.swiotlb_slot_bytes:  # 5.10: one try, io_tlb_list and io_tlb_orig_addr
        size = nslabs << IO_TLB_SHIFT
        start = mb.alloc_try_nid(_page_align(size), PAGE, 0, ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE)
        if not start:
            return ["Cannot allocate buffer"], None
        allocations.append(("swiotlb", start, _page_align(size)))
        for n in (_page_align(nslabs * 4), _page_align(nslabs * 8)):
            allocations.append(("swiotlb bookkeeping", mb.alloc_try_nid(n, PAGE, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE), n))
        return [], _mapped_line(start, size)
    # swiotlb=[nslabs][,nareas]: the area count after the first comma
    value = cmd.get("swiotlb") or ""
    rest = value.split(",", 1)[1] if "," in value else ""
    digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
    nareas = _pow2_up(int(digits)) if digits and int(digits) else (1 if digits else _pow2_up(ncpus or 1))
    if digits or ncpus is not None:
        lines.append(f"software IO TLB: area num {nareas}.")
    # round_up_default_nslabs()
    if nslabs < IO_TLB_SEGSIZE * nareas or nslabs & (nslabs - 1):
        nslabs = _pow2_up(max(nslabs, IO_TLB_SEGSIZE * nareas))
        lines.append(f"software IO TLB: SWIOTLB bounce buffer size roundup to {(nslabs << IO_TLB_SHIFT) >> 20}MB")
    default = nslabs

    def limit(n: int) -> int:
        return nslabs // IO_TLB_SEGSIZE if nslabs < n * IO_TLB_SEGSIZE else n

    used = limit(nareas)
    while True:
        size = _page_align(nslabs << IO_TLB_SHIFT)
        start = mb.alloc_try_nid(size, PAGE, 0, ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE)
        if start:
            break
        lines.append(f"software IO TLB: swiotlb_memblock_alloc: Failed to allocate {size} bytes tlb structure")
        if nslabs <= IO_TLB_MIN_SLABS:
            return lines, None
        nslabs = -(-(nslabs >> 1) // IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE
        used = limit(used)
    if nslabs != default:
        lines.append(f"software IO TLB: SWIOTLB bounce buffer size adjusted {default} -> {nslabs} slabs")
    allocations.append(("swiotlb", start, size))
    for n, align in ((_page_align(nslabs * profile.start.swiotlb_slot_bytes), PAGE), (IO_TLB_AREA_BYTES * used, SMP_CACHE_BYTES)):
        allocations.append(("swiotlb bookkeeping", mb.alloc_try_nid(n, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE), n))
    return lines, _mapped_line(start, nslabs << IO_TLB_SHIFT)


def _mapped_line(start: int, size: int) -> str:
    """swiotlb_print_info(): the buffer, its end being io_tlb_end (one past it)."""
    return f"software IO TLB: mapped [mem {start:#018x}-{start + size:#018x}] ({size >> 20}MB)"


#: mm/page_alloc.c alloc_large_system_hash(): ADAPT_SCALE_BASE (64 GiB) in pages, and its shift
ADAPT_SCALE_NPAGES = (64 << 30) >> 12
ADAPT_SCALE_SHIFT = 2
#: fs/dcache.c and fs/inode.c: (name, bucket size, scale, command-line parameter)
HASH_TABLES = (("Dentry cache", 8, 13, "dhash_entries"), ("Inode-cache", 8, 14, "ihash_entries"))


def nr_kernel_pages(profile: KernelProfile, zones, dma_reserve: int, free_after_sparse: int) -> tuple[int, int]:
    """``(nr_kernel_pages, nr_all_pages)`` as free_area_init() leaves them.

    :param zones: earlymem.phases.free_area_init.ZoneSize of every online node.
    """
    if profile.memmap.nr_kernel_pages_from_memblock:
        return free_after_sparse, free_after_sparse
    total = 0
    for z in zones:
        # free_area_init_core(): calc_memmap_size(), then dma_reserve for zone 0
        pages = z.present if z.spanned > z.present + (z.present >> 4) else z.spanned
        memmap = _page_align(pages * 64) // PAGE
        free = z.present
        if free >= memmap:
            free -= memmap
        if z.name == "DMA" and free > dma_reserve:
            free -= dma_reserve
        total += free
    return total, total


def hash_tables(machine: Machine, profile: KernelProfile, mb: Memblock, nr_kernel: int, nr_all: int, early: bool,
                allocations: list[tuple[str, int, int]], online_nodes: int = 1) -> list[str]:
    """The dentry and inode hash tables: their lines, and (``early``) their memblock allocations.

    Not early (hashdist: more than one node with memory), alloc_large_system_hash()
    vmallocs the table; from 6.1 with vmalloc_huge() (mm/mm_init.c), whose
    __vmalloc_node_range() (mm/vmalloc.c) maps it with 2 MiB pages -- "vmalloc
    hugepage" -- when the size is at least PMD_SIZE: per online node in 6.1 and
    6.12 (``size / num_online_nodes()``, the allocation being NUMA_NO_NODE),
    as a whole in 7.2 (profile ``start.hash_vmalloc_huge``).  On a fresh system the
    2 MiB pages are there; a failure would fall back to small pages."""
    lines = []
    for name, bucket, scale, param in HASH_TABLES:
        numentries = machine.command_line.leading_number(param) or 0  # __setup(): simple_strtoul()
        if not numentries:
            numentries = -(-nr_kernel // 256) * 256  # round up to 1 MiB of pages
            adapt = ADAPT_SCALE_NPAGES
            while adapt < numentries:
                scale += 1
                adapt <<= ADAPT_SCALE_SHIFT
            numentries = numentries >> (scale - 12) if scale > 12 else numentries << (12 - scale)
            if numentries * bucket < PAGE:
                numentries = PAGE // bucket
        numentries = 1 << (numentries - 1).bit_length() if numentries > 1 else 1  # roundup_pow_of_two()
        limit = min((nr_all << 12 >> 4) // bucket, 0x80000000)
        numentries = min(numentries, limit) if limit else numentries
        log2qty = numentries.bit_length() - 1
        size = bucket << log2qty
        if early:
            addr = mb.alloc(size, SMP_CACHE_BYTES)
            allocations.append((f"{name} hash table", addr, size))
        how = "linear" if early else "vmalloc"
        per = size // max(online_nodes, 1) if profile.start.hash_vmalloc_huge == "per-node" else size
        if not early and profile.start.hash_vmalloc_huge != "no" and per >= PMD_SIZE:
            how = "vmalloc hugepage"
        lines.append(f"{name} hash table entries: {1 << log2qty} (order: {size.bit_length() - 1 - 12}, {size} bytes, {how})")
    return lines


#: include/linux/percpu.h: PERCPU_MODULE_RESERVE, PERCPU_DYNAMIC_RESERVE (64-bit), PERCPU_DYNAMIC_EARLY_SIZE
PERCPU_MODULE_RESERVE = 8 << 10
PERCPU_DYNAMIC_RESERVE = 28 << 10
PERCPU_DYNAMIC_EARLY_SIZE = 12 << 10
PCPU_MIN_UNIT_SIZE = 32 << 10
def cpumasks(machine: Machine, profile: KernelProfile, mb: Memblock, nr_cpu_ids: int,
             allocations: list[tuple[str, int, int]]) -> None:
    """The end of setup_per_cpu_areas() (arch/x86/kernel/setup_percpu.c):
    setup_node_to_cpumask_map() (arch/x86/mm/numa.c) gives each node below
    nr_node_ids a cpumask, then setup_cpu_local_masks() its own
    (``profile.start.cpu_local_masks``); each is alloc_bootmem_cpumask_var() =
    ``memblock_alloc(cpumask_size(), SMP_CACHE_BYTES)``, cpumask_size() being
    nr_cpu_ids bits in longs (CONFIG_CPUMASK_OFFSTACK).  nr_node_ids is one
    past the highest possible node: SRAT's nodes (memory and CPUs), else node 0."""
    nodes = {a.node for a in machine.numa} | {c.node for c in machine.cpus}
    if machine.command_line.get("numa") == "off":
        nodes = set()
    nr_node_ids = max(nodes, default=0) + 1
    size = -(-nr_cpu_ids // 64) * 8
    for addr, k in mb.alloc_try_nid_repeat(nr_node_ids + profile.start.cpu_local_masks, size, SMP_CACHE_BYTES, 0,
                                           MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE):
        allocations.append((f"cpumasks ({k})", addr, size * k))


def percpu_first_chunk(sizes, mb: Memblock, cpu_nodes: list[int], online: set[int],
                       allocations: list[tuple[str, int, int]], chunk_lists: tuple[int, int] = (2, 2)) -> list[str]:
    """setup_per_cpu_areas() -> pcpu_embed_first_chunk() (mm/percpu.c, arch/x86/kernel/setup_percpu.c, 5.10).

    ``cpu_nodes``: the node of each possible CPU, in CPU order.  CPUs are
    grouped by node (pcpu_cpu_distance()); pcpu_build_alloc_info() picks the
    units per 2 MiB allocation (the fewest allocations wasting at most a
    third of a unit per CPU); each group's units are one
    ``memblock_alloc_try_nid(units * unit_size, PMD_SIZE, 16 MiB, ...)`` on the
    group's node (any node if it has none), then every used unit keeps its
    first ``PFN_ALIGN(static + reserved + dynamic)`` bytes and returns the rest
    and unused units whole; pcpu_setup_first_chunk() takes its maps and the
    two first chunks' bitmaps; the alloc_info and the areas array are freed.
    ``sizes``: the build's facts -- ``percpu_static`` (the .data..percpu
    section) and sizeof(struct pcpu_chunk) (earlymem.kernels.builds).
    ``chunk_lists``: the era's (types, extra slots) of the chunk lists (KernelProfile.start.pcpu_chunk_lists).
    """
    static = sizes["percpu_static"]
    ncpu = len(cpu_nodes)
    if not ncpu:
        return []
    size_sum = _page_align(static + PERCPU_MODULE_RESERVE + max(PERCPU_DYNAMIC_RESERVE, PERCPU_DYNAMIC_EARLY_SIZE))
    dyn = size_sum - static - PERCPU_MODULE_RESERVE
    groups: list[int] = []  # node of each group, in order of first CPU
    cnt: dict[int, int] = {}
    for n in cpu_nodes:
        if n not in cnt:
            groups.append(n)
            cnt[n] = 0
        cnt[n] += 1
    atom = 2 << 20
    min_unit = max(size_sum, PCPU_MIN_UNIT_SIZE)
    alloc_size = -(-min_unit // atom) * atom
    upa = alloc_size // min_unit
    while alloc_size % upa or (alloc_size // upa) % PAGE:
        upa -= 1
    best, last_allocs = 0, 1 << 62
    for u in range(upa, 0, -1):
        if alloc_size % u or (alloc_size // u) % PAGE:
            continue
        allocs = sum(-(-cnt[g] // u) for g in groups)
        wasted = sum(-(-cnt[g] // u) * u - cnt[g] for g in groups)
        if wasted > ncpu // 3:
            continue
        if allocs > last_allocs:
            break
        last_allocs, best = allocs, u
    unit = alloc_size // best
    units = [-(-cnt[g] // best) * best for g in groups]
    # pcpu_alloc_alloc_info(): the info with its cpu maps (freed at the end)
    ai_size = _page_align(-(-(64 + 24 * len(groups)) // 4) * 4 + 4 * sum(units))
    ai = mb.alloc(ai_size, PAGE)
    areas_size = _page_align(8 * len(groups))
    areas = mb.alloc(areas_size, SMP_CACHE_BYTES)
    bases = []
    for g, n_units in zip(groups, units):
        size = n_units * unit
        if g in online:
            base = mb.alloc_try_nid(size, atom, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, g)
        else:
            base = mb.alloc_try_nid(size, atom, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE)
        bases.append(base)
    for g, n_units, base in zip(groups, units, bases):
        if not base:
            continue
        for i in range(n_units):
            at = base + i * unit
            if i < cnt[g]:
                mb.phys_free(at + size_sum, unit - size_sum)
                allocations.append((f"percpu unit (node {g})", at, size_sum))
            else:
                mb.phys_free(at, unit)
    # pcpu_setup_first_chunk()
    chunk = sizes["pcpu_chunk"]
    types, extra = chunk_lists
    slots = max((unit.bit_length()) - 5 + 2, 1) + extra  # __pcpu_size_to_slot(unit) + extra
    meta = [8 * len(groups), 8 * len(groups), 4 * ncpu, 8 * ncpu, slots * 16 * types]
    for region in (PERCPU_MODULE_RESERVE, dyn):
        pages = -(-region // PAGE)
        bits = pages * (PAGE >> 2)
        meta += [chunk + 8 * -(-pages // 64), -(-bits // 64) * 8, -(-(bits + 1) // 64) * 8, pages * 32]
    for n in meta:
        allocations.append(("percpu first chunk maps", mb.alloc(n, SMP_CACHE_BYTES), n))
    mb.phys_free(areas, areas_size)
    mb.phys_free(ai, ai_size)
    return [f"percpu: Embedded {size_sum // PAGE} pages/cpu s{static} r{PERCPU_MODULE_RESERVE} d{dyn} u{unit}"]



#: arch/x86/include/asm/pgtable_64_types.h: CPU_ENTRY_AREA_MAP_SIZE is P4D_SIZE (512 GiB with 4-level paging)
CEA_MAP_SIZE = 1 << 39


@functools.lru_cache(maxsize=16)
def cea_table_pages(size: int, ncpus: int) -> dict[int, Fraction] | None:
    """The page-table pages setup_cpu_entry_areas() takes when init_cea_offsets() scatters
    the entry areas (KASLR, 6.2+), with their exact probabilities; None where earlymem does
    not compute them (more than two possible CPUs).

    Each CPU's area is a distinct slot k of max_cea = (CPU_ENTRY_AREA_MAP_SIZE - PAGE_SIZE)
    / size, uniform (get_random_u32_below(), redrawn on a repeat: every set of slots is
    equally likely), at CPU_ENTRY_AREA_BASE + PAGE_SIZE + k * size; the RO IDT page is
    mapped later, by idt_map_in_cea() after the hand-off.  The areas take the PUD table, a
    PMD table per GiB and a PTE table per 2 MiB they touch.  Areas are disjoint and under
    2 MiB, so two share at most one GiB and one 2 MiB region, and sharing a 2 MiB region
    means sharing its GiB: with X(k) = the GiBs plus the 2 MiB regions area k touches,
    two areas take 1 + X(a) + X(b) - [they share a GiB] - [they share a 2 MiB region].
    """
    if ncpus not in (1, 2) or size <= 0 or size % PAGE:
        return None
    max_cea = (CEA_MAP_SIZE - PAGE) // size
    solo: dict[int, int] = {}  # X -> slots
    by_gib: dict[int, dict[int, int]] = {}  # GiB -> X -> slots touching it
    shared_t: dict[int, int] = {}  # X(a) + X(b) -> pairs sharing a 2 MiB region
    region, here = -1, {}  # the 2 MiB region being filled, and X -> slots touching it
    for k in range(max_cea):
        off = PAGE + k * size
        last = off + size - 1
        g0, g1, t0, t1 = off >> 30, last >> 30, off >> 21, last >> 21
        x = (g1 - g0 + 1) + (t1 - t0 + 1)
        solo[x] = solo.get(x, 0) + 1
        if ncpus == 1:
            continue
        for g in range(g0, g1 + 1):
            counts = by_gib.setdefault(g, {})
            counts[x] = counts.get(x, 0) + 1
        for t in range(t0, t1 + 1):
            if t != region:
                _pairs_into(here, shared_t)
                region, here = t, {}
            here[x] = here.get(x, 0) + 1
    if ncpus == 1:
        return {1 + x: Fraction(n, max_cea) for x, n in sorted(solo.items())}
    _pairs_into(here, shared_t)
    every: dict[int, int] = {}
    _pairs_into(solo, every)
    shared_g: dict[int, int] = {}
    for counts in by_gib.values():
        _pairs_into(counts, shared_g)
    pages: dict[int, int] = {}
    for v, n in every.items():  # pairs sharing nothing take 1 + X(a) + X(b)
        pages[1 + v] = pages.get(1 + v, 0) + n - shared_g.get(v, 0)
    for v, n in shared_g.items():  # a GiB only: one page fewer; a 2 MiB region too: two fewer
        pages[v] = pages.get(v, 0) + n - shared_t.get(v, 0)
    for v, n in shared_t.items():
        pages[v - 1] = pages.get(v - 1, 0) + n
    total = max_cea * (max_cea - 1) // 2
    return {p: Fraction(n, total) for p, n in sorted(pages.items()) if n}


def _pairs_into(counts: dict[int, int], out: dict[int, int]) -> None:
    """Add the unordered pairs of a multiset (value -> count), by the sum of their values."""
    items = sorted(counts.items())
    for i, (x, n) in enumerate(items):
        if n > 1:
            out[2 * x] = out.get(2 * x, 0) + n * (n - 1) // 2
        for y, m in items[i + 1:]:
            out[x + y] = out.get(x + y, 0) + n * m


def cpu_entry_area_tables(sizes, mb: Memblock, ncpus: int, allocations: list[tuple[str, int, int]],
                          pages: int | None = None) -> None:
    """trap_init() -> setup_cpu_entry_areas(): each possible CPU's entry area
    (after the read-only IDT page at CPU_ENTRY_AREA_BASE, in CPU order --
    sequential with nokaslr) is mapped with cea_set_pte() -> set_pte_vaddr();
    with 4-level paging pgd_none() is always false, so fill_pud(), fill_pmd()
    and fill_pte() (arch/x86/mm/init_64.c) take a page for the PUD table, the
    PMD table and each PTE table the range touches: spp_getpage() =
    ``memblock_alloc(PAGE_SIZE, PAGE_SIZE)`` before the hand-off."""
    size = sizes["cpu_entry_area"]  # sizeof(struct cpu_entry_area), BTF
    span = PAGE + ncpus * size  # CPU_ENTRY_AREA_BASE is PMD-aligned
    if pages is None:  # the sequential layout (no KASLR, or before 6.2)
        pages = 2 + -(-span // (2 << 20))
    for _ in range(pages):
        allocations.append(("cpu_entry_area page table", mb.alloc(PAGE, PAGE), PAGE))
