"""Kernel profiles: one per era, holding that era's constants and formats.

Behaviour that differs between kernel releases lives here as data, each field
with the source of the change, so that the rest of earlymem never compares
version numbers.  :func:`profile_for` picks the newest profile whose first
release is not newer than the kernel asked for.

Only the e820 and command-line facts are filled in so far; later layers
(memblock, crashkernel, zones) add their fields to the same profiles.
"""

from __future__ import annotations

from dataclasses import replace

from earlymem.kernels.profile import (CrashRules, E820Rules, KernelProfile, KexecFileEra, MemmapRules, NumaRules, Pipeline,
                                      StartKernelRules, ZoneRules)
from earlymem.lib.errors import InputError
from earlymem.lib.version import KernelVersion, parse_version
from earlymem.lib.x86_64 import MAX_NUMNODES  # CONFIG_NODES_SHIFT=10 in Debian's amd64 configs
from earlymem.machine.e820 import E820Type

__all__ = ["PROFILES", "profile_for"]


_GROUPS = {"e820": E820Rules, "numa": NumaRules, "crash": CrashRules, "memmap": MemmapRules, "start": StartKernelRules,
           "zoneinfo": ZoneRules}


def _era(base: KernelProfile | None, **changes) -> KernelProfile:
    """An era: ``base`` (None for the first) with ``changes``; ``group__field=value``
    changes one field of a subsystem group (``crash__generic=True``)."""
    top = {k: v for k, v in changes.items() if "__" not in k}
    groups: dict[str, dict] = {}
    for key, value in changes.items():
        if "__" in key:
            group, name = key.split("__", 1)
            groups.setdefault(group, {})[name] = value
    if base is None:
        return KernelProfile(**top, **{g: _GROUPS[g](**kv) for g, kv in groups.items()})
    return replace(base, **top, **{g: replace(getattr(base, g), **kv) for g, kv in groups.items()})


#: Type labels printed by e820_print_type() in the 2.6 ``(usable)`` style.
_LEGACY_LABELS = {
    E820Type.RAM: "(usable)",
    E820Type.RESERVED: "(reserved)",
    E820Type.ACPI: "(ACPI data)",
    E820Type.NVS: "(ACPI NVS)",
}


_P_2_6_16 = _era(
    None,
    name="2.6.16",
    first=KernelVersion(2, 6, 16),
    summary="x86_64 e820.c with bootmem: mem= caps end_user_pfn, user map printed unsanitized",
    e820__style="legacy",
    e820__header_prefix="",
    e820__labels=dict(_LEGACY_LABELS),
    e820__unknown_label="type {type}",
    e820__memparse_suffixes="KMG",
    e820__mem_caps_end_pfn=True,
    e820__mem_rejects_zero=False,
    e820__memmap_forms="@#$",
    e820__memmap_comma_list=False,
    e820__sanitize_user_map=False,
    e820__no_merge_types=(),
    e820__capacity=128,
    e820__full_message="Ooops! Too many entries in the memory map!",
    sources=(
        "arch/x86_64/kernel/e820.c (2.6.16-2.6.24): e820_print_map, parse_memopt "
        "(end_user_pfn), parse_memmap_opt, finish_e820_parsing",
        "public 2.6.16 x86_64 kdump log (tests/fixtures/public): exactmap user map in "
        "command-line order, unsanitized",
    ),
)

_P_2_6_23 = _era(
    _P_2_6_16,
    name="2.6.23",
    first=KernelVersion(2, 6, 23),
    summary="replay: bootmem, crashkernel=size@base reserved without a conflict check (the 2011 bug)",
    pipeline=Pipeline.BOOTMEM,
    replay_source="arch/x86_64/kernel/setup.c, machine_kexec.c: crashkernel=size@base, reserve_bootmem_generic() without a check",
)

_P_2_6_24 = _era(
    _P_2_6_23,
    name="2.6.24",
    first=KernelVersion(2, 6, 24),
    summary="replay: generic parse_crashkernel() (range lists) and the 'Reserving ...MB ... for crashkernel' line",
    crash__announces=True,
    replay_source="arch/x86/kernel/setup_64.c reserve_crashkernel(): announces, then reserve_bootmem() without a check",
)

_P_2_6_25 = _era(
    _P_2_6_24,
    name="2.6.25",
    first=KernelVersion(2, 6, 25),
    summary="finish_e820_parsing sanitizes the user map; crashkernel via BOOTMEM_EXCLUSIVE fails visibly",
    e820__sanitize_user_map=True,
    crash__bootmem_exclusive=True,
    replay_source="arch/x86/kernel/setup_64.c: reserve_bootmem_generic(..., BOOTMEM_EXCLUSIVE)",
    sources=("arch/x86/kernel/e820_64.c (2.6.25): finish_e820_parsing calls sanitize_e820_map",),
)

