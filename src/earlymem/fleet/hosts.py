"""A fleet's hosts: each input a directory, a glob or a file, each host one input `check` reads.

A directory that is a sosreport, an Insights archive or a copy of a system's files is one host
(earlymem.kdump.gather decides as `check` does); any other directory is searched, one level at a
time, for such directories and for files: sosreport and Insights tarballs (``.tar.xz``, ``.tar.gz``,
``.tgz``, ...), machine descriptions (``.toml``) and boot logs (any other regular file).  A host's id is its input's name (a second input
of the same name gets ``#2``); its input hash identifies the content, so a re-run skips what is done
and redoes what changed: a file's SHA-256, a directory's SHA-256 over its files' relative paths, sizes
and modification times.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from earlymem.kdump.gather import _is_report

__all__ = ["Host", "discover", "input_hash"]

_TARBALL = (".tar.xz", ".tar.gz", ".tar.bz2", ".tar", ".tgz", ".txz")


@dataclass(frozen=True)
class Host:
    id: str
    path: str
    #: "report" (a sosreport, an Insights archive or a system copy: directory or tarball), "toml" (a machine
    #: description) or "log"
    kind: str


def _is_system(p: Path) -> bool:
    """A directory `check` reads as one host: a report, or a copy of a system's proc/ and sys/ files."""
    return _is_report(p) or (p / "proc").is_dir() or (p / "sys" / "firmware" / "memmap").is_dir()


def _walk(p: Path, out: list[Path]) -> None:
    if p.is_dir():
        if _is_system(p):
            out.append(p)
            return
        for child in sorted(p.iterdir()):
            if child.name.startswith("."):
                continue
            _walk(child, out)
    elif p.is_file():
        out.append(p)


def discover(inputs: list[str]) -> list[Host]:
    """Every host the inputs name, in a stable order (each input's own order, then by path)."""
    found: list[Path] = []
    for item in inputs:
        matches = sorted(glob.glob(item, recursive=True)) if glob.has_magic(item) else [item]
        for m in matches:
            _walk(Path(m), found)
    seen: dict[str, int] = {}
    hosts, done = [], set()
    for p in found:
        key = str(p.resolve())
        if key in done:
            continue
        done.add(key)
        name = p.name
        for suffix in _TARBALL:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        seen[name] = seen.get(name, 0) + 1
        hid = name if seen[name] == 1 else f"{name}#{seen[name]}"
        kind = "report" if p.is_dir() or p.name.endswith(_TARBALL) else "toml" if p.suffix == ".toml" else "log"
        hosts.append(Host(hid, str(p), kind))
    return hosts


def input_hash(path: str) -> str:
    """SHA-256 of a file's bytes, or of a directory's files' (relative path, size, mtime) list."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for f in sorted(files):
                q = Path(root) / f
                try:
                    st = q.lstat()
                except OSError:
                    continue
                h.update(f"{q.relative_to(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    else:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
