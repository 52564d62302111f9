"""``earlymem verify``: how much of a real boot earlymem predicts, family by family.

Only the *input facts* of the first kernel (``Linux version``, ``Command
line:``, ``BIOS-e820``, ``ACPI: SRAT``, ``RAMDISK``, ``ACPI: RSDP``) are read
from the capture; everything else in it is an expected output.  Each family
of expected lines is compared with what earlymem predicts; a family earlymem
cannot predict yet counts as 0 of N, never as skipped.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher, unified_diff
from fractions import Fraction
from pathlib import Path

from earlymem.kaslr import crash_summary, predict_for
from earlymem.kernels import profile_for
from earlymem.kernels.builds import KernelBuild, pinned_build
from earlymem.kexec.capture import LoadMethod, kexec_load
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import CpuAffinity, Machine
from earlymem.phases.kaslr import kaslr_slots
from earlymem.phases.start_kernel import cea_table_pages
from earlymem.pipeline import boot, resolve_build
from earlymem.render.boot import family_lines
from earlymem.render.procfs import watermark_text
from earlymem.result import BootResult
from earlymem.sources.capture import read_capture
from earlymem.sources.setup_data import parse_setup_data_chain
from earlymem.sources.dmesg import (
    BootLog,
    machine_from_boot_log,
    message_text,
    parse_boot_logs,
)
from earlymem.sources.dmesg import crash_cpu as crash_cpu_of

__all__ = ["FAMILIES", "FamilyState", "FamilyResult", "VerifyReport", "verify_path", "first_kernel_machine", "predict_capture", "harness_cpus",
           "parse_zoneinfo"]

#: Families in report order, with what each holds.
FAMILIES = {
    "e820": "BIOS-provided physical RAM map (first kernel)",
    "user-map": "user-defined physical RAM map",
    "crashkernel": "crashkernel reservation lines",
    "numa": "NUMA: and NODE_DATA lines",
    "zones": "Zone ranges and Movable zone lines",
    "node-ranges": "Early memory node ranges",
    "initmem": "Initmem setup node lines",
    "iomem-crash": "/proc/iomem Crash kernel lines",
    "nosave": "Registered nosave memory lines (hibernation)",
    "percpu": "percpu: Embedded line (the per-CPU first chunk)",
    "hash": "Dentry cache and Inode-cache hash table lines",
    "swiotlb": "software IO TLB lines (the bounce buffer below 4 GiB, 6.x areas)",
    "frees": "Freeing ... memory lines (what the kernel gives back after boot)",
    "zoneinfo": "/proc/zoneinfo spanned/present per zone",
    "zoneinfo-managed": "/proc/zoneinfo managed per zone (the hand-off plus what the kernel gave back)",
    "zoneinfo-watermarks": "/proc/zoneinfo min, low, high and protection per zone",
    "kexec-segments": "kexec segments (kexec -p --debug, kexec_file)",
    "kdump-e820": "the kdump kernel's BIOS-e820 map",
    "kdump-nodes": "the kdump kernel's NUMA, NODE_DATA, zone, node-range and Initmem lines",
}


class FamilyState(str, enum.Enum):
    """How a family compares (its value is what the table and the JSON show)."""

    OK = "ok"  # every expected line predicted, in order, and nothing else
    PARTIAL = "partial"  # every predicted line is right, some are not predicted yet
    DIFFERS = "DIFFERS"  # earlymem predicts a line the kernel did not print
    NOT_PREDICTED = "not predicted yet"  # the kernel printed lines earlymem does not predict
    NOT_IN_CAPTURE = "not in this capture"  # nothing printed, nothing predicted


@dataclass
class FamilyResult:
    """Expected and predicted lines of one family, and how many match in order."""

    name: str
    expected: list[str]
    predicted: list[str] | None  # None: earlymem does not predict this family yet

    @property
    def matched(self) -> int:
        if not self.predicted or not self.expected:
            return 0
        sm = SequenceMatcher(a=self.expected, b=self.predicted, autojunk=False)
        return sum(b.size for b in sm.get_matching_blocks())

    @property
    def ok(self) -> bool:
        return self.predicted is not None and self.matched == len(self.expected) == len(self.predicted)

    @property
    def wrong(self) -> bool:
        """earlymem predicted a line the kernel did not print (in that order)."""
        return self.predicted is not None and self.matched < len(self.predicted)

    @property
    def state(self) -> "FamilyState":
        if self.predicted is None:
            return FamilyState.NOT_PREDICTED if self.expected else FamilyState.NOT_IN_CAPTURE
        if self.ok:
            return FamilyState.OK
        return FamilyState.DIFFERS if self.wrong else FamilyState.PARTIAL

    def diff(self) -> list[str]:
        return list(unified_diff(self.expected, self.predicted or [], "kernel", "earlymem", lineterm="", n=1))


@dataclass(frozen=True)
class KaslrCheck:
    """A KASLR capture's place against the predicted slots.

    :param place: the kernel's _text, from the capture's /proc/iomem Kernel code line.
    :param slots: how many places the decompressor draws from (None: not predicted).
    :param in_slots: whether ``place`` is one of them (None: not predicted).
    :param why: why the slots are not predicted.
    """

    place: int
    slots: int | None
    in_slots: bool | None
    why: str | None = None
    #: 6.2+: the CPU entry areas' page-table pages of the boot compared (None: not drawn)
    cea_pages: int | None = None
    #: that count's probability, as "n/d"
    cea_probability: str | None = None


@dataclass
class VerifyReport:
    source: str
    kernel: str | None
    profile: str
    families: list[FamilyResult] = field(default_factory=list)
    #: a KASLR boot: where the kernel was (its /proc/iomem Kernel code), whether that is
    #: one of the places the decompressor draws from, and the prediction's slots
    kaslr: "KaslrCheck | None" = None

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "kernel": self.kernel,
            "profile": self.profile,
            "kaslr": dataclasses.asdict(self.kaslr) if self.kaslr is not None else None,
            "families": [
                {
                    "family": f.name,
                    "matched": f.matched,
                    "expected": len(f.expected),
                    "predicted": f.predicted is not None,
                    "state": f.state.value,
                    "differences": f.diff() if f.predicted is not None and not f.ok else [],
                }
                for f in self.families
            ],
        }


def _block(lines: list[str], start_rx: str, member_rx: str) -> list[str]:
    out: list[str] = []
    inside = False
    for line in lines:
        if re.match(start_rx, line):
            out.append(line)
            inside = True
        elif inside and re.match(member_rx, line):
            out.append(line)
        else:
            inside = False
    return out


def _printed_e820(log: BootLog | None, kind: str) -> list[str]:
    if log is None:
        return []
    block = log.block(kind)
    return [block.header] + [ln.text for ln in block.lines] if block else []


_CRASH_RX = re.compile(r"crashkernel|crash kernel|for crashkernel|Reserving \d+MB of (low )?memory", re.I)


def parse_zoneinfo(lines: list[str]) -> list[dict]:
    """The zones of a /proc/zoneinfo, in order: ``nid``, ``name`` and the
    pages block's numbers (``spanned``, ``present``, ``managed``, ``min`` ...)
    and ``protection`` (a list)."""
    zones: list[dict] = []
    for line in lines:
        m = re.match(r"^Node (\d+), zone\s+(\S+)", line)
        if m:
            zones.append({"nid": int(m.group(1)), "name": m.group(2)})
            continue
        m = re.match(r"^\s+(pages free|boost|min|low|high|promo|spanned|present|managed|cma)\s+(\d+)\s*$", line)
        if m and zones:
            zones[-1][m.group(1)] = int(m.group(2))
            continue
        m = re.match(r"^\s+protection: \(([\d, ]*)\)\s*$", line)
        if m and zones:
            zones[-1]["protection"] = [int(x) for x in m.group(1).split(",") if x.strip()]
    return zones


#: swiotlb_init(): the buffer, and in 6.x the areas and any resizing
_SWIOTLB_LINES = ("software IO TLB: mapped", "software IO TLB: area num", "software IO TLB: SWIOTLB bounce buffer size",
                  "software IO TLB: swiotlb_memblock_alloc:")


def _expected(msgs: list[str], sections: dict[str, list[str]], first: BootLog | None, kdump: BootLog | None) -> dict[str, list[str]]:
    zoneinfo = [dict(z, head=f"Node {z['nid']}, zone {z['name']}") for z in parse_zoneinfo(sections.get("first/zoneinfo", []))]
    # segment[i].buf is a userspace address (ASLR): not a placement, left out.
    kexec = [ln for sec in ("first/kexec_load_debug", "first/kexec_normal_debug") for ln in sections.get(sec, [])
             if re.match(r"^(nr_segments|segment\[\d+\]\.(bufsz|mem|memsz)\b)", ln)]
    kexec += [
        re.sub(r"buf=0x\S+ ", "", message_text(ln))
        for ln in sections.get("first/kexec_file_dmesg", [])
        if re.search(r"kexec_file: (Loading segment|nr_segments|segment\[)|kexec-bzImage64: Loaded|kexec: Loaded ELF headers", ln)
    ]
    return {
        "e820": _printed_e820(first, "firmware"),
        "user-map": _printed_e820(first, "user"),
        # (not the command line itself, nor init's environment, which 5.10
        # lists indented: "    crashkernel=256M")
        # (nor memblock=debug's trace lines, which name reserve_crashkernel*() as the caller)
        "crashkernel": [m for m in msgs if _CRASH_RX.search(m)
                        and not m.startswith(("Command line:", "Kernel command line:", " ", "memblock_", "__memblock_"))],
        "numa": [m for m in msgs if re.match(r"^(NUMA: |NODE_DATA\(|\s+NODE_DATA|Faking a node|No NUMA configuration found|NUMA turned off)", m)],
        "zones": _block(msgs, r"^Zone ranges:", r"^\s+\S+\s+(\[mem|empty)") + _block(msgs, r"^Movable zone start", r"^\s+Node \d+:"),
        "node-ranges": _block(msgs, r"^Early memory node ranges", r"^\s+node\s+\d+: \[mem"),
        "initmem": [m for m in msgs if m.startswith("Initmem setup node")],
        "iomem-crash": [ln for ln in sections.get("first/iomem", []) if "Crash kernel" in ln],
        "nosave": [m for m in msgs if m.startswith("PM: hibernation: Registered nosave memory: ")],
        "percpu": [m for m in msgs if m.startswith("percpu: Embedded ")],
        "hash": [m for m in msgs if m.startswith(("Dentry cache hash table entries:", "Inode-cache hash table entries:"))],
        "swiotlb": [m for m in msgs if m.startswith(_SWIOTLB_LINES) or m == "Cannot allocate buffer"],
        "frees": [m for m in msgs if re.match(r"^Freeing (SMP alternatives|initrd|unused decrypted|unused kernel image \(.*\)) memory: \d+K$", m)],
        "zoneinfo": [f"{z['head']}: spanned={z.get('spanned')} present={z.get('present')}" for z in zoneinfo],
        "zoneinfo-managed": [f"{z['head']}: managed={z.get('managed')}" for z in zoneinfo],
        "zoneinfo-watermarks": [f"{z['head']}: {watermark_text(z.get('min'), z.get('low'), z.get('high'), z.get('protection', []))}"
                                for z in zoneinfo],
        "kexec-segments": kexec,
        "kdump-e820": _printed_e820(kdump, "firmware"),
        "kdump-nodes": [],  # filled from the kdump boot by verify_path()
    }


def _node_lines(msgs: list[str]) -> list[str]:
    """The NUMA, zone, node-range and Initmem families of one boot, in that order."""
    e = _expected(msgs, {}, None, None)
    return e["numa"] + e["zones"] + e["node-ranges"] + e["initmem"]


@functools.cache
def _oracle_kappend() -> str:
    """The capture kernel's --append of src/earlymem/oracle/init.sh (read once)."""
    from importlib import resources

    init = resources.files("earlymem.oracle").joinpath("init.sh").read_text()
    m = re.search(r'^KAPPEND="([^"]*)"', init, re.M)
    return m.group(1) if m else ""


