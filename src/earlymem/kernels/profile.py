"""``KernelProfile``: what one era of x86_64 kernels does, as data with sources.

Behaviour that differs between kernel releases lives in profile fields, each
with the source of the change, so that the rest of earlymem never compares
version numbers.  The fields are grouped by the subsystem that owns the rule:
:class:`E820Rules` (arch/x86/kernel/e820.c and the early parameters),
:class:`NumaRules` (arch/x86/mm/numa.c), :class:`CrashRules` (crashkernel=),
:class:`MemmapRules` (the direct mapping, sparse memory and the zones' setup),
:class:`StartKernelRules` (start_kernel()'s allocations and what follows),
:class:`ZoneRules` (watermarks and /proc/zoneinfo) and :class:`KexecFileEra`.
The eras themselves are in :mod:`earlymem.kernels.eras`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from earlymem.lib.version import KernelVersion

__all__ = ["KernelProfile", "CheckedBoot", "KexecFileEra", "Pipeline", "E820Rules", "NumaRules", "CrashRules", "MemmapRules",
           "StartKernelRules", "ZoneRules", "CrashAuto", "VendorRules"]


class Pipeline(str, Enum):
    """The boot phases an era runs (earlymem.pipeline orders them)."""

    #: only e820__memory_setup() and the early parameters are modelled
    E820 = "e820"
    #: 2.6.23-2.6.33 x86_64: bootmem (earlymem.phases.bootmem_era)
    BOOTMEM = "bootmem"
    #: 2.6.37: memblock replaces early_res and bootmem (earlymem.phases.memblock_2_6_37)
    MEMBLOCK_2_6_37 = "memblock-2.6.37"
    #: 5.5 and later: earlymem.phases.numa_init ... kernel_init
    MODERN = "modern"


@dataclass(frozen=True)
class KexecFileEra:
    """kexec_file_load's crash placement rules (earlymem.kexec.file_load)."""

    top_down_exact: bool  # temp_start = end - memsz + 1 (else end - memsz)
    rng_seed_setup_data: bool  # boot params carry a SETUP_RNG_SEED slot (6.1+)
    crash_hotplug_phdrs: int | None  # CONFIG_CRASH_HOTPLUG: phdr slots reserved (2 + NR_CPUS_DEFAULT + CRASH_MAX_MEMORY_RANGES)
    params_memsz_aligned: bool  # the boot_param debug line shows the page-aligned memsz
    segment_lines: str  # "loading" (kexec_file: Loading segment N: ...) or "table" (nr_segments + segment[N]: ...)


@dataclass(frozen=True)
class E820Rules:
    """The e820 table, its printing and the ``mem=``/``memmap=`` early parameters
    (arch/x86/kernel/e820.c; before 2.6.27 arch/x86_64/kernel/e820.c; lib/cmdline.c).

    :param style: ``legacy`` (`` %s: %016Lx - %016Lx (usable)``, end
        exclusive), ``mem`` (``%s: [mem %#018Lx-%#018Lx] usable``, end
        inclusive) or ``gaps`` (7.x: ``mem`` plus ``[gap ...]`` lines and new
        labels with a leading space).
    :param header_prefix: prefix of the ``BIOS-provided physical RAM map:``
        and ``user-defined physical RAM map:`` headers.
    :param labels: type -> label printed after the range; others print
        ``unknown_label`` formatted with the type.
    :param memparse_suffixes: size suffix letters memparse() knows.
    :param mem_caps_end_pfn: ``mem=`` only sets ``end_user_pfn`` (no table
        edit, no user map) instead of removing RAM from the table.
    :param mem_rejects_zero: ``mem=0``/``mem=junk`` is refused (-EINVAL).
    :param memmap_forms: the ``memmap=`` operator characters known.
    :param memmap_comma_list: ``memmap=`` takes a comma-separated list.
    :param sanitize_user_map: the user map is sanitized before printing.
    :param no_merge_types: types sanitize never merges (``e820_nomerge``).
    :param capacity: entries the kernel table holds.
    :param full_message: warning when an append does not fit.
    """

    style: str
    header_prefix: str
    labels: dict[int, str]
    unknown_label: str
    memparse_suffixes: str
    mem_caps_end_pfn: bool
    mem_rejects_zero: bool
    memmap_forms: str
    memmap_comma_list: bool
    sanitize_user_map: bool
    no_merge_types: tuple[int, ...]
    capacity: int
    full_message: str
    #: e820__register_nosave_regions(): registers the gaps between RAM entries
    #: and from the last to max_pfn; before, the holes before entries and every
    #: non-RAM entry, stopping at max_pfn
    nosave_ram_walk: bool = False
    #: e820__reserve_setup_data() (arch/x86/kernel/e820.c): each setup_data node the loader
    #: passed becomes E820_TYPE_RESERVED_KERN in e820_table (not in e820_table_firmware),
    #: splitting its RAM entry, before the user-defined map is printed
    setup_data_reserved_kern: bool = False


