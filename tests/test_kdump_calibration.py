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
        single = [r["runtime"] for r in rows if r.get("release") == release and r.get("nodes") == 1]
        assert len(single) == 4 and max(single) - min(single) < 600 << 10
        numa = [r for r in rows if r.get("release") == release and r.get("nodes", 1) > 1]
        assert {r["nodes"] for r in numa} == {2, 4}
        assert all(r["runtime"] <= c.runtime + c.runtime_per_node * (r["nodes"] - 1) for r in numa)
    # an out-of-memory report during the unpack is always below the runtime at /init
    for c in table.values():
        assert c.runtime_low is None or c.runtime_low < c.runtime


def test_the_unpack_edge_is_bracketed_on_every_build():
    """tests/fixtures/dumps/unpack: on each of two one-node machines every kernel's outcomes flip once as the
    initramfs grows 1 MiB at a time; the band covers both machines' flips (6.1's lie 2 MiB apart)."""
    rows, table = _tool().derive(ROOT / "tests/fixtures/dumps/calibrate")
    for release, c in table.items():
        lo, hi = c.unpack_band
        # three pads (1 MiB of zeros each, a few KiB more in pages) at most; what the unpack meets is less than /init's runtime
        assert 0 < hi - lo <= (3 << 20) + (64 << 10) and lo < c.runtime
        for machine in {r["machine"] for r in rows if r.get("release") == release and "room" in r}:
            mine = sorted((r["pad"], r["dumped"]) for r in rows if r.get("machine") == machine)
            flips = sum(a[1] != b[1] for a, b in zip(mine, mine[1:]))
            assert flips == 1 and mine[0][1] and not mine[-1][1], (machine, mine)