def harness_cpus(note: str) -> list[CpuAffinity]:
    """The guest's CPUs from the QEMU command in a capture's note, for kernels
    that no longer print SRAT's (6.12 on: pr_debug) and for guests without
    NUMA: each ``-numa node,nodeid=N,cpus=C`` puts CPU C in node N (else
    ``-smp N`` CPUs in node 0), and QEMU gives CPU C APIC id C with plain
    ``-smp`` (its SRAT lists them in that order)."""
    cpus: dict[int, int] = {}
    for m in re.finditer(r"-numa node,nodeid=(\d+)((?:,cpus=\d+(?:-\d+)?)*)", note):
        for a, b in re.findall(r"cpus=(\d+)(?:-(\d+))?", m.group(2)):
            for c in range(int(a), int(b or a) + 1):
                cpus[c] = int(m.group(1))
    if not cpus:  # no NUMA: -smp N CPUs, all node 0
        m = re.search(r"-smp (\d+)", note)
        cpus = {c: 0 for c in range(int(m.group(1)) if m else 0)}
    return [CpuAffinity(c, n, n) for c, n in sorted(cpus.items())]


def first_kernel_machine(cap, first: BootLog) -> Machine:
    """The first kernel's Machine for an oracle capture: its log's input facts,
    and where the log names no CPUs, the guest's (:func:`harness_cpus`)."""
    machine = machine_from_boot_log(first)
    if not machine.cpus:
        cpus = harness_cpus(cap.note)
        machine = dataclasses.replace(machine, cpus=cpus, boot_apic=cpus[0].apic if cpus else None)
    chain = setup_data_chain(cap)
    if chain is not None and not machine.setup_data:
        # from 7.0 no log line shows the loader's setup_data nodes: the capture's chain does
        machine = dataclasses.replace(machine, setup_data=chain)
    return machine


