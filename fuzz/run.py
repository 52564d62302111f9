"""Coverage-guided fuzzing of every input reader (atheris, i.e. libFuzzer for Python).

Each target of :mod:`fuzz.targets` runs in its own process (one at a time:
one core), mutating from its seed corpus ``fuzz/corpus/TARGET/`` (made by
``fuzz/make_corpus.py`` from tests/fixtures).  A worker instruments
earlymem's own modules and the parsers they lean on (pyelftools, tomllib)
for coverage, and libFuzzer enforces the limits:

* a crash: any exception other than a one-line InputError;
* a hang: one input running more than 5 s (``-timeout=5``);
* a memory blow-up: one input raising the process's peak RSS (``ru_maxrss``,
  exact even for a spike) more than 500 MB above its RSS just before it.
  libFuzzer's own RSS watchdog (``-rss_limit_mb``) is only a backstop at
  2 GB: atheris' instrumentation itself leaks a few hundred bytes an input
  in one target (image_cache: 166 MB after 200000 inputs instrumented, a
  flat 49 MB uninstrumented), which an absolute limit took for a blow-up.

Any of these stops that target; its input is saved as
``WORK/artifacts/TARGET/{crash,timeout,oom}-SHA1`` and the run exits 1.

Usage::

    python -m fuzz.run                          # every target, 10 s each
    python -m fuzz.run dmesg cpio --seconds 60  # some targets
    python -m fuzz.run --runs 100000            # N inputs per target
    python -m fuzz.run --long                   # the long run (README, "Fuzzing")
    python -m fuzz.run --reproduce dmesg FILE   # run one input, show the traceback
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DEFAULT_WORK = ROOT / "fuzz" / "work"

#: seconds one input may take before it is a hang
HANG_SECONDS = 5
#: RSS growth by one input that is a memory blow-up
BLOWUP_MB = 500
#: libFuzzer's RSS watchdog: a backstop for a worker that grows without bound
BACKSTOP_MB = 2048

#: the largest input each target is given (its seeds fit)
MAX_LEN = {
    "btf": 4096, "bzimage": 16384, "capture": 8192, "cpio": 8192, "dmesg": 8192, "elf": 16384,
    "image_cache": 4096, "inputs": 8192, "iomem": 4096, "memblock": 8192, "memmap": 4096, "proc": 4096,
    "purgatory": 4096, "realmode": 12288, "sosreport": 8192, "kdump_text": 4096, "text": 4096, "toml": 4096,
    "fleet_rows": 4096,
}

#: inputs per target in the long run (README, "Fuzzing"): far more than 10^6 in all,
#: each reader a few minutes of one core (fast readers get more inputs), and
#: :data:`LONG_SECONDS` at most per target: about an hour in all.
LONG_RUNS = {
    "btf": 3_000_000, "bzimage": 250_000, "capture": 900_000, "cpio": 1_000_000, "dmesg": 400_000, "elf": 180_000,
    "image_cache": 1_500_000, "inputs": 180_000, "iomem": 1_000_000, "memblock": 350_000, "memmap": 200_000,
    "proc": 200_000, "purgatory": 700_000, "realmode": 1_500_000, "sosreport": 300_000, "kdump_text": 1_500_000, "text": 1_500_000, "toml": 150_000,
    "fleet_rows": 1_000_000,
}
LONG_SECONDS = 270


class MemoryBlowup(Exception):
    """Peak RSS grew past the limit while one input was read."""


def _rss_mb() -> float:
    """The process's peak RSS so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def _current_rss(fd: int) -> float:
    """The process's RSS now, MB (/proc/self/statm, kept open)."""
    return int(os.pread(fd, 64, 0).split()[1]) * _PAGE_MB


