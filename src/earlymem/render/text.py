"""Tables and reports for people (rich), and the JSON of every command.

Each command's JSON is the serialisation of its typed result with a
``schema`` key (docs/json-schema.md): ``earlymem/boot/2`` (predict),
``earlymem/e820/2``, ``earlymem/verify/1``, ``earlymem/kexec/2``,
``earlymem/replay/2``, ``earlymem/bzimage/1``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from earlymem.kernels.eras import era_span, rules_label
from earlymem.kernels.vendors import known_vendor_rules
from earlymem.lib.ranges import Range
from earlymem.lib.units import format_size
from earlymem.mm.buddy import buddyinfo_line
from earlymem.phases.e820 import E820Report
from earlymem.result import to_json_value
from earlymem.sources.bzimage import FIELDS, BzImage

__all__ = ["profiles_text", "profiles_json", "e820_table", "e820_json", "verify_tables", "verify_json", "bzimage_text", "bzimage_json", "kexec_json",
           "replay_text", "replay_brief", "replay_json", "SCHEMAS"]

SCHEMAS = {
    "boot": "earlymem/boot/2",
    "e820": "earlymem/e820/2",
    "verify": "earlymem/verify/1",
    "kexec": "earlymem/kexec/2",
    "replay": "earlymem/replay/2",
    "bzimage": "earlymem/bzimage/1",
    "profiles": "earlymem/profiles/1",
    "kaslr": "earlymem/kaslr/1",
    "check": "earlymem/check/1",
    "recommend": "earlymem/recommend/1",
    "map": "earlymem/map/1",
}


# -- profiles ------------------------------------------------------------------------------


def profiles_text(profiles) -> list[str]:
    """Each era: its releases, what changed, where its boundary comes from and what it was checked against."""
    out = []
    for p in profiles:
        first, last = era_span(p)
        span = first if first == last else f"{first}\u2013{last}"
        out.append(f"{span:<15} {p.summary}")
        out.append(f"{'':<15}   boundary: {p.boundary or '(none recorded)'}"
                   + ("" if p.boundary_confirmed else "  [not confirmed]"))
        if p.verified:
            out += [f"{'':<15}   verified: {c.how}" for c in p.verified]
        else:
            out.append(f"{'':<15}   verified: no real boot of this era was checked")
    out += ["", "Vendor rules (added to the upstream era's profile when the release string names the distribution;",
            "earlymem.kernels.distro, earlymem.kernels.vendors):"]
    for _, _, releases, v in known_vendor_rules():
        out.append(f"{v.distro:<15} {releases}")
        a = v.auto
        if a is None:
            out.append(f"{'':<15}   crashkernel=auto: none (the upstream parser rejects it)")
        elif a.form == "formula":
            bases = " or ".join(f"{b >> 20}M" for b in a.bases)
            out.append(f"{'':<15}   crashkernel=auto: {bases} + 1M per 16G of System RAM above it (rounded up), "
                       f"nothing under {a.threshold >> 30}G" + ("; System RAM is the span to the highest RAM page" if a.ram == "span" else ""))
        else:
            out.append(f"{'':<15}   crashkernel=auto: the built-in list " + " or ".join(a.ranges)
                       + " (System RAM rounded up to 128M)")
        out += [f"{'':<15}   source: {src}" for src in v.sources]
        out += [f"{'':<15}   not modelled: {n}" for n in v.notes]
    return out


def profiles_json(profiles) -> dict:
    """Every profile's rules by subsystem (KernelProfile's dataclasses), with its first release."""
    out = []
    for p in profiles:
        data = to_json_value(p)
        data["first"] = str(p.first)
        data["last"] = era_span(p)[1]
        data["boundary_confirmed"] = p.boundary_confirmed
        data["e820"]["labels"] = {str(k): v for k, v in p.e820.labels.items()}
        data["kaslr"]["since"] = str(p.kaslr.since) if p.kaslr.since is not None else None
        out.append(data)
    vendors = [{"family": f, "major": m, "releases": r, "rules": to_json_value(v)} for f, m, r, v in known_vendor_rules()]
    return {"schema": SCHEMAS["profiles"], "profiles": out, "vendors": vendors}


# -- e820 ----------------------------------------------------------------------------------


def e820_table(report: E820Report, console: Console | None = None) -> None:
    """The firmware (and user-defined) map as tables."""
    console = console or Console()
    maps = [("firmware (" + report.firmware_who + ")", report.firmware)]
    if report.user is not None and report.user.userdef:
        maps.append(("user-defined", report.user.table.entries))
    for title, entries in maps:
        t = Table(title=f"{title} map, as kernels of the {rules_label(report.profile)} print it")
        for col in ("start", "end (incl.)", "size", "type"):
            t.add_column(col, justify="right" if col != "type" else "left")
        for e in entries:
            t.add_row(f"{e.addr:#x}", f"{e.addr + e.size - 1:#x}", format_size(e.size), report.profile.label(e.type).strip())
        console.print(t)


def e820_json(report: E820Report, source: str, kernel_version: str | None) -> dict:
    data = {"schema": SCHEMAS["e820"], "source": source, "kernel_version": kernel_version}
    data.update(report.to_json())
    return data


# -- verify --------------------------------------------------------------------------------


def verify_tables(reports, families: dict[str, str], diff: bool, console: Console | None = None, kaslr_groups=()) -> None:
    console = console or Console()
    for r in reports:
        t = Table(title=f"{r.source} -- kernel {r.kernel}, profile {r.profile}")
        t.add_column("family")
        t.add_column("matched / expected", justify="right")
        t.add_column("")
        for f in r.families:
            t.add_row(families[f.name], f"{f.matched}/{len(f.expected)}", f.state.value)
        console.print(t)
        k = r.kaslr
        if k is not None:
            if k.in_slots is None:
                console.print(f"KASLR: the kernel was at {k.place:#x}; its slots are not predicted: {k.why}", markup=False, highlight=False)
            else:
                verdict = "one of" if k.in_slots else "NOT one of"
                console.print(f"KASLR: the kernel was at {k.place:#x}, {verdict} the {k.slots} places predicted"
                              + (f" ({k.why})" if k.why else ""), markup=False, highlight=False)
        if diff:
            for f in r.families:
                if f.predicted is not None and not f.ok:
                    console.print(f"[bold]{f.name}[/bold]:", highlight=False)
                    for line in f.diff():
                        console.print(line, markup=False, highlight=False)


    for g in kaslr_groups:
        if g.why:
            console.print(f"KASLR: {g.name}: {g.boots} boots, the distribution is not predicted: {g.why}", markup=False, highlight=False)
            continue
        t = Table(title=f"KASLR: {g.name}, {g.boots} boots" + (f" (and {g.missing} that died before /proc/iomem)" if g.missing else "")
                        + f", {g.slots} places -- "
                        + ("ok" if g.ok else "FAILS") + f" (exact binomial test, fails below p = {g.alpha})")
        t.add_column("crash-region outcome", overflow="fold", min_width=36)
        for col in ("predicted", "expected", "seen", "p-value", ""):
            t.add_column(col, justify="right", no_wrap=True)
        for o in g.outcomes:
            t.add_row(o.summary, f"{float(o.probability):.4f}", f"{float(o.probability) * g.boots:.2f}", str(o.observed),
                      f"{o.p_value:.4f}", "ok" if o.ok else "FAILS")
        console.print(t)


def verify_json(reports, kaslr_groups=()) -> dict:
    return {"schema": SCHEMAS["verify"], "reports": [r.to_json() for r in reports],
            "kaslr_groups": [{"name": g.name, "boots": g.boots, "missing": g.missing, "slots": g.slots, "ok": g.ok, "why": g.why,
                              "outcomes": [{"summary": o.summary,
                                            "probability": f"{o.probability.numerator}/{o.probability.denominator}",
                                            "observed": o.observed, "p_value": o.p_value, "ok": o.ok} for o in g.outcomes]}
                             for g in kaslr_groups]}


# -- bzimage -------------------------------------------------------------------------------


def bzimage_json(img: BzImage) -> dict:
    extent = img.image_extent
    return {
        "schema": SCHEMAS["bzimage"],
        "source": img.source, "protocol": img.protocol_text, "kernel_version": img.kernel_version,
        "fields": img.fields, "compression": img.compression,
        "load_segments": [{"paddr": p, "memsz": m} for p, m in img.load_segments],
        "image": {"start": extent.start, "end": extent.end} if extent else None,
        "kexec_file_probe": img.kernel_probe_error() or "ok",
        "btf_struct_sizes": {k: img.struct_sizes[k] for k in ("pglist_data", "printk_info", "prb_desc") if k in img.struct_sizes},
    }


def bzimage_text(img: BzImage) -> list[str]:
    extent = img.image_extent
    out = [f"{img.source}: bzImage, boot protocol {img.protocol_text}, {img.size} bytes"]
    if img.kernel_version:
        out.append(f"kernel version: {img.kernel_version}")
    out += [f"  {f.name:<22} {img.fields[f.name]:#x}" for f in FIELDS if f.name in img.fields]
    out.append(f"payload: {img.compression}")
    out += [f"  PT_LOAD paddr {p:#x} memsz {m:#x}" for p, m in img.load_segments]
    if extent:
        out.append(f"kernel image [_text, _end): {extent.start:#x}-{extent.last:#x} ({extent.size:#x} bytes)")
    out += [f"  BTF sizeof(struct {name}) = {img.struct_sizes[name]:#x}" for name in ("pglist_data", "printk_info", "prb_desc")
            if name in img.struct_sizes]
    out.append(f"kexec_file_load probe: {img.kernel_probe_error() or 'ok (a relocatable bzImage64)'}")
    out.append(f"initrd_addr_max (as kexec-tools uses it): {img.initrd_addr_max:#x}")
    return out


# -- kexec ---------------------------------------------------------------------------------

def kexec_json(load) -> dict:
    """A KexecResult: the load, and the capture kernel's boot (schema earlymem/boot/2 inside)."""
    return {"schema": SCHEMAS["kexec"], **to_json_value(load)}