def setup_data_chain(cap) -> tuple[Range, ...] | None:
    """The loader's setup_data nodes as the capture's ``first/setup_data`` section
    lists them (earlymem.sources.setup_data); None when it was not captured or the
    helper failed."""
    lines = cap.sections.get("first/setup_data")
    if lines is None or cap.rcs.get("first/setup_data") != 0:
        return None
    begin = next((i + 2 for i, ln in enumerate(cap.serial) if "@@@@BEGIN first/setup_data@@@@" in ln), 1)
    log = Path(cap.source)
    if log.is_dir():
        log = log / "serial.log" if (log / "serial.log").is_file() else log / "serial.log.gz"
    return parse_setup_data_chain(lines, str(log), begin)


def predict_capture(cap, first: BootLog, profile, kernel: KernelBuild | None = None,
                    kernel_version: str | None = None) -> tuple[Machine, BootResult]:
    """earlymem's boot of a capture's first kernel, from its input facts
    (:func:`first_kernel_machine`) and ``kernel``'s (default: the pinned build its
    banner names, or ``kernel_version`` names, as in ``predict``): ``(machine, result)``."""
    machine = first_kernel_machine(cap, first)
    if kernel_version:
        machine = dataclasses.replace(machine, kernel_version=parse_version(kernel_version), kernel_banner=None)
    place = kernel_place(cap)
    if place is not None and not machine.command_line.flag("nokaslr"):
        # a KASLR boot: its place is a fact of the capture (/proc/iomem), as on a live system
        machine = dataclasses.replace(machine, kernel_load_addr=place, kernel_at_from=(cap.source, None, "first/iomem Kernel code"))
    return machine, boot(machine, profile, kernel)


