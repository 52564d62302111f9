"""``earlymem replay SCENARIO``: one machine from firmware map to a loaded kdump kernel.

The phases, each recorded in a page ledger (:mod:`earlymem.mm.ledger`):

1. **early** -- the era's early allocator: bootmem (2.6.23-2.6.33, see
   :mod:`earlymem.boot.bootmem_era`), memblock (2.6.37, :mod:`earlymem.boot.memblock_2_6_37`;
   5.10 and later through earlymem's predictor, :mod:`earlymem.boot.setup_arch`);
2. **buddy** -- what the early allocator hands to the page allocator;
3. **running** -- the running system's allocations (:mod:`earlymem.mm.page_alloc`,
   whose module text states the policy);
4. **kexec -p** -- kexec-tools 2.0.2 writes the capture kernel's segments into
   the crash region (:mod:`earlymem.kexec.tools_2_0_2`).  The kernel copies
   them into place at load time, so every segment page the running system
   owns is overwritten then and there.

Eras and what each does with ``crashkernel=128M@16M`` on the 2011 machine:

* 2.6.23 (x86_64 setup.c): the crash region is reserved after the bootmem
  bitmap was placed over it, with no conflict check; free_all_bootmem_core()
  then frees the bitmap pages -- 291 of them inside the region;
* 2.6.24: reserve_crashkernel() in setup_64.c prints "Reserving ...", same
  silent overlap;
* 2.6.25-2.6.26 (setup_64.c) and 2.6.27-2.6.33 (unified setup.c, read in a
  ~2.6.27-2.6.29 copy): ``reserve_bootmem_generic(..., BOOTMEM_EXCLUSIVE)`` --
  the overlap with the bitmap fails the reservation visibly.  early_res makes
  find_e820_area() skip the kernel, initrd, EBDA and page tables, which it
  already did through bad_addr(), so the bitmap lands where it did
  [assumption: 2.6.27-2.6.33 is modelled with the 2.6.23 placement rules];
* 2.6.34-2.6.36 (crashkernel through reserve_early before bootmem, seen as the
  pre-image of the 2.6.37 conversion; release unverified) is not modelled;
* 2.6.37: memblock, no bitmap: the reservation succeeds and never reaches the
  page allocator;
* 5.10, 6.1, 6.12, 7.x: earlymem's predictor (the image sits at 16 MiB, so
  the fixed base fails: "crashkernel reservation failed - memory is in use.").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from earlymem.boot.bootmem_era import (
    PGDAT_SIZE_2_6_23,
    BootmemBoot,
    Event,
    boot_bootmem_era,
)
from earlymem.kexec.tools_2_0_2 import KdumpKernel, KexecLoadError, Segment, crash_load
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.version import parse_version
from earlymem.lib.x86_64 import MAX_DMA32_PFN, MAX_DMA_PFN, PAGE
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type, sanitize
from earlymem.mm.buddy import BuddyZone
from earlymem.mm.ledger import Ledger
from earlymem.mm.page_alloc import STRUCT_PAGE_2_6_23, PageAllocator, Zone
from earlymem.sources.toml import machine_from_dict, toml_number

__all__ = ["ReplayResult", "Scenario", "replay", "load_scenario", "scenario_path", "SCENARIOS", "era_of"]

SCENARIOS = ("seed-2011",)
#: sizeof(struct page) assumed for 2.6.37 and later (64 bytes since the
#: double-word cmpxchg alignment of 3.x) -- it only sizes memmap_pages.
STRUCT_PAGE_MODERN = 64


@dataclass(frozen=True)
class Era:
    """How the replay runs one kernel version (read from its era's profile)."""

    name: str
    early: str  # "bootmem" | "memblock-2.6.37" | "predictor"
    announce: bool = False
    exclusive: bool = False
    failed_text: str = "crashkernel reservation failed - memory is in use"
    source: str = ""
    profile: str = ""


def era_of(version: str) -> Era:
    """The replay era of a kernel version (KernelProfile.replay and its crashkernel
    fields); a one-line error says which versions are modelled."""
    from earlymem.kernels import PROFILES, profile_for

    prof = profile_for(version)
    if prof.replay is None:
        spans, i = [], 0
        while i < len(PROFILES):
            if PROFILES[i].replay is None:
                i += 1
                continue
            j = i
            while j + 1 < len(PROFILES) and PROFILES[j + 1].replay is not None:
                j += 1
            spans.append(f"{PROFILES[i].name} until {PROFILES[j + 1].name}" if j + 1 < len(PROFILES) else f"{PROFILES[i].name} on")
            i = j + 1
        raise InputError(f"the replay models kernels from {', '.join(spans)}; not {version} (era {prof.name}: {prof.summary})",
                         source="<command line>", field="--kernel-version")
    if prof.replay == "predictor" and not prof.models_early_nodes:
        raise InputError(f"not {version}: the predictor does not model its era", source="<command line>", field="--kernel-version")
    return Era(version, prof.replay, prof.crashkernel_announces, prof.crashkernel_bootmem_exclusive,
               prof.crashkernel_in_use_text, prof.replay_source or f"earlymem's {prof.name} profile", prof.name)


@dataclass
class Scenario:
    machine: Machine
    #: pages the running system allocates; None: as many as the watermarks allow
    allocate: int | None = None
    alloc_node: int = 0
    kdump: KdumpKernel | None = None
    kdump_initrd: int = 0
    kdump_append: str = ""
    cpus: int = 1
    source: str = ""


def scenario_path(name: str) -> Path:
    """A bundled scenario by name, or a TOML file path."""
    if name in SCENARIOS:
        return Path(str(resources.files("earlymem.replay") / "scenarios" / f"{name}.toml"))
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    raise InputError(f"unknown scenario {name!r} (bundled: {', '.join(SCENARIOS)}; or a machine .toml file)", field="SCENARIO")


def _version_number(text: object, src: str, where: str) -> int:
    if not isinstance(text, str) or "." not in text:
        raise InputError("expected a boot protocol version such as \"2.06\"", source=src, field=where)
    major, _, minor = text.partition(".")
    if not (major.isdigit() and minor.isdigit() and len(minor) == 2):
        raise InputError(f"bad boot protocol version {text!r} (e.g. \"2.06\")", source=src, field=where)
    return int(major) << 8 | int(minor)


def load_scenario(path: Path) -> Scenario:
    """A machine TOML (docs/machine-toml.md) with the replay's ``[running]`` and ``[kdump]`` tables."""
    from earlymem.sources.text import read_toml

    src = str(path)
    data = dict(read_toml(path))
    running = data.pop("running", {})
    kdump = data.pop("kdump", None)
    machine = machine_from_dict(data, src)
    if not isinstance(running, dict):
        raise InputError("expected a table", source=src, field="running")
    unknown = sorted(set(running) - {"allocate", "node"})
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}", source=src, field=f"running.{unknown[0]}")
    alloc = running.get("allocate", "all")
    pages = None if alloc == "all" else -(-toml_number(alloc, src, "running.allocate") // PAGE)
    sc = Scenario(machine, pages, int(toml_number(running.get("node", 0), src, "running.node")), source=src)
    if kdump is not None:
        if not isinstance(kdump, dict):
            raise InputError("expected a table", source=src, field="kdump")
        known = {"bzimage_size", "setup_sects", "protocol", "relocatable", "kernel_alignment", "initrd_addr_max", "initrd_size", "append", "cpus"}
        unknown = sorted(set(kdump) - known)
        if unknown:
            raise InputError(f"unknown key {unknown[0]!r}", source=src, field=f"kdump.{unknown[0]}")
        for k in ("bzimage_size", "setup_sects", "protocol", "kernel_alignment"):
            if k not in kdump:
                raise InputError(f"missing {k!r}", source=src, field="kdump")
        align = toml_number(kdump["kernel_alignment"], src, "kdump.kernel_alignment")
        if not align or align & (align - 1):
            raise InputError(f"kernel_alignment {align:#x} is not a power of two", source=src, field="kdump.kernel_alignment")
        sc.kdump = KdumpKernel(
            file_len=toml_number(kdump["bzimage_size"], src, "kdump.bzimage_size"),
            setup_sects=toml_number(kdump["setup_sects"], src, "kdump.setup_sects") & 0xFF,
            protocol=_version_number(kdump["protocol"], src, "kdump.protocol"),
            relocatable=bool(kdump.get("relocatable", True)),
            kernel_alignment=align,
            initrd_addr_max=toml_number(kdump.get("initrd_addr_max", 0x37FFFFFF), src, "kdump.initrd_addr_max"),
        )
        sc.kdump_initrd = toml_number(kdump.get("initrd_size", 0), src, "kdump.initrd_size")
        append = kdump.get("append", "")
        if not isinstance(append, str):
            raise InputError("expected a string", source=src, field="kdump.append")
        sc.kdump_append = append
        sc.cpus = max(1, toml_number(kdump.get("cpus", 1), src, "kdump.cpus"))
    return sc


def kdump_from_bzimage(path: str) -> KdumpKernel:
    """The header fields the 2.0.2 loader reads, from a real bzImage."""
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(path, decompress=False)
    f = img.fields
    return KdumpKernel(img.size, f.get("setup_sects", 0), img.protocol, bool(f.get("relocatable_kernel", 0)),
                       f.get("kernel_alignment", 0x200000) or 0x200000, f.get("initrd_addr_max", 0x37FFFFFF))


@dataclass
class Overwrite:
    segment: str
    pfns: Range
    owner: str


@dataclass
class ReplayResult:
    """The whole replay: boot, hand-off, running system, kdump load, verdict."""

    scenario: Scenario
    version: str
    era: Era
    events: list[Event]
    crash: Range | None
    crash_reserved: bool
    ledger: Ledger
    buddy: list[BuddyZone]
    buddy_after: list[BuddyZone]
    allocator: PageAllocator
    running: list[tuple[Zone, RangeSet]]
    boot: BootmemBoot | None = None
    #: pages inside the crash region the page allocator received: ``(start_pfn, end_pfn, why)``
    leaked: list[tuple[int, int, str]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    kdump_cmdline: str = ""
    kexec_debug: list[str] = field(default_factory=list)
    kexec_error: str | None = None
    #: segment pages the running kernel owned when kexec -p wrote them (allocated
    #: by the running system, or an early reservation the crash region overlaps)
    overwritten: list[Overwrite] = field(default_factory=list)
    #: segment pages free in the buddy allocator when written
    written_free: list[Overwrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def machine(self) -> Machine:
        return self.scenario.machine

    @property
    def leaked_pages(self) -> int:
        return sum(e - s for s, e, _ in self.leaked)

    @property
    def overwritten_pages(self) -> int:
        return sum(o.pfns.size for o in self.overwritten)

    def verdict(self) -> str:
        crash = self.crash
        if crash is None:
            return "no crash region (crashkernel=size@base) was asked for"
        if not self.crash_reserved:
            return "SAFE BUT NO KDUMP: the crashkernel reservation fails visibly, so no crash region exists and kexec -p refuses to load"
        if self.overwritten:
            segs = sorted({o.segment for o in self.overwritten})
            return (f"CORRUPTION: kexec -p overwrote {self.overwritten_pages} page(s) the running kernel owned "
                    f"(segments: {', '.join(segs)}) -- {self.leaked_pages} page(s) of the crash region "
                    f"[{crash.start:#x}-{crash.end - 1:#x}] had been handed to the page allocator")
        if self.leaked:
            return (f"LATENT CORRUPTION: {self.leaked_pages} page(s) of the crash region are in the page allocator; "
                    "kexec -p wrote over none the running system held yet, but those pages are handed out later, "
                    "overwriting the loaded capture kernel (purgatory's SHA-256 check then fails at crash time)")
        if self.kexec_error:
            return f"NO KDUMP: the crash region exists but kexec -p fails: {self.kexec_error}"
        return "SAFE: no page of the crash region reaches the page allocator"


def _pages(r: Range) -> Range:
    """The page frames a byte range touches."""
    return Range(r.start >> 12, -(-r.end // PAGE))


def _node_ranges(machine: Machine, end: int) -> dict[int, Range]:
    nodes: dict[int, Range] = {}
    for a in machine.numa:
        r = nodes.get(a.node)
        nodes[a.node] = Range(min(r.start, a.range.start), max(r.end, a.range.end)) if r else a.range
    return nodes or {0: Range(0, end)}


def replay(name: str, version: str = "2.6.23", *, kdump_image: str | None = None) -> ReplayResult:
    """Replay scenario ``name`` under kernel ``version``."""
    path = scenario_path(name)
    sc = load_scenario(path)
    era = era_of(version)
    if kdump_image is not None:
        sc.kdump = kdump_from_bzimage(kdump_image)
    machine = sc.machine
    entries = sanitize(sorted(machine.e820, key=lambda e: e.addr), max_entries=128) or sorted(machine.e820, key=lambda e: e.addr)
    ram_end = max(e.addr + e.size for e in entries if e.type == E820Type.RAM)
    nodes = _node_ranges(machine, ram_end)
    try:
        if era.early == "bootmem":
            res = _replay_bootmem(sc, era, version, entries, nodes)
        elif era.early == "memblock-2.6.37":
            res = _replay_2_6_37(sc, era, version, entries, nodes)
        else:
            res = _replay_predictor(sc, era, version, entries, nodes)
    except InputError as exc:
        raise exc.located(source=str(path)) from None
    _kexec(res, entries)
    return res


# -- the early phase per era -------------------------------------------------------------


def _firmware_owners(e820: list[E820Entry]) -> list[tuple[Range, str]]:
    out = []
    for e in e820:
        if e.type != E820Type.RAM:
            name = E820Type(e.type).name.lower() if e.type in E820Type._value2member_map_ else str(e.type)
            out.append((Range(e.addr >> 12, -(-(e.addr + e.size) // PAGE)), f"firmware ({name})"))
    return out


def _ram_pages(e820: list[E820Entry]) -> list[Range]:
    return [Range(-(-e.addr // PAGE), (e.addr + e.size) // PAGE) for e in e820 if e.type == E820Type.RAM]


def _finish(sc: Scenario, era: Era, version: str, e820: list[E820Entry], nodes: dict[int, Range], events: list[Event],
            early_name: str, early_owners: list[tuple[Range, str]], crash: Range | None, crash_ok: bool,
            freed_runs: list[tuple[int, int]], struct_page: int, dma_reserve: int, boot: BootmemBoot | None = None,
            freed_why: dict[str, Range] | None = None, notes: list[str] | None = None, zonelist: str | None = None) -> ReplayResult:
    """Ledger, zones, running system -- shared by every era."""
    end_pfn = max(-(-(e.addr + e.size) // PAGE) for e in e820)
    firmware = _firmware_owners(e820)
    ram = _ram_pages(e820)
    hole = [(Range(0, end_pfn), "hole")]
    crash_own = [(_pages(crash), "crash region")] if crash is not None and crash_ok else []
    ledger = Ledger(end_pfn)
    ledger.add_phase("firmware", firmware + [(r, "RAM") for r in ram] + hole)
    ledger.add_phase(early_name, firmware + early_owners + crash_own + [(r, f"free ({early_name})") for r in ram] + hole)
    freed = RangeSet(Range(s, e) for s, e in freed_runs)
    kept = [(r, o) for r, o in early_owners if not o.startswith("bootmem bitmap")]
    ledger.add_phase("buddy", firmware + [(r, "free (buddy)") for r in freed] + kept + crash_own + hole)
    if crash is not None and crash_ok:
        ledger.claims["Crash kernel"] = _pages(crash)
    # zones: spanned - holes - memmap_pages (- dma_reserve in DMA), free_area_init_core()
    ram_set = RangeSet(ram)
    zones: list[Zone] = []
    for nid in sorted(nodes):
        span = _pages(nodes[nid])
        for idx, (lo, hi) in enumerate(((0, MAX_DMA_PFN), (MAX_DMA_PFN, MAX_DMA32_PFN), (MAX_DMA32_PFN, 1 << 52))):
            z = span.intersect(Range(lo, hi))
            if not z:
                continue
            present = ram_set.intersect([z]).total
            memmap = -(-(z.size * struct_page) // PAGE)
            present = present - memmap if present >= memmap else present
            if idx == 0 and present > dma_reserve:
                present -= dma_reserve
            zones.append(Zone(nid, idx, z, present))
    buddy_free = ledger.pages_of("buddy", "free")
    allocator = PageAllocator(zones, freed_runs, buddy_free, zonelist)
    buddy = [BuddyZone.build(z.nid, z.name, z.span, buddy_free) for z in zones]
    running = allocator.allocate(sc.allocate, sc.alloc_node)
    taken = [(r, f"allocated (running system, {z.name} node {z.nid})") for z, got in running for r in got]
    ledger.add_phase("running", firmware + taken + ledger.phases["buddy"] + hole)
    ledger.check()
    free_after = ledger.pages_of("running", "free")
    buddy_after = [BuddyZone.build(z.nid, z.name, z.span, free_after) for z in zones]
    res = ReplayResult(sc, version, era, events, crash, crash_ok, ledger, buddy, buddy_after, allocator, running, boot, notes=list(notes or []))
    for r in ledger.conflicts("buddy", "Crash kernel", "free"):
        why = next((w for w, b in (freed_why or {}).items() if b.overlaps(r)), "free in the early allocator")
        res.leaked.append((r.start, r.end, why))
    return res


def _replay_bootmem(sc: Scenario, era: Era, version: str, e820: list[E820Entry], nodes: dict[int, Range]) -> ReplayResult:
    boot = boot_bootmem_era(sc.machine, e820, exclusive=era.exclusive, announce=era.announce, struct_page=STRUCT_PAGE_2_6_23, failed_text=era.failed_text)
    owners = [(_pages(r), w) for w, r in boot.reserved if w != "crashkernel"]
    owners += [(_pages(r), f"NODE_DATA({n})") for n, r in boot.pgdats.items()]
    owners += [(_pages(r), f"bootmem bitmap of node {n}") for n, r in boot.bitmaps.items()]
    owners += [(_pages(r), f"mem_map of node {n}") for n, r in boot.mem_maps.items()]
    runs = [(f.start_pfn, f.end_pfn) for n in sorted(boot.freed) for f in boot.freed[n]]
    why = {f"node {n} bootmem bitmap freed by free_all_bootmem_core()": _pages(r) for n, r in boot.bitmaps.items()}
    notes = [f"{version}: pg_data_t assumed {PGDAT_SIZE_2_6_23:#x} bytes (page-rounded), SMP trampoline at 0x6000; MP-table and ACPI wakeup reservations not replayed"]
    if era.profile == "2.6.27":
        notes.append(f"{version}: placed with 2.6.23's find_e820_area()/bad_addr() rules -- early_res holds the same ranges "
                     "(kernel, initrd, EBDA, page tables, trampoline, BIOS page) for this kind of machine [assumption]")
    return _finish(sc, era, version, e820, nodes, boot.events, "bootmem", owners, boot.crash, boot.crash_reserved, runs,
                   STRUCT_PAGE_2_6_23, boot.dma_reserve, boot, why, notes)


def _free_runs(mb, e820_ram: list[Range]) -> list[tuple[int, int]]:
    """memory - reserved, in ascending order (free_all_memory_core_early() /
    memblock_free_all() walk the free ranges upward)."""
    reserved = RangeSet(Range(r.base >> 12, -(-r.end // PAGE)) for r in mb.reserved if r.size)
    free = RangeSet(e820_ram).subtract(reserved)
    return [(r.start, r.end) for r in free]


def _replay_2_6_37(sc: Scenario, era: Era, version: str, e820: list[E820Entry], nodes: dict[int, Range]) -> ReplayResult:
    from earlymem.boot.memblock_2_6_37 import boot_2_6_37

    boot = boot_2_6_37(sc.machine, e820, nodes)
    owners = [(_pages(r), w) for w, r in boot.reserved if w != "crashkernel"]
    runs = _free_runs(boot.memblock, _ram_pages(e820))
    return _finish(sc, era, version, e820, nodes, boot.events, "memblock", owners, boot.crash, boot.crash_reserved, runs,
                   STRUCT_PAGE_MODERN, 0, notes=boot.notes)


def _replay_predictor(sc: Scenario, era: Era, version: str, e820: list[E820Entry], nodes: dict[int, Range]) -> ReplayResult:
    """A modern kernel on the same machine: Debian's image at CONFIG_PHYSICAL_START
    (16 MiB) with nokaslr, through earlymem's predictor."""
    from earlymem.boot.crashkernel import predict_crashkernel
    from earlymem.boot.e820 import e820_report
    from earlymem.boot.numa_init import early_nodes
    from earlymem.boot.setup_arch import setup_allocations
    from earlymem.kernels import profile_for
    from earlymem.lib.cmdline import CommandLine
    from earlymem.machine.e820 import E820Table

    m0 = sc.machine
    cmd = m0.command_line.text
    machine = dataclasses.replace(m0, kernel_version=parse_version(version), kernel_image=None,
                                  command_line=CommandLine((cmd + " nokaslr").strip()))
    profile = profile_for(version)
    report = e820_report(machine, profile, already_sanitized=False)
    user = report.user
    table = user.table if user is not None and user.userdef else E820Table(report.firmware, profile.e820_capacity)
    en = early_nodes(table, machine, profile)
    setup = setup_allocations(en, machine, profile)
    if setup is None:  # cannot happen with nokaslr: the image's place is known
        raise InputError("the kernel image's place is unknown", field="kernel_image")
    events = [Event("numa", t, True) for t in en.numa_lines + setup.node_data_lines]
    crash_pred = predict_crashkernel(machine, profile, setup.memblock)
    crash: Range | None = None
    ok = False
    if crash_pred is not None:
        events += [Event("crashkernel", t, True) for t in crash_pred.early + crash_pred.lines]
        if crash_pred.regions:
            crash, ok = crash_pred.regions[-1], True
        else:
            from earlymem.boot.bootmem_era import crashkernel_size_at_base

            crash = crashkernel_size_at_base(machine)
    from earlymem.boot.numa_init import assumed_kernel_image

    image = assumed_kernel_image(machine)
    owners = [(Range(0, 0x100), "low memory (first 1 MiB)")]
    if image is not None:
        owners.append((_pages(image), "kernel image"))
    if machine.initrd is not None:
        owners.append((_pages(machine.initrd), "initrd"))
    owners += [(_pages(Range(b, b + s)), w) for w, b, s in setup.allocations]
    if crash_pred is not None:
        owners += [(_pages(r), "crashkernel (low)") for r in crash_pred.regions[:-1]]
    mb = setup.memblock
    # every other reservation, minus the crash region (_finish() gives it its own
    # owner; memblock may have merged it with a neighbouring reservation)
    other = RangeSet(Range(r.base >> 12, -(-r.end // PAGE)) for r in mb.reserved if r.size)
    if ok and crash is not None:
        other = other.subtract([_pages(crash)])
    owners += [(r, "memblock reserved") for r in other]
    ram = _ram_pages(en.e820 or e820)
    runs = _free_runs(mb, ram)
    notes = list(setup.notes) + [f"{version}: the image is Debian's at 16 MiB with nokaslr; allocations after NODE_DATA and the crash region (vmemmap, per-CPU, page tables above 4 GiB) are not replayed"]
    notes.append(f"{version}: the running system is modelled with 2.6.2x's page-allocator rules (node-ordered zonelists, as since 4.14); "
                 "it cannot reach the crash region here, which never enters the page allocator")
    return _finish(sc, era, version, en.e820 or e820, nodes, events, "memblock", owners, crash, ok, runs, STRUCT_PAGE_MODERN, 0, notes=notes, zonelist="node")


# -- kexec -p ----------------------------------------------------------------------------


def _kexec(res: ReplayResult, e820: list[E820Entry]) -> None:
    sc = res.scenario
    if res.crash is None or sc.kdump is None:
        return
    if not res.crash_reserved:
        # kexec-tools: no "Crash kernel" line in /proc/iomem
        res.kexec_error = "Memory for crashkernel is not reserved"
        return
    ram = [(e.addr, e.addr + e.size - 1) for e in e820 if e.type == E820Type.RAM]
    acpi = [(e.addr, e.addr + e.size - 1) for e in e820 if e.type in (E820Type.ACPI, E820Type.NVS)]
    try:
        segs, cmdline, debug = crash_load(ram, acpi, (res.crash.start, res.crash.end - 1), sc.kdump, sc.kdump_initrd, sc.kdump_append, sc.cpus)
    except KexecLoadError as exc:
        res.kexec_error = exc.message
        return
    res.segments, res.kdump_cmdline, res.kexec_debug = segs, cmdline, debug
    if res.era.early != "bootmem":
        res.notes.append("kexec -p is kexec-tools 2.0.2 (the 2010-2011 tool) in every era; later kexec-tools place "
                         "segments differently (the bzImage64 loader from 2.0.4, kexec_file_load)")
    for seg in sorted(segs, key=lambda s: s.mem):
        for r, owner in res.ledger.owners("running", _pages(Range(seg.mem, seg.end))):
            if owner.startswith("free"):
                res.written_free.append(Overwrite(seg.name, r, owner))
            elif owner != "crash region":
                # the running kernel's: allocated by the running system, or an
                # early reservation (page tables, a bitmap...) the region overlapped
                res.overwritten.append(Overwrite(seg.name, r, owner))
