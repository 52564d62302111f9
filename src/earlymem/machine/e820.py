"""The firmware memory map (e820) and the kernel's edits of it.

Models arch/x86/kernel/e820.c (before 2.6.27: arch/x86_64/kernel/e820.c):

* an :class:`E820Entry` is ``(addr, size, type)`` describing ``[addr, addr+size)``;
* an :class:`E820Table` is an *unsorted* array with a fixed capacity, edited in
  place exactly as the kernel edits ``e820_table`` (append, split, shrink,
  zero), and made sorted and non-overlapping only by :func:`sanitize`;
* :func:`sanitize` is ``sanitize_e820_map()`` / ``e820__update_table()``: the
  change-point sweep in which the highest numeric type wins;
* ``mem=``/``memmap=`` (earlymem.phases.e820) apply ``mem=`` and every ``memmap=`` form the way
  the chosen kernel era's ``parse_memopt()`` / ``parse_memmap_one()`` do, and
  reports whether the kernel would print the ``user-defined physical RAM map``.

Era differences (which ``memmap=`` forms exist, whether ``mem=`` edits the
table, whether the user map is sanitized) are read from the profile
(:mod:`earlymem.kernels`), never decided here by version numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Iterable, Sequence

from earlymem.lib.errors import InputError, KernelPanic
from earlymem.lib.ranges import Range
from earlymem.lib.units import U64_MAX

__all__ = [
    "E820Type",
    "E820Entry",
    "E820Table",
    "sanitize",
    "type_from_iomem_name",
]


class E820Type(IntEnum):
    """Entry types known to the kernel (arch/x86/include/asm/e820/types.h).

    Any other u32 value is legal in a table and printed as ``type %u``.
    """

    RAM = 1
    RESERVED = 2
    ACPI = 3
    NVS = 4
    UNUSABLE = 5
    PMEM = 7
    PRAM = 12
    #: Kernel-internal (setup_data), printed as usable; added in 2008
    #: (commit 28bb22379513 'x86: reserve setup_data range', 2008), removed again by
    #: the 2026 e820 cleanup (7.0: no 'reserve setup_data' string in Debian 7.2.13).
    RESERVED_KERN = 128
    #: EFI_MEMORY_SP, since v5.5 (commit 262b45ae3ab4).
    SOFT_RESERVED = 0xEFFFFFFF


@dataclass(frozen=True, slots=True)
class E820Entry:
    """One e820 entry: ``size`` bytes of ``type`` at physical ``addr``."""

    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:
        """One past the last byte (may exceed 2**64 - 1 for a wrapping entry)."""
        return self.addr + self.size

    @property
    def range(self) -> Range:
        return Range(self.addr, self.addr + self.size)

    def __repr__(self) -> str:
        return f"E820Entry({self.addr:#x}, {self.size:#x}, {self.type})"


@dataclass
class E820Table:
    """A kernel e820 table: entries in array order, with a fixed capacity.

    :param entries: the entries, in array order (not necessarily sorted).
    :param capacity: ``ARRAY_SIZE(table->entries)``; appends past it are
        dropped with the kernel's warning (recorded in ``warnings``).
    """

    entries: list[E820Entry] = field(default_factory=list)
    capacity: int = 128
    warnings: list[str] = field(default_factory=list)
    #: Edits as the kernel reports them at KERN_DEBUG, in order:
    #: ``("update", start, end, old_type, new_type)`` or
    #: ``("remove", start, end, old_type_or_None)`` (end exclusive, after the
    #: kernel's clamp to ULLONG_MAX).  Printed per era by phases.e820_print_table.
    events: list[tuple] = field(default_factory=list)

    def copy(self) -> "E820Table":
        return E820Table(list(self.entries), self.capacity, list(self.warnings), list(self.events))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    # -- primitive edits, as in e820.c -------------------------------------------------

    def add(self, start: int, size: int, type_: int, *, full_message: str | None = None) -> None:
        """``__e820__range_add()``: append an entry, or warn if the table is full."""
        if len(self.entries) >= self.capacity:
            fmt = full_message or "e820: too many entries; ignoring [mem {start:#010x}-{last:#010x}]"
            self.warnings.append(fmt.format(start=start, last=(start + size - 1) & U64_MAX))
            return
        self.entries.append(E820Entry(start, size, type_))

    def update_range(self, start: int, size: int, old_type: int, new_type: int, **kw) -> int:
        """``__e820__range_update()``: retype the ``old_type`` parts of a range.

        Entries fully inside are retyped; an entry that strictly contains the
        range is split (two appended entries); a partial overlap appends the
        overlapped part with ``new_type`` and shrinks the entry.  The table is
        not sanitized.  :return: bytes updated.
        """
        if old_type == new_type:
            # BUG_ON(old_type == new_type) in the kernel: an oops this early is fatal;
            # "kernel BUG at arch/x86/kernel/e820.c:<line>!" names a line of the build's source
            raise KernelPanic(None, function="__e820__range_update",
                              detail=f"BUG_ON(old_type == new_type): an e820 update from type {old_type} to the same type "
                                     "('kernel BUG at arch/x86/kernel/e820.c:<line>!', the line depends on the build)")
        if size > U64_MAX - start:
            size = U64_MAX - start
        end = start + size
        self.events.append(("update", start, end, old_type, new_type))
        updated = 0
        for i in range(len(self.entries)):
            e = self.entries[i]
            if e.type != old_type:
                continue
            e_end = e.addr + e.size
            if e.addr >= start and e_end <= end:
                self.entries[i] = E820Entry(e.addr, e.size, new_type)
                updated += e.size
                continue
            if e.addr < start and e_end > end:
                self.add(start, size, new_type, **kw)
                self.add(end, e_end - end, e.type, **kw)
                self.entries[i] = E820Entry(e.addr, start - e.addr, e.type)
                updated += size
                continue
            final_start, final_end = max(start, e.addr), min(end, e_end)
            if final_start >= final_end:
                continue
            self.add(final_start, final_end - final_start, new_type, **kw)
            updated += final_end - final_start
            self._trim(i, final_start, final_end)
        return updated

    def remove_range(self, start: int, size: int, old_type: int | None, **kw) -> int:
        """``e820__range_remove()``: drop a range, of one type or (None) any type.

        Fully covered entries are zeroed in place (size 0, type 0), as the
        kernel's memset does; sanitize later discards them.  :return: bytes removed.
        """
        if size > U64_MAX - start:
            size = U64_MAX - start
        end = start + size
        self.events.append(("remove", start, end, old_type))
        removed = 0
        for i in range(len(self.entries)):
            e = self.entries[i]
            if old_type is not None and e.type != old_type:
                continue
            e_end = e.addr + e.size
            if e.addr >= start and e_end <= end:
                removed += e.size
                self.entries[i] = E820Entry(0, 0, 0)
                continue
            if e.addr < start and e_end > end:
                self.add(end, e_end - end, e.type, **kw)
                self.entries[i] = E820Entry(e.addr, start - e.addr, e.type)
                removed += size
                continue
            final_start, final_end = max(start, e.addr), min(end, e_end)
            if final_start >= final_end:
                continue
            removed += final_end - final_start
            self._trim(i, final_start, final_end)
        return removed

    def _trim(self, i: int, cut_start: int, cut_end: int) -> None:
        """Cut ``[cut_start, cut_end)`` off the head or the tail of entry ``i``.

        The kernel shrinks the size first and moves the start only when the cut
        is at the head ("left range could be head or tail").
        """
        e = self.entries[i]
        new_addr = e.addr if e.addr < cut_start else cut_end
        self.entries[i] = E820Entry(new_addr, e.size - (cut_end - cut_start), e.type)

    def end_of_ram_pfn(self, limit_pfn: int, types: Sequence[int] = (E820Type.RAM,)) -> int:
        """``e820_end_pfn(limit_pfn)``: highest RAM page frame below ``limit_pfn``."""
        last = 0
        for e in self.entries:
            if e.type not in types:
                continue
            s, t = e.addr >> 12, (e.addr + e.size) >> 12
            if s >= limit_pfn:
                continue
            if t > limit_pfn:
                last = limit_pfn
                break
            last = max(last, t)
        return last


def sanitize(entries: Sequence[E820Entry], *, no_merge_types: Iterable[int] = (), max_entries: int | None = None) -> list[E820Entry] | None:
    """Resolve overlaps and sort, as ``sanitize_e820_map()`` / ``e820__update_table()``.

    Change points (entry starts and ends; zero-size entries dropped) are sorted
    by address, a start before an end at the same address (``cpcompare``).  A
    sweep keeps the set of open entries; the current type is the highest
    numeric type open.  A new output entry begins whenever the type changes,
    or at every change point while the type is a no-merge type (PRAM since
    v4.1, SOFT_RESERVED since v5.5 -- ``e820_nomerge()``); zero-length
    output entries are discarded.

    :return: the new entries, or ``None`` where the kernel returns -1 and
        leaves the table as it was (fewer than two entries, or an entry whose
        end wraps past 2**64).
    """
    if len(entries) < 2:
        return None
    if any(e.addr + e.size > U64_MAX for e in entries if e.size):
        return None
    no_merge = frozenset(no_merge_types)
    points: list[tuple[int, int, int]] = []  # (addr, is_end, index)
    for i, e in enumerate(entries):
        if e.size:
            points.append((e.addr, 0, i))
            points.append((e.addr + e.size, 1, i))
    points.sort(key=lambda p: (p[0], p[1]))
    limit = max_entries if max_entries is not None else len(points)
    out: list[E820Entry] = []
    open_entries: dict[int, int] = {}
    last_type = 0
    last_addr = 0
    for addr, is_end, i in points:
        if is_end:
            del open_entries[i]
        else:
            open_entries[i] = entries[i].type
        current = max(open_entries.values(), default=0)
        if current != last_type or current in no_merge:
            if last_type != 0 and addr - last_addr != 0:
                out.append(E820Entry(last_addr, addr - last_addr, last_type))
                if len(out) >= limit:
                    break
            if current != 0:
                last_addr = addr
            last_type = current
    return out


def type_from_iomem_name(name: str) -> int | None:
    """Map a /proc/iomem or /sys/firmware/memmap type name to an e820 type.

    Names from ``e820_type_to_string()`` of every era; returns None for names
    that are not e820 entries (e.g. ``Kernel code``, ``PCI Bus 0000:00``).
    """
    return _IOMEM_NAMES.get(name.strip())


_IOMEM_NAMES = {
    "System RAM": E820Type.RAM,
    "Reserved": E820Type.RESERVED,
    "reserved": E820Type.RESERVED,
    "ACPI Tables": E820Type.ACPI,
    "ACPI Non-volatile Storage": E820Type.NVS,
    "Unusable memory": E820Type.UNUSABLE,
    "Persistent Memory (legacy)": E820Type.PRAM,
    "Persistent Memory": E820Type.PMEM,
    "Soft Reserved": E820Type.SOFT_RESERVED,
    "Unknown E820 type": E820Type.RESERVED,
}