def _cea_choice(machine: Machine, profile, kernel: KernelBuild | None, managed: list[str]):
    """``(machine, boot, "n/d")`` for the count of the CPU entry areas' page tables whose
    managed pages the capture shows (the most probable count when none does); None when
    the count is not drawn (no KASLR, before 6.2, several CPUs)."""
    if not (profile.start.cea_random and machine.cpus and not machine.command_line.flag("nokaslr")):
        return None
    build, _, _ = resolve_build(machine, kernel)
    dist = cea_table_pages(build.struct_sizes.get("cpu_entry_area", 0), len(machine.cpus)) if build else None
    if not dist:
        return None
    tried = []
    for pages, p in sorted(dist.items(), key=lambda kv: -kv[1]):
        m = dataclasses.replace(machine, cea_pages=pages)
        r = boot(m, profile, kernel)
        tried.append((m, r, f"{p.numerator}/{p.denominator}"))
        if family_lines(r).get("zoneinfo-managed") == managed:
            return tried[-1]
    return tried[0]


def kernel_place(cap) -> int | None:
    """The first kernel's _text: the start of its /proc/iomem ``Kernel code`` line (None: not captured)."""
    for ln in cap.sections.get("first/iomem", []):
        m = re.match(r"^\s*([0-9a-fA-F]+)-[0-9a-fA-F]+ : Kernel code$", ln)
        if m:
            return int(m.group(1), 16)
    return None


