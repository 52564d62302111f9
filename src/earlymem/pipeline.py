"""``boot(machine, profile, kernel) -> BootResult``: the one place that orders an era's phases.

Every era starts with the e820 phase (``e820__memory_setup()`` and the early
parameters, :mod:`earlymem.phases.e820`).  Then, by the profile's
:class:`~earlymem.kernels.profile.Pipeline`:

* ``MODERN`` (5.5 on), in kernel order: where the image lies
  (:mod:`~earlymem.phases.image`), NUMA init (:mod:`~earlymem.phases.numa_init`),
  setup_arch()'s allocations to NODE_DATA (:mod:`~earlymem.phases.setup_arch`),
  reserve_crashkernel() (:mod:`~earlymem.phases.crashkernel`), paging_init() to
  the end of setup_arch() (:mod:`~earlymem.phases.paging_init`), the zones
  (:mod:`~earlymem.phases.free_area_init`), start_kernel() to the hand-off
  (:mod:`~earlymem.phases.start_kernel`), memblock_free_all()
  (:mod:`earlymem.mm.handoff`), the watermarks (:mod:`earlymem.mm.watermarks`)
  and what kernel_init() gives back (:mod:`~earlymem.phases.kernel_init`); the
  page ledger (:mod:`earlymem.mm.boot_ledger`) is checked on every run;
* ``BOOTMEM`` (2.6.23-2.6.33): :mod:`earlymem.phases.bootmem_era`, then
  free_all_bootmem_core()'s hand-off and 2.6.2x's zone sizes;
* ``MEMBLOCK_2_6_37``: :mod:`earlymem.phases.memblock_2_6_37`, the same after it;
* ``E820``: nothing more is modelled, and the result says so.

Whatever is not predicted is named in ``BootResult.not_predicted`` with the
reason; nothing is printed here.
"""

from __future__ import annotations

import dataclasses

from earlymem.allocators.bootmem import BootmemError
from earlymem.allocators.memblock import Memblock
from earlymem.kernels.builds import KernelBuild, build_for, is_series, pinned_build
from earlymem.kernels.eras import era_name, profile_for
from earlymem.kernels.profile import KernelProfile, Pipeline
from earlymem.lib.errors import InputError, KernelPanic, Panic
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.x86_64 import MAX_DMA32_PFN, MAX_DMA_PFN, PAGE, PAGE_SHIFT
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Table, E820Type, sanitize
from earlymem.mm.boot_ledger import boot_ledger, check_boot_ledger
from earlymem.mm.handoff import memblock_free_all
from earlymem.mm.ledger import Ledger
from earlymem.mm.page_alloc import STRUCT_PAGE_2_6_23
from earlymem.mm.watermarks import lowmem_reserve, zone_watermarks
from earlymem.phases.bootmem_era import PGDAT_SIZE_2_6_23, Event, boot_bootmem_era
from earlymem.phases.crashkernel import CrashCeiling, CrashPrediction, crash_ceilings, early_crash_lines, parse_crashkernel, predict_crashkernel
from earlymem.phases.e820 import E820Report, e820_report, reserve_setup_data
from earlymem.phases.efi import efi_debug_keeps_boot_services, hidden_pages_by_zone, remove_efi_mmio
from earlymem.phases.free_area_init import MOVABLE_PARAMS, zone_sizes
from earlymem.phases.image import place_kernel
from earlymem.phases.kernel_init import (
    LateFree,
    kernel_init_lines,
    late_frees,
    pages_by_zone,
)
from earlymem.phases.memblock_2_6_37 import boot_2_6_37
from earlymem.phases.crashkernel_middle import early_res_crashkernel, middle_crashkernel
from earlymem.phases.numa_init import early_nodes
from earlymem.phases.paging_init import iomem_resources, late_node_data, possible_cpus
from earlymem.phases.setup_arch import known_early_reservations, setup_allocations
from earlymem.phases.start_kernel import start_kernel
from earlymem.result import (
    Allocation,
    BootResult,
    CrashRegion,
    E820Range,
    Free,
    IomemResource,
    LedgerPhase,
    Line,
    MemblockRegion,
    NotPredicted,
    NumaNode,
    Zone,
)

__all__ = ["boot", "e820_phase", "resolve_build", "early_era_ledger", "STRUCT_PAGE_MODERN"]

#: sizeof(struct page) assumed for 2.6.37's zone sizing (64 bytes since the
#: double-word cmpxchg alignment of 3.x) -- it only sizes memmap_pages.
STRUCT_PAGE_MODERN = 64

#: the families whose lines depend on where the kernel lies and on its build
IMAGE_FAMILIES = ("NODE_DATA", "crashkernel", "nosave", "percpu", "hash", "swiotlb", "frees")


def resolve_build(machine: Machine, kernel: KernelBuild | None) -> tuple[KernelBuild | None, list[str], str | None]:
    """The build whose facts a boot uses: ``kernel`` (an image's), completed by
    the pinned build of the same release; else the pinned build the machine's
    release names.  Returns ``(build, assumptions, why_none)``."""
    notes: list[str] = []
    if kernel is not None:
        named = machine.kernel_version
        if kernel.release and named is not None and not is_series(named) and kernel.release != named.text:
            notes.append(f"the image given is {kernel.release}, but the machine's kernel is {named.text}: the image's facts are used")
        return kernel.completed_by(pinned_build(kernel.version)), notes, None
    build, why = build_for(machine.kernel_version, machine.kernel_banner)
    if build is not None and machine.kernel_version is not None and machine.kernel_version.text != build.release:
        notes.append(f"kernel {machine.kernel_version.text} is taken as the pinned build {build.name}")
    return build, notes, why


