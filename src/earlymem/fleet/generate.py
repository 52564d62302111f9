"""A generated fleet, for tests and benchmarks: boot logs made from the bundled Debian 6.1 log (a real
QEMU boot), each with its own RAM above 4 GiB and its own crashkernel=, and a few bad inputs (an empty
file, bytes that are no log, a log cut before its memory map).  Deterministic for a seed."""

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


def _base() -> list[str]:
    text = (resources.files("earlymem") / "data" / "debian-6.1-pc-4g-memmap.log").read_text(errors="replace")
    return text.splitlines()


def generate_fleet(where: Path, hosts: int, *, seed: int = 0, bad_every: int = 25) -> list[Path]:
    """Write ``hosts`` inputs into ``where``; every ``bad_every``-th is a bad one.  Returns their paths."""
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
        p.write_text("\n".join(lines) + "\n")
        out.append(p)
    return out
