"""Compare earlymem's memblock calls with a real boot's ``memblock=debug`` trace.

With ``memblock=debug`` the kernel prints every ``memblock_reserve()`` (5.10
to 6.12: ``memblock_reserve: [base-end] caller``; 7.x: ``__memblock_reserve:
[base-end] nid=N flags=F caller``), the allocation call before it
(``memblock_alloc_try_nid: SIZE bytes align=... caller``) and every free
(``memblock_free:`` before 5.16, ``memblock_phys_free:`` after).  This tool
takes the calls after the ``MEMBLOCK configuration:`` dump of
e820__memblock_setup() up to the hand-off (the ``SLUB: HWalign`` line of
kmem_cache_init(), right after mem_init()), replays earlymem's prediction for
the same boot with :attr:`Memblock.trace` on, and prints both sequences side
by side where they differ, with the kernel's caller names, and the pages
reserved by one and not the other at the hand-off.

    python tools/memblock_trace.py CAPTURE_DIR...

Captures made with ``earlymem oracle boot --cmdline memblock=debug``.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from earlymem.allocators.memblock import Memblock
from earlymem.kernels import parse_version, profile_for
from earlymem.oracle.capture import read_capture
from earlymem.predict import predict_lines
from earlymem.report import e820_report
from earlymem.sources.dmesg import parse_boot_logs
from earlymem.verify import capture_machine

_CALL = re.compile(r"\] (?:__)?(memblock_reserve|memblock_phys_free|memblock_free): "
                   r"\[0x([0-9a-f]+)-0x([0-9a-f]+)\] (?:nid=\S+ flags=\S+ )?(\S+)")
_ALLOC = re.compile(r"\] (memblock_\w+): (\d+) bytes .* (\S+)$")


def kernel_calls(lines: list[str]) -> list[tuple[str, int, int, str]]:
    """``(kind, base, size, caller)`` from the dump to the hand-off."""
    out: list[tuple[str, int, int, str]] = []
    started = False
    caller = ""
    for ln in lines:
        if "MEMBLOCK configuration:" in ln:
            started = True
            continue
        if not started:
            continue
        if "SLUB: HWalign" in ln:
            break
        m = _ALLOC.search(ln)
        if m:
            caller = f"{m.group(3).split('+')[0]}({m.group(2)})"
            continue
        m = _CALL.search(ln)
        if m:
            base, end = int(m.group(2), 16), int(m.group(3), 16) + 1
            who = m.group(4).split("+")[0]
            if who == "memblock_alloc_range_nid":
                who = caller
            out.append(("reserve" if m.group(1) == "memblock_reserve" else "free", base, end - base, who))
    return out


def reserved_pages(calls, initial) -> set[int]:
    """Pages holding any reserved byte after ``calls`` over ``initial`` byte ranges."""
    ranges = [list(r) for r in initial]
    for kind, base, size, *_ in calls:
        end = base + size
        if kind == "reserve":
            ranges.append([base, end])
            continue
        kept = []
        for a, b in ranges:
            if b <= base or a >= end:
                kept.append([a, b])
            else:
                if a < base:
                    kept.append([a, base])
                if b > end:
                    kept.append([end, b])
        ranges = kept
    pages: set[int] = set()
    for a, b in ranges:
        pages.update(range(a >> 12, ((b - 1) >> 12) + 1))
    return pages


def compare(path: Path) -> int:
    cap = read_capture(path)
    lines = cap.sections["first/dmesg"]
    real = kernel_calls(lines)
    first = parse_boot_logs(lines, str(path))[0]
    machine = capture_machine(cap, first)
    profile = profile_for(parse_version(first.version))
    report = e820_report(machine, profile, already_sanitized=True, who=first.firmware.who)
    state: dict = {}
    Memblock.TRACE = True
    try:
        predict_lines(machine, profile, report, [], state)
    finally:
        Memblock.TRACE = False
    mb = state["memblock"]
    ours = mb.trace or []
    # earlymem's trace starts at its first reservation; align on the kernel's part
    a = [(k, b, s) for k, b, s, _ in real]
    b = [(k, x, s) for k, x, s in ours]
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    print(f"== {path.name}: {len(real)} kernel calls, {len(ours)} earlymem calls")
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal" or (tag == "insert" and i1 == 0):
            continue
        for k, base, size, who in real[i1:i2]:
            print(f"  kernel   {k:7} [{base:#x}-{base + size:#x}) {size:#x} {who}")
        for k, base, size in ours[j1:j2]:
            print(f"  earlymem {k:7} [{base:#x}-{base + size:#x}) {size:#x}")
        print("  --")
    mem = set()
    for r in mb.memory:
        mem.update(range(r.base >> 12, (r.base + r.size - 1 >> 12) + 1))
    ours_pages = reserved_pages([], [(r.base, r.base + r.size) for r in mb.reserved if r.size]) & mem
    kern_pages = reserved_pages(real, dumped_reserved(lines)) & mem
    only_k, only_e = sorted(kern_pages - ours_pages), sorted(ours_pages - kern_pages)
    print(f"  pages reserved at the hand-off only by the kernel: {len(only_k)} {_runs(only_k)}")
    print(f"  pages reserved at the hand-off only by earlymem: {len(only_e)} {_runs(only_e)}")
    return len(only_k) + len(only_e)


_DUMPED = re.compile(r"^\s*reserved\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\]")


def dumped_reserved(lines: list[str]) -> list[tuple[int, int]]:
    """The ``reserved[..]`` ranges of the ``MEMBLOCK configuration:`` dump."""
    out = []
    for ln in lines:
        m = _DUMPED.match(ln.split("] ", 1)[-1])
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16) + 1))
        elif out:
            break
    return out


def _runs(pages: list[int]) -> str:
    out: list[list[int]] = []
    for p in pages:
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return " ".join(f"{a:#x}" if a == b else f"{a:#x}-{b:#x}" for a, b in out[:12])


if __name__ == "__main__":
    bad = sum(compare(Path(p)) for p in sys.argv[1:])
    sys.exit(1 if bad else 0)
