"""Conservation of pages through a modern boot (earlymem.mm.boot_ledger): in
every phase each page has one owner, and the phases agree (RAM = memblock
memory, memblock free = buddy free = managed, managed + reserved = present).
Checked on every committed capture and on hypothesis-generated machines."""

from pathlib import Path

import pytest
from generated import generated_machine, machine_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earlymem.boot.e820 import e820_report
from earlymem.kernels import profile_for
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.mm.boot_ledger import boot_ledger, check_boot_ledger
from earlymem.mm.ledger import LedgerError
from earlymem.oracle.capture import read_capture
from earlymem.pipeline import predict_lines
from earlymem.sources.dmesg import machine_from_boot_log, parse_boot_logs

FIX = Path(__file__).parent / "fixtures"
CAPTURES = sorted(p for d in ("oracle", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "mbdebug") for p in (FIX / d).iterdir() if (p / "serial.log").is_file())
M, G = 1 << 20, 1 << 30


def _check(machine: Machine, version: str, sanitized: bool, who: str = "BIOS-e820") -> dict:
    profile = profile_for(parse_version(version))
    report = e820_report(machine, profile, already_sanitized=sanitized, who=who)
    state: dict = {}
    predict_lines(machine, profile, report, [], state)
    assert "handoff" in state
    ledger = boot_ledger(state["e820"], state["memblock"], state["handoff"], state["end_pfn"])
    check_boot_ledger(ledger, state["memblock"], state["handoff"])
    return state


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_capture_conserves_pages(cap):
    c = read_capture(cap)
    first = parse_boot_logs(c.sections.get("first/dmesg") or c.serial, str(cap))[0]
    _check(machine_from_boot_log(first), first.version, True, first.firmware.who)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **machine_args(64, 4000, 64, ["", "crashkernel=128M", "crashkernel=256M,high", "crashkernel=64M@16M", "crashkernel=1G-:96M"]),
    version=st.sampled_from(["5.10", "6.1", "6.12", "7.2"]),
)
def test_generated_machines_conserve_pages(low_mb, high_gb, holes, nodes, crash, version):
    machine = generated_machine(low_mb, high_gb, holes, nodes, crash, version)
    try:
        state = _check(machine, version, False)
    except Exception as exc:  # a machine the kernel would refuse is not a conservation failure
        if isinstance(exc, LedgerError) or isinstance(exc, AssertionError):
            raise
        return
    assert sum(h.managed for h in state["handoff"]) > 0


def test_a_broken_handoff_is_caught():
    cap = FIX / "oracle" / "pc-4g-ck256-load-crash--6.1"
    c = read_capture(cap)
    first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
    state = _check(machine_from_boot_log(first), first.version, True, first.firmware.who)
    h = state["handoff"][1]
    h.runs[0] = (h.runs[0][0] + 1, h.runs[0][1])  # one free page lost
    ledger = boot_ledger(state["e820"], state["memblock"], state["handoff"], state["end_pfn"])
    with pytest.raises(LedgerError):
        check_boot_ledger(ledger, state["memblock"], state["handoff"])
