"""Everything earlymem predicts for one boot, as ``(family, line)`` in kernel order.

Shared by ``earlymem predict`` (which prints the lines) and ``earlymem
verify`` (which compares them, family by family, with a real boot).
"""

from __future__ import annotations

from earlymem.boot.e820 import E820Report
from earlymem.kernels.profile import KernelProfile
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Table

__all__ = ["predict_lines", "NOT_DMESG"]

#: Families predict_lines() returns that are not kernel log lines: markers,
#: /proc/iomem lines and /proc/zoneinfo summaries.
NOT_DMESG = ("crashkernel-determined", "iomem-crash", "iomem", "zoneinfo", "zoneinfo-managed", "zoneinfo-watermarks")


def _online_zones(nodes, cpus) -> list:
    """Every zone of every online node (earlymem.boot.free_area_init): nodes with memory,
    and with SRAT the nodes onlined for their CPUs (5.10 init_cpu_to_node(),
    6.1+ try_online_node() at CPU bring-up)."""
    from earlymem.boot.free_area_init import zone_sizes

    online = {r.nid for r in nodes.memblock.memory if r.size}
    if nodes.from_srat:
        online |= {c.node for c in cpus}
    return zone_sizes(nodes, sorted(online))


def _zoneinfo_lines(machine: Machine, profile: KernelProfile, nodes, zones, setup, missing: list[str], state: dict | None,
                    late_frees: list | None) -> list[tuple[str, str]]:
    """Spanned and present pages of every zone; where the kernel's place is
    known, the hand-off, and with ``late_frees`` (earlymem.mm.frees) the managed
    pages /proc/zoneinfo shows once the kernel has given back its init memory."""
    from earlymem.boot.free_area_init import MOVABLE_PARAMS

    if any(machine.command_line.has(p) for p in MOVABLE_PARAMS):
        missing.append("zoneinfo (kernelcore=, movablecore=, movable_node: ZONE_MOVABLE is not modelled)")
        return []
    lines = [("zoneinfo", f"Node {z.nid}, zone {z.name}: spanned={z.spanned} present={z.present}") for z in zones]
    if setup is None:
        missing.append("zoneinfo managed pages (the kernel's place is unknown with KASLR)")
        return lines
    from earlymem.mm.frees import pages_by_zone
    from earlymem.mm.handoff import memblock_free_all
    from earlymem.mm.watermarks import lowmem_reserve, watermark_text, zone_watermarks

    handoff = memblock_free_all(setup.memblock, zones, nodes.max_pfn)
    if late_frees is None:
        missing.append("zoneinfo managed pages and watermarks (the possible CPUs are unknown)")
        early: dict = {}
        later: dict = {}
    else:
        early = pages_by_zone([f for f in late_frees if f.before_initcalls], [h.zone for h in handoff])
        later = pages_by_zone(late_frees, [h.zone for h in handoff])
    # managed pages when /proc/zoneinfo is read after boot, and when the
    # initcalls set the watermarks (init_per_zone_wmark_min(), hugepage_init())
    final = [h.managed + later.get((h.zone.nid, h.zone.name), 0) for h in handoff]
    at_initcalls = [h.managed + early.get((h.zone.nid, h.zone.name), 0) for h in handoff]
    wm = zone_watermarks([(h.zone.nid, h.zone.name, m) for h, m in zip(handoff, at_initcalls)],
                         movable_like_highmem=profile.movable_wmark_like_highmem)
    if profile.lowmem_reserve_follows_managed:
        wm.protection = lowmem_reserve([(h.zone.nid, h.zone.name, m) for h, m in zip(handoff, final)])
    if late_frees is not None:
        lines += [("zoneinfo-managed", f"Node {h.zone.nid}, zone {h.zone.name}: managed={m}") for h, m in zip(handoff, final)]
        lines += [("zoneinfo-watermarks", f"Node {h.zone.nid}, zone {h.zone.name}: {watermark_text(mk[0], mk[1], mk[2], prot)}")
                  for h, mk, prot in zip(handoff, wm.marks, wm.protection)]
    if state is not None:
        state["handoff"] = handoff
        state["memblock"] = setup.memblock
        state["e820"] = nodes.e820 or []
        state["end_pfn"] = nodes.max_pfn
        #: per zone, the managed pages /proc/zoneinfo shows after boot
        state["managed"] = final
        state["watermarks"] = wm
    return lines


