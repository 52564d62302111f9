"""One kdump set-up, followed from crashkernel= to the end of the dump.

A :class:`KdumpSetup` is what a machine's kdump is made of: the first kernel's
machine (its command line holds crashkernel=), the capture kernel's build, its
initramfs, kexec's --append and the load method.  :func:`evaluate` follows it
for one crashkernel= value -- the first kernel's boots (one, or one per KASLR
outcome with its probability: :func:`earlymem.kexec.capture.first_boots`),
the load into each (kexec-tools or kexec_file), and the capture kernel's
memory (:mod:`.memory`) -- and says for each outcome how far it gets.
:func:`smallest_size` searches the smallest plain ``crashkernel=SIZE`` that
is ready on every outcome (and stays ready up to a margin above it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from earlymem.kdump.calibration import Calibration, calibration_for, node_count, platform_key
from earlymem.kdump.initrd import InitrdFacts
from earlymem.kdump.memory import CaptureMemory, capture_memory
from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.profile import KernelProfile
from earlymem.kexec.capture import KexecResult, LoadMethod, first_boots, kexec_load
from earlymem.lib.cmdline import CommandLine
from earlymem.machine import Machine
from earlymem.result import BootResult

__all__ = ["KdumpSetup", "Outcome", "Evaluation", "evaluate", "smallest_size", "ready_sizes", "scan_top", "with_crashkernel", "STAGES"]

#: how far a set-up gets, in order; the last is success
STAGES = {
    "no-region": "the first kernel reserves no crash region",
    "load-refused": "kexec cannot load the capture kernel and initramfs into the region",
    "tmpfs": "the initramfs does not fit in rootfs (a tmpfs of half the capture kernel's memory): "
             "\"Initramfs unpacking failed: write error\"",
    "unpack": "the capture kernel runs out of memory while it unpacks the initramfs",
    "marginal": "the unpack ends within the band of what the kernel allocates beside it: it may complete or run out of memory",
    "dump-tmpfs": "makedumpfile's bitmap file does not fit in rootfs beside the initramfs: \"No space left on device\"",
    "dump": "the capture kernel runs out of memory while makedumpfile runs",
    "unknown": "the capture kernel boots, but its build's own memory use is not measured",
    "ready": "the capture kernel boots and has the memory to dump",
}


@dataclass(frozen=True)
class KdumpSetup:
    """What a machine's kdump is made of.

    :param machine: the first kernel's machine; its command line's crashkernel= is the one evaluated
        unless :func:`evaluate` is given another.
    :param running: the first kernel's build (None: the pinned build its release names).
    :param capture: the capture kernel's build (None: unknown; the load is then not followed).
    :param initrd: the kdump initramfs (None: unknown; the load and memory steps are then not followed).
    """

    machine: Machine
    profile: KernelProfile
    running: KernelBuild | None
    capture: KernelBuild | None
    initrd: InitrdFacts | None
    append: str
    method: str = LoadMethod.KEXEC_LOAD
    cpus: int = 1
    crash_cpu: int | None = 0

    @property
    def calibration(self) -> Calibration | None:
        return calibration_for(self.capture.release) if self.capture is not None else None


@dataclass(frozen=True)
class Outcome:
    """One way the first kernel boots (with its probability), and how far the dump gets."""

    probability: Fraction
    first: BootResult
    stage: str
    load: KexecResult | None = None
    memory: CaptureMemory | None = None

    @property
    def ready(self) -> bool:
        return self.stage == "ready"


@dataclass(frozen=True)
class Evaluation:
    crashkernel: str | None
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()

    @property
    def p_ready(self) -> Fraction:
        return sum((o.probability for o in self.outcomes if o.ready), Fraction(0))

    @property
    def ready(self) -> bool:
        return all(o.ready for o in self.outcomes)

    @property
    def stage(self) -> str:
        """"ready" when every outcome is, else the first outcome's stage that is not."""
        return next((o.stage for o in self.outcomes if not o.ready), "ready")


def scan_top(setup: KdumpSetup) -> int:
    """How far sizes are scanned by default: half the RAM the firmware map gives."""
    return sum(e.size for e in setup.machine.e820 if int(e.type) == 1) // 2


def with_crashkernel(machine: Machine, value: str | None) -> Machine:
    """``machine`` with its crashkernel= words replaced by ``crashkernel=value`` (None: none);
    what a running system observed of its own region no longer applies."""
    words = [w for w in machine.command_line.text.split() if not w.startswith("crashkernel=")]
    if value is not None:
        words.append(f"crashkernel={value}")
    return dataclasses.replace(machine, command_line=CommandLine(" ".join(words)), crash_observed=None)


