"""The 2011 report replayed (../shared/spec/kernel-early-memory.md section 2.5,
../shared/DESIGN.md): each number with its source."""

import json
import subprocess
import sys

import pytest

from earlymem.allocators.bootmem import BOOTMEM_EXCLUSIVE, EBUSY, BootmemNode
from earlymem.lib.errors import InputError
from earlymem.scenario.replay import replay

GiB = 1 << 30


def _alloc(r, purpose: str):
    """The early allocation made for ``purpose`` (BootResult.allocations), as a byte Range."""
    from earlymem.lib.ranges import Range

    a = next(a for a in r.result.allocations if a.purpose == purpose)
    return Range(a.start, a.end)


@pytest.fixture(scope="module")
def r2623():
    return replay("seed-2011", "2.6.23")


def test_node0_bitmap_lands_at_page_align_end(r2623):
    # find_e820_area(): [1M, ...) hits the kernel image in bad_addr(), so the
    # bitmap moves to PAGE_ALIGN(__pa(_end)) = 0xf9b000 (the report's address)
    assert _alloc(r2623, "bootmem bitmap of node 0").start == 0xF9B000


def test_bitmap_sizes_follow_the_node_spans(r2623):
    # bootmem_bootmap_pages(): one bit per page of the span, holes included;
    # node 0 spans 49 GiB (48 GiB RAM + the PCI hole), node 1 48 GiB
    b0, b1 = _alloc(r2623, "bootmem bitmap of node 0"), _alloc(r2623, "bootmem bitmap of node 1")
    assert b0.size == 49 * GiB // 4096 // 8 == 0x188000
    assert b1.size == 48 * GiB // 4096 // 8
    assert b0.end == 0x1123000  # ~17.14 MiB: the report's "ends ~17.1 MB"


def test_crash_reservation_is_silently_accepted_over_the_bitmap(r2623):
    # 2.6.23 reserve_bootmem_core(): already-set bits are accepted without a word
    ev = [e for e in r2623.events if e.data.get("what") == "crashkernel"][0]
    assert ev.data["error"] == 0 and ev.data["already"] == 0x123
    assert r2623.crash_reserved
    assert not any("crashkernel" in e.text for e in r2623.events if e.printed)


def test_retirement_frees_the_bitmap_pages_inside_the_crash_region(r2623):
    # free_all_bootmem_core() frees the bitmap's pages unconditionally:
    # PFNs 0x1000..0x1122 (1.14 MiB) are in [16M, 144M) and reach the page allocator
    assert r2623.leaked == [(0x1000, 0x1123, "node 0 bootmem bitmap freed by free_all_bootmem_core()")]
    assert r2623.leaked_pages == 291
    assert r2623.verdict().startswith("CORRUPTION")


