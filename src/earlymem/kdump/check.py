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

import dataclasses

from earlymem.kdump.evaluate import STAGES, Evaluation, KdumpSetup, Outcome, evaluate
from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.eras import check_known
from earlymem.lib.errors import InputError
from earlymem.lib.version import parse_version
from earlymem.kdump.calibration import percpu_chunk_bytes
from earlymem.kdump.memory import CaptureMemory
from earlymem.phases.crashkernel import parse_crashkernel
from earlymem.result import BootResult, to_json_value

__all__ = ["SCHEMA", "Finding", "Part", "Missing", "CheckResult", "check", "check_observed", "NextKernel", "next_kernel",
           "NETWORK_TARGETS"]

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


def _load_part(setup: KdumpSetup, ev: Evaluation, crash_loaded: tuple[str, str] | None = None) -> Part:
    tried = [o for o in ev.outcomes if o.first.crash]
    if not tried:
        return Part("load", "skipped", (Finding("no-region", "No crash region: nothing to load into."),))
    part = _placement(setup, tried)
    now = _loaded_now(crash_loaded)
    if now is None:
        return part
    if now.code == "not-loaded-now":
        return Part("load", "fail", (now, *part.findings))
    return Part(part.name, part.status, (*part.findings, now))


def _loaded_now(crash_loaded: tuple[str, str] | None) -> Finding | None:
    """What /sys/kernel/kexec_crash_loaded says ("0" or "1", and where), None when the source does not show it."""
    if crash_loaded is None or crash_loaded[0] not in ("0", "1"):
        return None
    value, where = crash_loaded
    if value == "1":
        return Finding("loaded-now", "A capture kernel is loaded now.", (f"{where}: 1",))
    return Finding("not-loaded-now", "No capture kernel is loaded now: the kdump service has not loaded one (or failed to), "
                   "so a crash now would not be dumped.", (f"{where}: 0",),
                   "start the kdump service (kdumpctl start, kdump-config load, systemctl start kdump) and read its log")


