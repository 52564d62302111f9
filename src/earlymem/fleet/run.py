"""Run a fleet: every host's row, by a local process pool or a Dask cluster, streamed to the output as
it comes.

The output is JSON lines (``.jsonl``) or CSV (``.csv``), appended one row at a time and flushed, so a
driver that dies loses nothing already written; a re-run reads what is there and skips every host whose
(host id, input hash) already has a row -- a host whose input changed is checked again.  Parquet
(``.parquet``) is written at the end from a JSON-lines journal beside it (``OUT.parquet.jsonl``), which
is what streams and what a re-run reads.  The pool (concurrent.futures, all cores unless told) hands
each worker one host at a time; on Dask (dask.distributed, an existing scheduler's address) each host is
one task keyed by its id and input hash, and the scheduler runs again on another worker the tasks of a
worker that died.  Rows arrive in the order hosts finish; the summary does not depend on it.
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
from earlymem.sources.text import read_text_lines

__all__ = ["Summary", "run_fleet", "read_rows", "summarize"]


#: CSV has only text: the columns that are numbers, and the one whose empty value is "" (no reason), not null
_INTEGER, _TEXT = ("ram", "nodes"), ("reasons",)


def _typed(key: str, value: str):
    if value == "":
        return "" if key in _TEXT else None
    return int(value) if key in _INTEGER else value


def journal(out: Path) -> Path:
    """Where rows stream: the output itself, or for Parquet the JSON-lines journal beside it."""
    return out.with_name(out.name + ".jsonl") if out.suffix == ".parquet" else out


def _valid(row, out: Path, i: int) -> dict:
    """A row as this tool writes it: every column, host and input hash as text, the verdict and the
    reasons text or null.  :raises InputError: naming the line."""
    if not isinstance(row, dict) or set(COLUMNS) - set(row):
        raise InputError("not an earlymem fleet row", source=str(out), field=f"line {i}")
    if not isinstance(row["host"], str) or not isinstance(row["input_hash"], str) or \
            any(row[k] is not None and not isinstance(row[k], str) for k in ("verdict", "p_ready", "reasons", "error", "whatif", "whatif_verdict")):
        raise InputError("not an earlymem fleet row (a column of the wrong type)", source=str(out), field=f"line {i}")
    return row


def read_rows(out: Path) -> list[dict]:
    """The rows already in ``out`` (none if it does not exist or is empty); a last line cut short by a
    dead driver is dropped.  :raises InputError: naming the file and line, for anything that is not this
    tool's output."""
    out = journal(out)
    if not out.exists() or out.stat().st_size == 0:
        return []
    cut = not out.read_bytes().endswith(b"\n")
    lines = read_text_lines(out)
    while lines and not lines[-1]:  # the end of the last line, as the reader gives it
        lines.pop()
    rows = []
    if out.suffix == ".csv":
        try:
            reader = csv.reader(lines)
            header = next(reader, None)
            if header != list(COLUMNS):
                raise InputError("not an earlymem fleet CSV (its header differs)", source=str(out), field="line 1")
            for i, values in enumerate(reader, 2):
                if len(values) != len(COLUMNS):
                    if cut and i == len(lines):
                        continue  # cut short as the driver died
                    raise InputError(f"{len(values)} columns, not {len(COLUMNS)}", source=str(out), field=f"line {i}")
                rows.append(_valid({k: _typed(k, v) for k, v in zip(COLUMNS, values)}, out, i))
        except csv.Error as exc:
            raise InputError(f"not CSV: {exc}", source=str(out), field=f"line {reader.line_num}") from None
        except ValueError:
            raise InputError("a number column that is not a number", source=str(out), field=f"line {reader.line_num}") from None
        return rows
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            if cut and i == len(lines):
                continue  # cut short as the driver died
            raise InputError("not a JSON line", source=str(out), field=f"line {i}") from None
        rows.append(_valid(row, out, i))
    return rows


class _Writer:
    def __init__(self, out: Path) -> None:
        if out.suffix not in (".jsonl", ".csv", ".parquet"):
            raise InputError("the output is .jsonl, .csv or .parquet", source=str(out), field="--out")
        self.parquet = out if out.suffix == ".parquet" else None
        out = journal(out)
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
        if self.parquet is not None:
            write_parquet(read_rows(self.parquet), self.parquet)


def write_parquet(rows: list[dict], out: Path) -> None:
    """The rows as one Parquet table (pyarrow), columns in COLUMNS' order."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("pyarrow is not installed (pip install 'earlymem[fleet]'); the rows are in the journal",
                         source=str(journal(out)), field="--out") from None

    types = {"ram": pa.int64(), "nodes": pa.int32()}
    table = pa.table({c: pa.array([r.get(c) for r in rows], type=types.get(c, pa.string())) for c in COLUMNS})
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(out)


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
              progress: Callable[[int, int], None] | None = None, dask: str | None = None) -> tuple[list[dict], int]:
    """Every host's row (the ones already in ``out`` included), and how many were skipped as done.
    ``dask``: a scheduler's address (the job then runs on that cluster; the inputs must be where its
    workers can read them)."""
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
    def take(i: int, row: dict) -> None:
        rows.append(row)
        if writer:
            writer.write(row)
        if progress:
            progress(i, len(todo))

    try:
        if dask is not None:
            try:
                from distributed import Client, as_completed as dask_completed
            except ImportError:
                raise InputError("dask.distributed is not installed (pip install 'earlymem[fleet]')", field="--dask") from None

            with Client(dask) as client:
                keys = [f"earlymem-fleet-{h.id}-{current[h.id]}" for h in todo]
                futures = [client.submit(check_host, h, opts, key=k, pure=False, retries=2) for h, k in zip(todo, keys)]
                for i, fut in enumerate(dask_completed(futures), 1):
                    take(i, fut.result())
        elif jobs == 1 or len(todo) <= 1:
            for i, h in enumerate(todo, 1):
                take(i, check_host(h, opts))
        else:
            with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
                futures = [pool.submit(check_host, h, opts) for h in todo]
                for i, fut in enumerate(as_completed(futures), 1):
                    take(i, fut.result())
    finally:
        if writer:
            writer.close()
    return rows, skipped
