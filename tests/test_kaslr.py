"""Physical KASLR: the decompressor's slots (arch/x86/boot/compressed/kaslr.c) and
the exact distribution of outcomes over them (earlymem.kaslr).

The slot counts below are worked by hand from the C code (the comments show the
arithmetic); the distribution is checked against booting every slot.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

from earlymem.kaslr import outcome_key, predict_kaslr
from earlymem.kernels import profile_for
from earlymem.kernels.builds import PINNED
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import Machine, NumaAffinity
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.phases.kaslr import kaslr_slots
from earlymem.pipeline import boot
from earlymem.sources.inputs import load_input

M = 1 << 20
G = 1 << 30
B61 = next(b for b in PINNED if b.release.startswith("6.1."))
# 6.1's needed_size: ALIGN(max(z_output_len 65905060, _end - _text 0x3A00000), 2M) = 64 MiB
NEED = 64 * M
# the ZO range ends at output + init_size = 16M + 66678784 -> the first slot at ALIGN(.., 2M) = 0x5000000
FIRST = 0x5000000
FIXTURES = Path(__file__).parent / "fixtures"


def machine(cmdline="", ram_end=G, initrd=None, numa=(), top=None):
    e820 = [E820Entry(0, 0x9FC00, E820Type.RAM), E820Entry(0x100000, ram_end - 0x100000, E820Type.RAM)]
    if top:
        e820.append(E820Entry(4 * G, top - 4 * G, E820Type.RAM))
    return Machine(e820=e820, command_line=CommandLine(cmdline), kernel_version=parse_version("6.1.0-50-amd64"),
                   initrd=initrd, numa=list(numa))


def test_one_region_counts_every_2m_place_that_holds_the_image():
    s = kaslr_slots(machine(), B61)
    # [0x5000000, 1G): 1 + (1G - 0x5000000 - 64M) / 2M
    assert [(a.start, a.count) for a in s.areas] == [(FIRST, 1 + (G - FIRST - NEED) // (2 * M))]
    assert s.total == 441 and s.disabled is None and s.image_size == NEED


def test_the_initrd_splits_a_region_and_keeps_the_head_only_when_it_holds_the_image():
    s = kaslr_slots(machine(initrd=Range(0x30000000, 0x30000000 + 12 * M)), B61)
    # head [0x5000000, 0x30000000): 1 + (0x2B000000 - 64M)/2M = 313; tail from ALIGN(0x30C00000, 2M)
    assert [(a.start, a.count) for a in s.areas] == [(FIRST, 313), (0x30C00000, 1 + (G - 0x30C00000 - NEED) // (2 * M))]


def test_an_avoided_range_starting_exactly_an_image_above_keeps_the_head():
    # era C keeps [start, overlap.start) when overlap.start >= start + image_size (B used '>')
    s = kaslr_slots(machine(initrd=Range(FIRST + NEED, FIRST + NEED + M)), B61)
    assert s.areas[0].start == FIRST and s.areas[0].count == 1


def test_memmap_ranges_are_avoided_and_a_bare_memmap_or_mem_is_a_limit():
    s = kaslr_slots(machine("memmap=64M$0x20000000"), B61)
    assert [a.start for a in s.areas] == [FIRST, 0x24000000]
    lim = kaslr_slots(machine("mem=512M"), B61)
    assert lim.mem_limit == 512 * M and lim.total == 1 + (512 * M - FIRST - NEED) // (2 * M)
    assert kaslr_slots(machine("memmap=512M"), B61).mem_limit == 512 * M
    # memmap=nn@ss is usable memory: not avoided, no limit
    assert kaslr_slots(machine("memmap=64M@0x20000000"), B61).total == 441


def test_a_fifth_memmap_range_in_one_list_aborts_physical_kaslr():
    ranges = [f"1M${0x20000000 + i * 0x4000000:#x}" for i in range(5)]
    s = kaslr_slots(machine("memmap=" + ",".join(ranges)), B61)
    assert s.disabled and "more than 4 memmap=" in s.disabled and s.total == 0
    # a fifth memmap= of its own is ignored: mem_avoid_memmap() returns before looking at it
    # (its static count is full) and memmap_too_large is set only inside a list
    apart = kaslr_slots(machine(" ".join(f"memmap={r}" for r in ranges)), B61)
    assert apart.disabled is None
    assert [w for w, _ in apart.avoided if w.startswith("memmap")] == [f"memmap= range {i}" for i in (1, 2, 3, 4)]


def test_nokaslr_and_a_limit_below_the_image_run_the_kernel_at_output():
    assert kaslr_slots(machine("nokaslr"), B61).disabled == "'nokaslr' on the command line"
    s = kaslr_slots(machine("mem=64M"), B61)
    assert s.disabled and s.output == 0x1000000


def test_1g_hugepages_are_kept_out():
    # hugepagesz=1G hugepages=1: the first whole 1 GiB page of RAM ([1G, 2G)) is skipped,
    # the budget is spent, and [4G, 6G) is whole
    s = kaslr_slots(machine("hugepagesz=1G hugepages=1", ram_end=3 * G, top=6 * G), B61)
    assert [a.start for a in s.areas] == [FIRST, 2 * G, 4 * G]
    # without hugepagesz=1G before it, hugepages= counts 2M pages: nothing is skipped
    assert [a.start for a in kaslr_slots(machine("hugepages=1", ram_end=3 * G, top=6 * G), B61).areas] == [FIRST, 4 * G]


def test_immovable_srat_ranges_cut_the_regions():
    numa = [NumaAffinity(0, 0, Range(0, 512 * M)), NumaAffinity(1, 1, Range(512 * M, G))]
    s = kaslr_slots(machine(numa=numa), B61)
    # a slot may not straddle the node boundary: [0x5000000, 512M) and [512M, 1G)
    assert [(a.start, a.count) for a in s.areas] == [(FIRST, 1 + (512 * M - FIRST - NEED) // (2 * M)),
                                                     (512 * M, 1 + (512 * M - NEED) // (2 * M))]
    hot = [NumaAffinity(0, 0, Range(0, 512 * M)), NumaAffinity(1, 1, Range(512 * M, G), hotplug=True)]
    assert kaslr_slots(machine(numa=hot), B61).areas[-1].start < 512 * M  # hot-pluggable memory holds no slot


def test_at_most_100_slot_areas():
    # 150 initrd-like holes cannot be made; 120 small RAM entries each holding one slot
    e820 = [E820Entry(0x100000 + i * 128 * M, 96 * M, E820Type.RAM) for i in range(120)]
    m = Machine(e820=e820, command_line=CommandLine(""), kernel_version=parse_version("6.1.0-50-amd64"))
    assert len(kaslr_slots(m, B61).areas) == 100


def _kaslr(machine_: Machine) -> Machine:
    return dataclasses.replace(machine_, command_line=CommandLine(machine_.command_line.text.replace("nokaslr", "")))


@pytest.mark.parametrize("capture", ["pc-1g-plain--6.1", "pc-2g-ck192m-both--6.12", "numa2-3g5g-ck512high-file-crash--7.2",
                                     "pc-3g-ckrange--5.10"])
def test_the_distribution_is_that_of_booting_every_slot(capture):
    """The grouping (earlymem.kaslr's module doc) against one boot per slot."""
    li = load_input(dmesg=FIXTURES / "oracle" / capture / "serial.log")
    m = _kaslr(li.machine)
    build = next(b for b in PINNED if b.release == li.machine.kernel_version.text)
    kp = predict_kaslr(m, li.profile, build)
    counts = sorted({o.cea_pages for o in kp.outcomes}, key=lambda c: (c is None, c))
    for cea in counts:  # every slot leads to one outcome for each count of the entry areas' tables
        assert sum(o.slots for o in kp.outcomes if o.cea_pages == cea) == kp.slots.total > 0
    assert sum(o.probability for o in kp.outcomes) == 1
    assert kp.boots < kp.slots.total / 2  # the grouping saves most boots
    for cea in counts:  # 6.2+: each count of the CPU entry areas' page tables
        mc = dataclasses.replace(m, cea_pages=cea)
        for at in kp.slots.places():
            real = boot(dataclasses.replace(mc, kernel_load_addr=at), li.profile, build)
            assert outcome_key(real) == outcome_key(kp.outcome_at(at, cea).result), (hex(at), cea)


def test_the_most_probable_outcome_is_the_one_without_the_image_in_the_way():
    li = load_input(dmesg=FIXTURES / "oracle" / "pc-3g-ckrange--6.1" / "serial.log")
    kp = predict_kaslr(_kaslr(li.machine), li.profile, B61)
    top = kp.outcomes[0]
    nokaslr = boot(li.machine, li.profile, B61)  # the image at 16M, out of the crash window's way
    assert [(c.start, c.end) for c in top.result.crash] == [(c.start, c.end) for c in nokaslr.crash]
    assert top.probability > Fraction(1, 2)


# -- ground truth: 479 KASLR boots of Debian's four kernels (tests/fixtures/kaslr/README.md) ----------

KASLR = FIXTURES / "kaslr"
KASLR_CAPTURES = sorted(p for p in KASLR.iterdir() if p.is_dir())


def test_every_kaslr_capture_is_at_a_predicted_place_and_matches_once_pinned():
    from earlymem.verification import verify_path

    assert len(KASLR_CAPTURES) == 479
    for cap in KASLR_CAPTURES:
        report = verify_path(cap)
        assert report.kaslr is not None and report.kaslr.in_slots, cap.name
        wrong = [f.name for f in report.families if f.wrong or (f.predicted is not None and not f.ok and f.expected)]
        assert not wrong, (cap.name, wrong)


def test_outcome_frequencies_agree_with_the_predicted_probabilities():
    from earlymem.verification import kaslr_groups

    groups = kaslr_groups(KASLR_CAPTURES)
    assert len(groups) == 24
    for g in groups:
        assert g.why is None and g.ok, (g.name, [o for o in g.outcomes if not o.ok])
    # the test can fail: a count far from its probability, or an outcome predicted impossible
    from earlymem.verification import OutcomeCount, binomial_p_value

    assert not OutcomeCount("x", Fraction(9, 10), 5, binomial_p_value(5, 20, Fraction(9, 10))).ok
    assert not OutcomeCount("x", Fraction(0), 1, 0.0).ok
    assert binomial_p_value(10, 20, Fraction(1, 2)) == 1.0


def test_cea_page_tables_exact_for_one_and_two_cpus():
    from earlymem.phases.start_kernel import cea_table_pages

    one = cea_table_pages(0x3B000, 1)
    # max_cea = (512G - 4K) / 0x3B000 = 2274876 slots; an area straddles a 2 MiB boundary
    # for 58 of every 512 slots (59-page areas, page offsets 1 + 59k mod 512 above 453)
    assert sum(one.values()) == 1 and set(one) == {3, 4, 5}
    assert abs(float(one[4] + one[5]) - 58 / 512) < 1e-4
    two = cea_table_pages(0x3B000, 2)
    assert sum(two.values()) == 1 and max(two, key=two.get) == 5
    assert cea_table_pages(0x3B000, 3) is None


def _proc_tree(cap_dir, root):
    from earlymem.sources.capture import read_capture

    s = read_capture(cap_dir).sections
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/cmdline").write_text(s["first/cmdline"][0] + "\n")
    banner = next(ln for ln in s["first/dmesg"] if "Linux version" in ln)
    (root / "proc/sys/kernel/osrelease").write_text(banner.split("Linux version ")[1].split()[0] + "\n")
    (root / "proc/iomem").write_text("\n".join(s["first/iomem"]) + "\n")
    for line in s["first/firmware_memmap"]:
        n, start, end, type_ = line.split(" ", 3)
        d = root / "sys/firmware/memmap" / n
        d.mkdir(parents=True)
        for name, value in (("start", start), ("end", end), ("type", type_)):
            (d / name).write_text(value + "\n")


def test_proc_iomem_pins_the_place_and_gives_the_crash_region(tmp_path):
    from earlymem.sources.procfs import machine_from_proc

    cap = KASLR / "kaslr-pc-2g-ck384-load--6.1--01"
    _proc_tree(cap, tmp_path)
    m = machine_from_proc(tmp_path)
    assert m.kernel_load_addr == 0x6E800000 and m.kernel_at_from[2] == "Kernel code"
    assert m.crash_observed == (Range(0x56000000, 0x6E000000),)


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "earlymem", *map(str, args)], capture_output=True, text=True)


