"""What a capture kernel build takes after the hand-off, measured on real boots.

Two figures the kernel's source does not give, because they are the sum of
everything the build's initcalls, drivers and first process allocate:

* **runtime**: MemTotal − MemFree − Shmem − AnonPages − the per-CPU lists'
  pages when /init runs (``kdump/meminfo`` and ``kdump/zoneinfo`` of a
  capture): the kernel's own slab, page tables, stacks and per-CPU areas.
  Rootfs's files (Shmem) are counted from the initramfs instead; /init's
  anonymous pages come after the unpack; free pages parked in the per-CPU
  lists are not in MemFree, but the allocator drains them before it fails
  (mm/page_alloc.c ``__alloc_pages_direct_reclaim()`` → ``drain_all_pages()``).
  Taken out, what is left hardly moves with the region (±0.2 MiB over
  192 MiB-512 MiB regions and 4-64 GiB machines), where MemTotal − MemFree
  grows by up to 13 MiB on 7.2 as the per-CPU lists' high marks grow with
  the zone;
* **dump_own**, **dump_own_low**: makedumpfile's own working set, the most
  and the least over the calibration boots: the peak charge of the dump's
  own memory cgroup (``oracle.memcg=1``: memory.peak, cgroup v1's
  memory.max_usage_in_bytes on 5.10) -- its anonymous memory, page tables,
  kernel objects, the pipe and the bitmap file -- less the bitmaps it takes
  on the calibration machine (:func:`earlymem.kdump.memory.makedumpfile_bitmaps`),
  which are computed for each machine instead.  Within 50 KiB per build over
  4-64 GiB, one to four nodes, bitmaps in a file and in the heap.  (Where no
  such boot exists, how far MemFree fell while init.sh polled it every
  50 ms, which can miss the peak: 0 to the most seen.)

* **runtime_low**: what the kernel had allocated when it ran out of memory
  *while unpacking* the initramfs (``oracle.oomreport=1`` boots with regions
  too small: the out-of-memory report's Mem-Info, managed − free − the
  per-CPU lists − shmem).  The unpack competes with what the kernel has
  allocated by then, which lies between this and the runtime at /init: on
  6.x the unpack runs beside the device initcalls (``initramfs_async``), and
  a 2 MiB watermark boost may come and go, so where in that band the edge
  falls is not something a model can know.

* **runtime_per_node**: what each NUMA node past the first adds to the runtime
  at /init, from the NUMA calibration boots (2 and 4 nodes).  The capture
  kernel parses the SRAT again and sizes some things by the nodes it names,
  memory or not.  Most of the figure is one of them: the BPF program pack,
  ``BPF_PROG_PACK_SIZE`` = 2 MiB × ``num_possible_nodes()``
  (kernel/bpf/core.c, the pack allocator since 5.18), taken when the boot
  JITs its first BPF program -- 4 MiB on two nodes in the capture kernel's
  /proc/vmallocinfo (tests/fixtures/dumps/diag, ``diagdetail-*``).  So 6.1
  and 6.12 measure 2.1 MiB a node, 5.10 (no pack) 0.1 MiB; 7.2's 3.2 MiB
  holds more that is not accounted for here.

* **unpack_edges**: what the kernel had allocated by the end of its unpack,
  bracketed on each calibration machine (tests/fixtures/dumps/unpack) by a
  boot that ran out of memory and one that dumped as the initramfs grew, in
  steps of 1 MiB and then 256 KiB.  The edge depends on the machine as well
  as the build: the device initcalls run beside the unpack on 6.x
  (``initramfs_async``), and each platform probes its own devices (6.1's edge
  lies 1.5 MiB further on QEMU's i440FX machine than on its Q35 one, with the
  same region); and on NUMA each node's structures are allocated by then, by
  an amount that is not the same per node (2.3-2.7 MiB a node on 6.1's four
  nodes, 0-0.4 MiB on 5.10's).  So each edge is kept with its platform (the
  DMI system name the first kernel prints) and node count, and
  :meth:`Calibration.unpack_band` picks the machine's own, or bounds it from
  the others where it is not measured.  Where a machine's outcomes did not
  flip once as the initramfs grew (7.2 on the two-node machine alternated
  between dumping and running out of memory 256 KiB apart, and repeated, the
  same boots went both ways), the edge is *irregular*: its band spans every
  room where the outcome went both ways -- from the most room of a failure
  below every dump (``runtime_low`` where none is) to the least room of a dump
  above every failure.  Even a regular edge is not sharp everywhere: the
  hold-out's pc 3 GiB machine on 7.2 dumped once 0.45 MiB below the pc 2 GiB
  machine's edge, and ran out of memory the four times it was booted again.

* **deferral** (:class:`ChunkDeferral`): one irregular edge is two regular
  ones, and the kernel says why.  The percpu allocator keeps a few free
  populated pages ahead of atomic allocations; when the first chunk runs
  short, ``pcpu_balance_populated()`` (mm/percpu.c) makes a second chunk
  with ``GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN``.  With 2 MiB units (x86_64
  embeds the first chunk with PMD-sized atoms) that chunk's memcg array
  (``pcpu_alloc_chunk()``: ``obj_exts``, 8 bytes for each 4-byte slot) is
  4 MiB, 4.15 MiB with its maps.  Where memory is plentiful when it is made,
  the kernel holds it through the unpack and needs the edge's room; where
  memory is already short then, the attempt fails quietly and the chunk is
  made after the late frees, so the kernel needs some 4 MiB less.  On 6.12's
  two-node pc machine (dumps/unpack and the diagnostic map, ``diagmap-*``,
  ``diagsteps-*``): below 13.2-13.7 MiB of room the chunk waited and boots
  dumped down to 12.3 MiB; above it they needed 15.7-16.2 MiB.  With a
  page-based first chunk (``percpu_alloc=page``, ``diagpcpu-*``) the boots
  that ran out of memory dumped.  The threshold is where, in the boot's
  order of allocations, the attempt falls, so it is measured, like the edge;
  QEMU at seven CPU speeds (``-icount``, tests/fixtures/dumps/timing) kept the
  sweep's two-node minimum on the deferred side every time.  A machine with
  such an edge dumps where the chunk waited and the room is at least the
  least such dump; between the regimes' measured ends the outcome is marginal.

The runtime is the least over the build's calibration boots
(tests/fixtures/dumps/calibrate: regions of 192, 256 and 512 MiB on 4 GiB,
and 512 MiB on 64 GiB): what the unpack sees allocated is no more than what
/init sees (the device initcalls run after rootfs's).  The dump figure is
the largest.  :data:`CALIBRATIONS` is written by
``tools/kdump_calibration.py`` from those captures; a test checks that it
still says what they say.  A build not measured has no figures: its
capture-kernel steps are then bounded, not predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Calibration", "CALIBRATIONS", "ChunkDeferral", "UnpackEdge", "calibration_for", "node_count", "percpu_chunk_bytes",
           "platform_key"]

#: the calibration machines' platforms: how the DMI system name the kernel prints starts, and its key
PLATFORMS = (("QEMU Standard PC (i440FX + PIIX", "qemu-pc"), ("QEMU Standard PC (Q35 + ICH9", "qemu-q35"))


def platform_key(dmi: str | None) -> str | None:
    """The calibration key of a machine's DMI system name (None: not a calibration platform, or unknown)."""
    return next((key for start, key in PLATFORMS if dmi and dmi.startswith(start)), None)


