"""``BootResult``: one boot, as typed data, from the firmware map to the hand-off and after.

:func:`earlymem.boot` fills it; renderers (:mod:`earlymem.render`) turn it into
the kernel's text or into JSON (``to_json()``, schema ``earlymem/boot/2``,
docs/json-schema.md); kexec (:mod:`earlymem.kexec`) reads it, never text.
Nothing here is mutable: a later stage takes a result and returns its own.

Addresses are physical and ranges half-open ``[start, end)`` in bytes;
``*_pfn`` fields are page frame numbers (4 KiB pages).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from earlymem.lib.errors import Panic  # (the phases raise it; re-exported with the result types)

__all__ = ["SCHEMA", "LINE_FAMILIES", "Line", "E820Range", "MemblockRegion", "Allocation", "CrashRegion", "NumaNode",
           "Zone", "Free", "LedgerPhase", "NotPredicted", "IomemResource", "Panic", "BootResult", "Verdict", "to_json_value"]

#: The JSON schema of :meth:`BootResult.to_json` (docs/json-schema.md); bumped on any incompatible change.
SCHEMA = "earlymem/boot/2"

#: Families of kernel log lines a boot prints, in the order a boot prints their first line.
LINE_FAMILIES = {
    "e820": "BIOS-provided physical RAM map",
    "e820-edit": "e820: update/remove lines of mem=/memmap= (KERN_DEBUG)",
    "early-param": "Malformed early option and other early-parameter warnings",
    "user-map": "user-defined physical RAM map",
    "numa": "NUMA: and NODE_DATA lines",
    "crashkernel": "crashkernel reservation lines",
    "zones": "Zone ranges and Movable zone lines",
    "node-ranges": "Early memory node ranges",
    "panic": "Kernel panic - not syncing: where the kernel would panic on this input",
    "initmem": "Initmem setup node lines",
    "nosave": "Registered nosave memory lines (hibernation)",
    "percpu": "percpu: Embedded line",
    "hash": "Dentry cache and Inode-cache hash table lines",
    "swiotlb": "software IO TLB lines",
    "frees": "Freeing ... memory lines",
    # the bootmem (2.6.23-2.6.33) and 2.6.37 boots: their kernel lines, and earlymem's account of silent steps
    "bootmem": "Bootmem setup node, NODE_DATA and bootmap lines (2.6.2x)",
    "reserve": "an early reservation (earlymem's account)",
    "initrd": "initrd lines of the 2.6.2x setup_arch()",
    "mem_map": "a node's mem_map (earlymem's account)",
    "free_all": "what free_all_bootmem_core() hands over (earlymem's account)",
    "page tables": "the direct mapping's page tables (earlymem's account)",
}


class Verdict(str, enum.Enum):
    """Machine-readable outcomes (the sentence beside them is for people)."""

    CORRUPTION = "corruption"
    LATENT_CORRUPTION = "latent_corruption"
    SAFE = "safe"
    SAFE_NO_KDUMP = "safe_no_kdump"
    NO_KDUMP = "no_kdump"
    NO_CRASH_REGION = "no_crash_region"


@dataclass(frozen=True)
class Line:
    """One step of a boot's timeline: a line the kernel prints (its text, no
    timestamp), its family, and the phase (kernel function) that printed it.
    ``printed`` is False for earlymem's own account of a step the kernel does
    silently (the bootmem-era replay shows them), with its numbers in ``data``."""

    family: str
    text: str
    phase: str
    printed: bool = True
    data: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class E820Range:
    start: int
    end: int
    type: int
    #: the era's printed label, stripped: "usable", "System RAM" (7.x), "(usable)" (2.6)
    label: str


@dataclass(frozen=True)
class MemblockRegion:
    start: int
    end: int
    nid: int
    flags: int = 0


@dataclass(frozen=True)
class Allocation:
    """An early reservation or allocation: what it is for, where, and which phase made it."""

    purpose: str
    start: int
    size: int
    phase: str

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class CrashRegion:
    """A reserved crash region (``Crash kernel`` in /proc/iomem); ``low`` for crashkernel=...,low's."""

    start: int
    end: int
    low: bool = False


