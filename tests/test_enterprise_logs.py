"""Public boot logs of RHEL-family kernels (tests/fixtures/public/enterprise, listed in its
README before any rule was fitted to them): the e820 map, and what crashkernel= asks for
(the vendor's crashkernel=auto, System RAM as memblock counts it) against each log's own
'Reserving NMB of memory at XMB for crashkernel (System RAM: ZMB)' line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from earlymem.kernels import profile_for
from earlymem.kernels.distro import identify
from earlymem.phases.crashkernel import auto_formula_size
from earlymem.phases.e820 import e820_report
from earlymem.pipeline import boot
from earlymem.sources.dmesg import machine_from_boot_log, message_text, read_boot_logs
from earlymem.sources.text import read_text_lines

DIR = Path(__file__).parent / "fixtures" / "public" / "enterprise"
LOGS = sorted(DIR.glob("*.log"))
M = 1 << 20
_RESERVING = re.compile(r"Reserving (\d+)MB of memory at (\d+)MB for crashkernel \(System RAM: (\d+)MB\)")


def _reserving(path):
    for t in (message_text(ln) for ln in read_text_lines(path)):
        m = _RESERVING.match(t)
        if m:
            return tuple(int(x) for x in m.groups())
    return None


def test_the_list_is_the_committed_one():
    listed = re.findall(r"^\| ([\w.+-]+) \|", (DIR / "README.md").read_text(), re.M)
    assert sorted(p.stem for p in LOGS) == sorted(x for x in listed if x != "log") and len(LOGS) >= 60
    assert all(re.search(r"^- Source URL: https://\S+", (DIR / f"{p.stem}.md").read_text(), re.M) for p in LOGS)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_the_release_names_its_distribution_and_the_e820_map_is_byte_identical(path):
    log = read_boot_logs(path)[0]
    family = identify(log.version).family
    # Leap 15.3 runs SLE 15 SP3's own kernel (5.3.18-57-default): SLE's rules, not Leap's lp15x builds
    assert family == ("rhel" if ".el" in path.stem else "opensuse" if "-lp15" in path.stem
                      else "suse" if path.stem.startswith(("opensuse", "harvester")) else path.stem[:6]), family
    profile = profile_for(log.version)
    report = e820_report(machine_from_boot_log(log), profile, already_sanitized=True, who=log.firmware.who)
    block = log.block("firmware")
    assert [t for f, t in report.lines() if f == "e820"] == [block.header] + [ln.text for ln in block.lines]


MEMBLOCK_ERAS = [p for p in LOGS if re.search(r"-(3\.10|4\.18|5\.14)\.", p.stem)]
RESERVING = [p for p in MEMBLOCK_ERAS if _reserving(p)]


@pytest.mark.parametrize("path", RESERVING, ids=lambda p: p.stem)
def test_crashkernel_lines_match_or_are_named_and_never_wrong(path):
    """3.10, 4.18 and 5.14: the crashkernel lines, predicted from the e820 map, the RAMDISK and
    BRK lines and (RHEL 7) the EFI map, equal the log's; where the outcome is not predicted, the
    reason names what is missing, and the size and System RAM it gives equal the log's."""
    from earlymem.verification import verify_path

    log = read_boot_logs(path)[0]
    size, at, ram = _reserving(path)
    crash = next(f for f in verify_path(path).families if f.name == "crashkernel")
    assert not crash.wrong
    result = boot(machine_from_boot_log(log), profile_for(log.version))
    if crash.state.value == "ok":
        assert f"Reserving {size}MB of memory at {at}MB for crashkernel (System RAM: {ram}MB)" in crash.expected
        return
    why = result.why_not("crashkernel")
    # a bound, where one is given, holds the log's place
    m = re.search(r"(\d+) MB at (\d+) MB or lower", why)
    if m:
        assert int(m[1]) == size and at <= int(m[2]), why
    m = re.search(r"between (\d+) MB and (\d+) MB", why)
    if m:
        assert int(m[1]) <= at <= int(m[2]), why
    if "KASLR may have put the kernel anywhere" in why:
        # the outcome unless the image is in the way: the log's
        assert f"{size} MB at {at} MB unless the image lies in" in why, why
        return
    assert why and (f"asks for {size} MB (" in why or f"the size is one of" in why), why
    if f"asks for {size} MB (" in why:
        assert f"System RAM {ram} MB as memblock counts it" in why, why