@dataclass(frozen=True)
class ChunkDeferral:
    """Where, on one calibration machine, the percpu allocator's second chunk waited for the late frees
    (see the module's **deferral**; bytes of the model's room, as :class:`UnpackEdge`)."""

    #: the most room of a boot that ran out of memory below the boots that dumped with the chunk waiting
    #: (None: none did; the band then reaches down to runtime_low)
    above: int | None
    #: the least room of a boot that dumped with the chunk waiting
    at_most: int
    #: the most room of a boot that dumped with the chunk waiting: up to it the chunk was seen to wait
    up_to: int
    #: the least room of a boot above those that ran out of memory: from it up the chunk was made early
    made_from: int


@dataclass(frozen=True)
class UnpackEdge:
    """What the kernel had allocated by the end of its unpack on one calibration machine (bytes of the
    model's room: MemTotal − the frees after the unpack − the files − the min watermarks)."""

    platform: str
    nodes: int
    #: the most room in which a boot ran out of memory below every boot that dumped (None: none did;
    #: the band then reaches down to runtime_low)
    above: int | None
    #: the least room in which a boot dumped above every boot that ran out of memory (None: none did)
    at_most: int | None
    #: the outcomes flipped once as the initramfs grew (False: a boot dumped with less room than one that
    #: failed; the band then spans every room where the outcome went both ways)
    regular: bool = True
    #: an irregular edge that is two regular ones: the dumps below the failures are where the percpu chunk
    #: waited (``above`` is then the most room of any failure); None: not seen, or not two clean regimes
    deferral: ChunkDeferral | None = None