@dataclass(frozen=True)
class NumaRules:
    """NUMA init and NODE_DATA (arch/x86/mm/numa.c; mm/numa_memblks.c and mm/numa.c from v6.12)."""

    #: numa_cleanup_meminfo() clamps node blocks below at 0 (arch/x86/mm/numa.c)
    #: or at memblock_start_of_DRAM() (mm/numa_memblks.c, v6.12).
    low_is_dram_start: bool = False
    #: alloc_node_data() rounds sizeof(pg_data_t) up to a page
    #: (arch/x86/mm/numa.c); mm/numa.c (v6.12) allocates it unrounded.
    node_data_page_rounded: bool = True
    #: every possible node without memory prints "Initmem setup node %d as
    #: memoryless" (mm/page_alloc.c free_area_init() walks all possible
    #: nodes); before, 5.10's init_cpu_to_node() set up only possible CPUs'
    #: nodes, late, printing an empty [mem 0-0] range (earlymem.phases.paging_init).
    memoryless_initmem_as_memoryless: bool = False


@dataclass(frozen=True)
class CrashRules:
    """``crashkernel=``: parsing and reservation, each era's code and words."""

    #: arch/x86/kernel/crash.c crash_reserve_low_1M(): with any crashkernel=,
    #: reserve [0, 1M) and print "kexec: Reserving the low 1M of memory for
    #: crashkernel" (until v5.13 reserved the first 1M unconditionally).
    low_1m_message: bool | None = False
    #: the middle eras' crash search (earlymem.phases.crashkernel_middle): the limits of
    #: the windows [CRASH_ALIGN, limit) tried top-down in turn; empty: not modelled here
    windows: tuple[int, ...] = ()
    #: kernel/crash_reserve.c reserve_crashkernel_generic() and its messages
    #: ("crashkernel reserved: ..."), instead of x86's own reserve_crashkernel().
    generic: bool = False
    #: parse_crashkernel_mem() rounds System RAM up to 128 MiB before matching
    #: a range list (kernel/crash_core.c).
    range_rounds_128m: bool = False
    #: reserve_crashkernel() with the generic parse_crashkernel() (kernel/kexec.c,
    #: 2.6.24): range lists, and "Reserving %ldMB of memory at %ldMB for
    #: crashkernel (System RAM: %ldMB)"; before, only size@base, silently.
    announces: bool = False
    #: the crash region goes through reserve_bootmem(..., BOOTMEM_EXCLUSIVE),
    #: which refuses pages already reserved (2.6.25).
    bootmem_exclusive: bool = False
    #: the line printed when a fixed base is taken.
    in_use_text: str = "crashkernel reservation failed - memory is in use"
    #: get_last_crashkernel()'s suffix_tbl: tokens ending in one of these are not the
    #: base crashkernel= (",cma" from v6.17; before, "crashkernel=256M,cma" is the base
    #: request and fails on its unrecognized ',').
    suffixes: tuple[str, ...] = (",high", ",low")


