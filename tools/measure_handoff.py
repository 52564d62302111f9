"""How far earlymem's hand-off is from what real kernels handed over.

Two measures per capture:

1. the hand-off itself: mem_init_print_info() prints, right after
   memblock_free_all(), ``Memory: <free>K/<physpages>K available (...,
   <reserved>K reserved, <cma>K cma-reserved)``; physpages must equal
   earlymem's present pages (checked), and physpages - reserved - cma is the
   kernel's totalram_pages() at the hand-off, compared with the sum of
   earlymem's managed pages;
2. per populated zone, earlymem's managed pages minus the managed pages
   /proc/zoneinfo showed when the oracle's init read it (after the kernel
   freed its init memory and the initrd: negative in the zone holding them).

    python tools/measure_handoff.py tests/fixtures/oracle tests/fixtures/holdout*
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from earlymem.kernels import parse_version, profile_for
from earlymem.machine import Machine
from earlymem.oracle.capture import read_capture
from earlymem.predict import predict_lines
from earlymem.report import e820_report
from earlymem.sources.dmesg import parse_boot_logs


def real_managed(cap) -> dict[tuple[int, str], int]:
    out, zone = {}, None
    for ln in cap.sections.get("first/zoneinfo", []):
        m = re.match(r"^Node (\d+), zone\s+(\S+)", ln)
        if m:
            zone = (int(m.group(1)), m.group(2))
            continue
        m = re.match(r"^\s+managed\s+(\d+)", ln)
        if m and zone is not None:
            out[zone] = int(m.group(1))
    return out


_MEMORY = re.compile(r"Memory: (\d+)K/(\d+)K available \(.*, (\d+)K reserved, (\d+)K cma-reserved\)")


def handoff_total(cap) -> tuple[int, int] | None:
    """(physpages, totalram) at the hand-off, from the Memory: line."""
    for ln in cap.sections.get("first/dmesg", []):
        m = _MEMORY.search(ln)
        if m:
            phys, reserved, cma = int(m.group(2)) // 4, int(m.group(3)) // 4, int(m.group(4)) // 4
            return phys, phys - reserved - cma
    return None


def measure(path: Path) -> tuple[str, list[tuple[str, int, int]], tuple[int, int, int, int] | None] | None:
    cap = read_capture(path)
    if "first/zoneinfo" not in cap.sections:
        return None
    first = parse_boot_logs(cap.sections["first/dmesg"], str(path))[0]
    machine = Machine.from_boot_log(first)
    profile = profile_for(parse_version(first.version))
    report = e820_report(machine, profile, already_sanitized=True, who=first.firmware.who)
    state: dict = {}
    predict_lines(machine, profile, report, [], state)
    if "handoff" not in state:
        return None
    real = real_managed(cap)
    rows = [(h.zone.name, h.managed, real[(h.zone.nid, h.zone.name)]) for h in state["handoff"]
            if h.zone.present and (h.zone.nid, h.zone.name) in real]
    total = handoff_total(cap)
    totals = None
    if total:
        totals = (sum(h.zone.present for h in state["handoff"]), total[0], sum(h.managed for h in state["handoff"]), total[1])
    return path.name.rsplit("--", 1)[-1], rows, totals


def main(dirs: list[str]) -> None:
    per: dict[tuple[str, str], list[int]] = defaultdict(list)
    hand: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    for d in dirs:
        for p in sorted(Path(d).iterdir()):
            if not (p / "serial.log").is_file():
                continue
            r = measure(p)
            if r is None:
                continue
            version, rows, totals = r
            for zone, pred, real in rows:
                per[(version, zone)].append(pred - real)
            if totals:
                hand[version].append(totals)
    print("| kernel | boots | present pages = physpages | managed at the hand-off: mean difference (pages) | min | max | mean relative |")
    print("|---|---|---|---|---|---|---|")
    for version, rows in sorted(hand.items(), key=lambda kv: parse_version(kv[0]).key):
        diffs = [pm - rm for _, _, pm, rm in rows]
        same = sum(1 for pp, rp, _, _ in rows if pp == rp)
        rel = statistics.mean((pm - rm) / rm for _, _, pm, rm in rows)
        print(f"| {version} | {len(rows)} | {same}/{len(rows)} | {statistics.mean(diffs):+.0f} | {min(diffs):+d} | {max(diffs):+d} | {rel:+.3%} |")
    print()
    print("| kernel | zone | zones | mean difference (pages) | min | max |")
    print("|---|---|---|---|---|---|")
    for (version, zone), diffs in sorted(per.items(), key=lambda kv: (parse_version(kv[0][0]).key, kv[0][1])):
        print(f"| {version} | {zone} | {len(diffs)} | {statistics.mean(diffs):+.0f} | {min(diffs):+d} | {max(diffs):+d} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests/fixtures/oracle"])
