"""The memory part of /proc/iomem as a 5.x-7.x x86_64 kernel shows it (the resources:
earlymem.phases.paging_init.iomem_resources()).

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

__all__ = ["iomem_text", "child_line"]

def child_line(name: str, start: int, end: int) -> str:
    """A resource one level under a top-level one (``r_show()``: two spaces, width 8, end inclusive)."""
    return f"  {start:08x}-{end - 1:08x} : {name}"


def iomem_text(resources) -> list[str]:
    """``r_show()``'s lines for :class:`earlymem.result.IomemResource` entries, in order."""
    return [f"{'  ' * r.depth}{r.start:08x}-{r.end - 1:08x} : {r.name}" for r in resources]
