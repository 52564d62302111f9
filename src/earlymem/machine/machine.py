"""``Machine``: what the firmware, the boot loader and the command line hand the kernel.

Plain data; the readers in :mod:`earlymem.sources` build it from a boot log
(only its input facts), from /proc and /sys files of a running system, or from
a TOML file (schema: docs/machine-toml.md).
Nothing in a Machine is a decision the kernel made; predictions start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.lib.cmdline import CommandLine
from earlymem.lib.ranges import Range
from earlymem.lib.version import KernelVersion
from earlymem.machine.e820 import E820Entry

__all__ = ["Machine", "NumaAffinity", "CpuAffinity"]


@dataclass(frozen=True)
class NumaAffinity:
    """An ACPI SRAT memory affinity: ``range`` belongs to proximity domain ``pxm`` (node ``node``)."""

    node: int
    pxm: int
    range: Range
    hotplug: bool = False
    non_volatile: bool = False


@dataclass(frozen=True)
class CpuAffinity:
    """An ACPI SRAT processor affinity: the CPU with (x2)APIC id ``apic`` is in node ``node``."""

    apic: int
    node: int
    pxm: int


@dataclass(frozen=True)
class Machine:
    """The input facts of one boot.

    :param e820: the firmware map as the kernel printed it (BIOS-e820), in order.
    :param command_line: the kernel command line.
    :param kernel_version: the kernel release, if known.
    :param numa: SRAT memory affinity ranges.
    :param kernel_image: physical ``[start, end)`` of the kernel image, if the machine
        description fixes it (else the build's facts place it: earlymem.phases.image).
    :param initrd: physical range of the initrd (``RAMDISK: [mem ...]``).
    :param rsdp: physical address of the ACPI RSDP.
    :param cpus: SRAT processor affinities, in the firmware's order (taken as
        the MADT's order too: the kernel numbers CPUs in that order); from a
        log without SRAT, the possible CPUs its ``Allowing N CPUs`` line
        counts, all on node 0.
    :param boot_apic: APIC id of the CPU the kernel boots on (the first
        listed, unless this is a kdump kernel booted by the CPU that crashed);
        None: unknown.
    :param acpi_tables: signatures of the ACPI tables; None: unknown.
    :param ioapics: how many I/O APICs the MADT lists; None: unknown.
    :param source: where the facts came from.
    """

    e820: list[E820Entry]
    command_line: CommandLine = field(default_factory=lambda: CommandLine(""))
    kernel_version: KernelVersion | None = None
    numa: list[NumaAffinity] = field(default_factory=list)
    kernel_image: Range | None = None
    initrd: Range | None = None
    rsdp: int | None = None
    source: str = "<machine>"
    #: where the boot loader put a relocatable kernel that runs where it lies
    #: (kexec's capture kernel); None: the kernel's own load address, or KASLR's choice.
    kernel_load_addr: int | None = None
    #: the whole ``Linux version ...`` banner of a boot log (it names the build).
    kernel_banner: str | None = None
    #: the map is one the kernel already sanitized and printed (a log's BIOS-e820
    #: lines, /sys/firmware/memmap), not a raw one the loader passes (TOML, kexec)
    e820_printed: bool = False
    #: the ``who`` the firmware map is printed with (``BIOS-e820``; a log's own)
    e820_who: str = "BIOS-e820"
    #: where the command line came from, to blame for a bad parameter: ``(source, line, field)``
    command_line_at: tuple[str | None, int | None, str | None] | None = None
    cpus: list[CpuAffinity] = field(default_factory=list)
    boot_apic: int | None = None
    acpi_tables: tuple[str, ...] | None = None
    ioapics: int | None = None
    #: a UEFI boot: ``(source, line, evidence)`` (the log's ``efi: EFI v...`` banner, a
    #: /sys/firmware/efi directory); None: a BIOS boot, or not known to be UEFI
    efi_boot: tuple[str | None, int | None, str] | None = None
    #: the EFI memory map at ExitBootServices() (efi=debug's ``efi: memNN:`` lines):
    #: ``(type name, attribute columns, range)``; None: not known
    efi_map: tuple[tuple[str, str, Range], ...] | None = None
    #: setup_data nodes the loader passed (a log's "usable ==> usable" updates), physical ranges
    setup_data: tuple[Range, ...] = ()
    #: the EFI memory attributes table: ``(address, entries)`` (the log's ``MEMATTR=`` and its
    #: efi=debug ``efi: memattr:`` lines; entries 0 when they are not in the log); None: none known
    efi_memattr: tuple[int, int] | None = None
    #: efi_mem_reserve() calls after the crash region was reserved (the BGRT image, ...), as
    #: the page ranges efi_arch_mem_reserve() turned reserved in the e820 table
    #: (``e820: update [mem a-b] usable ==> reserved`` inside an EFI Boot Data range)
    efi_mem_reserves: tuple[Range, ...] = ()
    #: descriptors in the running kernel's EFI runtime map (efi.memmap after
    #: SetVirtualAddressMap(), /sys/firmware/efi/runtime-map): efi=debug's ``efi: EFI runtime
    #: memory map:`` lines; None: not known.  kexec-tools passes it to a kexec'd kernel.
    efi_runtime_map: int | None = None
    #: EFI MMIO ranges efi_remove_e820_mmio() took out of e820_table (``efi: Remove memNN: MMIO ...``)
    efi_mmio_removed: tuple[Range, ...] = ()
    #: where an early efi_mem_reserve() (efi_esrt_init(): ``esrt: Reserving ESRT space``) shows
    efi_early_reserve_at: tuple[str | None, int | None, str] | None = None
    #: the system's DMI name as the kernel printed it (``QEMU Standard PC (i440FX + PIIX, 1996)``);
    #: None: not known.  The capture kernel probes the same devices, beside its unpack
    dmi: str | None = None
    #: the crash regions a running system's /proc/iomem shows (``Crash kernel``),
    #: None when the input has no /proc/iomem; facts kexec-tools itself reads
    crash_observed: tuple[Range, ...] | None = None
    #: the page-table pages the CPU entry areas take when KASLR scattered them (6.2+:
    #: init_cea_offsets()); None: the most probable count (earlymem.kaslr enumerates them)
    cea_pages: int | None = None
    #: where the kernel's place came from when it is a fact: ``(source, line, what)``
    kernel_at_from: tuple[str | None, int | None, str] | None = None
    #: physical addresses of the page-table pages taken from the image's .brk (3.x-4.x
    #: logs' ``BRK [...] PGTABLE`` lines): where the image ends, roughly
    brk_pages: tuple[int, ...] = ()
    #: 2.6.3x logs: the early reservations handed to bootmem (``#N [a - b] NAME``), end exclusive,
    #: and the bootmem bitmaps (``bootmap [...]``)
    early_res: tuple[tuple[Range, str], ...] = ()
    bootmaps: tuple[Range, ...] = ()
