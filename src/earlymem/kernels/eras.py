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

from earlymem.kernels.profile import (CheckedBoot, CrashRules, E820Rules, EfiRules, KaslrRules, KernelProfile, KexecFileEra, MemmapRules, NumaRules, Pipeline,
                                      StartKernelRules, ZoneRules)
from earlymem.lib.errors import InputError
from earlymem.kernels.distro import identify
from earlymem.kernels.vendors import vendor_profile
from earlymem.lib.version import KernelVersion, parse_version
from earlymem.lib.x86_64 import MAX_NUMNODES  # CONFIG_NODES_SHIFT=10 in Debian's amd64 configs
from earlymem.machine.e820 import E820Type

__all__ = ["PROFILES", "NEWEST_KNOWN", "profile_for", "check_known", "era_span", "era_name", "rules_label", "coverage_note"]


_GROUPS = {"e820": E820Rules, "numa": NumaRules, "crash": CrashRules, "memmap": MemmapRules, "start": StartKernelRules,
           "zoneinfo": ZoneRules, "kexec_file": KexecFileEra, "efi": EfiRules}


def _qemu(release: str, package: str) -> CheckedBoot:
    """A Debian build booted under QEMU, compared family by family (earlymem verify)."""
    return CheckedBoot(release, f"Debian {release} ({package}) under QEMU/SeaBIOS: tests/fixtures/bootlogs, tests/fixtures/oracle")


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
    # an era's own facts: where its boundary comes from, what it was checked against, its sources
    for own in ("boundary", "verified", "sources"):
        top.setdefault(own, type(getattr(base, own))())
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
    boundary="the oldest era modelled: arch/x86_64/kernel/e820.c as first read, in 2.6.16 (older releases not read)",
    verified=(CheckedBoot("2.6.16-rc2", "public log: 2.6.16-rc2 x86_64 kdump kernel, LKML 2006 (tests/fixtures/public), "
                               "e820 and user map", whole_boot=False),
              CheckedBoot("2.6.22", "public log: Ubuntu 2.6.22-14-generic, 2007 (tests/fixtures/public), e820 map", whole_boot=False)),
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
    # "Zone PFN ranges:" and its PFN ranges (2.6.x): not printed by earlymem
    memmap__zone_format=None,
)

_P_2_6_23 = _era(
    _P_2_6_16,
    name="2.6.23",
    boundary="arch/x86_64/kernel/setup.c and machine_kexec.c as read for 2.6.23 (the 2011 report's kernel) [release unverified]",
    first=KernelVersion(2, 6, 23),
    summary="replay: bootmem, crashkernel=size@base reserved without a conflict check (the 2011 bug)",
    pipeline=Pipeline.BOOTMEM,
    replay_source="arch/x86_64/kernel/setup.c, machine_kexec.c: crashkernel=size@base, reserve_bootmem_generic() without a check",
)

_P_2_6_24 = _era(
    _P_2_6_23,
    name="2.6.24",
    boundary="generic parse_crashkernel() in kernel/kexec.c (Bernhard Walle, 2.6.24 [commit and release unverified])",
    first=KernelVersion(2, 6, 24),
    summary="replay: generic parse_crashkernel() (range lists) and the 'Reserving ...MB ... for crashkernel' line",
    crash__announces=True,
    replay_source="arch/x86/kernel/setup_64.c reserve_crashkernel(): announces, then reserve_bootmem() without a check",
)

