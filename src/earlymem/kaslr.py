"""Predictions under KASLR: the exact distribution of outcomes over the kernel's places.

The decompressor draws the kernel's place uniformly from the slots
:func:`earlymem.phases.kaslr.kaslr_slots` enumerates.  Each slot is one boot
with the image there, so the probability of an outcome is the number of slots
that lead to it over the number of slots -- counted, never sampled.

Booting every slot would cost one boot per 2 MiB of RAM.  Most slots need no
boot of their own, by this argument (memblock's search, mm/memblock.c
``memblock_find_in_range_node()``):

1. A *reference boot* places the image where it takes no memory (a ghost
   image: nothing reserved for it) and keeps memblock's trace: every range
   anything reserved, however briefly.
2. Add the image's reservation ``[_text, __end_of_kernel_reserve)`` at a slot
   that overlaps none of those ranges.  Every search then finds what it found
   in the reference boot: a top-down (or bottom-up) search takes the first fit
   from its end, and removing free memory that no search took creates no
   earlier fit and takes away none that was chosen; a search that failed
   still fails; a fixed-address reservation that succeeded did not overlap
   the image.  So every memblock decision is the reference boot's, and the
   boots of all such slots differ only in which zone the image's pages are
   charged to (managed pages, and the free lists) -- and in one more way:
   init_range_memory_mapping() takes the direct mapping's page tables from
   memblock instead of the brk buffer (which lies at the image's end) for
   the memory range the buffer lies in (arch/x86/mm/init.c
   ``can_use_brk_pgt``).  The reference boot's ghost image lies above all
   memory, so its brk buffer meets no range; a slot's buffer meets the first
   range (in mapping order) it overlaps.  One boot per zone and met range
   stands for all the slots that share them.  The argument needs memblock.reserved never to grow its
   array on the image's account: the reference boot's region count, plus the
   one region the image adds and the two an isolation may add, must stay
   within the array's capacity, and the reference boot must not have doubled
   it; otherwise every slot is booted.
3. Every other slot -- one whose image overlaps something reserved in the
   reference boot, or straddles two zones -- is booted on its own.

An *outcome* is what a user asks about: the crashkernel lines (the region's
place, or its failure), the NUMA and NODE_DATA lines, a panic, and each
zone's managed pages.  The iomem Kernel resources move with the image in
every boot and the free lists differ slot by slot; neither splits outcomes.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from earlymem.allocators.memblock import Memblock
from earlymem.kernels.builds import KernelBuild
from earlymem.kernels.profile import KernelProfile, Pipeline
from earlymem.machine import Machine
from earlymem.phases.kaslr import KaslrSlots, kaslr_slots
from earlymem.phases.start_kernel import cea_table_pages
from earlymem.pipeline import boot, resolve_build
from earlymem.result import BootResult

__all__ = ["KaslrOutcome", "KaslrPrediction", "predict_kaslr", "predict_for", "kaslr_applies", "outcome_key", "crash_summary",
           "SCHEMA"]

#: the JSON schema of a KASLR prediction (docs/json-schema.md)
SCHEMA = "earlymem/kaslr/1"

#: INIT_MEMBLOCK_RESERVED_REGIONS headroom the argument needs (see the module doc)
_HEADROOM = 3


@dataclass(frozen=True)
class KaslrOutcome:
    """The boots that lead to one outcome, and a boot at the lowest of its places.

    :param probability: exact: (slots leading to it / slots), summed over the CPU entry
        areas' page-table counts weighted by their own probabilities (6.2+).
    :param slots: how many slots lead to it (for some count of those pages).
    :param runs: ``(first, last, count)``: consecutive slots (``align`` apart) that lead to it.
    :param result: the boot with the image at ``runs[0][0]``.
    :param cea_pages: the CPU entry areas' page-table pages of that boot (None: not drawn).
    """

    probability: Fraction
    slots: int
    runs: tuple[tuple[int, int, int], ...]
    result: BootResult
    cea_pages: int | None = None


@dataclass(frozen=True)
class KaslrPrediction:
    """Every outcome of a KASLR boot, most probable first.

    :param boots: how many boots the prediction took (the reference included).
    """

    slots: KaslrSlots
    outcomes: tuple[KaslrOutcome, ...]
    boots: int
    reference: BootResult

    def outcome_at(self, addr: int, cea_pages: int | None = None) -> KaslrOutcome | None:
        """The outcome of the boot with the image at ``addr`` (and, 6.2+, the CPU entry
        areas' page-table pages ``cea_pages``; None: any) (None: not a slot)."""
        for o in self.outcomes:
            if cea_pages is not None and o.cea_pages is not None and o.cea_pages != cea_pages:
                continue
            for first, last, _ in o.runs:
                if first <= addr <= last and (addr - first) % self.slots.align == 0:
                    return o
        return None


def outcome_key(r: BootResult) -> tuple:
    """What makes two boots the same outcome for a user (see the module doc)."""
    return (
        tuple(line.text for line in r.lines if line.family in ("crashkernel", "numa", "panic")),
        tuple((c.start, c.end, c.low) for c in r.crash),
        tuple((z.nid, z.name, z.managed) for z in r.zones),
        r.panic.message if r.panic is not None else None,
    )


def crash_summary(r: BootResult) -> str:
    """The crash region's fate in a few words."""
    if r.panic is not None:
        return f"the kernel panics ({r.panic.message})"
    if r.crash:
        return "crashkernel at " + " and ".join(f"[mem {c.start:#010x}-{c.end - 1:#010x}]" + (" (low)" if c.low else "")
                                               for c in r.crash)
    failed = [line.text for line in r.lines if line.family == "crashkernel" and "fail" in line.text.lower()]
    if failed:
        return f"crashkernel fails: {failed[-1]}"
    if r.crash_predicted:
        return "no crash region"
    return "crashkernel not predicted"


def _busy(trace) -> tuple[list[tuple[int, int]], bool]:
    """Merged ``[start, end)`` of everything reserved in a trace, and whether the array headroom holds."""
    spans = sorted((b, b + s) for kind, b, s in trace if kind == "reserve" and s > 0)
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    ok = not any(kind == "double" for kind, _, _ in trace) and all(
        cnt + _HEADROOM <= cap for kind, cnt, cap in trace if kind == "count")
    return merged, ok


def _overlaps(busy: list[tuple[int, int]], starts: list[int], a: int, b: int) -> bool:
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and busy[i][1] > a:
        return True
    j = i + 1
    return j < len(busy) and busy[j][0] < b


def predict_kaslr(machine: Machine, profile: KernelProfile, build: KernelBuild) -> KaslrPrediction | str:
    """Every outcome of booting ``machine`` with KASLR, with its exact probability; or why it is unknown."""
    slots = kaslr_slots(machine, build)
    if isinstance(slots, str):
        return slots
    if slots.disabled is not None:
        # choose_random_location(): no draw, the kernel runs at output; one outcome, certain
        at = slots.output
        result = boot(dataclasses.replace(machine, kernel_load_addr=at), profile, build)
        return KaslrPrediction(slots, (KaslrOutcome(Fraction(1), 1, ((at, at, 1),), result),), 1, result)
    cea = None
    if profile.start.cea_random and machine.cpus:
        cea = cea_table_pages(build.struct_sizes.get("cpu_entry_area", 0), len(machine.cpus))
    merged: dict[tuple, list] = {}
    n_boots = 0
    ref = None
    for pages, weight in (cea.items() if cea else [(None, Fraction(1))]):
        m = dataclasses.replace(machine, cea_pages=pages) if pages is not None else machine
        by_key, boots, reference = _enumerate(m, profile, build, slots)
        n_boots += boots
        ref = ref or reference
        for key, (result, places) in by_key.items():
            entry = merged.setdefault(key, [result, set(), Fraction(0), pages])
            entry[1].update(places)
            entry[2] += weight * slots.probability(places)
    outcomes = []
    for result, places, probability, pages in merged.values():
        runs: list[list[int]] = []
        for at in sorted(places):
            if runs and at == runs[-1][1] + slots.align:
                runs[-1][1] = at
                runs[-1][2] += 1
            else:
                runs.append([at, at, 1])
        first = runs[0][0]
        if not (result.kernel_image and result.kernel_image[0] == first):
            m = dataclasses.replace(machine, cea_pages=pages) if pages is not None else machine
            result = boot(dataclasses.replace(m, kernel_load_addr=first), profile, build)
        outcomes.append(KaslrOutcome(probability, len(places), tuple(tuple(r) for r in runs), result, pages))
    outcomes.sort(key=lambda o: (-o.probability, o.runs[0][0]))
    return KaslrPrediction(slots, tuple(outcomes), n_boots, ref)


def _enumerate(machine: Machine, profile: KernelProfile, build: KernelBuild, slots: KaslrSlots):
    """Every slot's outcome: ``({key: (a boot, [places])}, boots run, the reference boot)``."""
    saved = Memblock.TRACE
    Memblock.TRACE = True
    try:
        ref = boot(machine, profile, build, ghost_image=True)
    finally:
        Memblock.TRACE = saved
    trace = ref.memblock_trace or ()
    busy, headroom = _busy(trace)
    starts = [a for a, _ in busy]
    span = build.reserve_span or build.image_span
    # init_range_memory_mapping() takes page tables from memblock, not from the brk
    # buffer, for the range the buffer lies in (arch/x86/mm/init.c can_use_brk_pgt):
    # the first range the buffer meets, given what the reference boot had used of it
    chunks = [(trace[i][1], trace[i][1] + trace[i][2], trace[i + 1][1], trace[i + 1][2])
              for i in range(len(trace) - 1) if trace[i][0] == "map" and trace[i + 1][0] == "brk used"]

    def brk_meets(at: int) -> int | None:
        if not chunks:
            return None
        pages = chunks[0][3]
        end = at + build.image_span
        brk_start = max(at, end - pages)
        for i, (s, e, used, _) in enumerate(chunks):
            if not max(s, brk_start + used) >= min(e, brk_start + pages):
                return i
        return None
    zones = [(z.nid, z.name, z.start_pfn << 12, (z.start_pfn + z.spanned) << 12) for z in ref.zones]

    def zone_of(a: int, b: int):
        for nid, name, zs, ze in zones:
            if zs <= a and b <= ze:
                return (nid, name)
        return None

    by_key: dict[tuple, tuple[BootResult, list[int]]] = {}
    class_result: dict[tuple, BootResult] = {}
    n_boots = 1
    for at in slots.places():
        cls = None
        if headroom and not _overlaps(busy, starts, at, at + span):
            zone = zone_of(at, at + span)
            cls = (zone, brk_meets(at)) if zone is not None else None
        if cls is not None and cls in class_result:
            result = class_result[cls]
        else:
            result = boot(dataclasses.replace(machine, kernel_load_addr=at), profile, build)
            n_boots += 1
            if cls is not None:
                class_result[cls] = result
        by_key.setdefault(outcome_key(result), (result, []))[1].append(at)
    return by_key, n_boots, ref


def kaslr_applies(machine: Machine, profile: KernelProfile) -> bool:
    """Whether the kernel's place is KASLR's draw: a modern boot without nokaslr whose place no input fixes."""
    return (profile.pipeline == Pipeline.MODERN and machine.kernel_image is None and machine.kernel_load_addr is None
            and not machine.command_line.flag("nokaslr"))


def predict_for(machine: Machine, profile: KernelProfile, kernel: KernelBuild | None) -> tuple[KaslrPrediction | None, str | None]:
    """``(prediction, None)`` under KASLR; ``(None, why)`` when KASLR draws the place but
    earlymem cannot enumerate it; ``(None, None)`` when the place is not KASLR's to draw."""
    if not kaslr_applies(machine, profile):
        return None, None
    rules = profile.kaslr
    version = machine.kernel_version
    if rules.walk is None or (rules.since is not None and version is not None and version < rules.since):
        since = f" (modelled from {rules.since.major}.{rules.since.minor})" if rules.since else ""
        return None, f"the decompressor's KASLR walk of this kernel is not modelled{since}"
    build, _, why = resolve_build(machine, kernel)
    if build is None:
        return None, why
    p = predict_kaslr(machine, profile, build)
    if isinstance(p, str):
        return None, p
    return p, None