@dataclass(frozen=True)
class MemmapRules:
    """The direct mapping, sparse memory and the zones' setup (arch/x86/mm/init.c,
    mm/sparse.c, mm/mm_init.c)."""

    #: INIT_PGT_BUF_SIZE in pages (arch/x86/mm/init.c): the brk buffer the
    #: first direct-mapping page tables come from before memblock is used.
    init_pgt_buf_pages: int = 12
    #: zone_names[] in the order free_area_init() prints them (ZONE_MOVABLE is
    #: skipped there); Device with CONFIG_ZONE_DEVICE, as in Debian's configs.
    zone_names: tuple[str, ...] = ("DMA", "DMA32", "Normal", "Device")
    #: whether zone_names is known for the era: from v4.3 a "Device" zone is printed only with
    #: CONFIG_ZONE_DEVICE, a build's choice (a vendor rule may say; the modern eras are Debian's)
    zones_known: bool = True
    #: hex digits of the zone, node-range and Initmem addresses: 10 (``%#010lx``) until Juergen
    #: Gross's 'mm: use correct format specifiers when printing address ranges' (2015), then 18
    range_digits: int = 18
    #: who prints "Initmem setup node": ``free_area_init`` (mm: the node's first pfn to its
    #: end, after ``NODE_DATA(n) allocated``), ``setup_node_data`` (older x86 numa.c: the
    #: node's span, start rounded up to ZONE_ALIGN, followed by ``  NODE_DATA [mem ...]``),
    #: or None where the era's choice is not known
    initmem_style: str | None = "free_area_init"
    #: how the early-memory lines (zones, node ranges, Initmem) are printed: ``mem`` (``[mem
    #: 0x...-0x...]``, v3.5 on); None: an older form earlymem does not print
    zone_format: str | None = "mem"
    #: zone_sizes_init() clamps the DMA and DMA32 limits to max_low_pfn (commit c072b90c8dfe
    #: 'x86/mm: Fix zone ranges boot printout'); before, a machine with less than 4 GiB prints
    #: DMA32 up to 4 GiB; None: not known for the build
    zone_limits_clamped: bool | None = True
    #: NR_PAGEBLOCK_BITS (include/linux/pageblock-flags.h): 4, or 8 once
    #: isolation got its own bit (rounded up to a power of two)
    pageblock_bits: int = 4
    #: free_area_init() -- sparse_init(), the memoryless nodes' pg_data_t --
    #: runs from start_kernel() -> mm_core_init_early() after setup_arch(),
    #: and sparse_init() populates the vmemmap block by block (no buffer)
    sparse_init_in_start_kernel: bool = False
    #: nr_kernel_pages = memblock's free pages at free_area_init() (6.10's
    #: calc_nr_kernel_pages()); before, present pages less the memmap estimate
    #: and dma_reserve (earlymem.phases.start_kernel)
    nr_kernel_pages_from_memblock: bool = False


@dataclass(frozen=True)
class StartKernelRules:
    """start_kernel()'s allocations up to the hand-off, and what kernel_init() does after it."""

    #: setup_cpu_local_masks() (arch/x86/kernel/cpu/common.c, smpboot.c):
    #: cpumasks it allocates -- initialized, callin, callout, sibling_setup;
    #: only sibling_setup after the v6.5 hotplug rework
    cpu_local_masks: int = 4
    #: pcpu_setup_first_chunk() (mm/percpu.c): the chunk lists are
    #: ``(__pcpu_size_to_slot(unit_size) + extra) * types`` list heads:
    #: (types, extra) = (2, 2) with 5.10's memcg chunk type, (1, 4) after
    pcpu_chunk_lists: tuple[int, int] = (2, 2)
    #: alloc_large_system_hash() vmallocs with vmalloc_huge(), which maps the
    #: table with 2 MiB pages ("vmalloc hugepage") when it is at least PMD_SIZE:
    #: "no" (5.10: plain vmalloc), "per-node" (the size divided by the online
    #: nodes, mm/vmalloc.c __vmalloc_node_range() of 6.1 and 6.12), "size" (7.2)
    hash_vmalloc_huge: str = "no"
    #: swiotlb bookkeeping: 0 = 5.10's io_tlb_list + io_tlb_orig_addr arrays;
    #: else sizeof(struct io_tlb_slot) of the per-slab array (earlymem.phases.start_kernel).
    swiotlb_slot_bytes: int = 0
    #: populate_rootfs() unpacks the initramfs asynchronously (init/initramfs.c,
    #: initramfs_async=1): "Freeing initrd memory" comes after other rootfs
    #: initcalls' lines; before, it came first
    initrd_unpacked_async: bool = False
    #: setup_cpu_entry_areas() -> init_cea_offsets() (arch/x86/mm/cpu_entry_area.c): when
    #: KASLR ran, each CPU's entry area lies at a random slot of the 512 GiB CEA map, so the
    #: page tables that map it (from memblock) vary from boot to boot (earlymem.phases.cea)
    cea_random: bool = False


