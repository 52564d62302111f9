"""Benchmark: a whole boot prediction, through the hand-off, on big machines.

Run: .venv/bin/python benchmarks/bench_predict.py  (prints a Markdown table;
the README's "Benchmarks" section holds the last run).  Each machine is
synthetic but shaped like a QEMU/server one: low RAM to 0xbffe0000, the rest
above 4 GiB split evenly into NUMA nodes (SRAT), an initrd below 3 GiB,
nokaslr, log_buf_len=4M, a crashkernel range list and four CPUs per node.  One run is
earlymem.boot() of the series' pinned build: e820, nodes, setup_arch()'s
memblock allocations, crashkernel, sparse_init(), zones, start_kernel() to
memblock_free_all() with the buddy free lists, the watermarks, what the kernel
frees after boot, and the page ledger's check.  Time is the best of five runs; memory
is tracemalloc's peak for one run.  The last column compares each machine
with the 64 GiB one of the same node count and kernel.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from earlymem.kernels import profile_for  # noqa: E402
from earlymem.lib.cmdline import CommandLine  # noqa: E402
from earlymem.lib.ranges import Range  # noqa: E402
from earlymem.lib.version import parse_version  # noqa: E402
from earlymem.machine import CpuAffinity, Machine, NumaAffinity  # noqa: E402
from earlymem.machine.e820 import E820Entry, E820Type  # noqa: E402
from earlymem.pipeline import boot  # noqa: E402

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
    # nodes: equal slices of [0, total), 128 MiB aligned; SRAT lists each
    # slice's RAM (below 640 KiB, 1 MiB to 3 GiB, above 4 GiB)
    ram = [(0, 0xA0000), (0x100000, 3 * GiB), (4 * GiB, total)]
    per = total // nodes >> 27 << 27
    numa = []
    for n in range(nodes):
        lo, hi = n * per, (n + 1) * per if n < nodes - 1 else total
        for a, b in ram:
            if max(a, lo) < min(b, hi):
                numa.append(NumaAffinity(n, n, Range(max(a, lo), min(b, hi))))
    cmd = CommandLine("console=ttyS0 nokaslr log_buf_len=4M crashkernel=1G-64G:512M,64G-1T:1G,1T-:2G")
    cpus = [CpuAffinity(i, i // 4, i // 4) for i in range(4 * nodes)]  # four CPUs per node
    return Machine(e820, cmd, parse_version(version), numa, None, Range(0xBF4C1000, 0xBFFE0000), cpus=cpus, boot_apic=0)


def run(total: int, nodes: int, version: str) -> tuple[float, int, int]:
    profile = profile_for(parse_version(version))
    m = machine(total, nodes, version)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        result = boot(m, profile)
        best = min(best, time.perf_counter() - t)
        assert result.ledger and result.zones[0].managed is not None
    tracemalloc.start()
    boot(m, profile)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, len(result.dmesg())


def main() -> None:
    print("| machine | kernel | lines predicted | time (best of 5) | peak memory | time / 64 GiB's |")
    print("|---|---|---|---|---|---|")
    base: dict[tuple[int, str], float] = {}
    for nodes in (1, 8, 32):
        for total in (64 * GiB, 1 * TiB, 16 * TiB, 64 * TiB):
            for version in ("5.10", "6.1", "6.12", "7.2"):
                t, peak, n = run(total, nodes, version)
                base.setdefault((nodes, version), t)
                size = f"{total // TiB} TiB" if total >= TiB else f"{total // GiB} GiB"
                print(f"| {size}, {nodes} node(s) | {version} | {n} | {t * 1000:.1f} ms | {peak / 1024:.0f} KiB "
                      f"| {t / base[(nodes, version)]:.1f}x |")


if __name__ == "__main__":
    main()