@dataclass(frozen=True)
class NumaNode:
    nid: int
    #: memory ranges (memblock.memory regions of the node)
    memory: tuple[tuple[int, int], ...]
    #: physical address of its pg_data_t, None when not placed (or not predicted)
    node_data: int | None = None


@dataclass(frozen=True)
class Zone:
    """One zone of one online node, at the hand-off and after boot.

    ``managed`` is what /proc/zoneinfo shows after boot (the hand-off plus what
    the kernel gave back); ``free_lists`` the free blocks per order right after
    memblock_free_all() (/proc/buddyinfo's columns).  None: not predicted.
    """

    nid: int
    name: str
    start_pfn: int
    spanned: int
    present: int
    managed_at_handoff: int | None = None
    managed: int | None = None
    free_lists: tuple[int, ...] | None = None
    min: int | None = None
    low: int | None = None
    high: int | None = None
    promo: int | None = None
    protection: tuple[int, ...] | None = None
    #: the least ``managed`` can be when memory the input does not locate may be
    #: reserved in the zone (a 7.x UEFI boot's setup_data nodes); None: no such memory
    managed_low: int | None = None

    @property
    def free_pages(self) -> int | None:
        return None if self.free_lists is None else sum(c << o for o, c in enumerate(self.free_lists))


@dataclass(frozen=True)
class Free:
    """What the kernel gives back after the hand-off (``Freeing <what> memory: <pages*4>K``)."""

    what: str
    pages: int
    at: int


@dataclass(frozen=True)
class LedgerPhase:
    """Every page frame's owner in one phase: ``(start_pfn, end_pfn, owner)`` runs covering [0, end_pfn)."""

    name: str
    owners: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class IomemResource:
    """A /proc/iomem line: ``depth`` 0 for e820 resources, 1 for what nests in System RAM."""

    start: int
    end: int
    name: str
    depth: int = 0


@dataclass(frozen=True)
class NotPredicted:
    """A family (or fact) the boot does not predict, and why."""

    what: str
    reason: str


