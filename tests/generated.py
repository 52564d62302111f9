"""Machines for hypothesis tests: QEMU/server-like e820 maps, optional SRAT nodes."""

from earlymem.lib.cmdline import CommandLine
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import Machine, NumaAffinity
from earlymem.machine.e820 import E820Entry, E820Type

M, G = 1 << 20, 1 << 30


def generated_machine(low_mb: int, high_gb: int, holes: list[tuple[int, int]], nodes: int, crash: str, version: str) -> Machine:
    """RAM from 1 MiB to ``low_mb`` and ``high_gb`` GiB from 4 GiB, reserved
    ``holes`` (MiB offset, MiB size) punched in (the kernel sanitizes the
    overlaps), cut into ``nodes`` equal 128 MiB-aligned SRAT nodes."""
    e820 = [E820Entry(0, 0x9FC00, E820Type.RAM), E820Entry(0x9FC00, 0x400, E820Type.RESERVED),
            E820Entry(0xF0000, 0x10000, E820Type.RESERVED), E820Entry(M, low_mb * M - M, E820Type.RAM)]
    if high_gb:
        e820.append(E820Entry(4 * G, high_gb * G, E820Type.RAM))
    for at_mb, size_mb in holes:
        e820.append(E820Entry(at_mb * M + 0x1800, size_mb * M, E820Type.RESERVED))
    end = 4 * G + high_gb * G if high_gb else low_mb * M
    numa = []
    if nodes > 1:
        cuts = [0] + [(end // nodes * i) >> 27 << 27 for i in range(1, nodes)] + [end]
        numa = [NumaAffinity(n, n, Range(cuts[n], cuts[n + 1])) for n in range(nodes) if cuts[n] < cuts[n + 1]]
    return Machine(e820, CommandLine(f"console=ttyS0 nokaslr {crash}".strip()), parse_version(version), numa)


def machine_args(high_gb_max: int, hole_at_max_mb: int, hole_max_mb: int, crashes: list[str]) -> dict:
    """Hypothesis strategies for :func:`generated_machine`'s arguments (all but the version)."""
    from hypothesis import strategies as st

    return {
        "low_mb": st.integers(64, 3071),
        "high_gb": st.integers(0, high_gb_max),
        "holes": st.lists(st.tuples(st.integers(1, hole_at_max_mb), st.integers(1, hole_max_mb)), max_size=4),
        "nodes": st.integers(1, 4),
        "crash": st.sampled_from(crashes),
    }
