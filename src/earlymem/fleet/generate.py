"""A generated fleet, for tests and benchmarks: boot logs made from the bundled Debian 6.1 log (a real
QEMU boot), each with its own RAM above 4 GiB and its own crashkernel=, now and then a machine
description (TOML) with one of the four pinned kernels and one, two or four NUMA nodes, and a few bad inputs (an empty file, bytes that are no log, a log cut before its memory
map).  Deterministic for a seed."""

from __future__ import annotations

import random
import re
from importlib import resources
from pathlib import Path

__all__ = ["generate_fleet", "CRASHKERNELS"]

#: the crashkernel= values hosts are given (None: none asked for)
CRASHKERNELS = (None, "64M", "96M", "128M", "192M", "256M", "512M", "1G-4G:160M,4G-64G:256M,64G-:512M")
#: GiB of RAM above 4 GiB
HIGH_GIB = (1, 2, 4, 8, 16, 32, 60)
#: the kernels machine descriptions name: earlymem's pinned Debian builds
RELEASES = ("5.10.0-32-amd64", "6.1.0-50-amd64", "6.12.117+deb13-amd64", "7.2.13+deb14-amd64")


def _base() -> list[str]:
    text = (resources.files("earlymem") / "data" / "debian-6.1-pc-4g-memmap.log").read_text(errors="replace")
    return text.splitlines()


def generate_fleet(where: Path, hosts: int, *, seed: int = 0, bad_every: int = 25, toml_every: int = 10) -> list[Path]:
    """Write ``hosts`` inputs into ``where``; every ``bad_every``-th is a bad one, every ``toml_every``-th
    (of the others) a machine description.  Returns their paths."""
    rnd = random.Random(seed)
    base = _base()
    where.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(1, hosts + 1):
        p = where / f"host-{i:05d}.log"
        if bad_every and i % bad_every == 0:
            kind = (i // bad_every) % 3
            if kind == 0:
                p.write_bytes(b"")
            elif kind == 1:
                p.write_bytes(bytes(rnd.randrange(256) for _ in range(512)))
            else:
                p.write_text("\n".join(base[:9]) + "\n")  # the banner, and no memory map
            out.append(p)
            continue
        high = rnd.choice(HIGH_GIB)
        crash = rnd.choice(CRASHKERNELS)
        lines = []
        for ln in base:
            if "Command line:" in ln:
                ln = re.sub(r" memmap=\S+", "", ln) + (f" crashkernel={crash}" if crash else "")
            elif "BIOS-e820: [mem 0x0000000100000000-" in ln:
                ln = re.sub(r"0x0000000100000000-0x[0-9a-f]{16}", f"0x0000000100000000-{(4 + high << 30) - 1:#018x}", ln)
            lines.append(ln)
        if toml_every and i % toml_every == 0:  # a machine description: one of the pinned kernels, 1-4 NUMA nodes
            p = where / f"host-{i:05d}.toml"
            e820 = [("0x0", "0x9fc00", "usable"), ("0x9fc00", "0x400", "reserved"), ("0xf0000", "0x10000", "reserved"),
                    ("0x100000", f"{0xbffe0000 - 0x100000:#x}", "usable"), ("0xbffe0000", "0x20000", "reserved"),
                    ("0xfffc0000", "0x40000", "reserved"), ("0x100000000", f"{high << 30:#x}", "usable")]
            body = [f'kernel_version = "{rnd.choice(RELEASES)}"',
                    f'command_line = "console=ttyS0 nokaslr panic=-1{f" crashkernel={crash}" if crash else ""}"']
            body += [f'[[e820]]\nstart = "{a}"\nsize = "{b}"\ntype = "{t}"' for a, b, t in e820]
            nodes = rnd.choice((1, 2, 4))
            if nodes > 1:  # the RAM above 4 GiB cut into equal nodes, node 0 also holding all below 4 GiB
                per = (high << 30) // nodes >> 27 << 27
                starts = [0] + [(4 << 30) + k * per for k in range(1, nodes)]
                ends = starts[1:] + [(4 + high) << 30]
                body += [f'[[numa]]\nnode = {n}\npxm = {n}\nstart = "{a:#x}"\nend = "{b:#x}"'
                         for n, (a, b) in enumerate(zip(starts, ends))]
                body += [f'[[cpus]]\napic = {n}\nnode = {n}' for n in range(nodes)]
            p.write_text("\n".join(body) + "\n")
        else:
            p.write_text("\n".join(lines) + "\n")
        out.append(p)
    return out
