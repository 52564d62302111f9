"""What a kdump initramfs costs the capture kernel.

The capture kernel holds the compressed archive where kexec put it (memblock
reserves it as the initrd) until ``populate_rootfs()`` has unpacked it into
rootfs, then frees it ("Freeing initrd memory"); the unpacked files stay in
rootfs for the capture kernel's life.  Rootfs is a tmpfs (init/do_mounts.c
``rootfs_init_fs_context()``: ``IS_ENABLED(CONFIG_TMPFS)`` and no ``root=``),
so each regular file takes ``ceil(size / PAGE_SIZE)`` shmem pages, and a
symlink's target a page unless it is shorter than ``SHORT_SYMLINK_LEN`` (128,
mm/shmem.c ``shmem_symlink()``: kept in the inode); directories and device
nodes take none.  A name unpacked twice keeps its last body (init/initramfs.c
``do_name()`` → ``clean_path()`` removes the earlier file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from earlymem.lib.errors import InputError
from earlymem.sources.cpio import read_cpio
from earlymem.sources.initrd_listing import PAGE_SIZE, rootfs_pages

__all__ = ["InitrdFacts", "initrd_facts"]

_S_IFMT, _S_IFREG, _S_IFLNK = 0o170000, 0o100000, 0o120000


@dataclass(frozen=True)
class InitrdFacts:
    """A kdump initramfs as the capture kernel sees it.

    :param size: the file's bytes (what kexec loads and the capture kernel reserves until unpacked).
    :param unpacked_pages: the rootfs (tmpfs) pages its files take once unpacked.
    :param files: regular files in it.
    :param source: where the facts came from (a file, or a listing).
    """

    size: int
    unpacked_pages: int
    files: int
    source: str

    @property
    def unpacked_bytes(self) -> int:
        return self.unpacked_pages * PAGE_SIZE


def initrd_facts(path: str | Path) -> InitrdFacts:
    """Read an initramfs (earlymem.sources.cpio: plain or compressed archives, as the kernel walks them).

    :raises InputError: naming the file, for anything the kernel's unpacker would stop at or that
        earlymem cannot read (an LZO member, a file over the size caps).
    """
    p = Path(path)
    entries = read_cpio(p)
    last: dict[str, tuple[str, int]] = {}
    for e in entries:
        kind = {_S_IFREG: "-", _S_IFLNK: "l"}.get(e.mode & _S_IFMT, "d")
        last[e.name.lstrip("./") or "."] = (kind, e.size)
    pages, files = rootfs_pages(last.values())
    try:
        size = p.stat().st_size
    except OSError as exc:  # read_cpio has read it: only a race gets here
        raise InputError(f"cannot read: {exc.strerror}", source=str(p)) from None
    return InitrdFacts(size, pages, files, str(p))
