"""/proc/zoneinfo's per-zone pages block and /proc/buddyinfo, right after the hand-off.

mm/vmstat.c: ``zoneinfo_show_print()`` prints, for every zone of every online
node, ``Node %d, zone %8s``, then (first populated zone of a node) the
per-node stats, then ``\\n  pages free     %lu`` and ``\\n        %-9s%lu``-style
lines for the era's fields (the profile's ``zoneinfo.fields``), then
``\\n        protection: (%ld, %ld, ...)``; an unpopulated zone ends there.
``frag_show_print()`` prints one buddyinfo line per populated zone:
``Node %d, zone %8s `` then ``%6lu `` per order.

Only the pages block is produced (not the per-node and per-zone vmstat
counters, NUMA events or pagesets, which depend on the running system).
"""

from __future__ import annotations

__all__ = ["zoneinfo_text", "buddyinfo_text", "watermark_text", "zoneinfo_lines"]


def zoneinfo_text(fields: tuple[str, ...], zones) -> str:
    """Each zone's pages block (earlymem.result.Zone): free pages of the
    hand-off; managed pages, watermarks and protection as after boot."""
    out = []
    for z in zones:
        values = {"pages free": z.free_pages, "boost": 0, "min": z.min, "low": z.low, "high": z.high, "promo": z.promo,
                  "spanned": z.spanned, "present": z.present, "managed": z.managed, "cma": 0}
        text = f"Node {z.nid}, zone {z.name:>8}"
        for name in fields:
            text += f"\n  pages free     {values[name]}" if name == "pages free" else f"\n        {name:<9}{values[name]}"
        text += "\n        protection: (" + ", ".join(str(p) for p in z.protection) + ")"
        out.append(text)
    return "\n".join(out)


def buddyinfo_text(zones) -> str:
    """/proc/buddyinfo at the hand-off: one line per populated zone."""
    return "\n".join(
        f"Node {z.nid}, zone {z.name:>8} " + "".join(f"{c:6d} " for c in z.free_lists)
        for z in zones if z.present
    )


def watermark_text(wmin, low, high, protection) -> str:
    """One zone's min, low, high and protection, as verify's zoneinfo-watermarks family compares them."""
    return f"min={wmin} low={low} high={high} protection: ({', '.join(str(p) for p in protection)})"


def zoneinfo_lines(zones) -> dict[str, list[str]]:
    """verify's /proc/zoneinfo families: spanned/present per zone, and where
    predicted, managed and the watermarks."""
    out = {"zoneinfo": [f"Node {z.nid}, zone {z.name}: spanned={z.spanned} present={z.present}" for z in zones]}
    if zones and all(z.managed is not None for z in zones):
        out["zoneinfo-managed"] = [f"Node {z.nid}, zone {z.name}: managed={z.managed}" for z in zones]
        out["zoneinfo-watermarks"] = [f"Node {z.nid}, zone {z.name}: {watermark_text(z.min, z.low, z.high, z.protection)}"
                                      for z in zones]
    return out
