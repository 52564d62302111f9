"""Zones per node (earlymem.phases.free_area_init): spanned and present pages, checked by
hand on small layouts and against /proc/zoneinfo of every committed capture."""

from pathlib import Path

import pytest

from earlymem.allocators.memblock import Memblock
from earlymem.phases.free_area_init import ZONE_ORDER, zone_sizes
from earlymem.phases.numa_init import EarlyNodes
from earlymem.verification import verify_path

FIX = Path(__file__).parent / "fixtures"
CAPTURES = sorted(p for d in ("oracle", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6") for p in (FIX / d).iterdir()
                  if (p / "serial.log").is_file() and "@@@@BEGIN first/zoneinfo@@@@" in (p / "serial.log").read_text(errors="replace"))
M = 1 << 20


def _nodes(regions, limits):
    mb = Memblock()
    for base, size, nid in regions:
        mb.add_node(base, size, nid)
    return EarlyNodes(mb, 0, sorted({n for _, _, n in regions}), [], [], [], [], zone_limits=limits)


def test_spans_clamp_to_zone_limits_and_holes_are_absent():
    # node 0: [4K, 636K) and [1M, 3G); node 1: [4G, 6G) with a hole at [5G, 5G+64M)
    regions = [(0x1000, 0x9E000, 0), (M, 3072 * M - M, 0), (4096 * M, 1024 * M, 1), (5120 * M + 64 * M, 1024 * M - 64 * M, 1)]
    limits = [("DMA", 1, 0x1000), ("DMA32", 0x1000, 0x100000), ("Normal", 0x100000, 0x180000), ("Device", 0x180000, 0x180000)]
    z = {(s.nid, s.name): s for s in zone_sizes(_nodes(regions, limits), [0, 1, 2])}
    assert [n for (nid, n) in z if nid == 0] == list(ZONE_ORDER)
    assert (z[0, "DMA"].start_pfn, z[0, "DMA"].spanned, z[0, "DMA"].present) == (1, 0xFFF, 0x9E + 0xF00)
    assert (z[0, "DMA32"].spanned, z[0, "DMA32"].present) == (0xC0000 - 0x1000, 0xC0000 - 0x1000)
    assert z[0, "Normal"].spanned == 0 and z[1, "DMA32"].spanned == 0
    assert (z[1, "Normal"].start_pfn, z[1, "Normal"].spanned, z[1, "Normal"].present) == (0x100000, 0x80000, 0x80000 - 0x4000)
    # node 2 is online (a CPU's) but has no memory: every zone empty
    assert all(z[2, n].spanned == z[2, n].present == 0 for n in ZONE_ORDER)
    assert z[0, "Movable"].spanned == z[1, "Device"].spanned == 0


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spanned_and_present_match_proc_zoneinfo(cap):
    fam = {f.name: f for f in verify_path(cap).families}["zoneinfo"]
    assert fam.expected and fam.ok, "\n".join(fam.diff())
