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
NOT_YET = ["kexec", "zoneinfo"]


def predict_lines(machine: Machine, profile: KernelProfile, report: E820Report, notes: list[str] | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The predicted lines, and the families not predicted (for this era or this boot).

    Families: ``e820``, ``e820-edit``, ``early-param``, ``user-map`` (see
    :meth:`E820Report.lines`), then ``numa``, ``zones``, ``node-ranges``,
    ``initmem`` for eras whose profile ``models_early_nodes``.
    """
    from earlymem.nodes import early_nodes

    lines = report.lines()
    missing = list(NOT_YET)
    if not profile.models_early_nodes:
        return lines, ["NUMA", "NODE_DATA", "zones", "node ranges", "Initmem", "crashkernel"] + missing
    user = report.user
    table = user.table if user is not None and user.userdef else E820Table(report.firmware, profile.e820_capacity)
    nodes = early_nodes(table, machine, profile)
    from earlymem.setup_arch import setup_allocations

    lines += [("numa", t) for t in nodes.numa_lines]
    setup = setup_allocations(nodes, machine, profile)
    if setup is None:
        missing.insert(0, "NODE_DATA (the kernel's place is unknown with KASLR)")
    else:
        lines += [("numa", t) for t in setup.node_data_lines]
        if notes is not None:
            notes.extend(setup.notes)
    lines += [("zones", t) for t in nodes.zone_lines]
    lines += [("node-ranges", t) for t in nodes.node_range_lines]
    lines += [("initmem", t) for t in nodes.initmem_lines]
    from earlymem.crashkernel import predict_crashkernel

    crash = predict_crashkernel(machine, profile, setup.memblock if setup else None)
    if crash is None:
        missing.insert(1, "crashkernel (the kernel's place is unknown with KASLR)")
    else:
        # printed before "Zone ranges:" (reserve_crashkernel runs before paging_init);
        # 5.10's low-1M line comes from reserve_real_mode(), before NUMA init
        low_1m = [t for t in crash if t.startswith("kexec: Reserving the low 1M")]
        iomem = [t for t in crash if t.endswith(" : Crash kernel")]
        at = next(i for i, (f, _) in enumerate(lines) if f == "zones")
        lines[at:at] = [("crashkernel", t) for t in crash if t not in iomem and t not in low_1m]
        at = next(i for i, (f, _) in enumerate(lines) if f in ("numa", "zones"))
        lines[at:at] = [("crashkernel", t) for t in low_1m]
        lines += [("iomem-crash", t) for t in iomem]
        lines.append(("crashkernel-determined", ""))
    from earlymem.render.iomem import iomem_lines

    children = list(machine.kernel_resources)
    for t in crash or []:
        if t.endswith(" : Crash kernel"):
            a, b = t.split(" : ")[0].split("-")
            children.append(("Crash kernel", int(a, 16), int(b, 16) + 1))
    lines += [("iomem", t) for t in iomem_lines(nodes.e820 or [], children)]
    if not machine.kernel_resources:
        missing.append("iomem Kernel code/rodata/data/bss (give --kernel with nokaslr)")
    return lines, missing
