"""Boot logs: the kernel's own lines, read back into facts.

A boot log may come from ``dmesg``, a serial console, ``journalctl -k``,
``/var/log/messages`` or a mail archive.  Each line is stripped of what is not
the kernel's message -- terminal escapes and console noise before the first
timestamp, syslog/journal prefixes, ``dmesg -T`` dates, printk timestamps and
caller ids -- so that what remains is byte for byte what printk formatted
(including the leading space of 2.6-era `` BIOS-e820:`` lines).

Only the *input facts* are extracted here (banner, command line, e820 maps,
SRAT affinity, RAMDISK, RSDP); what the kernel decided from them is for the
predictor to reproduce.  A log with several boots (a first kernel and its
kdump kernel) is split at each ``Linux version`` banner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.units import U64_MAX
from earlymem.lib.version import parse_version
from earlymem.lib.x86_64 import E820_MAX_ENTRIES, MAX_NUMNODES, MAX_PHYS_BITS, NR_CPUS
from earlymem.machine import CpuAffinity, Machine, NumaAffinity
from earlymem.machine.e820 import E820Entry, E820Type
from earlymem.sources.text import read_text_lines

__all__ = ["machine_from_boot_log", 
    "E820Line",
    "E820Block",
    "SratAffinity",
    "SratCpu",
    "BootLog",
    "crash_cpu",
    "message_text",
    "read_boot_logs",
    "parse_boot_logs",
    "label_to_type",
]

_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|[@-Z\\-_])")
_TIMESTAMP = re.compile(r"\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? ?")
_SYSLOG = re.compile(
    r"^(?:[A-Z][a-z]{2,8}\s+\d{1,2}\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)?)"
    r"\s+\S+\s+kernel:\s?"
)
_DMESG_T = re.compile(r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] ?")
_LEVEL = re.compile(r"^<\d>")


def message_text(raw: str) -> str:
    """The kernel's message in one raw log line, without any prefix.

    >>> message_text("[    0.000000]  BIOS-e820: 0000000000000000 - 000000000009f800 (usable)")
    ' BIOS-e820: 0000000000000000 - 000000000009f800 (usable)'
    """
    line = _ANSI.sub("", raw)
    m = _SYSLOG.match(line)
    if m:
        line = line[m.end() :]
    m = _DMESG_T.match(line)
    if m:
        return line[m.end() :]
    line = _LEVEL.sub("", line)
    # Console noise (firmware output, terminal resets) can precede the first
    # timestamp on a serial line: the message starts after the timestamp.
    m = _TIMESTAMP.search(line)
    return line[m.end() :] if m else line


@dataclass(frozen=True)
class E820Line:
    """One printed e820 line: an entry, or (7.x) a ``[gap ...]`` line.

    :param lineno: 1-based line number in the file.
    :param text: the message exactly as printed.
    :param who: ``BIOS-e820``, ``user``, ``extended`` ...
    :param start: first byte.
    :param end: one past the last byte.
    :param type: e820 type (None for a gap line).
    :param style: ``legacy``, ``mem`` or ``gaps`` (see KernelProfile.e820.style).
    """

    lineno: int
    text: str
    who: str
    start: int
    end: int
    type: int | None
    style: str

    @property
    def is_gap(self) -> bool:
        return self.type is None

    def entry(self) -> E820Entry:
        assert self.type is not None
        return E820Entry(self.start, self.end - self.start, self.type)


@dataclass
class E820Block:
    """An e820 table as printed: its header line and its lines.

    :param kind: ``firmware`` (BIOS-provided), ``user``, ``extended`` or ``modified``.
    """

    kind: str
    header: str
    header_lineno: int
    lines: list[E820Line] = field(default_factory=list)

    @property
    def entries(self) -> list[E820Entry]:
        return [ln.entry() for ln in self.lines if not ln.is_gap]

    @property
    def style(self) -> str:
        styles = {ln.style for ln in self.lines}
        return "gaps" if "gaps" in styles else (styles.pop() if len(styles) == 1 else "mem")

    @property
    def who(self) -> str:
        return self.lines[0].who if self.lines else ""

    @property
    def header_prefix(self) -> str:
        return "e820: " if self.header.startswith("e820: ") else ""


@dataclass(frozen=True)
class SratAffinity:
    """``ACPI: SRAT: Node N PXM P [mem ...]``: a memory affinity range."""

    node: int
    pxm: int
    range: Range
    hotplug: bool
    non_volatile: bool
    lineno: int


@dataclass(frozen=True)
class SratCpu:
    """``SRAT: PXM P -> APIC 0xA -> Node N``: a processor (x2)APIC affinity."""

    pxm: int
    apic: int
    node: int
    lineno: int


@dataclass
class BootLog:
    """The input facts of one boot, read from a log.

    :param source: the file name.
    :param first_lineno: line where this boot's messages begin.
    """

    source: str
    first_lineno: int = 1
    #: the last line with text that belongs to this boot
    last_lineno: int = 0
    version: str | None = None
    version_lineno: int | None = None
    banner: str | None = None
    command_line: str | None = None
    command_line_lineno: int | None = None
    blocks: list[E820Block] = field(default_factory=list)
    srat: list[SratAffinity] = field(default_factory=list)
    #: processor affinities, in SRAT order (printed by 2.6.x to 6.1).
    srat_cpus: list[SratCpu] = field(default_factory=list)
    #: signatures of the ACPI tables listed at boot (``ACPI: HPET 0x...``), in order.
    acpi_tables: list[str] = field(default_factory=list)
    #: the I/O APICs the MADT listed (``IOAPIC[n]: apic_id ...`` lines), by index.
    ioapics: set[int] = field(default_factory=set)
    #: the system DMI names (``DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS ...``), without the BIOS
    dmi: str | None = None
    #: num_possible_cpus() as prefill_possible_map() / topology_init_possible_cpus() print it.
    possible_cpus: int | None = None
    ramdisk: Range | None = None
    #: the page-table pages the early kernel took from its .brk (``BRK [0x..., 0x...] PGTABLE``,
    #: 3.x-4.x): physical addresses inside the image, near its end
    brk_pages: list = field(default_factory=list)
    #: 2.6.3x early_res_to_bootmem(): the early reservations ``(start, end, name)`` of the first
    #: "(N early reservations) ==> bootmem" list, and the bootmem bitmaps (``bootmap [...]``)
    early_res: list = field(default_factory=list)
    early_res_done: bool = False
    bootmaps: list = field(default_factory=list)
    rsdp: int | None = None
    #: the ``efi: EFI v2.70 by EDK II`` banner of a UEFI boot (efi_systab_report_header()), and its line
    efi_banner: str | None = None
    efi_lineno: int | None = None
    #: setup_data nodes the loader passed, as e820__reserve_setup_data() shows them
    #: ("e820: update [mem a-b] usable ==> usable": RAM turned E820_TYPE_RESERVED_KERN)
    setup_data: list = field(default_factory=list)
    #: the EFI memory map efi=debug prints (efi_print_memmap()): ``(type name, attribute columns, range)``
    efi_map: list = field(default_factory=list)
    efi_map_done: bool = False
    #: entries of the runtime map efi=debug prints after SetVirtualAddressMap() (``efi: EFI
    #: runtime memory map:``): efi.memmap, which /sys/firmware/efi/runtime-map exports
    efi_runtime_entries: int = 0
    #: the EFI memory attributes table: its address (efi_config_parse_tables()' ``MEMATTR=``)
    #: and its entries (efi=debug's ``efi: memattr:`` lines, efi_memattr_apply_permissions())
    efi_memattr: int | None = None
    efi_memattr_entries: int = 0
    #: ranges e820__range_update() turned from RAM into reserved after the firmware map
    #: was printed (``e820: update [mem a-b] usable ==> reserved``), with their lines
    reserved_updates: list = field(default_factory=list)
    #: the ``esrt: Reserving ESRT space`` line (efi_esrt_init() -> efi_mem_reserve())
    esrt_lineno: int | None = None
    #: EFI MMIO ranges efi_remove_e820_mmio() took out of e820_table (``efi: Remove memNN: MMIO ...``)
    efi_mmio_removed: list = field(default_factory=list)
    #: the logical CPU that panicked with a crash kernel loaded (see :func:`crash_cpu`).
    crash_cpu: int | None = None

    def block(self, kind: str) -> E820Block | None:
        """The first printed table of ``kind`` (``firmware``, ``user`` ...)."""
        return next((b for b in self.blocks if b.kind == kind), None)

    @property
    def firmware(self) -> E820Block | None:
        return self.block("firmware")


_HEADERS = {
    "BIOS-provided physical RAM map:": "firmware",
    "user-defined physical RAM map:": "user",
    "extended physical RAM map:": "extended",
    "modified physical RAM map:": "modified",
}
_HEADER_RE = re.compile(r"^(?:e820: )?(" + "|".join(re.escape(h) for h in _HEADERS) + r")\s*$")

# The 'who' strings e820__print_table() is called with (e820.c, setup.c, mtrr/cleanup.c), and
# "Xen", what xen_memory_setup() (arch/x86/xen/setup.c) returns in a Xen PV domain.
_WHO = r"(?P<who>BIOS-e820|BIOS-88|BIOS-e801|user|extended|modified|reserve setup_data|mtrr|bad_ppro|Xen)"
_LEGACY_RE = re.compile(rf"^ {_WHO}: (?P<a>[0-9a-fA-F]+) - (?P<b>[0-9a-fA-F]+) (?P<label>.*)$")
_MEM_RE = re.compile(rf"^{_WHO}: \[(?P<kind>mem|gap) (?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\](?: (?P<label>.*))?$")
# Lines that claim to be e820 lines but may be garbled: checked strictly.
_LOOKS_E820 = re.compile(rf"^ ?{_WHO}: (?:\[(?:mem|gap)\b|[0-9a-fA-F]{{4,}} ?-)")

_SRAT_RE = re.compile(
    r"^(?:ACPI: )?SRAT: Node (?P<node>\d+) PXM (?P<pxm>\d+) \[mem (?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\]"
    r"(?P<flags>.*)$"
)
_SRAT_OLD_RE = re.compile(r"^SRAT: Node (?P<node>\d+) PXM (?P<pxm>\d+) (?P<a>[0-9a-fA-F]+)-(?P<b>[0-9a-fA-F]+)(?P<flags>.*)$")
# acpi_numa_processor_affinity_init() / acpi_numa_x2apic_affinity_init():
#: anything that starts like an SRAT line but is not one of the kernel's formats
_SRAT_ANY_RE = re.compile(r"^(?:ACPI: )?SRAT: (?:Node|PXM) -")


def _node(text: str, source: str, lineno: int) -> int:
    """A node id as the kernel prints it (%u), below MAX_NUMNODES."""
    node = int(text)
    if node >= MAX_NUMNODES:
        raise InputError(f"node {node}: x86_64 kernels know at most MAX_NUMNODES = {MAX_NUMNODES} nodes "
                         "(CONFIG_NODES_SHIFT <= 10, arch/x86/Kconfig)", source=source, line=lineno)
    return node


# "SRAT: PXM %u -> APIC 0x%02x -> Node %u" (0x%04x for x2APIC; 2.6.2x: %u).
_SRAT_CPU_RE = re.compile(r"^SRAT: PXM (?P<pxm>\d+) -> APIC (?P<apic>0x[0-9a-fA-F]+|\d+) -> Node (?P<node>\d+)$")
# acpi_tb_print_table_header(): "ACPI: HPET 0x00000000BFFE1ADF 000038 (v01 ..." (2.6: "ACPI: HPET BFFE1ADF, 0038 (r1 ...").
_ACPI_TABLE_RE = re.compile(r"^ACPI: (?P<sig>[A-Z0-9_]{4}) +(?:0x[0-9a-fA-F]+ [0-9a-fA-F]+ \(|[0-9a-fA-F]{8,16}, [0-9a-fA-F]{4} \()")
# dump_stack_print_info() on the panicking CPU: "CPU: 1 PID: 1 Comm: init Kdump: loaded ..."
# (6.10+: "CPU: 1 UID: 0 PID: 1 ...").
MAX_POSSIBLE_CPUS = NR_CPUS
_ALLOWING_RE = re.compile(r"^(?:smpboot: Allowing (?P<n>\d+) CPUs, \d+ hotplug CPUs"
                          r"|CPU topo: Allowing (?P<present>\d+) present CPUs plus (?P<hotplug>\d+) hotplug CPUs)$")
#: dmi_setup() → dmi_format_ids(): "DMI: <vendor> <product>/<board>, BIOS <version> <date>" (drivers/firmware/
#: dmi_scan.c); the other "DMI: " lines (7.x's "SMBIOS 2.8 present.", "Memory slots populated") have no BIOS part
_DMI_RE = re.compile(r"^DMI: (?P<system>.+?), BIOS .*$")
_IOAPIC_RE = re.compile(r"^IOAPIC\[(?P<idx>\d+)\]: apic_id \d+, version \d+, address 0x[0-9a-fA-F]+, GSI \d+-\d+$")
_CRASH_CPU_RE = re.compile(r"^CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: \d+ Comm: .* Kdump: loaded\b")
#: kernel/early_res.c early_res_to_bootmem() (2.6.3x): "  #%d [%010llx - %010llx] %16s" (and " ==> [...]")
_EARLY_RES_RE = re.compile(r"^\s*#(?P<n>\d+) \[(?P<a>[0-9a-fA-F]{10}) - (?P<b>[0-9a-fA-F]{10})\]\s+(?P<name>\S.*?)(?: ==> \[.*\])?$")
_EARLY_RES_HEAD_RE = re.compile(r"^\(\d+ early reservations\) ==> bootmem \[")
#: mm/bootmem.c / arch/x86/mm/numa_64.c setup_node_bootmem() (2.6.3x): "  bootmap [%016lx -  %016lx] pages %lx"
_BOOTMAP_RE = re.compile(r"^\s*bootmap \[(?P<a>[0-9a-fA-F]{16}) -\s+(?P<b>[0-9a-fA-F]{16})\] pages [0-9a-fA-F]+$")
#: arch/x86/mm/init.c alloc_low_pages() (3.x-4.x): "BRK [%#010lx, %#010lx] PGTABLE"
_BRK_RE = re.compile(r"^BRK \[(?P<a>0x[0-9a-fA-F]+), (?P<b>0x[0-9a-fA-F]+)\] PGTABLE$")
_RAMDISK_RE = re.compile(r"^RAMDISK: \[mem (?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\]")
_RAMDISK_OLD_RE = re.compile(r"^RAMDISK: (?P<a>[0-9a-fA-F]{8,16}) - (?P<b>[0-9a-fA-F]{8,16})$")
#: drivers/firmware/efi/efi.c efi_md_typeattr_format(): the type names efi=debug prints
EFI_TYPES = ("Reserved", "Loader Code", "Loader Data", "Boot Code", "Boot Data", "Runtime Code", "Runtime Data",
             "Conventional", "Unusable", "ACPI Reclaim", "ACPI Mem NVS", "MMIO", "MMIO Port", "PAL Code", "Persistent",
             "Unaccepted")
#: arch/x86/platform/efi/efi.c efi_print_memmap(): "mem%02u: %s range=[0x%016llx-0x%016llx] (%lluMB)", inclusive end
_EFI_MEM_RE = re.compile(r"^efi: mem\d+: \[(?P<type>[^|\]]+)\|(?P<attrs>[^\]]*)\] "
                         r"range=\[(?P<a>0x[0-9a-fA-F]{1,16})-(?P<b>0x[0-9a-fA-F]{1,16})\]")
#: 3.x copies (RHEL 7: halfline/rhel7@000b906e:arch/x86/platform/efi/efi.c print_efi_memmap(), printed on
#: every EFI boot): "mem%02u: type=%u, attr=0x%llx, range=[0x%016llx-0x%016llx) (%lluMB)", exclusive end
_EFI_MEM_OLD_RE = re.compile(r"^efi: mem\d+: type=(?P<type>\d+), attr=0x(?P<attr>[0-9a-fA-F]+), "
                             r"range=\[(?P<a>0x[0-9a-fA-F]{1,16})-(?P<b>0x[0-9a-fA-F]{1,16})\)")
#: arch/x86/kernel/e820.c e820__reserve_setup_data() -> e820__range_update(): a setup_data
#: node turned from RAM into E820_TYPE_RESERVED_KERN, which prints as "usable" (up to 6.12)
_SETUP_DATA_RE = re.compile(r"^e820: update \[mem (?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\] usable ==> usable$")
#: arch/x86/kernel/e820.c e820__range_update(): RAM turned reserved (5.x-6.x "usable ==>
#: reserved", 7.x "System RAM ==> device reserved"), e.g. by efi_arch_mem_reserve()
_RESERVED_UPDATE_RE = re.compile(r"^e820: update \[mem (?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\] "
                                 r"(usable|System RAM) ==> (reserved|device reserved)$")
#: drivers/firmware/efi/efi.c efi_config_parse_tables(): " MEMATTR=0x%lx" among the tables it found
_MEMATTR_RE = re.compile(r"^efi: .*\bMEMATTR=(?P<a>0x[0-9a-fA-F]{1,16})\b")
#: drivers/firmware/efi/memattr.c efi_memattr_apply_permissions(), efi=debug: one line per entry
_MEMATTR_ENTRY_RE = re.compile(r"^efi: memattr:  0x[0-9a-fA-F]+-0x[0-9a-fA-F]+ \[")
#: arch/x86/platform/efi/efi.c efi_remove_e820_mmio(): "Remove mem%02u: MMIO range=[0x%08llx-0x%08llx] (%lluMB) from e820 map"
_EFI_MMIO_REMOVE_RE = re.compile(r"^efi: Remove mem\d+: MMIO range=\[(?P<a>0x[0-9a-fA-F]+)-(?P<b>0x[0-9a-fA-F]+)\] "
                                 r"\(\d+MB\) from e820 map$")
#: drivers/firmware/efi/esrt.c efi_esrt_init()
_ESRT_RE = re.compile(r"^esrt: Reserving ESRT space from ")
#: drivers/firmware/efi/efi.c efi_systab_report_header(): "EFI v%u.%u[.%u] by %s" (3.10: "EFI v%u.%.02u by %s")
_EFI_BANNER_RE = re.compile(r"^efi: EFI v\d+\.\d+(\.\d+)? by ")
_RSDP_RES = (
    re.compile(r"^ACPI: RSDP 0x(?P<a>[0-9a-fA-F]+) "),
    re.compile(r"^ACPI: RSDP \(.*\) @ 0x(?P<a>[0-9a-fA-F]+)"),
    re.compile(r"^ACPI: RSDP (?P<a>[0-9a-fA-F]{8,16}), "),
    re.compile(r"^ACPI: RSDP (?P<a>[0-9a-fA-F]{8,16}) [0-9a-fA-F]+ \("),
)
_BANNER_RE = re.compile(r"^Linux version (?P<v>\S+)")
_CMDLINE_RES = (
    (re.compile(r"^Command line: (?P<c>.*)$"), 0),
    (re.compile(r"^Bootdata ok \(command line is (?P<c>.*)\)$"), 1),
    (re.compile(r"^Kernel command line: (?P<c>.*)$"), 2),
)

# label text (as printed after the range) -> type, every era.
_FIXED_LABELS = {
    "(usable)": E820Type.RAM,
    "(reserved)": E820Type.RESERVED,
    "(ACPI data)": E820Type.ACPI,
    "(ACPI NVS)": E820Type.NVS,
    "(unusable)": E820Type.UNUSABLE,
    "usable": E820Type.RAM,
    "reserved": E820Type.RESERVED,
    "ACPI data": E820Type.ACPI,
    "ACPI NVS": E820Type.NVS,
    "unusable": E820Type.UNUSABLE,
    "soft reserved": E820Type.SOFT_RESERVED,
    "System RAM": E820Type.RAM,
    "device reserved": E820Type.RESERVED,
}
_NUMBERED_LABEL = re.compile(r"^(?:type|persistent \(type|persistent RAM \(type) (\d+)\)?$")


def label_to_type(label: str) -> int | None:
    """The e820 type a printed label stands for, in any era; None if unknown."""
    text = label.strip()
    if text in _FIXED_LABELS:
        return int(_FIXED_LABELS[text])
    m = _NUMBERED_LABEL.match(text)
    if m and (text.startswith("type") == (not text.endswith(")"))):
        value = int(m.group(1))
        return value if value <= 0xFFFFFFFF else None
    return None


def _hex(text: str, source: str, lineno: int, what: str) -> int:
    value = int(text, 16)
    if value > U64_MAX:
        raise InputError(f"{what} {text} does not fit in 64 bits", source=source, line=lineno)
    return value


def _range(m: re.Match, inclusive: bool, source: str, lineno: int, what: str) -> Range:
    """A ``[mem a-b]`` (inclusive) or ``a - b`` (exclusive) range from a match, checked."""
    a = _hex(m["a"], source, lineno, "address")
    b = _hex(m["b"], source, lineno, "address")
    end = b + 1 if inclusive else b
    if end < a:
        raise InputError(f"{what} ends before it starts ({m['a']}-{m['b']})", source=source, line=lineno)
    _within_phys(end, source, lineno, what)
    return Range(a, end)


def _within_phys(end: int, source: str, lineno: int, what: str) -> None:
    """Memory of a real machine ends at or below 2^MAX_PHYS_BITS (the widest MAXPHYADDR)."""
    if end > 1 << MAX_PHYS_BITS:
        raise InputError(f"{what} ends at {end:#x}, past 2^{MAX_PHYS_BITS}, the widest physical address an x86_64 "
                         "CPU has", source=source, line=lineno)


def _parse_e820_line(msg: str, source: str, lineno: int) -> E820Line | None:
    m = _LEGACY_RE.match(msg)
    if m:
        start = _hex(m["a"], source, lineno, "address")
        end = _hex(m["b"], source, lineno, "address")
        if end < start:
            raise InputError(f"e820 entry ends ({end:#x}) before it starts ({start:#x})", source=source, line=lineno)
        _within_phys(end, source, lineno, "e820 entry")
        type_ = label_to_type(m["label"])
        if type_ is None:
            raise InputError(f"unknown e820 type label {m['label']!r}", source=source, line=lineno)
        return E820Line(lineno, msg, m["who"], start, end, type_, "legacy")
    m = _MEM_RE.match(msg)
    if m:
        start = _hex(m["a"], source, lineno, "address")
        last = _hex(m["b"], source, lineno, "address")
        if last < start:
            raise InputError(f"e820 range ends ({last:#x}) before it starts ({start:#x})", source=source, line=lineno)
        _within_phys(last + 1, source, lineno, "e820 range")
        if m["kind"] == "gap":
            if m["label"] is not None:
                raise InputError("unexpected text after an e820 [gap ...] line", source=source, line=lineno)
            return E820Line(lineno, msg, m["who"], start, last + 1, None, "gaps")
        label = m["label"] or ""
        type_ = label_to_type(label)
        if type_ is None:
            raise InputError(f"unknown e820 type label {label!r}", source=source, line=lineno)
        style = "gaps" if label.startswith(" ") else "mem"
        return E820Line(lineno, msg, m["who"], start, last + 1, type_, style)
    if _LOOKS_E820.match(msg):
        raise InputError(f"garbled e820 line: {msg.strip()[:80]!r}", source=source, line=lineno)
    return None


def parse_boot_logs(lines: list[str], source: str) -> list[BootLog]:
    """Split ``lines`` into boots and read each boot's input facts.

    :raises InputError: on garbled e820 lines, impossible ranges, unknown type
        labels, or a log with no kernel lines at all.
    """
    boots: list[BootLog] = []
    cur: BootLog | None = None
    block: E820Block | None = None
    cmd_rank = 99
    for lineno, raw in enumerate(lines, 1):
        msg = message_text(raw)
        if not msg.strip():
            block = None
            continue
        banner = _BANNER_RE.match(msg)
        # A boot starts at its banner; a log cut before the banner starts at
        # the first line that only a booting kernel prints.
        starts = banner or (
            cur is None
            and (_HEADER_RE.match(msg) or msg.startswith(("Command line:", "Bootdata ok")) or _LOOKS_E820.match(msg))
        )
        if starts and (cur is None or (banner and cur.version is not None)):
            cur = BootLog(source=source, first_lineno=lineno)
            boots.append(cur)
            block, cmd_rank = None, 99
        if cur is None:
            continue
        if banner:
            cur.version, cur.version_lineno, cur.banner = banner["v"], lineno, msg
            block = None
            continue
        header = _HEADER_RE.match(msg)
        if header:
            block = E820Block(_HEADERS[header.group(1)], msg, lineno)
            cur.blocks.append(block)
            continue
        entry = _parse_e820_line(msg, source, lineno)
        if entry is not None:
            if block is None:
                # Eras that print user entries without a header (i386 2.4) or
                # logs cut mid-table: start an implicit block.
                kind = "firmware" if entry.who.startswith("BIOS") else ("user" if entry.who == "user" else entry.who)
                block = E820Block(kind, "", lineno)
                cur.blocks.append(block)
            elif block.lines and entry.who != block.lines[-1].who:
                raise InputError(
                    f"e820 line from {entry.who!r} inside the {block.lines[-1].who!r} table",
                    source=source,
                    line=lineno,
                )
            if len(block.lines) >= E820_MAX_ENTRIES:
                raise InputError(f"more than {E820_MAX_ENTRIES} entries in one e820 table: no x86_64 kernel's table holds more "
                                 "(E820_MAX_ENTRIES = 128 + 3 * MAX_NUMNODES, arch/x86/include/asm/e820/types.h)",
                                 source=source, line=lineno)
            block.lines.append(entry)
            continue
        block = None
        for rx, rank in _CMDLINE_RES:
            m = rx.match(msg)
            if m and rank < cmd_rank:
                cur.command_line, cur.command_line_lineno, cmd_rank = m["c"], lineno, rank
        m = _SRAT_RE.match(msg) or _SRAT_OLD_RE.match(msg)
        if m:
            inclusive = m.re is _SRAT_RE
            rng = _range(m, inclusive, source, lineno, "SRAT range")
            flags = m["flags"]
            cur.srat.append(SratAffinity(_node(m["node"], source, lineno), int(m["pxm"]), rng, "hotplug" in flags,
                                         "non-volatile" in flags, lineno))
            continue
        if _SRAT_ANY_RE.match(msg):
            raise InputError(f"not an SRAT line the kernel prints (node and PXM are unsigned): {msg[:80]!r}", source=source, line=lineno)
        m = _SRAT_CPU_RE.match(msg)
        if m:
            # 0x%02x since 2.6.3x, %u before: a decimal id may have leading zeros (int(.., 0) refuses "06")
            apic = int(m["apic"], 16) if m["apic"].startswith("0x") else int(m["apic"], 10)
            if apic > 0xFFFFFFFF:
                raise InputError(f"APIC id {m['apic']} does not fit in 32 bits", source=source, line=lineno)
            cur.srat_cpus.append(SratCpu(int(m["pxm"]), apic, _node(m["node"], source, lineno), lineno))
            continue
        m = _ACPI_TABLE_RE.match(msg)
        if m:  # (the RSDP line is one of them: read on)
            cur.acpi_tables.append(m["sig"])
        m = _IOAPIC_RE.match(msg)
        if m:
            cur.ioapics.add(int(m["idx"]))
            continue
        if cur.dmi is None and msg.startswith("DMI: "):
            m = _DMI_RE.match(msg)
            if m:
                cur.dmi = m["system"]
                continue
        m = _ALLOWING_RE.match(msg)
        if m:
            n = int(m["n"]) if m["n"] else int(m["present"]) + int(m["hotplug"])
            if n > MAX_POSSIBLE_CPUS:
                raise InputError(f"{n} possible CPUs: more than NR_CPUS ({MAX_POSSIBLE_CPUS}) allows", source=source, line=lineno)
            cur.possible_cpus = n
            continue
        m = _CRASH_CPU_RE.match(msg)
        if m:
            cur.crash_cpu = int(m["cpu"])
            continue
        m = _RAMDISK_RE.match(msg)
        if m:
            cur.ramdisk = _range(m, True, source, lineno, "RAMDISK range")
            continue
        if _EARLY_RES_HEAD_RE.match(msg):
            cur.early_res_done = bool(cur.early_res)  # a second node's list repeats the first
            continue
        m = _EARLY_RES_RE.match(msg)
        if m and not cur.early_res_done:
            a, b = int(m["a"], 16), int(m["b"], 16)
            if b < a:
                raise InputError(f"early reservation ends ({b:#x}) before it starts ({a:#x})", source=source, line=lineno)
            cur.early_res.append((a, b, m["name"].strip()))
            continue
        m = _BOOTMAP_RE.match(msg)
        if m:
            cur.bootmaps.append(_range(m, True, source, lineno, "bootmap range"))
            continue
        m = _BRK_RE.match(msg)
        if m:
            cur.brk_pages.append(_range(m, True, source, lineno, "BRK page").start)
            continue
        m = _RAMDISK_OLD_RE.match(msg)
        if m:
            cur.ramdisk = _range(m, False, source, lineno, "RAMDISK range")
            continue
        if msg.startswith("efi: EFI runtime memory map:"):
            cur.efi_map_done = True  # efi=debug prints the runtime map again later; the boot map came first
            continue
        m = _EFI_MEM_RE.match(msg)
        if m and cur.efi_map_done:
            cur.efi_runtime_entries += 1
            continue
        if m and not cur.efi_map_done:
            a, b = int(m["a"], 16), int(m["b"], 16)
            if b < a:
                raise InputError(f"EFI memory range ends ({b:#x}) before it starts ({a:#x})", source=source, line=lineno)
            if m["type"].strip() not in EFI_TYPES:
                raise InputError(f"unknown EFI memory type {m['type'].strip()!r}", source=source, line=lineno)
            cur.efi_map.append((m["type"].strip(), m["attrs"], Range(a, b + 1)))
            continue
        m = _EFI_MEM_OLD_RE.match(msg)
        if m and not cur.efi_map_done:
            a, b, t = int(m["a"], 16), int(m["b"], 16), int(m["type"])
            if b < a:
                raise InputError(f"EFI memory range ends ({b:#x}) before it starts ({a:#x})", source=source, line=lineno)
            if t >= len(EFI_TYPES):
                raise InputError(f"unknown EFI memory type {t}", source=source, line=lineno)
            cur.efi_map.append((EFI_TYPES[t], f"attr=0x{m['attr']}", Range(a, b)))
            continue
        m = _RESERVED_UPDATE_RE.match(msg)
        if m:
            cur.reserved_updates.append((_range(m, True, source, lineno, "e820 update range"), lineno))
            continue
        m = _MEMATTR_RE.match(msg)
        if m and cur.efi_memattr is None:
            cur.efi_memattr = _hex(m["a"], source, lineno, "MEMATTR address")
            _within_phys(cur.efi_memattr, source, lineno, "MEMATTR address")
        if _MEMATTR_ENTRY_RE.match(msg):
            cur.efi_memattr_entries += 1
            continue
        m = _EFI_MMIO_REMOVE_RE.match(msg)
        if m:
            cur.efi_mmio_removed.append(_range(m, True, source, lineno, "EFI MMIO range"))
            continue
        if _ESRT_RE.match(msg) and cur.esrt_lineno is None:
            cur.esrt_lineno = lineno
            continue
        m = _SETUP_DATA_RE.match(msg)
        if m:
            r = _range(m, True, source, lineno, "setup_data range")
            if r not in cur.setup_data:
                cur.setup_data.append(r)
            continue
        if cur.efi_banner is None and _EFI_BANNER_RE.match(msg):
            cur.efi_banner, cur.efi_lineno = msg.strip(), lineno
            continue
        for rx in _RSDP_RES:
            m = rx.match(msg)
            if m and cur.rsdp is None:
                cur.rsdp = int(m["a"], 16)
                break
    for boot in boots:
        for blk in boot.blocks:
            if not blk.lines:
                raise InputError(f"{blk.header!r} is followed by no e820 lines", source=source, line=blk.header_lineno)
    if not boots:
        raise InputError(
            "no kernel boot messages found (expected 'Linux version', 'Command line:' or an e820 map)",
            source=source,
        )
    last = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
    for b, nxt in zip(boots, boots[1:] + [None]):
        b.last_lineno = (nxt.first_lineno - 1) if nxt is not None else last
    return boots


def crash_cpu(lines: list[str]) -> int | None:
    """The logical CPU that panicked into the crash kernel: the last ``CPU: N
    PID: ... Kdump: loaded`` line of a console log (None if there is none).

    The oracle's first/dmesg section is read before the crash; the panic is on
    the console only.
    """
    cpu = None
    for raw in lines:
        m = _CRASH_CPU_RE.match(message_text(raw))
        if m:
            cpu = int(m["cpu"])
    return cpu


def read_boot_logs(path: str | Path) -> list[BootLog]:
    """Read every boot in a log file.  :raises InputError: see :func:`parse_boot_logs`."""
    return parse_boot_logs(read_text_lines(path), str(path))


_MEMORY_RE = re.compile(r"Memory: (\d+)K/(\d+)K available \(.*, (\d+)K reserved, (\d+)K cma-reserved\)")


def memory_line(lines: list[str]) -> tuple[int, int, int] | None:
    """mem_init_print_info()'s ``Memory: <free>K/<physpages>K available (...,
    <reserved>K reserved, <cma>K cma-reserved)``: ``(index of the line,
    physpages, totalram_pages() when it was printed)`` in pages; None if absent."""
    for i, ln in enumerate(lines):
        m = _MEMORY_RE.search(ln)
        if m:
            phys = int(m.group(2)) // 4
            return i, phys, phys - int(m.group(3)) // 4 - int(m.group(4)) // 4
    return None


def machine_from_boot_log(log: BootLog) -> Machine:
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
    return Machine(
        e820=fw.entries,
        command_line=CommandLine(log.command_line or ""),
        kernel_version=version,
        kernel_banner=log.banner,
        numa=[NumaAffinity(s.node, s.pxm, s.range, s.hotplug, s.non_volatile) for s in log.srat],
        initrd=log.ramdisk,
        brk_pages=tuple(log.brk_pages),
        early_res=tuple((Range(a, b), name) for a, b, name in log.early_res),
        bootmaps=tuple(log.bootmaps),
        rsdp=log.rsdp,
        source=log.source,
        cpus=cpus,
        boot_apic=cpus[0].apic if cpus else None,
        acpi_tables=tuple(log.acpi_tables) or None,
        ioapics=len(log.ioapics) or None,
        dmi=log.dmi,
        # the BIOS-e820 lines of a log were printed after sanitizing
        e820_printed=True,
        e820_who=fw.who,
        command_line_at=(log.source, log.command_line_lineno, None),
        efi_boot=(log.source, log.efi_lineno, log.efi_banner) if log.efi_banner else None,
        setup_data=tuple(log.setup_data),
        efi_map=tuple(log.efi_map) or None,
        efi_memattr=(log.efi_memattr, log.efi_memattr_entries) if log.efi_memattr is not None else None,
        efi_mem_reserves=_efi_mem_reserves(log),
        efi_early_reserve_at=(log.source, log.esrt_lineno, "esrt: Reserving ESRT space") if log.esrt_lineno else None,
        efi_mmio_removed=tuple(log.efi_mmio_removed),
        efi_runtime_map=log.efi_runtime_entries or None,
    )


def _efi_mem_reserves(log: BootLog) -> tuple[Range, ...]:
    """The log's e820 updates that efi_arch_mem_reserve() made (arch/x86/platform/efi/quirks.c):
    it turns the pages of an efi_mem_reserve() range that lies in an EFI Boot Data range
    from RAM into reserved (and does nothing for any other type), so an update inside
    Boot Data is one of its; page 0 is trim_bios_range()'s."""
    data = [r for t, _, r in log.efi_map if t == "Boot Data"]
    return tuple(r for r, _ in log.reserved_updates
                 if r.start and any(d.start <= r.start and r.end <= d.end for d in data))