_P_2_6_27 = _era(
    _P_2_6_25,
    name="2.6.27",
    first=KernelVersion(2, 6, 27),
    summary="unified arch/x86/kernel/e820.c: mem= removes RAM above the limit and sets userdef",
    e820__labels={**_LEGACY_LABELS, E820Type.UNUSABLE: "(unusable)", E820Type.RESERVED_KERN: "(usable)"},
    e820__mem_caps_end_pfn=False,
    e820__capacity=128 + 3 * MAX_NUMNODES,
    e820__full_message="Ooops! Too many entries in the memory map!",
    sources=(
        "arch/x86/kernel/e820.c (2.6.27-2.6.36 copies): parse_memopt -> e820_remove_range(mem_size, "
        "ULLONG_MAX - mem_size, E820_RAM, 1) with userdef = 1; E820_UNUSABLE '(unusable)'; "
        "E820_X_MAX = E820MAX + 3 * MAX_NUMNODES",
        "arch/x86/kernel/setup.c (a ~2.6.27-2.6.29 copy): reserve_crashkernel() after initmem_init(), "
        "reserve_bootmem_generic(..., BOOTMEM_EXCLUSIVE)",
    ),
    replay_source="arch/x86/kernel/setup.c (unified, early_res): reserve_crashkernel() after initmem_init(), BOOTMEM_EXCLUSIVE",
)

_P_2_6_34 = _era(
    _P_2_6_27,
    name="2.6.34",
    first=KernelVersion(2, 6, 34),
    summary="replay: not modelled -- crashkernel via find_e820_area()/reserve_early() before bootmem [release unverified]",
    pipeline=Pipeline.E820,
    sources=_P_2_6_27.sources[:1] + (
        "the 2.6.37 memblock pull (Oct 2010) shows the 2.6.36 reserve_crashkernel(): find_e820_area() and "
        "reserve_early(..., \"CRASH KERNEL\") [the first release with it is not pinned; 2.6.34 assumed]",
    ),
    replay_source="",
)

_P_2_6_37 = _era(
    _P_2_6_34,
    name="2.6.37",
    first=KernelVersion(2, 6, 37),
    summary="replay: memblock replaces early_res and x86 bootmem (top-down); crashkernel via memblock_find_in_range",
    pipeline=Pipeline.MEMBLOCK_2_6_37,
    crash__announces=True,
    crash__bootmem_exclusive=False,
    crash__in_use_text="crashkernel reservation failed - memory is in use.",
    sources=_P_2_6_27.sources[:1] + (
        "'[GIT PULL] memblock for 2.6.37' (H. Peter Anvin, 2010-10-22): 'x86: Use memblock to replace early_res', "
        "'x86: Remove old bootmem code', top-down default; its setup.c hunk gives reserve_crashkernel()",
        "arch/x86/mm/numa_64.c (2.6.37): 'Initmem setup node', early_node_mem() 'put it on high as possible'",
    ),
    replay_source="arch/x86/kernel/setup.c 2.6.37: memblock_find_in_range(base, base + size, size, 1M) must return base",
)

_P_2_6_38 = _era(
    _P_2_6_37,
    name="2.6.38",
    first=KernelVersion(2, 6, 38),
    summary="replay: not modelled -- NUMA init rewritten (arch/x86/mm/numa.c) [placement unread]",
    pipeline=Pipeline.E820,
    replay_source="",
)

_MEM_LABELS = {
    E820Type.RAM: "usable",
    E820Type.RESERVED_KERN: "usable",
    E820Type.RESERVED: "reserved",
    E820Type.ACPI: "ACPI data",
    E820Type.NVS: "ACPI NVS",
    E820Type.UNUSABLE: "unusable",
}

