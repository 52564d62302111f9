"""The physical memory map, phase by phase, as data, text, a terminal view and a self-contained HTML page.

One geometry serves every phase of a boot (and, in compare mode, two boots): the physical addresses
where anything begins or ends in any phase cut the axis into intervals; an interval nothing covers is
a hole, drawn as a fixed thin band with its size; every other interval gets a height that grows with
the logarithm of its size, so the first MiB, a 73-byte early allocation and terabytes of RAM are all
visible and clickable on one axis (the design notes of shared/spec/kdump-users.md §4: procmap's
descending tiles, memmap's weighted scaling).  High addresses are at the top.

The phases follow the boot, each from the typed :class:`~earlymem.result.BootResult`:

* ``firmware`` -- the firmware's map as the kernel printed it (BIOS-e820, sanitized);
* ``user`` -- the map after mem=/memmap= (only when the command line has them);
* ``memblock`` -- every early reservation and allocation, in kernel order, over the RAM memblock
  manages, with the crash regions;
* ``numa`` -- the NUMA nodes' memory and their zones;
* ``handoff`` -- memblock_free_all(): which page frames the page allocator gets (free, per zone and
  node) and which stay reserved;
* ``after`` -- what the kernel gives back after the hand-off (its init sections, the initrd);
* ``kdump-load`` and ``capture`` -- with a kdump load: the segments kexec placed in the crash region,
  and the capture kernel's own map and zones.

:func:`describe` is the map's JSON twin (schema ``earlymem/map/1``), the same data the page draws;
:func:`compare` marks, phase by phase, the regions that are not the same in two maps.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field

from earlymem.lib.units import format_size
from earlymem.result import BootResult

__all__ = ["Region", "Phase", "MemoryMap", "memory_map", "replay_map", "describe", "compare", "axis", "to_html", "terminal_lines", "KINDS"]

SCHEMA = "earlymem/map/1"

#: owner classes: (legend words, fill, pattern) -- fills from the Okabe-Ito palette, which stays apart for
#: the common colour blindnesses; each class also differs in lightness or carries a pattern, so the map
#: reads in grey scale too
KINDS = {
    "ram": ("RAM (usable)", "#56B4E9", None),
    "reserved": ("reserved by the firmware", "#7F7F7F", "hatch"),
    "acpi": ("ACPI data / NVS", "#CC79A7", "dots"),
    "other": ("other e820 types (persistent, unusable, ...)", "#F0E442", "cross"),
    "kernel": ("kernel image", "#0072B2", None),
    "initrd": ("initrd", "#009E73", None),
    "early": ("early allocation (memblock)", "#E69F00", None),
    "crash": ("crash region", "#D55E00", "hatch"),
    "node": ("NUMA node memory", "#A6D8F5", None),
    "zone": ("zone", "#FFFFFF", "zone"),
    "free": ("free pages (page allocator)", "#FFFFFF", None),
    "kept": ("reserved pages (PageReserved)", "#E69F00", None),
    "given": ("given back after boot", "#009E73", "dots"),
    "kexec": ("kexec segment", "#000000", None),
    "leaked": ("crash-region pages the page allocator received", "#D55E00", "dots"),
    "overwritten": ("pages the running kernel owned, written by kexec -p", "#882255", "cross"),
}

_E820_KIND = {1: "ram", 2: "reserved", 3: "acpi", 4: "acpi", 5: "other", 7: "other", 12: "other"}
#: the kernel function that made an allocation (Allocation.phase), and where it lives
_SOURCE = {
    "early_reserve_memory": "arch/x86/kernel/setup.c early_reserve_memory()",
    "setup_arch": "arch/x86/kernel/setup.c setup_arch()",
    "paging_init": "arch/x86/mm/init_64.c paging_init() (sparse_init(), mm/sparse.c)",
    "start_kernel": "init/main.c start_kernel()",
    "mm_core_init": "mm/mm_init.c mm_core_init()",
}
PHASES = {
    "firmware": ("Firmware map (BIOS-e820)", "arch/x86/kernel/e820.c e820__memory_setup()"),
    "user": ("User-defined map (mem=, memmap=)", "arch/x86/kernel/e820.c parse_memmap_one(), e820__finish_early_params()"),
    "memblock": ("memblock: early reservations in kernel order", "mm/memblock.c memblock_reserve(), memblock_alloc_range_nid()"),
    "numa": ("NUMA nodes and zones", "mm/mm_init.c free_area_init()"),
    "handoff": ("The hand-off to the page allocator", "mm/memblock.c memblock_free_all()"),
    "after": ("After boot: what the kernel gave back", "mm/page_alloc.c free_reserved_area(); init/initramfs.c free_initrd_mem()"),
    "running": ("The running system: what it allocated in the crash region", "earlymem.scenario"),
    "kdump-load": ("The kdump load: kexec's segments in the crash region", "kexec-tools kexec/arch/i386/kexec-bzImage64.c; kernel/kexec_file.c"),
    "capture": ("The capture kernel's map and zones", "the capture kernel's own e820 and free_area_init()"),
}


@dataclass(frozen=True)
class Region:
    """One drawn region: ``[start, end)``, its owner class (:data:`KINDS`), a label, and details."""

    start: int
    end: int
    kind: str
    label: str
    #: what a hover shows besides range and size: the kernel line that announced it, its source, ...
    detail: tuple[tuple[str, str], ...] = ()

    def key(self) -> tuple[int, int, str, str]:
        return self.start, self.end, self.kind, self.label


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    source: str
    #: regions in drawing order: later ones are drawn over earlier ones
    regions: tuple[Region, ...]
    #: what changed from the phase before, in words
    note: str = ""


@dataclass(frozen=True)
class MemoryMap:
    title: str
    phases: tuple[Phase, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def phase(self, key: str) -> Phase | None:
        return next((p for p in self.phases if p.key == key), None)


def _hex(n: int) -> str:
    return f"{n:#x}"


def _line_for(result: BootResult, start: int, end: int, family: str | None = None) -> str | None:
    """The first kernel line that names ``[start, end)`` as ``[mem START-END]`` (inclusive end, with or
    without zero padding, as %pa and %#010Lx print it)."""
    mem = re.compile(rf"\[mem 0x0*{start:x}-0x0*{end - 1:x}\]")
    return next((ln.text for ln in result.lines if (family is None or ln.family == family) and mem.search(ln.text)), None)


#: e820 types in words the same for every era (the era's own printed label is in the details, so that two
#: eras' maps compare by what the memory is, not by how it was printed)
_E820_WORDS = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS", 5: "unusable", 7: "persistent (type 7)",
               12: "persistent (type 12)"}


