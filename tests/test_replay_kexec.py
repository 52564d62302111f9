"""The running system, the kexec -p load and the later eras of the 2011 replay.

Facts are from kexec-tools' v2.0.2 tag (kexec/kexec.c locate_hole(),
kexec/arch/i386/kexec-bzImage.c do_bzImage_load(), kexec/arch/x86_64/
crashdump-x86_64.c load_crashdump_segments()), mm/page_alloc.c of 2.6.23
and arch/x86/kernel/setup.c of the eras named in each test.
"""

import json
import struct
import subprocess
import sys
from math import isqrt

import pytest

from earlymem.allocators.bootmem import BootmemNode
from earlymem.kexec.tools_2_0_2 import KdumpKernel, KexecLoadError, crash_load
from earlymem.lib.ranges import Range, RangeSet
from earlymem.mm.page_alloc import PageAllocator, Zone
from earlymem.scenario.replay import replay

M = 1 << 20
CRASH = (16 * M, 144 * M - 1)
RAM = [(0, 0x9FBFF), (0x100000, 0xBFEDFFFF), (4 << 30, (97 << 30) - 1)]
K2623 = KdumpKernel(file_len=1_962_496, setup_sects=12, protocol=0x0206, relocatable=True, kernel_alignment=2 * M)


@pytest.fixture(scope="module")
def runs():
    return {v: replay("seed-2011", v) for v in ("2.6.23", "2.6.24", "2.6.25", "2.6.30", "2.6.37", "6.1")}


# -- kexec-tools 2.0.2 -------------------------------------------------------------------


