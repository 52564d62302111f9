"""Run a fleet: every host's row, by a local process pool, streamed to the output as it comes.

The output is JSON lines (``.jsonl``) or CSV (``.csv``), appended one row at a time and flushed, so a
driver that dies loses nothing already written; a re-run reads what is there and skips every host whose
(host id, input hash) already has a row -- a host whose input changed is checked again.  The pool
(concurrent.futures, all cores unless told) hands each worker one host at a time: rows arrive in the
order hosts finish, and the summary does not depend on it.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from earlymem.fleet.hosts import Host, input_hash
from earlymem.fleet.job import COLUMNS, FleetOptions, check_host
from earlymem.lib.errors import InputError

__all__ = ["Summary", "run_fleet", "read_rows", "summarize"]


#: CSV has only text: the columns that are numbers, and the one whose empty value is "" (no reason), not null
_INTEGER, _TEXT = ("ram", "nodes"), ("reasons",)


def _typed(key: str, value: str):
    if value == "":
        return "" if key in _TEXT else None
    return int(value) if key in _INTEGER else value


def read_rows(out: Path) -> list[dict]:
    """The rows already in ``out`` (none if it does not exist); a last line cut short by a dead driver is
    dropped.  :raises InputError: naming the line, for a file that is not this tool's output."""
    if not out.exists():
        return []
    rows = []
    if out.suffix == ".csv":
        with open(out, newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is not None and list(reader.fieldnames) != list(COLUMNS):
                raise InputError("not an earlymem fleet CSV (its header differs)", source=str(out), field="line 1")
            for row in reader:
                if None in row.values() or None in row:  # a row cut short
                    continue
                rows.append({k: _typed(k, v) for k, v in row.items()})
        return rows
    lines = out.read_text().splitlines()
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines):
                continue  # cut short as the driver died
            raise InputError("not a JSON line", source=str(out), field=f"line {i}") from None
        if not isinstance(row, dict) or "host" not in row or "input_hash" not in row:
            raise InputError("not an earlymem fleet row", source=str(out), field=f"line {i}")
        rows.append(row)
    return rows


class _Writer:
    def __init__(self, out: Path) -> None:
        if out.suffix not in (".jsonl", ".csv"):
            raise InputError("the output is .jsonl or .csv", source=str(out), field="--out")
        self.out = out
        # a line cut short by a dead driver is cut off before more are appended (read_rows() dropped it)
        if out.exists() and out.stat().st_size:
            data = out.read_bytes()
            if not data.endswith(b"\n"):
                with open(out, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
        new = not out.exists() or out.stat().st_size == 0
        self.fh = open(out, "a", newline="")
        self.csv = csv.DictWriter(self.fh, fieldnames=list(COLUMNS)) if out.suffix == ".csv" else None
        if self.csv is not None and new:
            self.csv.writeheader()

    def write(self, row: dict) -> None:
        if self.csv is not None:
            self.csv.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
        else:
            self.fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


@dataclass
class Summary:
    hosts: int = 0
    skipped: int = 0
    verdicts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    errors: int = 0
    #: (host, verdict now, verdict under the what-if) where they differ
    changed: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def summarize(rows: Iterable[dict]) -> Summary:
    s = Summary()
    for r in rows:
        s.hosts += 1
        if r.get("error"):
            s.errors += 1
            s.verdicts["error"] += 1
            continue
        s.verdicts[r["verdict"]] += 1
        for code in (r.get("reasons") or "").split():
            s.reasons[code] += 1
        if r.get("whatif") and r.get("whatif_verdict") != r["verdict"]:
            s.changed.append((r["host"], r["verdict"], r.get("whatif_verdict")))
    s.changed.sort()
    return s


def run_fleet(hosts: list[Host], opts: FleetOptions, out: Path | None, *, jobs: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], int]:
    """Every host's row (the ones already in ``out`` included), and how many were skipped as done."""
    done = read_rows(out) if out is not None else []
    have = {(r["host"], r["input_hash"]) for r in done}
    current = {}
    for h in hosts:
        try:
            current[h.id] = input_hash(h.path)
        except OSError:
            current[h.id] = ""
    todo = [h for h in hosts if (h.id, current[h.id]) not in have]
    skipped = len(hosts) - len(todo)
    writer = _Writer(out) if out is not None else None
    # the rows already written for these hosts as their inputs are now (the last of each: the file is a journal)
    rows = list({r["host"]: r for r in done if current.get(r["host"]) == r["input_hash"]}.values())
    try:
        if jobs == 1 or len(todo) <= 1:
            for i, h in enumerate(todo, 1):
                row = check_host(h, opts)
                rows.append(row)
                if writer:
                    writer.write(row)
                if progress:
                    progress(i, len(todo))
        else:
            with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
                futures = [pool.submit(check_host, h, opts) for h in todo]
                for i, fut in enumerate(as_completed(futures), 1):
                    row = fut.result()
                    rows.append(row)
                    if writer:
                        writer.write(row)
                    if progress:
                        progress(i, len(todo))
    finally:
        if writer:
            writer.close()
    return rows, skipped
