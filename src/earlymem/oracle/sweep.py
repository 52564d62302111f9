"""The dump sweep: the smallest crash region in which a real dump completes.

For each configuration with a ``sweep = { low, high, step }`` and each of its
kernels, ``crashkernel=SIZE`` is bisected on real boots: the first kernel
reserves the region and loads the capture kernel (``kexec -p`` or
``kexec -s -p``), crashes into it, and the capture kernel runs makedumpfile
(init.sh's ``dump_vmcore``).  The answer is the smallest size, a multiple of
``step``, whose boot dumped, and the largest below it that did not, with how it
failed (:func:`classify`).  Bisection assumes that a size that dumps has no
larger size that fails; every boot's outcome is recorded, so a reader can see
the sizes it rests on.

Results go to ``OUT/sweep.json`` (schema ``earlymem/sweep/1``, below), written
again as each kernel's bisection ends; the captures of the two sizes that
bracket each minimum are kept, the others removed unless ``keep_all``.  A run
into an ``OUT`` that already has results skips the (configuration, kernel)
pairs found there with the same description and bounds, so a long sweep can be
resumed.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from earlymem.lib.errors import InputError
from earlymem.oracle.config import BootConfig
from earlymem.oracle.qemu import boot
from earlymem.oracle.run import Prepared
from earlymem.sources.capture import read_capture

__all__ = ["Outcome", "classify", "KernelSweep", "sweep", "SCHEMA"]

SCHEMA = "earlymem/sweep/1"

#: outcomes, from the first kernel to the end of the dump
OUTCOMES = {
    "dumped": "makedumpfile completed (exit status 0) and wrote the dump into the pipe",
    "no-region": "the first kernel reserved no crash region (kexec_crash_size 0)",
    "load-refused": "kexec could not load the capture kernel into the region",
    "unpack-failed": "the initramfs was not fully unpacked (\"Initramfs unpacking failed\": rootfs is full), so /init "
                     "or makedumpfile is missing",
    "oom": "the capture kernel ran out of memory (the OOM killer, or a panic for want of memory)",
    "panic": "the capture kernel panicked before the dump completed",
    "dump-failed": "makedumpfile ended with an error",
    "hang": "the boot did not finish within the configuration's timeout",
    "first-failed": "the first kernel died before its /init (not a kdump outcome: the boot is tried again)",
    "no-capture": "the capture kernel printed nothing of its /init",
}

_PANIC = re.compile(r"Kernel panic - not syncing: (.*)")
_OOM = re.compile(r"invoked oom-killer|Out of memory|oom-kill:|page allocation failure")
_UNPACK = re.compile(r"Initramfs unpacking failed")
_STATUS = re.compile(r"makedumpfile exit status (\d+)")


@dataclass(frozen=True)
class Outcome:
    """One boot: the crash region asked for, what happened, and the line that shows it."""

    size: int
    outcome: str
    evidence: str
    seconds: float

    @property
    def dumped(self) -> bool:
        return self.outcome == "dumped"


def classify(directory: Path, timed_out: bool) -> tuple[str, str]:
    """The outcome of one dump boot and its evidence line (see :data:`OUTCOMES`)."""
    cap = read_capture(directory)
    text = [line.rstrip("\r") for line in cap.serial]
    if cap.section("first/dmesg") is None:
        why = next((m.group(1) for ln in text for m in [_PANIC.search(ln)] if m), None)
        return "first-failed", f"the first kernel did not reach /init" + (f": {why}" if why else "")
    size = (cap.section("first/kexec_crash_size") or ["0"])[0].strip()
    if size in ("", "0"):
        return "no-region", f"/sys/kernel/kexec_crash_size: {size or '(empty)'}"
    loaded = (cap.section("first/kexec_crash_loaded_after") or ["0"])[0].strip()
    if loaded != "1":
        load = cap.section("first/kexec_load_debug") or cap.section("first/kexec_file_debug") or []
        last = next((ln for ln in reversed(load) if ln.strip()), "kexec_crash_loaded stayed 0")
        return "load-refused", last.strip()
    # the marker init.sh prints before it crashes; the console may interleave it with the kernel's own
    # lines, so the sysrq panic stands for it when it is not found whole
    crash = next((i for i, ln in enumerate(text) if "@@@@CRASH first@@@@" in ln),
                 next((i for i, ln in enumerate(text) if "sysrq triggered crash" in ln), len(text)))
    after = text[crash + 1:]
    # the first kernel's own panic is the sysrq crash; what follows it is the capture kernel's
    panics = [m.group(1) for ln in after for m in [_PANIC.search(ln)] if m and "sysrq" not in m.group(1)]
    dump = cap.section("kdump/makedumpfile")
    oom = next((ln.strip() for ln in (cap.section("kdump/dmesg_after") or []) + after if _OOM.search(ln)), None)
    unpack = next((ln.strip() for ln in (cap.section("kdump/dmesg") or []) + after if _UNPACK.search(ln)), None)
    if dump is not None:
        status = next((int(m.group(1)) for ln in dump for m in [_STATUS.search(ln)] if m), None)
        written = next((ln.strip() for ln in reversed(dump) if ln.strip().isdigit()), "0")
        if status == 0 and int(written) > 0:
            return "dumped", f"makedumpfile exit status 0, {written} bytes"
        if oom or status == 137:
            return "oom", oom or "makedumpfile killed (exit status 137)"
        if unpack or status == 127:
            return "unpack-failed", unpack or "makedumpfile not found (exit status 127): the initramfs was not fully unpacked"
        return "dump-failed", f"makedumpfile exit status {status}: " + next((ln.strip() for ln in dump if ln.strip()), "")
    if unpack and not oom:
        return "unpack-failed", unpack
    if panics:
        why = panics[0]
        return panic_outcome(why, oom), (oom or why)
    if timed_out:
        return "hang", oom or "no output after the crash within the timeout"
    return ("oom", oom) if oom else ("no-capture", "the capture kernel printed no section")


#: panics that are the OOM killer's (mm/oom_kill.c out_of_memory(): "System is deadlocked on memory",
#: "Out of memory and no killable processes...")
_OOM_PANIC = re.compile(r"deadlocked on memory|Out of memory")


def panic_outcome(why: str, oom: str | None = None) -> str:
    """"oom" for a capture kernel's panic for want of memory, else "panic"."""
    return "oom" if oom or _OOM_PANIC.search(why) else "panic"