@dataclass(frozen=True)
class Calibration:
    """A build's measured figures (bytes) and the boots they come from."""

    release: str
    runtime: int
    dump_own: int
    #: what the kernel had allocated when it ran out of memory during the unpack (None: no such boot)
    runtime_low: int | None
    #: what each NUMA node past the first adds to the runtime at /init (0: not measured)
    runtime_per_node: int
    source: str
    #: the unpack's edge on each calibration machine (dumps/unpack); (): not measured
    unpack_edges: tuple[UnpackEdge, ...] = ()
    #: the least own working set of makedumpfile the calibration boots showed (dump_own is the most)
    dump_own_low: int = 0

    def _edges(self, platform: str | None, nodes: int) -> tuple[list[UnpackEdge], list[UnpackEdge], list[UnpackEdge]]:
        """``(the platform's edges, the edges that bound it: its own or else every one, those with nodes)``."""
        mine = [e for e in self.unpack_edges if e.platform == platform]
        edges = mine or list(self.unpack_edges)
        return mine, edges, [e for e in edges if e.nodes == nodes]

    def unpack_band(self, platform: str | None, nodes: int) -> tuple[int, int] | None:
        """``(above, at most)``: what the kernel has allocated by the end of its unpack on a machine of
        ``platform`` (:func:`platform_key`; None or unmeasured: any calibration platform) with ``nodes``
        NUMA nodes.  A machine measured gives its own edge.  For a node count not measured the band
        runs from ``runtime_low`` (more nodes have been seen to leave less allocated: 6.12 on two) to
        the largest of the measured edges below it, each grown by ``runtime_per_node`` for every
        node more.  None: no edge measured."""
        _, edges, same = self._edges(platform, nodes)
        if not edges:
            return None
        lows = [e.above for e in edges if e.above is not None]
        floor = self.runtime_low if self.runtime_low is not None else min(lows)
        lo = min(floor if e.above is None else e.above for e in same) if same else min(floor, *lows)
        highs = [e.at_most for e in same]
        if same and None not in highs:
            return lo, max(highs)
        grown = [e.at_most + self.runtime_per_node * (nodes - e.nodes) for e in edges if e.nodes < nodes and e.at_most is not None]
        return lo, max(grown + [lo])

    def unpack_deferral(self, platform: str | None, nodes: int) -> ChunkDeferral | None:
        """The deferral measured on this machine's own platform and node count (None: not seen there)."""
        mine, _, same = self._edges(platform, nodes)
        return same[0].deferral if mine and len(same) == 1 else None

    def unpack_basis(self, platform: str | None, nodes: int) -> str:
        """Where :meth:`unpack_band` comes from, in words."""
        mine, _, same = self._edges(platform, nodes)
        where = f"{platform} machines" if mine else "every calibration platform (this machine's is not one)"
        plural = "s" if nodes > 1 else ""
        if not same:
            return f"bounded from {where}: {nodes} node{plural} not measured"
        words = f"measured on {where} with {nodes} node{plural}"
        d = self.unpack_deferral(platform, nodes)
        if d is not None:
            words += (f"; there, with {_mib(d.up_to)} of room or less at the unpack's end, the percpu allocator's second "
                      "chunk waited for the late frees (its __GFP_NORETRY attempt in pcpu_balance_populated() failed) and "
                      f"boots dumped with {_mib(d.at_most)} and more; from {_mib(d.made_from)} up it was made early")
        elif not all(e.regular for e in same):
            words += "; irregular there: boots dumped with less room than others ran out of memory with"
        return words


