"""``earlymem replay SCENARIO``: one machine from firmware map to a loaded kdump kernel.

The phases, each recorded in a page ledger (:mod:`earlymem.mm.ledger`):

1. **early** -- the era's boot (:func:`earlymem.boot`): bootmem (2.6.23-2.6.33,
   :mod:`earlymem.phases.bootmem_era`), memblock (2.6.37,
   :mod:`earlymem.phases.memblock_2_6_37`; 5.10 and later the whole modern boot
   to the hand-off);
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
* 5.10, 6.1, 6.12, 7.x: the modern boot with the pinned Debian build of the
  series (the image sits at 16 MiB with nokaslr, so the fixed base fails:
  "crashkernel reservation failed - memory is in use.").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from earlymem.kernels import PINNED, PROFILES, pinned_build, profile_for
from earlymem.kernels.profile import Pipeline
from earlymem.kexec.tools_2_0_2 import KdumpKernel, KexecLoadError, Segment, crash_load
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.version import parse_version
from earlymem.lib.x86_64 import PAGE
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.mm.buddy import BuddyZone
from earlymem.mm.ledger import Ledger
from earlymem.mm.page_alloc import PageAllocator, Zone
from earlymem.pipeline import boot, early_era_ledger
from earlymem.result import BootResult, Line, Verdict
from earlymem.sources.bzimage import read_bzimage
from earlymem.sources.text import read_toml
from earlymem.sources.toml import machine_from_dict, toml_number

__all__ = ["ReplayResult", "Scenario", "replay", "load_scenario", "scenario_path", "SCENARIOS", "era_of"]

SCENARIOS = ("seed-2011",)
_ZONE_INDEX = {"DMA": 0, "DMA32": 1, "Normal": 2}


@dataclass(frozen=True)
class Era:
    """How the replay runs one kernel version (read from its era's profile)."""

    name: str
    pipeline: Pipeline
    source: str = ""
    profile: str = ""

    @property
    def early(self) -> str:
        """The early allocator's name in the ledger: ``bootmem`` or ``memblock``."""
        return "bootmem" if self.pipeline is Pipeline.BOOTMEM else "memblock"


def era_of(version: str) -> Era:
    """The replay era of a kernel version (KernelProfile.pipeline); a one-line
    error says which versions are modelled."""
    prof = profile_for(version)
    if prof.pipeline is Pipeline.E820:
        spans, i = [], 0
        while i < len(PROFILES):
            if PROFILES[i].pipeline is Pipeline.E820:
                i += 1
                continue
            j = i
            while j + 1 < len(PROFILES) and PROFILES[j + 1].pipeline is not Pipeline.E820:
                j += 1
            spans.append(f"{PROFILES[i].name} until {PROFILES[j + 1].name}" if j + 1 < len(PROFILES) else f"{PROFILES[i].name} on")
            i = j + 1
        raise InputError(f"the replay models kernels from {', '.join(spans)}; not {version} (era {prof.name}: {prof.summary})",
                         source="<command line>", field="--kernel-version")
    return Era(version, prof.pipeline, prof.replay_source or f"earlymem's {prof.name} profile", prof.name)


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
        return Path(str(resources.files("earlymem.scenario") / "scenarios" / f"{name}.toml"))
    p = Path(name)
    if p.suffix == ".toml":
        if not p.is_file():
            raise InputError("no such file", source=name)
        return p
    raise InputError(f"unknown scenario {name!r} (bundled: {', '.join(SCENARIOS)}; or a machine .toml file)", source="SCENARIO")


def _version_number(text: object, src: str, where: str) -> int:
    if not isinstance(text, str) or "." not in text:
        raise InputError("expected a boot protocol version such as \"2.06\"", source=src, field=where)
    major, _, minor = text.partition(".")
    if not (major.isdigit() and minor.isdigit() and len(minor) == 2):
        raise InputError(f"bad boot protocol version {text!r} (e.g. \"2.06\")", source=src, field=where)
    return int(major) << 8 | int(minor)


def load_scenario(path: Path) -> Scenario:
    """A machine TOML (docs/machine-toml.md) with the replay's ``[running]`` and ``[kdump]`` tables."""
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
    #: the boot itself (earlymem.boot)
    result: BootResult
    crash: Range | None
    crash_reserved: bool
    ledger: Ledger
    buddy: list[BuddyZone]
    buddy_after: list[BuddyZone]
    allocator: PageAllocator
    running: list[tuple[Zone, RangeSet]]
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

    @property
    def events(self) -> tuple[Line, ...]:
        """The boot's timeline: the kernel's lines and earlymem's account of silent steps."""
        return self.result.lines

    def verdict_kind(self) -> Verdict:
        """The outcome as an enum (:meth:`verdict` says it in words)."""
        if self.crash is None:
            return Verdict.NO_CRASH_REGION
        if not self.crash_reserved:
            return Verdict.SAFE_NO_KDUMP
        if self.overwritten:
            return Verdict.CORRUPTION
        if self.leaked:
            return Verdict.LATENT_CORRUPTION
        if self.kexec_error:
            return Verdict.NO_KDUMP
        return Verdict.SAFE

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


def replay(name: str, version: str | None = None, *, kdump_image: str | None = None) -> ReplayResult:
    """Replay scenario ``name`` under kernel ``version`` (default: the scenario's
    ``kernel_version``, else 2.6.23, the 2011 report's)."""
    path = scenario_path(name)
    sc = load_scenario(path)
    if version is None:
        version = sc.machine.kernel_version.text if sc.machine.kernel_version is not None else "2.6.23"
    era = era_of(version)
    if era.pipeline is Pipeline.MODERN and pinned_build(parse_version(version)) is None:
        series = ", ".join(b.release.split(".", 2)[0] + "." + b.release.split(".", 2)[1] for b in PINNED)
        raise InputError(f"the replay runs 5.5 and later on earlymem's pinned builds ({series}); {version} is none of them",
                         source="<command line>", field="--kernel-version")
    if kdump_image is not None:
        sc.kdump = kdump_from_bzimage(kdump_image)
    m0 = sc.machine
    if era.pipeline is Pipeline.MODERN:
        # the pinned build of the series, at CONFIG_PHYSICAL_START with nokaslr
        machine = dataclasses.replace(m0, kernel_version=parse_version(version), kernel_image=None,
                                      command_line=CommandLine((m0.command_line.text + " nokaslr").strip()))
    else:
        machine = dataclasses.replace(m0, kernel_version=parse_version(version))
    try:
        result = boot(machine, profile_for(version))
        if not result.predicted("crashkernel") or not result.ledger:
            why = result.why_not("crashkernel") or result.why_not("zoneinfo managed pages") or "the boot is not modelled"
            raise InputError(f"kernel {version}: {why}", field="--kernel-version")
        res = _finish(sc, era, version, machine, result)
    except InputError as exc:
        raise exc.located(source=str(path)) from None
    _kexec(res, [E820Entry(e.start, e.end - e.start, e.type) for e in result.e820])
    return res


def _finish(sc: Scenario, era: Era, version: str, machine: Machine, result: BootResult) -> ReplayResult:
    """The early phase's ledger, the zones and the running system -- for every era."""
    e820 = [E820Entry(e.start, e.end - e.start, e.type) for e in result.e820]
    notes = list(result.assumptions) if era.pipeline is Pipeline.MODERN else [f"{version}: {a}" for a in result.assumptions]
    if era.pipeline is Pipeline.MODERN:
        ledger, crash, ok = _modern_ledger(machine, result, e820)
        notes.append(f"{version}: the image is the pinned build {result.build} at 16 MiB with nokaslr; the hand-off follows "
                     "every allocation the boot makes up to memblock_free_all()")
        notes.append(f"{version}: the running system is modelled with 2.6.2x's page-allocator rules (node-ordered zonelists, as since 4.14); "
                     "it cannot reach the crash region here, which never enters the page allocator")
        zonelist = "node"
        # the page allocator's zones as the hand-off sized them: managed pages
        zones = [Zone(z.nid, _ZONE_INDEX[z.name], Range(z.start_pfn, z.start_pfn + z.spanned), z.managed_at_handoff or 0)
                 for z in result.zones if z.name in _ZONE_INDEX and z.spanned]
    else:
        ledger = Ledger(result.max_pfn)
        for phase in result.ledger:
            ledger.add_phase(phase.name, [(Range(s, e), o) for s, e, o in phase.owners])
        crash = Range(*result.crash_requested) if result.crash_requested else (Range(result.crash[0].start, result.crash[0].end) if result.crash else None)
        ok = bool(result.crash)
        if ok:
            ledger.claims["Crash kernel"] = crash.pfns()
        zonelist = None
        zones = [Zone(z.nid, _ZONE_INDEX[z.name], Range(z.start_pfn, z.start_pfn + z.spanned), z.present) for z in result.zones]
    freed_runs = list(result.freed_runs)
    buddy_free = ledger.pages_of("buddy", "free")
    allocator = PageAllocator(zones, freed_runs, buddy_free, zonelist)
    buddy = [BuddyZone.build(z.nid, z.name, z.span, buddy_free) for z in zones]
    running = allocator.allocate(sc.allocate, sc.alloc_node)
    taken = [(r, f"allocated (running system, {z.name} node {z.nid})") for z, got in running for r in got]
    firmware = [(r, o) for r, o in ledger.phases["firmware"] if o.startswith("firmware")]
    ledger.add_phase("running", firmware + taken + ledger.phases["buddy"])
    ledger.check()
    free_after = ledger.pages_of("running", "free")
    buddy_after = [BuddyZone.build(z.nid, z.name, z.span, free_after) for z in zones]
    res = ReplayResult(sc, version, era, result, crash, ok, ledger, buddy, buddy_after, allocator, running, notes=notes)
    bitmaps = {a.purpose: Range(a.start, a.end).pfns() for a in result.allocations if a.purpose.startswith("bootmem bitmap")}
    for r in ledger.conflicts("buddy", "Crash kernel", "free"):
        why = next((f"node {w.rsplit(' ', 1)[1]} bootmem bitmap freed by free_all_bootmem_core()" for w, b in bitmaps.items()
                    if b.overlaps(r)), "free in the early allocator")
        res.leaked.append((r.start, r.end, why))
    return res


def _modern_ledger(machine: Machine, result: BootResult, e820: list[E820Entry]) -> tuple[Ledger, Range | None, bool]:
    """The replay's early phases of a modern boot: every allocation the boot made,
    by purpose, the rest of memblock.reserved at the hand-off, and the crash region."""
    crash: Range | None = None
    ok = False
    main = [c for c in result.crash if not c.low]
    if main:
        crash, ok = Range(main[-1].start, main[-1].end), True
    elif result.crash_requested is not None:
        crash = Range(*result.crash_requested)  # the fixed region asked for, not reserved
    owners = [(Range(0, 0x100), "low memory (first 1 MiB)")]
    owners += [(Range(a.start, a.end).pfns(), a.purpose) for a in result.allocations
               if a.size and not a.purpose.startswith("crashkernel") or a.purpose == "crashkernel low"]
    # every other reservation, minus the crash region (it has its own owner;
    # memblock may have merged it with a neighbouring reservation)
    other = RangeSet(Range(r.start >> 12, -(-r.end // PAGE)) for r in result.reserved)
    if ok and crash is not None:
        other = other.subtract([crash.pfns()])
    owners += [(r, "memblock reserved") for r in other]
    ledger = early_era_ledger(e820, "memblock", owners, crash, ok, list(result.freed_runs))
    return ledger, crash, ok


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
    if res.era.pipeline is not Pipeline.BOOTMEM:
        res.notes.append("kexec -p is kexec-tools 2.0.2 (the 2010-2011 tool) in every era; later kexec-tools place "
                         "segments differently (the bzImage64 loader from 2.0.4, kexec_file_load)")
    for seg in sorted(segs, key=lambda s: s.mem):
        for r, owner in res.ledger.owners("running", Range(seg.mem, seg.end).pfns()):
            if owner.startswith("free"):
                res.written_free.append(Overwrite(seg.name, r, owner))
            elif owner != "crash region":
                # the running kernel's: allocated by the running system, or an
                # early reservation (page tables, a bitmap...) the region overlapped
                res.overwritten.append(Overwrite(seg.name, r, owner))
