"""Benchmark: `earlymem fleet` over a generated fleet -- hosts per second per core in the local pool, the
scaling from one Dask worker to two on this machine, and what a 10^6-host run would cost.

Run: .venv/bin/python benchmarks/bench_fleet.py [HOSTS]  (default 400; prints Markdown; the README's
"Benchmarks" holds the last run).  The fleet is earlymem.fleet.generate's (boot logs of the bundled
Debian 6.1 QEMU boot with varied RAM and crashkernel=, and a bad input in 25), each checked with the
sweep's small kdump initramfs listing.  "CPU per host" is the process time of check_host() in one
process (best of 3 passes over 50 hosts); the pool and Dask rows are wall time for the whole fleet.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from earlymem.fleet.generate import generate_fleet  # noqa: E402
from earlymem.fleet.hosts import discover  # noqa: E402
from earlymem.fleet.job import FleetOptions, check_host  # noqa: E402
from earlymem.fleet.run import run_fleet  # noqa: E402

LISTING = ROOT / "tests/fixtures/dumps/sweep/kdump-initrd-small.lst"


def cpu_per_host(hosts, opts) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for h in hosts[:50]:
            check_host(h, opts)
        best = min(best, (time.process_time() - t) / len(hosts[:50]))
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    where = Path(tempfile.mkdtemp())
    generate_fleet(where, n, seed=1)
    hosts = discover([str(where)])
    print("| what | hosts | time | hosts/s | hosts/s per core |")
    print("|---|---|---|---|---|")
    for rec in (False, True):
        opts = FleetOptions(initrd=str(LISTING), initrd_size="2752032", recommend=rec)
        per = cpu_per_host(hosts, opts)
        what = "with recommend" if rec else "check only"
        print(f"| CPU per host, one process ({what}) | 50 | {per * 1000:.1f} ms | {1 / per:.0f} | {1 / per:.0f} |")
    opts = FleetOptions(initrd=str(LISTING), initrd_size="2752032", recommend=False)
    for jobs in (1, 2):
        t = time.perf_counter()
        run_fleet(hosts, opts, None, jobs=jobs)
        wall = time.perf_counter() - t
        print(f"| local pool, {jobs} process(es), check only | {n} | {wall:.1f} s | {n / wall:.0f} | {n / wall / jobs:.0f} |")
    from distributed import LocalCluster

    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as c:
            run_fleet(hosts[:20], opts, None, dask=c.scheduler_address)  # warm the workers' imports
            t = time.perf_counter()
            run_fleet(hosts, opts, None, dask=c.scheduler_address)
            wall = time.perf_counter() - t
        print(f"| Dask LocalCluster, {workers} worker(s), check only | {n} | {wall:.1f} s | {n / wall:.0f} | {n / wall / workers:.0f} |")


if __name__ == "__main__":
    main()
