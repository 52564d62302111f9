"""The hand-off (earlymem.mm.handoff), the watermarks (earlymem.mm.watermarks)
and the /proc/zoneinfo and /proc/buddyinfo renderings (earlymem.render.procfs).

The run arithmetic is checked against the block-by-block loop of
__free_pages_memory(); the watermark rules and the file formats against
every capture's /proc/zoneinfo and /proc/buddyinfo (fed the kernel's own
managed pages and free counts, so that only the rule or the format is tested).
"""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earlymem.allocators.memblock import Memblock
from earlymem.phases.free_area_init import ZoneSize
from earlymem.kernels import profile_for
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.version import parse_version
from earlymem.mm.buddy import buddy_blocks
from earlymem.mm.handoff import MAX_ORDER, memblock_free_all, run_orders
from earlymem.result import Zone
from earlymem.mm.watermarks import zone_watermarks
from earlymem.sources.capture import read_capture
from earlymem.render.procfs import buddyinfo_text, zoneinfo_text
from earlymem.sources.dmesg import machine_from_boot_log

FIX = Path(__file__).parent / "fixtures"
CAPTURES = sorted(p for d in ("oracle", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6") for p in (FIX / d).iterdir()
                  if (p / "serial.log").is_file() and "@@@@BEGIN first/zoneinfo@@@@" in (p / "serial.log").read_text(errors="replace"))
#: boots with memblock=debug (tests/test_memblock_trace.py compares their every reservation)
MBDEBUG = sorted(p for p in (FIX / "mbdebug").iterdir() if (p / "serial.log").is_file())


@given(st.integers(0, 1 << 40), st.integers(0, 1 << 14))
def test_run_arithmetic_is_the_block_loop(start, length):
    counts = [0] * MAX_ORDER
    run_orders(start, start + length, counts)
    want = [0] * MAX_ORDER
    for _pfn, order in buddy_blocks(RangeSet([Range(start, start + length)]) if length else RangeSet([])):
        want[order] += 1
    assert counts == want


def test_run_arithmetic_is_flat_in_size():
    counts = [0] * MAX_ORDER
    run_orders(3, (64 << 40 >> 12) + 5, counts)  # 64 TiB of pages in one run
    assert counts[10] == (64 << 40 >> 12) // 1024 - 1 and sum(c << o for o, c in enumerate(counts)) == (64 << 40 >> 12) + 2


def test_free_ranges_become_managed_pages_and_free_lists_per_zone():
    mb = Memblock()
    mb.add_node(0x1000, 0x9E000, 0)
    mb.add_node(1 << 20, (64 << 20) - (1 << 20), 0)
    mb.reserve(0, 1 << 20)  # the first MiB
    mb.reserve(16 << 20, 0x5000)  # 5 pages at the DMA32 boundary
    zones = [ZoneSize(0, "DMA", 1, 0xFFF, 0x9E + 0xF00), ZoneSize(0, "DMA32", 0x1000, 0x3000, 0x3000)]
    dma, dma32 = memblock_free_all(mb, zones, 0x4000)
    assert dma.managed == 0xF00 and dma.counts[8:] == [1, 1, 3]  # [0x100, 0x1000): 256 + 512 + 3 x 1024
    assert dma32.managed == 0x3000 - 5 and dma32.runs == [(0x1005, 0x4000)]
    assert dma32.free_pages == dma32.managed and dma32.counts[0] == 1 and dma32.counts[1] == 1 and dma32.counts[10] == 11
    # max_low_pfn caps what is freed
    assert memblock_free_all(mb, zones, 0x2000)[1].managed == 0x1000 - 5


def _zoneinfo(cap) -> list[dict]:
    zs, cur = [], None
    for ln in cap.sections["first/zoneinfo"]:
        m = re.match(r"^Node (\d+), zone\s+(\S+)", ln)
        if m:
            cur = {"nid": int(m.group(1)), "name": m.group(2), "lines": [ln.rstrip("\r")]}
            zs.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^\s+(pages free|boost|min|low|high|promo|spanned|present|managed|cma)\s+(\d+)\s*$", ln)
        if m:
            cur[m.group(1)] = int(m.group(2))
            cur["lines"].append(ln.rstrip("\r"))
        m = re.match(r"^\s+protection: \((.*)\)", ln)
        if m:
            cur["prot"] = [int(x) for x in m.group(1).split(",")]
            cur["lines"].append(ln.rstrip("\r"))
    return zs


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_min_free_kbytes_rule_and_zoneinfo_format_on_real_zones(cap):
    c = read_capture(cap)
    zs = _zoneinfo(c)
    # min_free_kbytes from the kernel's managed pages: the per-zone minimums
    # the kernel computed add up to min_free_kbytes / 4 less rounding
    version = cap.name.rsplit("--", 1)[-1]
    profile = profile_for(parse_version(version))
    wm = zone_watermarks([(z["nid"], z["name"], z["managed"]) for z in zs], movable_like_highmem=profile.zoneinfo.movable_wmark_like_highmem)
    populated = sum(1 for z in zs if z["managed"])
    assert [z["min"] for z in zs if not z["managed"]] == [m[0] for m, z in zip(wm.marks, zs) if not z["managed"]]
    mins = sum(z["min"] for z in zs if z["managed"])
    if sum(z["managed"] for z in zs) >= (600 << 8):
        # khugepaged's recommendation, which depends only on the populated zones
        assert 0 <= wm.min_free_kbytes // 4 - mins < populated
    else:
        # below 512 MiB no THP: the square-root rule on the managed pages the
        # kernel had then -- fewer than now (the initrd and init memory were
        # freed since), so a bound
        assert mins <= wm.min_free_kbytes // 4
    # the era's block format, byte for byte, given the kernel's own numbers
    fields = profile.zoneinfo.fields
    given = [Zone(z["nid"], z["name"], 0, z["spanned"], z["present"], z["managed"], z["managed"],
                  (z["pages free"],) + (0,) * (MAX_ORDER - 1), z["min"], z["low"], z["high"], z.get("promo", 0), tuple(z["prot"]))
             for z in zs]
    assert zoneinfo_text(fields, given).splitlines() == [ln for z in zs for ln in z["lines"]]


@pytest.mark.parametrize("cap", CAPTURES[:8], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_buddyinfo_format(cap):
    c = read_capture(cap)
    real = [ln.rstrip("\r") for ln in c.sections["first/buddyinfo"]]
    hand = []
    for ln in real:
        m = re.match(r"^Node (\d+), zone\s+(\S+)((?:\s+\d+){11}) $", ln)
        assert m, ln
        hand.append(Zone(int(m.group(1)), m.group(2), 0, 1, 1, free_lists=tuple(int(x) for x in m.group(3).split())))
    assert buddyinfo_text(hand).splitlines() == real


def test_watermarks_by_hand():
    # one node, DMA 3840 and DMA32 800000 managed pages; THP's recommendation
    # (2 zones x 512 x 11 = 11264 pages = 45056 KiB) beats sqrt(803840*4*16) = 7172
    zones = [(0, "DMA", 3840), (0, "DMA32", 800000), (0, "Normal", 0), (0, "Movable", 0), (0, "Device", 0)]
    wm = zone_watermarks(zones)
    assert wm.min_free_kbytes == 45056
    dma_min = 11264 * 3840 // 803840
    assert wm.marks[0][:3] == (dma_min, dma_min + (dma_min >> 2), dma_min + 2 * (dma_min >> 2))
    assert wm.protection[0] == [0, 800000 // 256, 800000 // 256, 800000 // 256, 800000 // 256]
    assert wm.protection[1] == [0, 0, 0, 0, 0] and wm.protection[2] == [0] * 5
    assert zone_watermarks(zones, thp=False).min_free_kbytes == 7172
    # a small machine: at most 5% of the pages above the high watermarks (sqrt rule's)
    small = zone_watermarks([(0, "DMA", 3840), (0, "DMA32", 200000)])
    high = zone_watermarks([(0, "DMA", 3840), (0, "DMA32", 200000)], thp=False).marks
    assert small.min_free_kbytes == ((3840 - high[0][2] + 200000 - high[1][2]) // 20) * 4
    # 6.12+: an empty Movable zone still gets min 32
    assert zone_watermarks(zones, movable_like_highmem=True).marks[3] == (32, 32, 32, 32)


def test_cli_predict_zoneinfo_and_buddyinfo():
    import subprocess
    import sys

    log = FIX / "oracle" / "pc-4g-ck256-load-crash--6.12" / "serial.log"
    z = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", log, "--format", "zoneinfo"], capture_output=True, text=True)
    assert z.returncode == 0, z.stderr
    lines = z.stdout.splitlines()
    assert lines[:3] == ["Node 0, zone      DMA", "  pages free     3840", "        boost    0"]
    assert "        spanned  1044480" in lines and "        present  782304" in lines and "hand-off" in z.stderr
    b = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", log, "--format", "buddyinfo"], capture_output=True, text=True)
    # DMA: [1 MiB, 16 MiB) free (6.x reserves the first MiB): 256 + 512 + 3 x 1024 pages
    assert b.stdout.splitlines()[0] == "Node 0, zone      DMA" + "".join(f"{c:7d}" for c in [0] * 8 + [1, 1, 3]) + " "
    kaslr = FIX / "bootlogs"
    logs = [p for p in kaslr.glob("*.log") if "nokaslr" not in p.read_text(errors="replace")]
    if logs:
        k = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", logs[0], "--format", "zoneinfo"], capture_output=True, text=True)
        assert k.returncode == 1 and "not predicted" in k.stderr and "Traceback" not in k.stderr


SWIOTLB = [p for p in CAPTURES if "software IO TLB: mapped" in (p / "serial.log").read_text(errors="replace")]


@pytest.mark.parametrize("cap", SWIOTLB, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_swiotlb_buffer_placement(cap):
    # mem_init()'s bounce buffer: the highest 64 MiB free below 4 GiB.  Exact
    # where no allocation earlymem does not model (the per-CPU first chunk on
    # each CPU's node, the early hash tables at the top of memory) can sit
    # below 4 GiB: RAM above 4 GiB, and in every node that has CPUs
    from earlymem.sources.dmesg import parse_boot_logs
    from earlymem.verification import verify_path

    c = read_capture(cap)
    first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
    m = machine_from_boot_log(first)
    fam = {f.name: f for f in verify_path(cap).families}["swiotlb"]
    assert fam.expected and fam.predicted, "a machine with memory above 4 GiB gets a bounce buffer"
    ram_high = any(e.type == 1 and e.addr + e.size > 1 << 32 for e in m.e820) and "mem=" not in (first.command_line or "")
    cpu_nodes = {c.node for c in m.cpus} or {a.node for a in m.numa} or {0}
    high_nodes = {a.node for a in m.numa if a.range.end > 1 << 32} if m.numa else {0}
    if ram_high and cpu_nodes <= high_nodes:
        assert fam.ok, "\n".join(fam.diff())


ALL = sorted(p for d in ("oracle", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6") for p in (FIX / d).iterdir() if (p / "serial.log").is_file())


@pytest.mark.parametrize("cap", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_percpu_and_hash_table_lines(cap):
    # pcpu_embed_first_chunk()'s unit size from the CPUs per node, and
    # alloc_large_system_hash()'s sizes from nr_kernel_pages, vmalloc'd with
    # 2 MiB pages when big enough (per online node on 6.1 and 6.12)
    from earlymem.verification import verify_path

    fam = {f.name: f for f in verify_path(cap).families}
    assert fam["percpu"].expected and fam["percpu"].ok, "\n".join(fam["percpu"].diff())
    assert fam["hash"].expected and fam["hash"].ok and fam["hash"].matched == len(fam["hash"].expected), "\n".join(fam["hash"].diff())
    if cap.name.endswith(("--5.10", "--7.2")):
        assert fam["hash"].ok


def test_nr_kernel_pages_rules():
    from earlymem.phases.start_kernel import nr_kernel_pages

    zones = [ZoneSize(0, "DMA", 1, 4095, 3998), ZoneSize(0, "DMA32", 4096, 1044480, 782304)]
    # 5.10/6.1: present less the memmap estimate (spanned pages unless the zone
    # is mostly holes), less dma_reserve in ZONE_DMA
    dma = 3998 - (4095 * 64 + 4095) // 4096 - 100
    dma32 = 782304 - (782304 * 64 + 4095) // 4096  # 1044480 > 782304 * 17 / 16: the present pages
    assert nr_kernel_pages(profile_for(parse_version("6.1")), zones, 100, 0) == (dma + dma32, dma + dma32)
    # 6.10+: memblock's free pages at free_area_init()
    assert nr_kernel_pages(profile_for(parse_version("6.12")), zones, 100, 777) == (777, 777)


def test_only_the_used_brk_stays_reserved():
    # setup_arch(): [_text, __end_of_kernel_reserve) is reserved, then
    # reserve_brk() keeps of .brk only what dmi_setup() and
    # early_alloc_pgt_buf() took -- the rest of the section is free memory
    from earlymem.kernels.builds import pinned_build
    from earlymem.lib.cmdline import CommandLine
    from earlymem.machine import Machine
    from earlymem.machine.e820 import E820Entry, E820Type
    from earlymem.pipeline import boot

    profile = profile_for(parse_version("5.10"))
    m = Machine([E820Entry(0, 0x9FC00, E820Type.RAM), E820Entry(0x100000, (1 << 30) - 0x100000, E820Type.RAM)],
                CommandLine("nokaslr"), parse_version("5.10"))
    build = pinned_build(m.kernel_version)
    result = boot(m, profile)

    def is_reserved(addr):
        return any(r.start <= addr < r.end for r in result.reserved)

    end = 0x1000000 + build.reserve_span
    brk = end - build.brk_size
    used = 4096 * (1 + profile.memmap.init_pgt_buf_pages)
    assert is_reserved(brk - 1) and is_reserved(brk + used - 1)
    assert not is_reserved(brk + used) and not is_reserved(end - 1)


@pytest.mark.parametrize("cap", CAPTURES + MBDEBUG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_present_and_managed_pages_against_the_kernel(cap):
    # mem_init_print_info() prints "Memory: <free>K/<physpages>K available (...,
    # <reserved>K reserved, <cma>K cma-reserved)": physpages must be the
    # present pages, and physpages - reserved - cma (totalram_pages()) the
    # managed pages of the hand-off plus what the kernel gave back before it
    # printed the line (6.12 prints it late: after "Freeing SMP alternatives
    # memory").  Per zone, the hand-off plus everything given back after it
    # (earlymem.mm.frees) must be the managed pages of /proc/zoneinfo -- exactly.
    from earlymem.sources.dmesg import memory_line, message_text, parse_boot_logs
    from earlymem.verification import predict_capture

    c = read_capture(cap)
    dmesg = c.sections["first/dmesg"]
    at, physpages, totalram = memory_line(dmesg)
    first = parse_boot_logs(dmesg, str(cap))[0]
    _, result = predict_capture(c, first, profile_for(parse_version(first.version)))
    assert sum(z.present for z in result.zones) == physpages
    before = {message_text(ln) for ln in dmesg[:at]}
    given_back = sum(f.pages for f in result.frees if f"Freeing {f.what} memory: {f.pages << 2}K" in before)
    assert sum(z.managed_at_handoff for z in result.zones) + given_back == totalram
    real = {(z["nid"], z["name"]): z["managed"] for z in _zoneinfo(c)}
    for z in result.zones:
        assert z.managed == real[(z.nid, z.name)], (z.nid, z.name)


@pytest.mark.parametrize("cap", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_freeing_lines(cap):
    # what the kernel gives back after boot, from the image's section headers
    # (Debian series table) and the initrd (moved below mem= when it had to be)
    from earlymem.verification import verify_path

    fam = {f.name: f for f in verify_path(cap).families}["frees"]
    assert fam.expected and fam.ok, "\n".join(fam.diff())


def test_image_frees_come_from_section_headers():
    from earlymem.sources.bzimage import _image_frees

    class Percpu(dict):
        pass

    zero_based = Percpu(sh_addr=0, sh_size=0x36000)
    # Debian 5.10's section headers, less 0xffffffff80000000
    sections = [(".text", 0x1000000, 0xC01F42), (".rodata", 0x1E00000, 0x3ADF92), (".BTF_ids", 0x2572F14, 0x440),
                (".data", 0x2600000, 0x1000), (".init.text", 0x2C47000, 0x65221), (".smp_locks", 0x2EAE000, 0x8000)]
    got = _image_frees(sections, zero_based)
    # 5.10's numbers: 2040K, 560K, 2676K, 32K
    assert got == {"text_gap": 2040 << 10, "rodata_gap": 560 << 10, "initmem": 2676 << 10, "smp_locks": 32 << 10}
    # a percpu section at a real address (7.x) lies inside [.init.text, .smp_locks): nothing subtracted
    assert _image_frees(sections, Percpu(sh_addr=0x2E00000, sh_size=0x36000))["initmem"] == 0x2EAE000 - 0x2C47000


@pytest.mark.parametrize("cap", CAPTURES + MBDEBUG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_zoneinfo_families_and_nosave_lines(cap):
    # verify's view of the same: managed pages, min/low/high and protection
    # per zone (watermarks from the managed pages the initcalls see: the
    # hand-off and the SMP alternatives; 7.x's protection follows the pages
    # given back later), and e820__register_nosave_regions()'s lines
    from earlymem.verification import verify_path

    fam = {f.name: f for f in verify_path(cap).families}
    for name in ("zoneinfo-managed", "zoneinfo-watermarks", "nosave"):
        assert fam[name].expected and fam[name].ok and fam[name].matched == len(fam[name].expected), "\n".join(fam[name].diff())


def test_swiotlb_areas_and_resizing():
    # kernel/dma/swiotlb.c (6.x): areas for the possible CPUs rounded up to a
    # power of two; at least IO_TLB_SEGSIZE slabs an area (the buffer grows to
    # the next power of two); halved while memory below 4 GiB is short
    from earlymem.phases.start_kernel import swiotlb_init
    from earlymem.lib.cmdline import CommandLine
    from earlymem.machine import Machine
    from earlymem.machine.e820 import E820Entry, E820Type

    profile = profile_for(parse_version("6.1"))

    def run(cmd: str, ncpus, low_mb: int = 3000):
        mb = Memblock()
        mb.add(1 << 20, (low_mb << 20) - (1 << 20))
        mb.add(4 << 30, 4 << 30)
        machine = Machine([E820Entry(0, 0x9FC00, E820Type.RAM)], CommandLine(cmd), parse_version("6.1"))
        allocs: list = []
        lines, mapped = swiotlb_init(machine, profile, mb, (8 << 30) >> 12, allocs, ncpus)
        return lines + ([mapped] if mapped else []), allocs

    lines, allocs = run("", 6)
    assert lines[0] == "software IO TLB: area num 8." and lines[-1].endswith("(64MB)")
    assert allocs[-1][2] == 16 * 8  # the areas array
    lines, _ = run("", 300)
    assert lines[:2] == ["software IO TLB: area num 512.", "software IO TLB: SWIOTLB bounce buffer size roundup to 128MB"]
    lines, _ = run("swiotlb=1000,3", 64)  # 1024 slabs: a power of two, kept
    assert lines[0] == "software IO TLB: area num 4." and lines[1].endswith("(2MB)")
    lines, _ = run("swiotlb=1100,3", 64)  # 1152 slabs: rounded up to 2048
    assert lines[1] == "software IO TLB: SWIOTLB bounce buffer size roundup to 4MB" and lines[2].endswith("(4MB)")
    lines, _ = run("", None)  # the CPUs unknown: one area assumed, its line not printed
    assert not any("area num" in t for t in lines)
    lines, allocs = run("", 1, low_mb=40)  # 39 MiB below 4 GiB: 64 MiB fails, 32 MiB fits
    assert lines[1] == "software IO TLB: swiotlb_memblock_alloc: Failed to allocate 67108864 bytes tlb structure"
    assert lines[-2] == "software IO TLB: SWIOTLB bounce buffer size adjusted 32768 -> 16384 slabs" and lines[-1].endswith("(32MB)")
