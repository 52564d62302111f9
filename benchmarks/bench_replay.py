"""Benchmark: ``earlymem replay`` from the firmware map to the kdump load.

Run: .venv/bin/python benchmarks/bench_replay.py  (prints a Markdown table; the
README's "Benchmarks" section holds the last run).  The bundled seed-2011
machine (96 GiB, 2 nodes) under each era, then the same shape scaled to
1 TiB / 8 nodes and 4 TiB / 16 nodes under 2.6.23 (one bootmem bitmap per node,
a bit per page, as the kernel had it).  Time is the best of three runs of
replay(); memory is tracemalloc's peak for one run.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from earlymem.scenario.replay import replay  # noqa: E402

GiB = 1 << 30


def scaled(total_gib: int, nodes: int) -> str:
    """seed-2011's TOML with RAM to ``total_gib`` and ``nodes`` equal SRAT nodes."""
    text = (resources.files("earlymem.scenario") / "scenarios" / "seed-2011.toml").read_text()
    head, _, rest = text.partition("[[numa]]")
    tail = rest[rest.index("[kernel_image]"):]
    head = head.replace('end   = "97G"', f'end   = "{total_gib + 1}G"')
    per = (total_gib + 1) // nodes
    numa = ""
    for n in range(nodes):
        end = total_gib + 1 if n == nodes - 1 else per * (n + 1)
        numa += f'[[numa]]\nnode  = {n}\npxm   = {n}\nstart = "{per * n}G"\nend   = "{end}G"\n'
    return head + numa + "\n" + tail


def run(name: str, version: str) -> tuple[float, int, str]:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        res = replay(name, version)
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    replay(name, version)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, res.verdict().split(":")[0]


def main() -> None:
    print("| machine | kernel | verdict | time (best of 3) | peak memory |")
    print("|---|---|---|---|---|")
    for v in ("2.6.23", "2.6.24", "2.6.25", "2.6.30", "2.6.37", "6.1"):
        t, peak, verdict = run("seed-2011", v)
        print(f"| seed-2011 (96 GiB, 2 nodes) | {v} | {verdict} | {t * 1000:.0f} ms | {peak / 2**20:.1f} MiB |")
    with tempfile.TemporaryDirectory() as d:
        for total, nodes in ((1024, 8), (4096, 16)):
            p = Path(d) / f"big-{total}.toml"
            p.write_text(scaled(total, nodes))
            t, peak, verdict = run(str(p), "2.6.23")
            print(f"| {total // 1024} TiB, {nodes} nodes | 2.6.23 | {verdict} | {t * 1000:.0f} ms | {peak / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
