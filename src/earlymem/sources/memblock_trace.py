"""A boot log's ``memblock=debug`` trace: every reservation and free memblock made.

With ``memblock=debug`` (mm/memblock.c memblock_dbg()) the kernel prints each
``memblock_reserve()`` -- ``memblock_reserve: [0x...-0x...] caller`` to 6.12,
``__memblock_reserve: [0x...-0x...] nid=N flags=F caller`` in 7.x -- the
allocation call before an allocator's reservation (``memblock_alloc_try_nid:
SIZE bytes align=... caller``), every free (``memblock_free:`` before 5.16,
``memblock_phys_free:`` after) and, from e820__memblock_setup(), a
``MEMBLOCK configuration:`` dump whose ``reserved[..]`` lines are the
reservations made before the option was parsed.  Replaying the calls after
the dump over the dumped ranges gives the reserved bytes at any later point;
this module stops at ``SLUB: HWalign``, printed by kmem_cache_init() right
after mem_init() handed memory to the page allocator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.units import U64_MAX

__all__ = ["TraceCall", "kernel_calls", "dumped_reserved", "reserved_at_handoff"]

_CALL = re.compile(r"(?:\] |^)(?:__)?(memblock_reserve|memblock_phys_free|memblock_free): "
                   r"\[0x([0-9a-f]+)-0x([0-9a-f]+)\] (?:nid=\S+ flags=\S+ )?(\S+)")
_ALLOC = re.compile(r"(?:\] |^)(memblock_\w+): (\d+) bytes .* (\S+)$")
_DUMPED = re.compile(r"^\s*reserved\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\]")
_HANDOFF = "SLUB: HWalign"


@dataclass(frozen=True)
class TraceCall:
    """``kind`` is "reserve" or "free"; ``caller`` the function (for an
    allocation, the allocating function and the size it asked for)."""

    kind: str
    base: int
    size: int
    caller: str


def _after_dump(lines: list[str]):
    started = False
    for lineno, ln in enumerate(lines, 1):
        if "MEMBLOCK configuration:" in ln:
            started = True
            continue
        if started:
            if _HANDOFF in ln:
                return
            yield lineno, ln


def _inclusive(first: str, last: str, source: str, lineno: int) -> Range:
    """``[0xfirst-0xlast]`` as printed (``%pa`` pairs, last byte inclusive), checked."""
    a, b = int(first, 16), int(last, 16)
    if b > U64_MAX:
        raise InputError(f"address 0x{last} does not fit in 64 bits", source=source, line=lineno)
    if b + 1 < a:
        raise InputError(f"memblock range ends before it starts ([0x{first}-0x{last}])", source=source, line=lineno)
    return Range(a, b + 1)


def kernel_calls(lines: list[str], source: str = "<log>") -> list[TraceCall]:
    """The reservations and frees from the dump to the hand-off, in order.

    :raises InputError: for a range that ends before it starts or past 64 bits.
    """
    out: list[TraceCall] = []
    caller = ""
    for lineno, ln in _after_dump(lines):
        m = _ALLOC.search(ln)
        if m:
            caller = f"{m.group(3).split('+')[0]}({m.group(2)})"
            continue
        m = _CALL.search(ln)
        if m:
            r = _inclusive(m.group(2), m.group(3), source, lineno)
            who = m.group(4).split("+")[0]
            if who == "memblock_alloc_range_nid":
                who = caller
            out.append(TraceCall("reserve" if m.group(1) == "memblock_reserve" else "free", r.start, r.size, who))
    return out


def dumped_reserved(lines: list[str], source: str = "<log>") -> list[Range]:
    """The ``reserved[..]`` ranges of the first ``MEMBLOCK configuration:`` dump.

    :raises InputError: for a range that ends before it starts or past 64 bits.
    """
    out: list[Range] = []
    inside = False
    for lineno, ln in enumerate(lines, 1):
        if "MEMBLOCK configuration:" in ln:
            if inside:
                break
            inside = True
            continue
        if not inside:
            continue
        m = _DUMPED.match(ln.split("] ", 1)[-1] if "] " in ln else ln)
        if m:
            out.append(_inclusive(m.group(1), m.group(2), source, lineno))
        elif out:
            break
    return out


def reserved_at_handoff(lines: list[str], source: str = "<log>") -> RangeSet | None:
    """The bytes memblock held reserved when memblock_free_all() ran; None
    without a ``memblock=debug`` dump in ``lines``.

    :param source: the log's file name, for errors.
    :raises InputError: for a range that ends before it starts or past 64 bits.
    """
    dumped = dumped_reserved(lines, source)
    if not dumped:
        return None
    reserved = RangeSet(dumped)
    for c in kernel_calls(lines, source):
        r = [Range(c.base, c.base + c.size)]
        reserved = reserved.union(r) if c.kind == "reserve" else reserved.subtract(r)
    return reserved
