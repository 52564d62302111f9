"""What a UEFI boot adds to the e820 table and to memblock (5.10 to 7.2).

The EFI stub converts the EFI memory map into the e820 map the kernel prints
(Boot Code/Data, Loader Code/Data and Conventional become RAM); what this module
models is what the kernel then does with the EFI map itself, read from the lines
``efi=debug`` prints (earlymem.sources.dmesg: ``efi: memNN:``, ``MEMATTR=``,
``efi: memattr:``) and the e820 updates a normal log shows:

* setup_data nodes split e820_table (earlymem.phases.e820.reserve_setup_data);
* :func:`remove_efi_mmio`: efi_remove_e820_mmio() takes large EFI MMIO ranges out of it;
* :func:`efi_early_reservations`: the memblock reservations made before
  init_mem_mapping() -- setup_data, the EFI memory map array, the memory
  attributes table, and efi_reserve_boot_services()'s Boot Code/Data ranges,
  except those something already overlaps;
* :func:`efi_late_reserves`: efi_mem_reserve() calls made after the crash region
  was placed (acpi_boot_init() -> efi_bgrt_init() for the boot logo, ...):
  efi_arch_mem_reserve() (arch/x86/platform/efi/quirks.c) splits the Boot Data
  descriptor, allocates a new EFI memory map with efi_memmap_alloc() and turns
  the pages reserved in e820_table.

Under ``efi=debug`` efi_free_boot_services() returns at once ("Keep all regions for
/sys/kernel/debug/efi"), so the boot-services ranges stay reserved for good;
without it they are given back after the hand-off (not modelled: without
efi=debug the EFI map is not in the log either).
"""

from __future__ import annotations

from earlymem.allocators.memblock import Memblock
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.x86_64 import PAGE, PAGE_SHIFT, SMP_CACHE_BYTES
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Table, E820Type, sanitize

__all__ = ["EFI_MEMATTR_HEADER", "efi_early_reservations", "efi_late_reserves",
           "efi_debug_keeps_boot_services", "hidden_setup_data", "hidden_pages_by_zone", "remove_efi_mmio"]

#: sizeof(efi_memory_attributes_table_t): version, num_entries, desc_size, flags (u32 each)
EFI_MEMATTR_HEADER = 16
#: EDK2's POOL_HEAD before the data of a pool allocation that has pages of its own
#: (MdeModulePkg/Core/Dxe/Mem/Pool.c; OVMF boots: setup_data nodes at +0x18 in their pages)
EDK2_POOL_HEAD = 0x18


def efi_debug_keeps_boot_services(machine: Machine) -> bool:
    """efi_free_boot_services() (arch/x86/platform/efi/quirks.c) returns at once under
    ``efi=debug`` (``if (efi_enabled(EFI_DBG)) return;``): nothing is given back."""
    # drivers/firmware/efi/efi.c parse_efi_cmdline(): parse_option_str(str, "debug") on each efi=
    return machine.efi_boot is not None and any("debug" in (v or "").split(",")
                                                 for v in machine.command_line.get_all("efi"))


def remove_efi_mmio(table: E820Table, machine: Machine, profile: KernelProfile) -> E820Table:
    """efi_init() -> efi_remove_e820_mmio() (arch/x86/platform/efi/efi.c, in 6.12.117 and 7.2,
    not in 6.1.176): each EFI MMIO range of 256 KiB or more leaves e820_table
    (``e820__range_remove(start, size, E820_TYPE_RESERVED, 1)``; the next
    e820__update_table() drops the emptied entry), after the user-defined map was
    printed.  The ranges are the log's ``efi: Remove memNN: MMIO`` lines, printed
    with or without efi=debug."""
    if not machine.efi_mmio_removed:
        return table
    out = table.copy()
    for r in machine.efi_mmio_removed:
        out.remove_range(r.start, r.size, E820Type.RESERVED)
    out.entries = [e for e in out.entries if e.size]
    new = sanitize(out.entries, no_merge_types=profile.e820.no_merge_types, max_entries=out.capacity)
    if new is not None:
        out.entries = new
    return out


