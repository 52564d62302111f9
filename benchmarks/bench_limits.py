"""Benchmark: inputs at the limits the kernel itself has (issue 14).

Run: .venv/bin/python benchmarks/bench_limits.py  (prints a Markdown table;
the README's "Benchmarks" section holds the last run).  Each case is a boot
log read and predicted the way `earlymem predict --dmesg` does it
(load_input() then boot(), Debian 6.1.176's pinned build), in a fresh Python
process: wall time of the work (best of three) and the process's peak RSS.

What it shows: the cost follows the number of entries -- e820 lines up to
E820_MAX_ENTRIES (3200), SRAT CPU lines up to NR_CPUS -- and never the value
of an id or an address: a node id of 1023 (MAX_NUMNODES - 1) costs what node
1 costs, and memory near 2^52 (the widest MAXPHYADDR) what memory near 4 GiB
costs.  The e820 cases are the worst shape for memblock: every entry a
separate 512 KiB RAM region, so the regions array doubles to 4096 and each
top-down search walks past the regions the kernel filled before it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "fixtures" / "oracle" / "numa2x4g-ck256-load-crash--6.1" / "serial.log"
BANNER = ("[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12) "
          "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)")

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from earlymem.sources.inputs import load_input
from earlymem.pipeline import boot
best = None
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    loaded = load_input(dmesg=Path(sys.argv[1]))
    boot(loaded.machine, loaded.profile, loaded.kernel)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def e820_log(n: int) -> str:
    lines = [BANNER, "[    0.000000] Command line: console=ttyS0 nokaslr crashkernel=256M",
             "[    0.000000] BIOS-provided physical RAM map:"]
    lines += [f"[    0.000000] BIOS-e820: [mem {i << 20:#018x}-{(i << 20) + 0x7ffff:#018x}] usable" for i in range(n)]
    return "\n".join(lines) + "\n"


def edited(replace: dict[str, str], add_after: tuple[str, list[str]] | None = None) -> str:
    lines = BASE.read_text(errors="replace").splitlines()
    out = []
    for ln in lines:
        for a, b in replace.items():
            ln = ln.replace(a, b)
        out.append(ln)
        if add_after and add_after[0] in ln:
            prefix = ln[: ln.index(add_after[0])]
            out += [prefix + extra for extra in add_after[1]]
    return "\n".join(out) + "\n"


def cases() -> list[tuple[str, str, int]]:
    out = [(f"{n} e820 entries (512 KiB RAM each)", e820_log(n), 3 if n <= 800 else 1) for n in (128, 400, 800, 1600, 3200)]
    out.append(("SRAT: 2 nodes, ids 0 and 1", edited({}), 3))
    out.append(("SRAT: 2 nodes, ids 0 and 1023", edited({"-> Node 1": "-> Node 1023", "SRAT: Node 1 PXM": "SRAT: Node 1023 PXM"}), 3))
    # the same map with its top 4 GiB of RAM at 4 GiB or just below 2^52
    for where, base in (("at 4 GiB", 4 << 30), ("just below 2^52", (1 << 52) - (4 << 30))):
        lines = [BANNER, "[    0.000000] Command line: console=ttyS0 nokaslr crashkernel=256M",
                 "[    0.000000] BIOS-provided physical RAM map:",
                 "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                 "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable",
                 f"[    0.000000] BIOS-e820: [mem {base:#018x}-{base + (4 << 30) - 1:#018x}] usable"]
        out.append((f"1 GiB low and 4 GiB of RAM {where}", "\n".join(lines) + "\n", 3))
    for n in (2, 512, 8192):
        cpus = [f"SRAT: PXM {i % 2} -> APIC {i:#04x} -> Node {i % 2}" for i in range(2, n)]
        out.append((f"{n} SRAT CPU lines", edited({}, ("SRAT: PXM 1 -> APIC 0x01 -> Node 1", cpus)), 3))
    return out


def main() -> None:
    print("| input | wall (s) | peak RSS (MB) |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, text, runs) in enumerate(cases()):
            path = Path(tmp) / f"case{i}.log"
            path.write_text(text)
            proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT / "src"), str(runs)],
                                  capture_output=True, text=True)
            if proc.returncode:
                print(f"| {name} | error: {proc.stderr.strip().splitlines()[-1]} | |")
                continue
            secs, rss_kb = proc.stdout.split()
            print(f"| {name} | {float(secs):.3f} | {int(rss_kb) / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
