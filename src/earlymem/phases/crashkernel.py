"""``crashkernel=``: the kernel's parser, and the reservations that are determined.

Parsing follows kernel/crash_core.c (kernel/crash_reserve.c from v6.7):
``get_last_crashkernel()`` takes the *last* ``crashkernel=`` in the raw command
line whose token does not end in a known suffix (``,high``, ``,low``, ``,cma``);
the extended ``range:size`` syntax is used when a ``:`` comes before the first
space, else the simple ``size[@base]`` syntax.  Warnings are the kernel's
verbatim texts.

Where the reservation lands is decided by a memblock search after every
earlier boot allocation; :mod:`earlymem.phases.setup_arch` replays those (page
tables, printk ring buffer, initrd, NODE_DATA), and the search here follows
arch/x86/kernel/setup.c ``reserve_crashkernel()`` (to v6.6: low window
[16 MiB, 4 GiB) first unless ``,high``, then up to 64 TiB; a fixed base needs
exactly ``[base, base+size)`` free at 1 MiB alignment; above 4 GiB a low part
is reserved too) or kernel/crash_reserve.c ``reserve_crashkernel_generic()``
(v6.7+: CRASH_ALIGN for fixed bases too, fallbacks between the windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import Memblock
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range
from earlymem.lib.units import memparse
from earlymem.machine import Machine

__all__ = ["CrashRequest", "CrashPrediction", "CrashCeiling", "crash_ceilings", "parse_crashkernel", "predict_crashkernel",
           "early_crash_lines"]

SUFFIXES = (",high", ",low", ",cma")  # every suffix some era knows (the era's own: profile.crash.suffixes)
CRASH_ALIGN = 16 << 20
CRASH_ADDR_LOW_MAX = 4 << 30
CRASH_ADDR_HIGH_MAX = 64 << 40
SZ_1M = 1 << 20
#: arch/x86/include/asm/crash_reserve.h (and setup.c before v6.7):
#: max(swiotlb_size_or_default() + 8 MiB, 256 MiB) with the 64 MiB default swiotlb.
DEFAULT_CRASH_KERNEL_LOW_SIZE = 256 << 20


@dataclass
class CrashRequest:
    """What ``crashkernel=`` asks for (size 0: nothing).

    :param fixed: a base was given with ``@``.
    :param high: ``,high`` (or the generic code's fallback above 4 GiB).
    :param low_size: ``,low`` size, None for the default.
    :param warnings: the pr_warn lines printed while parsing, in order.
    """

    size: int = 0
    base: int = 0
    fixed: bool = False
    high: bool = False
    low_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: bool = False
    #: a vendor ``crashkernel=auto`` whose size differs between builds earlymem cannot
    #: tell apart (profile.vendor.auto lists every candidate): the sizes it may be, in
    #: increasing order; ``size`` is 0 then, as no one size is known
    alternatives: tuple[int, ...] = ()
    #: the request came from the vendor's ``crashkernel=auto``
    auto: bool = False


def _last(cmdline: str, suffix: str | None, suffixes: tuple[str, ...] = SUFFIXES) -> str | None:
    """``get_last_crashkernel()``: the text after the chosen ``crashkernel=``."""
    name = "crashkernel="
    chosen = None
    p = cmdline.find(name)
    while p >= 0:
        end = cmdline.find(" ", p)
        token = cmdline[p : end if end >= 0 else len(cmdline)]
        if suffix is None:
            if not token.endswith(suffixes):
                chosen = p
        elif token.endswith(suffix):
            chosen = p
        p = cmdline.find(name, p + 1)
    return None if chosen is None else cmdline[chosen + len(name) :]


def _mem(text: str, pos: int) -> tuple[int, int]:
    r = memparse(text, pos)
    return r.value, r.end


def _parse_simple(text: str, req: CrashRequest) -> None:
    size, cur = _mem(text, 0)
    if cur == 0:
        req.warnings.append("crashkernel: memory value expected")
        req.error = True
        return
    req.size = size
    if text[cur : cur + 1] == "@":
        req.base, cur = _mem(text, cur + 1)
        # A base of 0 (also "size@" with nothing after it) means "search":
        # x86 reserve_crashkernel() tests crash_base <= 0, the generic code !crash_base.
        req.fixed = req.base != 0
    elif cur < len(text) and text[cur] not in " \0":
        req.warnings.append(f"crashkernel: unrecognized char: {text[cur]}")
        req.error = True


def _parse_ranges(text: str, system_ram: int, req: CrashRequest, profile: KernelProfile) -> None:
    """``parse_crashkernel_mem()``: ``start-[end]:size[,...][@offset]``.

    The first range holding System RAM (``start <= ram < end``) gives the
    size; eras with ``crash.range_rounds_128m`` first round System RAM
    up to 128 MiB (firmware keeps some RAM, so 4 GiB machines report 4095 MB).
    """
    if profile.crash.range_rounds_128m:
        system_ram = -(-system_ram // (128 << 20)) * (128 << 20)

    def fail(message: str) -> None:
        req.warnings.append(message)
        req.error = True

    cur = 0
    while True:
        start, tmp = _mem(text, cur)
        if tmp == cur:
            return fail("crashkernel: Memory value expected")
        cur = tmp
        if text[cur : cur + 1] != "-":
            return fail("crashkernel: '-' expected")
        cur += 1
        end = (1 << 64) - 1
        if text[cur : cur + 1] != ":":
            end, tmp = _mem(text, cur)
            if tmp == cur:
                return fail("crashkernel: Memory value expected")
            cur = tmp
            if end <= start:
                return fail("crashkernel: end <= start")
        if text[cur : cur + 1] != ":":
            return fail("crashkernel: ':' expected")
        cur += 1
        size, tmp = _mem(text, cur)
        if tmp == cur:
            return fail("Memory value expected")
        cur = tmp
        if size >= system_ram:
            return fail("crashkernel: invalid size")
        if start <= system_ram < end:
            req.size = size
            break
        more = text[cur : cur + 1] == ","
        cur += 1
        if not more:
            break
    if req.size > 0:
        while cur < len(text) and text[cur] not in " @":
            cur += 1
        if text[cur : cur + 1] == "@":
            req.base, tmp = _mem(text, cur + 1)
            if tmp == cur + 1:
                return fail("Memory value expected after '@'")
            req.fixed = req.base != 0
    else:
        req.warnings.append("crashkernel size resulted in zero bytes")


def _parse_suffix(text: str, suffix: str) -> tuple[int | None, str | None]:
    size, cur = _mem(text, 0)
    if cur == 0:
        return None, "crashkernel: memory value expected"
    if not text.startswith(suffix, cur):
        return None, f"crashkernel: unrecognized char: {text[cur:cur + 1]}"
    cur += len(suffix)
    if cur < len(text) and text[cur] != " ":
        return None, f"crashkernel: unrecognized char: {text[cur]}"
    return size, None


def auto_formula_size(base: int, system_ram: int, threshold: int) -> int:
    """RHEL 6/7 ``arch_default_crash_size()``: 0 when System RAM rounded up to 128 MiB is
    under ``threshold``, else ``base + roundup((ram - base) / 16384, 1M)``."""
    if -(-system_ram // (128 << 20)) * (128 << 20) < threshold:
        return 0
    return base + -(-((system_ram - base) // (1 << 14)) // SZ_1M) * SZ_1M


def _parse_auto(auto, system_ram: int, req: CrashRequest, profile: KernelProfile) -> None:
    """A vendor's ``crashkernel=auto`` (:class:`~earlymem.kernels.profile.CrashAuto`)."""
    req.auto = True
    if auto.form == "formula":
        sizes = sorted({auto_formula_size(b, system_ram, auto.threshold) for b in auto.bases})
        if sizes == [0]:
            req.warnings.append("crashkernel=auto resulted in zero bytes of reserved memory.")
            req.error = True
            return
        sizes = [x for x in sizes if x]  # (a base cannot change whether the threshold is met)
    else:
        req.warnings.append(auto.message)
        sizes = []
        for table in auto.ranges:
            sub = CrashRequest()
            _parse_ranges(table, system_ram, sub, profile)
            sizes.append(sub.size)
        sizes = sorted(set(sizes))
        if sizes == [0]:
            req.warnings.append("crashkernel size resulted in zero bytes")
            return
    if len(sizes) == 1:
        req.size = sizes[0]
    else:
        req.alternatives = tuple(sizes)


def parse_crashkernel(cmdline: str, system_ram: int, profile: KernelProfile) -> CrashRequest | None:
    """Parse the command line's ``crashkernel=`` as the era's kernel does.

    :return: None when the kernel finds no usable ``crashkernel=`` (it then
        prints nothing); a request otherwise (``error`` set if it gave up).
    :raises InputError: for the extended ``range:size`` syntax, whose 128 MiB
        rounding of System RAM has not been placed in an era yet.
    """
    text = _last(cmdline, None, profile.crash.suffixes)
    req = CrashRequest()
    if text is None:
        high = _last(cmdline, ",high")
        if high is None:
            return None  # -ENOENT: crashkernel=X,low alone is ignored without a word
        size, warn = _parse_suffix(high, ",high")
        if warn:
            req.warnings.append(warn)
            req.error = True
            return req
        req.size, req.high = size or 0, True
        low = _last(cmdline, ",low")
        if low is not None:
            lsize, warn = _parse_suffix(low, ",low")
            if warn:
                req.warnings.append(warn)
                req.error = True
                return req
            req.low_size = lsize
        return req
    auto = profile.vendor.auto if profile.vendor is not None else None
    if auto is not None and text.startswith("auto"):
        _parse_auto(auto, system_ram, req, profile)
        return req
    token = text.split(" ", 1)[0]
    if ":" in token:
        _parse_ranges(text, system_ram, req, profile)
        return req
    _parse_simple(text, req)
    if profile.crash.generic and not req.error and req.size >= system_ram:
        req.error = True  # parse_crashkernel(): size >= system_ram -> -EINVAL, silently
    return req


@dataclass
class CrashPrediction:
    """What ``reserve_crashkernel()`` prints and reserves.

    :param early: lines printed long before the reservation (5.10's
        ``crash_reserve_low_1M()`` message, from reserve_real_mode()).
    :param lines: the parse warnings and the reservation or failure lines.
    :param regions: the reserved "Crash kernel" ranges, in address order (as /proc/iomem lists them).
    """

    early: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    regions: list[Range] = field(default_factory=list)
    #: the fixed ``size@base`` region asked for, whether or not it was reserved
    requested: Range | None = None
    #: what the prediction leaves out, in words
    notes: list[str] = field(default_factory=list)


def early_crash_lines(machine: Machine, profile: KernelProfile) -> list[str]:
    """The crashkernel line printed long before the reservation: 5.10's
    ``kexec: Reserving the low 1M of memory for crashkernel`` (reserve_real_mode()
    -> crash_reserve_low_1M(); gone in v5.13 with f1d4d47c5851 "x86/setup: Always
    reserve the first 1M of RAM")."""
    if profile.crash.low_1m_message and "crashkernel=" in machine.command_line.text:
        return ["kexec: Reserving the low 1M of memory for crashkernel"]
    return []


def predict_crashkernel(machine: Machine, profile: KernelProfile, mb: Memblock | None) -> CrashPrediction | None:
    """The crashkernel lines and regions, or None when they are not determined.

    :param mb: memblock as ``reserve_crashkernel()`` finds it (after
        :func:`earlymem.phases.setup_arch.setup_allocations`); None when the kernel's
        place is unknown (KASLR), which leaves every placement undetermined.
    """
    if mb is None:
        return None
    cmdline = machine.command_line.text
    out = CrashPrediction()
    out.early += early_crash_lines(machine, profile)
    if ",cma" in profile.crash.suffixes and _last(cmdline, ",cma") is not None:
        out.notes.append("crashkernel=...,cma: the CMA part (reserve_crashkernel_cma(), v6.17) is not modelled; "
                         "only the base reservation is predicted")
    total = mb.phys_mem_size()
    req = parse_crashkernel(cmdline, total, profile)
    if req is None:
        return out
    out.lines += req.warnings
    if req.error or not req.size:
        return out
    if req.fixed and req.base:
        out.requested = Range(req.base, req.base + req.size)
    if profile.crash.generic:
        _reserve_generic(req, mb, out)
    else:
        _reserve_x86(req, mb, total, out)
    out.regions.sort(key=lambda r: r.start)
    return out


@dataclass(frozen=True)
class CrashCeiling:
    """The highest place a crash reservation can take when memblock's state is known
    only in part: ``size`` bytes in ``[lo, hi)`` at CRASH_ALIGN, at ``highest`` or lower
    (None: no window there is free even of the known reservations)."""

    size: int
    lo: int
    hi: int
    highest: int | None


def crash_ceilings(machine: Machine, profile: KernelProfile, mb: Memblock) -> list[CrashCeiling]:
    """Where reserve_crashkernel() can put the crash region when ``mb`` holds only the
    reservations whose places are facts (the first MiB, the initrd, setup_data ...) and
    others, unseen, lie anywhere (a UEFI boot without its EFI map: boot-services memory,
    the image, the early allocations).  Every search is top-down first fit
    (memblock_phys_alloc_range()), and the real free memory is a subset of ``mb``'s, so a
    region the kernel reserves in a window lies at or below the highest free place of that
    window here.  Both windows are given (below and above 4 GiB: the kernel falls back
    from one to the other, and a fixed ``@base`` is there or nowhere); the low part a
    reservation above 4 GiB takes as well is only known to lie below 4 GiB."""
    req = parse_crashkernel(machine.command_line.text, mb.phys_mem_size(), profile)
    if req is None or req.error or not req.size:
        return []
    if req.fixed:
        return [CrashCeiling(req.size, req.base, req.base + req.size, req.base)]
    out = []
    for lo, hi in ((CRASH_ALIGN, CRASH_ADDR_LOW_MAX), (CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX)):
        at = mb.find_in_range(lo, hi, req.size, CRASH_ALIGN)
        out.append(CrashCeiling(req.size, lo, hi, at or None))
    return out


def _reserve_x86(req: CrashRequest, mb: Memblock, total: int, out: CrashPrediction) -> None:
    """arch/x86/kernel/setup.c reserve_crashkernel() (to v6.6)."""
    size = req.size
    if not req.fixed:
        base = 0
        if not req.high:
            base = mb.phys_alloc_range(size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_LOW_MAX)
        if not base:
            base = mb.phys_alloc_range(size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_HIGH_MAX)
        if not base:
            out.lines.append("crashkernel reservation failed - No suitable area found.")
            return
    else:
        base = req.base
        if mb.phys_alloc_range(size, SZ_1M, base, base + size) != base:
            out.lines.append("crashkernel reservation failed - memory is in use.")
            return
    if base >= CRASH_ADDR_LOW_MAX:
        # reserve_crashkernel_low(): crashkernel=Y,low, else the default
        # max(swiotlb + 8 MiB, 256 MiB); crashkernel=0,low asks for none.
        low = req.low_size if req.low_size is not None else DEFAULT_CRASH_KERNEL_LOW_SIZE
        if low:
            low_base = mb.phys_alloc_range(low, CRASH_ALIGN, 0, CRASH_ADDR_LOW_MAX)
            if not low_base:
                mb.phys_free(base, size)
                out.lines.append(f"Cannot reserve {low >> 20}MB crashkernel low memory, please try smaller size.")
                return
            limit = min(total, CRASH_ADDR_LOW_MAX)
            out.lines.append(f"Reserving {low >> 20}MB of low memory at {low_base >> 20}MB for crashkernel (low RAM limit: {limit >> 20}MB)")
            out.regions.append(Range(low_base, low_base + low))
    out.lines.append(f"Reserving {size >> 20}MB of memory at {base >> 20}MB for crashkernel (System RAM: {total >> 20}MB)")
    out.regions.append(Range(base, base + size))


def _reserve_generic(req: CrashRequest, mb: Memblock, out: CrashPrediction) -> None:
    """kernel/crash_reserve.c reserve_crashkernel_generic() (x86 from v6.7)."""
    size = req.size
    low_size = 0
    if req.fixed:
        search_base, search_end = req.base, req.base + size
    elif req.high:
        search_base, search_end = CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX
        low_size = req.low_size if req.low_size is not None else DEFAULT_CRASH_KERNEL_LOW_SIZE
    else:
        search_base, search_end = 0, CRASH_ADDR_LOW_MAX
    while True:
        base = mb.phys_alloc_range(size, CRASH_ALIGN, search_base, search_end)
        if base:
            break
        if req.fixed:
            out.lines.append("crashkernel reservation failed - memory is in use.")
            return
        if not req.high and search_end == CRASH_ADDR_LOW_MAX:
            search_base, search_end = CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX
            low_size = DEFAULT_CRASH_KERNEL_LOW_SIZE
            continue
        if req.high and search_end == CRASH_ADDR_HIGH_MAX:
            search_base, search_end = 0, CRASH_ADDR_LOW_MAX
            continue
        out.lines.append(f"cannot allocate crashkernel (size:{size:#x})")
        return
    if base >= CRASH_ADDR_LOW_MAX and low_size:
        low_base = mb.phys_alloc_range(low_size, CRASH_ALIGN, 0, CRASH_ADDR_LOW_MAX)
        if not low_base:
            mb.phys_free(base, size)
            out.lines.append(f"cannot allocate crashkernel low memory (size:{low_size:#x}).")
            return
        out.lines.append(f"crashkernel low memory reserved: {low_base:#010x} - {low_base + low_size:#010x} ({low_size >> 20} MB)")
        out.regions.append(Range(low_base, low_base + low_size))
    out.lines.append(f"crashkernel reserved: {base:#018x} - {base + size:#018x} ({size >> 20} MB)")
    out.regions.append(Range(base, base + size))