def boot(machine: Machine, profile: KernelProfile | None = None, kernel: KernelBuild | None = None, *,
         ghost_image: bool = False) -> BootResult:
    """Boot ``machine`` under ``profile`` (default: its kernel's era) with the
    facts of ``kernel`` (default: the pinned build its release names).

    :param ghost_image: place the image where it takes no memory (earlymem.kaslr's
        reference boot); only the modern pipeline has such a boot.
    :raises InputError: for input the kernel would not take at all (a map it
        would fake, a bad early parameter is printed, not raised), located in
        its file where the machine knows it.
    """
    if profile is None:
        if machine.kernel_version is None:
            raise InputError("no kernel version (no 'Linux version' banner); pass --kernel-version", source=machine.source)
        profile = profile_for(machine.kernel_version)
    report = e820_phase(machine, profile)
    if machine.e820_who == "Xen":
        return _xen_pv(machine, profile, report)
    if report.user is not None and report.user.panic is not None:
        return _panicked(machine, profile, report, _e820_lines(report), report.user.panic)
    run = {Pipeline.MODERN: _boot_modern, Pipeline.BOOTMEM: _boot_early_era, Pipeline.MEMBLOCK_2_6_37: _boot_early_era,
           Pipeline.E820: _boot_e820_only}[profile.pipeline]
    try:
        if ghost_image:
            if profile.pipeline != Pipeline.MODERN:
                raise ValueError("a ghost image exists only in the modern pipeline")
            return _boot_modern(machine, profile, report, kernel, ghost=True)
        return run(machine, profile, report, kernel)
    except KernelPanic as exc:  # a phase after the e820 map (the modern boot catches its own, with its lines)
        return _panicked(machine, profile, report, _e820_lines(report), exc.panic, between=True)


def _panicked(machine: Machine, profile: KernelProfile, report: E820Report, lines: list[Line], panic: Panic, *,
              between: bool = False) -> BootResult:
    """The boot up to the kernel's panic: the lines before it, the panic line (when its
    words are all known), and nothing predicted after."""
    if panic.message is not None and not any(ln.family == "panic" for ln in lines):
        lines = [*lines, Line("panic", f"Kernel panic - not syncing: {panic.message}", panic.function)]
    why = f"the kernel panics in {panic.function}()"
    missing = [NotPredicted(w, why) for w in ("NUMA", "NODE_DATA", "crashkernel", "zones", "node ranges", "Initmem", "iomem")]
    if between:
        missing.append(NotPredicted("lines between the e820 map and the panic", "not modelled on this path"))
    return _result(machine, profile, report, None, e820=(), max_pfn=None, kernel_image=None, lines=tuple(lines),
                   not_predicted=tuple(missing), panic=panic)


def _xen_pv(machine: Machine, profile: KernelProfile, report: E820Report) -> BootResult:
    """A Xen PV domain: its map is the one xen_memory_setup() (arch/x86/xen/setup.c) built from
    the hypervisor's and printed with who "Xen"; what follows is not a native boot."""
    why = ("a Xen PV domain (the map is xen_memory_setup()'s, arch/x86/xen/setup.c): the hypervisor gives this "
           "kernel its memory and owns crashkernel= (a Xen option); earlymem predicts native boots only")
    missing = [NotPredicted(w, why) for w in ("NUMA", "NODE_DATA", "crashkernel", "zones", "node ranges", "Initmem", "iomem")]
    return _result(machine, profile, report, None, e820=_e820_ranges(report.firmware, profile), max_pfn=None,
                   kernel_image=None, lines=tuple(_e820_lines(report)), not_predicted=tuple(missing))


def _on_command_line(machine: Machine, exc: InputError) -> InputError:
    """``exc``, raised while parsing a command-line parameter, located where the command line came from."""
    if exc.source is not None or machine.command_line_at is None:
        return exc
    source, line, fieldname = machine.command_line_at
    return exc.located(source=source, line=line, field=fieldname)


# -- common --------------------------------------------------------------------------------


def e820_phase(machine: Machine, profile: KernelProfile) -> E820Report:
    """``e820__memory_setup()`` and the early parameters: the printed firmware map,
    the edits mem=/memmap= make and the user-defined map (earlymem.phases.e820).

    :raises InputError: located at the command line's source for a bad parameter.
    """
    try:
        return e820_report(machine, profile, already_sanitized=machine.e820_printed, who=machine.e820_who)
    except InputError as exc:  # a command-line parameter: point at where it came from
        raise _on_command_line(machine, exc) from None


def _e820_ranges(entries, profile: KernelProfile) -> tuple[E820Range, ...]:
    return tuple(E820Range(e.addr, e.addr + e.size, int(e.type), profile.label(e.type).strip()) for e in entries)


def _result(machine: Machine, profile: KernelProfile, report: E820Report, build: KernelBuild | None, **kw) -> BootResult:
    user = report.user
    return BootResult(
        era=profile.name, pipeline=profile.pipeline.value,
        kernel_version=machine.kernel_version.text or str(machine.kernel_version) if machine.kernel_version else None,
        build=build.name if build is not None else None, source=machine.source, command_line=machine.command_line.text,
        firmware_e820=_e820_ranges(report.firmware, profile),
        user_e820=_e820_ranges(user.table.entries, profile) if user is not None and user.userdef else None,
        **kw,
    )


def _e820_lines(report: E820Report) -> list[Line]:
    return [Line(f, t, "e820__memory_setup" if f == "e820" else "parse_early_param") for f, t in report.lines()]