def _e820_regions(result: BootResult, table, what: str) -> list[Region]:
    out = []
    for e in table:
        line = _line_for(result, e.start, e.end, "e820")
        detail = (("e820 type", f"{e.type}, printed \"{e.label}\""), ("source", PHASES[what][1])) + ((("kernel line", line),) if line else ())
        out.append(Region(e.start, e.end, _E820_KIND.get(e.type, "other"), _E820_WORDS.get(e.type, f"type {e.type}"), detail))
    return out


def _alloc_kind(purpose: str) -> str:
    p = purpose.lower()
    return "kernel" if p.startswith("kernel image") else "initrd" if "initrd" in p or "ramdisk" in p else "early"


def memory_map(result: BootResult, *, title: str | None = None, load=None) -> MemoryMap:
    """The phases of ``result``; ``load`` (a kdump Outcome's load, with ``segments`` and ``capture``) adds
    the kdump load and the capture kernel's map."""
    phases: list[Phase] = []
    phases.append(Phase("firmware", *PHASES["firmware"], tuple(_e820_regions(result, result.firmware_e820, "firmware")),
                        "what the firmware handed over"))
    table = result.firmware_e820
    if result.user_e820 is not None:
        phases.append(Phase("user", *PHASES["user"], tuple(_e820_regions(result, result.user_e820, "user")),
                            f"the command line changed the map: {result.command_line}"))
        table = result.user_e820
    ram = [Region(m.start, m.end, "ram", f"RAM (memblock.memory, node {m.nid})", (("source", "mm/memblock.c memblock_add()"),))
           for m in result.memory] or [r for r in _e820_regions(result, table, "firmware") if r.kind == "ram"]
    allocs = []
    for i, a in enumerate(result.allocations, 1):
        line = _line_for(result, a.start, a.end)
        allocs.append(Region(a.start, a.end, _alloc_kind(a.purpose), a.purpose,
                             (("order", f"#{i} in kernel order"), ("made by", a.phase),
                              ("source", _SOURCE.get(a.phase, a.phase))) + ((("kernel line", line),) if line else ())))
    for c in result.crash:
        line = next((ln.text for ln in result.lines if ln.family == "crashkernel" and "reserv" in ln.text.lower()), None)
        allocs.append(Region(c.start, c.end, "crash", "crash region (low)" if c.low else "crash region",
                             (("source", "kernel/crash_reserve.c reserve_crashkernel_generic(); arch/x86/kernel/setup.c"),)
                             + ((("kernel line", line),) if line else ())))
    early = ("bootmem: early reservations in kernel order", "mm/bootmem.c reserve_bootmem(), __alloc_bootmem()") \
        if any(p.name == "bootmem" for p in result.ledger) else PHASES["memblock"]
    phases.append(Phase("memblock", *early, tuple(ram + allocs),
                        f"{len(result.allocations)} early reservations and allocations" +
                        (f"; the crash region: {len(result.crash)}" if result.crash else "; no crash region")))
    if result.nodes or result.zones:
        regs = [Region(s, e, "node", f"node {n.nid}", (("source", "arch/x86/mm/numa.c numa_init()"),))
                for n in result.nodes for s, e in n.memory]
        for z in result.zones:
            if z.spanned:
                words = (("present pages", str(z.present)),) + ((("managed pages", str(z.managed)),) if z.managed is not None else ())
                regs.append(Region(z.start_pfn << 12, (z.start_pfn + z.spanned) << 12, "zone", f"node {z.nid} {z.name}",
                                   words + (("source", PHASES["numa"][1]),)))
        phases.append(Phase("numa", *PHASES["numa"], tuple(regs),
                            f"{len(result.nodes)} node(s), {sum(1 for z in result.zones if z.spanned)} populated zone(s)"))
    ledger = {p.name: p for p in result.ledger}
    if "buddy" in ledger:
        regs = []
        for s, e, owner in ledger["buddy"].owners:
            if owner in ("no memory", "hole", "not memory"):
                continue
            kind = "free" if owner.startswith("free") else "kept"
            regs.append(Region(s << 12, e << 12, kind, owner, (("pages", str(e - s)), ("source", PHASES["handoff"][1]))))
        phases.append(Phase("handoff", *PHASES["handoff"], tuple(regs), "memblock's free memory becomes the buddy allocator's"))
    if result.frees:
        image = result.kernel_image
        given = []
        if image is not None:
            words = tuple((f.what, f"{f.pages * 4}K") for f in result.frees)
            given.append(Region(image[0], image[1], "given", "kernel image: parts given back", words +
                                (("source", PHASES["after"][1]),)))
        base = list(phases[-1].regions) if phases[-1].key == "handoff" else []
        phases.append(Phase("after", *PHASES["after"], tuple(base + given),
                            "; ".join(f"Freeing {f.what} memory: {f.pages * 4}K" for f in result.frees)))
    if load is not None:
        segs = [Region(s.mem, s.mem + s.memsz, "kexec", s.name, (("source", PHASES["kdump-load"][1]),))
                for s in load.segments]
        # the RAM memblock managed, for where the crash region sits, then the region and what kexec put in it
        context = [r for p in phases if p.key == "memblock" for r in p.regions if r.kind in ("ram", "crash")]
        phases.append(Phase("kdump-load", *PHASES["kdump-load"], tuple(context + segs),
                            ", ".join(f"{s.name} {format_size(s.memsz)}" for s in load.segments)))
        cap = load.capture
        if cap is not None:
            regs = _e820_regions(cap, cap.e820 or cap.firmware_e820, "firmware")
            regs += [Region(z.start_pfn << 12, (z.start_pfn + z.spanned) << 12, "zone", f"node {z.nid} {z.name}",
                            (("present pages", str(z.present)),) + ((("managed pages", str(z.managed)),) if z.managed is not None else ()))
                     for z in cap.zones if z.spanned]
            phases.append(Phase("capture", *PHASES["capture"], tuple(regs), "the map kexec gives the capture kernel"))
    # what the boot could not place is not drawn (the kernel's place under KASLR, an unknown build's
    # allocations): the map says so beside it, rather than draw a guess
    notes = tuple(result.assumptions) + tuple(f"not drawn: {n.what}: {n.reason}" for n in result.not_predicted)
    return MemoryMap(title or f"{result.kernel_version or result.era} on {result.source}", tuple(phases), notes)


