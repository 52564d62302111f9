"""The page ledger of a modern (memblock-era) boot: firmware, memblock, buddy.

Every page frame below the end of RAM has exactly one owner in each phase,
and the phases must agree with each other (:func:`check_boot_ledger`):

* ``firmware`` -- the kernel's e820 table: ``RAM`` (whole pages of usable
  entries, PFN_UP to PFN_DOWN as e820__memblock_setup() adds them, less
  memblock_trim_memory()), ``e820 <type>`` for the other entries, ``hole``;
* ``memblock`` -- at memblock_free_all(): ``memblock free`` (whole pages of
  free ranges), ``memblock reserved`` (memory pages touched by a reservation:
  reserve_bootmem_region() marks them PageReserved), ``not memory``;
* ``buddy`` -- right after the hand-off: ``free <zone> node <n>`` for each
  zone's free runs, ``PageReserved`` for memory the buddy allocator never got,
  ``no memory``.

The checks: phases cover [0, end) without overlap (:meth:`Ledger.check`);
RAM pages == memblock memory pages; buddy free == memblock free == the sum
of managed pages; per zone, managed + reserved == present.
"""

from __future__ import annotations

from earlymem.allocators.memblock import Memblock
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.x86_64 import PAGE_SHIFT
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.mm.handoff import ZoneHandoff
from earlymem.mm.ledger import Ledger, LedgerError

__all__ = ["boot_ledger", "check_boot_ledger"]



def _whole_pages(start: int, end: int) -> Range | None:
    s, e = -(-start >> PAGE_SHIFT), end >> PAGE_SHIFT
    return Range(s, e) if s < e else None


def _touched_pages(start: int, end: int) -> Range | None:
    s, e = start >> PAGE_SHIFT, -(-end >> PAGE_SHIFT)
    return Range(s, e) if s < e else None


def boot_ledger(e820: list[E820Entry], mb: Memblock, handoff: list[ZoneHandoff], end_pfn: int) -> Ledger:
    """The three phases over ``[0, end_pfn)`` (disjoint owners by construction)."""
    ledger = Ledger(end_pfn)
    everything = RangeSet([Range(0, end_pfn)])
    memory = RangeSet(Range(s, e) for s, e, _ in mb.mem_pfn_ranges())
    # e820__memblock_setup() adds RAM and E820_TYPE_RESERVED_KERN (setup_data) entries
    # alike, and memblock merges neighbours before whole pages are taken
    usable = RangeSet(Range(e.addr, e.end) for e in e820 if e.type in (E820Type.RAM, E820Type.RESERVED_KERN))
    ram = RangeSet(r for r in (_whole_pages(u.start, u.end) for u in usable) if r).intersect([Range(0, end_pfn)])
    owners: list[tuple[Range, str]] = [(r, "RAM") for r in ram]
    taken = ram
    for e in e820:
        if e.type in (E820Type.RAM, E820Type.RESERVED_KERN):
            continue
        pages = _touched_pages(e.addr, min(e.end, end_pfn << PAGE_SHIFT)) if e.addr < end_pfn << PAGE_SHIFT else None
        if pages is None:
            continue
        piece = RangeSet([pages]).subtract(taken)
        owners += [(r, f"e820 type {int(e.type)}") for r in piece]
        taken = taken.union(piece)
    owners += [(r, "hole") for r in everything.subtract(taken)]
    ledger.add_phase("firmware", owners)

    reserved = RangeSet(r for r in (_touched_pages(m.base, m.end) for m in mb.reserved.regions if m.size) if r).intersect(memory)
    free = memory.subtract(reserved)
    ledger.add_phase("memblock", [(r, "memblock free") for r in free] + [(r, "memblock reserved") for r in reserved]
                     + [(r, "not memory") for r in everything.subtract(memory)])

    owners = []
    freed = RangeSet()
    for h in handoff:
        runs = RangeSet(Range(a, b) for a, b in h.runs)
        owners += [(r, f"free {h.zone.name} node {h.zone.nid}") for r in runs]
        freed = freed.union(runs)
    owners += [(r, "PageReserved") for r in memory.subtract(freed)]
    owners += [(r, "no memory") for r in everything.subtract(memory.union(freed))]
    ledger.add_phase("buddy", owners)
    ledger.claims["memory"] = Range(0, end_pfn)
    return ledger


def check_boot_ledger(ledger: Ledger, mb: Memblock, handoff: list[ZoneHandoff], ram_trimmed: bool = True) -> None:
    """Conservation in and across the phases.  :raises LedgerError: naming what broke."""
    ledger.check()
    for name, owners in ledger.phases.items():
        if sum(r.size for r, _ in owners) != ledger.end_pfn:
            raise LedgerError(f"phase {name}: pages counted twice or missed")
    memory = ledger.pages_of("memblock", "memblock")
    ram = ledger.pages_of("firmware", "RAM")
    if not memory.subtract(ram).total == 0:
        raise LedgerError(f"memblock memory outside e820 RAM: {memory.subtract(ram)}")
    free_mb = ledger.pages_of("memblock", "memblock free")
    free_buddy = ledger.pages_of("buddy", "free ")
    if free_mb != free_buddy:
        raise LedgerError(f"buddy free pages {free_buddy.total} != memblock free pages {free_mb.total}")
    if sum(h.managed for h in handoff) != free_buddy.total or sum(h.free_pages for h in handoff) != free_buddy.total:
        raise LedgerError("managed pages, free-list pages and free pages in the ledger disagree")
    for h in handoff:
        z = h.zone
        if not z.spanned:
            continue
        span = Range(z.start_pfn, z.start_pfn + z.spanned)
        reserved = ledger.pages_of("buddy", "PageReserved").intersect([span]).total
        if h.managed + reserved != z.present:
            raise LedgerError(f"node {z.nid} zone {z.name}: managed {h.managed} + reserved {reserved} != present {z.present}")
