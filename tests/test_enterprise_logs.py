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
    assert sorted(p.stem for p in LOGS) == sorted(x for x in listed if x != "log") and len(LOGS) >= 12
    assert all((DIR / f"{p.stem}.md").read_text().count("https://github.com/linuxhw/Dmesg/blob/") for p in LOGS)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_the_release_names_rhel_and_the_e820_map_is_byte_identical(path):
    log = read_boot_logs(path)[0]
    assert identify(log.version).family == "rhel"
    profile = profile_for(log.version)
    report = e820_report(machine_from_boot_log(log), profile, already_sanitized=True, who=log.firmware.who)
    block = log.block("firmware")
    assert [t for f, t in report.lines() if f == "e820"] == [block.header] + [ln.text for ln in block.lines]


MEMBLOCK_ERAS = [p for p in LOGS if re.search(r"-(3\.10|4\.18)\.", p.stem)]


@pytest.mark.parametrize("path", MEMBLOCK_ERAS, ids=lambda p: p.stem)
def test_crashkernel_size_and_system_ram_match_the_log(path):
    """3.10 and 4.18: memblock_phys_mem_size() from the e820 map, and the size the vendor's
    rule asks for, equal the log's; where the region goes is not predicted yet."""
    log = read_boot_logs(path)[0]
    size, _, ram = _reserving(path)
    why = boot(machine_from_boot_log(log), profile_for(log.version)).why_not("crashkernel")
    assert f"asks for {size} MB (" in why and f"System RAM {ram} MB as memblock counts it" in why, why


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