@dataclass(frozen=True)
class Interval:
    start: int
    end: int
    #: nothing in any phase covers it
    hole: bool
    y: int
    h: int


#: a hole's band and the least height of an interval, in pixels; above it the height grows by
#: PER_DOUBLING for each doubling of the interval's size in pages
HOLE_H, MIN_H, PER_DOUBLING = 14, 10, 4


def axis(*maps: MemoryMap) -> list[Interval]:
    """The intervals of one geometry for every phase of ``maps``, top (highest addresses) first."""
    cuts = sorted({x for m in maps for p in m.phases for r in p.regions for x in (r.start, r.end)})
    covered = sorted((r.start, r.end) for m in maps for p in m.phases for r in p.regions if r.end > r.start)
    out, y = [], 0
    spans = list(zip(cuts, cuts[1:]))
    # a sweep over the regions sorted by start: whether each interval lies inside any region
    i, best_end = 0, -1
    flags = []
    for s, e in spans:
        while i < len(covered) and covered[i][0] <= s:
            best_end = max(best_end, covered[i][1])
            i += 1
        flags.append(best_end >= e)
    for (s, e), inside in reversed(list(zip(spans, flags))):
        h = HOLE_H if not inside else max(MIN_H, round(PER_DOUBLING * math.log2(max(1, (e - s) / 4096)) + MIN_H))
        out.append(Interval(s, e, not inside, y, h))
        y += h
    return out


