"""How far earlymem's hand-off is from what real kernels handed over.

Two measures per capture:

1. the hand-off itself: mem_init_print_info() prints, right after
   memblock_free_all(), ``Memory: <free>K/<physpages>K available (...,
   <reserved>K reserved, <cma>K cma-reserved)``; physpages must equal
   earlymem's present pages (checked), and physpages - reserved - cma is the
   kernel's totalram_pages() when it printed the line, compared with the sum of
   earlymem's managed pages and what it predicts the kernel gave back before
   that line (6.12 prints it after freeing the SMP alternatives);
2. per populated zone, earlymem's managed pages -- the hand-off's plus what
   the kernel gives back after it (earlymem.phases.kernel_init: init memory, initrd,
   image gaps) -- minus the managed pages /proc/zoneinfo showed when the
   oracle's init read it;
3. per populated zone, earlymem's /proc/buddyinfo right after the hand-off
   against the one init read: free pages and 4 MiB (order-10) blocks.

    python tools/measure_handoff.py tests/fixtures/oracle tests/fixtures/holdout* tests/fixtures/mbdebug
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from earlymem.kernels import profile_for
from earlymem.lib.version import parse_version
from earlymem.sources.capture import read_capture
from earlymem.sources.dmesg import memory_line, message_text, parse_boot_logs
from earlymem.verification import parse_zoneinfo, predict_capture


def real_managed(cap) -> dict[tuple[int, str], int]:
    return {(z["nid"], z["name"]): z["managed"] for z in parse_zoneinfo(cap.sections.get("first/zoneinfo", [])) if "managed" in z}


def handoff_total(cap) -> tuple[int, int, set[str]] | None:
    """(physpages, totalram, the messages printed before it) from the Memory: line."""
    dmesg = cap.sections.get("first/dmesg", [])
    found = memory_line(dmesg)
    if found is None:
        return None
    at, phys, totalram = found
    return phys, totalram, {message_text(x) for x in dmesg[:at]}


def measure(path: Path) -> tuple | None:
    cap = read_capture(path)
    if "first/zoneinfo" not in cap.sections:
        return None
    first = parse_boot_logs(cap.sections["first/dmesg"], str(path))[0]
    _, result = predict_capture(cap, first, profile_for(parse_version(first.version)))  # as verify does
    zones = [z for z in result.zones if z.free_lists is not None]
    if not zones:
        return None
    real = real_managed(cap)
    # the hand-off plus what the kernel gave back after it (earlymem.phases.kernel_init), per zone
    rows = [(z.name, z.managed, real[(z.nid, z.name)]) for z in zones if z.present and (z.nid, z.name) in real]
    buddy = {}
    for ln in cap.sections.get("first/buddyinfo", []):
        m = re.match(r"^Node (\d+), zone\s+(\S+)((?:\s+\d+){11})", ln)
        if m:
            buddy[(int(m.group(1)), m.group(2))] = [int(x) for x in m.group(3).split()]
    bud = [(z.free_pages - sum(c << o for o, c in enumerate(buddy[k])), z.free_lists[10] - buddy[k][10])
           for z in zones for k in [(z.nid, z.name)] if z.present and k in buddy]
    total = handoff_total(cap)
    totals = None
    if total:
        # 6.12 prints the line late, after "Freeing SMP alternatives memory": count what was given back by then
        back = sum(f.pages for f in result.frees or () if f"Freeing {f.what} memory: {f.pages << 2}K" in total[2])
        totals = (sum(z.present for z in zones), total[0], sum(z.managed_at_handoff for z in zones) + back, total[1])
    return path.name.rsplit("--", 1)[-1], rows, totals, bud


def main(dirs: list[str]) -> None:
    per: dict[tuple[str, str], list[int]] = defaultdict(list)
    hand: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    buddies: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for d in dirs:
        for p in sorted(Path(d).iterdir()):
            if not (p / "serial.log").is_file():
                continue
            r = measure(p)
            if r is None:
                continue
            version, rows, totals, bud = r
            buddies[version] += bud
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
    print()
    print("| kernel | zones | free pages: mean difference | mean |difference| | order-10 blocks: mean difference | mean |difference| |")
    print("|---|---|---|---|---|---|")
    for version, rows in sorted(buddies.items(), key=lambda kv: parse_version(kv[0]).key):
        f = [a for a, _ in rows]
        t = [b for _, b in rows]
        print(f"| {version} | {len(rows)} | {statistics.mean(f):+.0f} | {statistics.mean(map(abs, f)):.0f} | "
              f"{statistics.mean(t):+.1f} | {statistics.mean(map(abs, t)):.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests/fixtures/oracle"])
