"""``Machine``: what the firmware, the boot loader and the command line hand the kernel.

Plain data, built from a boot log (only its input facts), from /proc and /sys
files of a running system, or from a TOML file (schema: docs/machine-toml.md).
Nothing in a Machine is a decision the kernel made; predictions start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from earlymem.cmdline import CommandLine
from earlymem.e820 import E820Entry, E820Type, type_from_iomem_name
from earlymem.errors import InputError
from earlymem.kernels import KernelVersion, parse_version
from earlymem.ranges import Range
from earlymem.sources.dmesg import BootLog, label_to_type
from earlymem.units import U64_MAX, parse_size

__all__ = ["Machine", "NumaAffinity", "CpuAffinity", "TYPE_NAMES", "machine_from_dict", "toml_number"]


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
    #: what the kernel frees of its image after boot, from --kernel's section headers (earlymem.frees)
    image_frees: dict[str, int] = field(default_factory=dict)
    cpus: list[CpuAffinity] = field(default_factory=list)
    boot_apic: int | None = None
    acpi_tables: tuple[str, ...] | None = None
    ioapics: int | None = None

    # -- builders -------------------------------------------------------------------

    @classmethod
    def from_boot_log(cls, log: BootLog) -> "Machine":
        """Take only the input facts of a boot log (see README, 'input facts').

        :raises InputError: if the log has no BIOS-provided map.
        """
        fw = log.firmware
        if fw is None:
            raise InputError("no 'BIOS-provided physical RAM map' (BIOS-e820 lines) in this boot", source=log.source, line=log.first_lineno)
        try:
            version = parse_version(log.version) if log.version else None
        except InputError as exc:
            raise exc.located(source=log.source, line=log.version_lineno)
        cpus = [CpuAffinity(c.apic, c.node, c.pxm) for c in log.srat_cpus]
        if not cpus and not log.srat and log.possible_cpus:
            # no SRAT: every CPU is node 0's; their APIC ids only number them
            cpus = [CpuAffinity(i, 0, 0) for i in range(log.possible_cpus)]
        return cls(
            e820=fw.entries,
            command_line=CommandLine(log.command_line or ""),
            kernel_version=version,
            numa=[NumaAffinity(s.node, s.pxm, s.range, s.hotplug, s.non_volatile) for s in log.srat],
            initrd=log.ramdisk,
            rsdp=log.rsdp,
            source=log.source,
            cpus=cpus,
            boot_apic=cpus[0].apic if cpus else None,
            acpi_tables=tuple(log.acpi_tables) or None,
            ioapics=len(log.ioapics) or None,
        )

    @classmethod
    def from_proc(cls, root: str | Path = "/") -> "Machine":
        """Read a running system (or a copy of its files under ``root``).

        Uses ``sys/firmware/memmap`` for the firmware map (falling back to the
        top level of ``proc/iomem``), ``proc/cmdline`` and ``proc/sys/kernel/osrelease``.
        """
        from earlymem.sources.iomem import iomem_e820, read_firmware_memmap, read_iomem

        base = Path(root)
        memmap = base / "sys/firmware/memmap"
        if memmap.is_dir():
            e820 = read_firmware_memmap(memmap)
        else:
            e820 = iomem_e820(read_iomem(base / "proc/iomem"))
        cmd = _read_optional(base / "proc/cmdline")
        rel = _read_optional(base / "proc/sys/kernel/osrelease")
        return cls(
            e820=e820,
            command_line=CommandLine(cmd or ""),
            kernel_version=parse_version(rel) if rel else None,
            source=str(base),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> "Machine":
        """Read a machine description (docs/machine-toml.md).

        :raises InputError: naming the file and the field for any bad value.
        """
        from earlymem.sources.text import read_toml

        return machine_from_dict(read_toml(path), str(path))


def _read_optional(p: Path) -> str | None:
    try:
        return p.read_text().strip()
    except OSError:
        return None


#: Names accepted for e820 types in TOML (and their canonical spelling).
TYPE_NAMES: dict[str, int] = {
    "usable": E820Type.RAM,
    "ram": E820Type.RAM,
    "reserved": E820Type.RESERVED,
    "acpi": E820Type.ACPI,
    "acpi-data": E820Type.ACPI,
    "nvs": E820Type.NVS,
    "acpi-nvs": E820Type.NVS,
    "unusable": E820Type.UNUSABLE,
    "pmem": E820Type.PMEM,
    "pram": E820Type.PRAM,
    "soft-reserved": E820Type.SOFT_RESERVED,
}

_KNOWN_KEYS = {"kernel_version", "command_line", "rsdp", "e820", "numa", "kernel_image", "initrd", "cpus", "boot_apic", "acpi_tables", "ioapics"}


def toml_number(value: Any, name: str, fieldname: str) -> int:
    """A TOML integer or memparse size string, 0 .. 2^64-1.  :raises InputError: naming ``fieldname``."""
    if isinstance(value, bool):
        raise InputError(f"expected a number or size, got {value!r}", source=name, field=fieldname)
    if isinstance(value, int):
        if not 0 <= value <= U64_MAX:
            raise InputError(f"{value} is outside 0 .. 2^64-1", source=name, field=fieldname)
        return value
    if isinstance(value, str):
        try:
            return parse_size(value, what="value")
        except InputError as exc:
            raise exc.located(source=name, field=fieldname)
    raise InputError(f"expected a number or size, got {type(value).__name__}", source=name, field=fieldname)


def _range(item: dict, name: str, where: str) -> Range:
    if "start" not in item:
        raise InputError("missing 'start'", source=name, field=where)
    start = toml_number(item["start"], name, f"{where}.start")
    given = [k for k in ("size", "end", "last") if k in item]
    if len(given) != 1:
        raise InputError("give exactly one of 'size', 'end' (exclusive) or 'last' (inclusive)", source=name, field=where)
    k = given[0]
    v = toml_number(item[k], name, f"{where}.{k}")
    end = start + v if k == "size" else (v if k == "end" else v + 1)
    if end <= start:
        raise InputError(f"empty or negative range (start {start:#x}, {k} {v:#x})", source=name, field=where)
    if end - 1 > U64_MAX:
        raise InputError("range extends past 2^64", source=name, field=where)
    return Range(start, end)


def _e820_type(value: Any, name: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 0xFFFFFFFF:
            raise InputError(f"type {value} is not a u32 e820 type", source=name, field=where)
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "-").replace("_", "-")
        if key in TYPE_NAMES:
            return int(TYPE_NAMES[key])
        t = label_to_type(value) or type_from_iomem_name(value)
        if t is not None:
            return int(t)
    raise InputError(f"unknown e820 type {value!r} (use {', '.join(TYPE_NAMES)} or a number)", source=name, field=where)


def machine_from_dict(data: dict, name: str) -> Machine:
    """A Machine from parsed TOML (docs/machine-toml.md); ``name`` is the file, for errors."""
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}", source=name, field=unknown[0])
    entries = data.get("e820")
    if not isinstance(entries, list) or not entries:
        raise InputError("missing or empty [[e820]] list", source=name, field="e820")
    e820 = []
    for i, item in enumerate(entries):
        where = f"e820[{i}]"
        if not isinstance(item, dict):
            raise InputError("expected a table", source=name, field=where)
        r = _range(item, name, where)
        if "type" not in item:
            raise InputError("missing 'type'", source=name, field=where)
        e820.append(E820Entry(r.start, r.size, _e820_type(item["type"], name, f"{where}.type")))
    numa = []
    for i, item in enumerate(data.get("numa", [])):
        where = f"numa[{i}]"
        if not isinstance(item, dict) or "node" not in item:
            raise InputError("expected a table with 'node', 'start' and a size", source=name, field=where)
        node = toml_number(item["node"], name, f"{where}.node")
        pxm = toml_number(item.get("pxm", node), name, f"{where}.pxm")
        numa.append(NumaAffinity(node, pxm, _range(item, name, where), bool(item.get("hotplug", False)), bool(item.get("non_volatile", False))))
    version = data.get("kernel_version")
    if version is not None and not isinstance(version, str):
        raise InputError("expected a string such as \"6.1\"", source=name, field="kernel_version")
    try:
        kv = parse_version(version) if version else None
    except InputError as exc:
        raise exc.located(source=name, field="kernel_version")
    cmd = data.get("command_line", "")
    if not isinstance(cmd, str):
        raise InputError("expected a string", source=name, field="command_line")
    image = _range(data["kernel_image"], name, "kernel_image") if "kernel_image" in data else None
    initrd = _range(data["initrd"], name, "initrd") if "initrd" in data else None
    rsdp = toml_number(data["rsdp"], name, "rsdp") if "rsdp" in data else None
    cpus = []
    for i, item in enumerate(data.get("cpus", [])):
        where = f"cpus[{i}]"
        if not isinstance(item, dict) or "apic" not in item or "node" not in item:
            raise InputError("expected a table with 'apic' and 'node'", source=name, field=where)
        apic = toml_number(item["apic"], name, f"{where}.apic")
        if apic > 0xFFFFFFFF:
            raise InputError(f"APIC id {apic:#x} does not fit in 32 bits", source=name, field=f"{where}.apic")
        node = toml_number(item["node"], name, f"{where}.node")
        cpus.append(CpuAffinity(apic, node, toml_number(item.get("pxm", node), name, f"{where}.pxm")))
    boot_apic = toml_number(data["boot_apic"], name, "boot_apic") if "boot_apic" in data else (cpus[0].apic if cpus else None)
    if cpus and boot_apic not in {c.apic for c in cpus}:
        raise InputError(f"APIC id {boot_apic:#x} is not among [[cpus]]", source=name, field="boot_apic")
    tables = data.get("acpi_tables")
    if tables is not None and (not isinstance(tables, list) or not all(isinstance(t, str) and len(t) == 4 for t in tables)):
        raise InputError("expected a list of 4-character table signatures such as \"HPET\"", source=name, field="acpi_tables")
    ioapics = toml_number(data["ioapics"], name, "ioapics") if "ioapics" in data else None
    if ioapics is not None and ioapics > 128:  # MAX_IO_APICS
        raise InputError("at most 128 I/O APICs (MAX_IO_APICS)", source=name, field="ioapics")
    return Machine(e820, CommandLine(cmd), kv, numa, image, initrd, rsdp, name, cpus=cpus, boot_apic=boot_apic,
                   acpi_tables=tuple(tables) if tables is not None else None, ioapics=ioapics)