def refine(outcome: str, evidence: str) -> str:
    """An outcome recorded by an earlier classifier, read again from its evidence line (the sweep of
    tests/fixtures/dumps began before "unpack-failed" was told apart and OOM panics were named)."""
    if _UNPACK.search(evidence) or "exit status 127" in evidence:
        return "unpack-failed"
    if outcome == "panic":
        return panic_outcome(evidence)
    return outcome


@dataclass
class KernelSweep:
    """One configuration on one kernel: every boot, and the bracket found."""

    config: str
    kernel: str
    describe: str
    low: int
    high: int
    step: int
    boots: list[Outcome] = field(default_factory=list)

    @property
    def minimum(self) -> int | None:
        """The smallest size that dumped (None: none did up to ``high``)."""
        return min((b.size for b in self.boots if b.dumped), default=None)

    @property
    def below(self) -> Outcome | None:
        """The largest size under :attr:`minimum` that did not dump."""
        top = self.minimum if self.minimum is not None else self.high + 1
        fails = [b for b in self.boots if not b.dumped and b.size < top]
        return max(fails, key=lambda b: b.size, default=None)

    def as_json(self) -> dict:
        below = self.below
        return {
            "config": self.config, "kernel": self.kernel, "describe": self.describe,
            "low": self.low, "high": self.high, "step": self.step,
            "minimum": self.minimum,
            "below": asdict(below) if below else None,
            "boots": [asdict(b) for b in sorted(self.boots, key=lambda b: b.size)],
        }


def capture_label(config: BootConfig, key: str, size: int) -> str:
    return f"{config.name}--{key}--ck{size >> 20}M"


#: tries of one size whose first kernel dies before /init (a harness failure, not an outcome)
RETRIES = 3


def bisect(config: BootConfig, key: str, run: Callable[[int], Outcome], known: list[Outcome] = ()) -> KernelSweep:
    """Bisect ``config``'s sweep on kernel ``key``; ``run(size)`` boots once.  ``known``: outcomes of
    an earlier run, not booted again (except those whose first kernel died: tried again)."""
    low, high, step = config.sweep
    result = KernelSweep(config.name, key, config.describe(), low, high, step)
    cache = {o.size: o for o in known if o.outcome != "first-failed"}

    def at(size: int) -> Outcome:
        if size in cache:
            o = cache[size]
        else:
            for _ in range(RETRIES):
                o = run(size)
                if o.outcome != "first-failed":
                    break
            cache[size] = o
        if o not in result.boots:
            result.boots.append(o)
        return o

    if not at(high).dumped:
        return result  # no dump even at high: the bracket is open above
    if at(low).dumped:
        return result  # dumps at low: the bracket is open below
    lo, hi = low // step, high // step  # lo fails, hi dumps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if at(mid * step).dumped else (mid, hi)
    fill_hole(result, at)
    # an earlier run's boots off this run's path stay on record (a first kernel that died included)
    seen = {(o.size, o.outcome, o.evidence) for o in result.boots}
    result.boots += [o for o in known if (o.size, o.outcome, o.evidence) not in seen]
    return result


#: failures that say nothing about the capture kernel's memory: a region not reserved at this
#: size, or a load that does not fit there, may sit above sizes that work
PLACEMENT = ("no-region", "load-refused")


