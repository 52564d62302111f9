"""Real boot logs: the printed firmware map and user-defined map, byte for byte.

Fixtures (see tests/fixtures/README.md for how each was made):

* ``fixtures/bootlogs/*.log``: serial logs of Debian 5.10, 6.1, 6.12 and 7.2
  kernels booted under QEMU by tools/capture-bootlogs.sh;
* ``fixtures/public/*.log``: public boot logs of older kernels (2.6 era).

Only input facts are read from a log (firmware map, command line, banner); the
firmware map is re-printed in the era's format and the user map is derived
from the command line, then both are compared with what the kernel printed.
"""

from pathlib import Path

import pytest

from earlymem.kernels import parse_version, profile_for
from earlymem.machine import Machine
from earlymem.report import e820_report
from earlymem.sources.dmesg import message_text, read_boot_logs

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = sorted((FIXTURES / "bootlogs").glob("*.log")) + sorted((FIXTURES / "public").glob("*.log"))


def printed(log, kind):
    block = log.block(kind)
    return [block.header] + [ln.text for ln in block.lines] if block else []


def predicted(log):
    profile = profile_for(parse_version(log.version))
    report = e820_report(Machine.from_boot_log(log), profile, already_sanitized=True, who=log.firmware.who)
    lines = report.dmesg_lines()
    return [ln for ln in lines if not ln.startswith("Malformed early option")], report


def test_there_are_fixtures_of_every_kernel():
    versions = {p.name.split("--")[1].split(".")[0:2][0] + "." + p.name.split("--")[1].split(".")[1] for p in LOGS if "--" in p.name}
    assert {"5.10", "6.1", "6.12", "7.2"} <= versions
    assert len(LOGS) >= 40


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_firmware_and_user_map_are_byte_identical(path):
    log = read_boot_logs(path)[0]
    got, report = predicted(log)
    expected = printed(log, "firmware") + printed(log, "user")
    assert got == expected


@pytest.mark.parametrize("path", [p for p in LOGS if "memmap" in p.name or "mem" in p.name.split("--")[0]], ids=lambda p: p.stem)
def test_logs_with_mem_params_print_a_user_map(path):
    log = read_boot_logs(path)[0]
    assert log.block("user") is not None, "fixture should exercise the user-defined map"


def _variants(text):
    """The same boot log as other tools record it."""
    lines = text.splitlines()
    msgs = [message_text(ln) for ln in lines]
    yield "crlf", "\r\n".join(lines) + "\r\n"
    yield "syslog", "\n".join(f"Nov 26 05:24:19 host kernel: [    0.000000] {m}" for m in msgs)
    yield "journal-iso", "\n".join(f"2026-11-26T05:24:19.123456+00:00 host kernel: {m}" for m in msgs)
    yield "dmesg-T", "\n".join(f"[Thu Nov 26 05:24:19 2026] {m}" for m in msgs)
    yield "caller-id", "\n".join(f"[    0.000000][    T0] {m}" for m in msgs)
    yield "bare", "\n".join(msgs)


@pytest.mark.parametrize("name", ["pc-4g-memmap-reserve-pram--6.1.0-50-amd64", "pc-4g-memmap-reserve-pram--7.2.13+deb14-amd64"])
def test_log_prefixes_and_line_endings_are_tolerated(tmp_path, name):
    text = (FIXTURES / "bootlogs" / f"{name}.log").read_text(errors="replace")
    reference, _ = predicted(read_boot_logs(FIXTURES / "bootlogs" / f"{name}.log")[0])
    for label, variant in _variants(text):
        f = tmp_path / f"{label}.log"
        f.write_text(variant)
        log = read_boot_logs(f)[0]
        got, _ = predicted(log)
        assert got == reference, label
        assert got == printed(log, "firmware") + printed(log, "user"), label