#: written by tools/kdump_calibration.py from tests/fixtures/dumps/calibrate (do not edit by hand)
CALIBRATIONS: dict[str, Calibration] = {
    # @@CALIBRATIONS@@
    "5.10.0-32-amd64": Calibration("5.10.0-32-amd64", 18624512, 1060864, 12374016, 86016,
                             "tests/fixtures/dumps/calibrate (13 boots of 5.10.0-32-amd64), tests/fixtures/dumps/unpack (40 boots)",
                             (UnpackEdge(platform='qemu-pc', nodes=1, above=18403328, at_most=18665472, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-pc', nodes=2, above=18456576, at_most=18718720, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=1, above=17616896, at_most=17879040, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=4, above=18456576, at_most=18718720, regular=True, deferral=None)),
                             dump_own_low=1048576),
    "6.1.0-50-amd64": Calibration("6.1.0-50-amd64", 24760320, 1208320, 17707008, 2162688,
                             "tests/fixtures/dumps/calibrate (14 boots of 6.1.0-50-amd64), tests/fixtures/dumps/unpack (49 boots)",
                             (UnpackEdge(platform='qemu-pc', nodes=1, above=23293952, at_most=23556096, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-pc', nodes=2, above=24612864, at_most=24875008, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=1, above=21716992, at_most=21979136, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=4, above=29073408, at_most=30121984, regular=False, deferral=None)),
                             dump_own_low=1183744),
    "6.12.117+deb13-amd64": Calibration("6.12.117+deb13-amd64", 17195008, 1232896, 10215424, 2236416,
                             "tests/fixtures/dumps/calibrate (13 boots of 6.12.117+deb13-amd64), tests/fixtures/dumps/unpack (35 boots), tests/fixtures/dumps/diag (27)",
                             (UnpackEdge(platform='qemu-pc', nodes=1, above=14426112, at_most=14688256, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-pc', nodes=2, above=16470016, at_most=16990208, regular=False, deferral=ChunkDeferral(above=12361728, at_most=12886016, up_to=13844480, made_from=14368768)),
                              UnpackEdge(platform='qemu-q35', nodes=1, above=14684160, at_most=14950400, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=4, above=21057536, at_most=21319680, regular=True, deferral=None)),
                             dump_own_low=1187840),
    "7.2.13+deb14-amd64": Calibration("7.2.13+deb14-amd64", 23388160, 1253376, 18173952, 3366912,
                             "tests/fixtures/dumps/calibrate (13 boots of 7.2.13+deb14-amd64), tests/fixtures/dumps/unpack (51 boots)",
                             (UnpackEdge(platform='qemu-pc', nodes=1, above=22011904, at_most=22274048, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-pc', nodes=2, above=24027136, at_most=27029504, regular=False, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=1, above=22011904, at_most=22274048, regular=True, deferral=None),
                              UnpackEdge(platform='qemu-q35', nodes=4, above=28864512, at_most=29392896, regular=True, deferral=None)),
                             dump_own_low=1228800),
}


#: mm/percpu-internal.h: one bit of a chunk's allocation map per PCPU_MIN_ALLOC_SIZE (4) bytes; one
#: struct pcpu_block_md (8 ints) per PCPU_BITMAP_BLOCK_SIZE (PAGE_SIZE) of the unit
PCPU_MIN_ALLOC_SIZE, PCPU_BLOCK_MD = 4, 32


def percpu_chunk_bytes(unit_size: int = 2 << 20) -> int:
    """What making a percpu chunk of ``unit_size`` units takes besides its populated pages (mm/percpu.c
    ``pcpu_alloc_chunk()``, 5.9 to 7.2): the memcg array, 8 bytes a slot (``obj_cgroups``, ``obj_exts``
    from 6.10) with its vmalloc page array, the allocation and boundary maps and the block metadata --
    each from ``pcpu_mem_zalloc()``, a vmalloc of whole pages above a page.  2 MiB units: 4252 KiB, the
    five areas /proc/vmallocinfo shows for ``pcpu_create_chunk`` (tests/fixtures/dumps/diag, diagdetail-*)."""
    page = 4096
    bits = unit_size // PCPU_MIN_ALLOC_SIZE
    whole = lambda n: -(-n // page) * page  # noqa: E731
    memcg = bits * 8
    return (whole(memcg) + whole(memcg // page * 8) + whole(-(-bits // 64) * 8) + whole(-(-(bits + 1) // 64) * 8)
            + whole(unit_size // page * PCPU_BLOCK_MD))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def node_count(machine) -> int:
    """The NUMA nodes a capture kernel of ``machine`` knows: the SRAT's (1 without one)."""
    return max(1, len({a.node for a in machine.numa} | {c.node for c in machine.cpus}))


def calibration_for(release: str | None) -> Calibration | None:
    """The figures of the build whose ``uname -r`` is ``release`` (None: not measured)."""
    return CALIBRATIONS.get(release or "")
