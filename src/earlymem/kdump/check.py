"""``earlymem check``: will kdump work on this machine, and if not, why.

:func:`check` takes a :class:`~earlymem.kdump.evaluate.KdumpSetup` (gathered
from a live system, a sosreport or a boot log: :mod:`earlymem.kdump.gather`)
and answers in five parts, in this order -- the crash region, the load, the
capture kernel's memory, corruption risk, the next kernels -- each with its
findings (plain words, the kernel lines that show them, and the change that
fixes them).  The verdict is ``ready`` only when every part is known to pass;
``not_ready`` when one is known to fail; ``marginal`` when the capture
kernel's unpack lies in the band the model cannot decide (earlymem.kdump.memory);
``unknown`` when a missing input leaves a part open (each missing input is named, with what it would change).

The result is typed data; :meth:`CheckResult.to_json` is schema
``earlymem/check/1`` (docs/json-schema.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from earlymem.kdump.evaluate import STAGES, Evaluation, KdumpSetup, Outcome, evaluate
from earlymem.kdump.memory import CaptureMemory
from earlymem.phases.crashkernel import parse_crashkernel
from earlymem.result import BootResult, to_json_value

__all__ = ["SCHEMA", "Finding", "Part", "Missing", "CheckResult", "check", "NextKernel"]

SCHEMA = "earlymem/check/1"
MiB = 1 << 20


@dataclass(frozen=True)
class Finding:
    """One reason: ``code`` for machines, ``words`` for people, the kernel lines (or file lines)
    that show it, and the change that fixes it (None: nothing to fix)."""

    code: str
    words: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None


@dataclass(frozen=True)
class Part:
    """One part of the answer: ``status`` is ``ok``, ``fail``, ``marginal``, ``unknown`` or ``skipped``."""

    name: str
    status: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Missing:
    """An input the source lacks, and what it would change."""

    what: str
    changes: str


@dataclass(frozen=True)
class NextKernel:
    """Another installed kernel, checked the same way (``verdict`` None: it could not be)."""

    release: str
    verdict: str | None
    why: str


@dataclass(frozen=True)
class CheckResult:
    verdict: str
    summary: str
    source: str
    kernel: str | None
    crashkernel: str | None
    parts: tuple[Part, ...]
    missing: tuple[Missing, ...] = ()
    notes: tuple[str, ...] = ()
    #: the probability that the configured crash region is reserved and the dump fits (KASLR: over the slots)
    p_ready: str | None = None
    schema: str = field(default=SCHEMA)

    @property
    def exit_status(self) -> int:
        return 0 if self.verdict == "ready" else 1

    def to_json(self) -> dict:
        return to_json_value(self)


def _mb(n: int) -> str:
    """Bytes for people: MiB with one decimal (GiB from 10 GiB)."""
    return f"{n / (1 << 30):.1f} GiB" if abs(n) >= 10 << 30 else f"{n / MiB:.1f} MiB"


def _crash_lines(first: BootResult) -> tuple[str, ...]:
    return tuple(first.lines_of("crashkernel"))


def _region_part(setup: KdumpSetup, ev: Evaluation) -> Part:
    machine = setup.machine
    cmd = machine.command_line.text
    first = ev.outcomes[0].first
    total = sum(r.end - r.start for r in first.memory)
    req = parse_crashkernel(cmd, total, setup.profile) if total else None
    lines = _crash_lines(first)
    fix_add = "add crashkernel=SIZE to the kernel command line (`earlymem recommend` gives the size)"
    if req is None:
        return Part("crash region", "fail", (Finding("not-requested", "No crash region is requested: the kernel command line has no "
                                                     "crashkernel= (or only a ,low part, which the kernel ignores alone).",
                                                     (f"command line: {cmd}",), fix_add),))
    if req.error:
        return Part("crash region", "fail", (Finding("bad-crashkernel", "The kernel rejects this crashkernel= value and reserves nothing.",
                                                     tuple(req.warnings) or (f"command line: {cmd}",), fix_add),))
    if not req.size and not req.alternatives:
        return Part("crash region", "fail", (Finding(
            "range-list-zero", f"crashkernel={machine.command_line.get('crashkernel')} gives no size for this machine's "
            f"{_mb(total)} of RAM (as the kernel counts it): no range of the list covers it, so nothing is reserved.",
            (f"command line: {cmd}",), "extend the range list to cover this RAM size, or give a plain size"),))
    findings = []
    ready_share = sum((o.probability for o in ev.outcomes if o.first.crash), Fraction(0))
    for o in ev.outcomes[:1]:
        if o.first.crash:
            where = ", ".join(f"{_mb(c.end - c.start)} at [mem {c.start:#010x}-{c.end - 1:#010x}]" + (" (low)" if c.low else "")
                              for c in o.first.crash)
            findings.append(Finding("reserved", f"The kernel reserves {where}.", lines))
    if ready_share < 1:
        failed = next(o for o in ev.outcomes if not o.first.crash)
        if failed.first.crash_requested is not None:
            s, e = failed.first.crash_requested
            words = (f"The fixed base of crashkernel= ([mem {s:#010x}-{e - 1:#010x}]) collides with memory already in use "
                     "(the kernel image, the initrd or firmware), so the reservation fails.")
            code, fix = "fixed-base-collision", "drop the @offset (let the kernel choose the place), or move it clear of the image"
        else:
            words = "No free block of the requested size is left in the window the kernel searches, so the reservation fails."
            code, fix = "no-free-block", "ask for less, or use crashkernel=SIZE,high with a ,low part"
        if ready_share > 0:
            pct = float(1 - ready_share) * 100
            words = (f"On {pct:.3g}% of boots (KASLR draws the kernel's place; exact over its slots) the reservation fails: "
                     + words[0].lower() + words[1:])
            code = "kaslr-sometimes"
        findings.append(Finding(code, words, _crash_lines(failed.first), fix))
        return Part("crash region", "fail", tuple(findings))
    return Part("crash region", "ok", tuple(findings))


def _load_part(setup: KdumpSetup, ev: Evaluation) -> Part:
    tried = [o for o in ev.outcomes if o.first.crash]
    if not tried:
        return Part("load", "skipped", (Finding("no-region", "No crash region: nothing to load into."),))
    how = "kexec -s -p (kexec_file_load: the running kernel places the segments)" if setup.method == "kexec_file_load" \
        else "kexec -p (kexec-tools 2.0.25 places the segments)"
    if setup.initrd is None or setup.capture is None:
        what = "kdump initramfs" if setup.initrd is None else "capture kernel's image"
        return Part("load", "unknown", (Finding("load-unknown", f"The {what} is not known, so the load ({how}) is not placed."),))
    bad = [o for o in tried if o.stage == "load-refused"]
    if bad:
        o = bad[0]
        return Part("load", "fail", (Finding("load-refused", f"{how} fails: the capture kernel ({_mb(setup.capture.header.init_size)} "
                                             f"to decompress into) and the {_mb(setup.initrd.size)} initramfs do not fit in the region.",
                                             (o.load.error,), "a larger crash region, or a smaller kdump initramfs"),))
    o = tried[0]
    segs = ", ".join(f"{s.name} at {s.mem:#x} ({_mb(s.memsz)})" for s in o.load.segments if s.name in ("kernel", "initrd"))
    return Part("load", "ok", (Finding("loaded", f"{how} fits: {segs}.", tuple(o.load.segment_lines[:6])),))


def _memory_words(m: CaptureMemory) -> list[Finding]:
    out = []
    evidence = (f"managed at the hand-off {_mb(m.handoff)}, MemTotal {_mb(m.total)}, min watermarks {_mb(m.min_watermark)}",)
    if m.tmpfs_margin < 0:
        out.append(Finding("tmpfs", f"The initramfs unpacks to {_mb(m.unpacked)}, but rootfs (a tmpfs) may hold only half of the "
                           f"capture kernel's {_mb(m.handoff)}: {_mb(m.tmpfs_limit)}. Unpacking stops with \"Initramfs unpacking "
                           "failed: write error\" and /init is incomplete.", evidence,
                           f"a crash region at least {_mb(-2 * m.tmpfs_margin)} larger, or a smaller initramfs"))
        return out
    out.append(Finding("tmpfs-ok", f"The initramfs unpacks to {_mb(m.unpacked)}; rootfs may hold {_mb(m.tmpfs_limit)}.", evidence))
    if m.runtime is None:
        out.append(Finding("runtime-unmeasured", "This capture kernel build's own memory use after the hand-off is not measured "
                           "(earlymem knows it for the builds in tests/fixtures/dumps/calibrate), so whether the unpack and the "
                           f"dump fit is open: {_mb(m.total - m.unpacked)} remain after the files, before the kernel's own use.",
                           evidence))
        return out
    used = f"the build's own use after the hand-off, {_mb(m.runtime)} at /init"
    if m.unpack_margin < 0 and m.unpack_margin_low is not None and m.unpack_margin_low >= 0:
        out.append(Finding("marginal", f"The unpack ends on the edge: {_mb(-m.unpack_margin)} short of the min watermarks if the kernel "
                           f"has allocated as much as it holds at /init ({_mb(m.runtime)}), {_mb(m.unpack_margin_low)} to spare if "
                           f"only as much as an unpack was seen to compete with ({_mb(m.runtime_low)}). On 6.x the unpack runs "
                           "beside the device initcalls; which side a boot falls on is not predictable: it may run out of memory "
                           "(\"System is deadlocked on memory\").", evidence + (f"calibration: {m.calibration}",),
                           f"a crash region at least {_mb(-m.unpack_margin)} larger makes it certain"))
        return out
    if m.unpack_margin < 0:
        out.append(Finding("unpack", f"While it unpacks the initramfs (the compressed {_mb(m.initrd)} still held, the image's init "
                           f"sections not yet freed) the capture kernel is {_mb(-m.unpack_margin)} short of its min watermarks, "
                           f"counting {used}: it runs out of memory (\"System is deadlocked on memory\").",
                           evidence + (f"calibration: {m.calibration}",),
                           f"a crash region at least {_mb(-m.unpack_margin)} larger"))
        return out
    out.append(Finding("unpack-ok", f"After the unpack {_mb(m.unpack_margin)} stay above the min watermarks, counting {used}.", evidence))
    if m.dump_margin < 0:
        out.append(Finding("dump", f"makedumpfile needs {_mb(m.dump)} here; with {_mb(m.memfree_at_init)} free at /init the capture "
                           f"kernel is {_mb(-m.dump_margin)} short of its min watermarks.", evidence,
                           f"a crash region at least {_mb(-m.dump_margin)} larger"))
    else:
        out.append(Finding("dump-ok", f"/init starts with {_mb(m.memfree_at_init)} free; makedumpfile needs {_mb(m.dump)}, leaving "
                           f"{_mb(m.dump_margin)} above the min watermarks.", evidence))
    return out


def _capture_part(ev: Evaluation) -> Part:
    loaded = [o for o in ev.outcomes if o.load is not None and o.load.loaded]
    if not loaded:
        return Part("capture kernel", "skipped", (Finding("not-loaded", "The capture kernel is not loaded: its memory is not followed."),))
    o = loaded[0]
    if o.memory is None:
        return Part("capture kernel", "unknown", (Finding("memory-unknown", STAGES["unknown"]),))
    findings = _memory_words(o.memory)
    failure = o.memory.failure
    status = "marginal" if failure == "marginal" else "fail" if failure else "ok" if o.memory.known else "unknown"
    return Part("capture kernel", status, tuple(findings))


def _corruption_part(ev: Evaluation) -> Part:
    findings = []
    for o in ev.outcomes[:1]:
        for c in o.first.crash:
            hits = [a for a in o.first.allocations if a.start < c.end and c.start < a.end and "crash" not in a.purpose.lower()]
            img = o.first.kernel_image
            if img and img[0] < c.end and c.start < img[1]:
                hits.append(None)
            if hits:
                names = ", ".join("the kernel image" if a is None else f"{a.purpose} [mem {a.start:#x}-{a.end - 1:#x}]" for a in hits)
                findings.append(Finding("overlap", f"The crash region [mem {c.start:#010x}-{c.end - 1:#010x}] overlaps memory the running "
                                        f"kernel owns: {names}. Loading the capture kernel would overwrite it (the 2011 failure).",
                                        _crash_lines(o.first), "report it: the kernel must not hand out reserved memory"))
    if not ev.outcomes[0].first.crash:
        return Part("corruption risk", "skipped", (Finding("no-region", "No crash region."),))
    if findings:
        return Part("corruption risk", "fail", tuple(findings))
    return Part("corruption risk", "ok", (Finding("no-overlap", "The crash region overlaps none of the running kernel's early "
                                                  "reservations or its image (memblock keeps it reserved)."),))


def _next_part(next_kernels: tuple[NextKernel, ...] | None) -> Part:
    if next_kernels is None:
        return Part("next kernels", "unknown", (Finding("no-boot-listing", "The source lists no other installed kernels."),))
    if not next_kernels:
        return Part("next kernels", "ok", (Finding("none-installed", "No other kernel is installed."),))
    findings = tuple(Finding(f"next-{k.verdict or 'unknown'}", f"{k.release}: {k.why}") for k in next_kernels)
    bad = any(k.verdict == "not_ready" for k in next_kernels)
    return Part("next kernels", "fail" if bad else "ok" if all(k.verdict == "ready" for k in next_kernels) else "unknown", findings)


def check(setup: KdumpSetup, *, source: str, missing: tuple[Missing, ...] = (), next_kernels: tuple[NextKernel, ...] | None = None,
          notes: tuple[str, ...] = ()) -> CheckResult:
    """Check ``setup`` with its own crashkernel= (see the module's text)."""
    ev = evaluate(setup)
    parts = (_region_part(setup, ev), _load_part(setup, ev), _capture_part(ev), _corruption_part(ev), _next_part(next_kernels))
    now = parts[:4]
    if any(p.status == "fail" for p in now):
        verdict = "not_ready"
        first_fail = next(p for p in now if p.status == "fail")
        summary = next(f.words for f in first_fail.findings if f.fix is not None)
    elif any(p.status == "marginal" for p in now):
        verdict = "marginal"
        summary = next(f.words for p in now for f in p.findings if f.code == "marginal")
    elif any(p.status == "unknown" for p in now):
        verdict = "unknown"
        open_part = next(p for p in now if p.status == "unknown")
        summary = f"cannot be confirmed: {open_part.findings[-1].words}"
    else:
        verdict = "ready"
        summary = "the crash region is reserved, the capture kernel loads, and it has the memory to unpack its initramfs and dump"
    release = setup.machine.kernel_version.text if setup.machine.kernel_version else None
    return CheckResult(verdict, summary, source, release, ev.crashkernel, parts, missing, tuple(notes) + ev.notes,
                       str(ev.p_ready) if len(ev.outcomes) > 1 else None)