def _placement(setup: KdumpSetup, tried: list[Outcome]) -> Part:
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
    if m.failure == "tmpfs":
        out.append(Finding("tmpfs", f"The initramfs unpacks to {_mb(m.unpacked)}, but rootfs (a tmpfs) may hold only half of the "
                           f"capture kernel's {_mb(m.handoff)}: {_mb(m.tmpfs_limit)}. Unpacking stops with \"Initramfs unpacking "
                           "failed: write error\" and /init is incomplete.", evidence,
                           f"a crash region at least {_mb(-2 * m.tmpfs_margin)} larger, or a smaller initramfs"))
        return out
    if m.tmpfs_margin < 0:
        out.append(Finding("tmpfs-late", f"The initramfs unpacks to {_mb(m.unpacked)} and rootfs may hold only {_mb(m.tmpfs_limit)}, "
                           "but the capture kernel's memory runs out before rootfs is full.", evidence))
    else:
        out.append(Finding("tmpfs-ok", f"The initramfs unpacks to {_mb(m.unpacked)}; rootfs may hold {_mb(m.tmpfs_limit)}.", evidence))
    if m.runtime is None:
        out.append(Finding("runtime-unmeasured", "This capture kernel build's own memory use after the hand-off is not measured "
                           "(earlymem knows it for the builds in tests/fixtures/dumps/calibrate), so whether the unpack and the "
                           f"dump fit is open: {_mb(m.total - m.unpacked)} remain after the files, before the kernel's own use.",
                           evidence))
        return out
    used = (f"the build's own use after the hand-off, {_mb(m.unpack_runtime)} by the end of the unpack" if m.unpack_runtime is not None
            else f"the build's own use after the hand-off, {_mb(m.runtime)} at /init")
    chunk = (f"the percpu allocator's second chunk ({_mb(percpu_chunk_bytes())}, made by pcpu_balance_populated() with "
             "__GFP_NORETRY)")
    basis = evidence + ((f"the band: {m.unpack_basis}",) if m.unpack_basis else ()) + (f"calibration: {m.calibration}",)
    waits = m.chunk_waits
    if waits == "yes":
        out.append(Finding("unpack-chunk-waits", f"The unpack ends with {_mb(m.room)} free above the min watermarks before the "
                           f"kernel's own use: too little for all of it ({_mb(m.unpack_runtime)}), but so little that {chunk} "
                           "cannot be made before the unpack's end and waits for the init sections' frees, as it did on the "
                           f"calibration machine with {_mb(m.deferral.at_most)} to {_mb(m.deferral.up_to)}: the unpack completes.",
                           basis, f"a region whose unpack ends with {_mb(m.unpack_runtime)} free does not depend on the chunk "
                           "waiting (earlymem recommend finds the smallest; a region only a little larger can fail)"))
    elif waits == "maybe":
        out.append(Finding("marginal", f"The unpack ends with {_mb(m.room)} free above the min watermarks before the kernel's own "
                           f"use. On the calibration machine {chunk} waited for the init sections' frees, and boots dumped, with "
                           f"{_mb(m.deferral.at_most)} to {_mb(m.deferral.up_to)}; it was made early, and they ran out of memory, "
                           f"from {_mb(m.deferral.made_from)} up; this region lies where neither was measured, so it may run out "
                           "of memory (\"System is deadlocked on memory\").", basis,
                           f"a crash region at least {_mb(-m.unpack_margin)} larger makes it certain"))
        return out
    if waits is None and m.unpack_margin < 0 and m.unpack_margin_low is not None and m.unpack_margin_low > 0:
        high = m.unpack_runtime if m.unpack_runtime is not None else m.runtime
        out.append(Finding("marginal", f"The unpack ends on the edge: {_mb(-m.unpack_margin)} short of the min watermarks if the kernel "
                           f"has allocated {_mb(high)} by then, {_mb(m.unpack_margin_low)} to spare if only {_mb(m.runtime_low)}; "
                           "earlymem's calibration brackets what it allocates by the end of the unpack no closer than that, so it "
                           "cannot say which side this region falls on: it may run out of memory (\"System is deadlocked on memory\").",
                           basis,
                           f"a crash region at least {_mb(-m.unpack_margin)} larger makes it certain"))
        return out
    if waits is None and m.unpack_margin < 0:
        out.append(Finding("unpack", f"While it unpacks the initramfs (the compressed {_mb(m.initrd)} still held, the image's init "
                           f"sections not yet freed) the capture kernel is {_mb(-m.unpack_margin)} short of its min watermarks, "
                           f"counting {used}: it runs out of memory (\"System is deadlocked on memory\").",
                           evidence + (f"calibration: {m.calibration}",),
                           f"a crash region at least {_mb(-m.unpack_margin)} larger"))
        return out
    if waits is None:
        out.append(Finding("unpack-ok", f"After the unpack {_mb(m.unpack_margin)} stay above the min watermarks, counting {used}.", evidence))
    if m.dump_tmpfs_margin < 0:
        out.append(Finding("dump-tmpfs", f"makedumpfile keeps its bitmaps in a {_mb(m.dump_file)} file under /tmp (it works in one "
                           f"cycle on a machine this size), but rootfs has only {_mb(m.tmpfs_margin)} left beside the initramfs: "
                           "\"Can't write the bitmap ... No space left on device\", and the dump fails.", evidence,
                           f"a crash region at least {_mb(-2 * m.dump_tmpfs_margin)} larger (rootfs gets half of it), or "
                           "TMPDIR on a real disk for makedumpfile"))
        return out
    if m.dump_margin < 0 and m.dump_margin_low >= 0:
        out.append(Finding("marginal", f"makedumpfile needs {_mb(m.dump - m.dump_own)} for its bitmaps and {_mb(m.dump_own_low)} to "
                           f"{_mb(m.dump_own)} more of its own; with {_mb(m.memfree_at_init)} free at /init the capture kernel is on the edge: "
                           f"{_mb(-m.dump_margin)} short at most, {_mb(m.dump_margin_low)} to spare at least.", evidence,
                           f"a crash region at least {_mb(-m.dump_margin)} larger makes it certain"))
    elif m.dump_margin < 0:
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
    tlb = sum(a.size for a in o.load.capture.allocations if a.purpose == "swiotlb")
    if tlb:
        findings.append(Finding("swiotlb", f"The capture kernel sets aside {_mb(tlb)} of its region for the SWIOTLB bounce "
                                   "buffer (the SRAT names memory above 4 GiB, so pci_swiotlb_detect() asks for one); a region "
                                   "with room for it can do worse than a smaller one that has none.",
                                   tuple(o.load.capture.lines_of("swiotlb")),
                                   "swiotlb=noforce on the capture kernel's command line, if its devices need no bounce buffer"))
    if o.memory.known and o.memory.platform is None:
        findings.append(Finding("calibrated-elsewhere", "The build's own memory use after the hand-off was measured on QEMU's pc "
                                "and q35 machines (tests/fixtures/dumps/calibrate); this machine is neither, and its capture kernel "
                                "probes its own devices, which may take more or less than theirs: the margins above carry that "
                                "uncertainty, and a margin of a few MiB is no more than a good sign.", ()))
    failure = o.memory.failure
    status = "marginal" if failure == "marginal" else "fail" if failure else "ok" if o.memory.known else "unknown"
    return Part("capture kernel", status, tuple(findings))


