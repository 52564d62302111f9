"""The capture kernel's memory model, piece by piece: the initramfs's cost (an image or a
listing), makedumpfile's bitmaps, and the order in which the steps fail."""

from __future__ import annotations

import gzip

import pytest

from earlymem.kdump.initrd import initrd_facts
from earlymem.kdump.memory import CaptureMemory, makedumpfile_bitmaps
from earlymem.lib.errors import InputError
from earlymem.sources.initrd_listing import parse_initrd_listing
from test_cpio import archive, entry

MiB = 1 << 20


def test_an_image_costs_its_files_pages_once_each(tmp_path):
    img = tmp_path / "kdump.img"
    body = archive(
        entry("bin", mode=0o040755),
        entry("bin/busybox", b"x" * 5000),                 # 2 pages
        entry("init", b"#!/bin/sh\n"),                     # 1 page
        entry("lib/short", b"target", mode=0o120777),      # short symlink: in the inode
        entry("lib/long", b"t" * 200, mode=0o120777),      # long symlink: a page
        entry("dev/console", mode=0o020600),               # a device node: none
        entry("init", b"y" * 4097),                        # unpacked again: the last body wins (2 pages)
    )
    img.write_bytes(gzip.compress(body))
    f = initrd_facts(img)
    assert (f.unpacked_pages, f.files, f.size) == (2 + 2 + 1, 2, img.stat().st_size)


LSINITRD = """\
Image: /boot/initramfs-5.14.0-284.el9.x86_64kdump.img: 26M
========================================================================
Version: dracut-057-21.git20230214.el9

dracut modules:
bash
kdumpbase
========================================================================
crw-r--r--   1 root     root       5,   1 Feb 14 09:12 dev/console
drwxr-xr-x  12 root     root            0 Feb 14 09:12 .
lrwxrwxrwx   1 root     root            7 Feb 14 09:12 bin -> usr/bin
-rwxr-xr-x   1 root     root      1396520 Jan 24  2023 usr/bin/bash
-rw-r--r--   1 root     root         4097 Jan 24  2023 etc/kdump.conf
========================================================================
"""


def test_a_lsinitrd_listing_gives_the_unpacked_files_and_a_size_bound():
    ls = parse_initrd_listing(LSINITRD.splitlines(), "lsinitrd")
    assert ls.unpacked_pages == -(-1396520 // 4096) + 2 and ls.files == 2
    assert ls.image.endswith("kdump.img") and ls.size_bound == (25 * MiB, 26 * MiB)


def test_a_listing_without_entries_or_with_a_broken_entry_is_refused():
    with pytest.raises(InputError, match="lsinitrd: no initramfs entries"):
        parse_initrd_listing(["Image: x: 2.5M", "bash"], "lsinitrd")
    with pytest.raises(InputError, match=r"lsinitrd:2: an entry line that does not parse"):
        parse_initrd_listing(["-rwxr-xr-x 1 root root 12 Jan 24 2023 a", "-rwxr-xr-x oops"], "lsinitrd")


@pytest.mark.parametrize("ram, memfree, heap, file", [
    (4 << 30, 100 * MiB, 8192, 2 * 32 * 4096),            # one cycle: both bitmaps in the file under /tmp
    # 2 bits a frame > 4 MiB: cyclic, one 4 MiB buffer at a time (create_dump_bitmap() frees the 2nd bitmap's
    # before write_kdump_pages_and_bitmap_cyclic() allocates the 1st's; the 64 GiB memcg boots peak at 4 MiB + own)
    (66 << 30, 100 * MiB, 4 * MiB, 0),
    (4 << 30, 400 << 10, (400 << 10) * 6 // 10, 0),        # little free: 60 % of it, cyclic
])
def test_makedumpfile_keeps_its_bitmaps_in_a_file_or_in_its_heap(ram, memfree, heap, file):
    assert makedumpfile_bitmaps(ram // 4096, memfree) == (pytest.approx(heap, abs=8), file)


def mem(**kw):
    base = dict(handoff=100 * MiB, total=110 * MiB, min_watermark=MiB, tmpfs_limit=50 * MiB, unpacked=10 * MiB, initrd=4 * MiB,
                late_frees=10 * MiB, runtime=20 * MiB, runtime_low=15 * MiB, dump=2 * MiB, dump_file=0, calibration="t")
    return CaptureMemory(**{**base, **kw})


def test_the_first_step_that_fails_is_named():
    assert mem().failure is None and mem().known
    assert mem(unpacked=51 * MiB).failure == "tmpfs"
    assert mem(runtime=95 * MiB, runtime_low=90 * MiB).failure == "unpack"
    # short at /init's runtime, not at the runtime an unpack was seen to compete with: marginal
    assert mem(runtime=95 * MiB, runtime_low=85 * MiB).failure == "marginal"
    assert mem(runtime=95 * MiB, runtime_low=None).failure == "unpack"
    assert mem(unpacked=49 * MiB, dump_file=2 * MiB, dump=3 * MiB).failure == "dump-tmpfs"
    assert mem(runtime=58 * MiB, dump=45 * MiB).failure == "dump"
    unknown = mem(runtime=None, runtime_low=None, dump=None)
    assert unknown.failure is None and not unknown.known and unknown.unpack_margin is None
