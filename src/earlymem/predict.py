"""Everything earlymem predicts for one boot, as ``(family, line)`` in kernel order.

Shared by ``earlymem predict`` (which prints the lines) and ``earlymem
verify`` (which compares them, family by family, with a real boot).
"""

from __future__ import annotations

from earlymem.e820 import E820Table
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.report import E820Report

__all__ = ["predict_lines", "NOT_YET"]

#: Families no era predicts yet (issues 4-7 of the project).
NOT_YET = ["NODE_DATA", "kexec", "zoneinfo"]


def predict_lines(machine: Machine, profile: KernelProfile, report: E820Report) -> tuple[list[tuple[str, str]], list[str]]:
    """The predicted lines, and the families not predicted (for this era or this boot).

    Families: ``e820``, ``e820-edit``, ``early-param``, ``user-map`` (see
    :meth:`E820Report.lines`), then ``numa``, ``zones``, ``node-ranges``,
    ``initmem`` for eras whose profile ``models_early_nodes``.
    """
    from earlymem.nodes import early_nodes

    lines = report.lines()
    missing = list(NOT_YET)
    if not profile.models_early_nodes:
        return lines, ["NUMA", "zones", "node ranges", "Initmem", "crashkernel"] + missing
    user = report.user
    table = user.table if user is not None and user.userdef else E820Table(report.firmware, profile.e820_capacity)
    nodes = early_nodes(table, machine, profile)
    lines += [("numa", t) for t in nodes.numa_lines]
    lines += [("zones", t) for t in nodes.zone_lines]
    lines += [("node-ranges", t) for t in nodes.node_range_lines]
    lines += [("initmem", t) for t in nodes.initmem_lines]
    from earlymem.crashkernel import predict_crashkernel

    crash = predict_crashkernel(machine, profile, nodes.memblock)
    if crash is None:
        missing.insert(1, "crashkernel (a searched placement)")
    else:
        # printed before "Zone ranges:" (reserve_crashkernel runs before paging_init)
        at = next(i for i, (f, _) in enumerate(lines) if f == "zones")
        iomem = [t for t in crash if t.endswith(" : Crash kernel")]
        lines[at:at] = [("crashkernel", t) for t in crash if t not in iomem]
        lines += [("iomem-crash", t) for t in iomem]
        lines.append(("crashkernel-determined", ""))
    return lines, missing