def _placer(intervals: list[Interval]):
    """The first and last index in ``intervals`` (top first) a region spans: its highest interval, the one
    that ends at its end, and its lowest, the one that starts at its start (every region's ends are cuts
    of the axis); (-1, -1) for an empty one."""
    tops = {iv.end: i for i, iv in enumerate(intervals)}
    bottoms = {iv.start: i for i, iv in enumerate(intervals)}

    def place(region: Region) -> tuple[int, int]:
        top, bottom = tops.get(region.end), bottoms.get(region.start)
        if top is None or bottom is None or region.end <= region.start:
            return -1, -1
        return top, bottom
    return place


def replay_map(rr) -> MemoryMap:
    """The 2011 story's map (an earlymem.scenario ReplayResult): the boot's phases, then what the running
    system took in the crash region, and where kexec -p wrote -- over pages the running kernel owned."""
    m = memory_map(rr.result, title=f"{rr.scenario.source or 'scenario'} on {rr.version}")
    phases = list(m.phases)
    crash = [Region(rr.crash.start, rr.crash.end, "crash", "crash region" if rr.crash_reserved else
                    "where crashkernel= asked: not reserved", (("reserved", "yes" if rr.crash_reserved else "no"),))] \
        if rr.crash is not None else []
    leaked = [Region(s << 12, e << 12, "leaked", "crash-region pages the page allocator received", (("why", why),))
              for s, e, why in rr.leaked]
    phases.append(Phase("running", "The running system: what it allocated in the crash region", "earlymem.scenario (the page "
                        "allocator's order, mm/page_alloc.c)", tuple(crash + leaked),
                        f"{rr.leaked_pages} crash-region pages were the page allocator's"))
    segs = [Region(g.mem, g.end, "kexec", g.name, (("source", PHASES["kdump-load"][1]),)) for g in rr.segments]
    over = [Region(o.pfns.start << 12, o.pfns.end << 12, "overwritten", f"{o.segment}: over {o.owner}",
                   (("pages", str(o.pfns.end - o.pfns.start)),)) for o in rr.overwritten]
    phases.append(Phase("kdump-load", *PHASES["kdump-load"], tuple(crash + segs + over),
                        f"{rr.overwritten_pages} pages the running kernel owned were overwritten" if rr.overwritten
                        else "no page the running kernel owned was written"))
    return MemoryMap(m.title, tuple(phases), m.notes)


