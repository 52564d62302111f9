"""Benchmark: ``earlymem predict --dmesg LOG --kernel VMLINUZ`` as a whole process, against a QEMU boot.

Run: .venv/bin/python benchmarks/bench_startup.py  (prints Markdown tables;
the README's "Start-up against a QEMU boot" subsection holds the last run).
Needs root and the network to Debian's archive the first time: the oracle
(earlymem.oracle) installs qemu-system-x86 and friends with apt-get if they
are missing and downloads the pinned Debian kernel package.

In one run, side by side:

* QEMU: the oracle boots one small configuration (pc, 1 GiB, the pinned 6.1
  kernel, ``crashkernel=256M``, no kexec, no crash; TCG) and writes its
  capture.  The QEMU side is the wall clock of that boot (``run_boots``), not
  the preparation before it (tools, kernel download, initramfs).
* earlymem: that boot's first-kernel dmesg (the capture's ``first/dmesg``
  section) is written to a file, and ``earlymem predict --dmesg FILE --kernel
  VMLINUZ`` (the venv's console script, the same vmlinuz QEMU booted) runs as
  a subprocess: once with an empty image cache (``EARLYMEM_CACHE`` pointed at
  a new directory: the first run) and then ``--runs`` times more with that
  cache (the repeated runs; best and median).  Each run's peak memory is its
  maximum resident set size as GNU time (``/usr/bin/time -f %M``, Debian's
  ``time``, installed with apt-get if missing) reports it: that process's own
  ru_maxrss, unlike RUSAGE_CHILDREN (the high-water mark of every child, QEMU's
  included) or a wait4() on a child of this script (whose ru_maxrss starts
  from this script's RSS at the fork).

Every measured process has a bytecode cache (``PYTHONPYCACHEPREFIX`` in the
work directory, filled by an untimed warm-up of each command, with its own
image cache), as an installed earlymem has; ``PYTHONDONTWRITEBYTECODE`` is
dropped from their environment.

Then, for where start-up goes: the same command without ``--kernel`` (the
pinned build), ``earlymem --version`` (the CLI's imports only), ``python -c
pass`` (the interpreter) and the repeated run without a bytecode cache
(``PYTHONDONTWRITEBYTECODE=1``: every earlymem module compiled on each
start), best and median of ``--runs``; and ``python -X importtime -c "import
earlymem.cli"``'s ten biggest cumulative imports (each the smallest of three
runs after a warm-up).

Whether the image cache is used is up to ``earlymem predict --kernel``: the
script only runs the CLI, and says whether the first run left anything in
the cache directory.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from earlymem.oracle.config import make_config  # noqa: E402
from earlymem.oracle.run import prepare, run_boots  # noqa: E402

try:  # the capture reader has lived in both places
    from earlymem.sources.capture import read_capture  # noqa: E402
except ImportError:  # pragma: no cover
    from earlymem.oracle.capture import read_capture  # type: ignore[no-redef]  # noqa: E402

MiB = 1 << 20
TIME = "/usr/bin/time"


def log(text: str) -> None:
    print(f"bench_startup: {text}", file=sys.stderr, flush=True)


def earlymem_command() -> list[str]:
    """The console script next to this interpreter (what a user runs), else ``python -m earlymem``."""
    script = Path(sys.executable).parent / "earlymem"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "earlymem"]


def gnu_time() -> str:
    """GNU time (Debian's ``time`` package), installed with apt-get if missing."""
    if not os.access(TIME, os.X_OK):
        log("installing time (GNU time) ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "time"]):
            if subprocess.run(cmd, capture_output=True, env=env, check=False).returncode != 0:
                sys.exit(f"bench_startup: {TIME} is missing and '{' '.join(cmd)}' failed (as root: apt-get install time)")
    return TIME


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int, str, str, int]:
    """``(seconds, max RSS bytes, stdout, stderr, exit status)`` of one process, from spawn to exit.

    The peak is GNU time's ``%M`` (the command's own ru_maxrss, from wait4()),
    not a wait4() here: a child's ru_maxrss starts from its parent's RSS at the
    spawn (vfork/fork, then exec), so this script's own 20-odd MiB would be
    counted; GNU time is a small process, and spawns the command itself.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        t = time.perf_counter()
        proc = subprocess.run([gnu_time(), "-f", "%M", "-o", rss.name, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                              check=False)
        seconds = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        kib = int(rss.read().split()[-1])
        return seconds, kib * 1024, out.read().decode(errors="replace"), err.read().decode(errors="replace"), proc.returncode


def timed(argv: list[str], env: dict[str, str], runs: int, what: str) -> tuple[list[float], list[int], str]:
    """``runs`` runs of ``argv``; each must exit 0."""
    times, rss, out = [], [], ""
    for _ in range(runs):
        seconds, peak, out, err, rc = run_once(argv, env)
        if rc != 0:
            sys.exit(f"bench_startup: {what} exited {rc}:\n{err[-2000:]}")
        times.append(seconds)
        rss.append(peak)
    return times, rss, out


def import_costs(env: dict[str, str], top: int = 10, repeats: int = 3) -> list[tuple[str, int, int]]:
    """``(module, self µs, cumulative µs)`` of the ``top`` biggest cumulative imports of earlymem.cli."""
    rx = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    argv = [sys.executable, "-X", "importtime", "-c", "import earlymem.cli"]
    subprocess.run(argv, capture_output=True, check=True, env=env)  # warm-up: byte-compile
    best: dict[str, tuple[int, int]] = {}
    for _ in range(repeats):
        err = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stderr
        for line in err.splitlines():
            m = rx.match(line)
            if m:
                own, cum, name = int(m.group(1)), int(m.group(2)), m.group(4)
                if name not in best or cum < best[name][1]:
                    best[name] = (own, cum)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][1])[:top]
    return [(name, own, cum) for name, (own, cum) in ranked]


def ms(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 10 else f"{s:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1", help="kernel series the oracle boots (default 6.1)")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--machine", default="pc", choices=["pc", "q35"])
    ap.add_argument("--crashkernel", default="256M")
    ap.add_argument("--runs", type=int, default=5, help="repeated runs of each command (default 5)")
    ap.add_argument("--keep", type=Path, help="keep the capture, the dmesg file and the image cache in this directory")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="earlymem-bench-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        config = make_config({"name": "bench-startup", "memory": args.memory, "machine": args.machine, "kernels": [args.kernel],
                              "crashkernel": args.crashkernel, "kexec": "none", "crash": False, "timeout": 900},
                             "bench", "<bench_startup.py>")
        t = time.perf_counter()
        prepared = prepare([config], log=log)
        log(f"prepared tools, kernel and initramfs in {time.perf_counter() - t:.1f} s")
        vmlinuz = prepared.kernels[args.kernel].vmlinuz

        log(f"booting {config.describe()} with {args.kernel} under QEMU ...")
        t = time.perf_counter()
        (result,) = run_boots([config], prepared, work / "captures")
        qemu_s = time.perf_counter() - t
        if result.timed_out or result.exit_status != 0:
            sys.exit(f"bench_startup: the QEMU boot failed (exit {result.exit_status}, timed out: {result.timed_out})")
        dmesg_lines = read_capture(result.directory).section("first/dmesg")
        if not dmesg_lines:
            sys.exit(f"bench_startup: {result.directory} has no first/dmesg section")
        dmesg = work / "first-dmesg.log"
        dmesg.write_text("\n".join(dmesg_lines) + "\n")
        log(f"QEMU boot: {qemu_s:.1f} s; first/dmesg: {len(dmesg_lines)} lines")

        cache = work / "earlymem-cache"
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir()
        # Every measured process has a bytecode cache, as an installed earlymem
        # has: PYTHONDONTWRITEBYTECODE (set in some sandboxes) would recompile
        # every earlymem module on each start.  The .pyc files go to a private
        # prefix, not into the source tree, and are written by untimed warm-ups.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(EARLYMEM_CACHE=str(cache), PYTHONPYCACHEPREFIX=str(work / "pycache"))
        cmd = earlymem_command()
        predict = [*cmd, "predict", "--dmesg", str(dmesg), "--kernel", str(vmlinuz)]
        pinned = [*cmd, "predict", "--dmesg", str(dmesg)]
        version = [*cmd, "--version"]
        bare = [sys.executable, "-c", "pass"]
        warm = dict(env, EARLYMEM_CACHE=str(work / "warm-up-cache"))  # leaves the measured image cache empty
        for argv in (predict, pinned, version, bare):
            timed(argv, warm, 1, f"warm-up {' '.join(argv[-2:])}")

        first_s, first_rss, first_out = timed(predict, env, 1, "the first run")
        cached = [p for p in (cache / "images").glob("*")] if (cache / "images").is_dir() else []
        rep_s, rep_rss, rep_out = timed(predict, env, args.runs, "a repeated run")
        if rep_out != first_out:
            sys.exit("bench_startup: a repeated run printed something else than the first run")
        pinned_s, pinned_rss, _ = timed(pinned, env, args.runs, "predict without --kernel")
        version_s, version_rss, _ = timed(version, env, args.runs, "earlymem --version")
        bare_s, bare_rss, _ = timed(bare, env, args.runs, "python -c pass")
        nobc = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
        nobc["PYTHONDONTWRITEBYTECODE"] = "1"
        nobc_s, nobc_rss, _ = timed(predict, nobc, args.runs, "a repeated run without bytecode cache")
        imports = import_costs(env)

        best, median = min(rep_s), statistics.median(rep_s)
        peak = max(rep_rss)
        what = f"{config.describe()}, Debian {args.kernel} ({prepared.kernels[args.kernel].kernel.abi}), TCG"
        print(f"| configuration | QEMU boot | earlymem first run | max RSS | earlymem repeated run (best / median of {args.runs}) "
              "| max RSS | QEMU / repeated (median) |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {what} | {qemu_s:.1f} s | {ms(first_s[0])} | {first_rss[0] / MiB:.1f} MiB | {ms(best)} / {ms(median)} "
              f"| {peak / MiB:.1f} MiB | {qemu_s / median:.0f}x |")
        print()
        print(f"Targets: repeated run at least 40x faster than the boot: {qemu_s / median:.1f}x (best {qemu_s / best:.1f}x) -> "
              f"{'met' if qemu_s / median >= 40 else 'NOT met'}; max RSS of a cached run under 60 MB: "
              f"{peak / 1e6:.1f} MB -> {'met' if peak < 60e6 else 'NOT met'}.")
        used = (f"{len(cached)} file(s), {sum(p.stat().st_size for p in cached) / 1024:.0f} KiB" if cached
                else "empty (predict --kernel did not use it)")
        print(f"Image cache after the first run: {used}.")
        print()
        print(f"| where start-up goes (best / median of {args.runs}) | time | max RSS |")
        print("|---|---|---|")
        rows = [("`python -c pass` (the interpreter)", bare_s, bare_rss),
                ("`earlymem --version` (the CLI's imports)", version_s, version_rss),
                ("`earlymem predict --dmesg FILE` (pinned build, no image)", pinned_s, pinned_rss),
                ("`earlymem predict --dmesg FILE --kernel VMLINUZ` (repeated)", rep_s, rep_rss),
                ("the same, no bytecode cache (`PYTHONDONTWRITEBYTECODE=1`, a source tree without .pyc)", nobc_s, nobc_rss)]
        for name, s, r in rows:
            print(f"| {name} | {ms(min(s))} / {ms(statistics.median(s))} | {max(r) / MiB:.1f} MiB |")
        print()
        print('`python -X importtime -c "import earlymem.cli"`, the 10 biggest cumulative imports (smallest of 3 runs):')
        print()
        print("| module | cumulative | self |")
        print("|---|---|---|")
        for name, own, cum in imports:
            print(f"| `{name}` | {cum / 1000:.1f} ms | {own / 1000:.1f} ms |")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