#: kdump.conf directives whose dump needs the network in the capture kernel (rhkdump/kdump-utils kdump.conf.5)
NETWORK_TARGETS = ("nfs", "ssh")


def _with_targets(part: Part, targets) -> Part:
    """What kdump.conf's target adds to the capture kernel's part.  The calibration's capture kernels dump
    into a pipe; a network target also brings up drivers, DHCP and the NFS or SSH client, whose memory
    is not measured: a capture kernel the model finds ready is then not confirmed (kdump-utils found
    NFS dumps need at least 238 MiB with its RHEL 10 initramfs: rhkdump/kdump-utils#74)."""
    net = [(d, v, w) for d, v, w in targets if d in NETWORK_TARGETS]
    crypt = [(d, v, w) for d, v, w in targets if d == "dracut_args" and "crypt" in v]
    extra: list[Finding] = []
    status = part.status
    if net:
        d, v, w = net[0]
        extra.append(Finding("network-target", f"The dump goes over the network ({d} {v}): the capture kernel also brings up "
                             "its network drivers, DHCP and the client, whose memory earlymem's calibration (a dump into a pipe) "
                             "does not hold; kdump-utils found NFS dumps need at least 238 MiB (rhkdump/kdump-utils#74).",
                             (f"{w}: {d} {v}",), "confirm with a test crash (echo c > /proc/sysrq-trigger on a machine that may go down)"))
        status = "unknown" if status == "ok" else status
    if crypt:
        d, v, w = crypt[0]
        extra.append(Finding("luks-target", "The kdump initramfs unlocks an encrypted device: LUKS2's Argon2 key derivation "
                             "takes the keyslot's Memory (often 1 GiB) in the capture kernel (kdumpctl estimate adds it, plus "
                             "20 MiB); `cryptsetup luksDump` of the dump device gives it, which the source does not hold.",
                             (f"{w}: {d} {v}",), "a keyslot with a small Argon2 memory cost for kdump, or a crash region that holds it"))
        status = "unknown" if status == "ok" else status
    if not extra:
        return part
    return Part(part.name, status, (*part.findings, *extra))