def _signature(exc: BaseException) -> str:
    """Where an exception came from: its type and the innermost frame in earlymem (else the innermost)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/earlymem/" in f.filename] or frames
    f = ours[-1] if ours else None
    return f"{type(exc).__name__} at {Path(f.filename).name}:{f.lineno}" if f else type(exc).__name__


def worker(name: str, args: list[str]) -> None:
    """Fuzz one target in this process (``python -m fuzz.run --worker NAME [--keep-going DIR] LIBFUZZER-ARGS``).

    With ``--keep-going DIR`` (a survey), a crash does not stop the run: the first
    input of each distinct crash (type and innermost earlymem frame) is saved in DIR
    with its traceback, and fuzzing goes on.  Hangs and blow-ups still stop it.
    """
    import atheris

    survey = None
    if args[:1] == ["--keep-going"]:
        survey, args = Path(args[1]), args[2:]
        survey.mkdir(parents=True, exist_ok=True)
    with atheris.instrument_imports(include=["earlymem", "elftools", "tomllib"]):
        import tomllib  # noqa: F401 -- read_toml imports it lazily: instrument it now

        from fuzz import targets
    target = targets.TARGETS[name]
    # (not the "RegEx" hook: its pattern proxy lacks match(string, pos), which tomllib uses,
    # and sees only patterns compiled after it is installed)
    atheris.enabled_hooks.add("str")
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    seen: set[str] = set()

    def one(data: bytes) -> None:
        before = _current_rss(statm)
        try:
            target(data)
        except Exception as exc:
            if survey is None:
                raise
            sig = _signature(exc)
            if sig not in seen:
                import hashlib
                import traceback

                seen.add(sig)
                h = hashlib.sha1(data).hexdigest()
                (survey / f"crash-{h}").write_bytes(data)
                (survey / f"crash-{h}.txt").write_text(sig + "\n" + "".join(traceback.format_exception(exc)))
                print(f"SURVEY: new crash {sig} ({len(data)} bytes): {survey / f'crash-{h}'}", file=sys.stderr, flush=True)
        peak = _rss_mb()
        if peak - before > BLOWUP_MB:
            raise MemoryBlowup(f"peak RSS {peak:.0f} MB: more than {BLOWUP_MB} MB over the {before:.0f} MB before this input")

    import atexit

    atexit.register(targets.cleanup)
    argv = [sys.argv[0], *args, f"-rss_limit_mb={BACKSTOP_MB}"]
    atheris.Setup(argv, one)
    atheris.Fuzz()


def reproduce(name: str, files: list[str]) -> int:
    """Run ``files`` through target ``name`` without the fuzzer; print what happens."""
    from fuzz import targets

    status = 0
    for f in files:
        data = Path(f).read_bytes()
        start = time.monotonic()
        base = _rss_mb()
        try:
            result = targets.TARGETS[name](data)
        except BaseException:  # noqa: BLE001 -- this is what we are here to show
            import traceback

            traceback.print_exc()
            status = 1
            result = "CRASH"
        print(f"{f}: {len(data)} bytes, {time.monotonic() - start:.3f} s, peak RSS +{_rss_mb() - base:.0f} MB: "
              f"{'CRASH' if result == 'CRASH' else 'ok (value or InputError)'}")
    targets.cleanup()
    return status


def minimize(name: str, path: str) -> int:
    """Shrink a crashing input by deleting chunks (ddmin) while it still crashes the same way; writes PATH.min."""
    from fuzz import targets

    target = targets.TARGETS[name]

    def sig(data: bytes) -> str | None:
        try:
            target(data)
        except Exception as exc:  # noqa: BLE001
            return _signature(exc)
        return None

    data = Path(path).read_bytes()
    want = sig(data)
    if want is None:
        print(f"{path}: does not crash target {name}")
        return 1
    chunk = max(1, len(data) // 2)
    while chunk >= 1:
        i, shrunk = 0, False
        while i < len(data):
            cand = data[:i] + data[i + chunk :]
            if cand and sig(cand) == want:
                data, shrunk = cand, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    Path(path + ".min").write_bytes(data)
    targets.cleanup()
    print(f"{path}.min: {len(data)} bytes, {want}: {data!r}")
    return 0


_EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_PEAK = re.compile(r"stat::peak_rss_mb: (\d+)")


def run_target(name: str, *, runs: int | None, seconds: int | None, work: Path, fresh: bool, seed: int | None,
               keep_going: bool = False) -> dict:
    """Fuzz one target in a child process; its figures and outcome."""
    corpus = work / "corpus" / name
    artifacts = work / "artifacts" / name
    logs = work / "logs"
    if fresh and corpus.exists():
        for p in corpus.iterdir():
            p.unlink()
    for d in (corpus, artifacts, logs):
        d.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in artifacts.iterdir()}
    survey = work / "survey" / name
    if survey.exists():
        shutil.rmtree(survey)
    cmd = [sys.executable, "-m", "fuzz.run", "--worker", name, *(["--keep-going", str(survey)] if keep_going else []),
           f"-timeout={HANG_SECONDS}", f"-max_len={MAX_LEN.get(name, 4096)}", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/", "-report_slow_units=2"]
    if runs is not None:
        cmd.append(f"-runs={runs}")
    if seconds is not None:
        cmd.append(f"-max_total_time={seconds}")
    if seed is not None:
        cmd.append(f"-seed={seed}")
    cmd += [str(corpus), str(CORPUS / name)]
    log = logs / f"{name}.log"
    start = time.monotonic()
    # a wall-clock cap on the whole child, in case libFuzzer itself wedges
    cap = (seconds or 0) + (runs or 0) / 20 + 120
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            rc = proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = -9
    wall = time.monotonic() - start
    text = log.read_text(errors="replace")
    executed = [int(x) for x in _EXECUTED.findall(text)] or [int(m[0]) for m in _DONE.findall(text)]
    new = sorted(p.name for p in artifacts.iterdir() if p.name not in before)
    found = [a for a in new if a.split("-")[0] in ("crash", "timeout", "oom", "leak")]
    outcome = "clean" if rc == 0 and not found else ("killed" if rc == -9 else
                                                      (found[0].split("-")[0] if found else f"exit {rc}"))
    if outcome == "crash" and "MemoryBlowup:" in text:
        outcome = "blow-up"
    elif outcome == "timeout":
        outcome = "hang"
    elif outcome == "oom":
        outcome = "blow-up (libFuzzer RSS watchdog)"
    peak = _PEAK.findall(text)
    sigs = []
    if keep_going and survey.is_dir():
        sigs = sorted({(survey / p).read_text().splitlines()[0] + f"  ({survey / p[:-4]})"
                       for p in os.listdir(survey) if p.endswith(".txt")})
        if sigs and outcome == "clean":
            outcome = "crashes"
    return {"target": name, "inputs": executed[-1] if executed else 0, "seconds": round(wall, 1), "outcome": outcome,
            "artifacts": [str(artifacts / a) for a in found] + sigs, "slow_units": [a for a in new if a.startswith("slow-unit")],
            "peak_rss_mb": int(peak[-1]) if peak else None, "log": str(log)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(argv[1], argv[2:])
        return 0
    names = sorted(MAX_LEN)
    ap = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", metavar="TARGET", help=f"targets to run (default: all): {', '.join(names)}")
    ap.add_argument("--runs", type=int, help="inputs per target")
    ap.add_argument("--seconds", type=int, help="seconds per target (default 10 when --runs is not given)")
    ap.add_argument("--long", action="store_true",
                    help=f"the long run: LONG_RUNS inputs per target (>= 10^6 in all), {LONG_SECONDS} s at most each")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="working corpus, artifacts and logs (default fuzz/work)")
    ap.add_argument("--keep-corpus", action="store_true", help="start from the working corpus a previous run left")
    ap.add_argument("--seed", type=int, help="libFuzzer's random seed")
    ap.add_argument("--report", type=Path, help="write the figures as JSON here")
    ap.add_argument("--keep-going", action="store_true",
                    help="survey: save each distinct crash (fuzz/work/survey/TARGET/) and go on fuzzing")
    ap.add_argument("--minimize", nargs=2, metavar=("TARGET", "FILE"),
                    help="shrink a crashing input (libFuzzer -minimize_crash), written to FILE.min")
    ap.add_argument("--reproduce", nargs="+", metavar=("TARGET", "FILE"), help="run saved inputs through a target")
    opts = ap.parse_args(argv)
    if opts.reproduce:
        return reproduce(opts.reproduce[0], opts.reproduce[1:])
    if opts.minimize:
        return minimize(*opts.minimize)
    chosen = opts.targets or names
    unknown = [t for t in chosen if t not in MAX_LEN]
    if unknown:
        ap.error(f"unknown target {unknown[0]!r} (one of {', '.join(names)})")
    results = []
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    for name in chosen:
        runs = LONG_RUNS[name] if opts.long else opts.runs
        seconds = opts.seconds or (LONG_SECONDS if opts.long else None if runs else 10)
        r = run_target(name, runs=runs, seconds=seconds, work=opts.work, fresh=not opts.keep_corpus, seed=opts.seed,
                       keep_going=opts.keep_going)
        results.append(r)
        print(f"{name:12} {r['inputs']:>9} inputs {r['seconds']:>7.1f} s  {r['outcome']}"
              + "".join(f"\n    {a}" for a in r["artifacts"]), flush=True)
    total = sum(r["inputs"] for r in results)
    bad = [r for r in results if r["outcome"] != "clean"]
    wall = time.monotonic() - t0
    print(f"{'total':12} {total:>9} inputs {wall:>7.1f} s  "
          + ("clean" if not bad else f"{len(bad)} target(s) failed: {', '.join(r['target'] for r in bad)}"))
    if opts.report:
        opts.report.write_text(json.dumps({"started": started, "argv": argv, "total_inputs": total, "wall_seconds": round(wall, 1),
                                           "targets": results}, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
