#!/usr/bin/env python3
"""The README's table of the dump sweep: for each configuration and kernel, the smallest region
the real boots dumped in and how the size below failed, what `check` says of both, what
`recommend` gives, and what kdump-utils' and Ubuntu's defaults would reserve there (and whether
the model says they would work).

    python tools/kdump_sweep_table.py [tests/fixtures/dumps/sweep]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from earlymem.kdump.check import check  # noqa: E402
from earlymem.kdump.recommend import recommend  # noqa: E402
from earlymem.oracle.dumps import bracketed, repeat_outcomes, sweep_inputs  # noqa: E402

REPEAT = ROOT / "tests/fixtures/dumps/repeat"

SHORT = {"ready": "ready", "not_ready": "not ready", "marginal": "marginal", "unknown": "?"}
PEERS = ("kdump-utils default (Fedora, RHEL 10)", "Ubuntu 24.10+ kdump-tools", "Ubuntu 20.04/22.04 kdump-tools")


def main() -> None:
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/fixtures/dumps/sweep"
    doc = json.loads((where / "sweep.json").read_text())
    print("| configuration | kernel | real: smallest that dumped | real: below it | check at min / below | recommend "
          "| kdump-utils | Ubuntu 24.10+ | Ubuntu 22.04 |")
    print("|---|---|---|---|---|---|---|---|---|")
    tmp = Path(tempfile.mkdtemp())
    for s in doc["sweeps"]:
        if not bracketed(s):
            print(f"| {s['config']} | {s['kernel']} | (not bracketed yet) | | | | | | |")
            continue
        low = s["minimum"]
        g = sweep_inputs(where, s, low, tmp)
        at_min = check(g.setup, source="").verdict
        below = s["below"]
        at_below = SHORT[check(sweep_inputs(where, s, below["size"], tmp).setup, source="").verdict] if below else "-"
        r = recommend(g.setup)
        peers = {p.name: p for p in r.peers}

        def peer(name: str, peers: dict = peers) -> str:
            p = peers[name]
            if not p.size:
                return "none"
            return f"{p.size >> 20}M {'works' if p.stage == 'ready' else 'marginal' if p.stage == 'marginal' else 'fails'}"

        def real(size: int, outcome: str, s: dict = s) -> str:
            """The sweep's outcome, and the repeats' (tests/fixtures/dumps/repeat) where there are some."""
            runs = repeat_outcomes(REPEAT, s, size)
            said = f"{size >> 20}M {outcome if outcome != 'dumped' else ''}".rstrip()
            return said + (f" (repeats: {sum(o == outcome for o in runs)} of {len(runs)} the same)" if runs else "")

        ok = r.size is not None and low <= r.size <= low + max(low * 15 // 100, 32 << 20)
        rec = f"{r.size >> 20}M" + ("" if ok else " (outside the bound)") if r.size else "none"
        print(f"| {s['config'].removeprefix('dump-')} | {s['kernel']} | {real(low, 'dumped')} | "
              f"{real(below['size'], below['outcome']) if below else '-'} | {SHORT[at_min]} / {at_below} | {rec} | "
              + " | ".join(peer(n) for n in PEERS) + " |")


if __name__ == "__main__":
    main()