# -- replay --------------------------------------------------------------------------------


_E820_FAMILIES = ("e820", "e820-edit", "early-param", "user-map")


def replay_brief(scenario: str, results) -> list[str]:
    out = []
    for res in results:
        out.append(f"== {scenario} under Linux {res.version}: {res.era.source}")
        out += ["| " + e.text for e in res.events if e.family == "crashkernel" and e.printed]
        out += [f"   kexec -p {o.segment} overwrote PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} held by {o.owner}" for o in res.overwritten]
        out.append(f"   verdict: {res.verdict()}")
    return out


def replay_text(scenario: str, version: str, res) -> tuple[list[str], list[str]]:
    """The full replay for people: ``(stdout lines, notes)``."""
    early = res.era.early
    out = [f"# {scenario} under Linux {version}  (lines starting with '|' are the kernel's own printk text)",
           f"  era: {res.era.source}"]
    # the era's own steps (the firmware map the boot printed first is the scenario's input)
    out += [("| " if e.printed else "  ") + e.text for e in res.events if e.family not in _E820_FAMILIES]
    out.append(f"  /proc/buddyinfo when {early} hands over (before the running system allocates):")
    out += ["| " + buddyinfo_line(z) for z in res.buddy]
    for s, e, why in res.leaked:
        out.append(f"  PFNs {s:#x}-{e - 1:#x} ({e - s} pages) lie in the crash region: {why}")
        for phase in (early, "buddy", "running"):
            owners = ", ".join(f"{o} {r.start:#x}-{r.end - 1:#x}" for r, o in res.ledger.owners(phase, Range(s, e)))
            out.append(f"    ledger, phase {phase}: {owners}")
    a = res.allocator
    want = "every page the watermarks allow" if res.scenario.allocate is None else f"{res.scenario.allocate} pages"
    out.append(f"  running system: {want}, order-0, from node {res.scenario.alloc_node}; zonelist order "
               f"{a.zonelist_order() if a.order is None else a.order}, min_free_kbytes {a.min_free_kbytes}")
    for z, got in res.running:
        first = ", ".join(f"{r.start:#x}-{r.end - 1:#x}" for r in z.first_out)
        out.append(f"    node {z.nid} {z.name:<6} {got.total:>9} pages (pages_low {z.pages_low}, lowmem_reserve {z.lowmem_reserve[2]}); "
                   f"handed out first: {first}")
    out.append("  /proc/buddyinfo after the running system's allocations:")
    out += ["| " + buddyinfo_line(z) for z in res.buddy_after]
    if res.segments:
        out.append("  kexec -p (kexec-tools 2.0.2, i386 bzImage loader), segments in load order:")
        for i, seg in enumerate(res.segments):
            out.append(f"    {i}: {seg.name:<40} mem {seg.mem:#010x}-{seg.end - 1:#010x} memsz {seg.memsz:#x} bufsz {seg.bufsz:#x}")
        out.append(f"  capture kernel command line: {res.kdump_cmdline}")
        for o in res.overwritten:
            out.append(f"  OVERWRITTEN: {o.segment} wrote PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} ({o.pfns.size} pages) held by {o.owner}")
        for o in res.written_free:
            if res.ledger.claims.get("Crash kernel") and any(s <= o.pfns.start < e for s, e, _ in res.leaked):
                out.append(f"  written while free: {o.segment} PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} ({o.pfns.size} pages): "
                           "the page allocator can still hand them out")
    elif res.kexec_error:
        out.append(f"  kexec -p: {res.kexec_error}")
    out.append(f"verdict: {res.verdict()}")
    return out, list(res.notes)