def test_predict_under_kaslr_says_how_likely_the_lines_are_and_kernel_at_makes_it_exact():
    log = KASLR / "kaslr-pc-1g-ck256--6.1--01" / "serial.log.gz"
    p = _cli("predict", "--dmesg", log)
    assert p.returncode == 0, p.stderr
    assert "KASLR: the kernel's place is drawn from 435 places" in p.stderr
    assert "crashkernel at [mem 0x2e000000-0x3dffffff] in 69.4% of boots" in p.stderr
    pinned = _cli("predict", "--dmesg", log, "--kernel-at", "0x31c00000")
    assert pinned.returncode == 0 and "KASLR:" not in pinned.stderr
    assert "Reserving 256MB of memory at 528MB for crashkernel" in pinned.stdout
    for bad in ("0x31c00001", "banana", "0x10000000000000"):
        r = _cli("predict", "--dmesg", log, "--kernel-at", bad)
        assert r.returncode == 2 and r.stderr.startswith("earlymem: error: --kernel-at"), r.stderr


def test_kexec_under_kaslr_loads_into_each_crash_region_outcome(tmp_path):
    import os

    if not os.environ.get("EARLYMEM_ORACLE_TEST"):
        pytest.skip("needs the Debian 6.1 image (EARLYMEM_ORACLE_TEST=1 fetches it, as .ci/run does)")
    from earlymem.oracle.kernels import fetch_kernel

    images = [fetch_kernel("6.1").vmlinuz]
    log = KASLR / "kaslr-pc-2g-ck384-load--6.1--01" / "serial.log.gz"
    r = _cli("kexec", "--dmesg", log, "--kernel", images[0])
    assert r.returncode == 0, r.stderr
    assert "over every place KASLR may draw, the load succeeds in 100% of boots" in r.stderr
    # on the live system the region is a fact: the load goes where kexec-tools put it
    _proc_tree(KASLR / "kaslr-pc-2g-ck384-load--6.1--01", tmp_path)
    live = _cli("kexec", "--proc", tmp_path, "--kernel", images[0])
    assert live.returncode == 0, live.stderr
    # kexec-tools' own placement on that system (its kexec -p --debug in the capture)
    assert "segment[0].mem   = 0x69e00000" in live.stdout
    assert "the running system's" in live.stderr