def describe(m: MemoryMap) -> dict:
    """The JSON twin of ``m`` (schema earlymem/map/1): every phase and region, addresses as hex strings."""
    return {"schema": SCHEMA, "title": m.title, "notes": list(m.notes),
            "phases": [{"key": p.key, "title": p.title, "source": p.source, "note": p.note,
                        "regions": [{"start": _hex(r.start), "end": _hex(r.end), "size": r.end - r.start, "kind": r.kind,
                                     "label": r.label, "detail": dict(r.detail)} for r in p.regions]} for p in m.phases]}


def compare(a: MemoryMap, b: MemoryMap) -> dict[str, tuple[set, set]]:
    """Per phase both maps have: the regions only ``a`` has and the regions only ``b`` has (by range, owner
    class and label)."""
    out = {}
    for pa in a.phases:
        pb = b.phase(pa.key)
        if pb is None:
            continue
        ka, kb = {r.key() for r in pa.regions}, {r.key() for r in pb.regions}
        out[pa.key] = (ka - kb, kb - ka)
    return out


def terminal_lines(m: MemoryMap, phase: str) -> list[tuple[str, str, str]]:
    """``(range, label, kind)`` rows of one phase, top address first, for a terminal: each interval of the
    phase's geometry with the region drawn topmost there, holes collapsed into one row."""
    p = m.phase(phase)
    if p is None:
        raise KeyError(phase)
    rows = []
    for iv in axis(MemoryMap(m.title, (p,))):
        top = next((r for r in reversed(p.regions) if r.start <= iv.start and iv.end <= r.end), None)
        if top is None:
            rows.append((f"{iv.start:#014x}-{iv.end - 1:#014x}", f"hole, {format_size(iv.end - iv.start)}", "hole"))
        else:
            rows.append((f"{iv.start:#014x}-{iv.end - 1:#014x}", f"{top.label} ({format_size(iv.end - iv.start)})", top.kind))
    return rows


