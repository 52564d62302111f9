"""Benchmark: a full prediction (e820 to crashkernel) on big machines.

Run: .venv/bin/python benchmarks/bench_predict.py  (prints a Markdown table;
the README's "Benchmarks" section holds the last run).  Each machine is
synthetic but shaped like a QEMU/server one: low RAM to 0xbffe0000, the rest
above 4 GiB split evenly into NUMA nodes (SRAT), an initrd below 3 GiB,
nokaslr, log_buf_len=4M and a crashkernel range list.  Time is the best of
five runs of predict_lines(); memory is tracemalloc's peak for one run.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from earlymem.cmdline import CommandLine  # noqa: E402
from earlymem.e820 import E820Entry, E820Type  # noqa: E402
from earlymem.kernels import parse_version, profile_for  # noqa: E402
from earlymem.machine import Machine, NumaAffinity  # noqa: E402
from earlymem.predict import predict_lines  # noqa: E402
from earlymem.ranges import Range  # noqa: E402
from earlymem.report import e820_report  # noqa: E402

GiB = 1 << 30
TiB = 1 << 40


def machine(total: int, nodes: int, version: str) -> Machine:
    low_end = 0xBFFE0000
    high = total - 4 * GiB  # RAM ends at `total` (64 TiB: 2^46, MAX_PHYSMEM_BITS of 4-level paging)
    e820 = [
        E820Entry(0, 0x9FC00, E820Type.RAM),
        E820Entry(0x9FC00, 0x400, E820Type.RESERVED),
        E820Entry(0xF0000, 0x10000, E820Type.RESERVED),
        E820Entry(0x100000, low_end - 0x100000, E820Type.RAM),
        E820Entry(low_end, 0x20000, E820Type.RESERVED),
        E820Entry(0xFEFFC000, 0x4000, E820Type.RESERVED),
        E820Entry(4 * GiB, high, E820Type.RAM),
    ]
    per = total // nodes
    numa = []
    start = 0
    for n in range(nodes):
        end = start + per if n < nodes - 1 else 4 * GiB + high
        if n == 0:
            numa.append(NumaAffinity(0, 0, Range(0, 0xA0000)))
            numa.append(NumaAffinity(0, 0, Range(0x100000, min(end, 3 * GiB))))
            if end > 4 * GiB:
                numa.append(NumaAffinity(0, 0, Range(4 * GiB, end)))
        else:
            numa.append(NumaAffinity(n, n, Range(max(start, 4 * GiB), end)))
        start = max(end, 4 * GiB)
    cmd = CommandLine("console=ttyS0 nokaslr log_buf_len=4M crashkernel=1G-64G:512M,64G-1T:1G,1T-:2G")
    return Machine(e820, cmd, parse_version(version), numa, None, Range(0xBF4C1000, 0xBFFE0000))


def run(total: int, nodes: int, version: str) -> tuple[float, int, int]:
    profile = profile_for(parse_version(version))
    m = machine(total, nodes, version)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        report = e820_report(m, profile, already_sanitized=False)
        lines, _ = predict_lines(m, profile, report)
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    report = e820_report(m, profile, already_sanitized=False)
    predict_lines(m, profile, report)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, len(lines)


def main() -> None:
    print("| machine | kernel | lines predicted | time (best of 5) | peak memory |")
    print("|---|---|---|---|---|")
    for total, nodes in ((8 * GiB, 1), (64 * GiB, 4), (1 * TiB, 8), (64 * TiB, 32)):
        for version in ("5.10.0", "6.1.0", "6.12.0", "7.2.0"):
            t, peak, n = run(total, nodes, version)
            size = f"{total // TiB} TiB" if total >= TiB else f"{total // GiB} GiB"
            print(f"| {size}, {nodes} node(s) | {version[:-2]} | {n} | {t * 1000:.1f} ms | {peak / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