def test_conservation_every_ram_page_is_kept_or_freed_exactly_once(r2623):
    # pages freed as "free" = RAM pages (page-rounded inward) - every reserved
    # page (page-rounded outward); then the bitmap pages, once more, at the end
    from earlymem.lib.ranges import Range, RangeSet
    from earlymem.machine.e820 import E820Type

    page = 4096
    ram = RangeSet(Range(-(-e.addr // page), (e.addr + e.size) // page) for e in r2623.machine.e820 if e.type == E820Type.RAM)
    # every reservation, NODE_DATA, bitmap and mem_map (paging_init(): alloc_node_mem_map())
    allocs = r2623.result.allocations
    kept = RangeSet(Range(a.start // page, -(-a.end // page)) for a in allocs).intersect(ram)
    bitmap = RangeSet(Range(a.start // page, -(-a.end // page)) for a in allocs if a.purpose.startswith("bootmem bitmap"))
    runs = r2623.result.freed_runs
    freed = RangeSet(Range(s, e) for s, e in runs)
    assert sum(e - s for s, e in runs) == freed.total  # no page twice
    assert freed.subtract(bitmap) == ram.subtract(kept)
    # bootmem_bootmap_pages(): one bit per page of each node's span, whole pages
    spans = [n.memory[0] for n in r2623.result.nodes]
    assert bitmap.intersect(freed) == bitmap and bitmap.total == sum(-(-((e - s) // page) // 8 // page) for s, e in spans)


def test_2625_exclusive_reservation_fails_visibly():
    r = replay("seed-2011", "2.6.25")
    assert not r.crash_reserved and not r.leaked
    assert any(e.printed and e.text == "crashkernel reservation failed - memory is in use" for e in r.events)
    assert r.verdict().startswith("SAFE BUT NO KDUMP")


def test_unknown_era_and_scenario_are_one_line_errors():
    with pytest.raises(InputError, match="not 2.6.35"):
        replay("seed-2011", "2.6.35")  # crashkernel via reserve_early: not modelled
    with pytest.raises(InputError, match="not 4.9"):
        replay("seed-2011", "4.9")
    with pytest.raises(InputError, match="unknown scenario"):
        replay("no-such-thing")


def test_bootmem_node_semantics():
    n = BootmemNode(0, 0x10000, 0, 1024)  # 4 MiB node
    assert n.mapsize == 128 and n.map_pages == 1
    n.release_free(0, 4 << 20)
    assert n.reserve(0x3000, 0x1800) == (0, 0)  # partial page counts: PFNs 3, 4
    assert n.test(3) and n.test(4) and not n.test(5)
    assert n.reserve(0x4000, 0x2000, BOOTMEM_EXCLUSIVE) == (-EBUSY, 1)
    assert not n.test(5)
    assert n.alloc(0x2000, 0x1000, 0) == 0  # first fit from the node start
    n.free_range(0x3000, 0x2000)
    runs = n.free_all()
    assert runs[-1].what == "bitmap" and (runs[-1].start_pfn, runs[-1].end_pfn) == (0x10, 0x11)
    assert runs[0].order == 0 and any(r.order == 6 for r in runs)


def test_replay_cli_json():
    proc = subprocess.run([sys.executable, "-m", "earlymem", "replay", "seed-2011", "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # numbers are JSON numbers, not hex strings
    assert data["bitmaps"]["0"]["start"] == 0xF9B000 and data["bitmaps"]["0"]["bytes"] == 0x188000 and data["leaked_pages"] == 291


def test_ledger_makes_the_overlap_a_query(r2623):
    from earlymem.lib.ranges import Range

    # conservation is checked when the ledger is built; here: the same pages
    # belong to the bitmap while bootmem runs and to the buddy allocator after
    assert [o for _, o in r2623.ledger.owners("bootmem", Range(0x1000, 0x1123))] == ["bootmem bitmap of node 0"]
    assert [o for _, o in r2623.ledger.owners("buddy", Range(0x1000, 0x1123))] == ["free (buddy)"]
    assert [(r.start, r.end) for r in r2623.ledger.conflicts("buddy", "Crash kernel", "free")] == [(0x1000, 0x1123)]
    # the rest of the crash region stays reserved
    assert [o for _, o in r2623.ledger.owners("buddy", Range(0x1123, 0x9000))] == ["crash region"]


def test_buddy_free_lists_hold_exactly_the_freed_pages(r2623):
    # eager merging (mm/page_alloc.c __free_one_page) up to order MAX_ORDER-1 = 10
    freed = sum(e - s for s, e in r2623.result.freed_runs)
    assert sum(z.free_pages for z in r2623.buddy) == freed
    dma32 = next(z for z in r2623.buddy if (z.nid, z.name) == (0, "DMA32"))
    # the leaked bitmap tail 0x1000-0x1122 merges into blocks of order 8, 5, 1 and 0
    assert dma32.counts[8] >= 1 and dma32.counts[5] >= 1 and dma32.counts[1] >= 1 and dma32.counts[0] >= 1


def test_ledger_rejects_a_page_without_owner():
    from earlymem.lib.ranges import Range
    from earlymem.mm.ledger import Ledger, LedgerError

    led = Ledger(16)
    led.add_phase("p", [(Range(0, 8), "a")])
    with pytest.raises(LedgerError, match="unaccounted"):
        led.check()


def test_buddyinfo_line_is_vmstat_format():
    from earlymem.lib.ranges import Range, RangeSet
    from earlymem.mm.buddy import BuddyZone, buddyinfo_line

    # same layout as a real 6.1 capture's /proc/buddyinfo (tests/fixtures/oracle/pc-1g-plain--6.1)
    z = BuddyZone.build(0, "DMA", Range(0, 0x1000), RangeSet([Range(0xC00, 0x1000)]))
    assert buddyinfo_line(z) == "Node 0, zone      DMA " + "".join(f"{c:6d} " for c in [0] * 10 + [1])


def test_2624_announces_the_reservation_and_still_overlaps():
    # 2.6.24 reserve_crashkernel() (setup_64.c): the line before reserve_bootmem,
    # System RAM = end_pfn pages with holes (97 GiB = 99328 MB); no conflict check yet
    r = replay("seed-2011", "2.6.24")
    lines = [e.text for e in r.events if e.printed]
    assert "Reserving 128MB of memory at 16MB for crashkernel (System RAM: 99328MB)" in lines
    assert r.leaked_pages == 291


def test_scenario_without_kernel_image_is_a_located_error(tmp_path):
    f = tmp_path / "m.toml"
    # (two e820 entries: with fewer the kernel fakes a BIOS-88 map, refused before the image matters)
    f.write_text('kernel_version = "2.6.23"\ncommand_line = "crashkernel=64M@16M"\n[[e820]]\nstart = 0\nend = "640K"\ntype = "usable"\n'
                 '[[e820]]\nstart = "1M"\nend = "1G"\ntype = "usable"\n')
    proc = subprocess.run([sys.executable, "-m", "earlymem", "replay", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and str(f) in err and "kernel_image" in err
