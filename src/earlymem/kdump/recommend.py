"""``earlymem recommend``: the smallest crashkernel= this machine can both place and live with.

The size is the smallest plain ``crashkernel=SIZE`` (a multiple of 4 MiB) for
which every step is ready (:func:`earlymem.kdump.evaluate.smallest_size`),
plus a margin: max(8 MiB, 5 %), rounded up to 4 MiB.  The margin is for what
one boot does not show: the build's own use after the hand-off varies by
about 1.5 MiB between boots of the same region (the calibration boots), and
a machine with more devices than the one measured loads more drivers.

Beside it, what the peers would choose on this machine, each followed by the
same model (does it place, load and dump?):

* kdump-utils' default table (Fedora, RHEL 10: ``2G-64G:256M,64G-:512M``) and
  ``kdumpctl estimate`` (kernel + modules + 3 × initrd + 16 MiB runtime);
* Ubuntu's kdump-tools defaults (24.10+ and 20.04/22.04);
* the kernel's own ``crashkernel=auto`` where the era has one (RHEL 6-8);
* SUSE's ``kdumptool calibrate`` needs its per-flavour constants
  (/usr/lib/kdump/calibrate.conf), which earlymem does not have: not computed.

Sources: ../shared/spec/kdump-users.md §1 (rhkdump/kdump-utils@63f248c
kdump-lib.sh ``kdump_get_arch_recommend_crashkernel()``, ``get_system_size``,
kdumpctl ``do_estimate``; canonical/ubuntu-server-documentation
kernel-crash-dump.md; microsoft/lisa#2684).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.kdump.evaluate import STAGES, KdumpSetup, evaluate, ready_sizes, scan_top, smallest_size
from earlymem.kdump.memory import makedumpfile_bitmaps
from earlymem.lib.units import parse_size
from earlymem.phases.crashkernel import parse_crashkernel
from earlymem.result import to_json_value

__all__ = ["SCHEMA", "Peer", "Recommendation", "recommend", "margin_for", "PEER_TABLES"]

SCHEMA = "earlymem/recommend/1"
MiB, GiB = 1 << 20, 1 << 30
STEP = 4 * MiB

#: x86_64 crashkernel= strings the peers install (kdump-users.md §1.1, §1.5)
PEER_TABLES = {
    "kdump-utils default (Fedora, RHEL 10)": "2G-64G:256M,64G-:512M",
    "kdump-utils default (RHEL 9, 2021-2025)": "1G-4G:192M,4G-64G:256M,64G-:512M",
    "Ubuntu 24.10+ kdump-tools": "2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M",
    "Ubuntu 20.04/22.04 kdump-tools": "512M-:192M",
}
#: kdumpctl do_estimate(): the runtime term
ESTIMATE_RUNTIME = 16 * MiB
#: how far above the recommended size recommend looks for sizes that fail again: a cliff comes from the
#: capture kernel finding room for something it sizes from its region (the SWIOTLB, 64 MiB at most
#: by default: kernel/dma/swiotlb.c IO_TLB_DEFAULT_SIZE), so it ends within that much
CLIFF_LOOKAHEAD = 64 * MiB


def margin_for(size: int) -> int:
    """max(8 MiB, 5 % of ``size``), rounded up to a multiple of 4 MiB."""
    m = max(8 * MiB, size // 20)
    return -(-m // STEP) * STEP


@dataclass(frozen=True)
class Peer:
    """What a peer would choose here (``size`` None: it reserves nothing or cannot be computed) and how it fares."""

    name: str
    rule: str
    size: int | None
    stage: str | None
    why: str


@dataclass(frozen=True)
class Recommendation:
    size: int | None
    smallest: int | None
    margin: int | None
    plain: str | None
    range_list: str | None
    why: str
    peers: tuple[Peer, ...]
    assumptions: tuple[str, ...] = ()
    schema: str = field(default=SCHEMA)

    def to_json(self) -> dict:
        return to_json_value(self)


def _system_ram_kdumpctl(first) -> int:
    """kdump-utils get_system_size(): top-level System RAM of /proc/iomem, in GB after its 128 MiB roundup."""
    total = sum(r.end - r.start for r in first.iomem if r.depth == 0 and r.name == "System RAM")
    mib = total // MiB
    return (-(-mib // 128) * 128) // 1024


def _table_pick(table: str, gb: int) -> int | None:
    """kdump-utils get_recommend_size(): the first ``start-end:size`` with start <= gb < end."""
    for item in table.split(","):
        span, _, size = item.partition(":")
        lo, _, hi = span.partition("-")
        lo_gb = parse_size(lo) // GiB if lo else 0
        hi_gb = parse_size(hi) // GiB if hi else 102400 * 1024
        if lo_gb <= gb < hi_gb:
            return parse_size(size)
    return None


def _judge(setup: KdumpSetup, size: int | None) -> tuple[str | None, str]:
    if size is None or size == 0:
        return None, "reserves nothing on this machine"
    stage = evaluate(setup, f"{size // MiB}M").stage
    return stage, STAGES[stage]


def recommend(setup: KdumpSetup) -> Recommendation:
    """The recommendation for ``setup`` (see the module's text)."""
    smallest, ev, alone = smallest_size(setup, margin=margin_for)
    assumptions = [f"the capture kernel runs with --append {setup.append!r} and {setup.method.replace('_', ' ')}"]
    first = evaluate(setup, None).outcomes[0].first
    peers = _peers(setup, first)
    if smallest is None:
        cal = setup.calibration
        why = ("no size up to half the RAM is known to work: " +
               ("the capture kernel build's own memory use is not measured" if cal is None else "none places, loads and dumps"))
        return Recommendation(None, None, None, None, None, why, peers, tuple(assumptions))
    margin = margin_for(smallest)
    size = smallest + margin
    ram = sum(r.end - r.start for r in first.memory)
    lo_g = max(1, 1 << ((ram // GiB).bit_length() - 1)) if ram >= GiB else 0
    hi_g = max(lo_g * 2, 1)
    extra = sum(makedumpfile_bitmaps(hi_g * GiB // 4096, 1 << 40)) - sum(makedumpfile_bitmaps(first.max_pfn or 0, 1 << 40))
    band = -(-(size + max(0, extra)) // STEP) * STEP
    range_list = f"{lo_g}G-{hi_g}G:{band // MiB}M" if lo_g else None
    m = ev.outcomes[0].memory
    binding = "the tmpfs limit on rootfs" if m and m.tmpfs_margin < STEP else "memory during the unpack and the dump"
    why = (f"{smallest // MiB} MiB is the smallest region that places, loads and dumps, and keeps doing so up to the margin "
           f"({binding} sets it); the margin of {margin // MiB} MiB is max(8 MiB, 5 %) for what one boot does not show "
           "(boot-to-boot variation, more drivers)")
    if alone is not None and alone < smallest:
        m_alone = evaluate(setup, f"{alone // MiB}M").outcomes[0].memory
        cliff = ("its unpack fits only because the percpu allocator's second chunk waits for the late frees, and with "
                 "more room the chunk is made early and the kernel needs more" if m_alone is not None and m_alone.chunk_waits == "yes"
                 else "the capture kernel finds room for a bigger SWIOTLB, or the region lands elsewhere")
        why += f". {alone // MiB} MiB works too, but a larger region fails within its margin (a cliff: {cliff}), so it is not recommended"
    top = min(size + CLIFF_LOOKAHEAD, scan_top(setup))
    above = [(sz, e) for sz, e in ready_sizes(setup, low=size + STEP, high=top) if not e.ready] if top > size else []
    if above:
        stage = above[0][1].stage
        why += (f". Do not grow it to {above[0][0] // MiB}-{above[-1][0] // MiB} MiB: there some sizes fail again "
                f"({STAGES[stage]}), as a larger region can leave the capture kernel less (it finds room for a bigger "
                "SWIOTLB, or the region lands elsewhere)")
    if range_list:
        assumptions.append(f"the range list is for machines like this one (same kernel, initramfs and memory-map shape) with "
                           f"{lo_g}-{hi_g} GiB of RAM; it adds what makedumpfile's bitmaps grow by up to {hi_g} GiB")
    return Recommendation(size, smallest, margin, f"crashkernel={size // MiB}M", f"crashkernel={range_list}" if range_list else None,
                          why, peers, tuple(assumptions))


def _peers(setup: KdumpSetup, first) -> tuple[Peer, ...]:
    out = []
    gb = _system_ram_kdumpctl(first)
    for name, table in PEER_TABLES.items():
        size = _table_pick(table, gb)
        stage, why = _judge(setup, size)
        out.append(Peer(name, f"crashkernel={table} (RAM counted as {gb} GB)", size, stage, why))
    if setup.initrd is not None and setup.capture.image_span:
        est = setup.capture.image_span + 3 * setup.initrd.size + ESTIMATE_RUNTIME
        est = -(-est // MiB) * MiB
        table = _table_pick(PEER_TABLES["kdump-utils default (Fedora, RHEL 10)"], gb) or 0
        size = max(est, table)
        stage, why = _judge(setup, size)
        out.append(Peer("kdumpctl estimate", "max(table, kernel + modules + 3 x initrd + 16 MiB); modules counted as 0 "
                        "(no hostonly-kernel-modules.txt)", size, stage, why))
    auto = setup.profile.vendor.auto if setup.profile.vendor is not None else None
    if auto is not None:
        total = sum(r.end - r.start for r in first.memory)
        req = parse_crashkernel("crashkernel=auto", total, setup.profile)
        size = req.size if req and not req.alternatives else None
        stage, why = _judge(setup, size) if size else (None, "its size differs between builds earlymem cannot tell apart")
        out.append(Peer("kernel crashkernel=auto", "the era's built-in rule", size, stage, why))
    out.append(Peer("SUSE kdumptool calibrate", "needs /usr/lib/kdump/calibrate.conf's per-flavour constants", None, None,
                    "not computed: earlymem does not have SUSE's calibration constants"))
    return tuple(out)