def predict_lines(machine: Machine, profile: KernelProfile, report: E820Report, notes: list[str] | None = None,
                  state: dict | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The predicted lines, and the families not predicted (for this era or this boot).

    Families: ``e820``, ``e820-edit``, ``early-param``, ``user-map`` (see
    :meth:`E820Report.lines`), then ``numa``, ``zones``, ``node-ranges``,
    ``initmem`` for eras whose profile ``models_early_nodes``.

    :param state: if given, receives ``handoff`` (earlymem.mm.handoff.ZoneHandoff
        per zone) and ``watermarks`` when the kernel's place is known.
    """
    from earlymem.boot.numa_init import early_nodes

    lines = report.lines()
    missing: list[str] = []
    if not profile.models_early_nodes:
        return lines, ["NUMA", "NODE_DATA", "zones", "node ranges", "Initmem", "crashkernel"] + missing
    user = report.user
    table = user.table if user is not None and user.userdef else E820Table(report.firmware, profile.e820_capacity)
    nodes = early_nodes(table, machine, profile)
    from earlymem.boot.setup_arch import setup_allocations

    early_at = len(lines)  # where NUMA init starts printing
    lines += [("numa", t) for t in nodes.numa_lines]
    setup = setup_allocations(nodes, machine, profile)
    if setup is None:
        missing.insert(0, "NODE_DATA (the kernel's place is unknown with KASLR)")
    else:
        lines += [("numa", t) for t in setup.node_data_lines]
        if notes is not None:
            notes.extend(setup.notes)
    from earlymem.boot.crashkernel import predict_crashkernel
    from earlymem.render.iomem import child_line, iomem_lines

    crash = predict_crashkernel(machine, profile, setup.memblock if setup else None)
    if crash is None:
        missing.insert(1, "crashkernel (the kernel's place is unknown with KASLR)")
    else:
        # 5.10's low-1M line comes from reserve_real_mode(), before NUMA init;
        # reserve_crashkernel() runs after NODE_DATA and before paging_init()
        lines[early_at:early_at] = [("crashkernel", t) for t in crash.early]
        lines += [("crashkernel", t) for t in crash.lines]
    # free_area_init()'s lines: from paging_init(), or (7.x) from start_kernel()
    # after the end of setup_arch() (late.lines below)
    free_area_init_at = len(lines)
    lines += [("zones", t) for t in nodes.zone_lines]
    lines += [("node-ranges", t) for t in nodes.node_range_lines]
    lines += [("initmem", t) for t in nodes.initmem_lines]
    from earlymem.boot.paging_init import possible_cpus

    cpus = possible_cpus(machine)
    zones = _online_zones(nodes, cpus)
    late_frees = None
    if setup is not None:
        # paging_init() to the end of setup_arch(): 5.10's NODE_DATA for memoryless
        # CPU nodes, the nosave regions
        from earlymem.boot.paging_init import late_node_data
        from earlymem.boot.start_kernel import start_kernel

        late = late_node_data(machine, profile, setup.memblock, setup.node_data, setup.nd_size, setup.sizes, nodes.from_srat,
                              nodes.e820 or [], len(report.firmware), nodes.max_pfn)
        if profile.sparse_init_in_start_kernel:
            lines[free_area_init_at:free_area_init_at] = late.lines
        else:
            lines += late.lines
        if notes is not None:
            notes.extend(late.notes)
        # start_kernel() up to the hand-off, and what the kernel gives back after it
        known = cpus if machine.cpus and machine.boot_apic is not None else []
        sk = start_kernel(machine, profile, nodes, setup, late, crash.regions if crash else [], known, zones)
        lines += sk.lines
        if notes is not None:
            notes.extend(sk.notes)
        late_frees = sk.frees
        if state is not None and sk.frees is not None:
            state["late_frees"] = sk.frees
    lines += _zoneinfo_lines(machine, profile, nodes, zones, setup, missing, state, late_frees)
    children = list(machine.kernel_resources)
    if crash is not None:
        lines += [("iomem-crash", child_line("Crash kernel", r.start, r.end)) for r in crash.regions]
        lines.append(("crashkernel-determined", ""))
        children += [("Crash kernel", r.start, r.end) for r in crash.regions]
    lines += [("iomem", t) for t in iomem_lines(nodes.e820 or [], children)]
    if not machine.kernel_resources:
        missing.append("iomem Kernel code/rodata/data/bss (give --kernel with nokaslr)")
    return lines, missing