def test_the_crashkernel_figures_of_the_readme():
    """How many of these logs have their crashkernel lines predicted exactly (and none wrong)."""
    from earlymem.verification import verify_path

    states = [next(f for f in verify_path(p).families if f.name == "crashkernel").state.value for p in LOGS]
    assert "DIFFERS" not in states and states.count("ok") >= 20


RHEL6 = [p for p in LOGS if ".el6" in p.stem]


@pytest.mark.parametrize("path", RHEL6, ids=lambda p: p.stem)
def test_rhel6_auto_size_and_rewrite(path):
    """RHEL 6: the log's size is the vendor formula on its System RAM (the span, printed
    floored to MB), and the command line shows auto rewritten to '<size>M@<base>M'."""
    log = read_boot_logs(path)[0]
    size, base, ram = _reserving(path)
    auto = profile_for(log.version).vendor.auto
    assert auto.ram == "span" and auto.rewrite in ("zero", "found") and len(auto.bases) == 1
    candidates = {auto_formula_size(auto.bases[0], r, auto.threshold) >> 20 for r in (ram * M, (ram + 1) * M - 4096)}
    assert size in candidates
    kernel_cmdline = next(message_text(ln) for ln in read_text_lines(path) if "Kernel command line:" in ln)
    assert f"crashkernel={size}M@{base if auto.rewrite == 'found' else 0}M" in kernel_cmdline.split()
    assert "crashkernel=auto" in (log.command_line or "")


def test_old_efi_map_lines_and_brk_lines_are_read_and_bad_ones_named(tmp_path):
    """RHEL 7's print_efi_memmap() format (numeric type, exclusive end) and the BRK lines."""
    from earlymem.lib.errors import InputError
    from earlymem.lib.ranges import Range

    head = ("[    0.000000] Linux version 3.10.0-1160.el7.x86_64 (x) #1 SMP\n"
            "[    0.000000] Command line: ro crashkernel=auto\n"
            "[    0.000000] e820: BIOS-provided physical RAM map:\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000003fffffff] usable\n"
            "[    0.000000] efi: EFI v2.40 by EDK II\n")
    good = "[    0.000000] efi: mem05: type=4, attr=0xf, range=[0x0000000000100000-0x0000000000800000) (7MB)\n"
    brk = "[    0.000000] BRK [0x01fa3000, 0x01fa3fff] PGTABLE\n"
    log = tmp_path / "boot.log"
    log.write_text(head + good + brk)
    m = machine_from_boot_log(read_boot_logs(log)[0])
    assert m.efi_map == (("Boot Data", "attr=0xf", Range(0x100000, 0x800000)),) and m.brk_pages == (0x1FA3000,)
    for bad, why in ((good.replace("type=4", "type=99"), "unknown EFI memory type 99"),
                     (good.replace("0x0000000000100000-0x0000000000800000", "0x0000000000800000-0x0000000000100000"), "before it starts")):
        log.write_text(head + bad)
        with pytest.raises(InputError, match=why) as exc:
            read_boot_logs(log)
        assert exc.value.line == 6


@pytest.mark.parametrize("path", MEMBLOCK_ERAS, ids=lambda p: p.stem)
def test_zones_node_ranges_and_initmem_match(path):
    """3.10 (%#010lx, no Device zone; RHEL 7.3's setup_node_data() Initmem line), 4.18 and
    5.14 (%#018Lx, Device): from the e820 map and SRAT, byte for byte."""
    from earlymem.verification import verify_path

    states = {f.name: f.state.value for f in verify_path(path).families}
    assert states["zones"] == states["node-ranges"] == states["initmem"] == "ok", states