_P_3_5 = _era(
    _P_2_6_38,
    name="3.5",
    first=KernelVersion(3, 5, 0),
    summary="'[mem %#018Lx-%#018Lx]' ranges (end inclusive) and 'e820: ' header prefix",
    e820__style="mem",
    e820__header_prefix="e820: ",
    e820__labels=dict(_MEM_LABELS),
    e820__unknown_label="type {type}",
    e820__memparse_suffixes="KMGTPE",
    e820__memmap_comma_list=True,
    e820__full_message="e820: too many entries; ignoring [mem {start:#010x}-{last:#010x}]",
    sources=(
        "Bjorn Helgaas, 'x86: print e820 physical addresses consistently with other parts of "
        "kernel' (2012, v3.5 [release unverified; a public 3.6.0-rc1 log already prints '[mem ...]']): printk(KERN_INFO \"%s: [mem %#018Lx-%#018Lx] \")",
        "arch/x86/kernel/e820.c (~v4.0 copy): 'e820: BIOS-provided physical RAM map:', "
        "'e820: user-defined physical RAM map:', parse_memmap_opt splits on ','",
        "lib/cmdline.c memparse: T/P/E suffixes [release unverified]",
    ),
)

_P_4_1 = _era(
    _P_3_5,
    name="4.1",
    first=KernelVersion(4, 1, 0),
    summary="PRAM (type 12): memmap=nn!ss, 'persistent (type %u)', never merged by sanitize",
    e820__labels={**_MEM_LABELS, E820Type.PMEM: "persistent (type {type})", E820Type.PRAM: "persistent (type {type})"},
    e820__mem_rejects_zero=True,
    e820__memmap_forms="@#$!",
    e820__no_merge_types=(E820Type.PRAM,),
    sources=(
        "commit ec776ef6bbe1 'x86/mm: Add support for the non-standard protected e820 type' (2015, v4.1 [release unverified])",
        "parse_memopt: 'don't remove all of memory when handling mem={invalid}' [release unverified]",
    ),
)

_P_4_16 = _era(
    _P_4_1,
    name="4.16",
    first=KernelVersion(4, 16, 0),
    summary="memmap=nn%ss-old+new range manipulation operator",
    e820__memmap_forms="@#$!%",
    sources=("commit ef61f8a340fd 'x86/boot/e820: Implement a range manipulation operator' (Feb 2018; v4.16 or v4.17 [release unverified])",),
)

_P_4_19 = _era(
    _P_4_16,
    name="4.19",
    first=KernelVersion(4, 19, 0),
    summary="headers lose the 'e820: ' prefix",
    e820__header_prefix="",
    sources=(
        "[commit unidentified] public logs: 'e820: BIOS-provided physical RAM map:' on 4.16.15 and "
        "4.17.4, 'e820: last_pfn' still prefixed on 4.18-rc1, 'BIOS-provided physical RAM map:' "
        "on 4.19.0 (Ubuntu mainline and Debian 4.19.67)",
    ),
)

_P_5_5 = _era(
    _P_4_19,
    name="5.5",
    first=KernelVersion(5, 5, 0),
    crash__low_1m_message=True,
    pipeline=Pipeline.MODERN,
    kexec_file=KexecFileEra(top_down_exact=False, rng_seed_setup_data=False, crash_hotplug_phdrs=None,
                            params_memsz_aligned=False, segment_lines="loading"),
    replay_source="the modern boot (earlymem.pipeline: phases/setup_arch.py, crashkernel.py ...)",
    summary="EFI soft-reserved memory: 'soft reserved', never merged by sanitize",
    e820__labels={**_P_4_19.e820.labels, E820Type.SOFT_RESERVED: "soft reserved"},
    e820__no_merge_types=(E820Type.PRAM, E820Type.SOFT_RESERVED),
    sources=(
        "commit 262b45ae3ab4 'x86/efi: EFI soft reservation to E820 enumeration' (v5.5): "
        "E820_TYPE_SOFT_RESERVED and e820_nomerge()",
        "strings of Debian 5.10, 6.1 and 6.12 vmlinux: 'usable', 'reserved', 'soft reserved', "
        "'ACPI data', 'ACPI NVS', 'unusable', 'persistent (type %u)', 'type %u'",
    ),
)

