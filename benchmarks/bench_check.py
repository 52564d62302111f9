#!/usr/bin/env python3
"""Whole-process time of `earlymem check` (issue 17: under a second on a live machine, warm image cache).

    python benchmarks/bench_check.py [--runs 10]

Two sources, each run as its own process (python -m earlymem ...), after one untimed warm-up
that fills the image cache:

* this machine (no SOURCE): whatever it has -- on a machine without crashkernel= or a kdump
  initramfs, check stops at the crash region;
* a system copy that takes every step: proc/ and sys/ files of a real boot from the dump sweep
  (tests/fixtures/dumps/sweep, dump-pc-2g-large-file on 6.1 at its minimum), /boot's real Debian
  vmlinuz and /var/lib/kdump's real 36 MiB kdump initramfs (both from the oracle's cache; fetched
  and built if missing), and /etc/default/kdump-tools -- the image and the initramfs are read,
  the load placed, the capture kernel booted and its memory followed.

Prints a Markdown table row per source: best, median and worst wall time, and max RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from earlymem.oracle.config import make_config  # noqa: E402
from earlymem.oracle.run import prepare  # noqa: E402
from earlymem.sources.capture import read_capture  # noqa: E402
from earlymem.sources.cpio import read_cpio  # noqa: E402

CAPTURE = ROOT / "tests/fixtures/dumps/sweep/dump-pc-2g-large-file--6.1--ck240M"


def system_copy(where: Path) -> None:
    cap = read_capture(CAPTURE)
    config = make_config({"name": "bench-check", "memory": "2G", "kernels": ["6.1"], "kexec": "file", "crash": True, "dump": "large"},
                         "bench", "<bench_check.py>")
    prepared = prepare([config], log=lambda m: None)
    kernel, main_img = prepared.for_config("6.1", config)
    release = kernel.kernel.abi
    kdump = next(e.data for e in read_cpio(main_img, limit=1 << 30) if e.name.endswith("boot/kdump-initrd.img"))
    files = {
        "proc/cmdline": " ".join(l for l in cap.section("first/cmdline")) + "\n",
        "proc/iomem": "\n".join(cap.section("first/iomem")) + "\n",
        "proc/sys/kernel/osrelease": release + "\n",
        "sys/kernel/kexec_crash_loaded": "1\n",
        "sys/kernel/kexec_crash_size": "\n".join(cap.section("first/kexec_crash_size")) + "\n",
        "etc/default/kdump-tools": 'KDUMP_KEXEC_ARGS="-s"\nKDUMP_CMDLINE_APPEND="irqpoll nr_cpus=1 reset_devices"\n',
    }
    for rel, text in files.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    for line in cap.section("first/firmware_memmap"):
        n, start, end, kind = line.split(None, 3)
        d = where / "sys/firmware/memmap" / n
        d.mkdir(parents=True, exist_ok=True)
        (d / "start").write_text(start + "\n")
        (d / "end").write_text(end + "\n")
        (d / "type").write_text(kind + "\n")
    (where / "boot").mkdir(exist_ok=True)
    (where / "boot" / f"vmlinuz-{release}").write_bytes(kernel.vmlinuz.read_bytes())
    (where / "var/lib/kdump").mkdir(parents=True, exist_ok=True)
    (where / "var/lib/kdump" / f"initrd.img-{release}").write_bytes(kdump)


def timed(argv: list[str], env: dict, runs: int) -> tuple[list[float], int, int]:
    times, peak, status = [], 0, 0
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True)
        times.append(time.perf_counter() - t)
        status = proc.returncode
        if status not in (0, 1):
            sys.exit(f"bench_check: {' '.join(argv)} failed ({status}): {proc.stderr.decode()[-300:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return times, peak, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base = [sys.executable, "-m", "earlymem", "check"]
    print("| source | result | best | median | worst | max RSS |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="earlymem-bench-check-") as tmp:
        root = Path(tmp) / "root"
        system_copy(root)
        for label, argv in (("this machine", base), ("system copy, every step (6.1, 36 MiB initramfs)", [*base, str(root)])):
            timed(argv, env, 1)  # warm: the image cache and the bytecode
            times, peak, status = timed(argv, env, args.runs)
            what = {0: "ready", 1: "not ready / not confirmed"}[status]
            print(f"| {label} | {what} | {min(times) * 1000:.0f} ms | {statistics.median(times) * 1000:.0f} ms "
                  f"| {max(times) * 1000:.0f} ms | {peak / 1024:.0f} MiB |")


if __name__ == "__main__":
    main()
