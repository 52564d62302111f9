"""An initramfs listing: what ``lsinitrd`` (dracut), ``lsinitramfs -l`` (Debian) or ``cpio -itv`` print.

A sosreport keeps the kdump initramfs only as such a listing
(``sos_commands/kdump/lsinitrd_…kdump.img``); its lines are ``ls -l`` style::

    -rwxr-xr-x   1 root     root      1982256 May  7  2026 bin/busybox
    lrwxrwxrwx   1 root     root            7 Dec  5 16:58 sbin -> usr/sbin
    crw-r--r--   1 root     root       5,   1 Dec  5 16:58 dev/console

lsinitrd's header lines (``Image:``, ``Version:``, ``Arguments:``, ``dracut
modules:`` and the names under it, rules of ``=``) are skipped; ``Image: PATH:
25M`` gives the file's size as ``du -h`` rounds it, which is kept as a bound.
A listing gives the unpacked files, never the archive's exact size: that comes
from the file, a /boot listing or ``--initrd-size``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from earlymem.lib.errors import InputError

__all__ = ["InitrdListing", "parse_initrd_listing", "rootfs_pages", "SHORT_SYMLINK_LEN"]

PAGE_SIZE = 4096
#: mm/shmem.c shmem_symlink(): a target shorter than this lives in the inode (SHORT_SYMLINK_LEN, 128)
SHORT_SYMLINK_LEN = 128


def rootfs_pages(items) -> tuple[int, int]:
    """``(pages, regular files)`` that ``(kind, size)`` items take in rootfs (a tmpfs): ``kind`` is
    ``-`` (a regular file: ceil(size / PAGE_SIZE) pages), ``l`` (a symlink: a page unless its target
    is shorter than SHORT_SYMLINK_LEN) or anything else (directories, device nodes: none)."""
    pages = files = 0
    for kind, size in items:
        if kind == "-":
            files += 1
            pages += -(-size // PAGE_SIZE)
        elif kind == "l" and size >= SHORT_SYMLINK_LEN:
            pages += 1
    return pages, files

_ENTRY = re.compile(
    r"^(?P<type>[-dlcbps])(?P<perm>[-rwxsStT]{9})[.+@]?\s+(?P<links>\d+)\s+\S+\s+\S+\s+"
    r"(?:(?P<size>\d+)|\d+,\s*\d+)\s+"
    r"(?:\w{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})|\d{4}-\d{2}-\d{2}(?:\s+\d{2}:\d{2}(?::\d{2})?)?)\s+(?P<name>.+)$"
)
_IMAGE = re.compile(r"^Image:\s+(?P<path>.+?):\s+(?P<size>\d+(?:\.\d+)?)(?P<unit>[KMGT]?)\s*$")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class InitrdListing:
    """The unpacked side of an initramfs, from its listing.

    :param size_bound: ``(low, high]`` of the file's size from lsinitrd's ``Image:`` line, None if absent.
    """

    unpacked_pages: int
    files: int
    image: str | None
    size_bound: tuple[int, int] | None
    source: str


def parse_initrd_listing(lines: list[str], source: str) -> InitrdListing:
    """:raises InputError: naming the file and line, for an entry line that does not parse or a listing without entries."""
    entries = 0
    image = bound = None
    seen: dict[str, tuple[str, int]] = {}
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        m = _IMAGE.match(line)
        if m:
            image = m.group("path")
            value, unit = float(m.group("size")), _UNITS[m.group("unit")]
            # du -h rounds up to one decimal below 10, to whole units above
            step = unit // 10 if value < 10 and unit > 1 else unit
            bound = (max(0, int(value * unit) - step), int(value * unit))
            continue
        m = _ENTRY.match(line)
        if not m:
            if line[:1] in "-dlcbps" and re.match(r"^[-dlcbps][-rwxsStT]{9}", line):
                raise InputError("an entry line that does not parse (expected ls -l columns)", source=source, line=lineno)
            continue
        entries += 1
        name = m.group("name")
        kind = m.group("type")
        size = int(m.group("size") or 0)
        if kind == "l":
            name = name.split(" -> ", 1)[0]
        seen[name.lstrip("./") or "."] = (kind, size)
    if not entries:
        raise InputError("no initramfs entries (expected lsinitrd, lsinitramfs -l or cpio -itv output)", source=source)
    pages, files = rootfs_pages(seen.values())
    return InitrdListing(pages, files, image, bound, source)
