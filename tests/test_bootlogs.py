"""Real boot logs: the printed firmware map and user-defined map, byte for byte.

Fixtures (see tests/fixtures/README.md for how each was made):

* ``fixtures/bootlogs/*.log``: serial logs of Debian 5.10, 6.1, 6.12 and 7.2
  kernels booted under QEMU by tools/capture-bootlogs.sh;
* ``fixtures/public/*.log``: public boot logs of older kernels (2.6 era).

Only input facts are read from a log (firmware map, command line, banner); the
firmware map is re-printed in the era's format and the user map is derived
from the command line, then both are compared with what the kernel printed.
"""

import re
from pathlib import Path

import pytest

from earlymem.phases.e820 import e820_report
from earlymem.kernels import profile_for
from earlymem.lib.version import parse_version
from earlymem.sources.dmesg import machine_from_boot_log, message_text, read_boot_logs
from earlymem.sources.text import read_text_lines

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = sorted((FIXTURES / "bootlogs").glob("*.log")) + sorted((FIXTURES / "public").glob("*.log"))


def printed(log, kind):
    block = log.block(kind)
    return [block.header] + [ln.text for ln in block.lines] if block else []


_EDIT = re.compile(r"^(e820: (update|remove) \[mem|e820 update range:|Malformed early option '(mem|memmap)'|mem=nopentium ignored)")
_WARN_FAMILIES = {"early-param"}


def printed_edits(path, log):
    """e820 edit/warning lines the kernel printed between its BIOS map and its user map."""
    lines = [message_text(ln) for ln in read_text_lines(path)]
    start = log.firmware.lines[-1].lineno
    user = log.block("user")
    end = user.header_lineno - 1 if user else min([n for n, t in enumerate(lines, 1) if n > start and t.startswith("Kernel command line:")] or [len(lines)])
    return [t for t in lines[start:end] if _EDIT.match(t)]


def debug_visible(path, log):
    """True if KERN_DEBUG lines reached this log (a dmesg dump, or a console told to show them)."""
    cmd = log.command_line or ""
    text = Path(path).read_text(errors="replace")
    return "ignore_loglevel" in cmd.split() or "debug" in cmd.split() or "loglevel=8" in cmd or "e820: update [mem" in text or "e820: remove [mem" in text


def predicted(log):
    profile = profile_for(parse_version(log.version))
    report = e820_report(machine_from_boot_log(log), profile, already_sanitized=True, who=log.firmware.who)
    return report.lines(), report


def test_there_are_fixtures_of_every_kernel():
    versions = {p.name.split("--")[1].split(".")[0:2][0] + "." + p.name.split("--")[1].split(".")[1] for p in LOGS if "--" in p.name}
    assert {"5.10", "6.1", "6.12", "7.2"} <= versions
    assert len(LOGS) >= 40


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_firmware_and_user_map_are_byte_identical(path):
    log = read_boot_logs(path)[0]
    lines, _ = predicted(log)
    assert [t for f, t in lines if f == "e820"] == printed(log, "firmware")
    assert [t for f, t in lines if f == "user-map"] == printed(log, "user")


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_edit_and_warning_lines_match_in_order(path):
    """KERN_DEBUG 'e820: update/remove' lines (where the log shows them) and
    'Malformed early option' warnings, in the order the kernel printed them."""
    log = read_boot_logs(path)[0]
    lines, _ = predicted(log)
    families = {"e820-edit", "early-param"} if debug_visible(path, log) else _WARN_FAMILIES
    assert [t for f, t in lines if f in families] == printed_edits(path, log)


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
    reference = [t for _, t in predicted(read_boot_logs(FIXTURES / "bootlogs" / f"{name}.log")[0])[0]]
    for label, variant in _variants(text):
        f = tmp_path / f"{label}.log"
        f.write_text(variant)
        log = read_boot_logs(f)[0]
        got = [t for _, t in predicted(log)[0]]
        assert got == reference, label