def segments_json(segments) -> list[dict]:
    """kexec segments as JSON numbers, in load order."""
    return [{"name": s.name, "mem": s.mem, "memsz": s.memsz, "bufsz": s.bufsz} for s in segments]


def replay_json(scenario: str, res) -> dict:
    def rng(r) -> dict:
        return {"start": r.start, "end": r.end}

    def by_node(prefix: str) -> dict:
        return {a.purpose.rsplit(" ", 1)[1].strip("()") if prefix != "NODE_DATA(" else a.purpose[len(prefix):-1]:
                {"start": a.start, "end": a.end} for a in res.result.allocations if a.purpose.startswith(prefix)}

    bitmaps = {k: {**v, "bytes": v["end"] - v["start"]} for k, v in by_node("bootmem bitmap of node").items()}
    return {
        "schema": SCHEMAS["replay"],
        "scenario": scenario,
        "kernel": res.version,
        "era": {"early_allocator": res.era.early, "pipeline": res.era.pipeline.value, "source": res.era.source},
        "bitmaps": bitmaps,
        "node_data": by_node("NODE_DATA(") if res.era.early == "bootmem" else {},
        "mem_map": by_node("mem_map of node"),
        "crash": None if res.crash is None else {**rng(res.crash), "reserved": res.crash_reserved},
        "leaked": [{"start_pfn": s, "end_pfn": e, "pages": e - s, "why": w} for s, e, w in res.leaked],
        "leaked_pages": res.leaked_pages,
        "buddyinfo": [{"node": z.nid, "zone": z.name, "free_blocks_by_order": z.counts} for z in res.buddy],
        "running": {
            "zonelist_order": res.allocator.zonelist_order() if res.allocator.order is None else res.allocator.order,
            "min_free_kbytes": res.allocator.min_free_kbytes,
            "zones": [{"node": z.nid, "zone": z.name, "present_pages": z.present_pages, "pages_min": z.pages_min, "pages_low": z.pages_low,
                       "pages_high": z.pages_high, "lowmem_reserve": z.lowmem_reserve} for z in res.allocator.zones],
            "allocated": [{"node": z.nid, "zone": z.name, "pages": got.total, "ranges": [[r.start, r.end] for r in got][:64]} for z, got in res.running],
        },
        "buddyinfo_after": [{"node": z.nid, "zone": z.name, "free_blocks_by_order": z.counts} for z in res.buddy_after],
        "kexec": {
            "error": res.kexec_error,
            "segments": segments_json(res.segments),
            "cmdline": res.kdump_cmdline,
            "overwritten": [{"segment": o.segment, "start_pfn": o.pfns.start, "end_pfn": o.pfns.end, "owner": o.owner} for o in res.overwritten],
            "overwritten_pages": res.overwritten_pages,
            "written_free": [{"segment": o.segment, "start_pfn": o.pfns.start, "end_pfn": o.pfns.end} for o in res.written_free],
        },
        "ledger": {phase: [{"start_pfn": r.start, "end_pfn": r.end, "owner": o} for r, o in owners] for phase, owners in res.ledger.phases.items()},
        "events": [{"kind": e.family, "text": e.text, "kernel_line": e.printed, **e.data} for e in res.events
                   if e.family not in _E820_FAMILIES],
        "boot": res.result.to_json(),
        "notes": res.notes,
        "verdict": res.verdict_kind().value,
        "verdict_text": res.verdict(),
        "overwritten_pages": res.overwritten_pages,
    }