@dataclass(frozen=True)
class ZoneRules:
    """Watermarks and /proc/zoneinfo (mm/page_alloc.c, mm/vmstat.c)."""

    #: the per-zone lines /proc/zoneinfo prints before "protection:"
    #: (mm/vmstat.c zoneinfo_show_print()), for ``predict --format zoneinfo``.
    fields: tuple[str, ...] = ("pages free", "min", "low", "high", "spanned", "present", "managed")
    #: __setup_per_zone_wmarks() gives ZONE_MOVABLE highmem's clamped minimum
    #: (32 when empty) and leaves it out of lowmem_pages (earlymem.mm.watermarks).
    movable_wmark_like_highmem: bool = False
    #: adjust_managed_page_count() (mm/page_alloc.c) calls
    #: setup_per_zone_lowmem_reserve(): the protection /proc/zoneinfo shows
    #: follows the managed pages after the kernel gave its init memory back;
    #: before, it stays as init_per_zone_wmark_min() computed it
    lowmem_reserve_follows_managed: bool = False


@dataclass(frozen=True)
class KaslrRules:
    """Physical KASLR: how the decompressor draws the kernel's place
    (arch/x86/boot/compressed/kaslr.c; earlymem.phases.kaslr).

    :param walk: the slot walk earlymem models, None where it does not; ``"v5.10"`` is
        the walk of 5.10 to 7.x (mem_limit starts at MAXMEM, a region's head is kept
        when the avoided range starts at or above start + image_size, SRAT immovable
        filter), read in v5.10.13 and v6.12.12.
    :param since: the first release the walk is known for (an earlier kernel of the era
        gets no KASLR prediction: the v4.8-v5.9 walk differs in its head test and limit).
    """

    walk: str | None = None
    since: KernelVersion | None = None


