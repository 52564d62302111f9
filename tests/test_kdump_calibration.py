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


def test_the_percpu_chunk_and_the_bpf_pack_are_what_the_capture_kernel_allocated():
    """The two things the module text names, against a capture kernel's own /proc/vmallocinfo (6.12 on the
    two-node pc machine, oracle.detail=1): the second percpu chunk's five areas add up to
    percpu_chunk_bytes(), and the BPF program pack is 2 MiB for each of the two possible nodes."""
    import re

    from earlymem.kdump.calibration import percpu_chunk_bytes
    from earlymem.sources.capture import read_capture

    cap = read_capture(ROOT / "tests/fixtures/dumps/diag/diagdetail-numa2-6.12-ck116-pad0K--6.12")
    areas = [ln for ln in cap.section("kdump/vmallocinfo") if "pages=" in ln]
    pages = lambda caller: [int(re.search(r"pages=(\d+)", ln).group(1)) for ln in areas if f" {caller}+" in ln]  # noqa: E731
    assert sum(pages("pcpu_create_chunk")) * 4096 == percpu_chunk_bytes() == 4252 << 10
    assert max(pages("bpf_prog_pack_alloc")) * 4096 == 2 * (2 << 20)
    # a page-based first chunk (percpu_alloc=page: 256 KiB units) makes a chunk of an eighth the array
    page = read_capture(ROOT / "tests/fixtures/dumps/diag/diagpcpu-numa2-6.12-ck116-pad5M--6.12")
    small = [int(re.search(r"pages=(\d+)", ln).group(1)) for ln in page.section("kdump/vmallocinfo") if " pcpu_create_chunk+" in ln]
    assert max(small) * 4096 == (256 << 10) // 4 * 8


def test_a_deferral_is_two_regular_edges_a_chunk_apart():
    """tools/kdump_calibration.py's rule: the dumps below the failures are where the percpu chunk waited
    only if they are one run, with failures above them, and the regimes' needs lie a chunk apart."""
    from earlymem.kdump.calibration import ChunkDeferral

    deferral = _tool().deferral
    M = 1 << 20
    # 6.12's two-node pc machine, in MiB of room: out of memory at 11.8, dumped 12.3-13.2, out of memory
    # 13.7-15.7, dumped from 16.2
    bad, ok = [11.79, 13.70, 14.20, 15.70], [12.29, 12.70, 13.20, 16.20, 16.71]
    d = deferral([int(b * M) for b in bad], [int(o * M) for o in ok])
    assert d == ChunkDeferral(int(11.79 * M), int(12.29 * M), int(13.20 * M), int(13.70 * M))
    assert deferral([int(b * M) for b in bad + [12.9]], [int(o * M) for o in ok]) is None  # a failure inside the run
    # 6.1's four-node q35 machine: dumped, failed, dumped, failed 256 KiB apart: not a chunk apart
    assert deferral([27.73 * M, 28.48 * M], [27.98 * M, 28.23 * M, 28.73 * M]) is None
    assert deferral([14.0 * M], [14.5 * M]) is None  # regular


def test_a_region_where_the_chunk_waited_passes_the_unpack():
    from earlymem.kdump.calibration import ChunkDeferral
    from earlymem.kdump.memory import CaptureMemory

    M = 1 << 20
    d = ChunkDeferral(12 * M, 12 * M + M // 2, 13 * M, 14 * M)

    def mem(room):  # nothing unpacked, freed late or kept by watermarks: the room is MemTotal; the edge's band 16-16.5 MiB
        return CaptureMemory(room, room, 0, room, 0, 0, 0, 5 * M, 16 * M, 2 * M, 0, "t", 16 * M + M // 2,
                             dump_own=M, dump_own_low=M, deferral=d)

    assert [mem(int(r * M)).chunk_waits for r in (11.5, 12.25, 12.5, 13.0, 13.5, 14.0, 15.0, 17.0)] == \
        [None, "maybe", "yes", "yes", "maybe", None, None, None]
    assert [mem(int(r * M)).failure for r in (11.5, 12.25, 12.5, 13.0, 13.5, 14.0, 15.0, 17.0)] == \
        ["unpack", "marginal", None, None, "marginal", "unpack", "unpack", None]