@dataclass(frozen=True)
class BootResult:
    """One boot of one machine under one kernel profile (and build).

    :param era: the profile's name (its first release); ``pipeline`` which phases ran
        ("modern", "memblock-2.6.37", "bootmem", or "e820" where only the e820 phase is modelled).
    :param build: the kernel build whose facts were used (None: none known).
    :param kernel_image: ``(start, end)`` of ``[_text, _end)``; None: unknown.
    :param firmware_e820: the map the kernel printed as BIOS-e820 (sanitized).
    :param user_e820: the user-defined map (mem=/memmap=), None if not printed.
    :param e820: the kernel's table when memblock is set up (after e820_add_kernel_range()
        and trim_bios_range()).
    :param memory, reserved: memblock's arrays at the hand-off (memblock_free_all()).
    :param allocations: every early reservation and allocation with its purpose, in kernel order.
    :param crash: the reserved crash regions (empty when none was asked for or it failed).
    :param crash_predicted: whether the crashkernel outcome is predicted.
    :param zones: every zone of every online node.
    :param min_free_kbytes: as the initcalls set it.
    :param frees: what the kernel gives back after the hand-off, in print order.
    :param ledger: the page ledger's phases (firmware, early allocator, buddy), checked.
    :param lines: what the boot prints, in kernel order.
    :param iomem: the memory part of /proc/iomem.
    :param assumptions: what was assumed, in words.
    :param not_predicted: what is not predicted, and why.
    :param panic: where the kernel panics (its lines stop there), None when it boots.
    """

    era: str
    pipeline: str
    kernel_version: str | None
    build: str | None
    source: str
    command_line: str
    kernel_image: tuple[int, int] | None
    firmware_e820: tuple[E820Range, ...]
    user_e820: tuple[E820Range, ...] | None
    e820: tuple[E820Range, ...]
    #: one past the last RAM page frame (e820__end_of_ram_pfn()); None where not modelled
    max_pfn: int | None
    memory: tuple[MemblockRegion, ...] = ()
    reserved: tuple[MemblockRegion, ...] = ()
    allocations: tuple[Allocation, ...] = ()
    crash: tuple[CrashRegion, ...] = ()
    crash_predicted: bool = False
    #: the region crashkernel= asked for at a fixed base that could not be reserved, if any
    crash_requested: tuple[int, int] | None = None
    #: when the crash region is not predicted but bounded (a UEFI boot without its EFI map):
    #: ``(size, window start, window end, highest base or None)`` per window it may be
    #: reserved in (earlymem.phases.crashkernel.crash_ceilings()); empty: no bound
    crash_ceilings: tuple[tuple[int, int, int, int | None], ...] = ()
    nodes: tuple[NumaNode, ...] = ()
    zones: tuple[Zone, ...] = ()
    min_free_kbytes: int | None = None
    frees: tuple[Free, ...] | None = None
    ledger: tuple[LedgerPhase, ...] = ()
    lines: tuple[Line, ...] = ()
    iomem: tuple[IomemResource, ...] = ()
    assumptions: tuple[str, ...] = ()
    not_predicted: tuple[NotPredicted, ...] = ()
    #: free pfn runs handed to the page allocator, in the order the early allocator freed them
    #: (the 2.6.2x free lists depend on it); ``(start_pfn, end_pfn)``
    freed_runs: tuple[tuple[int, int], ...] = ()
    #: memblock's calls ``(kind, base, size)`` in call order, as memblock=debug prints them,
    #: and after each reserve and free ``("count", regions, capacity)`` of memblock.reserved
    #: (``("double", regions, capacity)`` where the array is doubled), and before each range
    #: init_range_memory_mapping() maps ``("map", start, size)`` and ``("brk used", used, size)``
    #: of the page-table brk buffer; kept only when
    #: ``Memblock.TRACE`` is on (tools/memblock_trace.py, earlymem.kaslr)
    memblock_trace: tuple[tuple[str, int, int], ...] | None = None
    panic: Panic | None = None

    schema: str = field(default=SCHEMA)

    def without_kernel_resources(self) -> "BootResult":
        """This boot with the image's iomem resources (Kernel code/rodata/data/bss) left out:
        under KASLR they move with the place, which one boot does not stand for."""
        kept = tuple(r for r in self.iomem if not r.name.startswith("Kernel "))
        what = "iomem Kernel code/rodata/data/bss"
        if not self.predicted(what):
            return dataclasses.replace(self, iomem=kept)
        why = NotPredicted(what, "KASLR draws the kernel's place at boot: give --kernel-at ADDR")
        return dataclasses.replace(self, iomem=kept, not_predicted=(*self.not_predicted, why))

    # -- views ----------------------------------------------------------------

    def lines_of(self, *families: str) -> list[str]:
        """The text of the kernel lines of ``families``, in kernel order."""
        return [ln.text for ln in self.lines if ln.printed and ln.family in families]

    def dmesg(self) -> list[str]:
        """Every predicted kernel line, in order."""
        return [ln.text for ln in self.lines if ln.printed]

    def predicted(self, what: str) -> bool:
        return not any(n.what == what for n in self.not_predicted)

    def why_not(self, what: str) -> str | None:
        return next((n.reason for n in self.not_predicted if n.what == what), None)

    def to_json(self) -> dict:
        """The result as JSON-ready data (schema ``earlymem/boot/2``: docs/json-schema.md)."""
        return to_json_value(self)


def to_json_value(value):
    """Frozen dataclasses, enums, tuples and dicts as JSON values (field names kept)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value
