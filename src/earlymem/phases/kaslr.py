"""Physical KASLR: the slots the decompressor chooses the kernel's place from.

``arch/x86/boot/compressed/kaslr.c`` ``choose_random_location()``, the same in
the four kernels earlymem predicts (v5.10.13 ``Rtoax/linux-5.10.13@3d51b227``
and v6.12.12 ``tempesta-tech/linux-6.12.12-tfw@4f7a3282`` read line by line;
6.1 and 7.2 lie between and after them with the same code; the era table is
in ../shared/spec/real-machines.md section 1.3, era C):

* ``nokaslr`` on the command line: the kernel runs at ``output`` (no draw).
* ``mem_limit`` = MAXMEM, lowered by ``mem=`` and by a bare ``memmap=nn``
  (``handle_mem_options()``; ``mem=`` of 0 stops the parse).
* ``mem_avoid_init()``: the compressed kernel and its run space
  ``[input, output + init_size)``, the initrd, the command line, boot_params,
  up to four ``memmap=nn[#$!]ss`` ranges (a fifth one aborts physical KASLR:
  ``memmap_too_large``), and every setup_data node.
* ``minimum = ALIGN(min(output, 512M), CONFIG_PHYSICAL_ALIGN)``; ``image_size``
  is extract_kernel()'s ``needed_size = ALIGN(max(output_len,
  kernel_total_size), MIN_KERNEL_ALIGN)`` (arch/x86/boot/compressed/misc.c).
* ``process_e820_entries()``: each RAM entry of boot_params' table, in table
  order; with immovable memory in the SRAT (CONFIG_MEMORY_HOTREMOVE and
  CONFIG_ACPI: ``count_immovable_mem_regions()``) each entry is cut to every
  SRAT range without the hot-pluggable flag, in SRAT order.
  ``__process_mem_region()`` walks an entry from the bottom, storing the part
  below the lowest avoided range that overlaps it when it holds the image,
  then going on above that range; at most MAX_SLOT_AREA = 100 areas.
* ``process_gb_huge_pages()``: with ``hugepagesz=1G hugepages=N`` the first N
  whole 1 GiB pages are kept out.
* ``store_slot_info()``: an area of ``1 + (size - image_size) / ALIGN`` slots;
  ``slots_fetch_random()``: ``kaslr_get_random_long() % slot_max`` picks one,
  so every slot has the same probability (the bias of ``%`` on a 64-bit draw
  is below ``slot_max / 2^64``).
* No slot: "Physical KASLR disabled: no suitable memory region!" and the
  kernel runs at ``output``.

What the loader decides is an input: ``output`` is
``max(ALIGN(load address, kernel_alignment), LOAD_PHYSICAL_ADDR)``
(head_64.S); boot loaders that start a bzImage through its 16/32-bit entry
(SeaBIOS and QEMU's -kernel, GRUB's ``linux``) load the protected-mode part at
1 MiB, so ``output`` is LOAD_PHYSICAL_ADDR.  ``input`` is where head_64.S
copied the compressed payload: ``output + init_size - ZO__end +
ZO_input_data``; the bzImage does not give ``ZO__end``, so both ends of its
range are tried and the slots are given only if they agree.  The command
line, boot_params and setup_data of those loaders lie below 16 MiB, below
every slot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from earlymem.kernels.builds import KernelBuild
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.ranges import Range
from earlymem.lib.errors import InputError
from earlymem.lib.units import memparse
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Type

__all__ = ["SlotArea", "KaslrSlots", "kaslr_slots", "needed_size", "stub_allocation", "handover_output",
           "MAX_SLOT_AREA"]

#: arch/x86/boot/compressed/kaslr.c
MAX_SLOT_AREA = 100
MAX_MEMMAP_REGIONS = 4
#: MAXMEM with 4-level paging (1 << MAX_PHYSMEM_BITS, 46) and with 5-level (52)
MAXMEM_4LEVEL = 1 << 46
MAXMEM_5LEVEL = 1 << 52
PUD_SIZE = 1 << 30
#: extract_kernel(): needed_size is aligned to MIN_KERNEL_ALIGN (2 MiB) on 64-bit
MIN_KERNEL_ALIGN = 1 << 21


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


@dataclass(frozen=True)
class SlotArea:
    """``struct slot_area``: ``count`` slots at ``start``, ``start + align``, ..."""

    start: int
    count: int


@dataclass(frozen=True)
class KaslrSlots:
    """Where the decompressor may put the kernel, each place equally likely.

    :param areas: the slot areas in the order they were stored.
    :param align: CONFIG_PHYSICAL_ALIGN (the bzImage's kernel_alignment).
    :param image_size: the size each slot must hold (needed_size).
    :param output: where the kernel runs when no slot is drawn.
    :param disabled: why physical KASLR did not draw (None: it did); the kernel is then at ``output``.
    :param avoided: ``(what, range)`` the walk stepped around.
    """

    areas: tuple[SlotArea, ...]
    align: int
    image_size: int
    minimum: int
    mem_limit: int
    output: int
    disabled: str | None = None
    avoided: tuple[tuple[str, Range], ...] = ()
    notes: tuple[str, ...] = field(default=())
    #: how the slot is drawn: "mod" (the decompressor: kaslr_get_random_long() % slots, uniform)
    #: or "efi32" (the EFI stub's efi_random_alloc(): slot = (slots * (u32)seed) >> 32, so slot
    #: k has ceil((k+1) 2^32 / N) - ceil(k 2^32 / N) of the 2^32 seeds)
    draw: str = "mod"

    @property
    def total(self) -> int:
        return sum(a.count for a in self.areas)

    def probability(self, places) -> "Fraction":
        """The exact probability that the place drawn is one of ``places``."""
        from fractions import Fraction

        wanted = set(places)
        n = self.total
        if self.draw != "efi32":
            return Fraction(sum(self.count_of(p) for p in wanted), n)
        seeds = 0
        for k, at in enumerate(self.places()):
            if at in wanted:
                seeds += -(-((k + 1) << 32) // n) - -(-(k << 32) // n)
        return Fraction(seeds, 1 << 32)

    def places(self):
        """Every slot's address, in draw order (slot 0 first)."""
        for a in self.areas:
            for i in range(a.count):
                yield a.start + i * self.align

    def count_of(self, addr: int) -> int:
        """How many slots are at ``addr`` (areas may repeat an address when the SRAT cuts overlap)."""
        return sum(1 for a in self.areas if a.start <= addr < a.start + a.count * self.align and (addr - a.start) % self.align == 0)


def needed_size(build: KernelBuild) -> int | None:
    """extract_kernel()'s ``needed_size`` (arch/x86/boot/compressed/misc.c), also the EFI stub's
    ``alloc_size``: ``ALIGN(max(output_len, _end - _text), MIN_KERNEL_ALIGN)``; None: unknown."""
    h = build.header
    if h is None or h.output_len is None:
        return None
    return _align(max(h.output_len, build.image_span), MIN_KERNEL_ALIGN)


def stub_allocation(machine: Machine, build: KernelBuild) -> Range | None:
    """The EFI stub's EFI_LOADER_CODE allocation for the kernel in a UEFI boot's map
    (efi_random_alloc() of exactly ``needed_size`` at a ``kernel_alignment`` boundary, at or
    above LOAD_PHYSICAL_ADDR), or None when the stub did not place the kernel (5.10's handover)."""
    size, h = needed_size(build), build.header
    if size is None or h is None or not h.kernel_alignment or machine.efi_map is None:
        return None
    return next((r for t, _, r in machine.efi_map if t == "Loader Code" and r.size == size
                 and r.start % h.kernel_alignment == 0 and r.start >= build.load_addr), None)


def handover_output(machine: Machine, build: KernelBuild) -> int | None:
    """Where the decompressor runs when the EFI handover protocol starts it where the firmware
    loaded the PE image (the largest Loader Code range): head_64.S's ``output =
    ALIGN(startup_32, kernel_alignment)``, startup_32 being the image's base plus its
    real-mode setup, and at least LOAD_PHYSICAL_ADDR.  None: no Loader Code range."""
    h = build.header
    code = [r for t, _, r in machine.efi_map or () if t == "Loader Code"]
    if h is None or not code:
        return None
    image = max(code, key=lambda r: r.size)
    return max(_align(image.start + h.kern16_size, h.kernel_alignment or MIN_KERNEL_ALIGN), build.load_addr)


def _memparse(text: str) -> tuple[int, str]:
    """lib/cmdline.c memparse(): ``(value, rest)``; the value wraps at 64 bits as the C code's does."""
    try:
        r = memparse(text, 0)
    except InputError:
        return (1 << 64) - 1, ""  # past 64 bits: the decompressor's value is garbage; treat it as no limit
    return r.value, text[r.end:]


@dataclass
class _MemOptions:
    mem_limit: int
    memmap: list[Range] = field(default_factory=list)
    too_many: bool = False
    gb_pages: int = 0


def _mem_options(cmdline: CommandLine, mem_limit: int) -> _MemOptions:
    """handle_mem_options(): memmap=, mem= and 1G hugepages, in command-line order."""
    out = _MemOptions(mem_limit)
    gbpage_sz = False
    for name, value in cmdline.params():
        if name == "--":
            break
        if name == "memmap":
            if len(out.memmap) >= MAX_MEMMAP_REGIONS:
                continue
            parts = (value or "").split(",")
            i = 0
            while i < len(parts) and len(out.memmap) < MAX_MEMMAP_REGIONS:
                p = parts[i]
                if p.startswith("exactmap"):
                    break
                size, rest = _memparse(p)
                if rest == p:
                    break
                i += 1
                if rest[:1] in ("#", "$", "!"):
                    start, _ = _memparse(rest[1:])
                else:
                    start = 0
                    if rest[:1] == "@":
                        size = 0
                if start == 0:
                    if 0 < size < out.mem_limit:
                        out.mem_limit = size
                    continue
                out.memmap.append(Range(start, start + size))
            if len(out.memmap) >= MAX_MEMMAP_REGIONS and i < len(parts):
                out.too_many = True
        elif "hugepages" in name:
            if name == "hugepagesz":
                gbpage_sz = _memparse(value or "")[0] == PUD_SIZE
            elif name == "hugepages" and gbpage_sz:
                try:
                    out.gb_pages = int(value or "0", 0)
                except ValueError:
                    out.gb_pages = 0
        elif name == "mem":
            if value == "nopentium":
                continue
            size, _ = _memparse(value or "")
            if size == 0:
                break
            if size < out.mem_limit:
                out.mem_limit = size
    return out


def kaslr_slots(machine: Machine, build: KernelBuild, *, output: int | None = None) -> KaslrSlots | str:
    """The decompressor's slot areas for ``machine`` booting ``build``, or why they are unknown.

    :param output: where head_64.S put the decompression buffer (default: the
        build's LOAD_PHYSICAL_ADDR, as for a bzImage loaded at 1 MiB).
    """
    if machine.efi_boot is not None:
        return _efi_slots(machine, build)
    h = build.header
    if h is None or not h.init_size or not h.kernel_alignment:
        return f"the setup header of {build.name} is unknown (init_size, kernel_alignment)"
    if h.output_len is None or h.payload_length is None:
        return f"the decompressed size of {build.name} is unknown (give its image with --kernel)"
    align = h.kernel_alignment
    out_addr = build.load_addr if output is None else output
    image_size = needed_size(build)
    top = max((e.addr + e.size for e in machine.e820 if e.type == E820Type.RAM), default=0)
    maxmem = MAXMEM_5LEVEL if top > MAXMEM_4LEVEL else MAXMEM_4LEVEL
    opts = _mem_options(machine.command_line, maxmem)
    minimum = _align(min(out_addr, 512 << 20), align)
    common = dict(align=align, image_size=image_size, minimum=minimum, mem_limit=opts.mem_limit, output=out_addr)
    if machine.command_line.flag("nokaslr"):
        return KaslrSlots((), disabled="'nokaslr' on the command line", **common)
    if minimum + image_size > opts.mem_limit:
        return KaslrSlots((), disabled="no suitable memory region (the memory limit is below the image)", **common)
    if opts.too_many:
        return KaslrSlots((), disabled="more than 4 memmap= ranges (memmap_too_large)", **common)
    # the ZO range [input, output + init_size): input lies between the lowest and the
    # highest place head_64.S can copy the payload to (input + input_len >= output +
    # output_len, and ZO's run space ends at output + init_size)
    zo_end = out_addr + h.init_size
    input_hi = zo_end - h.payload_length
    input_lo = max(out_addr, out_addr + h.output_len - h.payload_length)
    fixed: list[tuple[str, Range]] = []
    if machine.initrd is not None and machine.initrd.size:
        fixed.append(("initrd", machine.initrd))
    fixed += [(f"memmap= range {i + 1}", r) for i, r in enumerate(opts.memmap) if r.size]
    immovable = [a.range for a in machine.numa if not a.hotplug]
    variants = []
    for inp in (input_lo, input_hi):
        avoid = [("the compressed kernel and its run space", Range(inp, zo_end)), *fixed]
        variants.append(_walk(machine, avoid, immovable, minimum, image_size, align, opts.mem_limit, opts.gb_pages))
    if variants[0] != variants[1]:
        return (f"the slots near the compressed kernel depend on where head_64.S copied it (between {input_lo:#x} "
                f"and {input_hi:#x}), which the bzImage header does not say")
    areas = variants[0]
    avoided = (("the compressed kernel and its run space", Range(input_hi, zo_end)), *fixed)
    notes = ["the boot loader loaded the bzImage at 1 MiB (SeaBIOS or QEMU -kernel, GRUB 'linux'): the decompressor "
             f"starts at {out_addr:#x}, and the command line, boot_params and setup_data lie below it"]
    if machine.e820_printed:
        notes.append("the decompressor walks the loader's e820 table; the log shows the kernel's sanitized copy of it "
                      "(the same, unless the firmware's entries overlapped or were out of order)")
    if not areas:
        return KaslrSlots((), disabled="no suitable memory region", avoided=avoided, notes=tuple(notes), **common)
    return KaslrSlots(tuple(areas), avoided=avoided, notes=tuple(notes), **common)


def _walk(machine: Machine, avoid: list[tuple[str, Range]], immovable: list[Range], minimum: int, image_size: int,
          align: int, mem_limit: int, gb_pages: int) -> list[SlotArea]:
    areas: list[SlotArea] = []
    budget = [gb_pages]

    def store(start: int, size: int) -> None:
        if len(areas) < MAX_SLOT_AREA:
            areas.append(SlotArea(start, 1 + (size - image_size) // align))

    def gb_huge(start: int, size: int) -> None:
        # process_gb_huge_pages()
        if not budget[0]:
            store(start, size)
            return
        pud_start, pud_end = _align(start, PUD_SIZE), (start + size) // PUD_SIZE * PUD_SIZE
        if pud_start >= pud_end:
            store(start, size)
            return
        if pud_start >= start + image_size:
            store(start, pud_start - start)
        n = (pud_end - pud_start) >> 30
        if n > budget[0]:
            pud_end = pud_start + (budget[0] << 30)
            budget[0] = 0
        else:
            budget[0] -= n
        if start + size >= pud_end + image_size:
            store(pud_end, start + size - pud_end)

    def region(entry_start: int, entry_end: int) -> None:
        # __process_mem_region()
        start = max(entry_start, minimum)
        end = min(entry_end, mem_limit)
        while len(areas) < MAX_SLOT_AREA:
            start = _align(start, align)
            if start > end:
                return
            size = end - start
            if size < image_size:
                return
            # mem_avoid_overlap(): the overlapping range that starts lowest
            over = None
            for _, r in avoid:
                if r.size and start < r.end and r.start < start + size and (over is None or r.start < over.start):
                    over = r
            if over is None:
                gb_huge(start, size)
                return
            if over.start >= start + image_size:
                gb_huge(start, over.start - start)
            start = over.end

    for e in machine.e820:
        if e.type != E820Type.RAM:
            continue
        if not immovable:
            region(e.addr, e.addr + e.size)
        else:
            # process_mem_region(): the entry cut to each immovable SRAT range, in SRAT order
            for r in immovable:
                if not (e.addr < r.end and r.start < e.addr + e.size):
                    continue
                s = min(max(e.addr, r.start), r.end)
                t = min(max(e.addr + e.size, r.start), r.end)
                region(s, t)
                if len(areas) >= MAX_SLOT_AREA:
                    break
        if len(areas) >= MAX_SLOT_AREA:
            break
    return areas


def _efi_slots(machine: Machine, build: KernelBuild) -> KaslrSlots | str:
    """A UEFI boot's slots, from the EFI map at ExitBootServices() (efi=debug's lines).

    * When the EFI stub placed the kernel itself (its EFI_LOADER_CODE allocation of exactly
      ``alloc_size`` is in the map: Debian's 6.1.176, 6.12, 7.2), efi_random_alloc()
      (drivers/firmware/efi/libstub/randomalloc.c) drew it: per EFI_CONVENTIONAL_MEMORY
      descriptor, slots ``A`` apart from ``round_up(max(start, LOAD_PHYSICAL_ADDR), A)`` to
      ``round_down(end - size + 1, A)``, and ``slot = (N * (u32)seed) >> 32``.  The map it
      walked is the final one before the stub's later allocations: efi_stub_entry() calls
      efi_decompress_kernel() before efi_load_initrd() and exit_boot(), so the kernel's own
      range and every Loader Data range (the initrd, its config table, setup_data, the memory
      map) were still conventional memory; touching pieces are taken as one descriptor.
    * Otherwise (5.10: the handover protocol) the decompressor's process_efi_entries() walks
      the final map's EFI_CONVENTIONAL_MEMORY descriptors as the e820 walk does.
    """
    h = build.header
    m = machine.efi_map
    if m is None:
        return "a UEFI boot without its EFI memory map (boot with efi=debug)"
    if h is None or not h.init_size or not h.kernel_alignment or h.output_len is None or h.payload_length is None:
        return f"the setup header facts of {build.name} are unknown"
    align = h.kernel_alignment
    size = needed_size(build)
    placed = stub_allocation(machine, build)
    stub = [placed] if placed is not None else []
    if machine.command_line.flag("nokaslr"):
        return KaslrSlots((), align, size, build.load_addr, MAXMEM_4LEVEL, stub[0].start if stub else build.load_addr,
                          disabled="'nokaslr' on the command line")
    if stub:
        # efi_stub_entry(): "%s detected on the kernel command line - disabling physical KASLR" for
        # mem=, memmap= or hugepages= at the start or after a space: seed 0, the lowest slot
        # (in Debian's 6.1.176, 6.12 and 7.2: 20 of 20 OVMF KASLR boots with memmap= at one place)
        text = machine.command_line.text
        veto = next((w for w in ("mem=", "memmap=", "hugepages=") if text.startswith(w) or f" {w}" in text), None)
        free = sorted([r for t, _, r in m if t in ("Conventional", "Loader Data")] + stub[:1], key=lambda r: r.start)
        pieces: list[list[int]] = []
        for r in free:
            if pieces and pieces[-1][1] == r.start:
                pieces[-1][1] = r.end
            else:
                pieces.append([r.start, r.end])
        areas = []
        for a, b in pieces:
            first = _align(max(a, build.load_addr), align)
            last = (b - size) // align * align
            if first <= last:
                areas.append(SlotArea(first, (last - first) // align + 1))
        notes = ("the EFI stub drew the kernel's place from the conventional memory of the map before its later "
                 "allocations (the kernel's range and the Loader Data ranges counted free; touching pieces as one descriptor)",)
        if not areas:
            return KaslrSlots((), align, size, build.load_addr, MAXMEM_4LEVEL, build.load_addr, disabled="no slot", notes=notes)
        if veto is not None:
            return KaslrSlots((), align, size, build.load_addr, MAXMEM_4LEVEL, areas[0].start, notes=notes,
                              disabled=f"{veto[:-1]} on the command line: the EFI stub disables physical KASLR (seed 0: the lowest slot)")
        return KaslrSlots(tuple(areas), align, size, build.load_addr, MAXMEM_4LEVEL, stub[0].start, notes=notes, draw="efi32")
    # the handover protocol: the decompressor runs where the PE image lies (its largest Loader Code range)
    out_addr = handover_output(machine, build)
    if out_addr is None:
        return "no Loader Code range in the EFI map"
    conventional = [r for t, _, r in m if t == "Conventional"]
    efi_machine = dataclasses.replace(machine, efi_boot=None,
                                      e820=[E820Entry(r.start, r.size, E820Type.RAM) for r in conventional])
    slots = kaslr_slots(efi_machine, build, output=out_addr)
    if isinstance(slots, str):
        return slots
    return dataclasses.replace(slots, notes=("the decompressor walked the EFI map's conventional memory "
                                             "(process_efi_entries()), from where the firmware loaded the image",))
