"""A sosreport as shipped -- a directory, or the ``.tar.xz`` (``.tar.gz``, ``.tar``) sos
writes -- read safely (issue 17, the input side of ``earlymem check``).

Only the files earlymem reads are taken (:data:`SOS_PATHS`, the paths of sos' plugins as
../shared/spec/kdump-users.md §3.1 lists them from sosreport/sos@5c7e63e, with the same
first-file fallbacks as insights-core's insights/specs/sos_archive.py). They are read into
memory, each at most :data:`MAX_MEMBER` bytes: nothing is ever written to disk, so a
hostile archive cannot write outside a temporary directory because none is used.

Refused with one line naming the archive (and the member), :class:`InputError`, exit 2:

* a truncated or damaged archive, or one that is not a tar archive at all;
* a member whose name is absolute or climbs out with ``..``, and a symbolic link whose
  target does so (sos archives do hold links: ``uname`` -> ``sos_commands/kernel/uname_-a``);
* an archive or directory that is not a sosreport (no ``sos_commands/``);
* more than :data:`MAX_MEMBERS` members, or more than :data:`MAX_TOTAL` bytes of them.
"""

from __future__ import annotations

import lzma
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.lib.errors import InputError

__all__ = ["SOS_PATHS", "SOS_PATTERNS", "SosReport", "read_sosreport", "MAX_MEMBER", "MAX_MEMBERS", "MAX_TOTAL"]

#: what earlymem reads from a sosreport: a name, and the paths to try, first found wins
#: An Insights archive (insights-client) has the same files at their own paths, the commands' output
#: under insights_commands/ (RedHatInsights/insights-core's archive layout, falafel's tests), all of it
#: under data/ in the newer core collection; its dmesg and lsinitrd output are *filtered* (only lines
#: matching the uploader's patterns are kept).
_DATA = "data/"


def _both(*paths: str) -> tuple[str, ...]:
    """Each path, then the same under an Insights archive's data/."""
    return (*paths, *(_DATA + p for p in paths))


SOS_PATHS: dict[str, tuple[str, ...]] = {
    "cmdline": _both("proc/cmdline"),
    # kernel.py; the ring buffer may have wrapped on a large host: the journal of this boot next
    "dmesg": ("sos_commands/kernel/dmesg", "sos_commands/kernel/dmesg_-T", "sos_commands/general/dmesg", "var/log/dmesg",
              *_both("insights_commands/dmesg")),
    "journal": ("sos_commands/logs/journalctl_--no-pager_--boot", "sos_commands/logs/journalctl_--no-pager_--catalog_--boot",
                "sos_commands/logs/journalctl_--all_--this-boot_--no-pager"),
    "iomem": _both("proc/iomem"),  # pci.py
    "meminfo": _both("proc/meminfo"),
    "osrelease": _both("proc/sys/kernel/osrelease"),
    "uname": ("sos_commands/kernel/uname_-a", "uname", *_both("insights_commands/uname_-a")),
    "kexec_crash_size": _both("sys/kernel/kexec_crash_size"),
    "kexec_crash_loaded": _both("sys/kernel/kexec_crash_loaded"),
    "kdump_conf": _both("etc/kdump.conf"),
    "sysconfig_kdump": _both("etc/sysconfig/kdump"),
    "kdump_tools": _both("etc/default/kdump-tools"),
    "kdumpctl_estimate": ("sos_commands/kdump/kdumpctl_estimate",),
    "boot_listing": ("sos_commands/boot/ls_-lanR_.boot", "sos_commands/boot/ls_-alZR_.boot",
                     "sos_commands/bootloader/ls_-laR_.boot", "sos_commands/grub2/ls_-lanR_.boot",
                     *_both("insights_commands/ls_-lanR_.boot")),
}
#: the directory that makes a report one: a sosreport's, an Insights archive's
MARKERS = {"sos_commands": "sosreport", "insights_commands": "Insights archive", _DATA + "insights_commands": "Insights archive"}
#: files whose names carry a version: a name, and (prefix, a word the rest must hold); the
#: first found in name order wins (RedHatKDump: ``lsinitrd /boot/initramfs-<uname -r>kdump.img``)
SOS_PATTERNS: dict[str, tuple[tuple[str, str], ...]] = {
    "kdump_initrd_listing": (("sos_commands/kdump/lsinitrd", "kdump"), ("sos_commands/kdump/lsinitramfs", "kdump"),
                             ("insights_commands/lsinitrd", "kdump"), (_DATA + "insights_commands/lsinitrd", "kdump")),
}
_WANTED = {p for paths in SOS_PATHS.values() for p in paths}


