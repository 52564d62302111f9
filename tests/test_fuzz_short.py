"""The short fuzzing run CI makes: every target of fuzz/targets.py for a few
seconds under atheris (coverage-guided, from the seed corpus fuzz/corpus/),
with the hang (5 s) and memory (500 MB) limits of the long run.

About two and a half minutes in all; the long run and its figures are in the
README ("Fuzzing").  Any crash, hang or blow-up fails this test, and its input
is left in the work directory named in the failure message.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz.run import LONG_RUNS, MAX_LEN

SECONDS = 7  # per target: 18 targets, each also takes about a second to start


def test_every_reader_has_a_target_a_seed_corpus_and_a_long_run_share():
    names = set(MAX_LEN)
    assert names == set(LONG_RUNS)
    assert sum(LONG_RUNS.values()) >= 10**6
    for name in names:
        seeds = list((ROOT / "fuzz" / "corpus" / name).iterdir())
        assert seeds, name
        assert all(s.stat().st_size <= MAX_LEN[name] for s in seeds), name
    assert sum(s.stat().st_size for s in (ROOT / "fuzz" / "corpus").rglob("*") if s.is_file()) < 4 << 20


def test_short_fuzzing_run_of_every_reader(tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "fuzz.run", "--seconds", str(SECONDS), "--seed", "1",
                           "--work", str(tmp_path / "work"), "--report", str(report)],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=len(MAX_LEN) * (SECONDS + 30))
    assert report.is_file(), proc.stdout + proc.stderr
    figures = json.loads(report.read_text())
    bad = [t for t in figures["targets"] if t["outcome"] != "clean"]
    assert not bad, "\n".join(f"{t['target']}: {t['outcome']} {t['artifacts']} (log {t['log']})" for t in bad)
    assert proc.returncode == 0, proc.stdout
    assert {t["target"] for t in figures["targets"]} == set(MAX_LEN)
    assert all(t["inputs"] > 50 for t in figures["targets"]), figures