def _corruption_part(ev: Evaluation) -> Part:
    first = ev.outcomes[0].first
    if not first.crash:
        return Part("corruption risk", "skipped", (Finding("no-region", "No crash region."),))
    placed = {(a.start, a.end) for a in first.allocations if a.purpose == "crashkernel"}
    if any((c.start, c.end) not in placed for c in first.crash if not c.low):
        where = ", ".join(f"[mem {c.start:#010x}-{c.end - 1:#010x}]" for c in first.crash)
        if first.pipeline == "modern":
            # reserve_crashkernel() takes the region with memblock_phys_alloc_range() (arch/x86/kernel/setup.c in
            # 5.10-6.6, kernel/crash_reserve.c reserve_crashkernel_generic() from 6.7): from then on no early
            # allocation can take it, and memblock_free_all() never hands a reserved page to the page allocator
            return Part("corruption risk", "ok", (Finding(
                "reserved-by-memblock", f"The crash region ({where}) is reserved in memblock when it is found, so nothing the "
                "running kernel allocates later can lie in it; the bootmem-era overlap (the 2011 failure) cannot happen here. "
                "(The source lacks the boot's log, so the early reservations themselves are not compared.)"),))
        return Part("corruption risk", "unknown", (Finding(
            "not-this-boot", f"The running system's crash region ({where}) is not where earlymem's prediction of this boot puts "
            "it, so the prediction's early reservations are not this boot's and cannot be set against it (the source lacks "
            "facts of the boot: its log).", _crash_lines(first)),))
    findings = []
    for c in first.crash:
        hits = [a for a in first.allocations if a.start < c.end and c.start < a.end and a.purpose != "crashkernel"]
        img = first.kernel_image
        names = [f"{a.purpose} [mem {a.start:#x}-{a.end - 1:#x}] ({a.phase})" for a in hits]
        if img and img[0] < c.end and c.start < img[1]:
            names.insert(0, "the kernel image")
        if names:
            findings.append(Finding("overlap", f"The crash region [mem {c.start:#010x}-{c.end - 1:#010x}] overlaps memory the running "
                                    f"kernel owns: {', '.join(names)}. Loading the capture kernel would overwrite it (the 2011 failure).",
                                    _crash_lines(first), "report it: the kernel must not hand out reserved memory"))
    if findings:
        return Part("corruption risk", "fail", tuple(findings))
    return Part("corruption risk", "ok", (Finding("no-overlap", "The crash region overlaps none of the running kernel's early "
                                                  "reservations or its image (memblock keeps it reserved)."),))


def _next_part(next_kernels: tuple[NextKernel, ...] | None) -> Part:
    if next_kernels is None:
        return Part("next kernels", "unknown", (Finding("no-boot-listing", "The source lists no other installed kernels."),))
    if not next_kernels:
        return Part("next kernels", "ok", (Finding("none-installed", "No other kernel is installed."),))
    findings = tuple(Finding(f"next-{k.verdict or 'unknown'}", f"{k.release}: {k.why}",
                             fix="keep kdump's crashkernel= and initramfs for it in step, or hold the upgrade"
                             if k.verdict == "not_ready" else None) for k in next_kernels)
    bad = any(k.verdict == "not_ready" for k in next_kernels)
    return Part("next kernels", "fail" if bad else "ok" if all(k.verdict == "ready" for k in next_kernels) else "unknown", findings)


def check_observed(source: str, observed: list[tuple[str, str, str]], missing: tuple[Missing, ...]) -> CheckResult:
    """What a source without a firmware map shows for itself: crashkernel= on the command line, the
    region the running kernel reserved (kexec_crash_size), a capture kernel loaded or not."""
    seen = {name: (value, where) for name, value, where in observed}
    cmd = seen.get("cmdline", ("", None))[0]
    crashkernel = next((w.split("=", 1)[1] for w in cmd.split() if w.startswith("crashkernel=")), None)
    size = seen.get("kexec_crash_size")
    loaded = seen.get("kexec_crash_loaded")
    region: list[Finding] = []
    status = "unknown"
    if size is not None and size[0].isdigit() and int(size[0]) == 0:
        status = "fail"
        region.append(Finding("not-reserved", "The running kernel reserved no crash region." + (
            "" if crashkernel else " The command line has no crashkernel=."), (f"{size[1]}: 0", f"command line: {cmd}"),
            "add crashkernel=SIZE to the kernel command line" if not crashkernel else
            "read the boot log's crashkernel lines for why (earlymem check on the log tells it)"))
    elif size is not None and size[0].isdigit():
        status = "ok"
        region.append(Finding("reserved", f"The running kernel reserved {_mb(int(size[0]))}; where is not in the source.",
                              (f"{size[1]}: {size[0]}",)))
    else:
        region.append(Finding("region-unknown", "The source does not show whether a crash region was reserved.",
                              (f"command line: {cmd}",) if cmd else ()))
    now = _loaded_now(loaded)
    load_status = "unknown" if now is None else "ok" if now.code == "loaded-now" else "fail"
    load = [now or Finding("load-unknown", "The source does not show whether a capture kernel is loaded.")]
    open_ = Finding("not-followed", "Not followed: the source has no firmware map to predict the capture kernel from.")
    parts = (Part("crash region", status, tuple(region)), Part("load", load_status, tuple(load)),
             Part("capture kernel", "unknown", (open_,)), Part("corruption risk", "unknown", (open_,)),
             Part("next kernels", "unknown", (open_,)))
    if "fail" in (status, load_status):
        verdict = "not_ready"
        summary = next(f.words for p in parts if p.status == "fail" for f in p.findings)
    else:
        verdict, summary = "unknown", "cannot be confirmed: the source has no firmware map (see missing)"
    return CheckResult(verdict, summary, source, None, crashkernel, parts, missing)


