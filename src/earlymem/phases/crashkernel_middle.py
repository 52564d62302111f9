"""``crashkernel=`` in the middle eras (3.x to 5.4, and the RHEL kernels built on them),
where earlymem does not run the whole early boot: the crash region from the e820 map
and the reservations whose places the log states.

arch/x86/kernel/setup.c ``reserve_crashkernel()`` of these eras (v4.19 read in
0x88888888/linux-4.19-comments@0c8fdfc7; RHEL 7 in halfline/rhel7@01c375b2; RHEL 8 in
lulu-github-name/linuxtmp@013c2b46; the v5.2 change in commits 9ca5c8e632ce and
b9ac3849af41):

* the size comes from ``parse_crashkernel()`` on ``memblock_phys_mem_size()``;
* without a base, ``memblock_find_in_range(CRASH_ALIGN, limit, size, CRASH_ALIGN)`` (top
  down, 16 MiB aligned) for each limit of the era's ``crash.windows`` in turn (upstream
  v3.9-v5.1: 896 MiB only; RHEL 7: 896 MiB, 4 GiB, MAXMEM; v5.2 on and RHEL 8: 4 GiB,
  then MAXMEM), and ``crashkernel reservation failed - No suitable area found.`` when
  none has room;
* with ``@base``, ``memblock_find_in_range(base, base + size, size, 1M) == base`` or
  ``crashkernel reservation failed - memory is in use.``;
* success prints ``Reserving %ldMB of memory at %ldMB for crashkernel (System RAM: %ldMB)``.

What memblock holds then: the e820 RAM (after ``trim_bios_range()``), the first MiB
(below every window), the initrd (the log's ``RAMDISK:`` line) and the image; NODE_DATA at
the top of each node, the page tables and other early allocations near the top of RAM.
Places the log does not state exactly are *uncertain zones*: the search runs with them
all reserved and with them all free, and the outcome is predicted only when both agree
(else it is bounded between the two, and the reason says so).  A UEFI boot without a
parsed EFI memory map leaves the boot-services memory unknown: bounded only.  A region
above 4 GiB takes a low part as well, by rules of each era not modelled here: not predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import Memblock
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.ranges import Range
from earlymem.machine import Machine
from earlymem.phases.crashkernel import CRASH_ALIGN, SZ_1M, parse_crashkernel

__all__ = ["MiddleCrash", "middle_crashkernel", "early_res_crashkernel", "image_place_known", "IMAGE_MAX", "TOP_OF_RAM_ZONE"]

#: the largest [_text, _end) assumed for a distribution kernel of these eras (RHEL 7/8 images,
#: bss and brk included, are 30-50 MiB): the image zone around what the log shows of it
IMAGE_MAX = 64 << 20
#: the early allocations made top-down from the top of RAM before reserve_crashkernel()
#: (page tables, the NUMA distance table, NODE_DATA, the log buffer): a zone below each node's end
TOP_OF_RAM_ZONE = 8 << 20
_4G = 4 << 30


@dataclass
class MiddleCrash:
    """The crash region's outcome, or why it is not predicted.

    :param lines: the crashkernel lines, in order (when predicted).
    :param region: the reserved range (None: nothing reserved).
    :param why: why the outcome is not predicted (None: it is).
    :param bound: ``(lowest, highest)`` base the region may take when it is bounded.
    """

    lines: list[str] = field(default_factory=list)
    region: Range | None = None
    why: str | None = None
    bound: tuple[int | None, int | None] | None = None


def image_place_known(machine: Machine) -> bool:
    """Whether the log (or the input) says where the image is: BRK lines, a pinned place
    (--kernel-at, /proc/iomem's Kernel code), or nokaslr (CONFIG_PHYSICAL_START, 16 MiB)."""
    return bool(machine.brk_pages) or machine.kernel_load_addr is not None or machine.command_line.flag("nokaslr")


def _zones(machine: Machine, memory: list[tuple[int, int]]) -> list[Range]:
    """Where the reservations the log does not place exactly may lie."""
    zones: list[Range] = []
    if machine.brk_pages:
        # the BRK lines are page-table pages inside the image's .brk, at the image's end
        hi = max(machine.brk_pages) + 4096
        zones.append(Range(max(0, hi - IMAGE_MAX), hi + (16 << 20)))
    elif machine.kernel_load_addr is not None:
        zones.append(Range(machine.kernel_load_addr, machine.kernel_load_addr + IMAGE_MAX))
    else:
        zones.append(Range(16 << 20, (16 << 20) + IMAGE_MAX))  # CONFIG_PHYSICAL_START, nokaslr
    ends = sorted({a.range.end for a in machine.numa}) if machine.numa else []
    ends.append(max(e for _, e in memory))
    for end in ends:
        zones.append(Range(max(0, end - TOP_OF_RAM_ZONE), end))
    return zones


def _search(mb: Memblock, windows: tuple[int, ...], size: int) -> int:
    for limit in windows:
        at = mb.find_in_range(CRASH_ALIGN, limit, size, CRASH_ALIGN)
        if at:
            return at
    return 0


def _request(machine: Machine, profile: KernelProfile, ram: int):
    """parse_crashkernel() on ``ram``: ``(request, outcome so far)``, the request None when
    the outcome is already settled (no crashkernel= at all: outcome None; nothing asked for or
    a size only known as alternatives: the outcome says so)."""
    req = parse_crashkernel(machine.command_line.text, ram, profile)
    if req is None:
        return None, None
    out = MiddleCrash(lines=list(req.warnings))
    if req.error or (not req.size and not req.alternatives):
        return None, out
    if req.alternatives:
        out.why = ("the size is one of " + " or ".join(f"{a >> 20} MB" for a in req.alternatives)
                   + " (a constant of the build no committed log settles)")
        return None, out
    return req, out


def middle_crashkernel(machine: Machine, profile: KernelProfile, mb: Memblock) -> MiddleCrash | None:
    """The crash region for ``machine`` (None when no ``crashkernel=`` asks for one).

    :param mb: memblock.memory from the e820 map (earlymem.phases.numa_init), nothing reserved.
    """
    ram = mb.phys_mem_size()
    req, out = _request(machine, profile, ram)
    if req is None:
        return out
    if req.high or req.low_size is not None:
        out.why = "crashkernel=...,high / ,low in this era is not modelled yet"
        return out
    if not profile.crash.windows:
        out.why = "this era's crashkernel windows are not known"
        return out
    if profile.crash.low_1m_message is None:
        out.why = "whether this build prints 'kexec: Reserving the low 1M of memory for crashkernel' is not known"
        return out
    efi_unseen = machine.efi_boot is not None and machine.efi_map is None
    early = ["kexec: Reserving the low 1M of memory for crashkernel"] if profile.crash.low_1m_message else []
    fixed = [Range(0, SZ_1M)]
    if machine.initrd is not None:
        fixed.append(machine.initrd)
    memory = [(r.base, r.end) for r in mb.memory]
    zones = _zones(machine, memory)
    if machine.efi_map is not None:
        # efi_reserve_boot_services() (RHEL 7: halfline/rhel7@68facf7f:arch/x86/platform/efi/quirks.c; later
        # copies alike for this purpose): every Boot Code/Data range that is all RAM and overlaps nothing
        # reserved is reserved until after reserve_crashkernel(); one that meets a place the log does not
        # state (the image) may or may not be, so it joins the uncertain zones.  The loader's small
        # allocations (the EFI map array, boot_params, setup_data) lie in Loader Data: uncertain too.
        def all_ram(r: Range) -> bool:
            return any(s <= r.start and r.end <= e for s, e in memory)

        for kind, _, r in machine.efi_map:
            if kind in ("Boot Code", "Boot Data") and r.end > SZ_1M and all_ram(r):
                if any(z.start < r.end and r.start < z.end for z in zones):
                    zones.append(r)
                else:
                    fixed.append(r)
            elif kind == "Loader Data" and not (machine.initrd is not None and r.start <= machine.initrd.start
                                                and machine.initrd.end <= r.end and r.size - machine.initrd.size < SZ_1M):
                zones.append(r)

    def run(with_zones: bool) -> int:
        m = Memblock()
        m.allow_resize()
        for s, e in memory:
            m.add(s, e - s)
        for r in fixed + (zones if with_zones else []):
            m.reserve(r.start, r.size)
        if req.fixed:
            return req.base if m.find_in_range(req.base, req.base + req.size, req.size, SZ_1M) == req.base else 0
        return _search(m, profile.crash.windows, req.size)

    low, high = run(True), run(False)
    if efi_unseen:
        # the boot-services memory reserved then is unknown: it can only push the region lower, or out
        out.bound = (None, high or None)
        out.why = ("a UEFI boot without its EFI memory map in the log: the boot-services memory reserved then is "
                   "unknown" + (f"; {req.size >> 20} MB at {high >> 20} MB or lower" if high else ""))
        return out
    if not image_place_known(machine) and high:
        # a distribution kernel without nokaslr may have been put anywhere by KASLR, and these logs
        # (no BRK lines from 5.x) do not say where: the outcome holds unless the image is in the way
        out.bound = (None, high)
        out.why = (f"KASLR may have put the kernel anywhere, and the log does not say where (no BRK lines, no "
                   f"Kernel code line, no --kernel-at): {req.size >> 20} MB at {high >> 20} MB unless the image lies "
                   f"in [mem {high:#x}-{high + req.size - 1:#x}], lower if it does")
        return out
    if low != high:
        out.bound = (low or None, high or None)
        out.why = ("the region depends on where early allocations the log does not place lie (the image, NODE_DATA, "
                   f"page tables): between {low >> 20 if low else 'none'} MB and {high >> 20 if high else 'none'} MB")
        return out
    base = low
    out.lines = early + out.lines
    if not base:
        out.lines.append("crashkernel reservation failed - memory is in use." if req.fixed
                         else "crashkernel reservation failed - No suitable area found.")
        return out
    if base + req.size > _4G:
        out.why = "the region lies above 4 GiB, where a low part is reserved too (not modelled in this era yet)"
        out.lines = []
        return out
    out.region = Range(base, base + req.size)
    out.lines.append(f"Reserving {req.size >> 20}MB of memory at {base >> 20}MB for crashkernel (System RAM: {ram >> 20}MB)")
    return out


def early_res_crashkernel(machine: Machine, profile: KernelProfile, ram_entries: list[tuple[int, int]],
                          span: int) -> MiddleCrash | None:
    """RHEL 6's reserve_crashkernel() (2.6.32 with early_res; seyko2/openvz_rhel6_kernel_mirror
    arch/x86/kernel/setup.c and e820.c, real-machines.md 3.1): the size from parse_crashkernel()
    on the span of RAM (``get_total_mem()``); without a base, ``find_e820_area(start, ULONG_MAX,
    size, 16M)`` -- the e820 RAM entries in table order, the lowest 16 MiB-aligned place past
    every early reservation -- then ``reserve_bootmem_generic(BOOTMEM_EXCLUSIVE)``, which fails
    on a bootmem reservation made since (the bitmaps, NODE_DATA): then 16 MiB higher, again.

    :param ram_entries: the e820 RAM entries ``(start, end)`` in table order.
    :param span: System RAM as RHEL 6 counts it: ``max_pfn << PAGE_SHIFT``.
    """
    req, out = _request(machine, profile, span)
    if req is None:
        return out
    if req.fixed:
        out.why = "a fixed crashkernel=size@base on RHEL 6 is not modelled yet"
        return out
    if not machine.early_res:
        out.why = "the log does not list the early reservations ('(N early reservations) ==> bootmem')"
        return out
    found_line = profile.vendor.crash_found_line if profile.vendor is not None else False
    if found_line is None:
        out.why = "whether this build prints 'Found ...MB of memory at ...MB for crashkernel auto' is not known"
        return out
    early = [r for r, _ in machine.early_res]
    later = list(machine.bootmaps)
    # NODE_DATA and the other bootmem allocations of initmem_init(): at the top of each node
    ends = sorted({a.range.end for a in machine.numa}) if machine.numa else []
    ends.append(max(e for _, e in ram_entries))
    zones = [Range(max(0, e - TOP_OF_RAM_ZONE), e) for e in ends]

    def find(start: int) -> int:
        """find_e820_area(start, ULONG_MAX, size, CRASH_ALIGN): first fit past the early reservations."""
        for s, e in ram_entries:
            cand = -(-max(s, start) // CRASH_ALIGN) * CRASH_ALIGN
            moved = True
            while moved and cand + req.size <= e:
                moved = False
                for r in early:
                    if r.start < cand + req.size and cand < r.end:
                        cand = -(-r.end // CRASH_ALIGN) * CRASH_ALIGN
                        moved = True
            if cand + req.size <= e:
                return cand
        return -1

    def run(busy: list[Range]) -> int:
        start = 0
        while True:
            at = find(start)
            if at < 0:
                return -1
            if not any(b.start < at + req.size and at < b.end for b in busy):
                return at
            start = at + CRASH_ALIGN

    low, high = run(later + zones), run(later)
    if low != high:
        out.why = ("the region depends on where bootmem allocations the log does not place lie (NODE_DATA): "
                   f"{high >> 20 if high >= 0 else 'none'} MB or {low >> 20 if low >= 0 else 'none'} MB")
        return out
    if low < 0:
        out.lines.append("crashkernel reservation failed. No suitable area found.")
        return out
    size_mb, at_mb = req.size >> 20, low >> 20
    if req.auto and found_line:
        out.lines.append(f"Found {size_mb}MB of memory at {at_mb}MB for crashkernel auto ")
    out.region = Range(low, low + req.size)
    out.lines.append(f"Reserving {size_mb}MB of memory at {at_mb}MB for crashkernel (System RAM: {span >> 20}MB)")
    return out
