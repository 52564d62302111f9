"""The memblock allocations of x86_64 ``setup_arch()`` up to the crashkernel reservation.

In the order the kernel makes them (arch/x86/kernel/setup.c, 5.10 to 7.x):

1. early reservations: the first 1 MiB (``reserve_real_mode()`` and the BIOS
   area; 5.13+ reserve it whole), the kernel image ``[_text, _end)``
   (``memblock_x86_reserve_range()``/``early_reserve_memory()``) and the initrd
   (``early_reserve_initrd()``);
2. ``init_mem_mapping()`` (arch/x86/mm/init.c): the direct mapping, built top
   down by ``memory_map_top_down()``.  Page-table pages come from the brk
   buffer (``INIT_PGT_BUF_SIZE``) while the range being mapped does not cover
   it (``can_use_brk_pgt``), else from memblock, top down inside the part
   already mapped (``alloc_low_pages()``).  Then
   ``memblock_set_current_limit(get_max_mapped())``;
3. ``setup_log_buf(1)`` (kernel/printk/printk.c): with ``log_buf_len=``, the
   text buffer, the descriptor ring and the info array (``new_log_buf_len >>
   PRB_AVGBITS`` records of ``struct prb_desc`` and ``struct printk_info``),
   three ``memblock_alloc()`` calls;
4. ``reserve_initrd()``: an initrd outside the direct mapping (a ``mem=``
   below it) is moved to ``memblock_phys_alloc_range(PAGE_ALIGN(size),
   PAGE_SIZE, 0, max_pfn_mapped)``;
5. ``initmem_init()`` -> ``numa_register_memblks()`` -> ``alloc_node_data()``
   for each node with memory: ``memblock_phys_alloc_try_nid(nd_size,
   SMP_CACHE_BYTES, nid)``, printing ``NODE_DATA(n) allocated [mem ...]``.

Struct sizes are per build: read from the ``--kernel`` image's BTF, else the
pinned Debian kernels' (:data:`earlymem.kernels.builds.PINNED`).

Assumed and stated: the CPU has no 1 GiB pages (QEMU's default ``qemu64``
model; with ``pdpe1gb`` the PMD pages are not needed), 4-level paging, no
``movable_node`` (bottom-up mapping), no ACPI table upgrade, no CMA area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.allocators.memblock import Memblock
from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.profile import KernelProfile
from earlymem.lib.errors import KernelPanic
from earlymem.lib.ranges import Range, RangeSet
from earlymem.lib.units import memparse
from earlymem.lib.x86_64 import PAGE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Type
from earlymem.phases.efi import EFI_MEMATTR_HEADER, efi_early_reservations, hidden_setup_data
from earlymem.phases.image import PlacedKernel
from earlymem.phases.numa_init import EarlyNodes, alloc_node_data

__all__ = ["SetupAllocations", "setup_allocations", "log_buf_len"]

ISA_END_ADDRESS = 0x100000
#: kernel/printk/printk_ringbuffer.h: one descriptor per 2^5 bytes of text.
PRB_AVGBITS = 5
#: kernel/printk/printk.c: LOG_ALIGN = __alignof__(unsigned long).
LOG_ALIGN = 8
#: kernel/printk/printk.c log_buf_len_update(): LOG_BUF_LEN_MAX.
LOG_BUF_LEN_MAX = 1 << 31

@dataclass
class SetupAllocations:
    """memblock after NODE_DATA, what was allocated, and the lines printed."""

    memblock: Memblock
    node_data_lines: list[str]
    #: ``(what, base, size)`` in allocation order.
    allocations: list[tuple[str, int, int]] = field(default_factory=list)
    #: assumptions made (printed by ``predict`` on stderr).
    notes: list[str] = field(default_factory=list)
    #: physical address of each node's pg_data_t, and its allocated size.
    node_data: dict[int, int] = field(default_factory=dict)
    nd_size: int = 0
    #: the struct sizes used (the build's: earlymem.kernels.builds).
    sizes: dict[str, int] = field(default_factory=dict)
    #: where setup_data nodes no log line shows may lie (earlymem.phases.efi.hidden_setup_data)
    efi_hidden: list[Range] = field(default_factory=list)


def log_buf_len(machine: Machine, log_buf_shift: int) -> int:
    """``new_log_buf_len`` after every ``log_buf_len=`` (0: the static buffer stays).

    log_buf_len_update() rounds each value up to a power of two and keeps it
    when it exceeds the static buffer (``1 << CONFIG_LOG_BUF_SHIFT``); an
    unparsable value counts as 0.
    """
    default = 1 << log_buf_shift
    new = 0
    for value in machine.command_line.get_all("log_buf_len"):
        if not value:
            continue
        size = memparse(value, 0).value
        if size > LOG_BUF_LEN_MAX:
            size = LOG_BUF_LEN_MAX
        if size:
            size = 1 << (size - 1).bit_length()
        if size > default:
            new = size
    return new


RESERVE_LOW = 64 << 10


def _reserve_low_memory(mb: Memblock, machine: Machine, profile: KernelProfile, sizes, notes: list[str],
                        allocations: list[tuple[str, int, int]]) -> None:
    """Below 1 MiB.  From 5.13 reserve_real_mode() reserves all of it.  Before
    (the profile's crash.low_1m_message era), arch/x86/realmode/init.c
    reserve_real_mode() takes the trampoline top-down below 1 MiB and
    crash_reserve_low_1M() reserves the rest only with crashkernel=;
    reserve_bios_regions() reserves [round_down(EBDA or BIOS lowmem), 1 MiB)
    and trim_low_memory_range() the first CONFIG_X86_RESERVE_LOW KiB."""
    if not profile.crash.low_1m_message or machine.command_line.get("crashkernel") is not None:
        mb.reserve(0, ISA_END_ADDRESS)
        allocations.append(("the first 1 MiB (reserve_real_mode(), crash_reserve_low_1M())", 0, ISA_END_ADDRESS))
        return
    # BIOS lowmem (the word at 0x413) = the end of the firmware's first RAM
    # entry, as SeaBIOS reports it (memmap=exactmap does not change what the BIOS says)
    lowmem = next((e.end for e in sorted(machine.e820, key=lambda e: e.addr)
                   if e.type == E820Type.RAM and e.addr < ISA_END_ADDRESS), 0xA0000)
    bios_start = min(max(lowmem, 0x10000), 0xA0000) // PAGE * PAGE
    mb.reserve(bios_start, ISA_END_ADDRESS - bios_start)
    allocations.append(("the BIOS area (reserve_bios_regions())", bios_start, ISA_END_ADDRESS - bios_start))
    # PAGE_ALIGN(real_mode_blob_end - real_mode_blob), read from the vmlinux
    # (earlymem.sources.realmode; kernels.builds for the pinned 5.10)
    size = sizes.get("real_mode_blob")
    if size is None:
        notes.append("the real-mode trampoline's size is unknown: the whole first MiB is taken as reserved")
        mb.reserve(0, ISA_END_ADDRESS)
        allocations.append(("the first 1 MiB (the real-mode trampoline's size unknown)", 0, ISA_END_ADDRESS))
        return
    at = mb.find_in_range(0, ISA_END_ADDRESS, size, PAGE)
    if at:
        mb.reserve(at, size)
        allocations.append(("real-mode trampoline (reserve_real_mode())", at, size))
    mb.reserve(0, RESERVE_LOW)
    allocations.append(("the first 64 KiB (trim_low_memory_range())", 0, RESERVE_LOW))


class _PageTables:
    """kernel_physical_mapping_init() page-table pages, as alloc_low_pages() hands them out."""

    def __init__(self, mb: Memblock, brk: Range, brk_pages: int, allocations: list[tuple[str, int, int]]) -> None:
        self.mb = mb
        self.brk_top = brk.start + brk_pages * PAGE
        self.brk_start = self.brk_end = brk.start
        self.can_use_brk = True
        self.min_mapped = 0
        self.max_mapped = 0
        #: per level, the table indexes that have a page
        self.present: dict[str, RangeSet] = {}
        self.pending = 0
        self.allocations = allocations

    def _pages(self, level: str, lo: int, hi: int) -> None:
        """A table page for each index in [lo, hi) of ``level`` that has none yet,
        from the brk buffer while it lasts (and may be used), else memblock."""
        have = self.present.get(level, RangeSet())
        new = (hi - lo) - have.intersect([Range(lo, hi)]).total
        self.present[level] = have.union([Range(lo, hi)])
        take = min(new, (self.brk_top - self.brk_end) // PAGE) if self.can_use_brk else 0
        self.brk_end += take * PAGE
        self.pending += new - take

    def _flush(self) -> None:
        """The pages alloc_low_pages() had to take from memblock in one init_memory_mapping().

        Each is a one-page top-down memblock_phys_alloc_range() in [min_mapped,
        max_mapped); n of them fill the highest free ranges from their tops, so
        they are taken a free range at a time (the same pages, far fewer calls).
        """
        n, self.pending = self.pending, 0
        while n:
            got = 0
            if self.min_mapped < self.max_mapped:
                for s, e, _ in self.mb.free_ranges(reverse=True):
                    s, e = max(s, self.min_mapped, PAGE), min(e, self.max_mapped)
                    s = -(-s // PAGE) * PAGE
                    e = e // PAGE * PAGE
                    if e > s:
                        got = min(n, (e - s) // PAGE)
                        base = e - got * PAGE
                        self.mb.reserve(base, got * PAGE)
                        self.allocations.append((f"page tables ({got} pages)", base, got * PAGE))
                        break
            if not got:
                if self.can_use_brk:
                    self.brk_end += n * PAGE  # extend_brk()
                    return
                # arch/x86/mm/init.c alloc_low_pages(): panic("alloc_low_pages: can not alloc memory")
                raise KernelPanic("alloc_low_pages: can not alloc memory", function="alloc_low_pages",
                                  detail=f"no free {n} page(s) for the direct mapping's page tables below the mapped memory")
            n -= got

    def map(self, start: int, end: int) -> None:
        """init_memory_mapping(start, end): split_mem_range() into 4K head, 2M body, 4K tail."""
        body_s = min(-(-start // PMD_SIZE) * PMD_SIZE, end)
        body_e = max(end // PMD_SIZE * PMD_SIZE, body_s)
        for s, e, small in ((start, body_s, True), (body_s, body_e, False), (body_e, end, True)):
            if s >= e:
                continue
            # a PUD table per PGD entry, a PMD table per PUD entry and (4K
            # parts) a PTE table per PMD entry the range touches; counted per
            # level (only how many come from brk and how many from memblock matters)
            self._pages("PUD", s // PGDIR_SIZE, (e - 1) // PGDIR_SIZE + 1)
            self._pages("PMD", s // PUD_SIZE, (e - 1) // PUD_SIZE + 1)
            if small:
                self._pages("PTE", s // PMD_SIZE, (e - 1) // PMD_SIZE + 1)
        self._flush()
        self.max_mapped = max(self.max_mapped, end)

    def map_range(self, memory: list[tuple[int, int]], r_start: int, r_end: int) -> int:
        """init_range_memory_mapping(): each memory range clipped to [r_start, r_end)."""
        mapped = 0
        for base, end in memory:
            s = min(max(base, r_start), r_end)
            e = min(max(end, r_start), r_end)
            if s >= e:
                continue
            self.can_use_brk = max(s, self.brk_end) >= min(e, self.brk_top)
            if self.mb.trace is not None:  # earlymem.kaslr: which range would meet the brk buffer, and when
                self.mb.trace.append(("map", s, e - s))
                self.mb.trace.append(("brk used", self.brk_end - self.brk_start, self.brk_top - self.brk_start))
            self.map(s, e)
            mapped += e - s
        return mapped


def _init_mem_mapping(mb: Memblock, max_pfn: int, image: Range, profile: KernelProfile, allocations: list) -> int:
    """init_mem_mapping() top down; returns the end of the direct mapping (get_max_mapped())."""
    # The page-table brk buffer sits in the image's .brk section, just below _end
    # (arch/x86/kernel/vmlinux.lds.S); its exact offset is not modelled.
    pages = profile.memmap.init_pgt_buf_pages
    brk = Range(max(image.start, image.end - pages * PAGE), image.end)
    pt = _PageTables(mb, brk, pages, allocations)
    # pfn ranges: memory regions page-rounded, nodes not yet assigned (merged).
    memory: list[tuple[int, int]] = []
    for r in mb.memory:
        s, e = -(-r.base // PAGE) * PAGE, r.end // PAGE * PAGE
        if s >= e:
            continue
        if memory and memory[-1][1] == s:
            memory[-1] = (memory[-1][0], e)
        else:
            memory.append((s, e))
    end = max_pfn * PAGE
    pt.map(0, ISA_END_ADDRESS)  # the ISA range is always mapped
    pt.max_mapped = 0  # memory_map_top_down(): "will get exact value next"
    addr = mb.phys_alloc_range(PMD_SIZE, PMD_SIZE, ISA_END_ADDRESS, end)
    if addr:
        mb.phys_free(addr, PMD_SIZE)
    real_end = addr + PMD_SIZE
    step = PMD_SIZE
    pt.min_mapped = real_end
    last_start = real_end
    mapped_total = 0
    while last_start > ISA_END_ADDRESS:
        if last_start > step:
            start = max((last_start - 1) // step * step, ISA_END_ADDRESS)
        else:
            start = ISA_END_ADDRESS
        mapped_total += pt.map_range(memory, start, last_start)
        last_start = start
        pt.min_mapped = last_start
        if mapped_total >= step:
            step <<= 21 - 12 - 1  # get_new_step_size(): PMD_SHIFT - PAGE_SHIFT - 1
    if real_end < end:
        pt.map_range(memory, real_end, end)
    return max(pt.max_mapped, ISA_END_ADDRESS)


def known_early_reservations(mb: Memblock, machine: Machine, profile: KernelProfile, build: KernelBuild,
                             notes: list[str]) -> None:
    """Only the reservations made before reserve_crashkernel() whose places are facts
    without the kernel's place or the EFI map: the first MiB (as
    :func:`setup_allocations` takes it), the initrd, the loader's setup_data nodes and
    the EFI memory attributes table.  (For bounds: earlymem.phases.crashkernel.crash_ceilings().)"""
    _reserve_low_memory(mb, machine, profile, dict(build.struct_sizes), notes, [])
    if machine.initrd is not None:
        mb.reserve(machine.initrd.start, machine.initrd.size)
    for r in machine.setup_data:
        mb.reserve(r.start, r.size)
    if machine.efi_memattr is not None:
        addr, entries = machine.efi_memattr
        mb.reserve(addr, EFI_MEMATTR_HEADER + entries * profile.efi.desc_size)


def setup_allocations(nodes: EarlyNodes, machine: Machine, profile: KernelProfile, kernel: PlacedKernel,
                      build: KernelBuild) -> SetupAllocations:
    """Replay setup_arch()'s memblock allocations up to NODE_DATA.

    :param kernel: where the image lies (earlymem.phases.image).
    :param build: the build's facts (struct sizes, CONFIG_LOG_BUF_SHIFT).
    """
    image = kernel.extent
    mb = nodes.memblock
    notes: list[str] = []
    out = SetupAllocations(mb, [], notes=notes)
    sizes = out.sizes = dict(build.struct_sizes)
    # 1. early reservations (early_reserve_memory(): [_text, __end_of_kernel_reserve))
    _reserve_low_memory(mb, machine, profile, sizes, notes, out.allocations)
    reserved_image = kernel.reserve
    brk = kernel.brk_size
    if kernel.ghost:
        pass  # earlymem.kaslr's reference boot: the image is in nobody's way
    elif brk and brk < reserved_image.size:
        # [_text, __end_of_kernel_reserve) ends where .brk starts; reserve_brk()
        # then keeps only what brk users took: dmi_setup()'s copies (assumed to
        # fit one page; their size is the firmware's DMI data) and
        # early_alloc_pgt_buf()'s page-table buffer (INIT_PGT_BUF_SIZE)
        brk_start = reserved_image.end - brk
        mb.reserve(reserved_image.start, brk_start - reserved_image.start)
        used = min(brk, PAGE + profile.memmap.init_pgt_buf_pages * PAGE)
        mb.reserve(brk_start, used)
    else:
        mb.reserve(reserved_image.start, reserved_image.size)
    initrd = machine.initrd
    if initrd is not None:
        mb.reserve(initrd.start, initrd.size)
    if machine.efi_boot is not None and machine.efi_map is not None:
        efi_early_reservations(mb, machine, profile, notes, out.allocations)
        out.efi_hidden = hidden_setup_data(machine, profile, mb)
    # 2. the direct mapping
    max_mapped = _init_mem_mapping(mb, nodes.max_pfn, image, profile, out.allocations)
    mb.set_current_limit(max_mapped)
    # 3. the printk ring buffer
    text = log_buf_len(machine, build.log_buf_shift)
    if text:
        count = text >> PRB_AVGBITS
        for what, size in (("log_buf", text), ("printk descs", count * sizes["prb_desc"]), ("printk infos", count * sizes["printk_info"])):
            addr = mb.alloc(size, LOG_ALIGN)
            if not addr:
                notes.append(f"log_buf_len: {text} bytes not available")
                break
            out.allocations.append((what, addr, size))
    # 4. reserve_initrd(): relocate an initrd the direct mapping does not cover
    if initrd is not None:
        covered = sum(max(0, min(r.end, initrd.end) - max(r.base, initrd.start)) for r in mb.memory)
        if covered < initrd.size:
            # (the RAMDISK range ends page-aligned: area_size = PAGE_ALIGN(ramdisk_size))
            new = mb.phys_alloc_range(initrd.size, PAGE, 0, max_mapped)
            if not new:
                # arch/x86/kernel/setup.c relocate_initrd(): panic("Cannot find place for new
                # RAMDISK of size %lld\n", ramdisk_size) -- the exact size, which the RAMDISK
                # line rounds up to a page, so the number is not known here
                raise KernelPanic(None, function="relocate_initrd",
                                  detail=f"Cannot find place for new RAMDISK of size N: the initrd [mem {initrd.start:#010x}-"
                                         f"{initrd.end - 1:#010x}] is not all in the direct mapping and no free "
                                         f"{initrd.size:#x} bytes are below max_pfn_mapped ({max_mapped:#x}); N is the "
                                         f"initrd's exact size, from {max(initrd.size - PAGE + 1, 1)} to {initrd.size} bytes")
            mb.phys_free(initrd.start, initrd.size)
            out.allocations.append(("initrd (moved)", new, initrd.size))
    # 5. NODE_DATA
    psize = sizes["pglist_data"]
    out.nd_size = -(-psize // PAGE) * PAGE if profile.numa.node_data_page_rounded else psize
    for nid in nodes.node_ids:
        if not any(r.nid == nid and r.size for r in mb.memory):
            continue
        addr, lines = alloc_node_data(mb, nid, out.nd_size)
        out.node_data_lines += lines
        if addr:
            out.allocations.append((f"NODE_DATA({nid})", addr, out.nd_size))
            out.node_data[nid] = addr
    return out