# -- UEFI boots: recognised, and nothing that depends on the EFI memory map is guessed ---------


def test_uefi_boots_name_what_is_not_predicted():
    from earlymem.verification import verify_path

    caps = sorted(p for p in (FIXTURES / "uefi").iterdir() if p.is_dir())
    assert len(caps) == 64
    for cap in caps:
        report = verify_path(cap)
        assert not any(f.wrong for f in report.families), cap.name
        states = {f.name: f.state.value for f in report.families}
        assert states["e820"] == "ok" and states["zones"] == "ok", cap.name
        if cap.name.split("--")[0].endswith("-dbg"):
            # the EFI map in the log: every family is exact (kexec-tools' EFI segments too); on 7.2
            # (no line shows the stub's setup_data nodes) with the capture's setup_data chain
            open_ = {f for f, st in states.items() if st not in ("ok", "not in this capture")}
            assert not open_, (cap.name, {f: states[f] for f in open_})
            if cap.name.endswith("--7.2"):
                _check_managed_bounds(report, cap)
        else:
            assert states["crashkernel"] == "not predicted yet", cap.name
    p = _cli("predict", "--dmesg", FIXTURES / "uefi" / "uefi-q35-1g-ck256--6.1" / "serial.log.gz")
    assert p.returncode == 0
    assert "a UEFI boot (" in p.stderr and "efi: EFI v2.70 by EDK II" in p.stderr and "boot with efi=debug" in p.stderr
    import os

    if os.environ.get("EARLYMEM_ORACLE_TEST"):
        from earlymem.oracle.kernels import fetch_kernel

        vmlinuz = fetch_kernel("6.1").vmlinuz
        # with efi=debug the runtime map's size is in the log: kexec-tools' SETUP_EFI and runtime
        # map go lowest in the crash region (the capture's own kexec -p --debug)
        k = _cli("kexec", "--dmesg", FIXTURES / "uefi" / "uefi-q35-2g-ck512-load-dbg--6.1" / "serial.log.gz", "--kernel",
                 vmlinuz, "--append", "console=ttyS0")
        assert k.returncode == 0, k.stderr
        assert "segment[0].mem   = 0x5b000000" in k.stdout and "segment[1].bufsz = 0x1090" in k.stdout, k.stdout
        assert "acpi_rsdp" not in k.stdout and "boots through EFI" in k.stderr
        k = _cli("kexec", "--dmesg", FIXTURES / "uefi" / "uefi-q35-2g-ck512-load--6.1" / "serial.log.gz", "--kernel", vmlinuz)
        assert k.returncode == 2 and "boot with efi=debug" in k.stderr, k.stderr


