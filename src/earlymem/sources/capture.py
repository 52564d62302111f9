"""Sections of a capture: ``@@@@BEGIN name@@@@`` ... ``@@@@END name@@@@`` blocks.

A guest's /init (tools/build-dump-initramfs.sh, later earlymem.oracle) prints
files such as /proc/iomem between these markers on the serial console.
"""

from __future__ import annotations

import re

from earlymem.lib.errors import InputError

__all__ = ["split_sections"]

_BEGIN = re.compile(r"@@@@BEGIN (\S+)@@@@")
_END = re.compile(r"@@@@END (\S+)@@@@")


def split_sections(lines: list[str], source: str) -> dict[str, list[str]]:
    """Map each section name to its lines (without CR), in capture order.

    :raises InputError: for a section that is never closed or closed under
        another name.
    """
    sections: dict[str, list[str]] = {}
    current: str | None = None
    start = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        m = _BEGIN.search(line)
        if m:
            if current is not None:
                raise InputError(f"section {m.group(1)!r} begins inside {current!r}", source=source, line=lineno)
            current, start = m.group(1), lineno
            sections[current] = []
            continue
        m = _END.search(line)
        if m:
            if m.group(1) != current:
                raise InputError(f"section {m.group(1)!r} ends but {current!r} is open", source=source, line=lineno)
            current = None
            continue
        if current is not None:
            sections[current].append(line)
    if current is not None:
        raise InputError(f"section {current!r} is never closed", source=source, line=start)
    return sections
