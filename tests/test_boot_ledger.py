"""Conservation of pages through a modern boot (earlymem.mm.boot_ledger): in
every phase each page has one owner, and the phases agree (RAM = memblock
memory, memblock free = buddy free = managed, managed + reserved = present).
Checked on every committed capture and on hypothesis-generated machines."""

from pathlib import Path

import pytest
from generated import generated_machine, machine_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earlymem.result import BootResult
from earlymem.kernels import profile_for
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.mm.ledger import Ledger, LedgerError
from earlymem.sources.capture import read_capture
from earlymem.pipeline import boot
from earlymem.sources.dmesg import machine_from_boot_log, parse_boot_logs

FIX = Path(__file__).parent / "fixtures"
CAPTURES = sorted(p for d in ("oracle", "holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6", "mbdebug") for p in (FIX / d).iterdir() if (p / "serial.log").is_file())
M, G = 1 << 20, 1 << 30


def _check(machine: Machine, version: str) -> BootResult:
    """boot() checks the ledger itself (earlymem.pipeline); the result carries
    its phases, which are checked again here from the result alone."""
    result = boot(machine, profile_for(parse_version(version)))
    assert [p.name for p in result.ledger] == ["firmware", "memblock", "buddy"]
    ledger = Ledger(result.max_pfn)
    for phase in result.ledger:
        ledger.add_phase(phase.name, [(Range(s, e), o) for s, e, o in phase.owners])
    ledger.check()
    free = sum(e - s for s, e, o in result.ledger[2].owners if o.startswith("free"))
    assert free == sum(z.managed_at_handoff for z in result.zones) == sum(e - s for s, e in result.freed_runs)
    return result


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_capture_conserves_pages(cap):
    c = read_capture(cap)
    first = parse_boot_logs(c.sections.get("first/dmesg") or c.serial, str(cap))[0]
    _check(machine_from_boot_log(first), first.version)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **machine_args(64, 4000, 64, ["", "crashkernel=128M", "crashkernel=256M,high", "crashkernel=64M@16M", "crashkernel=1G-:96M"]),
    version=st.sampled_from(["5.10", "6.1", "6.12", "7.2"]),
)
def test_generated_machines_conserve_pages(low_mb, high_gb, holes, nodes, crash, version):
    machine = generated_machine(low_mb, high_gb, holes, nodes, crash, version)
    try:
        result = _check(machine, version)
    except Exception as exc:  # a machine the kernel would refuse is not a conservation failure
        if isinstance(exc, LedgerError) or isinstance(exc, AssertionError):
            raise
        return
    assert sum(z.managed_at_handoff for z in result.zones) > 0


def test_a_broken_handoff_is_caught(monkeypatch):
    # the pipeline checks conservation on every boot: a hand-off that loses one
    # free page makes boot() fail loudly instead of returning a result
    import earlymem.pipeline as pipeline

    cap = FIX / "oracle" / "pc-4g-ck256-load-crash--6.1"
    c = read_capture(cap)
    first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
    real = pipeline.memblock_free_all

    def lossy(mb, zones, max_pfn):
        handoff = real(mb, zones, max_pfn)
        h = handoff[1]
        h.runs[0] = (h.runs[0][0] + 1, h.runs[0][1])  # one free page lost
        return handoff

    monkeypatch.setattr(pipeline, "memblock_free_all", lossy)
    with pytest.raises(LedgerError):
        boot(machine_from_boot_log(first))