def test_uefi_holdout7_matches_and_7_2_stays_inside_its_bounds():
    """tests/fixtures/holdout7 (committed before it ran): every family exact on every kernel
    (7.2 with the capture's setup_data chain); without the chain 7.2's managed pages are
    named as not predicted and bounded."""
    from earlymem.verification import verify_path

    caps = sorted(p for p in (FIXTURES / "holdout7").iterdir() if p.is_dir() and p.name != "died")
    assert len(caps) == 16
    for cap in caps:
        report = verify_path(cap)
        states = {f.name: f.state.value for f in report.families}
        open_ = {f for f, st in states.items() if st not in ("ok", "not in this capture")}
        assert not open_, (cap.name, {f: states[f] for f in open_})
        if cap.name.endswith("--7.2"):
            _check_managed_bounds(report, cap)


def test_uefi_without_efi_debug_the_crash_region_stays_under_its_ceiling():
    """No EFI map in the log: the crash region is bounded from above in each window
    (crash_ceilings); every observed Crash kernel region of the 272 UEFI boots without
    efi=debug (nokaslr and KASLR) lies at or below its window's ceiling."""
    import re

    from earlymem.kernels import profile_for
    from earlymem.lib.version import parse_version
    from earlymem.sources.capture import read_capture
    from earlymem.sources.dmesg import parse_boot_logs
    from earlymem.verification import predict_capture

    caps = sorted(p for d in ("uefi", "uefi-kaslr") for p in (FIXTURES / d).iterdir() if p.is_dir() and "-dbg" not in p.name)
    assert len(caps) == 272
    for cap in caps:
        c = read_capture(cap)
        first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
        _, result = predict_capture(c, first, profile_for(parse_version(first.version)))
        assert result.crash_ceilings and not result.predicted("crashkernel"), cap.name
        iomem = "\n".join(c.sections["first/iomem"])
        seen = [(int(a, 16), int(b, 16) + 1) for a, b in re.findall(r"([0-9a-f]+)-([0-9a-f]+) : Crash kernel", iomem)]
        # (none: the reservation failed, e.g. crashkernel=128M@16M in boot-services memory -- inside the bound)
        for s, e in seen:
            window = [w for w in result.crash_ceilings if w[0] == e - s and w[1] <= s < w[2]]
            if window:
                assert window[0][3] is not None and s <= window[0][3], (cap.name, hex(s), window)
            else:
                assert e <= 1 << 32, (cap.name, hex(s))  # the low part of a reservation above 4 GiB