def _wanted(rel: str) -> bool:
    return rel in _WANTED or any(rel.startswith(pre) and word in rel[len(pre):] for pats in SOS_PATTERNS.values()
                                 for pre, word in pats)

#: the largest member read (a journal of a long boot can be tens of MiB)
MAX_MEMBER = 256 << 20
#: members an archive may hold (sos writes some 10^4)
MAX_MEMBERS = 1_000_000
#: bytes of members an archive may hold, read or skipped (sos archives are at most a few GiB)
MAX_TOTAL = 32 << 30
_MAX_LINK_HOPS = 8


@dataclass(frozen=True)
class SosReport:
    """The files earlymem reads from one sosreport.

    :param source: the archive or directory given.
    :param files: for each name of :data:`SOS_PATHS` found, ``(path inside the report, bytes)``.
    """

    source: str
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    #: "sosreport" or "Insights archive"
    kind: str = "sosreport"

    def text(self, name: str) -> str | None:
        found = self.files.get(name)
        return found[1].decode("utf-8", errors="replace") if found is not None else None

    def where(self, name: str) -> str | None:
        """``archive:path`` of a file read, for evidence and errors."""
        found = self.files.get(name)
        return f"{self.source}:{found[0]}" if found is not None else None

    def missing(self) -> list[str]:
        return [name for name in [*SOS_PATHS, *SOS_PATTERNS] if name not in self.files]


def _safe(name: str, source: str, what: str = "member") -> str:
    """``name`` normalised, or an error if it is absolute or leaves the report."""
    if name.startswith("/") or name.startswith("\\"):
        raise InputError(f"{what} {name!r} is an absolute path: refused (path traversal)", source=source)
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        raise InputError(f"{what} {name!r} leaves the archive's directory: refused (path traversal)", source=source)
    return "" if norm == "." else norm


def _pick(found: dict[str, bytes]) -> dict[str, tuple[str, bytes]]:
    out = {}
    for name, paths in SOS_PATHS.items():
        for p in paths:
            if p in found:
                out[name] = (p, found[p])
                break
    for name, pats in SOS_PATTERNS.items():
        for pre, word in pats:
            hit = next((p for p in sorted(found) if p.startswith(pre) and word in p[len(pre):]), None)
            if hit is not None:
                out[name] = (hit, found[hit])
                break
    return out


def read_sosreport(path: str | Path) -> SosReport:
    """Read the sosreport at ``path`` (a directory or a tar archive).

    :raises InputError: naming ``path`` (and the member) for anything refused above.
    """
    p = Path(path)
    source = str(p)
    if p.is_dir():
        return _read_dir(p, source)
    if not p.is_file():
        raise InputError("no such file or directory", source=source)
    return _read_tar(p, source)


def _kind(has) -> str | None:
    return next((kind for marker, kind in MARKERS.items() if has(marker)), None)