def evaluate(setup: KdumpSetup, crashkernel: str | None = "as configured") -> Evaluation:
    """Follow ``setup`` with crashkernel=``crashkernel`` (the machine's own by default)."""
    machine = setup.machine if crashkernel == "as configured" else with_crashkernel(setup.machine, crashkernel)
    shown = machine.command_line.get("crashkernel") if crashkernel == "as configured" else crashkernel
    candidates, notes = first_boots(machine, setup.profile, setup.running)
    outcomes = []
    for first, p in candidates:
        outcomes.append(_follow(setup, machine, first, p))
    return Evaluation(shown, tuple(outcomes), tuple(notes))


def _follow(setup: KdumpSetup, machine: Machine, first: BootResult, p: Fraction) -> Outcome:
    if not first.crash:
        return Outcome(p, first, "no-region")
    if setup.capture is None or setup.initrd is None:
        return Outcome(p, first, "unknown")
    load = kexec_load(machine, first, setup.capture, profile=setup.profile,
                      initrd_size=setup.initrd.size if setup.initrd else None, append=setup.append, method=setup.method,
                      running=setup.running, cpus=setup.cpus, crash_cpu=setup.crash_cpu)
    if not load.loaded:
        return Outcome(p, first, "load-refused", load)
    if load.capture is None or not load.capture.zones:
        return Outcome(p, first, "unknown", load)
    numa_off = load.capture.command_line and "numa=off" in load.capture.command_line.split()
    nodes = 1 if numa_off else node_count(setup.machine)
    mem = capture_memory(load.capture, setup.initrd, setup.calibration, first.max_pfn or 0, setup.capture.image_frees, nodes,
                         platform_key(setup.machine.dmi))
    stage = mem.failure or ("ready" if mem.known else "unknown")
    return Outcome(p, first, stage, load, mem)


def ready_sizes(setup: KdumpSetup, *, step: int = 4 << 20, low: int = 16 << 20, high: int | None = None,
                until: Callable[[int, Evaluation], bool] | None = None) -> list[tuple[int, Evaluation]]:
    """Every multiple of ``step`` from ``low`` up to ``high`` (default: half the RAM) with its
    evaluation, in order, stopping early when ``until(size, evaluation)`` says so.

    Sizes are tried one by one, not bisected: a larger region does not always do better.  On a
    NUMA machine whose SRAT names memory above 4 GiB, the capture kernel sets up a 64 MiB
    SWIOTLB whenever its region has room for one (pci_swiotlb_detect(): max_possible_pfn is
    above 4 GiB), so crashkernel=136M can fail where 84M works (tests/fixtures/dumps,
    dump-numa2-16g-small-load)."""
    top = (high or scan_top(setup)) // step
    out = []
    for k in range(max(1, low // step), top + 1):
        ev = evaluate(setup, f"{k * step >> 20}M")
        out.append((k * step, ev))
        if until is not None and until(k * step, ev):
            break
    return out


def smallest_size(setup: KdumpSetup, *, step: int = 4 << 20, low: int = 16 << 20, high: int | None = None,
                  margin: Callable[[int], int] = lambda size: 0) -> tuple[int | None, Evaluation | None, int | None]:
    """The smallest multiple of ``step`` whose ``crashkernel=SIZE`` is ready on every outcome, and stays
    ready for every step up to SIZE + ``margin(SIZE)``; its evaluation; and the smallest ready size of
    all (a smaller one, when a cliff lies inside its margin).  (None, None, ...) if none is, up to
    ``high`` (default: half the RAM).  One scan serves both."""
    run_start: list[int | None] = [None]
    found: list[tuple[int, Evaluation]] = []
    evals: dict[int, Evaluation] = {}
    first: list[int] = []

    def until(size: int, ev: Evaluation) -> bool:
        evals[size] = ev
        if not ev.ready:
            run_start[0] = None
            return False
        first[:] = first or [size]
        if run_start[0] is None:
            run_start[0] = size
        start = run_start[0]
        if size >= start + margin(start):
            found.append((start, evals[start]))
            return True
        return False

    ready_sizes(setup, step=step, low=low, high=high, until=until)
    alone = first[0] if first else None
    return (*found[0], alone) if found else (None, None, alone)