def kaslr_check(machine: Machine, profile, kernel: KernelBuild | None) -> KaslrCheck | None:
    """Whether a KASLR capture's place is one the model allows (None: not a KASLR boot with its place known)."""
    if machine.kernel_load_addr is None or machine.kernel_at_from is None or machine.command_line.flag("nokaslr"):
        return None
    place = machine.kernel_load_addr
    build, _, why = resolve_build(machine, kernel)
    if build is None:
        return KaslrCheck(place, None, None, why)
    slots = kaslr_slots(dataclasses.replace(machine, kernel_load_addr=None), build)
    if isinstance(slots, str):
        return KaslrCheck(place, None, None, slots)
    if slots.disabled is not None:
        return KaslrCheck(place, 0, place == slots.output, f"physical KASLR does not run: {slots.disabled}")
    return KaslrCheck(place, slots.total, slots.count_of(place) > 0)


def _kexec_inputs(cap, machine: Machine, kernel: KernelBuild | None = None) -> dict | None:
    """What the oracle's ``kexec -p`` was given, from the harness that made the capture:
    the kdump kernel (the pinned Debian image of the same series: earlymem.kernels.builds),
    /boot/kdump-initrd.img's size (the note's ``kdump initrd`` line; older
    captures only have kexec-tools' own echo of the file size), the --append
    string of src/earlymem/oracle/init.sh (with the words it passes on) and the guest's CPU count (``-smp``)."""
    build = kernel or pinned_build(machine.kernel_version, machine.kernel_banner)
    if build is None or build.header is None:
        return None
    size = None
    m = re.search(r"kdump initrd: (\d+) bytes", cap.note)
    if m:
        size = int(m.group(1))
    else:
        for ln in cap.sections.get("first/kexec_load_debug", []) + cap.sections.get("first/kexec_file_dmesg", []):
            m = re.search(r"Loaded initrd at 0x[0-9a-f]+ (?:size|bufsz=)\s*(0x[0-9a-f]+)", ln)
            if m:
                size = int(m.group(1), 16)
                break
    # init.sh passes these words of the first kernel's command line on, in their order
    passed = [w for w in machine.command_line.text.split() if w in ("nokaslr", "oracle.dump=1", "oracle.calibrate=1")]
    append = " ".join([_oracle_kappend(), *passed])
    m = re.search(r"-smp (\d+)", cap.note)
    return {"capture": build, "initrd_size": size, "append": append, "cpus": int(m.group(1)) if m else 1}


