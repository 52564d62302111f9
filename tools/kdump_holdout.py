#!/usr/bin/env python3
"""The kdump hold-out (tests/fixtures/dumps/holdout.toml): predictions before the boots, scores after.

    python tools/kdump_holdout.py predict [tests/fixtures/dumps/holdout]   # from the step-1 logs
    python tools/kdump_holdout.py score [tests/fixtures/dumps/holdout]     # the predictions written in
                                                                           # holdout.toml against the boots

``predict`` reads each machine's first-kernel log (holdout-logs.toml) and gives, per kernel, the
smallest size `check` calls ready, its verdict 4 MiB below, and `recommend`'s size -- what
holdout.toml was written from.  The kdump initramfs's size: the small image's from
calibrate-memcg.toml's notes (the same init.sh), the large one's estimated as the sweep's plus the
small image's growth.  ``score`` compares the predictions committed in holdout.toml (its
``# predicted:`` comments) with what each boot did.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from earlymem.kdump.evaluate import evaluate  # noqa: E402
from earlymem.kdump.recommend import recommend  # noqa: E402
from earlymem.oracle.dumps import capture_inputs  # noqa: E402

DUMPS = ROOT / "tests/fixtures/dumps"
SMALL = {"5.10": 2753335, "6.1": 2753330, "6.12": 2753335, "7.2": 2753330}
LARGE_OLD, SMALL_OLD = 36351889, 2752022
PLAN = {"pc-3g": ("small", "load"), "q35-12g": ("large", "file"), "numa2-12g": ("small", "file"), "numa4-32g": ("large", "load")}


def setup_for(capture: Path, flavour: str, method: str, initrd_size: int | None = None):
    return capture_inputs(capture, DUMPS / "sweep" / f"kdump-initrd-{flavour}.lst", file_load=method == "file",
                          workdir=Path(tempfile.mkdtemp()), initrd_size=initrd_size).setup


def stage(setup, size_mib: int) -> str:
    return evaluate(setup, f"{size_mib}M").stage


def predict(where: Path) -> None:
    for d in sorted(where.glob("holdout-log-*")):
        name, kernel = d.name.removeprefix("holdout-log-").split("--")
        flavour, method = PLAN[name]
        size = SMALL[kernel] if flavour == "small" else LARGE_OLD + (SMALL[kernel] - SMALL_OLD)
        setup = setup_for(d, flavour, method, size)
        first = next(s for s in range(16, 1024, 4) if stage(setup, s) == "ready")
        print(f"{name} {kernel} {flavour} {method}: smallest ready {first}M, {first - 4}M {stage(setup, first - 4)}, "
              f"recommend {recommend(setup).size >> 20}M")


SAME = {"dumped": {"ready"}, "oom": {"unpack", "dump"}, "unpack-failed": {"tmpfs"}, "dump-failed": {"dump-tmpfs"}}


def score(where: Path) -> dict[str, int]:
    from earlymem.oracle.sweep import classify

    text = (DUMPS / "holdout.toml").read_text()
    found = re.findall(r"# predicted: (.+) \((?:the smallest ready|4 MiB below it|recommend's size)\)\nname = \"([^\"]+)\"", text)
    preds = {name: said for said, name in found}
    counts = {"right": 0, "wrong": 0, "marginal": 0, "no evidence": 0}
    for name, said in sorted(preds.items()):
        kernel = re.search(r"-k([0-9.]+)-ck", name).group(1)
        d = where / f"{name}--{kernel}"
        real = classify(d, False)[0] if d.is_dir() else "missing"
        code = {"ready (dumps)": "ready", "marginal": "marginal"}.get(said, said)
        if real not in SAME:
            verdict = "no evidence"
        elif said == "marginal":
            verdict = "marginal"
        elif said == "ready (dumps)":
            verdict = "right" if real == "dumped" else "wrong"
        else:
            want = {"out of memory during the unpack": "unpack", "rootfs full (unpacking failed)": "tmpfs",
                    "the bitmap file does not fit in rootfs": "dump-tmpfs", "out of memory during the dump": "dump"}
            verdict = "right" if want[said.removeprefix("not ready: ")] in SAME[real] else "wrong"
        counts[verdict] += 1
        print(f"{name:48} predicted {code:52} real {real:14} {verdict}")
    print(counts)
    return counts


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "score"
    where = Path(sys.argv[2]) if len(sys.argv) > 2 else DUMPS / "holdout"
    {"predict": predict, "score": score}[cmd](where)
