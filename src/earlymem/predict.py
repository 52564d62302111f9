"""Everything earlymem predicts for one boot, as ``(family, line)`` in kernel order.

Shared by ``earlymem predict`` (which prints the lines) and ``earlymem
verify`` (which compares them, family by family, with a real boot).
"""

from __future__ import annotations

from earlymem.e820 import E820Table
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.ranges import Range
from earlymem.report import E820Report

__all__ = ["predict_lines", "NOT_YET", "NOT_DMESG"]

#: Families predict_lines() returns that are not kernel log lines: markers,
#: /proc/iomem lines and /proc/zoneinfo summaries.
NOT_DMESG = ("crashkernel-determined", "iomem-crash", "iomem", "zoneinfo")

#: Families no era predicts yet (issue 7 of the project).
NOT_YET = ["zoneinfo managed pages"]


def _zoneinfo_lines(machine: Machine, profile: KernelProfile, nodes, setup, missing: list[str], state: dict | None) -> list[tuple[str, str]]:
    """Spanned and present pages of every zone of every online node
    (earlymem.mm.zones); with ``state``, the hand-off and the watermarks too."""
    from earlymem.late_setup import possible_cpus
    from earlymem.mm.zones import MOVABLE_PARAMS, zone_sizes

    if any(machine.command_line.has(p) for p in MOVABLE_PARAMS):
        missing.append("zoneinfo (kernelcore=, movablecore=, movable_node: ZONE_MOVABLE is not modelled)")
        return []
    online = {r.nid for r in nodes.memblock.memory if r.size}
    if nodes.from_srat:
        # nodes onlined for their CPUs: 5.10 init_cpu_to_node(), 6.1+ try_online_node() at CPU bring-up
        online |= {c.node for c in possible_cpus(machine)}
    zones = zone_sizes(nodes, sorted(online))
    if state is not None and setup is not None:
        from earlymem.mm.handoff import memblock_free_all
        from earlymem.mm.watermarks import zone_watermarks

        handoff = memblock_free_all(setup.memblock, zones, nodes.max_pfn)
        state["handoff"] = handoff
        state["memblock"] = setup.memblock
        state["e820"] = nodes.e820 or []
        state["end_pfn"] = nodes.max_pfn
        state["watermarks"] = zone_watermarks([(h.zone.nid, h.zone.name, h.managed) for h in handoff],
                                              movable_like_highmem=profile.movable_wmark_like_highmem)
    return [("zoneinfo", f"Node {z.nid}, zone {z.name}: spanned={z.spanned} present={z.present}") for z in zones]