def _predict_kexec(cap, machine: Machine, profile, first: BootResult, predicted: dict, kernel: KernelBuild | None = None) -> None:
    """The oracle's loads, in its order -- ``kexec -p`` (kexec-tools 2.0.25), then
    (``oracle.kexec=both``) ``kexec -s -p`` (the kernel's kexec_file_load) --
    and the capture kernel the last one boots."""
    inputs = _kexec_inputs(cap, machine, kernel)
    if inputs is None:
        return
    if machine.efi_boot is not None and (machine.efi_runtime_map is None or "first/kexec_file_dmesg" in cap.sections):
        return  # a UEFI first kernel: its runtime map's size unknown, or kexec_file (not modelled)
    segment_lines: list[str] = []
    if "first/kexec_normal_debug" in cap.sections:
        load = kexec_load(machine, first, profile=profile, method=LoadMethod.NORMAL, **inputs)
        if load.loaded:
            segment_lines += load.segment_lines
    last = None
    crash_cpu = crash_cpu_of(cap.serial) if "kdump/dmesg" in cap.sections else None
    for method, sec in ((LoadMethod.KEXEC_LOAD, "first/kexec_load_debug"), (LoadMethod.KEXEC_FILE_LOAD, "first/kexec_file_dmesg")):
        if sec not in cap.sections:
            continue
        try:
            load = kexec_load(machine, first, profile=profile, method=method, crash_cpu=crash_cpu, **inputs)
        except InputError:
            load = None
        if load is None or not load.loaded:
            last = None  # the load fails (no crash region ...): nothing printed
            continue
        last = load
        segment_lines += load.segment_lines
    predicted["kexec-segments"] = segment_lines
    predicted["kdump-e820"], predicted["kdump-nodes"] = [], []
    if "kdump/dmesg" in cap.sections and last is not None and last.capture is not None:
        # only the last load boots a capture kernel
        kd = last.capture
        predicted["kdump-e820"] = kd.lines_of("e820")
        predicted["kdump-nodes"] = [t for fam in ("numa", "zones", "node-ranges", "initmem") for t in kd.lines_of(fam)]


def verify_path(path: str | Path, *, kernel_version: str | None = None, kernel: KernelBuild | None = None) -> VerifyReport:
    """Verify a capture directory, a serial log with sections, or a plain boot log.

    :param kernel_version: the release to use instead of the log's banner.
    :param kernel: the image's facts (earlymem.read_kernel()) instead of the pinned
        build the banner names; the oracle's kexec loads use it as capture kernel too.

    :raises InputError: for unreadable input or a log without input facts.
    """
    cap = read_capture(path)
    sections = cap.sections
    source = str(path)
    if "first/dmesg" in sections:
        first_lines = sections["first/dmesg"]
    else:
        first_lines = [ln for ln in cap.serial]  # a plain boot log
    boots = parse_boot_logs(first_lines, source)
    first = boots[0]
    kdump = None
    if "kdump/dmesg" in sections:
        kdump = parse_boot_logs(sections["kdump/dmesg"], f"{source} (kdump)")[0]
    elif len(boots) > 1:
        kdump = boots[1]
    msgs = [message_text(ln) for ln in first_lines[first.first_lineno - 1 : (boots[1].first_lineno - 1) if len(boots) > 1 else None]]
    expected = _expected(msgs, sections, first, kdump)
    if kdump is not None:
        kd_lines = sections.get("kdump/dmesg") or first_lines[boots[1].first_lineno - 1 :]
        expected["kdump-nodes"] = _node_lines([message_text(ln) for ln in kd_lines])

    version = kernel_version or first.version
    if not version:
        raise InputError("no 'Linux version' banner; pass --kernel-version", source=source)
    try:
        profile = profile_for(parse_version(version))
    except InputError as exc:
        raise exc.located(source=source, line=first.version_lineno)
    predicted: dict[str, list[str] | None] = {name: None for name in FAMILIES}
    if first.firmware is not None:
        machine, result = predict_capture(cap, first, profile, kernel, kernel_version)
        families = family_lines(result)
        cea = _cea_choice(machine, profile, kernel, expected.get("zoneinfo-managed") or [])
        if cea is not None:
            # 6.2+ with KASLR: the entry areas' page tables are a second draw; the boot
            # whose managed pages the capture shows, if one of them is (else the most probable)
            machine, result = cea[0], cea[1]
            families = family_lines(result)
        for fam in set(families) & set(FAMILIES):
            if families[fam] and fam != "iomem-crash":
                predicted[fam] = families[fam]
        if result.crash_predicted:
            predicted["crashkernel"] = families.get("crashkernel", [])
            if "first/iomem" in sections:  # a plain boot log has no /proc/iomem
                predicted["iomem-crash"] = families["iomem-crash"]
        if predicted.get("frees") and any(m.startswith("Kernel panic - not syncing") for m in msgs):
            # the boot died (no root, no init): only what it gave back before that can be compared
            predicted["frees"] = predicted["frees"][:len(expected["frees"])]
        if "first/zoneinfo" not in sections:  # a plain boot log: no /proc/zoneinfo to compare with
            for fam in ("zoneinfo", "zoneinfo-managed", "zoneinfo-watermarks"):
                predicted[fam] = None
        if "user-map" not in predicted or predicted["user-map"] is None:
            predicted["user-map"] = []
        if any(sec in sections for sec in ("first/kexec_load_debug", "first/kexec_file_dmesg", "first/kexec_normal_debug")):
            _predict_kexec(cap, machine, profile, result, predicted, kernel)
    result = VerifyReport(source, first.version, profile.name)
    if first.firmware is not None:
        result.kaslr = kaslr_check(machine, profile, kernel)
        if result.kaslr is not None and machine.cea_pages is not None:
            result.kaslr = dataclasses.replace(result.kaslr, cea_pages=machine.cea_pages, cea_probability=cea[2])
    for name in FAMILIES:
        result.families.append(FamilyResult(name, expected[name], predicted[name]))
    return result