def _read_dir(root: Path, source: str) -> SosReport:
    if _kind(lambda m: (root / m).is_dir()) is None:
        subdirs = [d for d in root.iterdir() if d.is_dir()]
        if len(subdirs) == 1 and _kind(lambda m: (subdirs[0] / m).is_dir()) is not None:
            root = subdirs[0]  # the directory an archive unpacks to, given one level up
    kind = _kind(lambda m: (root / m).is_dir())
    if kind is None:
        raise InputError("not a sosreport or an Insights archive: no sos_commands/ or insights_commands/ directory", source=source)
    base = root.resolve()
    found: dict[str, bytes] = {}
    patterned = [str(f.relative_to(root)) for pats in SOS_PATTERNS.values() for pre, word in pats
                 for f in root.glob(pre + "*") if word in str(f.relative_to(root))[len(pre):]]
    for rel in sorted(_WANTED | set(patterned)):
        f = root / rel
        if not (f.is_file() or f.is_symlink()):
            continue
        real = f.resolve()
        if base not in real.parents:
            raise InputError(f"{rel!r} is a link out of the report (to {real}): refused (path traversal)", source=source)
        if not real.is_file():
            continue
        if real.stat().st_size > MAX_MEMBER:
            raise InputError(f"{rel!r} is larger than {MAX_MEMBER >> 20} MiB: refused", source=source)
        found[rel] = real.read_bytes()
    return SosReport(source, _pick(found), kind)


def _member(tar: tarfile.TarFile, info: tarfile.TarInfo, source: str) -> bytes:
    """One regular member's bytes, refused past :data:`MAX_MEMBER`."""
    if info.size > MAX_MEMBER:
        raise InputError(f"member {info.name!r} is larger than {MAX_MEMBER >> 20} MiB: refused", source=source)
    handle = tar.extractfile(info)
    return handle.read() if handle is not None else b""


def _read_tar(path: Path, source: str) -> SosReport:
    members: dict[str, tarfile.TarInfo] = {}
    found: dict[str, bytes] = {}
    links: dict[str, str] = {}
    top: str | None = None
    total = 0
    count = 0
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for info in tar:  # streaming: one pass, members read as they come
                count += 1
                if count > MAX_MEMBERS:
                    raise InputError(f"more than {MAX_MEMBERS} members: refused", source=source)
                total += max(info.size, 0)
                if total > MAX_TOTAL:
                    raise InputError(f"members larger than {MAX_TOTAL >> 30} GiB in all: refused", source=source)
                name = _safe(info.name, source)
                if not name:
                    continue
                first, _, rest = name.partition("/")
                # sos archives hold one top directory (sosreport-<host>-<date>/); files at the top are
                # taken as they are
                if top is None and rest:
                    top = first
                rel = rest if rest and first == top else name
                if info.issym() or info.islnk():
                    target = info.linkname
                    if info.issym():
                        target = _safe(posixpath.join(posixpath.dirname(name), target), source,
                                       f"the link {info.name!r} -> {info.linkname!r}: target")
                    else:
                        target = _safe(target, source, f"the hard link {info.name!r}: target")
                    t_first, _, t_rest = target.partition("/")
                    links[rel] = t_rest if t_rest and t_first == top else target
                    continue
                if not info.isfile() or not _wanted(rel) and rel not in links.values():
                    if info.isfile():
                        members[rel] = info  # a link's target may come before or after the link
                    continue
                found[rel] = _member(tar, info, source)
            for rel in sorted(_WANTED - found.keys()):
                target, hops = rel, 0
                while target in links and hops < _MAX_LINK_HOPS:
                    target, hops = links[target], hops + 1
                if target != rel and target in found:
                    found[rel] = found[target]
                elif target != rel and target in members:
                    found[rel] = _member(tar, members[target], source)
    except InputError:
        raise
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
        why = str(exc).split("\n")[0] or type(exc).__name__
        raise InputError(f"truncated or damaged archive ({why})", source=source) from None
    names = [*members, *found, *links]
    kind = _kind(lambda m: any(k.startswith(m + "/") for k in names))
    if top is None or kind is None:
        raise InputError("not a sosreport or an Insights archive: no sos_commands/ or insights_commands/ directory in the archive",
                         source=source)
    return SosReport(source, _pick(found), kind)