def test_crash_load_places_segments_as_kexec_tools_2_0_2():
    segs, cmdline, _ = crash_load(RAM, [], CRASH, K2623, 3712 << 10, "root=/dev/sda1")
    by = {s.name: s for s in segs}
    # load_crashdump_segments(): backup of 640K, first fit -> the bottom of the region
    assert (by["backup"].mem, by["backup"].memsz) == (16 * M, 0xA0000)
    # ELF header: memsz bloated to 16K, last fit = (end - size) & ~(align-1)
    # with an inclusive end, so the region's last page stays unused
    assert by["elf core header"].mem == (CRASH[1] - 0x4000) & ~0xFFF == 0x8FFB000
    # purgatory: last fit below the ELF header, 0x9000 bytes
    assert by["purgatory"].end <= by["elf core header"].mem
    # setup segment: first fit (end=1) right after the backup
    assert by["setup (boot parameters + command line)"].mem == 16 * M + 0xA0000
    # kernel: first fit, aligned to kernel_alignment (2 MiB) -> 18 MiB
    assert by["kernel"].mem == 18 * M and by["kernel"].memsz == -(-(K2623.file_len - 13 * 512) // 4096) * 4096
    # initrd: last fit below the purgatory, page aligned, >= INITRD_BASE
    assert by["initrd"].end <= by["purgatory"].mem and by["initrd"].mem % 4096 == 0
    # segments never overlap and stay inside the crash region
    ordered = sorted(segs, key=lambda s: s.mem)
    assert all(a.end <= b.mem for a, b in zip(ordered, ordered[1:]))
    assert ordered[0].mem >= CRASH[0] and ordered[-1].end <= CRASH[1] + 1
    # cmdline_add_memmap() / cmdline_add_elfcorehdr(): decimal KiB
    assert " memmap=exactmap memmap=640K@0K memmap=130412K@17024K elfcorehdr=147436K" in cmdline


def test_crash_load_refuses_what_kexec_tools_refused():
    with pytest.raises(KexecLoadError, match="not relocatable"):
        crash_load(RAM, [], CRASH, KdumpKernel(1 << 21, 12, 0x0204, False, 2 * M), 0, "")
    with pytest.raises(KexecLoadError, match="locate_hole failed"):
        crash_load(RAM, [], (16 * M, 17 * M - 1), K2623, 0, "")  # a 1 MiB region holds no kernel
    with pytest.raises(KexecLoadError, match="truncated"):
        crash_load(RAM, [], CRASH, KdumpKernel(1000, 12, 0x0206, True, 2 * M), 0, "")


# -- the page allocator ------------------------------------------------------------------


def test_last_freed_block_is_handed_out_first_and_splits_go_upward():
    # __free_one_page() adds at the list head, __rmqueue_smallest() takes the head of
    # the smallest order, expand() returns upper halves: pages [p, p+n) of a split block
    z = Zone(0, 1, Range(0, 4096), 4096)
    freed = [(0, 1024), (2048, 3072), (1024, 1025)]  # the last run: one page, freed last
    pa = PageAllocator([z], freed, RangeSet(Range(s, e) for s, e in freed), order="node")
    got = z.take(1)
    assert list(got) == [Range(1024, 1025)]
    got = z.take(3)  # next: the newest order-10 block (2048) is split from its bottom
    assert list(got) == [Range(2048, 2051)]
    assert pa.zones[0].free_pages == 1024 + 1 + 1024 - 4


def test_zonelist_order_and_watermarks_follow_2_6_23():
    dma = Zone(0, 0, Range(0, 0x1000), 3000)
    dma32 = Zone(0, 1, Range(0x1000, 0x100000), 700_000)
    normal = Zone(0, 2, Range(0x100000, 0xC40000), 11_000_000)
    pa = PageAllocator([dma, dma32, normal], [], RangeSet(), None)
    # low zones hold < half the memory and < 70 % of the node: zone order
    assert pa.zonelist_order() == "zone"
    lowmem = 3000 + 700_000 + 11_000_000
    assert pa.min_free_kbytes == min(65536, isqrt(lowmem * 4 * 16))
    tmp = (pa.min_free_kbytes >> 2) * 700_000 // lowmem
    assert (dma32.pages_min, dma32.pages_low, dma32.pages_high) == (tmp, tmp + tmp // 4, tmp + tmp // 2)
    # setup_per_zone_lowmem_reserve(): ratios 256/256
    assert dma32.lowmem_reserve[2] == 11_000_000 // 256
    assert dma.lowmem_reserve[2] == (11_000_000 + 700_000) // 256
    assert dma.lowmem_reserve[1] == 700_000 // 256
    # a machine that is mostly DMA32 gets node order
    small = PageAllocator([Zone(0, 1, Range(0x1000, 0x100000), 900_000), Zone(0, 2, Range(0x100000, 0x140000), 200_000)], [], RangeSet())
    assert small.zonelist_order() == "node"


def test_bootmem_alloc_is_first_fit_from_the_goal():
    # __alloc_bootmem_core(): first free, aligned area at or above the goal, else from the start
    n = BootmemNode(0, 0x100000, 0, 0x10000)
    n.release_free(0, 0x10000 << 12)
    n.reserve(16 * M, 128 * M)
    assert n.alloc(4 * M, 64, 16 * M) == 144 * M
    assert n.alloc(512 * M, 64, 16 * M) is None  # nothing that big anywhere: 256 MiB node
    n.reserve(256 * M - 4096, 4096)
    assert n.alloc(4096, 64, 256 * M - 4096) == 0  # nothing at/after the goal: restart from the node start
    # fail_block: i = ALIGN(j, incr) and then the loop's i += incr, so with a
    # 16-page alignment a set bit at page 17 skips the candidate at page 32
    n.reserve(17 << 12, 4096)
    assert n.alloc(8 * 4096, 16 * 4096, 0) == 48 << 12



# -- the replay, era by era -------------------------------------------------------------


def test_2623_kdump_load_overwrites_the_leaked_pages(runs):
    r = runs["2.6.23"]
    # the running system takes the leaked bitmap pages first: freed last, they head the lists
    dma32 = next(z for z, _ in r.running if z.name == "DMA32")
    assert dma32.first_out[0] == Range(0x1122, 0x1123)
    assert r.ledger.owners("running", Range(0x1000, 0x1123)) == [(Range(0x1000, 0x1123), "allocated (running system, DMA32 node 0)")]
    # kexec -p writes the backup (640K) and the setup segment over them
    over = {(o.segment, o.pfns.start, o.pfns.end) for o in r.overwritten}
    assert over == {("backup", 0x1000, 0x10A0), ("setup (boot parameters + command line)", 0x10A0, 0x10A2)}
    assert r.verdict().startswith("CORRUPTION: kexec -p overwrote 162 page(s)")


def test_2624_range_list_syntax_reserves_and_still_corrupts(tmp_path):
    from importlib import resources

    text = (resources.files("earlymem.scenario") / "scenarios" / "seed-2011.toml").read_text()
    p = tmp_path / "ranges.toml"
    p.write_text(text.replace("crashkernel=128M@16M", "crashkernel=512M-64G:64M,64G-:128M@16M"))
    r = replay(str(p), "2.6.24")
    assert "Reserving 128MB of memory at 16MB for crashkernel (System RAM: 99328MB)" in [e.text for e in r.events]
    assert r.overwritten
    # 2.6.23's early_param only knows size@base: the range list reserves nothing
    assert replay(str(p), "2.6.23").crash is None


@pytest.mark.parametrize("version,text", [
    ("2.6.25", "crashkernel reservation failed - memory is in use"),  # setup_64.c
    ("2.6.30", "crashkernel reservation failed - memory is in use"),  # unified setup.c, before the 2.6.37 memblock pull
    ("6.1", "crashkernel reservation failed - memory is in use."),  # the image sits at 16 MiB
])
def test_later_bootmem_and_modern_eras_fail_visibly(runs, version, text):
    r = runs[version]
    assert text in [e.text for e in r.events if e.printed]
    assert not r.crash_reserved and not r.segments and r.kexec_error == "Memory for crashkernel is not reserved"
    assert r.verdict().startswith("SAFE BUT NO KDUMP")


def test_2637_memblock_reserves_and_nothing_leaks(runs):
    r = runs["2.6.37"]
    assert r.crash_reserved and r.crash == Range(16 * M, 144 * M)
    assert "Reserving 128MB of memory at 16MB for crashkernel (System RAM: 99328MB)" in [e.text for e in r.events]
    # no bitmap: the crash region never reaches the page allocator, so the load overwrites nothing
    assert not r.leaked and not r.overwritten and r.segments
    assert r.ledger.owners("running", Range(0x1000, 0x9000)) == [(Range(0x1000, 0x9000), "crash region")]
    # NODE_DATA "on high as possible": node 0 above 4 GiB, at the top of the node
    assert "  NODE_DATA [0000000c3fffe000 - 0000000c3fffffff]" in [e.text for e in r.events]


def test_no_page_is_lost_or_double_owned_in_any_era(runs):
    for v, r in runs.items():
        r.ledger.check()  # every phase: each page exactly one owner
        for phase, owners in r.ledger.phases.items():
            assert sum(o[0].size for o in owners) == r.ledger.end_pfn, (v, phase)
        # RAM is conserved: pages free in the buddy phase = handed over; running takes only free pages
        buddy_free = r.ledger.pages_of("buddy", "free")
        taken = r.ledger.pages_of("running", "allocated")
        assert taken.subtract(buddy_free).total == 0, v
        assert taken.total + r.ledger.pages_of("running", "free").total == buddy_free.total, v
        if v not in ("2.6.23", "2.6.24") and r.crash_reserved:
            assert not r.ledger.conflicts("buddy", "Crash kernel", "free"), v


def test_cli_json_has_the_numbers():
    out = subprocess.run([sys.executable, "-m", "earlymem", "replay", "seed-2011", "--format", "json"], capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    assert d["bitmaps"]["0"]["start"] == 0xF9B000 and d["leaked_pages"] == 291
    assert d["kexec"]["overwritten_pages"] == 162
    assert [s["mem"] for s in d["kexec"]["segments"]][:1] == [16 * M]
    assert d["verdict"] == "corruption" and d["verdict_text"].startswith("CORRUPTION") and d["overwritten_pages"] == 162


def test_kdump_kernel_from_a_real_bzimage_header(tmp_path):
    from tests.test_bzimage import bzimage

    data = bytearray(bzimage(version=0x0206, setup_sects=12))
    struct.pack_into("<I", data, 0x230, 0x200000)
    data[0x234] = 1
    p = tmp_path / "vmlinuz"
    p.write_bytes(bytes(data))
    r = replay("seed-2011", "2.6.23", kdump_image=str(p))
    kern = next(s for s in r.segments if s.name == "kernel")
    assert kern.mem == 18 * M and kern.bufsz == len(data) - 13 * 512


@pytest.mark.parametrize("patch,field", [
    ('protocol         = "2.06"', "kdump.protocol"),
    ('kernel_alignment = "2M"', "kdump.kernel_alignment"),
    ('allocate = "all"', "running.allocate"),
])
def test_bad_scenario_tables_are_one_line_errors(tmp_path, patch, field):
    from importlib import resources

    text = (resources.files("earlymem.scenario") / "scenarios" / "seed-2011.toml").read_text()
    bad = {"kdump.protocol": 'protocol         = "two"', "kdump.kernel_alignment": 'kernel_alignment = "3M"', "running.allocate": 'allocate = "lots"'}[field]
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(patch, bad))
    proc = subprocess.run([sys.executable, "-m", "earlymem", "replay", str(p)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(p) in proc.stderr and field in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bootmem_alloc_and_free_all_match_a_page_by_page_model():
    # the bitmap scans skip whole bytes; the kernel's loops run one bit at a
    # time -- both must give the same pages
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 300)), max_size=8),
           st.integers(1, 400), st.sampled_from([1, 2, 4, 16]), st.integers(0, 2100))
    def check(reserves, size, align, goal):
        n = BootmemNode(0, 0x100000, 0, 2100)
        n.release_free(0, 2100 << 12)
        for s, ln in reserves:
            n.reserve(s << 12, min(ln, 2100 - s) << 12)
        bits = [n.test(p) for p in range(2100)]

        def kernel_loop(start):
            # mm/bootmem.c __alloc_bootmem_core() (2.6.2x), one bit at a time
            i = start
            while i < 2100:
                while i < 2100 and bits[i]:
                    i += 1  # find_next_zero_bit()
                i = -(-i // align) * align
                if i >= 2100:
                    break
                if bits[i]:
                    i += align
                    continue
                j = i + 1
                while j < i + size:
                    if j >= 2100 or bits[j]:
                        break
                    j += 1
                else:
                    return i
                i = -(-j // align) * align + align
            return None

        want = kernel_loop(goal) if goal else kernel_loop(0)
        if want is None and goal:
            want = kernel_loop(0)  # "preferred > offset": restart_scan from the node start
        got = n.alloc(size << 12, align << 12, goal << 12)
        assert (got >> 12 if got is not None else None) == want
        if want is not None:
            for p in range(want, want + size):
                bits[p] = True
        runs = n.free_all()
        freed = sorted(p for r in runs if r.what == "free" for p in range(r.start_pfn, r.end_pfn))
        assert freed == [p for p in range(2100) if not bits[p]]

    check()


def test_replay_eras_live_in_the_kernel_profiles():
    from earlymem.kernels import profile_for
    from earlymem.scenario.replay import era_of

    rows = {v: (p.pipeline.value, p.crash.announces, p.crash.bootmem_exclusive)
            for v in ("2.6.23", "2.6.24", "2.6.26", "2.6.33", "2.6.37", "6.1") for p in [profile_for(v)]}
    assert rows == {
        "2.6.23": ("bootmem", False, False),
        "2.6.24": ("bootmem", True, False),
        "2.6.26": ("bootmem", True, True),
        "2.6.33": ("bootmem", True, True),
        "2.6.37": ("memblock-2.6.37", True, False),
        "6.1": ("modern", True, False),
    }
    assert profile_for("2.6.37").crash.in_use_text.endswith("in use.") and not profile_for("2.6.30").crash.in_use_text.endswith(".")
    for v in ("2.6.22", "2.6.35", "3.10", "4.9"):
        with pytest.raises(Exception, match=f"not {v}"):
            era_of(v)


def test_a_scenario_toml_is_replayed_under_its_own_kernel_version(tmp_path):
    # `replay FILE.toml` took 2.6.23 whatever the file said
    from importlib import resources

    text = (resources.files("earlymem.scenario") / "scenarios" / "seed-2011.toml").read_text()
    p = tmp_path / "s.toml"
    p.write_text(text.replace('kernel_version = "2.6.23"', 'kernel_version = "2.6.37"'))
    assert replay(str(p)).version == "2.6.37" and replay(str(p)).verdict_kind().value == "safe"
    out = subprocess.run([sys.executable, "-m", "earlymem", "replay", str(p)], capture_output=True, text=True)
    assert out.returncode == 0 and "under Linux 2.6.37" in out.stdout
