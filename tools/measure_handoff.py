"""How far earlymem's hand-off is from the managed pages real kernels show.

For every capture with a /proc/zoneinfo section: earlymem's managed pages
right after memblock_free_all() (with the memblock reservations it models)
minus the managed pages /proc/zoneinfo showed when the oracle's init read it,
per populated zone; summed per kernel series.  Positive: earlymem hands over
more than the kernel ended up managing (reservations it does not model yet
outweigh what the kernel frees after the hand-off: init memory, the initrd).

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


def measure(path: Path) -> tuple[str, list[tuple[str, int, int]]] | None:
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
    return path.name.rsplit("--", 1)[-1], rows


def main(dirs: list[str]) -> None:
    per: dict[tuple[str, str], list[int]] = defaultdict(list)
    for d in dirs:
        for p in sorted(Path(d).iterdir()):
            if not (p / "serial.log").is_file():
                continue
            r = measure(p)
            if r is None:
                continue
            version, rows = r
            for zone, pred, real in rows:
                per[(version, zone)].append(pred - real)
    print("| kernel | zone | zones | mean difference (pages) | min | max |")
    print("|---|---|---|---|---|---|")
    for (version, zone), diffs in sorted(per.items(), key=lambda kv: (parse_version(kv[0][0]).key, kv[0][1])):
        print(f"| {version} | {zone} | {len(diffs)} | {statistics.mean(diffs):+.0f} | {min(diffs):+d} | {max(diffs):+d} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests/fixtures/oracle"])