# -- KASLR: repeated boots of one configuration against the predicted distribution ------------

#: an outcome fails the frequency test when its two-sided exact binomial p-value is below this
#: (about 50 outcome tests in the KASLR matrix: a family-wise level near 5%, Bonferroni)
KASLR_ALPHA = 0.001


@dataclass(frozen=True)
class OutcomeCount:
    """One crash-region outcome of a configuration: predicted probability, boots that showed it."""

    summary: str
    probability: Fraction
    observed: int
    p_value: float

    @property
    def ok(self) -> bool:
        if self.probability == 0:
            return self.observed == 0
        return self.p_value >= KASLR_ALPHA


@dataclass(frozen=True)
class KaslrGroup:
    """The repeated KASLR boots of one configuration and kernel (``NAME--KERNEL--NN``)."""

    name: str
    boots: int
    slots: int
    outcomes: tuple[OutcomeCount, ...]
    why: str | None = None
    alpha: float = KASLR_ALPHA
    #: boots that show no outcome (no /proc/iomem: they died first), left out of ``boots``
    missing: int = 0

    @property
    def ok(self) -> bool:
        return self.why is None and all(o.ok for o in self.outcomes)

    @property
    def fails(self) -> bool:
        """Some outcome's count departs from its prediction (a group not predicted does not fail)."""
        return self.why is None and not self.ok


def binomial_p_value(k: int, n: int, p: Fraction) -> float:
    """Two-sided exact binomial test: the probability, under Binomial(n, p), of a count
    no more likely than ``k`` (the method of R's binom.test)."""
    probs = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    here = probs[k]
    return float(min(1, sum(q for q in probs if q <= here * (1 + Fraction(1, 10**7)))))


def observed_crash_summary(cap) -> str:
    """The crash region's fate as a capture shows it: its /proc/iomem Crash kernel lines,
    else the kernel's failure line (the words earlymem.kaslr.crash_summary() uses)."""
    regions = []
    for ln in cap.sections.get("first/iomem", []):
        m = re.match(r"^\s*([0-9a-fA-F]+)-([0-9a-fA-F]+) : Crash kernel$", ln)
        if m:
            regions.append((int(m.group(1), 16), int(m.group(2), 16)))
    if regions:
        regions.sort()
        low = len(regions) > 1
        return "crashkernel at " + " and ".join(
            f"[mem {a:#010x}-{b:#010x}]" + (" (low)" if low and i < len(regions) - 1 else "") for i, (a, b) in enumerate(regions))
    boots = parse_boot_logs(cap.sections.get("first/dmesg") or cap.serial, cap.source)
    first = boots[0]
    msgs = [message_text(ln) for ln in (cap.sections.get("first/dmesg") or cap.serial)[first.first_lineno - 1:]]
    failed = [m for m in msgs if _CRASH_RX.search(m) and "fail" in m.lower()]
    return f"crashkernel fails: {failed[-1]}" if failed else "no crash region"