def _boot_e820_only(machine: Machine, profile: KernelProfile, report: E820Report, kernel: KernelBuild | None) -> BootResult:
    why = f"the boot after the e820 map is not modelled for {era_name(machine.kernel_version, profile)}"
    lines = _e820_lines(report)
    missing = [NotPredicted(w, why) for w in ("NUMA", "NODE_DATA")]
    # the zone, node-range and Initmem lines follow from the e820 map and SRAT alone
    # (earlymem.phases.numa_init), where the era's formats are known
    nodes = early_nodes(_kernel_table(report, profile), machine, profile, None)
    mm = profile.memmap
    if mm.zone_format is None:
        missing += [NotPredicted(w, why) for w in ("zones", "node ranges", "Initmem")]
    elif not mm.zones_known:
        missing.append(NotPredicted("zones", f"{why}; from v4.3 a 'Device' zone is printed only with CONFIG_ZONE_DEVICE, "
                                    "a choice of the build earlymem does not know"))
    elif mm.zone_limits_clamped is None and nodes.max_pfn < MAX_DMA32_PFN:
        missing.append(NotPredicted("zones", f"{why}; with less than 4 GiB, whether this build ends DMA32 at 4 GiB or at "
                                    "max_low_pfn (commit c072b90c8dfe) is not known"))
    else:
        lines += [Line("zones", t, "free_area_init") for t in nodes.zone_lines]
    if mm.zone_format is not None:
        lines += [Line("node-ranges", t, "free_area_init") for t in nodes.node_range_lines]
    if mm.zone_format is not None and mm.initmem_style is not None:
        lines += [Line("initmem", t, "free_area_init_node") for t in nodes.initmem_lines]
    elif mm.zone_format is not None:
        missing.append(NotPredicted("Initmem", f"{why}; which code prints 'Initmem setup node' in this era (x86 "
                                    "setup_node_data() or free_area_init_node()) is not known"))
    memory = _memory(machine, profile, report) if "crashkernel=" in machine.command_line.text else None
    crash = (middle_crashkernel(machine, profile, memory)
             if memory is not None and (profile.crash.windows or profile.vendor is not None) else None)
    if crash is not None and crash.why is None:
        lines += [Line("crashkernel", t, "reserve_crashkernel") for t in crash.lines]
        regions = (CrashRegion(crash.region.start, crash.region.end),) if crash.region is not None else ()
        return _result(machine, profile, report, None, e820=_e820_ranges(report.firmware, profile), max_pfn=None,
                       kernel_image=None, lines=tuple(lines), not_predicted=tuple(missing), crash=regions, crash_predicted=True)
    asked = _crash_size_words(machine, profile, memory.phys_mem_size()) if memory is not None else None
    reason = why
    if crash is not None and crash.why is not None:
        reason = f"{crash.why} ({era_name(machine.kernel_version, profile)}: the crash search from the e820 map)"
    missing.append(NotPredicted("crashkernel", reason + (f"; {asked}" if asked else "")))
    return _result(machine, profile, report, None, e820=_e820_ranges(report.firmware, profile), max_pfn=None,
                   kernel_image=None, lines=tuple(lines), not_predicted=tuple(missing))


def _kernel_table(report: E820Report, profile: KernelProfile) -> E820Table:
    """The e820 table the boot goes on with: the user-defined one, else the firmware's."""
    user = report.user
    return user.table if user is not None and user.userdef else E820Table(report.firmware, profile.e820.capacity)


def _memory(machine: Machine, profile: KernelProfile, report: E820Report) -> Memblock:
    """memblock.memory as e820__memblock_setup() fills it (nothing reserved), SRAT left aside."""
    return early_nodes(_kernel_table(report, profile), dataclasses.replace(machine, numa=()), profile, None).memblock


def _middle_crash(machine: Machine, profile: KernelProfile, report: E820Report):
    """earlymem.phases.crashkernel_middle on the kernel's e820 table (None: no crashkernel=)."""
    if "crashkernel=" not in machine.command_line.text:
        return None
    return middle_crashkernel(machine, profile, _memory(machine, profile, report))


def _crash_size_words(machine: Machine, profile: KernelProfile, ram: int) -> str | None:
    """What ``crashkernel=`` asks for on this machine, in words, where only its place is
    unknown: parse_crashkernel() on memblock_phys_mem_size() (e820's RAM after
    trim_bios_range(), page-trimmed: phases.numa_init), with the vendor's ``auto``."""
    if "crashkernel=" not in machine.command_line.text or profile.vendor is None:
        return None
    if profile.vendor.auto is not None and profile.vendor.auto.ram != "memblock":
        return None  # RHEL 6's span-based System RAM: not modelled here
    req = parse_crashkernel(machine.command_line.text, ram, profile)
    if req is None or (req.error and not req.warnings):
        return None
    where = f"{profile.vendor.distro}, System RAM {ram >> 20} MB as memblock counts it"
    if req.error or (not req.size and not req.alternatives):
        return f"the request reserves nothing ({where}): " + " / ".join(req.warnings)
    what = "crashkernel=auto" if req.auto else "crashkernel="
    if req.alternatives:
        sizes = " or ".join(f"{a >> 20} MB" for a in req.alternatives)
        return (f"{what} asks for {sizes} ({where}; which one depends on a constant of the build that no "
                f"committed log has settled)")
    return f"{what} asks for {req.size >> 20} MB ({where})"


# -- 5.5 and later -------------------------------------------------------------------------


def _allocs(items, phase: str) -> list[Allocation]:
    return [Allocation(what, base, size, phase) for what, base, size in items]