def efi_early_reservations(mb: Memblock, machine: Machine, profile: KernelProfile, notes: list[str],
                           allocations: list[tuple[str, int, int]]) -> None:
    """What a UEFI boot reserves before init_mem_mapping(), after the image, the
    initrd and the first MiB (arch/x86/kernel/setup.c setup_arch(), 5.10 to 7.2):

    1. memblock_x86_reserve_range_setup_data(): the loader's setup_data nodes;
    2. efi_memblock_x86_reserve_range() (arch/x86/platform/efi/efi.c): the EFI memory
       map array, ``nr_map * desc_size`` bytes where the stub left it: outside RAM
       since v6.0 (``profile.efi.memmap_in_ram``);
    3. efi_memattr_init() (drivers/firmware/efi/memattr.c): the memory attributes
       table, ``sizeof(efi_memory_attributes_table_t) + num_entries * desc_size``;
    4. efi_reserve_boot_services() (arch/x86/platform/efi/quirks.c): each EFI Boot
       Code and Boot Data range that no reservation overlaps yet
       (``memblock_is_region_reserved()``); one that something overlaps is left
       unreserved and marked EFI_MEMORY_RUNTIME (efi_free_boot_services() never
       frees it).  Below 1 MiB earlymem has already reserved more than the kernel
       has then ([0, 64K) and the BIOS area), but a range there ends up reserved
       either way, and one that crosses 1 MiB overlaps the BIOS area in both.
    """
    for r in machine.setup_data:
        mb.reserve(r.start, r.size)
        allocations.append(("setup_data node", r.start, r.size))
    if profile.efi.memmap_in_ram and machine.efi_map:
        _reserve_memmap_array(mb, machine, profile, notes, allocations)
    if machine.efi_memattr is not None:
        addr, entries = machine.efi_memattr
        size = EFI_MEMATTR_HEADER + entries * profile.efi.desc_size
        if not entries:
            notes.append("UEFI: the memory attributes table's entries are not in the log (efi=debug prints them): "
                         "only its header is counted as reserved")
        mb.reserve(addr, size)
        allocations.append(("EFI memory attributes table (efi_memattr_init())", addr, size))
    for t, _, r in machine.efi_map or ():
        if t in ("Boot Code", "Boot Data") and not mb.is_region_reserved(r.start, r.size):
            mb.reserve(r.start, r.size)
            allocations.append((f"EFI {t} (efi_reserve_boot_services())", r.start, r.size))


