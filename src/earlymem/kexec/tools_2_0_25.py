"""``kexec -p`` (kexec_load) of a bzImage64, as kexec-tools 2.0.25 does it.

Sources: the v2.0.25 tag of kexec-tools (July 2022; Debian 12 ships
1:2.0.25-3+deb12u3, the oracle's kexec):

* kexec/arch/i386/kexec-x86-common.c ``get_memory_ranges()``: RAM from
  /sys/firmware/memmap; the first RAM range starting below 0x400
  (REALMODE_IVT_END) starts at 0x400; for ``-p`` mem_min/mem_max become the
  *last* "Crash kernel" entry of /proc/iomem.
* kexec/arch/i386/crashdump-x86.c: ``get_crash_memory_ranges()`` (every
  /proc/iomem line, nested ones too, whose name contains "System RAM" or is
  "reserved"/"Reserved"/"ACPI Tables"/"ACPI Non-volatile Storage"/
  "Persistent Memory (legacy)"/"Persistent Memory"; each "Crash kernel" and
  any "GART" cut out by ``exclude_region()``), ``get_backup_area()`` (the
  first RAM range ending at or below 0xa0000), ``load_crashdump_segments()``:
  the backup segment then the ELF core header, both last fit; the crash
  kernel's memory map (``add_memmap()``/``delete_memmap()``, 1 KiB granules);
  `` acpi_rsdp=0x%lx`` (BIOS boot: no EFI runtime map) and `` elfcorehdr=%luK``.
* kexec/crashdump-elf.c: the header is ``64 + 56 * (cpus + vmcoreinfo +
  ranges + kernel text)`` bytes rounded up to 1 KiB; memsz at least 16 KiB.
* kexec/arch/x86_64/kexec-bzImage64.c ``do_bzImage64_load()``: purgatory,
  then boot parameters + command line (``max(kern16, 4096) + cmdline + 1 +
  64`` bytes, align 16), then the kernel (``init_size`` bytes at
  ``kernel_alignment``, at least 1 MiB), all last fit; x86-linux-setup.c
  ``setup_linux_bootloader_parameters_high(initrd_high=1)``: the initrd last
  fit above 16 MiB with no upper limit; ``setup_linux_system_parameters()``:
  the e820 map (more than 128 entries go to a SETUP_E820_EXT setup_data) and
  a SETUP_RNG_SEED setup_data when ``getrandom(GRND_NONBLOCK)`` has 32 bytes
  (setup_data goes lowest fit at or above 1 MiB). On a UEFI system, when the
  image has XLF_EFI_KEXEC, ``setup_efi_info()`` -> ``setup_efi_data()`` first adds
  a SETUP_EFI setup_data (16 + 96 bytes: fw_vendor, runtime, tables, smbios,
  reserved[8]) and the runtime map read from /sys/firmware/efi/runtime-map
  (40 bytes a descriptor), both lowest fit at or above 1 MiB; and
  ``load_crashdump_segments()`` adds `` acpi_rsdp=`` only when there is no runtime
  map to pass (``cmdline_add_efi()``).

The purgatory's sizes are a property of the kexec binary
(:data:`KEXEC_TOOLS_2_0_25`, from tools/purgatory_facts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.kernels.builds import KernelHeader
from earlymem.kexec.holes import PAGE, ULONG_MAX, HoleFinder, KexecLoadError, Segment

__all__ = ["KexecTools", "KEXEC_TOOLS_2_0_25", "KernelHeader", "CrashLoad", "crash_load_bzimage64", "normal_load_bzimage64",
           "RANGE_RAM", "RANGE_RESERVED", "RANGE_ACPI", "RANGE_ACPI_NVS", "RANGE_PMEM", "RANGE_PRAM"]

# kexec/kexec.h memory_range types
RANGE_RAM, RANGE_RESERVED, RANGE_ACPI, RANGE_ACPI_NVS, RANGE_UNCACHED, RANGE_PMEM, RANGE_PRAM = 0, 1, 2, 3, 4, 6, 11
#: add_e820_map_from_mr(): memory_range type -> e820 type
E820_OF_RANGE = {RANGE_RAM: 1, RANGE_ACPI: 3, RANGE_ACPI_NVS: 4, RANGE_PMEM: 7, RANGE_PRAM: 12}
REALMODE_IVT_END = 0x400
ELF_CORE_HEADER_ALIGN = 1024
PURGATORY_CMDLINE_SIZE = 64
INITRD_BASE = 0x1000000
COMMAND_LINE_SIZE = 2048
E820MAX = 128
CRASH_RESERVED_MEM_NR = 8
KEXEC_ARCH_X86_64 = 0x3E0000  # 62 << 16
KEXEC_ON_CRASH_X86_64 = 0x3E0001  # KEXEC_ON_CRASH | KEXEC_ARCH_X86_64
#: x86-linux-setup.c: sizeof(struct setup_data) + sizeof(struct efi_setup_data); sizeof(struct efi_mem_descriptor)
SETUP_EFI_SIZE = 16 + 96
EFI_MEM_DESCRIPTOR_SIZE = 40
#: kexec-bzImage64.c bzImage64_probe(): bzImage_support_efi_boot
XLF_EFI_KEXEC = 1 << 4
#: /proc/iomem names kexec-tools keeps for the crash memory ranges (strstr for System RAM)
_IOMEM_TYPES = {"ACPI Tables": RANGE_ACPI, "ACPI Non-volatile Storage": RANGE_ACPI_NVS, "Persistent Memory (legacy)": RANGE_PRAM,
                "Persistent Memory": RANGE_PMEM, "reserved": RANGE_RESERVED, "Reserved": RANGE_RESERVED}


@dataclass(frozen=True)
class KexecTools:
    """One kexec-tools build: what its embedded purgatory weighs."""

    version: str
    purgatory_bufsz: int
    purgatory_memsz: int
    purgatory_align: int
    purgatory_entry: int  # e_entry: offset of purgatory_start in the loaded buffer
    source: str


#: Debian 12's /usr/sbin/kexec (1:2.0.25-3+deb12u3): the purgatory ELF embedded
#: at file offset 0x1d8e0 has .text 0x3e3c, .rodata 0x110, .rodata.str1.1 0x88,
#: .eh_frame 0x3dc, .data 0x20e0 (align 4096), .bss 0x1000 (align 4096) and
#: e_entry 0x760 -> elf_rel_build_load() packs 0x70e0 bytes and pads to 0x9000.
KEXEC_TOOLS_2_0_25 = KexecTools("2.0.25", 0x70E0, 0x9000, 0x1000, 0x760,
                                "Debian 1:2.0.25-3+deb12u3 /usr/sbin/kexec, embedded purgatory (tools/purgatory_facts.py)")


@dataclass
class CrashLoad:
    """What ``kexec -p`` hands to kexec_load(), and its ``--debug`` trail."""

    segments: list[Segment]  # in load order
    e820: list[tuple[int, int, int]]  # (start, end inclusive, e820 type) for the capture kernel
    cmdline: str
    entry: int
    debug: list[str] = field(default_factory=list)
    crash_ranges: list[tuple[int, int, int]] = field(default_factory=list)

    def sorted_segments(self) -> list[Segment]:
        return sorted(self.segments, key=lambda s: s.mem)

    def segment_lines(self) -> list[str]:
        """``print_segments()`` without the userspace ``.buf`` addresses."""
        out = [f"nr_segments = {len(self.segments)}"]
        for i, s in enumerate(self.sorted_segments()):
            out += [f"segment[{i}].bufsz = {s.bufsz:#x}", f"segment[{i}].mem   = {s.mem:#x}", f"segment[{i}].memsz = {s.memsz:#x}"]
        return out


def _exclude(ranges: list[list[int]], start: int, end: int) -> None:
    """crashdump-x86.c ``exclude_region()`` (a region inside one range splits it;
    the split-off part is typed RAM)."""
    insert = None
    for r in ranges:
        ms, me = r[0], r[1]
        if start < me and end > ms:
            if start != ms and end != me:
                r[1] = start - 1
                insert = (ranges.index(r) + 1, [end + 1, me, RANGE_RAM])
            elif start != ms:
                r[1] = start - 1
            else:
                r[0] = end + 1
    if insert is not None:
        ranges.insert(*insert)


def _add_memmap(memmap: list[list[int]], addr: int, size: int, rtype: int) -> None:
    if rtype == RANGE_RAM and (addr % 1024 or size % 1024):
        lo, hi = -(-addr // 1024) * 1024, (addr + size) // 1024 * 1024
        if lo >= hi:
            return
        addr, size = lo, hi - lo
    last = addr + size - 1
    at = 0
    for i, (ms, me, _t) in enumerate(memmap):
        if ms <= last and me >= addr:
            return  # overlapping: add_memmap() refuses (-1), the caller ignores it
        if addr > me:
            at = i + 1
    memmap.insert(at, [addr, last, rtype])


def delete_memmap(memmap: list[list[int]], addr: int, size: int) -> None:
    last = addr + size - 1
    for i, (ms, me, t) in enumerate(memmap):
        if ms <= addr and me >= last:
            if ms == addr and me == last:
                del memmap[i]
            elif ms != addr and me != last:
                memmap[i] = [ms, addr - 1, t]
                memmap.insert(i + 1, [addr + size, me, t])
            elif ms != addr:
                memmap[i] = [ms, addr - 1, t]
            else:
                memmap[i] = [addr + size, me, t]
            return
    raise KexecLoadError(f"delete_memmap: {addr:#x}+{size:#x} is not in the capture kernel's memory map", field="kexec")


def crash_load_bzimage64(memmap: list[tuple[int, int, int]], iomem: list[tuple[int, int, str]], kernel: KernelHeader,
                         initrd_size: int | None, append: str, *, cpus: int = 1, rsdp: int | None = None,
                         rng_ready: bool = False, efi_runtime_map: int | None = None,
                         tools: KexecTools = KEXEC_TOOLS_2_0_25) -> CrashLoad:
    """Place ``kexec -p`` segments.

    :param memmap: /sys/firmware/memmap as ``(start, end inclusive, RANGE_* type)``.
    :param iomem: every /proc/iomem line (nested ones too) as ``(start, end inclusive, name)``.
    :param initrd_size: bytes of ``--initrd``, None without one.
    :param cpus: sysconf(_SC_NPROCESSORS_CONF) -- one PT_NOTE each.
    :param rsdp: boot_params.acpi_rsdp_addr (``acpi_rsdp=`` on a BIOS boot).
    :param rng_ready: getrandom(GRND_NONBLOCK) succeeds (crng initialised),
        so a SETUP_RNG_SEED setup_data is added.
    :param efi_runtime_map: on a UEFI system, the descriptors of /sys/firmware/efi/runtime-map
        (None: a BIOS system).
    """
    _probe(kernel, append)
    efi = _efi_data(kernel, efi_runtime_map)
    debug: list[str] = [f"kernel_size: {kernel.file_len:#x}"]
    ranges = _memory_ranges(memmap)
    crash_res = [(s, e) for s, e, name in iomem if name == "Crash kernel"][:CRASH_RESERVED_MEM_NR]
    if not crash_res:
        raise KexecLoadError("Memory for crashkernel is not reserved", field="Crash kernel")
    mem_min, mem_max = crash_res[-1]
    debug.append("MEMORY RANGES")
    debug += [f"{s:016x}-{e:016x} ({t})" for s, e, t in ranges]
    info = HoleFinder([(s, e) for s, e, t in ranges if t == RANGE_RAM], mem_min, mem_max)
    # get_crash_memory_ranges()
    crash_ranges: list[list[int]] = []
    gart = None
    for s, e, name in iomem:
        if "System RAM" in name:
            t = RANGE_RAM
        elif name in _IOMEM_TYPES:
            t = _IOMEM_TYPES[name]
        elif name == "GART":
            gart = (s, e)
            continue
        else:
            continue
        crash_ranges.append([s, e, t])
    for s, e in crash_res:
        _exclude(crash_ranges, s, e)
    if gart:
        _exclude(crash_ranges, *gart)
    # get_backup_area()
    backup_src = next(((s, e - s + 1) for s, e, t in crash_ranges if t == RANGE_RAM and e <= 0xA0000), (0, 0xA0000))
    if backup_src != (0, 0xA0000):
        debug.append(f"get_backup_area: {backup_src[0]:016x}-{backup_src[0] + backup_src[1] - 1:016x} : System RAM")
    debug.append("CRASH MEMORY RANGES")
    debug += [f"{s:016x}-{e:016x} ({t})" for s, e, t in crash_ranges]
    capmap: list[list[int]] = []
    _add_memmap(capmap, backup_src[0], backup_src[1], RANGE_RAM)
    for s, e in crash_res:
        _add_memmap(capmap, s, e - s + 1, RANGE_RAM)
    sz = -(-backup_src[1] // 1024) * 1024
    backup = info.add_buffer("backup", sz, sz, 1024, 0, ULONG_MAX, -1)
    debug.append(f"Created backup segment at {backup.mem:#x}")
    delete_memmap(capmap, backup.mem, sz)
    # crash_create_elf64_headers(): ELF header, a PT_NOTE per CPU and for vmcoreinfo,
    # the kernel text PT_LOAD, one program header per crash memory range
    bufsz = -(-(64 + 56 * (cpus + 1 + len(crash_ranges) + 1)) // ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN
    memsz = max(bufsz, 16 << 10)
    elf = info.add_buffer("elf core header", bufsz, memsz, 1024, 0, ULONG_MAX, -1)
    debug.append(f"Created elf header segment at {elf.mem:#x}")
    delete_memmap(capmap, elf.mem, memsz)
    cmdline = append
    if rsdp and not efi:
        # cmdline_add_efi(): only without a runtime map to pass
        cmdline += f" acpi_rsdp={rsdp:#x}"
    cmdline += f" elfcorehdr={elf.mem // 1024}K"
    if len(cmdline) > COMMAND_LINE_SIZE - 1:
        raise KexecLoadError("Command line overflow", field="--append")
    debug += ["Command line after adding elfcorehdr", cmdline]
    for s, e, t in crash_ranges:
        if t in (RANGE_ACPI, RANGE_ACPI_NVS, RANGE_RESERVED, RANGE_PMEM, RANGE_PRAM):
            _add_memmap(capmap, s, e - s + 1, t)
    e820 = [(s, e, E820_OF_RANGE.get(t, 2)) for s, e, t in capmap]
    purg = _bzimage64_parts(info, kernel, cmdline, initrd_size, e820, rng_ready, tools, debug, efi)
    entry = purg.mem + tools.purgatory_entry
    load = CrashLoad(info.segments, e820, cmdline, entry, debug, [tuple(r) for r in crash_ranges])  # type: ignore[misc]
    load.debug += [f"kexec_load: entry = {entry:#x} flags = {KEXEC_ON_CRASH_X86_64:#x}"] + load.segment_lines()
    return load


def _efi_data(kernel: KernelHeader, efi_runtime_map: int | None) -> int | None:
    """setup_efi_info()'s condition: a UEFI system (a runtime map to read) and an image
    with XLF_EFI_KEXEC; the runtime map's descriptors then, else None."""
    if efi_runtime_map and kernel.xloadflags & XLF_EFI_KEXEC:
        return efi_runtime_map
    return None