def test_eras_without_known_formats_name_what_is_missing(tmp_path):
    """Upstream 4.1-5.4: whether a Device zone is printed is a config choice: not predicted, with the
    reason; Initmem is free_area_init_node()'s from v4.0 (Gross's 2015 patch changes that printk)."""
    log = tmp_path / "boot.log"
    text = ("[    0.000000] Linux version 4.15.0 (x) #1 SMP\n"
            "[    0.000000] Command line: ro\n"
            "[    0.000000] e820: BIOS-provided physical RAM map:\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable\n")
    log.write_text(text)
    result = boot(machine_from_boot_log(read_boot_logs(log)[0]))
    assert "CONFIG_ZONE_DEVICE" in result.why_not("zones") and result.why_not("Initmem") is None
    assert result.lines_of("initmem") == ["Initmem setup node 0 [mem 0x0000000000001000-0x000000003fffffff]"]
    assert result.lines_of("node-ranges") == ["Early memory node ranges", "  node   0: [mem 0x0000000000001000-0x000000000009ffff]",
                                              "  node   0: [mem 0x0000000000100000-0x000000003fffffff]"]
    # Ubuntu's 4.15 build has the Device zone (a vendor fact): the zones are printed
    log.write_text(text.replace("4.15.0 (x) #1 SMP", "4.15.0-20-generic (x) #21-Ubuntu SMP"))
    ubuntu = boot(machine_from_boot_log(read_boot_logs(log)[0]))
    assert ubuntu.why_not("zones") is None and ubuntu.lines_of("zones")[-2:] == ["  Device   empty", "Movable zone start for each node"]


@pytest.mark.parametrize("path", RHEL6, ids=lambda p: p.stem)
def test_rhel6_crash_region_from_the_early_reservations(path):
    """2.6.32: find_e820_area() past the early reservations the log lists, 16 MiB aligned."""
    from earlymem.verification import verify_path

    crash = next(f for f in verify_path(path).families if f.name == "crashkernel")
    assert crash.state.value == "ok", crash.expected
    m = machine_from_boot_log(read_boot_logs(path)[0])
    assert any(name == "TEXT DATA BSS" for _, name in m.early_res) and m.bootmaps


def test_a_xen_pv_domain_prints_its_map_and_nothing_else_is_predicted():
    """A Xen PV dom0 (openSUSE 4.12): the map printed with who "Xen" by xen_memory_setup() is read and
    matched; every later family is refused with the reason, not guessed."""
    from earlymem.verification import verify_path

    path = DIR / "opensuse-leap-15.1-4.12.14-lp151.28.36-default-4e3795.log"
    states = {f.name: f.state.value for f in verify_path(path).families}
    assert states["e820"] == "ok"
    result = boot(machine_from_boot_log(read_boot_logs(path)[0]))
    for family in ("crashkernel", "zones", "node ranges", "Initmem", "NODE_DATA"):
        assert "Xen PV domain" in result.why_not(family)


# all but the Xen PV domain and RHEL 6 (2.6.32's bootmem-era lines are another family's)
NATIVE = [p for p in LOGS if "4e3795" not in p.stem and ".el6" not in p.stem]


@pytest.mark.parametrize("path", NATIVE, ids=lambda p: p.stem)
def test_zones_node_ranges_and_initmem_match_on_every_native_log(path):
    """Every era here (2.6.32 aside, whose bootmem lines differ): the zones, the Early memory node
    ranges and the Initmem lines from the e820 map and SRAT, byte for byte; hold-out 3's 4.4-5.4
    logs (Ubuntu, Debian, SUSE) included, their Device zone a vendor fact (kernels.vendors)."""
    from earlymem.verification import verify_path

    states = {f.name: f.state.value for f in verify_path(path).families}
    assert states["zones"] == states["node-ranges"] == states["initmem"] == "ok", states
