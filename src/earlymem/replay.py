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
from earlymem.ranges import Range

__all__ = ["ReplayResult", "replay", "scenario_path", "SCENARIOS", "REPLAY_ERAS"]

SCENARIOS = ("seed-2011",)
#: kernel versions the replay models, and how their crashkernel reservation behaves
REPLAY_ERAS = {
    (2, 6, 23): False,  # reserve_bootmem(): no conflict detection
    (2, 6, 24): False,  # same bootmem; generic parse_crashkernel() (not printed here yet)
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
    boot = boot_bootmem_era(machine, entries, exclusive=REPLAY_ERAS[key])
    leaked: list[tuple[int, int, str]] = []
    if boot.crash is not None and boot.crash_reserved:
        c = Range(boot.crash.start >> 12, -(-boot.crash.end // 4096))
        for nid, runs in boot.freed.items():
            for r in runs:
                s, e = max(r.start_pfn, c.start), min(r.end_pfn, c.end)
                if s < e:
                    why = f"node {nid} bootmem bitmap freed by free_all_bootmem_core()" if r.what == "bitmap" else f"free in node {nid}'s bitmap"
                    leaked.append((s, e, why))
    return ReplayResult(machine, version, boot, leaked)
