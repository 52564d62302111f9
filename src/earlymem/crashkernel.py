"""``crashkernel=``: the kernel's parser, and the reservations that are determined.

Parsing follows kernel/crash_core.c (kernel/crash_reserve.c from v6.7):
``get_last_crashkernel()`` takes the *last* ``crashkernel=`` in the raw command
line whose token does not end in a known suffix (``,high``, ``,low``, ``,cma``);
the extended ``range:size`` syntax is used when a ``:`` comes before the first
space, else the simple ``size[@base]`` syntax.  Warnings are the kernel's
verbatim texts.

Where the reservation lands is decided by a top-down memblock search after
every earlier boot allocation (page tables, ACPI, NODE_DATA, ...).  earlymem
predicts the outcome only when the known facts decide it:

* no ``crashkernel=`` (or only suffixed ones the era ignores): nothing;
* a parse error: the warning;
* a fixed base ``size@base``: it succeeds iff ``[base, base+size)`` is RAM,
  aligned (1 MiB for x86's own code, CRASH_ALIGN = 16 MiB for the generic
  code) and clear of the known reservations (the first 1 MiB, the kernel image,
  the initrd);
* a size that fits in no free range of either search window, even ignoring
  allocations earlymem does not model: the failure.

Anything else (a searched placement) is "not predicted yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import Memblock
from earlymem.errors import InputError
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.nodes import assumed_kernel_image
from earlymem.ranges import Range, RangeSet
from earlymem.units import memparse

__all__ = ["CrashRequest", "parse_crashkernel", "predict_crashkernel", "iomem_line"]

SUFFIXES = (",high", ",low", ",cma")
CRASH_ALIGN = 16 << 20
CRASH_ADDR_LOW_MAX = 4 << 30
CRASH_ADDR_HIGH_MAX = 64 << 40
SZ_1M = 1 << 20


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


def _last(cmdline: str, suffix: str | None) -> str | None:
    """``get_last_crashkernel()``: the text after the chosen ``crashkernel=``."""
    name = "crashkernel="
    chosen = None
    p = cmdline.find(name)
    while p >= 0:
        end = cmdline.find(" ", p)
        token = cmdline[p : end if end >= 0 else len(cmdline)]
        if suffix is None:
            if not token.endswith(SUFFIXES):
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


def parse_crashkernel(cmdline: str, system_ram: int, profile: KernelProfile) -> CrashRequest | None:
    """Parse the command line's ``crashkernel=`` as the era's kernel does.

    :return: None when the kernel finds no usable ``crashkernel=`` (it then
        prints nothing); a request otherwise (``error`` set if it gave up).
    :raises InputError: for the extended ``range:size`` syntax, whose 128 MiB
        rounding of System RAM has not been placed in an era yet.
    """
    text = _last(cmdline, None)
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
    token = text.split(" ", 1)[0]
    if ":" in token:
        raise InputError("crashkernel= range lists are not modelled yet", field="crashkernel")
    _parse_simple(text, req)
    if profile.crashkernel_generic and not req.error and req.size >= system_ram:
        req.error = True  # parse_crashkernel(): size >= system_ram -> -EINVAL, silently
    return req


def _fits(free: RangeSet, lo: int, hi: int, size: int, align: int) -> bool:
    """Whether a top-down search of [lo, hi) could place ``size`` (optimistically)."""
    for r in free.overlapping(Range(lo, max(lo, hi))):
        start = -(-r.start // align) * align
        if start + size <= r.end:
            return True
    return False


def predict_crashkernel(machine: Machine, profile: KernelProfile, mb: Memblock) -> list[str] | None:
    """The crashkernel lines the kernel prints, or None when they are not determined yet.

    A successful reservation's /proc/iomem line comes last, marked by
    :func:`iomem_line`'s format (``predict_lines`` files it under ``iomem-crash``).

    :param mb: memblock after e820__memblock_setup (memory; reserved is ignored).
    """
    cmdline = machine.command_line.text
    lines: list[str] = []
    has_any = "crashkernel=" in cmdline
    if profile.crash_low_1m_message and has_any:
        lines.append("kexec: Reserving the low 1M of memory for crashkernel")
    total = mb.phys_mem_size()
    try:
        req = parse_crashkernel(cmdline, total, profile)
    except InputError:
        return None
    if req is None:
        return lines
    lines += req.warnings
    if req.error or not req.size:
        return lines
    memory = RangeSet(Range(r.base, r.end) for r in mb.memory)
    known = [Range(0, SZ_1M)]
    image = assumed_kernel_image(machine)
    if image is None:
        return None  # KASLR: the kernel could be anywhere
    known.append(image)
    if machine.initrd is not None:
        known.append(Range(machine.initrd.start, -(-machine.initrd.end // 4096) * 4096))
    free = memory.subtract(known)
    size = req.size
    if req.fixed:
        base = req.base
        if base >= CRASH_ADDR_LOW_MAX and not profile.crashkernel_generic:
            # x86 reserve_crashkernel() (to v6.6) then also searches low memory
            # for the default low size: a searched placement.
            return None
        align = CRASH_ALIGN if profile.crashkernel_generic else SZ_1M
        want = Range(base, base + size)
        if base % align == 0 and free.covers(want):
            lines.append(_success(profile, base, size, total))
            lines.append(iomem_line(base, size))
            return lines
        if base % align or not memory.covers(want) or any(want.overlaps(k) for k in known):
            lines.append("crashkernel reservation failed - memory is in use.")
            return lines
        return None
    # A searched placement: only a certain failure is predicted.
    if req.high:
        return None
    low_lo = 0 if profile.crashkernel_generic else CRASH_ALIGN
    if _fits(free, low_lo, CRASH_ADDR_LOW_MAX, size, CRASH_ALIGN) or _fits(free, CRASH_ADDR_LOW_MAX if profile.crashkernel_generic else CRASH_ALIGN, CRASH_ADDR_HIGH_MAX, size, CRASH_ALIGN):
        return None
    if profile.crashkernel_generic:
        lines.append(f"cannot allocate crashkernel (size:{size:#x})")
    else:
        lines.append("crashkernel reservation failed - No suitable area found.")
    return lines


def iomem_line(base: int, size: int) -> str:
    """The /proc/iomem entry (kernel/resource.c r_show, width 8, end inclusive),
    nested one level under its System RAM entry: ``crashk_res`` named "Crash kernel"."""
    return f"  {base:08x}-{base + size - 1:08x} : Crash kernel"


def _success(profile: KernelProfile, base: int, size: int, total: int) -> str:
    if profile.crashkernel_generic:
        return f"crashkernel reserved: {base:#018x} - {base + size:#018x} ({size >> 20} MB)"
    return f"Reserving {size >> 20}MB of memory at {base >> 20}MB for crashkernel (System RAM: {total >> 20}MB)"
