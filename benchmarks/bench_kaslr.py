"""Benchmark: a KASLR prediction (earlymem.kaslr) against the size of the machine (issue 15).

Run: .venv/bin/python benchmarks/bench_kaslr.py  (prints a Markdown table; the
README's "Benchmarks" section holds the last run).  Each case is an oracle
capture's first-kernel log with ``nokaslr`` taken out, predicted the way
``earlymem predict --dmesg`` does under KASLR (load_input() then
predict_for()), in a fresh Python process: the slots, how many boots the
grouping needed, wall time and peak RSS.  Booting every slot would cost one
boot per slot (times the CPU entry areas' page-table counts from 6.2).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT / "tests" / "fixtures" / "oracle"
CASES = ["pc-1g-plain--6.1", "pc-4g-ck256-load-crash--6.1", "pc-16g-ck512high-load-crash--6.12",
         "numa4x16g-ck1g-load-crash--6.1", "numa4x16g-ck1g-load-crash--7.2"]

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from earlymem.sources.inputs import load_input
from earlymem.kaslr import predict_for
t = time.perf_counter()
loaded = load_input(dmesg=Path(sys.argv[1]))
kp, why = predict_for(loaded.machine, loaded.profile, loaded.kernel)
dt = time.perf_counter() - t
print(kp.slots.total, kp.boots, len(kp.outcomes), dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    print("| capture (nokaslr taken out) | places | boots run | outcomes | wall (s) | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            text = (ORACLE / name / "serial.log").read_text(errors="replace").replace(" nokaslr", "")
            path = Path(tmp) / f"{name}.log"
            path.write_text(text)
            proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT / "src")], capture_output=True, text=True)
            if proc.returncode:
                print(f"| {name} | error: {proc.stderr.strip().splitlines()[-1]} | | | | |")
                continue
            slots, boots, outcomes, secs, rss = proc.stdout.split()
            print(f"| {name} | {slots} | {boots} | {outcomes} | {float(secs):.2f} | {int(rss) / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
