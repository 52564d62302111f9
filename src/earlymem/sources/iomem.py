"""/proc/iomem and /sys/firmware/memmap.

``/proc/iomem`` (kernel/resource.c r_show) prints one resource a line,
``%*s%0*llx-%0*llx : %s`` with two spaces of indent per nesting level and the
end inclusive.  Read by an unprivileged user every address prints as zero,
which is refused here.

``/sys/firmware/memmap/N/{start,end,type}`` (drivers/firmware/memmap.c) holds
the firmware's own map (``e820_table_firmware``): ``start``/``end`` in hex with
the end inclusive, ``type`` as the iomem name (``System RAM``, ``Reserved``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from earlymem.lib.errors import InputError
from earlymem.lib.units import U64_MAX
from earlymem.machine.e820 import E820Entry, type_from_iomem_name
from earlymem.sources.text import read_text_lines

__all__ = ["IomemResource", "parse_iomem", "read_iomem", "iomem_e820", "read_firmware_memmap"]

_LINE = re.compile(r"^(?P<indent> *)(?P<a>[0-9a-fA-F]+)-(?P<b>[0-9a-fA-F]+) : (?P<name>.*)$")


@dataclass(frozen=True)
class IomemResource:
    """One /proc/iomem line: a resource at nesting ``depth``, end inclusive."""

    depth: int
    start: int
    last: int
    name: str
    lineno: int


def parse_iomem(lines: list[str], source: str) -> list[IomemResource]:
    """Parse /proc/iomem text.  :raises InputError: on malformed lines."""
    out: list[IomemResource] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            raise InputError(f"not a /proc/iomem line: {line.strip()[:80]!r}", source=source, line=lineno)
        if len(m["indent"]) % 2:
            raise InputError("odd indentation (expected two spaces per level)", source=source, line=lineno)
        a, b = int(m["a"], 16), int(m["b"], 16)
        if a > U64_MAX or b > U64_MAX:
            raise InputError("address does not fit in 64 bits", source=source, line=lineno)
        if b < a:
            raise InputError(f"resource ends ({b:#x}) before it starts ({a:#x})", source=source, line=lineno)
        out.append(IomemResource(len(m["indent"]) // 2, a, b, m["name"], lineno))
    if not out:
        raise InputError("no resources found", source=source)
    if all(r.start == 0 and r.last == 0 for r in out):
        raise InputError("every address is zero: read /proc/iomem as root", source=source)
    return out


def read_iomem(path: str | Path) -> list[IomemResource]:
    return parse_iomem(read_text_lines(path), str(path))


def iomem_e820(resources: list[IomemResource]) -> list[E820Entry]:
    """The top-level resources that are e820 entries, as e820 entries.

    This is ``e820_table`` as ``e820__reserve_resources()`` registered it, less
    entries that PCI claimed or that were inserted below a bridge; prefer
    /sys/firmware/memmap for the firmware's own map.
    """
    entries = []
    for r in resources:
        if r.depth != 0:
            continue
        t = type_from_iomem_name(r.name)
        if t is not None:
            entries.append(E820Entry(r.start, r.last - r.start + 1, t))
    return entries


def read_firmware_memmap(directory: str | Path) -> list[E820Entry]:
    """Read ``/sys/firmware/memmap`` (or a copy of it) as e820 entries, in index order.

    :raises InputError: if the directory has no entries or an entry is malformed.
    """
    base = Path(directory)
    if not base.is_dir():
        raise InputError("not a directory (expected a copy of /sys/firmware/memmap)", source=str(base))
    numbered = sorted((int(p.name), p) for p in base.iterdir() if p.name.isdigit())
    if not numbered:
        raise InputError("no numbered entries (expected 0/, 1/, ... with start, end, type)", source=str(base))
    entries: list[E820Entry] = []
    for _, d in numbered:
        vals = {}
        for fname in ("start", "end", "type"):
            f = d / fname
            try:
                vals[fname] = f.read_text(errors="replace").strip()
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror or exc}", source=str(f)) from None
        try:
            start, last = int(vals["start"], 16), int(vals["end"], 16)
        except ValueError:
            raise InputError(f"not a hex address: {vals['start']!r}/{vals['end']!r}", source=str(d)) from None
        if last < start or last > U64_MAX:
            raise InputError(f"impossible range {start:#x}-{last:#x}", source=str(d))
        t = type_from_iomem_name(vals["type"])
        if t is None:
            raise InputError(f"unknown memory type {vals['type']!r}", source=str(d / "type"))
        entries.append(E820Entry(start, last - start + 1, t))
    return entries