def _page_data(maps: list[MemoryMap], names: list[str]) -> dict:
    intervals = axis(*maps)
    place = _placer(intervals)
    diff = compare(maps[0], maps[1]) if len(maps) == 2 else {}
    keys = list(dict.fromkeys(p.key for m in maps for p in m.phases))
    data = {"schema": SCHEMA, "names": names, "keys": keys,
            "titles": {k: PHASES[k][0] for k in keys},
            "kinds": {k: list(v) for k, v in KINDS.items()},
            "axis": [[_hex(iv.start), _hex(iv.end), iv.hole, iv.y, iv.h, format_size(iv.end - iv.start), iv.end - iv.start]
                     for iv in intervals],
            "hole_h": HOLE_H, "min_h": MIN_H, "per_doubling": PER_DOUBLING,
            "height": intervals[-1].y + intervals[-1].h if intervals else 0, "maps": []}
    for n, m in enumerate(maps):
        phases = {}
        before: set = set()
        for p in m.phases:
            only = diff.get(p.key, (set(), set()))[n] if diff else set()
            regs = []
            for r in p.regions:
                first, last = place(r)
                regs.append([_hex(r.start), _hex(r.end), r.kind, r.label, first, last, format_size(r.end - r.start),
                             [list(d) for d in r.detail], r.key() in only, bool(before) and r.key() not in before])
            phases[p.key] = {"source": p.source, "note": p.note, "regions": regs}
            before = {r.key() for r in p.regions}
        data["maps"].append({"title": m.title, "phases": phases, "notes": list(m.notes)})
    return data


def to_html(maps: list[MemoryMap], names: list[str] | None = None) -> str:
    """One self-contained page (no network: the script, the styles and the data are inline) for one map
    or, with two, the compare mode: side by side on one axis, the regions that differ outlined."""
    if not 1 <= len(maps) <= 2:
        raise ValueError("one map, or two to compare")
    names = names or [m.title for m in maps]
    data = json.dumps(_page_data(maps, names), separators=(",", ":")).replace("</", "<\\/")
    title = html.escape(" vs ".join(names))
    return _PAGE.replace("@@TITLE@@", title).replace("@@DATA@@", data)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>earlymem map: @@TITLE@@</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#111;background:#fff}
