#!/usr/bin/env python3
"""Commit a dump sweep's results as fixtures.

    python tools/import_sweep.py SWEEP_OUT [tests/fixtures/dumps/sweep]

Copies OUT/sweep.json (each boot's outcome read again with
earlymem.oracle.sweep.refine(), as the sweep's first boots were classified
before "unpack-failed" was told apart) and the captures that bracket each
minimum (serial logs gzipped with -9 -n), and writes the two kdump
initramfs listings (kdump-initrd-small.lst, kdump-initrd-large.lst: what
`cpio -itv` prints, read from the images in the oracle's cache) that the
tests give `check` as --initrd.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
import stat
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from earlymem.oracle.kernels import cache_dir  # noqa: E402
from earlymem.oracle.sweep import read_results, reclassify, refine, write_results  # noqa: E402
from earlymem.sources.cpio import parse_cpio, read_cpio  # noqa: E402


def listing(image_bytes: bytes, source: str) -> str:
    """``cpio -itv``-style lines of a kdump initramfs."""
    tmp = Path("/tmp/earlymem-kdump-initrd.img")
    tmp.write_bytes(image_bytes)
    out = []
    for e in read_cpio(tmp):
        kind = "d" if stat.S_ISDIR(e.mode) else "l" if stat.S_ISLNK(e.mode) else "-" if stat.S_ISREG(e.mode) else "c"
        perms = stat.filemode(e.mode)[1:]
        when = time.strftime("%b %d %Y", time.gmtime(e.mtime))
        name = e.name + (f" -> {e.data.decode()}" if kind == "l" else "")
        out.append(f"{kind}{perms}   {e.nlink:>2} root     root     {e.size:>8} {when} {name}")
    tmp.unlink()
    return "\n".join(out) + "\n"


def kdump_images() -> dict[str, bytes]:
    """The small and large kdump initramfs, from the newest main images in the cache."""
    found: dict[str, bytes] = {}
    for img in sorted((cache_dir() / "initramfs").glob("main-*.img"), key=lambda p: p.stat().st_mtime, reverse=True):
        for e in read_cpio(img, limit=1 << 30):
            if e.name.endswith("boot/kdump-initrd.img"):
                names = {x.name for x in read_cpio_bytes(e.data)}
                if "usr/sbin/makedumpfile" not in names:
                    continue
                flavour = "large" if "pad/random.bin" in names else "small"
                found.setdefault(flavour, e.data)
        if len(found) == 2:
            break
    return found


def read_cpio_bytes(data: bytes):
    return parse_cpio(data, "kdump-initrd.img")


def main() -> None:
    out = Path(sys.argv[1])
    dest = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/fixtures/dumps/sweep"
    dest.mkdir(parents=True, exist_ok=True)
    results = []
    for r in read_results(out / "sweep.json"):
        r = reclassify(r, out)  # the kept captures, read again
        r.boots = [dataclasses.replace(b, outcome=refine(b.outcome, b.evidence)) for b in r.boots]
        results.append(r)
    write_results(results, dest / "sweep.json")
    doc = json.loads((dest / "sweep.json").read_text())
    n = 0
    for d in sorted(out.iterdir()):
        if d.is_dir() and d.name != "boots" and (d / "serial.log").is_file():
            target = dest / d.name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            shutil.copy2(d / "note.md", target / "note.md")
            with open(d / "serial.log", "rb") as src, gzip.GzipFile(target / "serial.log.gz", "wb", 9, mtime=0) as gz:
                shutil.copyfileobj(src, gz)
            n += 1
    for flavour, data in kdump_images().items():
        (dest / f"kdump-initrd-{flavour}.lst").write_text(listing(data, flavour))
    print(f"{len(doc['sweeps'])} sweeps, {n} captures -> {dest}")


if __name__ == "__main__":
    main()
