"""Reading text files safely: size limits, binary detection, CRLF."""

from __future__ import annotations

import zlib
from pathlib import Path

from earlymem.lib.errors import InputError

__all__ = ["read_text_lines", "read_toml", "MAX_INPUT_BYTES", "MAX_LINE_CHARS"]

#: Largest input file accepted (a 4 MiB log buffer is the kernel's largest
#: common setting; journal exports can be much larger).
MAX_INPUT_BYTES = 256 << 20
#: Longest line kept whole; longer lines cannot be kernel messages
#: (LOG_LINE_MAX is 1024 - 32 bytes) and are rejected.
MAX_LINE_CHARS = 64 << 10


def read_text_lines(path: str | Path) -> list[str]:
    """Read a text file as lines without line endings (LF, CRLF or CR).

    :raises InputError: if the file is missing, too large, empty, binary or
        has an absurdly long line.
    """
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"file is {size} bytes, more than the {MAX_INPUT_BYTES} accepted", source=name)
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=name) from None
    if p.suffix == ".gz":
        data = _gunzip(data, name)
    if not data.strip():
        raise InputError("file is empty", source=name)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError("binary data (NUL byte); expected a text log", source=name, line=line)
    text = data.decode("utf-8", errors="replace")
    if "\n" not in text:
        lines = text.split("\r")  # a CR-only file
    else:
        # line numbers are the file's LF lines, as editors and sed count them; serial consoles
        # end lines in CR LF (or CR CR LF), and a lone CR inside a line returns the carriage:
        # what a terminal leaves visible starts after the last one
        lines = []
        for raw in text.split("\n"):
            raw = raw.rstrip("\r")
            if "\r" in raw:
                raw = next((part for part in reversed(raw.split("\r")) if part), "")
            lines.append(raw)
    for i, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            raise InputError(f"line of {len(line)} characters; not a log line", source=name, line=i)
    if text.count("\ufffd") > max(16, len(text) // 100):
        # (counted in the raw LF lines: what a lone CR hides is still in the file)
        first = next(i for i, line in enumerate(text.split("\n"), 1) if "\ufffd" in line)
        raise InputError("binary data (not UTF-8 text); expected a text log", source=name, line=first)
    return lines


def _gunzip(data: bytes, name: str) -> bytes:
    """A gzip file's content, at most MAX_INPUT_BYTES of it (a hostile file cannot exhaust memory)."""
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, MAX_INPUT_BYTES + 1)
    except zlib.error as exc:
        raise InputError(f"not a gzip file, or a damaged one: {exc}", source=name) from None
    if len(out) > MAX_INPUT_BYTES or d.unconsumed_tail:
        raise InputError(f"decompresses to more than the {MAX_INPUT_BYTES} bytes accepted", source=name)
    if not d.eof:
        raise InputError("truncated gzip file", source=name)
    return out


def read_toml(path: str | Path) -> dict:
    """Read a TOML file.  :raises InputError: naming the file for unreadable or invalid TOML."""
    import tomllib

    name = str(path)
    p = Path(path)
    try:
        if p.stat().st_size > MAX_INPUT_BYTES:
            raise InputError(f"file is larger than the {MAX_INPUT_BYTES} bytes accepted", source=name)
        return tomllib.loads(p.read_text())
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=name) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=name) from None