def next_kernel(setup: KdumpSetup, release: str, build: KernelBuild | None) -> NextKernel:
    """``setup`` with another installed kernel as both the running and the capture kernel (its kdump
    initramfs taken to be the current one: it is built when that kernel first runs kdump)."""
    if build is None:
        return NextKernel(release, None, "installed, but earlymem has no facts for this build (its image is not in the source)")
    try:
        version = parse_version(release)
        profile = check_known(version)
    except InputError as exc:
        return NextKernel(release, None, f"not checked: {exc.message if hasattr(exc, 'message') else exc}")
    machine = dataclasses.replace(setup.machine, kernel_version=version, kernel_banner=None, kernel_load_addr=None,
                                  kernel_at_from=None, crash_observed=None)
    other = dataclasses.replace(setup, machine=machine, profile=profile, running=build, capture=build)
    ev = evaluate(other)
    stages = sorted({o.stage for o in ev.outcomes})
    if ev.ready:
        return NextKernel(release, "ready", "ready with the same crashkernel= and initramfs")
    if "marginal" in stages and all(s in ("ready", "marginal") for s in stages):
        return NextKernel(release, "marginal", STAGES["marginal"])
    bad = next(o for o in ev.outcomes if o.stage not in ("ready", "marginal"))
    if bad.stage == "unknown":
        return NextKernel(release, None, STAGES["unknown"])
    share = "" if len(ev.outcomes) == 1 else f" on {float(1 - ev.p_ready) * 100:.3g}% of KASLR boots"
    return NextKernel(release, "not_ready", f"would break kdump{share}: {STAGES[bad.stage]}")


def check(setup: KdumpSetup, *, source: str, missing: tuple[Missing, ...] = (), next_kernels: tuple[NextKernel, ...] | None = None,
          notes: tuple[str, ...] = (), crash_loaded: tuple[str, str] | None = None,
          targets: list[tuple[str, str, str]] = (), evaluation: Evaluation | None = None) -> CheckResult:
    """Check ``setup`` with its own crashkernel= (see the module's text); ``crash_loaded`` is
    /sys/kernel/kexec_crash_loaded as the source shows it, and where; ``targets`` kdump.conf's
    target lines (earlymem.kdump.gather.kdump_targets()); ``evaluation``: ``evaluate(setup)`` where the
    caller has it already."""
    ev = evaluation if evaluation is not None else evaluate(setup)
    parts = (_region_part(setup, ev), _load_part(setup, ev, crash_loaded), _with_targets(_capture_part(ev), targets),
             _corruption_part(ev), _next_part(next_kernels))
    now = parts[:4]
    if any(p.status == "fail" for p in now):
        verdict = "not_ready"
        first_fail = next(p for p in now if p.status == "fail")
        summary = next((f.words for f in first_fail.findings if f.fix is not None), first_fail.findings[-1].words)
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
