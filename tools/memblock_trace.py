"""Compare earlymem's memblock calls with a real boot's ``memblock=debug`` trace.

Reads the trace with earlymem.sources.memblock_trace (every reservation and
free from e820__memblock_setup()'s dump to the hand-off), replays earlymem's
prediction for the same boot with ``Memblock.TRACE`` on, and prints the two
call sequences where they differ (with the kernel's callers and sizes), then
the reserved bytes and pages at the hand-off that only one side has.

    python tools/memblock_trace.py CAPTURE_DIR...

Captures made with ``earlymem oracle boot --cmdline memblock=debug``
(tests/fixtures/mbdebug).  Exits 1 if any reserved byte differs.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from earlymem.allocators.memblock import Memblock
from earlymem.result import BootResult
from earlymem.kernels import profile_for
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.version import parse_version
from earlymem.sources.capture import read_capture
from earlymem.sources.dmesg import parse_boot_logs
from earlymem.sources.memblock_trace import kernel_calls, reserved_at_handoff
from earlymem.verification import predict_capture


def predicted_memblock(path: Path) -> BootResult:
    """earlymem's boot of a capture: memblock at the hand-off, with its trace."""
    cap = read_capture(path)
    first = parse_boot_logs(cap.sections["first/dmesg"], str(path))[0]
    Memblock.TRACE = True
    try:
        _, result = predict_capture(cap, first, profile_for(parse_version(first.version)))
    finally:
        Memblock.TRACE = False
    return result


def _fmt(rs: RangeSet, limit: int = 8) -> str:
    items = [f"[{r.start:#x}-{r.end:#x})" for r in list(rs)[:limit]]
    return " ".join(items) + (" ..." if len(rs) > limit else "")


def compare(path: Path) -> bool:
    lines = read_capture(path).sections["first/dmesg"]
    real = kernel_calls(lines)
    mb = predicted_memblock(path)
    # ("count", n, max) and ("double", n, max) are earlymem's bookkeeping, not calls
    ours = [t for t in mb.memblock_trace or [] if t[0] not in ("count", "double", "map", "brk used")]
    a = [(c.kind, c.base, c.size) for c in real]
    sm = difflib.SequenceMatcher(a=a, b=ours, autojunk=False)
    print(f"== {path.name}: {len(real)} kernel calls after the dump, {len(ours)} earlymem calls in all")
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal" or (tag == "insert" and i1 == 0):  # earlymem's own calls before the dump
            continue
        for c in real[i1:i2]:
            print(f"  kernel   {c.kind:7} [{c.base:#x}-{c.base + c.size:#x}) {c.caller}")
        for kind, base, size in ours[j1:j2]:
            print(f"  earlymem {kind:7} [{base:#x}-{base + size:#x})")
        print("  --")
    memory = RangeSet(Range(r.start, r.end) for r in mb.memory)
    kernel = (reserved_at_handoff(lines) or RangeSet()).intersect(memory)
    earlymem = RangeSet(Range(r.start, r.end) for r in mb.reserved).intersect(memory)
    only_k, only_e = kernel.subtract(earlymem), earlymem.subtract(kernel)
    print(f"  reserved at the hand-off only by the kernel: {only_k.total} bytes {_fmt(only_k)}")
    print(f"  reserved at the hand-off only by earlymem: {only_e.total} bytes {_fmt(only_e)}")
    return not only_k and not only_e


if __name__ == "__main__":
    same = [compare(Path(p)) for p in sys.argv[1:]]
    sys.exit(0 if all(same) else 1)