@dataclass(frozen=True)
class CrashAuto:
    """A vendor kernel's ``crashkernel=auto`` (upstream has none: its parser says
    ``crashkernel: memory value expected``).

    Two forms, each with the vendor source it was read in:

    * ``formula`` (RHEL 6 and 7, ``CONFIG_KEXEC_AUTO_RESERVE``): ``arch_default_crash_size()``
      reserves nothing when System RAM rounded up to 128 MiB is below ``threshold``
      (the warning ``crashkernel=auto resulted in zero bytes of reserved memory.``),
      else ``base + roundup((ram - base) / 16384, 1M)`` (2 bits per 4 KiB page for
      makedumpfile's filtering);
    * ``ranges`` (RHEL 8.0 on): ``auto`` stands for a built-in range list, matched like
      ``crashkernel=<list>`` (System RAM rounded up to 128 MiB), after the line
      ``message``.

    Where a vendor's value differs between builds and the corpus has not settled
    which build has which, ``bases`` (or ``ranges``) holds every candidate and the
    size is given as alternatives, never as one guessed number.

    :param ram: what System RAM is: ``memblock`` (``memblock_phys_mem_size()``) or
        ``span`` (RHEL 6's ``get_total_mem()``: the end of the highest RAM page, holes included).
    :param rewrite: how RHEL 6 rewrites ``auto`` on the command line: ``zero``
        (``<size>M@0M``), ``found`` (``<size>M@<base>M``, the base it found), ``either``
        (builds between those the logs show), or ``""`` (no rewrite).
    """

    form: str
    bases: tuple[int, ...] = ()
    threshold: int = 2 << 30
    ranges: tuple[str, ...] = ()
    message: str = ""
    ram: str = "memblock"
    rewrite: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class VendorRules:
    """What a distribution's kernel does beyond its upstream line (earlymem.kernels.distro
    names the distribution from the release string).

    :param distro: the distribution and release, e.g. ``RHEL 7.9``.
    :param auto: its ``crashkernel=auto``, None if it has none.
    :param notes: what differs from upstream that earlymem does not model yet, in words.
    """

    distro: str
    auto: CrashAuto | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: the e820 map's header prefix where a backport changed upstream's (None: upstream's)
    e820_header_prefix: str | None = None
    #: the crash search's windows where the vendor's differ from upstream's (None: upstream's)
    crash_windows: tuple[int, ...] | None = None
    #: whether the build prints "kexec: Reserving the low 1M of memory for crashkernel":
    #: "upstream" (the era's rule), "yes", "no" or "unknown"
    low_1m: str = "upstream"
    #: the zones the build prints (None: the era's)
    zone_names: tuple[str, ...] | None = None
    #: MemmapRules.zone_limits_clamped for the build: "upstream" (the era's), True, False or None (unknown)
    zone_limits_clamped: bool | None | str = "upstream"
    #: RHEL 6's crash search: find_e820_area() past the early reservations (earlymem.phases.crashkernel_middle)
    crash_early_res: bool = False
    #: whether the build prints "Found %ldMB of memory at %ldMB for crashkernel auto " (None: not known)
    crash_found_line: bool | None = False
    #: who prints "Initmem setup node" (MemmapRules.initmem_style): "upstream" (the era's),
    #: "free_area_init", "setup_node_data" or "unknown"
    initmem_style: str = "upstream"


@dataclass(frozen=True)
class EfiRules:
    """What a UEFI boot reserves in memblock (earlymem.phases.setup_arch).

    :param memmap_in_ram: the EFI memory map array the stub hands over lies in RAM:
        5.x's stub allocates it as ``EFI_LOADER_DATA`` (E820 RAM), and
        efi_memblock_x86_reserve_range() pins it there; since v6.0
        (drivers/firmware/efi/libstub/mem.c efi_get_memory_map(install_cfg_tbl),
        "efi: libstub: install boot-time memory map as config table") the x86 stub
        allocates it as ``EFI_ACPI_RECLAIM_MEMORY``, outside RAM (memblock=debug OVMF
        boots: the reservation lies in an ACPI Reclaim range on 6.1.176 and 7.2).
    :param desc_size: efi_memory_desc_t as firmware lays it out (EDK2's 48 bytes; the
        spec's descriptor is 40): efi_memmap_alloc() sizes new maps with it, and the
        memory attributes table's entries have it (OVMF boots: efi_memmap_alloc(6240)
        for 130 entries, efi_memattr_init() 0x430 bytes for 22).
    """

    memmap_in_ram: bool = True
    desc_size: int = 48


@dataclass(frozen=True)
class CheckedBoot:
    """A real boot an era's predictions were checked against.

    :param release: the kernel release that booted, e.g. ``"6.1.176"``.
    :param how: what it is and where it is kept.
    :param whole_boot: the whole prediction was compared (else only the e820 map).
    """

    release: str
    how: str
    whole_boot: bool = True


@dataclass(frozen=True)
class KernelProfile:
    """What one era of x86_64 kernels does, by subsystem.

    :param name: the first release of the era, e.g. ``"3.5"``.
    :param first: that release as a version.
    :param summary: what changed in this era, in one line.
    :param sources: where the era's rules were read.
    :param pipeline: which boot phases earlymem.boot() runs for this era
        (earlymem.pipeline): the bootmem era (2.6.23-2.6.33), 2.6.37's memblock,
        the modern eras (5.5 on: NUMA, NODE_DATA, crashkernel, zones ...
        checked against Debian 5.10, 6.1, 6.12 and 7.2), or only the e820 phase.
    :param replay_source: where the replay's rules for this era were read.
    :param boundary: where the era's first release comes from: the commit that
        changed the rule and the release it entered; ``[release unverified]`` (or
        ``[commit unverified]``) marks what was not confirmed from the kernel's history.
    :param verified: the real boots this era's predictions were checked against
        (QEMU captures of Debian builds, public logs).
    """

    name: str
    first: KernelVersion
    summary: str
    e820: E820Rules
    sources: tuple[str, ...] = ()
    pipeline: Pipeline = Pipeline.E820
    replay_source: str = ""
    numa: NumaRules = field(default_factory=NumaRules)
    crash: CrashRules = field(default_factory=CrashRules)
    memmap: MemmapRules = field(default_factory=MemmapRules)
    start: StartKernelRules = field(default_factory=StartKernelRules)
    zoneinfo: ZoneRules = field(default_factory=ZoneRules)
    #: kexec_file_load's crash placement rules; None: not modelled for the era
    kexec_file: KexecFileEra | None = None
    kaslr: KaslrRules = field(default_factory=KaslrRules)
    efi: EfiRules = field(default_factory=EfiRules)
    #: a distribution kernel's own rules (None: upstream's)
    vendor: VendorRules | None = None
    boundary: str = ""
    verified: tuple[CheckedBoot, ...] = ()

    @property
    def boundary_confirmed(self) -> bool:
        """Whether the era's first release was confirmed from the kernel's history."""
        return bool(self.boundary) and "unverified" not in self.boundary

    def label(self, type_: int) -> str:
        """The text e820_print_type() prints for ``type_`` in this era."""
        return self.e820.labels.get(type_, self.e820.unknown_label).format(type=int(type_))