def _check_managed_bounds(report, cap):
    """A 7.2 UEFI boot with its setup_data chain: the chain lists nodes, and the model reserves
    them.  Without the chain (the section taken out, as a plain log is), its zones carry a bound
    (managed_low to managed) that holds the observed count."""
    import re

    from earlymem.kernels import profile_for
    from earlymem.lib.version import parse_version
    from earlymem.sources.capture import read_capture
    from earlymem.sources.dmesg import parse_boot_logs
    from earlymem.verification import predict_capture

    c = read_capture(cap)
    first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
    machine, result = predict_capture(c, first, profile_for(parse_version(first.version)))
    assert machine.setup_data and all(z.managed_low is None for z in result.zones), cap.name
    del c.sections["first/setup_data"]
    machine, result = predict_capture(c, first, profile_for(parse_version(first.version)))
    assert not machine.setup_data, cap.name
    seen = {}
    for line in next(f for f in report.families if f.name == "zoneinfo-managed").expected:
        m = re.match(r"Node (\d+), zone (\w+): managed=(\d+)", line)
        seen[(int(m[1]), m[2])] = int(m[3])
    bounded = [z for z in result.zones if z.managed_low is not None]
    assert bounded, cap.name
    for z in result.zones:
        lo = z.managed if z.managed_low is None else z.managed_low
        assert lo <= seen[(z.nid, z.name)] <= z.managed, (cap.name, z.nid, z.name, lo, z.managed, seen[(z.nid, z.name)])
    # the note gives the same bound, in words
    why = result.why_not("zoneinfo managed pages")
    assert all(f"between {z.managed_low} and {z.managed}" in why for z in bounded), why