def _boot_modern(machine: Machine, profile: KernelProfile, report: E820Report, kernel: KernelBuild | None, *,
                 ghost: bool = False) -> BootResult:
    build, assumptions, why_build = resolve_build(machine, kernel)
    top = max((e.addr + e.size for e in report.firmware if e.type == E820Type.RAM), default=0)
    if top > 1 << 46:
        # MAX_PHYSMEM_BITS is 46 with 4-level paging: e820__end_of_ram_pfn() clamps at max_arch_pfn
        assumptions.append(f"RAM ends at {top:#x}, above 2^46: the kernel uses it only with 5-level paging (a CPU with "
                           "LA57 and CONFIG_X86_5LEVEL, as Debian's); predicted as if it does, else max_pfn stops at 2^46")
    missing: list[NotPredicted] = []
    placed, why = place_kernel(machine, build, ghost=ghost)
    if build is None:
        placed, why = None, why_build  # an extent alone leaves the build's struct sizes unknown
    elif build.missing_facts():
        placed, why = None, f"the image {build.name} lacks sizeof() of {', '.join(build.missing_facts())} (no .BTF?)"

    lines: list[Line] = _e820_lines(report)
    if machine.efi_boot is not None and not (machine.efi_map is not None and efi_debug_keeps_boot_services(machine)):
        missing.append(NotPredicted("zoneinfo managed pages", "a UEFI boot without efi=debug: efi_free_boot_services() gives the "
                                    "EFI boot-services memory back after the hand-off, and without efi=debug the log has no "
                                    "EFI memory map to say how much"))
    if machine.efi_boot is not None and machine.efi_early_reserve_at is not None:
        missing.append(NotPredicted("zoneinfo managed pages", "the ESRT's efi_mem_reserve() runs before the boot-services "
                                    "ranges are reserved, which earlymem does not model yet"))
    user = report.user
    # the user-defined map already has e820__reserve_setup_data()'s pieces (phases.e820)
    table = (user.table if user is not None and user.userdef
             else reserve_setup_data(E820Table(report.firmware, profile.e820.capacity), machine, profile))
    table = remove_efi_mmio(table, machine, profile)
    nodes = early_nodes(table, machine, profile, placed.extent if placed and not placed.ghost else None)
    early_at = len(lines)  # where NUMA init starts printing
    lines += [Line("numa", t, "x86_numa_init") for t in nodes.numa_lines]
    setup = crash = late = sk = None
    allocations: list[Allocation] = []
    crash_at = 0
    ceilings: list[CrashCeiling] = []
    middle = None
    if placed is None and build is None and profile.crash.windows and not profile.crash.generic:
        # no build known (a distribution's kernel): the crash search from the e820 map and the
        # places the log states, as for the middle eras (earlymem.phases.crashkernel_middle)
        middle = _middle_crash(machine, profile, report)
    if placed is None:
        if middle is not None and middle.why is None:
            crash = CrashPrediction(lines=list(middle.lines), regions=[middle.region] if middle.region else [])
            lines += [Line("crashkernel", t, "reserve_crashkernel") for t in crash.lines]
            missing += [NotPredicted(f, why) for f in IMAGE_FAMILIES if f != "crashkernel"]
        elif middle is not None:
            why_middle = f"{why}; from the e820 map alone: {middle.why}"
            missing += [NotPredicted(f, why_middle if f == "crashkernel" else why) for f in IMAGE_FAMILIES]
        else:
            if machine.efi_boot is not None and machine.efi_map is None and build is not None:
                # the crash region is bounded: unseen reservations only push it lower, or out
                known_early_reservations(nodes.memblock, machine, profile, build, [])
                ceilings = crash_ceilings(machine, profile, nodes.memblock)
            if ceilings:
                why_crash = why + "; " + "; ".join(
                    (f"{c.size >> 20} MiB at [mem {c.highest:#010x}-{c.highest + c.size - 1:#010x}] or lower" if c.highest is not None
                     else f"nothing free for {c.size >> 20} MiB") + f" in [{c.lo:#x}, {c.hi:#x})" for c in ceilings)
                missing += [NotPredicted(f, why_crash if f == "crashkernel" else why) for f in IMAGE_FAMILIES]
            else:
                missing += [NotPredicted(f, why) for f in IMAGE_FAMILIES]
    else:
        try:
            setup = setup_allocations(nodes, machine, profile, placed, build)
        except KernelPanic as exc:
            # init_mem_mapping() and reserve_initrd() run before x86_numa_init() prints; 5.10's
            # low-1M crashkernel line (reserve_real_mode()) before them
            early = [Line("crashkernel", t, "reserve_real_mode") for t in early_crash_lines(machine, profile)]
            return _panicked(machine, profile, report, [*lines[:early_at], *early], exc.panic)
        lines += [Line("numa", t, "initmem_init") for t in setup.node_data_lines]
        assumptions += setup.notes
        allocations += _allocs(setup.allocations, "setup_arch")
        crash_at = len(allocations)  # reserve_crashkernel() runs after NODE_DATA, before paging_init()
        try:
            crash = predict_crashkernel(machine, profile, setup.memblock)
        except InputError as exc:
            raise _on_command_line(machine, exc) from None
        # 5.10's low-1M line comes from reserve_real_mode(), before NUMA init;
        # reserve_crashkernel() runs after NODE_DATA and before paging_init()
        lines[early_at:early_at] = [Line("crashkernel", t, "reserve_real_mode") for t in crash.early]
        lines += [Line("crashkernel", t, "reserve_crashkernel") for t in crash.lines]
        assumptions += crash.notes
    # free_area_init()'s lines: from paging_init(), or (7.x) from start_kernel()
    # after the end of setup_arch() (late.lines below)
    free_area_init_at = len(lines)
    lines += [Line("zones", t, "free_area_init") for t in nodes.zone_lines]
    lines += [Line("node-ranges", t, "free_area_init") for t in nodes.node_range_lines]
    lines += [Line("initmem", t, "free_area_init") for t in nodes.initmem_lines]
    cpus = possible_cpus(machine)
    online = {r.nid for r in nodes.memblock.memory if r.size}
    if nodes.from_srat:
        # 5.10 init_cpu_to_node(), 6.1+ try_online_node() at CPU bring-up
        online |= {c.node for c in cpus}
    zones = zone_sizes(nodes, sorted(online))
    frees: list[LateFree] | None = None
    if setup is not None:
        # paging_init() to the end of setup_arch(): 5.10's NODE_DATA for memoryless
        # CPU nodes, the nosave regions
        late = late_node_data(machine, profile, setup.memblock, setup.node_data, setup.nd_size, setup.sizes, nodes.from_srat,
                              nodes.e820 or [], len(report.firmware), nodes.max_pfn)
        late_lines = [Line(f, t, "free_area_init" if f == "initmem" else "paging_init") for f, t in late.lines]
        if profile.memmap.sparse_init_in_start_kernel:
            lines[free_area_init_at:free_area_init_at] = late_lines
        else:
            lines += late_lines
        assumptions += late.notes
        # start_kernel() up to the hand-off
        # the CPUs the log names, with the boot CPU known; or nr_cpus=1's one CPU (possible_cpus())
        known = cpus if machine.cpus and machine.boot_apic is not None or not machine.cpus and len(cpus) == 1 else []
        sk = start_kernel(machine, profile, build, nodes, setup, late, known, zones)
        lines += [Line(f, t, "start_kernel") for f, t in sk.lines]
        assumptions += sk.notes
        if sk.cea_unknown:
            missing.append(NotPredicted("zoneinfo managed pages", sk.cea_unknown))
        allocations += _allocs(late.allocations, "paging_init") + _allocs(sk.allocations, "start_kernel")
        # kernel_init(): what the kernel gives back after the hand-off
        if known and not placed.ghost:
            moved = next((Range(a, a + n) for w, a, n in setup.allocations if w == "initrd (moved)"), None)
            frees = late_frees(machine, build.image_frees, placed.extent, crash.regions, len(known), len(known), moved)
        lines += [Line(f, t, "kernel_init") for f, t in kernel_init_lines(frees or [], sk.mapped, profile)]

    # the zones: spanned/present always; the hand-off, managed pages and watermarks with the image's place
    result_zones: list[Zone] = []
    movable = [p for p in MOVABLE_PARAMS if machine.command_line.has(p)]
    min_free_kbytes = None
    ledger: tuple[LedgerPhase, ...] = ()
    freed_runs: list[tuple[int, int]] = []
    if movable:
        missing.append(NotPredicted("zoneinfo", "kernelcore=, movablecore=, movable_node: ZONE_MOVABLE is not modelled"))
        zones = []
    elif setup is None:
        missing.append(NotPredicted("zoneinfo managed pages", why))
        result_zones = [Zone(z.nid, z.name, z.start_pfn, z.spanned, z.present) for z in zones]
    else:
        handoff = memblock_free_all(setup.memblock, zones, nodes.max_pfn)
        led = boot_ledger(nodes.e820 or [], setup.memblock, handoff, nodes.max_pfn)
        check_boot_ledger(led, setup.memblock, handoff)  # conservation, on every run
        ledger = _ledger_phases(led)
        freed_runs = [run for h in handoff for run in h.runs]
        if frees is None:
            missing.append(NotPredicted("zoneinfo managed pages", "the possible CPUs are unknown: the per-CPU chunk and what the "
                                        "kernel gives back after boot are not counted, so managed pages are a little high"))
            early: dict = {}
            later: dict = {}
        else:
            early = pages_by_zone([f for f in frees if f.before_initcalls], [h.zone for h in handoff])
            later = pages_by_zone(frees, [h.zone for h in handoff])
        # managed pages when /proc/zoneinfo is read after boot, and when the
        # initcalls set the watermarks (init_per_zone_wmark_min(), hugepage_init())
        final = [h.managed + later.get((h.zone.nid, h.zone.name), 0) for h in handoff]
        # a UEFI boot whose setup_data nodes no line shows: each zone's count is bounded below
        hidden = setup.efi_hidden
        lows = [m - n for m, n in zip(final, hidden_pages_by_zone(hidden, [h.zone for h in handoff], setup.memblock))]
        if hidden:
            placed_there = next((a.purpose for a in allocations if any(a.start < r.end and r.start < a.start + a.size for r in hidden)
                                 and not a.purpose.startswith(("EFI", "setup_data", "efi_mem_reserve"))), None)
            if placed_there:
                assumptions.append(f"UEFI: earlymem placed {placed_there} where the stub's unseen setup_data nodes may "
                                   "lie; if they do, it and what is allocated after it go lower (same zone unless it "
                                   "crosses a zone boundary)")
            bounds = [f"node {h.zone.nid} {h.zone.name} between {lo} and {m}" for h, lo, m in zip(handoff, lows, final) if lo != m]
            missing.append(NotPredicted("zoneinfo managed pages", (
                "the EFI stub's setup_data nodes (PCI option ROMs, ...) are reserved, and no line of the log shows "
                "where (without E820_TYPE_RESERVED_KERN there is no 'usable ==> usable' update): they lie in "
                "the Loader Data ranges nothing else holds, " + ", ".join(f"[mem {r.start:#x}-{r.end - 1:#x}]" for r in hidden)
                + ("; managed pages " + "; ".join(bounds) if bounds else "")
                + "; the setup-data-chain helper's output, run as root on the machine (predict --setup-data), names them")))
        at_initcalls = [h.managed + early.get((h.zone.nid, h.zone.name), 0) for h in handoff]
        wm = zone_watermarks([(h.zone.nid, h.zone.name, m) for h, m in zip(handoff, at_initcalls)],
                             movable_like_highmem=profile.zoneinfo.movable_wmark_like_highmem)
        if profile.zoneinfo.lowmem_reserve_follows_managed:
            wm.protection = lowmem_reserve([(h.zone.nid, h.zone.name, m) for h, m in zip(handoff, final)])
        # (without the possible CPUs these are the hand-off's, a little high, and
        # not_predicted says so: as /proc/zoneinfo would be with those pages free)
        min_free_kbytes = wm.min_free_kbytes
        for h, m, lo, mk, prot in zip(handoff, final, lows, wm.marks, wm.protection):
            z = h.zone
            result_zones.append(Zone(z.nid, z.name, z.start_pfn, z.spanned, z.present, h.managed, m, tuple(h.counts),
                                     mk[0], mk[1], mk[2], mk[3], tuple(prot), managed_low=lo if lo != m else None))
    children = list(placed.resources) if placed is not None and not placed.ghost else []
    crash_regions: list[Range] = crash.regions if crash is not None else []
    children += [("Crash kernel", r.start, r.end) for r in crash_regions]
    if placed is None or not placed.resources:
        missing.append(NotPredicted("iomem Kernel code/rodata/data/bss", "the image's section layout is not among the pinned facts: give --kernel VMLINUZ"))
    n_low = len(crash_regions) - 1
    crash_res = tuple(CrashRegion(r.start, r.end, low=i < n_low) for i, r in enumerate(crash_regions))
    # in kernel order: early_reserve_memory()'s image and initrd, setup_arch()'s
    # allocations, reserve_crashkernel(), then paging_init() and start_kernel()'s
    allocations[crash_at:crash_at] = [Allocation("crashkernel low" if c.low else "crashkernel", c.start, c.end - c.start,
                                                 "reserve_crashkernel") for c in crash_res]
    if placed is not None and not placed.ghost:
        early = [Allocation("kernel image [_text, __end_of_kernel_reserve)", placed.reserve.start, placed.reserve.size,
                            "early_reserve_memory")]
        if machine.initrd is not None:
            early.append(Allocation("initrd", machine.initrd.start, machine.initrd.size, "early_reserve_memory"))
        allocations[0:0] = early
    mb: Memblock | None = setup.memblock if setup is not None else None
    # e820_table as /proc/iomem shows it: after efi_mem_reserve()'s updates
    final_e820 = late.e820 if late is not None and late.e820 is not None else nodes.e820 or []
    node_data = setup.node_data if setup is not None else {}
    node_ids = sorted({r.nid for r in nodes.memblock.memory if r.size} | set(node_data))
    numa_nodes = tuple(NumaNode(n, tuple((r.base, r.end) for r in nodes.memblock.memory if r.size and r.nid == n),
                                node_data.get(n)) for n in node_ids)
    return _result(
        machine, profile, report, build,
        kernel_image=(placed.extent.start, placed.extent.end) if placed is not None else None,
        e820=_e820_ranges(final_e820, profile), max_pfn=nodes.max_pfn,
        memory=_regions(mb.memory if mb else nodes.memblock.memory),
        reserved=_regions(mb.reserved if mb else []),
        allocations=tuple(allocations), crash=crash_res, crash_predicted=crash is not None,
        crash_requested=(crash.requested.start, crash.requested.end) if crash is not None and crash.requested and not crash_res else None,
        crash_ceilings=tuple((c.size, c.lo, c.hi, c.highest) for c in ceilings),
        nodes=numa_nodes, zones=tuple(result_zones), min_free_kbytes=min_free_kbytes,
        frees=tuple(Free(f.what, f.pages, f.at) for f in frees) if frees is not None else None,
        ledger=ledger, lines=tuple(lines),
        iomem=tuple(IomemResource(s, e, n, d) for d, s, e, n in iomem_resources(final_e820, children)),
        assumptions=tuple(dict.fromkeys(assumptions)), not_predicted=tuple(missing), freed_runs=tuple(freed_runs),
        memblock_trace=tuple(mb.trace) if mb is not None and mb.trace is not None else None,
    )


