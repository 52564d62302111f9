"""``kexec -s -p``: the kernel's own placement (kexec_file_load) of a bzImage64.

Sources, read per era (see the KexecFileEra fields):

* arch/x86/kernel/crash.c ``crash_load_segments()``: the ELF core header
  first, **bottom-up** in the crash region (kbuf top_down = false, align
  ELF_CORE_HEADER_ALIGN 4096); its size ``64 + 56 * (possible CPUs +
  vmcoreinfo + kernel text + System RAM ranges)`` (``prepare_elf_headers()``
  leaves out [0, 1 MiB), crashk_res and crashk_low_res), 4 KiB-aligned; with
  CONFIG_CRASH_HOTPLUG (6.6+, Debian 6.12/7.2) memsz is ``64 + 56 * (2 +
  CONFIG_NR_CPUS_DEFAULT + CONFIG_CRASH_MAX_MEMORY_RANGES)`` so the header
  can grow.  Debug ``kexec: Loaded ELF headers at 0x%lx bufsz=0x%lx memsz=0x%lx``.
* arch/x86/kernel/kexec-bzimage64.c ``bzImage64_load()``: purgatory (min
  0x3000), boot_params + command line + setup_data (``ALIGN(4096 + cmdline_len
  + 30, 16) + 16 + 96`` (EFI) ``+ 16 + 32`` (RNG seed, 6.1+), align 16, min
  0x3000), the kernel (init_size at kernel_alignment, min 1 MiB), the initrd
  (min 16 MiB) -- all top-down; ``elfcorehdr=0x%lx `` goes in front of the
  command line.
* kernel/kexec_file.c ``kexec_locate_mem_hole()``: a crash image only walks
  crashk_res; top-down starts at ``end - memsz`` (``+ 1`` since "kexec_file:
  fix incorrect temp_start value in locate_mem_hole_top_down()", Dec 2023)
  and slides down a page at a time past earlier segments; bottom-up mirrors it.
* ``crash_setup_memmap_entries()``: the capture kernel's e820 -- System RAM
  below 1 MiB, ACPI tables, ACPI NVS, every "Reserved" resource, crashk_low_res,
  and crashk_res minus the ELF header (pieces under a page dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.kernels.builds import KernelPurgatory
from earlymem.kernels.profile import KexecFileEra
from earlymem.kexec.holes import PAGE, KexecLoadError, Segment
from earlymem.kexec.tools_2_0_25 import KernelHeader

__all__ = ["KexecFileEra", "FileLoad", "file_load_bzimage64", "KernelPurgatory"]

MIN_PURGATORY_ADDR = 0x3000
MIN_BOOTPARAM_ADDR = 0x3000
MIN_KERNEL_LOAD_ADDR = 0x100000
MIN_INITRD_LOAD_ADDR = 0x1000000
MAX_ELFCOREHDR_STR_LEN = 30
ELF_CORE_HEADER_ALIGN = 4096
BOOT_PARAMS = 4096
SETUP_DATA = 16
EFI_SETUP_DATA = 96
RNG_SEED_LENGTH = 32


@dataclass
class FileLoad:
    segments: list[Segment]  # in load order
    e820: list[tuple[int, int, int]]  # unsorted, as crash_setup_memmap_entries() adds them
    cmdline: str
    debug: list[str] = field(default_factory=list)

    def segment_lines(self) -> list[str]:
        """The kernel's placement lines (Loaded ..., the segment list), without the command line."""
        return [ln for ln in self.debug if not ln.startswith("kexec-bzImage64: Final command line")]


