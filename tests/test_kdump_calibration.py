"""earlymem.kdump.calibration.CALIBRATIONS says what the committed calibration boots say
(tools/kdump_calibration.py derives it from tests/fixtures/dumps/calibrate)."""

import importlib.util
from pathlib import Path

from earlymem.kdump.calibration import CALIBRATIONS

ROOT = Path(__file__).parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("kdump_calibration", ROOT / "tools/kdump_calibration.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_table_is_what_the_captures_give():
    rows, table = _tool().derive(ROOT / "tests/fixtures/dumps/calibrate")
    assert table == CALIBRATIONS
    assert set(table) == {"5.10.0-32-amd64", "6.1.0-50-amd64", "6.12.117+deb13-amd64", "7.2.13+deb14-amd64"}
    # what the runtime leaves out hardly moves with the region or the machine: within 0.6 MiB per build
    # on one node; each NUMA node past the first adds to it (and the table's per-node figure covers them)
    for release, c in table.items():
        single = [r["runtime"] for r in rows if r.get("release") == release and r.get("nodes") == 1 and "runtime" in r]
        assert len(single) == 8 and max(single) - min(single) < 600 << 10  # calibrate.toml's 4, calibrate-memcg.toml's 4
        numa = [r for r in rows if r.get("release") == release and r.get("nodes", 1) > 1 and "runtime" in r]
        assert {r["nodes"] for r in numa} == {2, 4}
        assert all(r["runtime"] <= c.runtime + c.runtime_per_node * (r["nodes"] - 1) for r in numa)
    # an out-of-memory report during the unpack is always below the runtime at /init
    for c in table.values():
        assert c.runtime_low is None or c.runtime_low < c.runtime


def test_makedumpfile_s_own_working_set_is_one_figure_per_build():
    """calibrate-memcg.toml: the dump's memory cgroup's peak charge less the bitmaps is within 64 KiB per
    build over 4-64 GiB, one to four nodes, and both bitmap modes (a file in /tmp, one heap buffer) --
    which also shows the heap mode holds one 4 MiB buffer at a time, not two."""
    rows, table = _tool().derive(ROOT / "tests/fixtures/dumps/calibrate")
    for release, c in table.items():
        exact = [r for r in rows if r.get("release") == release and r.get("memcg")]
        assert len(exact) == 6 and {r["heap"] for r in exact} == {True, False}
        assert c.dump_own - c.dump_own_low < 64 << 10 and 900 << 10 < c.dump_own_low


def test_the_unpack_edge_is_bracketed_on_every_build():
    """tests/fixtures/dumps/unpack: the initramfs grown 1 MiB and then 256 KiB at a time on the pc and q35
    one-node machines, the two-node pc and the four-node q35 one.  On one node every kernel's outcomes
    flip once per machine, so the edge is known to 256 KiB there; three NUMA machines were irregular."""
    rows, table = _tool().derive(ROOT / "tests/fixtures/dumps/calibrate")
    irregular = set()
    for release, c in table.items():
        assert {(e.platform, e.nodes) for e in c.unpack_edges} == {("qemu-pc", 1), ("qemu-q35", 1), ("qemu-pc", 2), ("qemu-q35", 4)}
        for e in c.unpack_edges:
            if e.nodes == 1:
                assert e.regular and 0 < e.at_most - e.above <= (256 + 8) << 10, (release, e)
                mine = sorted((r["pad"], r["dumped"]) for r in rows
                              if r.get("release") == release and (r.get("platform"), r.get("nodes")) == (e.platform, 1) and "room" in r)
                flips = sum(a[1] != b[1] for a, b in zip(mine, mine[1:]))
                assert flips == 1 and mine[0][1] and not mine[-1][1], (release, e.platform, mine)
            assert e.at_most is not None and (e.above is None or e.above < e.at_most)
            if not e.regular:
                irregular.add((release.split(".")[0] + "." + release.split(".")[1].split("-")[0].split("+")[0], e.platform, e.nodes))
        # 6.1's edge lies 1.5 MiB further on the i440FX machine than on the Q35 one: the platform matters
        if release.startswith("6.1."):
            pc, q35 = (next(e for e in c.unpack_edges if (e.platform, e.nodes) == (p, 1)) for p in ("qemu-pc", "qemu-q35"))
            assert pc.above - q35.at_most > 1 << 20
    assert irregular == {("6.1", "qemu-q35", 4), ("6.12", "qemu-pc", 2), ("7.2", "qemu-pc", 2)}


def test_the_band_is_the_machines_own_or_bounded_from_the_others():
    from earlymem.kdump.calibration import Calibration, UnpackEdge

    M = 1 << 20
    c = Calibration("t", 20 * M, M, 10 * M, 2 * M, "t",
                    (UnpackEdge("qemu-pc", 1, 14 * M, 15 * M), UnpackEdge("qemu-q35", 1, 12 * M, 13 * M),
                     UnpackEdge("qemu-pc", 2, None, 18 * M, False), UnpackEdge("qemu-q35", 4, 20 * M, 21 * M)))
    assert c.unpack_band("qemu-pc", 1) == (14 * M, 15 * M)
    assert c.unpack_band("qemu-q35", 1) == (12 * M, 13 * M)
    assert c.unpack_band(None, 1) == (12 * M, 15 * M)  # not a calibration platform: every one-node machine's edge
    assert c.unpack_band("Dell", 1) == (12 * M, 15 * M)
    assert c.unpack_band("qemu-pc", 2) == (10 * M, 18 * M)  # irregular with no failure below a dump: runtime_low
    # a node count not measured: from runtime_low to the highest edge below it, grown by the per-node figure
    assert c.unpack_band("qemu-q35", 3) == (10 * M, 13 * M + 2 * 2 * M)
    assert c.unpack_band(None, 8) == (10 * M, 18 * M + 6 * 2 * M)  # the largest of every edge grown to 8 nodes
    assert Calibration("t", 20 * M, M, 10 * M, 2 * M, "t").unpack_band("qemu-pc", 1) is None