def _regions(regions) -> tuple[MemblockRegion, ...]:
    return tuple(MemblockRegion(r.base, r.end, r.nid, r.flags) for r in regions if r.size)


def _ledger_phases(ledger: Ledger) -> tuple[LedgerPhase, ...]:
    return tuple(LedgerPhase(name, tuple((r.start, r.end, o) for r, o in owners)) for name, owners in ledger.phases.items())


# -- 2.6.23-2.6.33 (bootmem) and 2.6.37 (memblock) -----------------------------------------


def _ram_pages(e820: list[E820Entry]) -> list[Range]:
    return [Range(-(-e.addr // PAGE), (e.addr + e.size) // PAGE) for e in e820 if e.type == E820Type.RAM]


def _node_ranges(machine: Machine, end: int) -> dict[int, Range]:
    nodes: dict[int, Range] = {}
    for a in machine.numa:
        r = nodes.get(a.node)
        nodes[a.node] = Range(min(r.start, a.range.start), max(r.end, a.range.end)) if r else a.range
    return nodes or {0: Range(0, end)}


def _firmware_owners(e820: list[E820Entry]) -> list[tuple[Range, str]]:
    out = []
    for e in e820:
        if e.type != E820Type.RAM:
            name = E820Type(e.type).name.lower() if e.type in E820Type._value2member_map_ else str(e.type)
            out.append((Range(e.addr >> 12, -(-(e.addr + e.size) // PAGE)), f"firmware ({name})"))
    return out


def early_era_ledger(e820: list[E820Entry], early_name: str, early_owners: list[tuple[Range, str]], crash: Range | None,
                     crash_ok: bool, freed_runs: list[tuple[int, int]]) -> Ledger:
    """The firmware, early-allocator and buddy phases of a boot whose early
    allocator hands ``freed_runs`` to the page allocator (free_all_bootmem_core()
    and free_all_memory_core_early() order); the crash region is claimed."""
    end_pfn = max(-(-(e.addr + e.size) // PAGE) for e in e820)
    firmware = _firmware_owners(e820)
    ram = _ram_pages(e820)
    hole = [(Range(0, end_pfn), "hole")]
    crash_own = [(crash.pfns(), "crash region")] if crash is not None and crash_ok else []
    ledger = Ledger(end_pfn)
    ledger.add_phase("firmware", firmware + [(r, "RAM") for r in ram] + hole)
    ledger.add_phase(early_name, firmware + early_owners + crash_own + [(r, f"free ({early_name})") for r in ram] + hole)
    freed = RangeSet(Range(s, e) for s, e in freed_runs)
    kept = [(r, o) for r, o in early_owners if not o.startswith("bootmem bitmap")]
    ledger.add_phase("buddy", firmware + [(r, "free (buddy)") for r in freed] + kept + crash_own + hole)
    if crash is not None and crash_ok:
        ledger.claims["Crash kernel"] = crash.pfns()
    ledger.check()
    return ledger


def _free_runs(mb, e820_ram: list[Range]) -> list[tuple[int, int]]:
    """memory - reserved, in ascending order (free_all_memory_core_early() /
    memblock_free_all() walk the free ranges upward)."""
    reserved = RangeSet(Range(r.base >> 12, -(-r.end // PAGE)) for r in mb.reserved if r.size)
    free = RangeSet(e820_ram).subtract(reserved)
    return [(r.start, r.end) for r in free]


def _old_zones(nodes: dict[int, Range], ram: list[Range], struct_page: int, dma_reserve: int) -> list[Zone]:
    """free_area_init_core() of 2.6.2x: spanned - holes - memmap pages (- dma_reserve in DMA)."""
    ram_set = RangeSet(ram)
    zones: list[Zone] = []
    for nid in sorted(nodes):
        span = nodes[nid].pfns()
        for name, (lo, hi) in zip(("DMA", "DMA32", "Normal"), ((0, MAX_DMA_PFN), (MAX_DMA_PFN, MAX_DMA32_PFN), (MAX_DMA32_PFN, 1 << 52))):
            z = span.intersect(Range(lo, hi))
            if not z:
                continue
            present = ram_set.intersect([z]).total
            memmap = -(-(z.size * struct_page) // PAGE)
            present = present - memmap if present >= memmap else present
            if name == "DMA" and present > dma_reserve:
                present -= dma_reserve
            zones.append(Zone(nid, name, z.start, z.size, present))
    return zones


def _event_line(e: Event, phase: str) -> Line:
    return Line(e.kind, e.text, phase, printed=e.kernel_line, data=dict(e.data))


def _boot_early_era(machine: Machine, profile: KernelProfile, report: E820Report, kernel: KernelBuild | None) -> BootResult:
    """2.6.23-2.6.33 (bootmem) or 2.6.37 (memblock) on the firmware map; the
    kernel image's extent must be given (these eras have no pinned builds)."""
    user = report.user
    if user is not None and user.userdef:
        entries = list(user.table.entries)  # mem=/memmap= edited the table the boot uses
    else:
        entries = sanitize(sorted(machine.e820, key=lambda e: e.addr), max_entries=128) or sorted(machine.e820, key=lambda e: e.addr)
    lines = _e820_lines(report)
    why = None
    if machine.kernel_image is None:
        why = f"{era_name(machine.kernel_version, profile)} needs the kernel image's [_text, _end) (kernel_image in the machine TOML)"
    elif not any(e.type == E820Type.RAM and e.size for e in entries):
        why = "the map has no RAM"
    elif user is not None and user.end_user_pfn is not None:
        why = f"mem= capping end_user_pfn ({era_name(machine.kernel_version, profile)}) is not modelled in the bootmem boot"
    if why is not None:
        missing = [NotPredicted(w, why) for w in ("NUMA", "NODE_DATA", "zones")]
        crash = None
        if profile.vendor is not None and profile.vendor.crash_early_res and "crashkernel=" in machine.command_line.text:
            ram = [(e.addr, e.addr + e.size) for e in entries if e.type == E820Type.RAM and e.size]
            span = E820Table(entries, profile.e820.capacity).end_of_ram_pfn(1 << (46 - PAGE_SHIFT)) << PAGE_SHIFT
            crash = early_res_crashkernel(machine, profile, ram, span)
        if crash is not None and crash.why is None:
            lines += [Line("crashkernel", t, "reserve_crashkernel") for t in crash.lines]
            regions = (CrashRegion(crash.region.start, crash.region.end),) if crash.region is not None else ()
            return _result(machine, profile, report, None, e820=_e820_ranges(entries, profile), max_pfn=None, kernel_image=None,
                           lines=tuple(lines), not_predicted=tuple(missing), crash=regions, crash_predicted=True)
        missing.append(NotPredicted("crashkernel", why if crash is None else f"{crash.why} ({era_name(machine.kernel_version, profile)})"))
        return _result(machine, profile, report, None, e820=_e820_ranges(entries, profile), max_pfn=None, kernel_image=None,
                       lines=tuple(lines), not_predicted=tuple(missing))
    try:
        return _boot_early_allocator(machine, profile, report, entries, lines)
    except BootmemError as exc:
        # where bootmem BUG()s: a predicted failure of that kernel, not bad input
        why = f"the {profile.name} kernel would BUG() in bootmem: {exc}"
        missing = [NotPredicted(w, why) for w in ("NUMA", "NODE_DATA", "zones", "crashkernel")]
        lines.append(Line("bootmem", f"[BUG: {exc}]", "setup_arch", printed=False))
        return _result(machine, profile, report, None, e820=_e820_ranges(entries, profile), max_pfn=None, kernel_image=None,
                       lines=tuple(lines), not_predicted=tuple(missing))


def _boot_early_allocator(machine: Machine, profile: KernelProfile, report: E820Report, entries: list[E820Entry],
                          lines: list[Line]) -> BootResult:
    """The bootmem or 2.6.37 memblock boot proper, on ``entries``."""
    ram_end = max(e.addr + e.size for e in entries if e.type == E820Type.RAM)
    nodes = _node_ranges(machine, ram_end)
    assumptions: list[str] = []
    if profile.pipeline is Pipeline.BOOTMEM:
        b = boot_bootmem_era(machine, entries, exclusive=profile.crash.bootmem_exclusive, announce=profile.crash.announces,
                             struct_page=STRUCT_PAGE_2_6_23, failed_text=profile.crash.in_use_text)
        early_name, events, crash, crash_ok = "bootmem", b.events, b.crash, b.crash_reserved
        owners = [(r.pfns(), w) for w, r in b.reserved if w != "crashkernel"]
        owners += [(r.pfns(), f"NODE_DATA({n})") for n, r in b.pgdats.items()]
        owners += [(r.pfns(), f"bootmem bitmap of node {n}") for n, r in b.bitmaps.items()]
        owners += [(r.pfns(), f"mem_map of node {n}") for n, r in b.mem_maps.items()]
        runs = [(f.start_pfn, f.end_pfn) for n in sorted(b.freed) for f in b.freed[n]]
        struct_page, dma_reserve = STRUCT_PAGE_2_6_23, b.dma_reserve
        allocs = [Allocation(w, r.start, r.size, "setup_arch") for w, r in b.reserved if w != "crashkernel"]
        allocs += [Allocation(f"NODE_DATA({n})", r.start, r.size, "setup_node_bootmem") for n, r in b.pgdats.items()]
        allocs += [Allocation(f"bootmem bitmap of node {n}", r.start, r.size, "setup_node_bootmem") for n, r in b.bitmaps.items()]
        allocs += [Allocation(f"mem_map of node {n}", r.start, r.size, "paging_init") for n, r in b.mem_maps.items()]
        assumptions.append(f"pg_data_t assumed {PGDAT_SIZE_2_6_23:#x} bytes (page-rounded), SMP trampoline at 0x6000; "
                           "MP-table and ACPI wakeup reservations not replayed")
        if profile.name == "2.6.27":
            assumptions.append("placed with 2.6.23's find_e820_area()/bad_addr() rules -- early_res holds the same ranges "
                               "(kernel, initrd, EBDA, page tables, trampoline, BIOS page) for this kind of machine [assumption]")
        phase = "setup_arch"
        node_data = {n: r.start for n, r in b.pgdats.items()}
    else:
        b2 = boot_2_6_37(machine, entries, nodes)
        early_name, events, crash, crash_ok = "memblock", b2.events, b2.crash, b2.crash_reserved
        owners = [(r.pfns(), w) for w, r in b2.reserved if w != "crashkernel"]
        runs = _free_runs(b2.memblock, _ram_pages(entries))
        struct_page, dma_reserve = STRUCT_PAGE_MODERN, 0
        allocs = [Allocation(w, r.start, r.size, "setup_arch") for w, r in b2.reserved if w != "crashkernel"]
        assumptions += b2.notes
        phase = "setup_arch"
        node_data = {}
    ledger = early_era_ledger(entries, early_name, owners, crash, crash_ok, runs)
    lines += [_event_line(e, phase) for e in events]
    zones = _old_zones(nodes, _ram_pages(entries), struct_page, dma_reserve)
    crash_res = (CrashRegion(crash.start, crash.end),) if crash is not None and crash_ok else ()
    allocs += [Allocation("crashkernel", c.start, c.end - c.start, "reserve_crashkernel") for c in crash_res]
    missing = [NotPredicted("zoneinfo managed pages", f"the hand-off of {era_name(machine.kernel_version, profile)} is given as free runs, not per zone"),
               NotPredicted("iomem", f"/proc/iomem is not modelled for {era_name(machine.kernel_version, profile)}")]
    return _result(
        machine, profile, report, None,
        kernel_image=(machine.kernel_image.start, machine.kernel_image.end),
        e820=_e820_ranges(entries, profile), max_pfn=ledger.end_pfn,
        allocations=tuple(allocs), crash=crash_res, crash_predicted=True,
        crash_requested=(crash.start, crash.end) if crash is not None and not crash_ok else None,
        nodes=tuple(NumaNode(n, ((r.start, r.end),), node_data.get(n)) for n, r in sorted(nodes.items())),
        zones=tuple(zones), ledger=_ledger_phases(ledger), lines=tuple(lines),
        assumptions=tuple(assumptions), not_predicted=tuple(missing), freed_runs=tuple(runs),
    )
