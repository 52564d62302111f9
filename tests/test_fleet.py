"""`earlymem fleet` (issue 19), with the local process pool: the pool gives the rows one process gives,
a bad input is a row with its error, a re-run skips what is done and redoes what changed or was cut
short, and a what-if lists exactly the hosts whose verdict `check` itself gives differently."""

import json
import re
from pathlib import Path

import pytest

from earlymem.fleet.generate import generate_fleet
from earlymem.fleet.hosts import discover
from earlymem.fleet.job import FleetOptions, check_host
from earlymem.fleet.run import read_rows, run_fleet, summarize
from earlymem.lib.errors import InputError

ROOT = Path(__file__).parents[1]
SWEEP = ROOT / "tests/fixtures/dumps/sweep"
OPTS = FleetOptions(initrd=str(SWEEP / "kdump-initrd-small.lst"), initrd_size="2752032", recommend=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    where = tmp_path_factory.mktemp("fleet")
    generate_fleet(where, 40, seed=7, bad_every=13)
    return where


def _key(rows):
    return sorted((json.dumps(r, sort_keys=True) for r in rows))


def test_the_pool_gives_the_rows_one_process_gives(fleet, tmp_path):
    hosts = discover([str(fleet)])
    assert len(hosts) == 40 and {h.kind for h in hosts} == {"log", "toml"}
    pooled, _ = run_fleet(hosts, OPTS, tmp_path / "a.jsonl", jobs=2)
    alone, _ = run_fleet(hosts, OPTS, None, jobs=1)
    assert _key(pooled) == _key(alone) and len(pooled) == 40
    assert _key(read_rows(tmp_path / "a.jsonl")) == _key(pooled)
    verdicts = {r["verdict"] for r in pooled if not r["error"]}
    assert {"ready", "not_ready"} <= verdicts  # the generated fleet is varied


def test_a_bad_input_is_a_row_with_its_error(fleet):
    rows = [check_host(h, OPTS) for h in discover([str(fleet)]) if h.id in ("host-00013.log", "host-00026.log", "host-00039.log")]
    assert len(rows) == 3
    for r in rows:
        assert r["error"] and r["verdict"] is None and "\n" not in r["error"] and r["input"] in r["error"]


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(fleet, tmp_path):
    hosts = discover([str(fleet)])[:8]
    out = tmp_path / "r.csv"
    first, skipped = run_fleet(hosts, OPTS, out, jobs=2)
    assert skipped == 0 and len(read_rows(out)) == 8
    again, skipped = run_fleet(hosts, OPTS, out, jobs=2)
    assert skipped == 8 and _key(again) == _key(first) and len(read_rows(out)) == 8
    # one input changes: only it is checked again, and the summary counts it once
    changed = Path(hosts[0].path)
    changed.write_text(changed.read_text().replace("Command line: console=ttyS0", "Command line: console=ttyS0 quiet"))
    try:
        rows, skipped = run_fleet(hosts, OPTS, out, jobs=1)
        assert skipped == 7 and len(rows) == 8 and summarize(rows).hosts == 8
    finally:
        changed.write_text(changed.read_text().replace(" quiet", ""))
    # a driver that died mid-line: the cut row is dropped and its host checked again
    jl = tmp_path / "r.jsonl"
    run_fleet(hosts[:3], OPTS, jl, jobs=1)
    text = jl.read_text()
    jl.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + text.splitlines()[-1][:40])
    rows, skipped = run_fleet(hosts[:3], OPTS, jl, jobs=1)
    assert skipped == 2 and len(rows) == 3 and len(read_rows(jl)) == 3


def test_a_what_if_kernel_lists_exactly_the_hosts_check_says_change(fleet):
    """Against `check` itself: each host's log with the 6.12 build's banner, checked with 6.12 as the capture
    kernel, gives the what-if's verdict; the hosts listed are exactly those whose verdict differs."""
    from earlymem.kdump.check import check
    from earlymem.kdump.gather import Options, gather
    from earlymem.sources.capture import read_capture

    banner = next(ln for ln in read_capture(SWEEP / "dump-pc-1g-small-load--6.12--ck80M").section("first/dmesg")
                  if "Linux version" in ln)
    banner = banner[banner.index("Linux version"):]
    hosts = [h for h in discover([str(fleet)])][:20]
    rows, _ = run_fleet(hosts, FleetOptions(OPTS.kernel, OPTS.initrd, OPTS.initrd_size, what_if="6.12", recommend=False), None, jobs=2)
    by_host = {r["host"]: r for r in rows}
    expected = []
    for h in hosts:
        r = by_host[h.id]
        if r["error"]:
            continue
        text = Path(h.path).read_text()
        if h.kind == "toml":  # a machine description names its kernel
            other = Path(h.path[: -len(".toml")] + "-612.toml")
            other.write_text(re.sub(r'kernel_version = ".*"', 'kernel_version = "6.12.117+deb13-amd64"', text, count=1))
        else:
            other = Path(h.path + ".612")
            other.write_text(re.sub(r"Linux version .*", lambda m: banner, text, count=1))
        try:
            g = gather(str(other), Options(1, "6.12.117+deb13-amd64", OPTS.initrd, OPTS.initrd_size, None, None))
            verdict = check(g.setup, source=g.source).verdict
        finally:
            other.unlink()
        assert verdict == r["whatif_verdict"], (h.id, verdict, r["whatif_why"])
        if verdict != r["verdict"]:
            expected.append((h.id, r["verdict"], verdict))
    assert summarize(rows).changed == sorted(expected)