def test_efi_map_lines_are_read_and_bad_ones_named(tmp_path):
    from earlymem.lib.errors import InputError
    from earlymem.sources.dmesg import machine_from_boot_log, read_boot_logs

    head = ("[    0.000000] Linux version 6.1.0-50-amd64 (x) #1 SMP Debian 6.1.176-1\n"
            "[    0.000000] Command line: nokaslr efi=debug\n"
            "[    0.000000] BIOS-provided physical RAM map:\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000003fffffff] usable\n"
            "[    0.000000] efi: EFI v2.70 by EDK II\n")
    good = "[    0.000000] efi: mem00: [Conventional|   |WB] range=[0x0000000000001000-0x000000000009ffff] (0MB)\n"
    log = tmp_path / "boot.log"
    log.write_text(head + good)
    m = machine_from_boot_log(read_boot_logs(log)[0])
    assert m.efi_boot is not None and m.efi_map == (("Conventional", "   |WB", Range(0x1000, 0xA0000)),)
    for bad, why in (("[Bogus Type  |WB]", "unknown EFI memory type"), ("[Boot Data   |WB]", "before it starts")):
        line = good.replace("[Conventional|   |WB]", bad)
        if "before" in why:
            line = line.replace("0x0000000000001000-0x000000000009ffff", "0x00000000000a0000-0x0000000000001000")
        log.write_text(head + line)
        with pytest.raises(InputError, match=why) as exc:
            read_boot_logs(log)
        assert exc.value.line == 6


def test_the_efi_stubs_draw_is_exact():
    """efi_random_alloc(): slot = (N * seed32) >> 32: every slot has floor or ceil of 2^32/N seeds."""
    from earlymem.phases.kaslr import KaslrSlots, SlotArea

    s = KaslrSlots((SlotArea(16 * M, 3), SlotArea(64 * M, 4)), 2 * M, 64 * M, 16 * M, 1 << 46, 16 * M, draw="efi32")
    ps = [s.probability([p]) for p in s.places()]
    assert sum(ps) == 1 and {p * (1 << 32) for p in ps} <= {(1 << 32) // 7, (1 << 32) // 7 + 1}
    assert dataclasses.replace(s, draw="mod").probability(list(s.places())[:2]) == Fraction(2, 7)


def test_uefi_kaslr_places_are_drawn_from_the_efi_map():
    from earlymem.verification import kaslr_check, predict_capture
    from earlymem.sources.capture import read_capture
    from earlymem.sources.dmesg import parse_boot_logs

    caps = sorted(p for p in (FIXTURES / "uefi-kaslr").iterdir() if p.is_dir() and "-dbg--" in p.name)
    assert caps
    for cap in caps:
        c = read_capture(cap)
        first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
        profile = profile_for(parse_version(first.version))
        machine, _ = predict_capture(c, first, profile)
        check = kaslr_check(machine, profile, None)
        assert check is not None and check.in_slots, (cap.name, check)


def test_uefi_kaslr_efi_debug_boots_match_once_pinned_and_their_counts_agree():
    from earlymem.verification import kaslr_groups, verify_path

    caps = sorted(p for p in (FIXTURES / "uefi-kaslr").iterdir() if p.is_dir())
    assert len(caps) == 480
    for cap in caps:
        report = verify_path(cap)
        assert not any(f.wrong for f in report.families), cap.name
    groups = kaslr_groups([c for c in caps if "-dbg--" in c.name])
    assert len(groups) == 12 and all(g.why is None and g.ok for g in groups)


def test_cea_tables_of_more_than_two_cpus_leave_managed_pages_unpredicted():
    from earlymem.sources.capture import read_capture
    from earlymem.sources.dmesg import parse_boot_logs
    from earlymem.verification import first_kernel_machine

    cap = read_capture(FIXTURES / "oracle" / "numa4x16g-ck1g-load-crash--7.2")
    m = first_kernel_machine(cap, parse_boot_logs(cap.sections["first/dmesg"], "x")[0])
    assert len(m.cpus) == 4
    m = _kaslr(dataclasses.replace(m, kernel_load_addr=0x40000000))
    r = boot(m, profile_for(m.kernel_version))
    assert "one or two CPUs only" in r.why_not("zoneinfo managed pages")
