"""Print e820 tables exactly as ``e820__print_table()`` of each era does.

* ``legacy`` (x86_64 to 3.4; arch/x86_64/kernel/e820.c e820_print_map and the
  unified e820.c until v3.5): ``printk(KERN_INFO " %s: %016Lx - %016Lx ", who,
  addr, addr + size)`` then the label: a leading space, and the end exclusive.
* ``mem`` (v3.5 .. v6.x): ``pr_info("%s: [mem %#018Lx-%#018Lx] ", who, addr,
  addr + size - 1)`` then the label: end inclusive.
* ``gaps`` (v7.0, commit 4d8e5a682be4): as ``mem``, labels with a leading space,
  and a ``%s: [gap %#018Lx-%#018Lx]`` line before an entry that starts above
  the previous entry's end (the previous end starts at 0); an entry starting
  below it gets ``[Firmware Bug]: out of order E820 entry!`` first.
"""

from __future__ import annotations

from typing import Iterable

from earlymem.kernels.profile import KernelProfile
from earlymem.machine.e820 import E820Entry

__all__ = ["format_table", "format_entry", "header", "format_event"]


def header(kind: str, profile: KernelProfile) -> str:
    """The header line printed before a table of ``kind`` (``firmware``, ``user`` ...)."""
    text = {
        "firmware": "BIOS-provided physical RAM map:",
        "user": "user-defined physical RAM map:",
        "extended": "extended physical RAM map:",
        "modified": "modified physical RAM map:",
    }[kind]
    return profile.e820.header_prefix + text


def format_entry(who: str, entry: E820Entry, profile: KernelProfile) -> str:
    """One entry line, without the printk timestamp."""
    label = profile.label(entry.type)
    if profile.e820.style == "legacy":
        return f" {who}: {entry.addr:016x} - {(entry.addr + entry.size) & ((1 << 64) - 1):016x} {label}"
    last = (entry.addr + entry.size - 1) & ((1 << 64) - 1)
    return f"{who}: [mem {entry.addr:#018x}-{last:#018x}] {label}"


def format_table(who: str, entries: Iterable[E820Entry], profile: KernelProfile) -> list[str]:
    """Every line ``e820__print_table(who)`` prints for ``entries``, in order."""
    lines: list[str] = []
    prev_end = 0
    for entry in entries:
        if profile.e820.style == "gaps":
            if entry.addr < prev_end:
                lines.append("[Firmware Bug]: out of order E820 entry!")
            elif entry.addr > prev_end:
                lines.append(f"{who}: [gap {prev_end:#018x}-{entry.addr - 1:#018x}]")
            prev_end = entry.addr + entry.size
        lines.append(format_entry(who, entry, profile))
    return lines


def format_event(event: tuple, profile: KernelProfile) -> str | None:
    """The KERN_DEBUG line an e820 edit prints, or None where the era prints none.

    * v3.5 .. v6.x (e820.c ``__e820__range_update``/``e820__range_remove``):
      ``e820: update [mem %#010Lx-%#010Lx] `` + old + `` ==> `` + new, and
      ``e820: remove [mem %#010Lx-%#010Lx] `` + the type only when checked
      (so an unchecked remove ends in a space).
    * v7.0: the same without the space after ``]`` and with `` ==>``; the
      labels bring their own leading space (Debian 7.2.13 captures).
    * 2.6.27 .. 3.4: ``e820 update range: %016Lx - %016Lx `` + old + `` ==> ``
      + new; removals print nothing.  Events come from
      :attr:`earlymem.machine.e820.E820Table.events`.
    """
    kind = event[0]
    if kind == "warn":
        return event[1]
    if kind == "malformed":
        return f"Malformed early option '{event[1]}'"
    start, end = event[1], event[2]
    last = end - 1
    style = profile.e820.style
    if style == "legacy":
        if kind != "update":
            return None
        return f"e820 update range: {start:016x} - {end:016x} {profile.label(event[3])} ==> {profile.label(event[4])}"
    old = profile.label(event[3]) if event[3] is not None else ""
    if style == "gaps":
        head = f"e820: {kind} [mem {start:#010x}-{last:#010x}]{old}"
        return f"{head} ==>{profile.label(event[4])}" if kind == "update" else head
    head = f"e820: {kind} [mem {start:#010x}-{last:#010x}] {old}"
    return f"{head} ==> {profile.label(event[4])}" if kind == "update" else head