def test_bad_output_files_are_named(tmp_path):
    from earlymem.fleet.job import COLUMNS

    good = json.dumps(dict.fromkeys(COLUMNS) | {"host": "a", "input_hash": "1", "reasons": ""})
    bad = tmp_path / "x.jsonl"
    for body, line in ((f"{good}\nnot json\n{good}\n", "line 2"), (f"{good}\n{{\"host\": \"b\"}}\n", "line 2"),
                       (f"{good}\n" + good.replace('"host":"a"', '"host":["a"]').replace('"host": "a"', '"host": ["a"]') + "\n", "line 2")):
        bad.write_text(body)
        with pytest.raises(InputError) as exc:
            read_rows(bad)
        assert exc.value.field == line
    bad.write_text(f"{good}\n{good[:20]}")  # cut short by a dead driver: dropped
    assert len(read_rows(bad)) == 1
    with pytest.raises(InputError):
        run_fleet([], OPTS, tmp_path / "x.xlsx")


def test_the_cli(fleet, tmp_path):
    import subprocess

    exe = str(ROOT / ".venv/bin/earlymem") if (ROOT / ".venv/bin/earlymem").exists() else "earlymem"
    hosts = [str(p) for p in sorted(fleet.glob("host-0000[1-9].log"))]
    out = tmp_path / "f.csv"
    proc = subprocess.run([exe, "fleet", *hosts, "--initrd", OPTS.initrd, "--initrd-size", OPTS.initrd_size, "--out", str(out),
                           "--what-if-cmdline", "crashkernel=64M", "--jobs", "2", "--no-recommend"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("9 host(s)") and "with crashkernel=64M:" in proc.stdout
    assert len(read_rows(out)) == 9
    for args, field in ((["--what-if", "6.12", "--what-if-cmdline", "crashkernel=1G"], "--what-if-cmdline"),
                        (["--what-if-cmdline", "256M"], "--what-if-cmdline"), (["--out", str(tmp_path / "f.txt")], "--out")):
        bad = subprocess.run([exe, "fleet", hosts[0], *args], capture_output=True, text=True)
        assert bad.returncode == 2 and field in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    none = subprocess.run([exe, "fleet", str(tmp_path / "nothing-*.log")], capture_output=True, text=True)
    assert none.returncode == 2 and "no host" in none.stderr


# -- Dask: a real local cluster -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory):
    where = tmp_path_factory.mktemp("big")
    generate_fleet(where, 300, seed=11, bad_every=37)
    return where


def test_a_dask_cluster_gives_the_rows_the_local_pool_gives(cluster, big_fleet, tmp_path):
    hosts = discover([str(big_fleet)])
    assert len(hosts) == 300
    on_dask, _ = run_fleet(hosts, OPTS, tmp_path / "d.parquet", dask=cluster.scheduler_address)
    local, _ = run_fleet(hosts, OPTS, None, jobs=2)
    assert _key(on_dask) == _key(local)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "d.parquet").to_pylist()
    assert _key(table) == _key(local) and sum(1 for r in table if r["error"]) == 8


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(cluster, big_fleet, tmp_path):
    import os
    import signal
    import threading
    import time

    from distributed import Client

    hosts = discover([str(big_fleet)])
    out = tmp_path / "k.jsonl"
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("rows", run_fleet(hosts, OPTS, out, dask=cluster.scheduler_address)))
    runner.start()
    while not out.exists() or len(out.read_text().splitlines()) < 30:
        time.sleep(0.05)
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=600)
    assert not runner.is_alive()
    rows = read_rows(out)
    assert len(rows) == 300 and len({r["host"] for r in rows}) == 300
    assert _key(rows) == _key(done["rows"][0])


def test_under_kaslr_a_row_gives_the_exact_probability_not_one_place(fleet, tmp_path):
    """A host booted without nokaslr: KASLR draws the kernel's place, so the row's p_ready is check's exact
    fraction, and the crash region is given only if every place gives the same one."""
    from fractions import Fraction

    from earlymem.fleet.hosts import Host
    from earlymem.kdump.evaluate import evaluate
    from earlymem.kdump.gather import Options, gather

    log = tmp_path / "kaslr.log"
    log.write_text((fleet / "host-00001.log").read_text().replace(" nokaslr", ""))
    row = check_host(Host("kaslr", str(log), "log"), OPTS)
    assert row["error"] is None and row["p_ready"] is not None and 0 <= Fraction(row["p_ready"]) <= 1
    ev = evaluate(gather(str(log), Options(1, None, OPTS.initrd, OPTS.initrd_size, None, None)).setup)
    places = {tuple((c.start, c.end) for c in o.first.crash) for o in ev.outcomes}
    assert len(ev.outcomes) > 1 and (row["crash_region"] is None) == (len(places) > 1)