def kaslr_groups(paths, *, kernel: KernelBuild | None = None) -> list[KaslrGroup]:
    """Group repeated KASLR captures (``NAME--KERNEL--NN``) and test each outcome's count."""
    groups: dict[str, list[Path]] = {}
    for p in paths:
        m = re.match(r"^(.*--[0-9.]+)--\d+$", Path(p).name.rstrip("/"))
        if m:
            groups.setdefault(m.group(1), []).append(Path(p))
    out = []
    for name, members in sorted(groups.items()):
        caps = [read_capture(p) for p in sorted(members)]
        firsts = [parse_boot_logs(c.sections.get("first/dmesg") or c.serial, c.source)[0] for c in caps]
        if firsts[0].version is None or firsts[0].firmware is None:
            out.append(KaslrGroup(name, len(caps), 0, (), "no banner or e820 map in the first capture"))
            continue
        profile = profile_for(parse_version(firsts[0].version))
        machine = first_kernel_machine(caps[0], firsts[0])
        if machine.command_line.flag("nokaslr"):
            continue
        kp, why = predict_for(machine, profile, kernel)
        if kp is None:
            out.append(KaslrGroup(name, len(caps), 0, (), why or "the place is not drawn by KASLR"))
            continue
        predicted: dict[str, Fraction] = {}
        for o in kp.outcomes:
            key = crash_summary(o.result)
            predicted[key] = predicted.get(key, Fraction(0)) + o.probability
        # a boot that died before its /proc/iomem was read shows no outcome: left out of the counts
        shown = [(c, f) for c, f in zip(caps, firsts) if "first/iomem" in c.sections]
        seen: dict[str, int] = {}
        for c, _ in shown:
            key = observed_crash_summary(c)
            seen[key] = seen.get(key, 0) + 1
        n = len(shown)
        counts = [OutcomeCount(k, p, seen.get(k, 0), binomial_p_value(seen.get(k, 0), n, p)) for k, p in predicted.items()]
        counts += [OutcomeCount(k, Fraction(0), c, 0.0) for k, c in seen.items() if k not in predicted]
        build, _, _ = resolve_build(machine, kernel)
        # (on UEFI the managed pages are not predicted: the count cannot be read from them)
        dist = (cea_table_pages(build.struct_sizes.get("cpu_entry_area", 0), len(machine.cpus))
                if build and profile.start.cea_random and machine.cpus and machine.efi_boot is None else None)
        if dist:
            # the second draw: the entry areas' page tables, as each boot's managed pages show them
            cea_seen: dict[int, int] = {}
            for c, f in shown:
                pinned, _ = predict_capture(c, f, profile, kernel)
                managed = [f"Node {z['nid']}, zone {z['name']}: managed={z.get('managed')}"
                           for z in parse_zoneinfo(c.sections.get("first/zoneinfo", []))]
                choice = _cea_choice(pinned, profile, kernel, managed)
                if choice is not None and family_lines(choice[1]).get("zoneinfo-managed") == managed:
                    cea_seen[choice[0].cea_pages] = cea_seen.get(choice[0].cea_pages, 0) + 1
            n_cea = sum(cea_seen.values())
            for pages, p in dist.items():
                k = cea_seen.get(pages, 0)
                counts.append(OutcomeCount(f"CPU entry area page tables: {pages} pages", p, k, binomial_p_value(k, n_cea, p)))
            if n_cea < n:
                counts.append(OutcomeCount("CPU entry area page tables: no count matches the managed pages", Fraction(0),
                                           n - n_cea, 0.0))
        counts.sort(key=lambda o: (-o.probability, -o.observed))
        out.append(KaslrGroup(name, n, kp.slots.total, tuple(counts), missing=len(caps) - n))
    return out