def fill_hole(result: KernelSweep, run: Callable[[int], Outcome]) -> bool:
    """When the size just below the minimum failed for a placement reason (:data:`PLACEMENT`) above
    a size that failed for want of memory, the bisection jumped over sizes it never tried: try them
    upward, from the memory failure, until one dumps or the hole is reached.  :return: whether any
    boot was added."""
    below = result.below
    if below is None or below.outcome not in PLACEMENT:
        return False
    under = [b for b in result.boots if not b.dumped and b.size < below.size and b.outcome not in PLACEMENT]
    if not under:
        return False
    size = max(b.size for b in under) + result.step
    tried = {b.size for b in result.boots}
    added = False
    while size < below.size:
        if size not in tried:
            o = run(size)
            result.boots.append(o)
            added = True
            if o.dumped:
                break
        size += result.step
    return added


def sweep(
    configs: list[BootConfig],
    prepared: Prepared,
    out_dir: Path,
    *,
    jobs: int = 2,
    keep_all: bool = False,
    on_boot: Callable[[str, Outcome], None] = lambda name, o: None,
) -> list[KernelSweep]:
    """Run every configuration's sweep on each of its kernels (``jobs`` bisections at once).  Pairs
    already in OUT/sweep.json are not bisected again; those whose bracket is a placement hole
    (:func:`fill_hole`) get the boots the bisection skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [reclassify(r, out_dir) for r in read_results(out_dir / "sweep.json")]
    done = {(r.config, r.kernel, r.describe, r.low, r.high, r.step): r for r in results}
    lock = threading.Lock()
    qemu = prepared.tools["qemu-system-x86_64"]

    def one(item: tuple[BootConfig, str, KernelSweep | None]) -> KernelSweep:
        config, key, earlier = item
        fetched, initrd = prepared.for_config(key, config)
        boots_dir = out_dir / "boots"

        def run(size: int) -> Outcome:
            label = capture_label(config, key, size)
            sized = replace(config, name=f"{config.name}--ck{size >> 20}M", crashkernel=f"{size >> 20}M", sweep=None)
            r = boot(sized, fetched, initrd, qemu, boots_dir)
            outcome, evidence = classify(r.directory, r.timed_out)
            o = Outcome(size, outcome, evidence, round(r.seconds, 1))
            on_boot(label, o)
            return o

        result = bisect(config, key, run, earlier.boots if earlier is not None else ())
        keep = {b.size for b in (result.below,) if b} | ({result.minimum} if result.minimum is not None else set())
        for b in result.boots:
            src = boots_dir / f"{config.name}--ck{b.size >> 20}M--{key}"
            dest = out_dir / capture_label(config, key, b.size)
            if b.size in keep and src.is_dir():
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(src, dest)
            elif b.size not in keep and earlier is not None:
                shutil.rmtree(dest, ignore_errors=True)  # a capture kept before the hole was filled
            if not keep_all:
                shutil.rmtree(src, ignore_errors=True)
        with lock:
            if earlier is not None:
                results.remove(earlier)
            results.append(result)
            write_results(results, out_dir / "sweep.json")
        return result

    work = []
    for c in configs:
        for k in c.kernels if c.sweep else ():
            earlier = done.get((c.name, k, c.describe(), *c.sweep))
            if earlier is None:
                work.append((c, k, None))
            elif any(b.outcome == "first-failed" for b in earlier.boots) or \
                    earlier.below is not None and earlier.below.outcome in PLACEMENT:
                work.append((c, k, earlier))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, work))
    return results


def reclassify(result: KernelSweep, out_dir: Path) -> KernelSweep:
    """``result`` with the boots whose captures are kept in ``out_dir`` read again by :func:`classify`
    (an earlier version of it may have named them otherwise)."""
    boots = []
    for b in result.boots:
        d = out_dir / f"{result.config}--{result.kernel}--ck{b.size >> 20}M"
        if (d / "serial.log").is_file():
            outcome, evidence = classify(d, timed_out=b.outcome == "hang")
            b = Outcome(b.size, outcome, evidence, b.seconds)
        boots.append(b)
    return KernelSweep(result.config, result.kernel, result.describe, result.low, result.high, result.step, boots)


def write_results(results: list[KernelSweep], path: Path) -> None:
    order = sorted(results, key=lambda r: (r.config, tuple(int(x) for x in r.kernel.split("."))))
    doc = {"schema": SCHEMA, "outcomes": OUTCOMES, "sweeps": [r.as_json() for r in order]}
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def read_results(path: Path) -> list[KernelSweep]:
    """The sweeps in a ``sweep.json`` (none if it does not exist).

    :raises InputError: for a file of another schema or a damaged one.
    """
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text())
        if doc.get("schema") != SCHEMA:
            raise InputError(f"not an {SCHEMA} file (schema {doc.get('schema')!r})", source=str(path), field="schema")
        return [
            KernelSweep(s["config"], s["kernel"], s["describe"], s["low"], s["high"], s["step"],
                        [Outcome(b["size"], b["outcome"], b["evidence"], b["seconds"]) for b in s["boots"]])
            for s in doc["sweeps"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"damaged sweep results: {exc}", source=str(path)) from None
