"""``earlymem replay SCENARIO``: a bundled scenario through a bootmem-era kernel.

So far the bootmem eras: 2.6.23 (no conflict check) and 2.6.25's
BOOTMEM_EXCLUSIVE crashkernel reservation.  For 2.6.25/26 the bitmap is
placed by the 2.6.23 rules [assumption: early_res's exact release is
unverified; with early_res the bitmap lands at the same place here, after
the kernel image, and the EXCLUSIVE reservation fails the same way].  The result says which pages the
kernel handed to the page allocator although they lie in the crash region
(``/proc/iomem``'s "Crash kernel", where ``kexec -p`` writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from earlymem.bootmem_era import BootmemBoot, boot_bootmem_era
from earlymem.e820 import sanitize
from earlymem.errors import InputError
from earlymem.kernels import parse_version
from earlymem.machine import Machine
from earlymem.mm.buddy import BuddyZone
from earlymem.mm.ledger import Ledger
from earlymem.ranges import Range

__all__ = ["ReplayResult", "replay", "scenario_path", "SCENARIOS", "REPLAY_ERAS"]

SCENARIOS = ("seed-2011",)
#: kernel versions the replay models, and how their crashkernel reservation behaves
REPLAY_ERAS = {
    (2, 6, 23): False,  # reserve_bootmem(): no conflict detection
    (2, 6, 24): False,  # same bootmem; reserve_crashkernel() announces, still no check
    (2, 6, 25): True,  # BOOTMEM_EXCLUSIVE: "crashkernel reservation failed - memory is in use"
    (2, 6, 26): True,
}


def scenario_path(name: str) -> Path:
    """A bundled scenario by name, or a TOML file path."""
    if name in SCENARIOS:
        return Path(str(resources.files("earlymem") / "scenarios" / f"{name}.toml"))
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    raise InputError(f"unknown scenario {name!r} (bundled: {', '.join(SCENARIOS)}; or a machine .toml file)", field="SCENARIO")


@dataclass
class ReplayResult:
    """The boot, and its verdict on the crash region."""

    machine: Machine
    version: str
    boot: BootmemBoot
    #: pages inside the crash region the page allocator received, as ``(start_pfn, end_pfn, why)``.
    leaked: list[tuple[int, int, str]]
    ledger: Ledger
    buddy: list[BuddyZone]

    @property
    def leaked_pages(self) -> int:
        return sum(e - s for s, e, _ in self.leaked)

    def verdict(self) -> str:
        crash = self.boot.crash
        if crash is None:
            return "no crash region (crashkernel=size@base) was asked for"
        if not self.boot.crash_reserved:
            return "SAFE BUT NO KDUMP: the crashkernel reservation fails visibly, so no crash region exists"
        if self.leaked:
            s, e, _ = self.leaked[0]
            return (f"CORRUPTION: {self.leaked_pages} page(s) ({self.leaked_pages * 4096 / (1 << 20):.2f} MiB, PFNs {s:#x}-{self.leaked[-1][1] - 1:#x}) "
                    f"inside the crash region [{crash.start:#x}-{crash.end - 1:#x}] go to the page allocator; "
                    "kexec -p will overwrite whatever the running kernel keeps there")
        return "SAFE: no page of the crash region reaches the page allocator"


def replay(name: str, version: str = "2.6.23") -> ReplayResult:
    """Replay scenario ``name`` under kernel ``version``."""
    path = scenario_path(name)
    machine = Machine.from_toml(path)
    key = parse_version(version).key[:3]
    if key not in REPLAY_ERAS:
        known = ", ".join(".".join(map(str, k)) for k in REPLAY_ERAS)
        raise InputError(f"the replay models {known} so far, not {version}", field="--kernel-version")
    entries = sanitize(sorted(machine.e820, key=lambda e: e.addr), max_entries=128) or sorted(machine.e820, key=lambda e: e.addr)
    try:
        boot = boot_bootmem_era(machine, entries, exclusive=REPLAY_ERAS[key], announce=key >= (2, 6, 24))
    except InputError as exc:
        raise exc.located(source=str(path)) from None
    ledger = build_ledger(machine, entries, boot)
    leaked: list[tuple[int, int, str]] = []
    for r in ledger.conflicts("buddy", "Crash kernel", "free"):
        bm = [n for n, b in boot.bitmaps.items() if _pages(b).overlaps(r)]
        why = f"node {bm[0]} bootmem bitmap freed by free_all_bootmem_core()" if bm else "free in bootmem's bitmap"
        leaked.append((r.start, r.end, why))
    return ReplayResult(machine, version, boot, leaked, ledger, buddy_zones(boot, ledger))


MAX_DMA_PFN, MAX_DMA32_PFN = 0x1000, 0x100000


def _pages(r: Range) -> Range:
    """The page frames a byte range touches."""
    return Range(r.start >> 12, -(-r.end // 4096))


def build_ledger(machine: Machine, e820: list, boot: BootmemBoot) -> Ledger:
    """Owners of every page frame in three phases: the firmware map, bootmem's
    reservations, and after free_all_bootmem_core() (pages in the buddy allocator)."""
    from earlymem.e820 import E820Type

    end_pfn = max(-(-(e.addr + e.size) // 4096) for e in e820)
    firmware = [(Range(e.addr >> 12, -(-(e.addr + e.size) // 4096)), f"firmware ({E820Type(e.type).name.lower() if e.type in E820Type._value2member_map_ else e.type})")
                for e in e820 if e.type != E820Type.RAM]
    ram = [(Range(-(-e.addr // 4096), (e.addr + e.size) // 4096), "RAM") for e in e820 if e.type == E820Type.RAM]
    hole = [(Range(0, end_pfn), "hole")]

    reservations = [(_pages(r), w) for w, r in boot.reserved if w != "crashkernel"]
    meta = [(_pages(r), f"NODE_DATA({n})") for n, r in boot.pgdats.items()] + [(_pages(r), f"bootmem bitmap of node {n}") for n, r in boot.bitmaps.items()]
    meta += [(_pages(r), f"mem_map of node {n}") for n, r in boot.mem_maps.items()]
    crash = [(_pages(r), "crash region") for w, r in boot.reserved if w == "crashkernel"]
    ledger = Ledger(end_pfn)
    ledger.add_phase("firmware", firmware + ram + hole)
    ledger.add_phase("bootmem", firmware + reservations + meta + crash + [(r, "free (bootmem)") for r, _ in ram] + hole)
    freed = [(Range(f.start_pfn, f.end_pfn), "free (buddy)") for runs in boot.freed.values() for f in runs]
    ledger.add_phase("buddy", firmware + freed + reservations + [(r, o) for r, o in meta if not o.startswith("bootmem bitmap")] + crash + hole)
    if boot.crash is not None and boot.crash_reserved:
        ledger.claims["Crash kernel"] = _pages(boot.crash)
    ledger.check()
    return ledger


def buddy_zones(boot: BootmemBoot, ledger: Ledger) -> list[BuddyZone]:
    """Each node's zones (DMA < 16 MiB, DMA32 < 4 GiB, Normal) and their free lists."""
    free = ledger.pages_of("buddy", "free")
    zones: list[BuddyZone] = []
    for node in boot.nodes:
        span = Range(node.start_pfn, node.node_low_pfn)
        for name, lo, hi in (("DMA", 0, MAX_DMA_PFN), ("DMA32", MAX_DMA_PFN, MAX_DMA32_PFN), ("Normal", MAX_DMA32_PFN, 1 << 52)):
            z = span.intersect(Range(lo, hi))
            if z:
                zones.append(BuddyZone.build(node.nid, name, z, free))
    return zones
