"""/proc/zoneinfo's per-zone pages block and /proc/buddyinfo, right after the hand-off.

mm/vmstat.c: ``zoneinfo_show_print()`` prints, for every zone of every online
node, ``Node %d, zone %8s``, then (first populated zone of a node) the
per-node stats, then ``\\n  pages free     %lu`` and ``\\n        %-9s%lu``-style
lines for the era's fields (the profile's ``zoneinfo_fields``), then
``\\n        protection: (%ld, %ld, ...)``; an unpopulated zone ends there.
``frag_show_print()`` prints one buddyinfo line per populated zone:
``Node %d, zone %8s `` then ``%6lu `` per order.

Only the pages block is produced (not the per-node and per-zone vmstat
counters, NUMA events or pagesets, which depend on the running system).
"""

from __future__ import annotations

from earlymem.mm.handoff import ZoneHandoff
from earlymem.mm.watermarks import Watermarks

__all__ = ["zoneinfo_text", "buddyinfo_text"]


def zoneinfo_text(fields: tuple[str, ...], zones: list[ZoneHandoff], wm: Watermarks, managed: list[int] | None = None) -> str:
    """Each zone's pages block: free pages of the hand-off, ``managed`` (default:
    the hand-off's), the watermarks and protection of ``wm``."""
    out = []
    managed = managed if managed is not None else [h.managed for h in zones]
    for h, (wmin, low, high, promo), prot, m in zip(zones, wm.marks, wm.protection, managed):
        z = h.zone
        values = {"pages free": h.free_pages, "boost": 0, "min": wmin, "low": low, "high": high, "promo": promo,
                  "spanned": z.spanned, "present": z.present, "managed": m, "cma": 0}
        text = f"Node {z.nid}, zone {z.name:>8}"
        for name in fields:
            text += f"\n  pages free     {values[name]}" if name == "pages free" else f"\n        {name:<9}{values[name]}"
        text += "\n        protection: (" + ", ".join(str(p) for p in prot) + ")"
        out.append(text)
    return "\n".join(out)


def buddyinfo_text(zones: list[ZoneHandoff]) -> str:
    return "\n".join(
        f"Node {h.zone.nid}, zone {h.zone.name:>8} " + "".join(f"{c:6d} " for c in h.counts)
        for h in zones if h.zone.present
    )