def predict_lines(machine: Machine, profile: KernelProfile, report: E820Report, notes: list[str] | None = None,
                  state: dict | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The predicted lines, and the families not predicted (for this era or this boot).

    Families: ``e820``, ``e820-edit``, ``early-param``, ``user-map`` (see
    :meth:`E820Report.lines`), then ``numa``, ``zones``, ``node-ranges``,
    ``initmem`` for eras whose profile ``models_early_nodes``.

    :param state: if given, receives ``handoff`` (earlymem.mm.handoff.ZoneHandoff
        per zone) and ``watermarks`` when the kernel's place is known.
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

    early_at = len(lines)  # where NUMA init starts printing
    lines += [("numa", t) for t in nodes.numa_lines]
    setup = setup_allocations(nodes, machine, profile)
    if setup is None:
        missing.insert(0, "NODE_DATA (the kernel's place is unknown with KASLR)")
    else:
        lines += [("numa", t) for t in setup.node_data_lines]
        if notes is not None:
            notes.extend(setup.notes)
    from earlymem.crashkernel import predict_crashkernel
    from earlymem.render.iomem import child_line, iomem_lines

    crash = predict_crashkernel(machine, profile, setup.memblock if setup else None)
    if crash is None:
        missing.insert(1, "crashkernel (the kernel's place is unknown with KASLR)")
    else:
        # 5.10's low-1M line comes from reserve_real_mode(), before NUMA init;
        # reserve_crashkernel() runs after NODE_DATA and before paging_init()
        lines[early_at:early_at] = [("crashkernel", t) for t in crash.early]
        lines += [("crashkernel", t) for t in crash.lines]
    lines += [("zones", t) for t in nodes.zone_lines]
    lines += [("node-ranges", t) for t in nodes.node_range_lines]
    lines += [("initmem", t) for t in nodes.initmem_lines]
    if setup is not None:
        # paging_init() .. init_cpu_to_node(): memoryless CPU nodes (the 5.10 era)
        from earlymem.late_setup import late_node_data

        late = late_node_data(machine, profile, setup.memblock, setup.node_data, setup.nd_size, setup.sizes, nodes.from_srat)
        lines += late.lines
        if notes is not None:
            notes.extend(late.notes)
        # start_kernel(): setup_command_line()'s two copies (init/main.c, 5.10:
        # saved_command_line and static_command_line), then
        # setup_per_cpu_areas() (the possible CPUs: SRAT's, or the guest's)
        from earlymem.late_setup import possible_cpus
        from earlymem.mem_init import cpu_entry_area_tables, hash_tables, nr_kernel_pages, percpu_first_chunk, swiotlb_init
        from earlymem.mm.zones import zone_sizes as _zone_sizes

        cmd_len = len(machine.command_line.text) + 1
        for _ in range(2):
            late.allocations.append(("command line copy", setup.memblock.alloc(cmd_len, 64), cmd_len))
        cpus = possible_cpus(machine) if machine.cpus and machine.boot_apic is not None else []
        cpu_nodes = [c.node if nodes.from_srat else 0 for c in cpus]
        if cpu_nodes:
            lines += [("percpu", t) for t in percpu_first_chunk(machine, setup.memblock, cpu_nodes, set(setup.node_data), late.allocations)]
        elif notes is not None:
            notes.append("the possible CPUs are unknown: the per-CPU first chunk is not reserved (managed pages a little high)")
        # vfs_caches_init_early(): the dentry and inode hash tables

        with_memory = sorted({r.nid for r in nodes.memblock.memory if r.size})
        nr_kernel, nr_all = nr_kernel_pages(profile, _zone_sizes(nodes, with_memory), late.dma_reserve, late.free_after_sparse)
        hashdist = len(with_memory) > 1 if machine.command_line.get("hashdist") is None else machine.command_line.get("hashdist") not in ("0", "")
        lines += [("hash", t) for t in hash_tables(machine, profile, setup.memblock, nr_kernel, nr_all, not hashdist, late.allocations)]
        if cpus:  # trap_init(): the cpu_entry_area mappings' page tables
            cpu_entry_area_tables(machine, setup.memblock, len(cpus), late.allocations)
        # mem_init(): the swiotlb bounce buffer, just before memblock_free_all()

        # max_possible_pfn: max_pfn, raised by every SRAT memory affinity to
        # PFN_UP(end - 1) (drivers/acpi/numa/srat.c acpi_numa_memory_affinity_init())
        srat = machine.numa if machine.command_line.get("numa") != "off" else []
        possible = max([nodes.max_pfn] + [-(-(a.range.end - 1) >> 12) for a in srat])
        lines += [("swiotlb", t) for t in swiotlb_init(machine, profile, setup.memblock, possible, late.allocations)]
        if cpus:
            # after the hand-off: what the kernel gives back (earlymem.frees)
            from earlymem.frees import late_frees
            from earlymem.nodes import assumed_kernel_image

            image = assumed_kernel_image(machine)
            moved = next((Range(a, a + n) for w, a, n in setup.allocations if w == "initrd (moved)"), None)
            frees = late_frees(machine, image, crash.regions if crash else [], len(cpus), len(cpus), moved) if image else []
            lines += [("frees", f.line) for f in frees]
            if state is not None:
                state["late_frees"] = frees
    lines += _zoneinfo_lines(machine, profile, nodes, setup, missing, state)
    children = list(machine.kernel_resources)
    if crash is not None:
        lines += [("iomem-crash", child_line("Crash kernel", r.start, r.end)) for r in crash.regions]
        lines.append(("crashkernel-determined", ""))
        children += [("Crash kernel", r.start, r.end) for r in crash.regions]
    lines += [("iomem", t) for t in iomem_lines(nodes.e820 or [], children)]
    if not machine.kernel_resources:
        missing.append("iomem Kernel code/rodata/data/bss (give --kernel with nokaslr)")
    return lines, missing
