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


@dataclass
class Machine:
    """The input facts of one boot.

    :param e820: the firmware map as the kernel printed it (BIOS-e820), in order.
    :param command_line: the kernel command line.
    :param kernel_version: the kernel release, if known.
    :param numa: SRAT memory affinity ranges.
    :param kernel_image: physical ``[start, end)`` of the kernel image, if known.
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
    #: sizeof() of the structs early allocations depend on, from the kernel's BTF.
    struct_sizes: dict[str, int] = field(default_factory=dict)
    #: ``(name, start, end)`` of Kernel code/rodata/data/bss, from the kernel image.
    kernel_resources: list[tuple[str, int, int]] = field(default_factory=list)
    #: what early_reserve_memory() reserves of the image: ``[_text,
    #: __end_of_kernel_reserve)``; None: the whole kernel_image (or the
    #: Debian assumption).
    kernel_reserve: Range | None = None
    #: size of the image's .brk section, the end of kernel_reserve (from --kernel)
    kernel_brk_size: int | None = None
    #: what the kernel frees of its image after boot, from --kernel's section headers (earlymem.mm.frees)
    image_frees: dict[str, int] = field(default_factory=dict)
    cpus: list[CpuAffinity] = field(default_factory=list)
    boot_apic: int | None = None
    acpi_tables: tuple[str, ...] | None = None
    ioapics: int | None = None
