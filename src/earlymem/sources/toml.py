"""A machine description in TOML (docs/machine-toml.md) as a :class:`~earlymem.machine.Machine`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.units import U64_MAX, parse_size
from earlymem.lib.x86_64 import MAX_NUMNODES, MAX_PHYS_BITS, NR_CPUS
from earlymem.lib.version import parse_version
from earlymem.machine import CpuAffinity, Machine, NumaAffinity
from earlymem.machine.e820 import E820Entry, E820Type, type_from_iomem_name
from earlymem.sources.dmesg import label_to_type
from earlymem.sources.text import read_toml

__all__ = ["machine_from_toml", "machine_from_dict", "toml_number", "TYPE_NAMES"]


def machine_from_toml(path: str | Path) -> Machine:
    """Read a machine description (docs/machine-toml.md).

    :raises InputError: naming the file and the field for any bad value.
    """
    return machine_from_dict(read_toml(path), str(path))


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
    if end > 1 << MAX_PHYS_BITS:
        raise InputError(f"range ends past 2^{MAX_PHYS_BITS}, the widest physical address an x86_64 CPU has",
                         source=name, field=where)
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
        node = _node(item["node"], name, f"{where}.node")
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
    if isinstance(data.get("cpus"), list) and len(data["cpus"]) > NR_CPUS:
        raise InputError(f"{len(data['cpus'])} CPUs: more than NR_CPUS ({NR_CPUS}) allows", source=name, field="cpus")
    for i, item in enumerate(data.get("cpus", [])):
        where = f"cpus[{i}]"
        if not isinstance(item, dict) or "apic" not in item or "node" not in item:
            raise InputError("expected a table with 'apic' and 'node'", source=name, field=where)
        apic = toml_number(item["apic"], name, f"{where}.apic")
        if apic > 0xFFFFFFFF:
            raise InputError(f"APIC id {apic:#x} does not fit in 32 bits", source=name, field=f"{where}.apic")
        node = _node(item["node"], name, f"{where}.node")
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
                   command_line_at=(name, None, "command_line"),
                   acpi_tables=tuple(tables) if tables is not None else None, ioapics=ioapics)


def _node(value: Any, name: str, fieldname: str) -> int:
    """A NUMA node id, below MAX_NUMNODES (no x86_64 kernel knows more)."""
    node = toml_number(value, name, fieldname)
    if node >= MAX_NUMNODES:
        raise InputError(f"node {node}: x86_64 kernels know at most MAX_NUMNODES = {MAX_NUMNODES} nodes "
                         "(CONFIG_NODES_SHIFT <= 10, arch/x86/Kconfig)", source=name, field=fieldname)
    return node