_P_5_13 = _era(
    _P_5_5,
    name="5.13",
    first=KernelVersion(5, 13, 0),
    summary="the first 1 MiB is always reserved; no 'Reserving the low 1M ... for crashkernel' line",
    crash__low_1m_message=False,
    crash__range_rounds_128m=True,
    numa__memoryless_initmem_as_memoryless=True,
    # [release unverified: after 5.10, by 6.1] vmalloc_huge() for the hash tables; Debian 6.1.176
    # and 6.12.117 mm/vmalloc.c: size_per_node = size / num_online_nodes() must reach PMD_SIZE
    start__hash_vmalloc_huge="per-node",
    # [release unverified: after 5.10, by 6.1] struct io_tlb_slot (orig_addr, alloc_size, list)
    start__swiotlb_slot_bytes=24,
    # v5.14 [release unverified]: memcg-aware chunks gone ("percpu: rework memcg
    # accounting"), pcpu_to_depopulate_slot and pcpu_sidelined_slot added;
    # memblock=debug traces: pcpu_setup_first_chunk(672) on 5.10, (368) on 6.1+
    start__pcpu_chunk_lists=(1, 4),
    # "init/initramfs.c: do unpacking asynchronously" (v5.12 [release unverified]); captures:
    # "software IO TLB: mapped" after "Freeing initrd memory" on 5.10, before it on 6.1+
    start__initrd_unpacked_async=True,
    # "x86/e820: Fix handling of subpage regions when calculating nosave
    # ranges" (2025, stable): in the pinned 6.1.170 and 6.12.117 (their
    # "Registered nosave memory" lines), not in 5.10.223
    e820__nosave_ram_walk=True,
    # [release unverified: after 5.10, by 6.1] /proc/zoneinfo's boost and cma lines (captures)
    zoneinfo__fields=("pages free", "boost", "min", "low", "high", "spanned", "present", "managed", "cma"),
    # [release unverified: after 5.10, by 6.1] the SETUP_RNG_SEED slot in kexec_file's boot params (6.0)
    kexec_file=KexecFileEra(top_down_exact=False, rng_seed_setup_data=True, crash_hotplug_phdrs=None,
                            params_memsz_aligned=False, segment_lines="loading"),
    memmap__init_pgt_buf_pages=16,
    sources=(
        "[release unverified: after 5.10, by 6.1] parse_crashkernel_mem() rounds System RAM to 128 MiB: "
        "crashkernel=1G-4G:192M,4G-:256M gives 192M on Debian 5.10 and 256M on 6.1 for 4095 MB of RAM",
        "[release unverified: after 5.10, by 6.1] INIT_PGT_BUF_SIZE grew from 12 to 16 pages "
        "(INIT_PGD_PAGE_TABLES for 5-level builds): the page-table pages memblock hands out at "
        "the top of RAM drop by 4 from 5.10 to 6.1 on the same 16, 32, 40 and 64 GiB machines",
        "[release unverified: after 5.10, by 6.1] memoryless nodes: 'Initmem setup node %d as memoryless' "
        "(kdump kernels on 6.1, 6.12, 7.2) instead of 5.10's 'Initmem setup node %d [mem 0-0]'",
        "'x86/setup: always reserve the first 1M of RAM' (v5.13 [commit and release unverified]); "
        "QEMU captures: 'kexec: Reserving the low 1M of memory for crashkernel' on 5.10, not on 6.1",
    ),
)

_P_6_12 = _era(
    _P_5_13,
    name="6.12",
    first=KernelVersion(6, 12, 0),
    summary="NUMA blocks clamped to the start of DRAM; generic crashkernel reservation",
    numa__low_is_dram_start=True,
    crash__generic=True,
    numa__node_data_page_rounded=False,
    # "mm/mm_init.c: add new function calc_nr_kernel_pages()" and "x86: remove
    # memblock_find_dma_reserve()" (Baoquan He, mm-stable March 2024: v6.10 [release unverified])
    memmap__nr_kernel_pages_from_memblock=True,
    # v6.5 x86 CPU hotplug rework (Thomas Gleixner): only cpu_sibling_setup_mask
    # is left (arch/x86/kernel/smpboot.c); traces: 5 cpumask allocations on 6.1, 2 on 6.12 (one node)
    start__cpu_local_masks=1,
    # [release unverified: after 6.1, by 6.12] captures: an empty Movable zone's
    # min/low/high are 32 on 6.12 and 7.2, 0 on 6.1
    zoneinfo__movable_wmark_like_highmem=True,
    # [release unverified: after 6.1, by 6.12] /proc/zoneinfo's promo line (captures)
    zoneinfo__fields=("pages free", "boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma"),
    # [releases unverified: after 6.1, by 6.12] locate_mem_hole_top_down() "+ 1" fix
    # (Yuntao Wang, Dec 2023); CONFIG_CRASH_HOTPLUG (6.6) with Debian's
    # NR_CPUS_DEFAULT 8192 and CRASH_MAX_MEMORY_RANGES 8192 (config-6.12, config of
    # 7.2); kexec_dprintk() segment table; boot_param line with the aligned memsz
    kexec_file=KexecFileEra(top_down_exact=True, rng_seed_setup_data=True, crash_hotplug_phdrs=2 + 8192 + 8192,
                            params_memsz_aligned=True, segment_lines="table"),
    sources=(
        "mm/numa_memblks.c numa_cleanup_meminfo(): low = memblock_start_of_DRAM() (v6.12, from "
        "arch/x86/mm/numa.c where low = 0); QEMU captures: 'NUMA: Node 0 [mem 0x00000000-...' on "
        "5.10 and 6.1, '[mem 0x00001000-...' on 6.12 and 7.2",
        "x86 moved to kernel/crash_reserve.c reserve_crashkernel_generic() (v6.7 [release unverified]); "
        "mm/numa.c alloc_node_data() (v6.12 [commit unverified]): nd_size = sizeof(pg_data_t), not "
        "page-rounded; captures: NODE_DATA 0x2b000 bytes on 6.1, 0x2a980 on 6.12",
        "captures: 'Reserving ...MB of memory at ...MB for crashkernel' on 6.1, 'crashkernel reserved: "
        "0x...' on 6.12 and 7.2",
    ),
)