def _reserve_memmap_array(mb: Memblock, machine: Machine, profile: KernelProfile, notes: list[str],
                          allocations: list[tuple[str, int, int]]) -> None:
    """efi_memblock_x86_reserve_range() on a 5.x stub's map: ``nr_map * desc_size``
    bytes in the EFI_LOADER_DATA pool the stub's efi_get_memory_map() allocated
    (drivers/firmware/efi/libstub/mem.c, v5.10), whose place no line of the log gives.
    A pool that large gets pages of its own, its data after EDK2's POOL_HEAD
    (:data:`EDK2_POOL_HEAD`), in pages of Loader Data nothing else holds (the initrd,
    setup_data and the image are reserved already; EDK2 merges neighbouring Loader Data
    descriptors, so those pages may share a range with them); earlymem takes the
    smallest such run of pages that can hold it, and says so.  Its pages count where they are; where the
    candidates lie in different zones the count per zone is a guess, and the note says
    which ranges they were."""
    size = len(machine.efi_map or ()) * profile.efi.desc_size
    # the free page-aligned parts of Loader Data (EDK2 merges neighbouring descriptors of one
    # type, so the pool may share a range with a setup_data node or the initrd)
    free = RangeSet(r for t, _, r in machine.efi_map or () if t == "Loader Data").subtract(
        Range(r.base, r.end) for r in mb.reserved)
    pieces = (Range(-(-r.start // PAGE) * PAGE, r.end // PAGE * PAGE) for r in free)
    cands = sorted((r for r in pieces if r.end > r.start and r.size >= EDK2_POOL_HEAD + size), key=lambda r: (r.size, -r.start))
    if not cands:
        notes.append(f"UEFI: the EFI memory map array ({size} bytes, efi_memblock_x86_reserve_range()) has no Loader Data "
                     "range of its own in the map; it is taken to lie where nothing else is placed")
        return
    at = cands[0].start + EDK2_POOL_HEAD
    mb.reserve(at, size)
    allocations.append(("EFI memory map array (efi_memblock_x86_reserve_range())", at, size))
    others = ", ".join(f"[mem {r.start:#x}-{r.end - 1:#x}]" for r in cands[1:])
    notes.append(f"UEFI: the EFI memory map array ({size} bytes, efi_memblock_x86_reserve_range()) is not located by the "
                 f"log; taken to be the stub's pool in the Loader Data range [mem {cands[0].start:#x}-{cands[0].end - 1:#x}]"
                 + (f" (it could also be in {others})" if others else ""))


def hidden_setup_data(machine: Machine, profile: KernelProfile, mb: Memblock) -> list[Range]:
    """The Loader Data ranges that may hold setup_data nodes the log does not show:
    on a UEFI boot with the EFI map, in an era without ``e820.setup_data_reserved_kern``
    (no ``usable ==> usable`` line shows a node), every Loader Data range memblock
    ``mb`` (at the hand-off) leaves wholly free.  The stub allocates each node
    (setup_efi_pci()'s option ROMs, ...) as EFI_LOADER_DATA, and
    memblock_x86_reserve_range_setup_data() reserves it; empty when the nodes are
    known or the map is not."""
    if machine.efi_boot is None or machine.efi_map is None or profile.e820.setup_data_reserved_kern or machine.setup_data:
        return []
    free = RangeSet(Range(r.start, r.end) for t, _, r in machine.efi_map if t == "Loader Data")
    return list(free.subtract(Range(r.base, r.end) for r in mb.reserved))


def hidden_pages_by_zone(hidden: list[Range], zones, mb: Memblock) -> list[int]:
    """Whole pages of ``hidden`` (:func:`hidden_setup_data`) in each of ``zones``
    (objects with ``nid``, ``start_pfn`` and ``spanned``): how many fewer managed
    pages the zone has at most, if setup_data nodes fill them."""
    out = []
    for z in zones:
        lo, hi = z.start_pfn, z.start_pfn + z.spanned
        n = 0
        for r in hidden:
            region = mb.memory_region(r.start)
            if region is not None and region.nid == z.nid:
                n += max(0, min(hi, r.end >> PAGE_SHIFT) - max(lo, -(-r.start >> PAGE_SHIFT)))
        out.append(n)
    return out


def efi_late_reserves(mb: Memblock, machine: Machine, profile: KernelProfile, e820: list[E820Entry],
                      allocations: list[tuple[str, int, int]], notes: list[str]) -> list[E820Entry]:
    """efi_mem_reserve() after reserve_crashkernel() (drivers/firmware/efi/efi.c), for
    each range ``machine.efi_mem_reserves`` holds, in the log's order; returns
    e820_table afterwards.

    1. ``if (!memblock_is_region_reserved(addr, size)) memblock_reserve(addr, size)``
       (the log gives the range rounded out to pages, as efi_arch_mem_reserve() uses it;
       the pages reserved are the same);
    2. efi_arch_mem_reserve(): the Boot Data descriptor holding it is split
       (efi_memmap_split_count(): one more entry for a head left over, one for a
       tail), and efi_memmap_alloc() takes ``(nr_map + splits) * desc_size`` bytes with
       memblock_phys_alloc(size, SMP_CACHE_BYTES), top-down, for the new map;
    3. ``e820__range_update(addr, size, E820_TYPE_RAM, E820_TYPE_RESERVED)`` and
       e820__update_table(e820_table).
    """
    if not machine.efi_mem_reserves or machine.efi_map is None:
        return e820
    descs: list[tuple[str, Range]] = [(t, r) for t, _, r in machine.efi_map]
    table = E820Table(list(e820), profile.e820.capacity)
    maps = 0
    for r in machine.efi_mem_reserves:
        if not mb.is_region_reserved(r.start, r.size):
            mb.reserve(r.start, r.size)
            allocations.append(("efi_mem_reserve()", r.start, r.size))
        i = next((k for k, (t, d) in enumerate(descs) if t == "Boot Data" and d.start <= r.start and r.end <= d.end), None)
        if i is None:
            continue  # "Failed to lookup EFI memory descriptor": nothing more
        d = descs[i][1]
        pieces = [p for p in (Range(d.start, r.start), r, Range(r.end, d.end)) if p.size]
        descs[i:i + 1] = [("Boot Data", p) for p in pieces]
        size = len(descs) * profile.efi.desc_size
        addr = mb.phys_alloc(size, SMP_CACHE_BYTES)
        allocations.append(("EFI memory map (efi_memmap_alloc())", addr, size))
        maps += 1
        table.update_range(r.start, r.size, E820Type.RAM, E820Type.RESERVED)
        new = sanitize(table.entries, no_merge_types=profile.e820.no_merge_types, max_entries=table.capacity)
        if new is not None:
            table.entries = new
    if maps > 1:
        notes.append("UEFI: several efi_mem_reserve() calls each allocate a new EFI memory map; the earlier ones are "
                     "taken to stay reserved (whether __efi_memmap_free() gives them back depends on the release, "
                     "not confirmed)")
    return table.entries
