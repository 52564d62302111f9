"""The memory part of /proc/iomem as a 5.x-7.x x86_64 kernel shows it.

``e820__reserve_resources()`` (arch/x86/kernel/e820.c) makes one resource per
entry of the kernel's e820 table, named by ``e820_type_to_string()``;
``setup_arch()`` nests the kernel image (``Kernel code``, ``rodata``,
``data``, ``bss``) and ``reserve_crashkernel()`` the ``Crash kernel``
regions under their System RAM entry.  Lines are kernel/resource.c
``r_show()``'s: two spaces per level, addresses ``%0*llx`` at width 8.

Not predicted (left out, not guessed): device resources (PCI windows and
BARs, IOAPIC, HPET, Local APIC), the legacy ROMs ``probe_roms()`` finds, and
ACPI/PNP claims.
"""

from __future__ import annotations

from earlymem.machine.e820 import E820Entry, E820Type

__all__ = ["iomem_lines", "child_line", "IOMEM_NAMES"]

#: e820_type_to_string(), v5.x-7.x.
IOMEM_NAMES = {
    E820Type.RAM: "System RAM",
    E820Type.RESERVED_KERN: "System RAM",
    E820Type.ACPI: "ACPI Tables",
    E820Type.NVS: "ACPI Non-volatile Storage",
    E820Type.UNUSABLE: "Unusable memory",
    E820Type.PRAM: "Persistent Memory (legacy)",
    E820Type.PMEM: "Persistent Memory",
    E820Type.SOFT_RESERVED: "Soft Reserved",
    E820Type.RESERVED: "Reserved",
}


def child_line(name: str, start: int, end: int) -> str:
    """A resource one level under a top-level one (``r_show()``: two spaces, width 8, end inclusive)."""
    return f"  {start:08x}-{end - 1:08x} : {name}"


def iomem_lines(e820: list[E820Entry], children: list[tuple[str, int, int]]) -> list[str]:
    """Top-level e820 resources, each System RAM one with the ``children``
    (``(name, start, end)`` half-open) that lie inside it, in address order."""
    out: list[str] = []
    for e in sorted((e for e in e820 if e.size), key=lambda e: e.addr):
        end = e.addr + e.size
        out.append(f"{e.addr:08x}-{end - 1:08x} : {IOMEM_NAMES.get(e.type, 'Unknown E820 type')}")
        if IOMEM_NAMES.get(e.type) != "System RAM":
            continue
        for name, a, b in sorted(children, key=lambda c: c[1]):
            if e.addr <= a and b <= end:
                out.append(child_line(name, a, b))
    return out