_P_7_0 = _era(
    _P_6_12,
    name="7.0",
    # [release unverified: after 6.12, by 7.2] Debian 7.2.13 mm/vmalloc.c: the whole size against
    # PMD_SIZE (no per-node division); captures: every vmalloc'd table of 2 MiB or more is "vmalloc hugepage"
    start__hash_vmalloc_huge="size",
    # [release unverified: after 6.12, by 7.2] PB_migrate_isolate: __NR_PAGEBLOCK_BITS 5,
    # rounded up to 8 (include/linux/pageblock-flags.h, Debian 7.2.13 source); trace: sparse_init_nid(1408)
    memmap__pageblock_bits=8,
    # [release unverified: after 6.12, by 7.2] mm/mm_init.c mm_core_init_early() -> free_area_init()
    # -> sparse_init(); mm/sparse.c without sparse_buffer_init() (Debian 7.2.13 source);
    # trace: sparse_init after e820__reserve_resources, vmemmap_populate_hugepages(2097152) per block
    memmap__sparse_init_in_start_kernel=True,
    # [release unverified: after 6.12, by 7.2] mm/page_alloc.c adjust_managed_page_count()
    # of Debian 7.2.13 (not in 6.12.117); captures: protection grows by the freed init memory
    zoneinfo__lowmem_reserve_follows_managed=True,
    first=KernelVersion(7, 0, 0),
    summary="e820 overhaul: ' System RAM'/' device reserved' labels, '[gap ...]' lines",
    e820__style="gaps",
    e820__labels={
        E820Type.RAM: " System RAM",
        E820Type.RESERVED: " device reserved",
        E820Type.SOFT_RESERVED: " soft reserved",
        E820Type.ACPI: " ACPI data",
        E820Type.NVS: " ACPI NVS",
        E820Type.UNUSABLE: " unusable",
        E820Type.PMEM: " persistent RAM (type {type})",
        E820Type.PRAM: " persistent RAM (type {type})",
    },
    e820__unknown_label=" type {type}",
    e820__full_message="E820 table full; ignoring [mem {start:#010x}-{last:#010x}]",
    sources=(
        "merge 'x86-boot-2026-02-09' (v7.0): commit 4a7a13e04c05 'x86/boot/e820: Improve "
        "e820_print_type() messages', commit 4d8e5a682be4 'x86/boot/e820: Print gaps in the E820 table'",
        "strings of the Debian 7.2.13 vmlinux: '%s: [gap %#018Lx-%#018Lx]', '\\x01c System RAM', "
        "'\\x01c device reserved', 'E820 table full; ignoring [mem %#010llx-%#010llx]'",
        "E820_TYPE_RESERVED_KERN removed in the same series (no 'reserve setup_data' string in 7.2)",
    ),
)

#: All profiles, oldest first.
PROFILES: tuple[KernelProfile, ...] = (
    _P_2_6_16,
    _P_2_6_23,
    _P_2_6_24,
    _P_2_6_25,
    _P_2_6_27,
    _P_2_6_34,
    _P_2_6_37,
    _P_2_6_38,
    _P_3_5,
    _P_4_1,
    _P_4_16,
    _P_4_19,
    _P_5_5,
    _P_5_13,
    _P_6_12,
    _P_7_0,
)


def profile_for(version: KernelVersion | str) -> KernelProfile:
    """The profile of the era ``version`` belongs to.

    :raises InputError: for versions older than the oldest profile.
    """
    v = parse_version(version) if isinstance(version, str) else version
    chosen = None
    for p in PROFILES:
        if p.first.key <= v.key:
            chosen = p
    if chosen is None:
        raise InputError(
            f"kernel {v} is older than any profile earlymem has (oldest: {PROFILES[0].name})",
            field="kernel version",
        )
    return chosen
