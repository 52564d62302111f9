"""Read an oracle capture: a capture directory, or a serial log with section markers.

The guest's /init prints ``@@@@BEGIN first/dmesg@@@@`` ... ``@@@@END
first/dmesg@@@@`` and ``@@@@RC first/dmesg=0@@@@`` around each item, for the
first kernel (``first/``) and the kdump kernel (``kdump/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.lib.errors import InputError
from earlymem.sources.capture import split_sections
from earlymem.sources.text import read_text_lines

__all__ = ["Capture", "read_capture"]

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
        if not log.is_file():
            raise InputError("not a capture directory (no serial.log)", source=str(p))
        note = (p / "note.md").read_text(errors="replace") if (p / "note.md").is_file() else ""
    else:
        log, note = p, ""
    lines = read_text_lines(log)
    sections = split_sections(lines, str(log))
    rcs = {m.group(1): int(m.group(2)) for line in lines for m in [_RC.search(line)] if m}
    return Capture(str(path), sections, rcs, note, lines)