_P_2_6_25 = _era(
    _P_2_6_24,
    name="2.6.25",
    boundary="arch/x86/kernel/e820_64.c finish_e820_parsing() sanitizes the user map (2.6.25 [commit and release unverified])",
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
    boundary="arch/x86/kernel/e820.c unified from e820_32.c and e820_64.c (2.6.27 [commit and release unverified])",
    first=KernelVersion(2, 6, 27),
    summary="unified arch/x86/kernel/e820.c: mem= removes RAM above the limit and sets userdef",
    e820__labels={**_LEGACY_LABELS, E820Type.UNUSABLE: "(unusable)", E820Type.RESERVED_KERN: "(usable)"},
    e820__mem_caps_end_pfn=False,
    # "x86: reserve setup_data ranges" (E820_RESERVED_KERN, 2.6.27 [release unverified])
    e820__setup_data_reserved_kern=True,
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
    boundary="crashkernel via find_e820_area()/reserve_early() [release unverified: 2.6.34 assumed; the auto-offset "
             "find_e820_area() placement may date from Bernhard Walle's 2008 patch, about 2.6.27]",
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
    boundary="'[GIT PULL] memblock for 2.6.37' (H. Peter Anvin, 2010-10-22): 'x86: Use memblock to replace early_res'",
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
    boundary="arch/x86/mm/numa.c: x86-64 NUMA init rewritten (Tejun Heo, 2.6.38 [commits and release unverified])",
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
    boundary="Bjorn Helgaas, 'x86: print e820 physical addresses consistently with other parts of kernel' "
             "(2012, v3.5 [release unverified; a public 3.6.0-rc1 log already prints '[mem ...]'])",
    verified=(CheckedBoot("3.9.0", "public log: 3.9.0 (mmotm), LKML 2013 (tests/fixtures/public), e820 map", whole_boot=False),),
    first=KernelVersion(3, 5, 0),
    summary="'[mem %#018Lx-%#018Lx]' ranges (end inclusive) and 'e820: ' header prefix",
    e820__style="mem",
    e820__header_prefix="e820: ",
    e820__labels=dict(_MEM_LABELS),
    e820__unknown_label="type {type}",
    e820__memparse_suffixes="KMGTPE",
    e820__memmap_comma_list=True,
    e820__full_message="e820: too many entries; ignoring [mem {start:#010x}-{last:#010x}]",
    # reserve_crashkernel(): CRASH_ADDR_LOW_MAX = 896 MiB on x86_64 without ",high"
    # (0x88888888/linux-4.19-comments@0c8fdfc7:arch/x86/kernel/setup.c, v4.19; the 896M
    # "old kexec-tools" limit dates from before 3.5 [release of the v3.9 rework unverified])
    crash__windows=(896 << 20,),
    # mm/page_alloc.c free_area_init_nodes()/free_area_init_node(): "[mem %0#10lx-%0#10lx]" and
    # "Initmem setup node %d [mem %#010Lx-%#010Lx]" (the 2015 patch below changed them); no ZONE_DEVICE yet
    memmap__range_digits=10,
    memmap__zone_names=("DMA", "DMA32", "Normal"),
    # arch/x86/mm/numa.c setup_node_data(): "Initmem setup node %d [mem %#010Lx-%#010Lx]" (the start
    # rounded up to ZONE_ALIGN) then "  NODE_DATA [mem ...]", until v3.17 (12thmantec/linux-3.5@3cd4d1c6,
    # lexi6725/linux-3.17.0@26c80e24: arch/x86/mm/numa.c)
    memmap__initmem_style="setup_node_data",
    memmap__zone_format="mem",
    # zone_sizes_init(): max_zone_pfns[ZONE_DMA32] = MAX_DMA32_PFN, unclamped, until c072b90c8dfe (3.19)
    memmap__zone_limits_clamped=False,
    sources=(
        "Bjorn Helgaas, 'x86: print e820 physical addresses consistently with other parts of "
        "kernel' (2012, v3.5 [release unverified; a public 3.6.0-rc1 log already prints '[mem ...]']): printk(KERN_INFO \"%s: [mem %#018Lx-%#018Lx] \")",
        "arch/x86/kernel/e820.c (~v4.0 copy): 'e820: BIOS-provided physical RAM map:', "
        "'e820: user-defined physical RAM map:', parse_memmap_opt splits on ','",
        "lib/cmdline.c memparse: T/P/E suffixes [release unverified]",
    ),
)

_P_3_18 = _era(
    _P_3_5,
    name="3.18",
    boundary="Luiz Capitulino, 'x86: numa: setup_node_data(): drop dead code and rename function' (tip x86/mm "
             "for v3.18, <20140915142540.0a24c887@redhat.com>)",
    first=KernelVersion(3, 18, 0),
    summary="'Initmem setup node' printed by free_area_init_node(); x86 prints 'NODE_DATA(n) allocated'",
    memmap__initmem_style="free_area_init",
    sources=("Luiz Capitulino, 'x86: numa: setup_node_data(): drop dead code and rename function' (applied to "
             "tip:x86/mm for v3.18, <20140916065600.GE14807@gmail.com>): alloc_node_data() prints "
             "'NODE_DATA(%d) allocated [mem %#010Lx-%#010Lx]'; mm/page_alloc.c free_area_init_node() prints "
             "'Initmem setup node %d [mem %#010Lx-%#010Lx]' (lexi6725/linux-3.17.0@26c80e24 before, "
             "jockyw2001/linux-3.18@246d979c at 3.18.30 after)",),
)