header{padding:8px 12px;border-bottom:1px solid #ccc;position:sticky;top:0;background:#fff;z-index:2}
h1{font-size:16px;margin:0 0 6px}
#steps button{margin:0 4px 4px 0;padding:3px 8px;border:1px solid #555;background:#f4f4f4;cursor:pointer}
#steps button[aria-pressed=true]{background:#111;color:#fff}
#note{color:#333;margin-top:4px}
main{display:flex;gap:16px;padding:8px 12px}
.col h2{font-size:14px;margin:0 0 4px}
svg text{font:11px system-ui,sans-serif}
#tip{position:fixed;right:12px;bottom:12px;max-width:460px;background:#fffbe6;border:1px solid #888;padding:8px;white-space:pre-wrap;font:12px monospace;display:none}
#legend span{display:inline-block;margin:0 10px 2px 0}
#legend i{display:inline-block;width:12px;height:12px;border:1px solid #333;vertical-align:middle;margin-right:4px}
.diff{stroke:#d00;stroke-width:3}
.new{fill:#009E73;stroke:#000;stroke-width:0.5}
</style></head><body>
<header><h1>earlymem map: @@TITLE@@</h1><div id="steps" role="toolbar" aria-label="boot phases"></div>
<label><input type="checkbox" id="focus"> only this phase's ranges (collapse the rest)</label>
<div id="note"></div><ul id="notes"></ul><div id="legend"></div></header>
<main id="cols"></main><div id="tip" role="status"></div>
<script id="data" type="application/json">@@DATA@@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const AXIS_W = 150, BAR_W = 260;
const HASH = location.hash.slice(1).split("&");
let current = D.keys.includes(HASH[0]) ? HASH[0] : D.keys[0];
let focus = HASH.includes("focus");
// the axis as drawn: bands of intervals, each with its top and foot.  Without focus every interval is a band
// (one geometry for every phase); with focus, the current phase's only: consecutive intervals drawn by the
// same regions merge into one band (its height scaled from the merged size, as the axis scales), and a run
// the phase does not draw on collapses into one thin band
function scaled(bytes) { return Math.max(D.min_h, Math.round(D.per_doubling * Math.log2(Math.max(1, bytes / 4096)) + D.min_h)); }
function layout() {
  const sig = D.axis.map((a, i) => (focus ? "" : "#" + i));
  if (focus) D.maps.forEach((m, n) => { const p = m.phases[current]; if (p) p.regions.forEach((r, j) => { for (let i = r[4]; i >= 0 && i <= r[5]; i++) sig[i] += n + ":" + j + ","; }); });
  const bands = [];
  D.axis.forEach((a, i) => {
    const last = bands[bands.length - 1];
    if (last && sig[i] === sig[i - 1] && a[2] === D.axis[i - 1][2]) { last.last = i; last.bytes += a[6]; }
    else bands.push({first: i, last: i, bytes: a[6], hole: a[2], empty: focus && sig[i] === ""});
  });
  const top = [], foot = [];
  let y = 0;
  for (const b of bands) {
    b.top = y;
    b.h = b.hole || b.empty ? D.hole_h : (b.first === b.last ? D.axis[b.first][4] : scaled(b.bytes));
    y += b.h;
    for (let i = b.first; i <= b.last; i++) { top[i] = b.top; foot[i] = y; }
  }
  return {bands, top, foot, height: y};
}
function el(tag, attrs, parent) { const e = document.createElementNS(NS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }
function defs(svg) {
  const d = el("defs", {}, svg);
  const pats = {hatch: "M0,8 L8,0", dots: null, cross: "M0,0 L8,8 M0,8 L8,0", zone: "M0,0 L8,0"};
  for (const name in pats) {
    const p = el("pattern", {id: "p-" + name, width: 8, height: 8, patternUnits: "userSpaceOnUse"}, d);
    if (name === "dots") el("circle", {cx: 4, cy: 4, r: 1.5, fill: "#000"}, p);
    else el("path", {d: pats[name], stroke: "#000", "stroke-width": 1}, p);
  }
}
function show(r, mapName) {
  const tip = document.getElementById("tip");
  const lines = [mapName, r[3], "[" + r[0] + ", " + r[1] + ")  " + r[6], "owner: " + D.kinds[r[2]][0]];
  for (const [k, v] of r[7]) lines.push(k + ": " + v);
  if (r[8]) lines.push("differs from the other map");
  if (r[9]) lines.push("new in this phase");
  tip.textContent = lines.join("\\n"); tip.style.display = "block";
}
function draw() {
  const cols = document.getElementById("cols"); cols.textContent = "";
  for (const b of document.querySelectorAll("#steps button")) b.setAttribute("aria-pressed", b.dataset.key === current);
  const notes = [];
  const L = layout();
  D.maps.forEach((m, n) => {
    const col = document.createElement("div"); col.className = "col"; cols.appendChild(col);
    const h2 = document.createElement("h2"); h2.textContent = D.names[n]; col.appendChild(h2);
    const svg = el("svg", {width: AXIS_W + BAR_W + 10, height: L.height + 2, role: "img", "aria-label": D.names[n] + ": " + D.titles[current]}, col);
    defs(svg);
    for (const b of L.bands) {
      const g = el("g", {class: "iv"}, svg);
      el("line", {x1: 0, x2: AXIS_W + BAR_W, y1: b.top, y2: b.top, stroke: "#eee"}, g);
      const t = el("text", {x: 2, y: b.top + b.h - 2, fill: b.hole || b.empty ? "#888" : "#333"}, g);
      // a band's start (its lowest interval's), at its foot; a hole, or (with focus) a run this phase does not draw on
      t.textContent = b.hole ? "hole " + D.axis[b.first][5] : b.empty ? "... not drawn in this phase" : D.axis[b.last][0];
      if (b.hole || b.empty) el("rect", {x: AXIS_W, y: b.top + 3, width: BAR_W, height: b.h - 6, fill: "none", stroke: "#bbb", "stroke-dasharray": "3,3"}, g);
    }
    const p = m.phases[current];
    if (!p) { const t = el("text", {x: AXIS_W + 4, y: 14}, svg); t.textContent = "(this boot has no such phase)"; return; }
    notes.push(D.names[n] + ": " + p.note + " -- " + p.source);
    for (const r of p.regions) {
      if (r[4] < 0) continue;
      const k = D.kinds[r[2]];
      const ry = L.top[r[4]], rh = L.foot[r[5]] - ry;
      const g = el("g", {class: "region", "data-start": r[0], "data-end": r[1], "data-kind": r[2], "data-label": r[3], "data-diff": r[8], "data-new": r[9], tabindex: 0}, svg);
      el("rect", {x: AXIS_W, y: ry, width: BAR_W, height: rh, fill: k[1], stroke: "#222", "stroke-width": 0.5}, g);
      if (k[2]) el("rect", {x: AXIS_W, y: ry, width: BAR_W, height: rh, fill: "url(#p-" + k[2] + ")", opacity: 0.35}, g);
      if (r[8]) el("rect", {x: AXIS_W + 1.5, y: ry + 1.5, width: BAR_W - 3, height: Math.max(rh - 3, 1), fill: "none", class: "diff"}, g);
      if (r[9]) el("path", {d: "M" + (AXIS_W - 9) + "," + (ry + Math.min(rh, 12) / 2 - 5) + " l8,5 l-8,5 z", class: "new"}, g);
      if (rh >= 11) { const t = el("text", {x: AXIS_W + 4, y: ry + Math.min(rh, 12) - 2, fill: k[1] === "#000000" || k[1] === "#0072B2" || k[1] === "#882255" ? "#fff" : "#000"}, g); t.textContent = r[3] + " (" + r[6] + ")"; }
      el("title", {}, g).textContent = r[3] + " [" + r[0] + ", " + r[1] + ") " + r[6];
      g.addEventListener("mouseenter", () => show(r, D.names[n]));
      g.addEventListener("click", () => show(r, D.names[n]));
      g.addEventListener("focus", () => show(r, D.names[n]));
    }
  });
  document.getElementById("note").textContent = D.titles[current] + ". " + notes.join(" | ");
}
const steps = document.getElementById("steps");
D.keys.forEach((k, i) => {
  const b = document.createElement("button"); b.dataset.key = k; b.textContent = (i + 1) + ". " + D.titles[k];
  b.addEventListener("click", () => { current = k; draw(); }); steps.appendChild(b);
});
document.addEventListener("keydown", (e) => {
  const i = D.keys.indexOf(current);
  if (e.key === "ArrowRight" && i < D.keys.length - 1) { current = D.keys[i + 1]; draw(); }
  if (e.key === "ArrowLeft" && i > 0) { current = D.keys[i - 1]; draw(); }
});
D.maps.forEach((m, n) => { for (const t of m.notes) { const li = document.createElement("li"); li.textContent = (D.maps.length > 1 ? D.names[n] + ": " : "") + t; document.getElementById("notes").appendChild(li); } });
const box = document.getElementById("focus");
box.checked = focus;
box.addEventListener("change", () => { focus = box.checked; draw(); });
const legend = document.getElementById("legend");
{ const s = document.createElement("span"); s.innerHTML = "<i style=\\"background:#009E73;border-radius:0 6px 6px 0\\"></i>"; s.appendChild(document.createTextNode("(at the left) new in this phase")); legend.appendChild(s); }
{ const s = document.createElement("span"); s.innerHTML = "<i style=\\"background:#fff;border:3px solid #d00\\"></i>"; s.appendChild(document.createTextNode("(outlined) differs from the other map")); legend.appendChild(s); }
for (const k in D.kinds) { const s = document.createElement("span"); s.dataset.kind = k; s.innerHTML = "<i style=\\"background:" + D.kinds[k][1] + "\\"></i>"; s.appendChild(document.createTextNode(D.kinds[k][0])); legend.appendChild(s); }
draw();
</script></body></html>
"""