def _bzimage64_parts(info: HoleFinder, kernel: KernelHeader, cmdline: str, initrd_size: int | None, e820: list[tuple[int, int, int]],
                     rng_ready: bool, tools: KexecTools, debug: list[str], efi: int | None = None) -> Segment:
    """do_bzImage64_load() after the crash segments: purgatory, boot parameters and
    command line, kernel, initrd (all last fit), then setup_linux_system_parameters()'s
    e820 and setup_data.  :return: the purgatory segment."""
    # do_bzImage64_load()
    purg = info.add_buffer("purgatory", tools.purgatory_bufsz, tools.purgatory_memsz, tools.purgatory_align, 0x3000, ULONG_MAX, -1)
    debug.append(f"Loaded purgatory at addr {purg.mem:#x}")
    kern16 = max(kernel.kern16_size, 4096)
    setup_size = kern16 + len(cmdline) + 1 + PURGATORY_CMDLINE_SIZE
    setup = info.add_buffer("boot params + command line", setup_size, setup_size, 16, 0x3000, ULONG_MAX, -1)
    debug.append(f"Loaded real_mode_data and command line at {setup.mem:#x}")
    debug.append(f"kernel init_size {kernel.init_size:#x}")
    kern = info.add_buffer("kernel", kernel.file_len - kernel.kern16_size, -(-kernel.init_size // PAGE) * PAGE,
                           kernel.kernel_alignment, 0x100000, ULONG_MAX, -1)
    debug.append(f"Loaded 64bit kernel at {kern.mem:#x}")
    if initrd_size is not None:
        rd = info.add_buffer("initrd", initrd_size, initrd_size, PAGE, INITRD_BASE, ULONG_MAX, -1)
        debug.append(f"Loaded initrd at {rd.mem:#x} size {initrd_size:#x}")
    # setup_linux_system_parameters(): setup_efi_info(), setup_e820(), setup_rng_seed()
    if efi:
        info.add_buffer("setup_data (EFI)", SETUP_EFI_SIZE, SETUP_EFI_SIZE, PAGE, 0x100000, ULONG_MAX, 1)
        n = efi * EFI_MEM_DESCRIPTOR_SIZE
        info.add_buffer("EFI runtime map", n, n, PAGE, 0x100000, ULONG_MAX, 1)
    debug.append("E820 memmap:")
    debug += [f"{s:016x}-{e:016x} ({t})" for s, e, t in e820[:E820MAX]]
    if len(e820) > E820MAX:
        debug.append("extra E820 memmap are passed via setup_data")
        n = 16 + 20 * (len(e820) - E820MAX)
        info.add_buffer("setup_data (E820_EXT)", n, n, PAGE, 0x100000, ULONG_MAX, 1)
    if rng_ready:
        info.add_buffer("setup_data (RNG_SEED)", 48, 48, PAGE, 0x100000, ULONG_MAX, 1)
    return purg


def normal_load_bzimage64(memmap: list[tuple[int, int, int]], kernel: KernelHeader, initrd_size: int | None, append: str, *,
                          rng_ready: bool = False, efi_runtime_map: int | None = None,
                          tools: KexecTools = KEXEC_TOOLS_2_0_25) -> CrashLoad:
    """``kexec -l``: no crash segments, all RAM of /sys/firmware/memmap is fair game
    (the kernel stages the segments and copies them at ``kexec -e``), and the new
    kernel's e820 is that whole map."""
    _probe(kernel, append)
    debug: list[str] = [f"kernel_size: {kernel.file_len:#x}"]
    ranges = _memory_ranges(memmap)
    debug.append("MEMORY RANGES")
    debug += [f"{s:016x}-{e:016x} ({t})" for s, e, t in ranges]
    info = HoleFinder([(s, e) for s, e, t in ranges if t == RANGE_RAM])
    e820 = [(s, e, E820_OF_RANGE.get(t, 2)) for s, e, t in ranges]
    purg = _bzimage64_parts(info, kernel, append, initrd_size, e820, rng_ready, tools, debug,
                            _efi_data(kernel, efi_runtime_map))
    entry = purg.mem + tools.purgatory_entry
    load = CrashLoad(info.segments, e820, append, entry, debug)
    load.debug += [f"kexec_load: entry = {entry:#x} flags = {KEXEC_ARCH_X86_64:#x}"] + load.segment_lines()
    return load


def _probe(kernel: KernelHeader, append: str) -> None:
    """bzImage64_probe() and do_bzImage64_load()'s first checks."""
    if kernel.file_len < 1024 or kernel.protocol < 0x020C or not kernel.loadflags & 1 or kernel.xloadflags & 3 != 3:
        raise KexecLoadError("Cannot determine the file type of the kernel (not a relocatable bzImage64)", field="kernel")
    if kernel.file_len < kernel.kern16_size:
        raise KexecLoadError("BzImage truncated?", field="kernel")
    if len(append) + 1 > kernel.cmdline_size:
        raise KexecLoadError("Kernel command line too long for kernel!", field="--append")


def _memory_ranges(memmap: list[tuple[int, int, int]]) -> list[list[int]]:
    """get_memory_ranges(): the first RAM range starting below 0x400 starts at 0x400."""
    ranges = [list(r) for r in sorted(memmap)]
    for r in ranges:
        if r[2] == RANGE_RAM and r[0] < REALMODE_IVT_END:
            r[0] = REALMODE_IVT_END
            break
    return ranges
