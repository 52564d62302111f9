"""x86_64 setup_arch() of 2.6.37, the first memblock release, for the replay.

2.6.37 replaced early_res and the x86 bootmem code with memblock ("memblock for
2.6.37" pull, Oct 2010: "x86: Use memblock to replace early_res", "x86: Remove
old bootmem code"; allocations now go top-down) and x86_64 built with
NO_BOOTMEM -- there is no bootmem bitmap at all any more.  What decides where
the crash region and the node data land (arch/x86/kernel/setup.c,
arch/x86/mm/numa_64.c of 2.6.37):

* the kernel image ("TEXT DATA BSS"), the initrd ("RAMDISK") and the low
  BIOS areas are memblock reservations before anything is allocated
  [simplified: the whole first MiB counts as reserved, as in earlymem's 5.10
  model -- it decides nothing above 1 MiB];
* ``setup_node_bootmem()`` prints ``Initmem setup node %d %016lx-%016lx``
  (start rounded up to ZONE_ALIGN), then ``early_node_mem()`` puts the node's
  pg_data_t "on high as possible": the search starts at 16 MiB, and at 4 GiB
  if the node spans 4 GiB, top-down inside the node; it is reserved and
  printed as ``  NODE_DATA [%016lx - %016lx]``;
* ``reserve_crashkernel()``: with a base, ``memblock_find_in_range(base,
  base + size, size, 1 MiB)`` must return the base, else ``crashkernel
  reservation failed - memory is in use.``; then the region is reserved and
  ``Reserving %ldMB of memory at %ldMB for crashkernel (System RAM: %ldMB)``
  printed (System RAM = max_low_pfn - min_low_pfn, holes included);
  without a base it is found top-down in [16 MiB, DEFAULT_BZIMAGE_ADDR_MAX)
  with 16 MiB alignment (``crashkernel reservation failed - No suitable area
  found.``);
* the page allocator receives memory minus every reservation
  (``free_all_memory_core_early()``), so a reserved crash region can never
  reach it.

Not modelled (stated in the replay's notes): the direct-mapping page tables,
the vmemmap and per-CPU areas -- all top-down allocations that land far above
the crash region on this kind of machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import Memblock
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.x86_64 import MAX_DMA_ADDRESS, PAGE
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.phases.bootmem_era import Event, crashkernel_request

__all__ = ["MemblockBoot", "boot_2_6_37", "PGDAT_SIZE_2_6_37"]

ZONE_ALIGN = 8 << 20
DMA32_END = 4 << 30
DEFAULT_BZIMAGE_ADDR_MAX = 0x37FFFFFF
#: round_up(sizeof(pg_data_t), PAGE_SIZE) [assumption, as for 2.6.23: 2 pages].
PGDAT_SIZE_2_6_37 = 0x2000


@dataclass
class MemblockBoot:
    events: list[Event]
    memblock: Memblock
    crash: Range | None
    crash_reserved: bool
    #: named reservations, in the order made
    reserved: list[tuple[str, Range]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def boot_2_6_37(machine: Machine, e820: list[E820Entry], nodes: dict[int, Range]) -> MemblockBoot:
    if machine.kernel_image is None:
        raise InputError("the replay needs the kernel image's [_text, _end)", field="kernel_image")
    mb = Memblock()
    events: list[Event] = []
    reserved: list[tuple[str, Range]] = []
    for e in e820:
        if e.type == E820Type.RAM:
            s, t = -(-e.addr // PAGE) * PAGE, (e.addr + e.size) // PAGE * PAGE
            if s < t:
                mb.add(s, t - s)
    end_pfn = max((r.end for r in mb.memory), default=0) >> 12

    def reserve(what: str, r: Range) -> None:
        mb.reserve(r.start, r.size)
        reserved.append((what, r))

    reserve("low memory (BIOS data, EBDA, trampoline)", Range(0, 1 << 20))
    reserve("kernel image", machine.kernel_image)
    if machine.initrd is not None:
        reserve("initrd", Range(machine.initrd.start, -(-machine.initrd.end // PAGE) * PAGE))
    for nid in sorted(nodes):
        r = nodes[nid]
        start = -(-r.start // ZONE_ALIGN) * ZONE_ALIGN
        events.append(Event("numa", f"Initmem setup node {nid} {start:016x}-{r.end:016x}", True))
        lo = max(start, MAX_DMA_ADDRESS)
        if lo < DMA32_END < r.end:
            lo = DMA32_END
        at = mb.find_in_range(lo, r.end, PGDAT_SIZE_2_6_37, 64)
        if not at:
            at = mb.find_in_range(MAX_DMA_ADDRESS, end_pfn << 12, PGDAT_SIZE_2_6_37, 64)
        if not at:
            raise InputError(f"Cannot find {PGDAT_SIZE_2_6_37} bytes in node {nid}", field="numa")
        reserve(f"NODE_DATA({nid})", Range(at, at + PGDAT_SIZE_2_6_37))
        events.append(Event("numa", f"  NODE_DATA [{at:016x} - {at + PGDAT_SIZE_2_6_37 - 1:016x}]", True))
    ok = False
    total = end_pfn << 12
    size, base = crashkernel_request(machine, total, events)
    crash = Range(base, base + size) if size and base else None
    if size and not base:
        # 0 means: find the address automatically, below DEFAULT_BZIMAGE_ADDR_MAX
        at = mb.find_in_range(16 << 20, DEFAULT_BZIMAGE_ADDR_MAX, size, 16 << 20)
        if not at:
            events.append(Event("crashkernel", "crashkernel reservation failed - No suitable area found.", True))
        else:
            crash = Range(at, at + size)
    if crash is not None:
        found = mb.find_in_range(crash.start, crash.end, crash.size, 1 << 20)
        if found != crash.start:
            events.append(Event("crashkernel", "crashkernel reservation failed - memory is in use.", True))
        else:
            reserve("crashkernel", crash)
            ok = True
            events.append(Event("crashkernel", f"Reserving {crash.size >> 20}MB of memory at {crash.start >> 20}MB for crashkernel (System RAM: {total >> 20}MB)", True))
    notes = ["the page tables, vmemmap and per-CPU areas are not replayed (top-down, far above the crash region)",
             f"sizeof(pg_data_t) rounded to pages assumed {PGDAT_SIZE_2_6_37:#x}"]
    return MemblockBoot(events, mb, crash, ok, reserved, notes)