_P_3_19 = _era(
    _P_3_18,
    name="3.19",
    boundary="commit c072b90c8dfe 'x86/mm: Fix zone ranges boot printout' (tip x86/urgent, 2014-12-11, after "
             "v3.18 [release unverified: v3.19])",
    first=KernelVersion(3, 19, 0),
    summary="the zone ranges end at max_low_pfn (DMA32 no longer printed up to 4 GiB on smaller machines)",
    memmap__zone_limits_clamped=True,
    sources=("commit c072b90c8dfe 'x86/mm: Fix zone ranges boot printout' (Xishi Qiu): zone_sizes_init() "
             "max_zone_pfns[ZONE_DMA] = min(MAX_DMA_PFN, max_low_pfn), [ZONE_DMA32] = min(MAX_DMA32_PFN, max_low_pfn)",),
)

_P_4_0 = _era(
    _P_3_19,
    name="4.0",
    boundary="Juergen Gross, 'mm: use correct format specifiers when printing address ranges' (v4.0 merge window)",
    first=KernelVersion(4, 0, 0),
    summary="zones, node ranges and Initmem printed with %#018Lx",
    memmap__range_digits=18,
    sources=("Juergen Gross, 'mm: use correct format specifiers when printing address ranges' (linux-mm, 2015-01-08, "
             "<1420731697-12134-1-git-send-email-jgross@suse.com>; in the mm tree's since-3.19 branch, "
             "<20150226132006.GA14878@dhcp22.suse.cz>): '[mem %#018Lx-%#018Lx]', '  Node %d: %#018Lx', "
             "'Initmem setup node %d [mem %#018Lx-%#018Lx]' (yuanguohuo/linux-3.19.8@5efb20db still %#010Lx; "
             "AndrewGBelcher/4kopen-linux-4.0@9d7e601e: %#018Lx)",),
)

_P_4_1 = _era(
    _P_4_0,
    name="4.1",
    boundary="commit ec776ef6bbe1 'x86/mm: Add support for the non-standard protected e820 type' (2015, v4.1 [release unverified])",
    first=KernelVersion(4, 1, 0),
    summary="PRAM (type 12): memmap=nn!ss, 'persistent (type %u)', never merged by sanitize",
    e820__labels={**_MEM_LABELS, E820Type.PMEM: "persistent (type {type})", E820Type.PRAM: "persistent (type {type})"},
    e820__mem_rejects_zero=True,
    e820__memmap_forms="@#$!",
    e820__no_merge_types=(E820Type.PRAM,),
    # ZONE_DEVICE (v4.3): mm/page_alloc.c zone_names[] has "Device" under #ifdef CONFIG_ZONE_DEVICE
    # (YoungjaeLee/linux-4.3-cxlbdev@dc98e805 ... wowk/linux-5.15@ff71afbf); mm/Kconfig: default n from
    # 4.9 (4.3/4.4: default !ZONE_DMA): a build's choice (a vendor rule may say)
    memmap__zones_known=False,
    sources=(
        "commit ec776ef6bbe1 'x86/mm: Add support for the non-standard protected e820 type' (2015, v4.1 [release unverified])",
        "parse_memopt: 'don't remove all of memory when handling mem={invalid}' [release unverified]",
    ),
)

_P_4_16 = _era(
    _P_4_1,
    name="4.16",
    boundary="commit ef61f8a340fd 'x86/boot/e820: Implement a range manipulation operator' "
             "(v4.16 or v4.17 [release unverified; another reading gives v4.12])",
    first=KernelVersion(4, 16, 0),
    summary="memmap=nn%ss-old+new range manipulation operator",
    e820__memmap_forms="@#$!%",
    sources=("commit ef61f8a340fd 'x86/boot/e820: Implement a range manipulation operator' (Feb 2018; v4.16 or v4.17 [release unverified])",),
)

_P_4_19 = _era(
    _P_4_16,
    name="4.19",
    boundary="[commit unidentified; release unverified] public logs bound it: 'e820: BIOS-provided physical RAM map:' "
             "on 4.17.4 and 4.18-rc1, without the prefix on 4.19.0",
    first=KernelVersion(4, 19, 0),
    summary="headers lose the 'e820: ' prefix",
    e820__header_prefix="",
    sources=(
        "[commit unidentified] public logs: 'e820: BIOS-provided physical RAM map:' on 4.16.15 and "
        "4.17.4, 'e820: last_pfn' still prefixed on 4.18-rc1, 'BIOS-provided physical RAM map:' "
        "on 4.19.0 (Ubuntu mainline and Debian 4.19.67)",
    ),
)

