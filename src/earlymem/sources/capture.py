"""An oracle capture: a capture directory, or a serial log with section markers.

Sections are ``@@@@BEGIN name@@@@`` ... ``@@@@END name@@@@`` blocks, and
``@@@@RC name=0@@@@`` gives each item's exit code; ``first/`` items are the
first kernel's, ``kdump/`` the kdump kernel's.

A guest's /init (tools/build-dump-initramfs.sh, later earlymem.oracle) prints
files such as /proc/iomem between these markers on the serial console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.lib.errors import InputError
from earlymem.sources.text import read_text_lines

__all__ = ["split_sections", "Capture", "read_capture"]

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


_RC = re.compile(r"@@@@RC (\S+)=(\d+)@@@@")


@dataclass
class Capture:
    """A capture's sections (``first/dmesg`` ...), their exit codes, and its note."""

    source: str
    sections: dict[str, list[str]]
    rcs: dict[str, int] = field(default_factory=dict)
    note: str = ""
    serial: list[str] = field(default_factory=list)

    def section(self, name: str) -> list[str] | None:
        return self.sections.get(name)

    @property
    def has_kdump(self) -> bool:
        return any(k.startswith("kdump/") for k in self.sections)


def read_capture(path: str | Path) -> Capture:
    """Read a capture directory (``serial.log`` + ``note.md``) or a serial log file.

    :raises InputError: for unreadable files or unbalanced section markers.
    """
    p = Path(path)
    if p.is_dir():
        log = p / "serial.log"
        if not log.is_file() and (p / "serial.log.gz").is_file():
            log = p / "serial.log.gz"  # the repeated KASLR captures are kept compressed
        if not log.is_file():
            raise InputError("not a capture directory (no serial.log)", source=str(p))
        note = (p / "note.md").read_text(errors="replace") if (p / "note.md").is_file() else ""
    else:
        log, note = p, ""
    lines = read_text_lines(log)
    sections = split_sections(lines, str(log))
    rcs = {m.group(1): int(m.group(2)) for line in lines for m in [_RC.search(line)] if m}
    return Capture(str(path), sections, rcs, note, lines)