def _hole(segs: list[Segment], region: tuple[int, int], memsz: int, align: int, buf_min: int, top_down: bool, exact: bool) -> int | None:
    start, end = region
    def busy(t: int) -> bool:
        e = t + memsz - 1
        return any(e >= s.mem and t <= s.mem + s.memsz - 1 for s in segs)
    if top_down:
        t = end - memsz + (1 if exact else 0)
        while True:
            t = t // align * align
            if t < start or t < buf_min:
                return None
            if not busy(t):
                return t
            t -= PAGE
    t = max(start, buf_min)
    while True:
        t = -(-t // align) * align
        if t + memsz - 1 > end:
            return None
        if not busy(t):
            return t
        t += PAGE


def file_load_bzimage64(iomem: list[tuple[int, int, str]], kernel: KernelHeader, purgatory: KernelPurgatory,
                        initrd_size: int | None, append: str, era: KexecFileEra, *, cpus: int = 1) -> FileLoad:
    """The kernel's crash load.

    :param iomem: every /proc/iomem line ``(start, end inclusive, name)``; the top-level
        "System RAM", "Reserved", ACPI lines and the "Crash kernel" children are used.
    """
    crash = [(s, e) for s, e, n in iomem if n == "Crash kernel"]
    if not crash:
        raise KexecLoadError("kexec_file_load failed: Cannot assign requested address (no crash kernel region)", field="Crash kernel")
    # crashk_res is the high (or only) region; crashk_low_res the other one, if any
    crashk = crash[-1]
    crashk_low = crash[0] if len(crash) > 1 else None
    cmdline_len = len(append) + 1
    if cmdline_len > kernel.cmdline_size:
        raise KexecLoadError("Kernel command line too long", field="--append")
    if cmdline_len + MAX_ELFCOREHDR_STR_LEN > kernel.cmdline_size:
        raise KexecLoadError("Appending elfcorehdr=<addr> to command line exceeds maximum allowed length", field="--append")
    segs: list[Segment] = []
    debug: list[str] = []

    def add(name: str, bufsz: int, memsz: int, align: int, buf_min: int, top_down: bool) -> Segment:
        memsz_al = -(-memsz // PAGE) * PAGE
        at = _hole(segs, crashk, memsz_al, max(align, PAGE), buf_min, top_down, era.top_down_exact)
        if at is None:
            raise KexecLoadError(f"kexec_file_load failed: Cannot assign requested address ({name} of {memsz_al:#x} bytes)", field=name)
        seg = Segment(name, at, memsz_al, bufsz)
        segs.append(seg)
        return seg

    # crash_load_segments(): System RAM minus [0, 1M), crashk_res, crashk_low_res
    ram = [[s, e] for s, e, n in iomem if n == "System RAM"]
    for lo, hi in [(0, (1 << 20) - 1), crashk] + ([crashk_low] if crashk_low else []):
        out = []
        for s, e in ram:
            if e < lo or s > hi:
                out.append([s, e])
                continue
            if s < lo:
                out.append([s, lo - 1])
            if e > hi:
                out.append([hi + 1, e])
        ram = out
    hdr = 64 + 56 * (cpus + 1 + 1 + len(ram))
    bufsz = -(-hdr // ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN
    elf_sz = 64 + 56 * era.crash_hotplug_phdrs if era.crash_hotplug_phdrs else bufsz
    elf = add("elf core header", bufsz, elf_sz, ELF_CORE_HEADER_ALIGN, 0, False)
    debug.append(f"kexec: Loaded ELF headers at {elf.mem:#x} bufsz={bufsz:#x} memsz={elf.memsz:#x}")
    purg = add("purgatory", purgatory.bufsz, purgatory.memsz, purgatory.align, MIN_PURGATORY_ADDR, True)
    debug.append(f"kexec-bzImage64: Loaded purgatory at {purg.mem:#x}")
    params_cmdline = -(-(BOOT_PARAMS + cmdline_len + MAX_ELFCOREHDR_STR_LEN) // 16) * 16
    pbufsz = params_cmdline + SETUP_DATA + EFI_SETUP_DATA + ((SETUP_DATA + RNG_SEED_LENGTH) if era.rng_seed_setup_data else 0)
    params = add("boot params + command line", pbufsz, pbufsz, 16, MIN_BOOTPARAM_ADDR, True)
    debug.append(f"kexec-bzImage64: Loaded boot_param, command line and misc at {params.mem:#x} bufsz={pbufsz:#x} "
                 f"memsz={params.memsz if era.params_memsz_aligned else pbufsz:#x}")
    kern = add("kernel", kernel.file_len - kernel.kern16_size, kernel.init_size, kernel.kernel_alignment, MIN_KERNEL_LOAD_ADDR, True)
    debug.append(f"kexec-bzImage64: Loaded 64bit kernel at {kern.mem:#x} bufsz={kern.bufsz:#x} memsz={kern.memsz:#x}")
    if initrd_size is not None:
        rd = add("initrd", initrd_size, initrd_size, PAGE, MIN_INITRD_LOAD_ADDR, True)
        debug.append(f"kexec-bzImage64: Loaded initrd at {rd.mem:#x} bufsz={initrd_size:#x} memsz={initrd_size:#x}")
    cmdline = f"elfcorehdr={elf.mem:#x} {append}"
    debug.append(f"kexec-bzImage64: Final command line is: {cmdline}")
    # crash_setup_memmap_entries()
    e820: list[tuple[int, int, int]] = []
    for s, e, n in iomem:
        if n == "System RAM" and s < 1 << 20:
            e820.append((s, min(e, (1 << 20) - 1), 1))
    e820 += [(s, e, 3) for s, e, n in iomem if n == "ACPI Tables"]
    e820 += [(s, e, 4) for s, e, n in iomem if n == "ACPI Non-volatile Storage"]
    e820 += [(s, e, 2) for s, e, n in iomem if n in ("Reserved", "reserved")]
    if crashk_low:
        e820.append((crashk_low[0], crashk_low[1], 1))
    lo, hi = elf.mem, elf.mem + elf_sz - 1
    for s, e in ((crashk[0], lo - 1), (hi + 1, crashk[1])):
        if e - s + 1 >= PAGE:
            e820.append((s, e, 1))
    if era.segment_lines == "table":
        debug.append(f"kexec_file: nr_segments = {len(segs)}")
        debug += [f"kexec_file: segment[{i}]: bufsz={s.bufsz:#x} mem={s.mem:#x} memsz={s.memsz:#x}" for i, s in enumerate(segs)]
    else:
        debug += [f"kexec_file: Loading segment {i}: bufsz={s.bufsz:#x} mem={s.mem:#x} memsz={s.memsz:#x}" for i, s in enumerate(segs)]
    return FileLoad(segs, e820, cmdline, debug)