_P_5_2 = _era(
    _P_4_19,
    name="5.2",
    boundary="commits 9ca5c8e632ce 'x86/kdump: Have crashkernel=X reserve under 4G by default' and "
             "b9ac3849af41 'x86/kdump: Fall back to reserve high crashkernel memory' (v5.2)",
    first=KernelVersion(5, 2, 0),
    summary="crashkernel=X searched below 4 GiB first, then up to MAXMEM (before: below 896 MiB only)",
    crash__windows=(4 << 30, 1 << 46),
    sources=("commits 9ca5c8e632ce and b9ac3849af41 (v5.2): reserve_crashkernel() tries [CRASH_ALIGN, CRASH_ADDR_LOW_MAX = 4G) "
             "then [CRASH_ALIGN, CRASH_ADDR_HIGH_MAX = MAXMEM)",),
)

_P_5_5 = _era(
    _P_5_2,
    name="5.5",
    # the modern eras are Debian's builds: CONFIG_ZONE_DEVICE=y, free_area_init_node()'s Initmem line
    memmap__zones_known=True,
    memmap__zone_names=("DMA", "DMA32", "Normal", "Device"),
    memmap__initmem_style="free_area_init",
    boundary="commit 262b45ae3ab4 'x86/efi: EFI soft reservation to E820 enumeration' (v5.5)",
    verified=(_qemu("5.10.223", "5.10.0-32-amd64"),),
    first=KernelVersion(5, 5, 0),
    crash__low_1m_message=True,
    pipeline=Pipeline.MODERN,
    # arch/x86/boot/compressed/kaslr.c as in v5.10.13 (Rtoax/linux-5.10.13@3d51b227) and
    # v6.12.12 (tempesta-tech/linux-6.12.12-tfw@4f7a3282): the same walk for BIOS boots;
    # checked on KASLR captures of all four Debian builds (tests/fixtures/kaslr)
    kaslr=KaslrRules(walk="v5.10", since=KernelVersion(5, 10, 0)),
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

_P_5_12 = _era(
    _P_5_5,
    name="5.12",
    first=KernelVersion(5, 12, 0),
    summary="16 page-table pages in the brk buffer (5-level builds); /proc/zoneinfo's cma line",
    memmap__init_pgt_buf_pages=16,
    zoneinfo__fields=("pages free", "min", "low", "high", "spanned", "present", "managed", "cma"),
    boundary="commit 167dcfc08b0b 'x86/mm: Increase pgt_buf size for 5-level page tables' (v5.12; tip x86/mm, Jan 2021)",
    sources=(
        "commit 167dcfc08b0b (v5.12): INIT_PGT_BUF_SIZE 16 pages with CONFIG_X86_5LEVEL=y (Debian's amd64 "
        "configs); unconditional from 7212b58d6d71 'x86/mm/64: Make 5-level paging support unconditional' "
        "(v6.16 [release unverified]); captures: 4 fewer page-table pages at the top of RAM on 6.1 than on 5.10",
        "commit 3c381db1fac8 'mm/page_alloc: count CMA pages per zone and print them in /proc/zoneinfo' "
        "(v5.12 [release unverified]); captures: the cma line on 6.1, not on 5.10",
    ),
)

_P_5_13 = _era(
    _P_5_12,
    name="5.13",
    first=KernelVersion(5, 13, 0),
    summary="the first 1 MiB is always reserved: no 'Reserving the low 1M ... for crashkernel' line; "
            "initramfs unpacked asynchronously; swiotlb's per-slot array",
    crash__low_1m_message=False,
    # "init/initramfs.c: do unpacking asynchronously" (e7cb072eb988, v5.13); captures:
    # "software IO TLB: mapped" after "Freeing initrd memory" on 5.10, before it on 6.1+
    start__initrd_unpacked_async=True,
    # struct io_tlb_slot (orig_addr, alloc_size, list): 73f620951b2b (v5.13 [release unverified])
    start__swiotlb_slot_bytes=24,
    boundary="commit f1d4d47c5851 'x86/setup: Always reserve the first 1M of RAM' (v5.13-rc5; tip x86/urgent, "
             "June 2021), which dropped the crash_reserve_low_1M() call",
    sources=(
        "commit f1d4d47c5851 (v5.13): reserve_real_mode() reserves [0, 1M) for every boot; "
        "23721c8e92f7 'x86/crash: Remove crash_reserve_low_1M()' (v5.14) removed the dead function; "
        "QEMU captures: 'kexec: Reserving the low 1M of memory for crashkernel' on 5.10, not on 6.1",
        "commit e7cb072eb988 'init/initramfs.c: do unpacking asynchronously' (v5.13)",
        "commit 73f620951b2b 'swiotlb: move global variables into a new io_tlb_mem structure' "
        "(v5.13 [release unverified]): the 24-byte slots",
    ),
)

_P_5_14 = _era(
    _P_5_13,
    name="5.14",
    first=KernelVersion(5, 14, 0),
    summary="percpu: no memcg-aware chunk type; to-depopulate and sidelined chunk slots",
    # memblock=debug traces: pcpu_setup_first_chunk(672) on 5.10, (368) on 6.1+
    start__pcpu_chunk_lists=(1, 4),
    boundary="commit faf65dde844a 'percpu: rework memcg accounting' (v5.14, the percpu 5.14 pull)",
    sources=("commits faf65dde844a 'percpu: rework memcg accounting' and f183324133ea 'percpu: implement "
             "partial chunk depopulation' (v5.14)",),
)

_P_5_16 = _era(
    _P_5_14,
    name="5.16",
    first=KernelVersion(5, 16, 0),
    summary="/proc/zoneinfo's boost line",
    zoneinfo__fields=("pages free", "boost", "min", "low", "high", "spanned", "present", "managed", "cma"),
    boundary="commit a6ea8b5b9f1c 'mm/page_alloc.c: show watermark_boost of zone in zoneinfo' (v5.16; Nov 2021)",
)

_P_5_18 = _era(
    _P_5_16,
    name="5.18",
    first=KernelVersion(5, 18, 0),
    summary="memoryless nodes set up as 'memoryless'; large system hashes vmalloc'd with huge pages",
    numa__memoryless_initmem_as_memoryless=True,
    # vmalloc_huge(); Debian 6.1.176 and 6.12.117 mm/vmalloc.c: size_per_node = size / num_online_nodes()
    # must reach PMD_SIZE
    start__hash_vmalloc_huge="per-node",
    boundary="commit 7c30daac2069 'mm: make free_area_init_node aware of memory less nodes' (v5.18; Mar 2022)",
    sources=(
        "commit 7c30daac2069 (v5.18, mm/page_alloc.c free_area_init()): 'Initmem setup node %d as memoryless' "
        "(kdump kernels on 6.1, 6.12, 7.2) instead of 5.10's 'Initmem setup node %d [mem 0-0]'",
        "commit f2edd118d02d 'page_alloc: use vmalloc_huge for large system hash' (v5.18-rc4)",
    ),
)

_P_6_0 = _era(
    _P_5_18,
    name="6.0",
    first=KernelVersion(6, 0, 0),
    summary="crashkernel= range lists match System RAM rounded up to 128 MiB; kexec_file passes an RNG seed",
    crash__range_rounds_128m=True,
    # drivers/firmware/efi/libstub/mem.c (v6.0): the stub's EFI memory map is ACPI
    # Reclaim memory, installed as a config table (LINUX_EFI_BOOT_MEMMAP_GUID)
    efi__memmap_in_ram=False,
    # "x86/setup: Use rng seeds from setup_data" (68b8e9713c8e, v6.0): the SETUP_RNG_SEED slot
    kexec_file__rng_seed_setup_data=True,
    # "x86/e820: Fix handling of subpage regions when calculating nosave ranges" (2025): a stable
    # backport, in the pinned 6.1.176 and 6.12.117 (their "Registered nosave memory" lines), not in
    # 5.10.223 -- older point releases of 6.x series lack it [release unverified]
    e820__nosave_ram_walk=True,
    boundary="commit 46d36b1be18b 'kdump: round up the total memory size to 128M for crashkernel reservation' "
             "(v6.0, the non-MM 6.0 pull [commit id from a linux-next list; release unverified])",
    sources=(
        "parse_crashkernel_mem(): total_mem = roundup(total_mem, SZ_128M); QEMU captures: "
        "crashkernel=1G-4G:192M,4G-:256M gives 192M on Debian 5.10 and 256M on 6.1 for 4095 MB of RAM",
        "commit 68b8e9713c8e 'x86/setup: Use rng seeds from setup_data' (v6.0, x86_kdump_for_v6.0_rc1)",
    ),
    verified=(_qemu("6.1.176", "6.1.0-50-amd64"),),
)

_P_6_2 = _era(
    _P_6_0,
    name="6.2",
    first=KernelVersion(6, 2, 0),
    summary="with KASLR, each CPU's entry area lies at a random place (its page tables vary by boot)",
    start__cea_random=True,
    boundary="commit 97e3d26b5e5f 'x86/mm: Randomize per-cpu entry area' (v6.2, CVE-2023-0597); kaslr_enabled() "
             "gate from Michal Koutny's fix (v6.3, stable)",
    sources=(
        "arch/x86/mm/cpu_entry_area.c init_cea_offsets(): max_cea = (CPU_ENTRY_AREA_MAP_SIZE - PAGE_SIZE) / "
        "CPU_ENTRY_AREA_SIZE, get_random_u32_below(max_cea) per possible CPU, distinct; sequential without KASLR",
        "memblock=debug captures of Debian 7.2 with KASLR: an extra spp_getpage() page in 3 of 30 boots, "
        "none on 6.1 (80 KASLR boots: the pinned 6.1.176 does not randomize)",
    ),
)

_P_6_5 = _era(
    _P_6_2,
    name="6.5",
    first=KernelVersion(6, 5, 0),
    summary="x86 CPU hotplug rework: one early cpumask (cpu_sibling_setup_mask)",
    # arch/x86/kernel/smpboot.c; traces: 5 cpumask allocations on 6.1, 2 on 6.12 (one node)
    start__cpu_local_masks=1,
    boundary="Thomas Gleixner's x86 CPU hotplug/smpboot rework (v6.5 [commit and release unverified]; "
             "captures bound it: after 6.1, by 6.12)",
)

_P_6_6 = _era(
    _P_6_5,
    name="6.6",
    first=KernelVersion(6, 6, 0),
    summary="CONFIG_CRASH_HOTPLUG: kexec_file reserves program headers for hot-added CPUs and memory",
    # 2 + Debian's NR_CPUS_DEFAULT 8192 + CRASH_MAX_MEMORY_RANGES 8192 (config-6.12, config of 7.2)
    kexec_file__crash_hotplug_phdrs=2 + 8192 + 8192,
    boundary="Eric DeVolder's crash hotplug series, 247262756121 / ea53ad9cf73b (v6.6 [release unverified]; "
             "captures bound it: after 6.1, by 6.12)",
)

_P_6_7 = _era(
    _P_6_6,
    name="6.7",
    first=KernelVersion(6, 7, 0),
    summary="x86 reserves crashkernel= with the generic code: 'crashkernel reserved: ...'",
    crash__generic=True,
    boundary="commit 9c08a2a139fe 'x86: kdump: use generic interface to simplify crashkernel reservation code' "
             "(v6.7; Linus's push of 2023-11-03, with 0ab97169aa05 and 70916e9c8d9f)",
    sources=(
        "commit 9c08a2a139fe (v6.7): reserve_crashkernel_generic() (kernel/crash_core.c; kernel/crash_reserve.c "
        "from 85fcde402db1, v6.9); captures: 'Reserving ...MB of memory at ...MB for crashkernel' on 6.1, "
        "'crashkernel reserved: 0x...' on 6.12 and 7.2",
    ),
)

_P_6_8 = _era(
    _P_6_7,
    name="6.8",
    first=KernelVersion(6, 8, 0),
    summary="kexec_file: exact top-down hole search and the kexec_dprintk() segment table",
    kexec_file__top_down_exact=True,
    kexec_file__params_memsz_aligned=True,
    kexec_file__segment_lines="table",
    boundary="Yuntao Wang's locate_mem_hole_top_down() fix (posted Dec 2023) and cbc2fe9d9cb2 'kexec_file: add "
             "kexec_file flag to control debug printing' (v6.8 [releases unverified]; captures bound them: "
             "after 6.1, by 6.12)",
)

_P_6_10 = _era(
    _P_6_8,
    name="6.10",
    first=KernelVersion(6, 10, 0),
    summary="nr_kernel_pages from memblock's free pages (calc_nr_kernel_pages()); no dma_reserve",
    memmap__nr_kernel_pages_from_memblock=True,
    boundary="Baoquan He, 'mm/mm_init.c: add new function calc_nr_kernel_pages()' and 'x86: remove "
             "memblock_find_dma_reserve()' (posted March 2024: v6.10 [commits and release unverified])",
)

_P_6_12 = _era(
    _P_6_10,
    name="6.12",
    first=KernelVersion(6, 12, 0),
    summary="NUMA blocks clamped to the start of DRAM; NODE_DATA not page-rounded; /proc/zoneinfo's promo line",
    numa__low_is_dram_start=True,
    numa__node_data_page_rounded=False,
    # [release unverified: after 6.1, by 6.12] captures: an empty Movable zone's
    # min/low/high are 32 on 6.12 and 7.2, 0 on 6.1 (Ma Wupeng, "mm: Cap zone movable's min wmark to small value")
    zoneinfo__movable_wmark_like_highmem=True,
    zoneinfo__fields=("pages free", "boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma"),
    boundary="Mike Rapoport's generic NUMA memblocks (mm/numa_memblks.c, mm/numa.c: v6.12 [commits and release "
             "unverified]; captures bound them: after 6.1, by 6.12)",
    sources=(
        "mm/numa_memblks.c numa_cleanup_meminfo(): low = memblock_start_of_DRAM() (from arch/x86/mm/numa.c "
        "where low = 0); QEMU captures: 'NUMA: Node 0 [mem 0x00000000-...' on 5.10 and 6.1, "
        "'[mem 0x00001000-...' on 6.12 and 7.2",
        "mm/numa.c alloc_node_data(): nd_size = sizeof(pg_data_t), not page-rounded; captures: NODE_DATA "
        "0x2b000 bytes on 6.1, 0x2a980 on 6.12",
        "'mm: print the promo watermark in zoneinfo' (Kaiyang Zhao; named in the 6.12 mm pull [commit unverified])",
    ),
    verified=(_qemu("6.12.117", "6.12.117+deb13-amd64"),),
)

_P_6_13 = _era(
    _P_6_12,
    name="6.13",
    first=KernelVersion(6, 13, 0),
    summary="large system hashes use huge pages by their whole size, not per node",
    # Debian 7.2.13 mm/vmalloc.c: the whole size against PMD_SIZE; captures: every vmalloc'd table
    # of 2 MiB or more is "vmalloc hugepage" on 7.2
    start__hash_vmalloc_huge="size",
    boundary="Mike Rapoport, 'mm: vmalloc: don't account for number of nodes for HUGE_VMAP allocations' "
             "(posted Oct 2024 in the execmem ROX series: v6.13 [commit and release unverified]; captures "
             "bound it: after 6.12, by 7.2)",
)

_P_6_17 = _era(
    _P_6_13,
    name="6.17",
    first=KernelVersion(6, 17, 0),
    summary="pageblock flags: PB_migrate_isolate, 8 bits per pageblock",
    # __NR_PAGEBLOCK_BITS 5, rounded up to 8 (include/linux/pageblock-flags.h, Debian 7.2.13 source);
    # trace: sparse_init_nid(1408)
    memmap__pageblock_bits=8,
    # "kdump: implement reserve_crashkernel_cma" and "x86: implement crashkernel cma reservation"
    # (Jiri Bohac, v6.17 [commits and release unverified]): get_last_crashkernel() skips ",cma"
    crash__suffixes=(",high", ",low", ",cma"),
    boundary="Zi Yan, 'Make MIGRATE_ISOLATE a standalone bit' (posted May-June 2025: v6.17 [commit and release "
             "unverified]; captures bound it: after 6.12, by 7.2)",
)

_P_7_0 = _era(
    _P_6_17,
    name="7.0",
    boundary="merge 'x86-boot-2026-02-09' (v7.0 merge window): commits 4a7a13e04c05 'x86/boot/e820: Improve "
             "e820_print_type() messages' and 4d8e5a682be4 'x86/boot/e820: Print gaps in the E820 table' "
             "[release from the merge window's date; tag unverified]",
    verified=(_qemu("7.2.13", "7.2.13+deb14-amd64"),),
    # [release unverified: after 6.12, by 7.2] mm/mm_init.c mm_core_init_early() -> free_area_init()
    # -> sparse_init(); mm/sparse.c without sparse_buffer_init() (Debian 7.2.13 source);
    # trace: sparse_init after e820__reserve_resources, vmemmap_populate_hugepages(2097152) per block
    memmap__sparse_init_in_start_kernel=True,
    # E820_TYPE_RESERVED_KERN removed (no 'reserve setup_data' string in the 7.2.13 vmlinux;
    # OVMF captures: 7.2's /proc/iomem keeps the setup_data nodes inside one System RAM range)
    e820__setup_data_reserved_kern=False,
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
    _P_3_18,
    _P_3_19,
    _P_4_0,
    _P_4_1,
    _P_4_16,
    _P_4_19,
    _P_5_2,
    _P_5_5,
    _P_5_12,
    _P_5_13,
    _P_5_14,
    _P_5_16,
    _P_5_18,
    _P_6_0,
    _P_6_2,
    _P_6_5,
    _P_6_6,
    _P_6_7,
    _P_6_8,
    _P_6_10,
    _P_6_12,
    _P_6_13,
    _P_6_17,
    _P_7_0,
)


#: The newest release whose rules earlymem read (Debian 7.2.13's source and captures):
#: a later kernel is refused unless the user names the era to assume.
NEWEST_KNOWN = KernelVersion(7, 2, 0)

#: The last minor release of each major series, for naming where an era ends.
_LAST_MINOR = {3: 19, 4: 20, 5: 19, 6: 19}


def _release_before(v: KernelVersion) -> str:
    if v.major == 2:
        return f"2.6.{v.patch - 1}"
    if v.minor == 0:
        return "2.6.39" if v.major == 3 else f"{v.major - 1}.{_LAST_MINOR[v.major - 1]}"
    return f"{v.major}.{v.minor - 1}"


def _release(v: KernelVersion) -> str:
    return f"2.6.{v.patch}" if v.major == 2 else f"{v.major}.{v.minor}"


def era_span(profile: KernelProfile) -> tuple[str, str]:
    """``(first, last)`` releases of ``profile``'s era: the newest era ends at
    :data:`NEWEST_KNOWN`, the others the release before the next era's first."""
    # (a vendor's profile is its upstream era's with vendor fields added: found by its first release)
    i = next(i for i, p in enumerate(PROFILES) if p.name == profile.name)
    last = _release(NEWEST_KNOWN) if i == len(PROFILES) - 1 else _release_before(PROFILES[i + 1].first)
    return _release(profile.first), last


def rules_label(profile: KernelProfile) -> str:
    """``"rules of 6.0-6.4"`` (``"rules of 6.7"`` for a one-release era)."""
    first, last = era_span(profile)
    return f"rules of {first}" if first == last else f"rules of {first}\u2013{last}"


def era_name(version: KernelVersion | str | None, profile: KernelProfile) -> str:
    """The era as the user knows it: ``"6.1 (rules of 6.0-6.4)"``; without a version, the rules alone."""
    if version is None:
        return rules_label(profile)
    v = parse_version(version) if isinstance(version, str) else version
    return f"{_release(v)} ({rules_label(profile)})"


def coverage_note(version: KernelVersion, profile: KernelProfile) -> str | None:
    """What a prediction for ``version`` rests on when no real boot of its series was checked
    (None when one was)."""
    series = _release(version)
    checked = [c.release for p in PROFILES for c in p.verified if c.whole_boot]
    if any(r.startswith(series + ".") for r in checked):
        return None
    releases = ", ".join(checked)
    return (f"{version} is predicted with the {rules_label(profile)}, read from the kernel's history; "
            f"predictions were checked against real boots of {releases}, not of {series}")


def check_known(version: KernelVersion, *, assume: str | None = None) -> KernelProfile:
    """The profile for a kernel the user gave: refused past :data:`NEWEST_KNOWN`
    unless ``assume`` names the release whose era's rules to use.

    :raises InputError: for a release newer than any earlymem knows, without ``assume``.
    """
    if assume is not None:
        return profile_for(assume)
    if (version.major, version.minor) > (NEWEST_KNOWN.major, NEWEST_KNOWN.minor):
        newest = PROFILES[-1]
        raise InputError(
            f"kernel {version} is newer than any earlymem knows (newest: {_release(NEWEST_KNOWN)}); "
            f"pass --assume-era {_release(NEWEST_KNOWN)} to predict it with the {rules_label(newest)}, unverified",
            field="kernel version",
        )
    return profile_for(version)


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
    # a distribution's build (3.10.0-1160.el7.x86_64 ...) adds its vendor's rules
    return vendor_profile(chosen, identify(v.text))
