"""/proc/iomem and /sys/firmware/memmap read back from real kernels.

Fixtures ``fixtures/bootlogs/dump-*.log`` were booted with the dump initramfs
of tools/build-dump-initramfs.sh, which prints those files between
``@@@@BEGIN/END name@@@@`` markers after the kernel's own log.
"""

from pathlib import Path

import pytest

from earlymem.phases.e820 import e820_report
from earlymem.kernels import profile_for
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.ranges import RangeSet
from earlymem.machine.e820 import E820Type
from earlymem.sources.capture import split_sections
from earlymem.sources.dmesg import machine_from_boot_log, read_boot_logs
from earlymem.sources.iomem import iomem_e820, parse_iomem
from earlymem.sources.procfs import machine_from_proc
from earlymem.sources.text import read_text_lines

FIXTURES = Path(__file__).parent / "fixtures" / "bootlogs"
DUMPS = sorted(FIXTURES.glob("dump-*.log"))


def as_proc_tree(sections, root):
    """Lay the dumped files out as a /proc + /sys tree under ``root``."""
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/cmdline").write_text("\n".join(sections["cmdline"]) + "\n")
    (root / "proc/sys/kernel/osrelease").write_text("\n".join(sections["osrelease"]) + "\n")
    (root / "proc/iomem").write_text("\n".join(sections["iomem"]) + "\n")
    for line in sections["firmware_memmap"]:
        n, start, end, type_ = line.split(" ", 3)
        d = root / "sys/firmware/memmap" / n
        d.mkdir(parents=True)
        (d / "start").write_text(start + "\n")
        (d / "end").write_text(end + "\n")
        (d / "type").write_text(type_ + "\n")


def test_there_are_dump_fixtures_for_every_kernel():
    assert {p.name.split("--")[1][:4].rstrip(".") for p in DUMPS} >= {"5.10", "6.1", "6.12", "7.2"}


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
def test_sys_firmware_memmap_is_the_printed_bios_map(tmp_path, path):
    # e820__memory_setup() copies the sanitized table to e820_table_firmware,
    # which e820__reserve_resources() registers as /sys/firmware/memmap.
    sections = split_sections(read_text_lines(path), str(path))
    as_proc_tree(sections, tmp_path)
    log = read_boot_logs(path)[0]
    m = machine_from_proc(tmp_path)
    assert m.e820 == log.firmware.entries
    assert list(m.command_line.params()) == list(CommandLine(log.command_line).params())
    assert m.kernel_version.text == log.version


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
def test_iomem_system_ram_lies_in_the_user_map_ram(path):
    # /proc/iomem shows e820_table after mem=/memmap= (and later trims such as
    # page 0 and 640K-1M), so every top-level System RAM range is usable RAM
    # of the map earlymem predicts.
    sections = split_sections(read_text_lines(path), str(path))
    resources = parse_iomem(sections["iomem"], f"{path}:iomem")
    log = read_boot_logs(path)[0]
    report = e820_report(machine_from_boot_log(log), profile_for(log.version), already_sanitized=True)
    table = report.user.table.entries if report.user and report.user.userdef else report.firmware
    ram = RangeSet(e.range for e in table if e.type == E820Type.RAM)
    iomem_ram = [e.range for e in iomem_e820(resources) if e.type == E820Type.RAM]
    assert iomem_ram and all(ram.covers(r) for r in iomem_ram)
    # and no usable RAM above the user's limit appears
    assert max(r.end for r in iomem_ram) == max(r.end for r in ram)
