"""The capture kernel's memory, from the hand-off to the end of the dump.

Earlier stages predict the capture kernel's boot exactly (its zones' managed
pages at the hand-off and after boot, their watermarks, what it frees and
when: :class:`~earlymem.result.BootResult`).  What happens after the hand-off
is followed here in four steps, each a way the dump fails in a region that is
too small (the sweep of tests/fixtures/dumps saw each of them):

1. **rootfs is mounted** (start_kernel() → vfs_caches_init() → mnt_init() →
   init_mount_tree()): a tmpfs, whose size limit is fixed then --
   ``shmem_default_max_blocks()`` = ``totalram_pages() / 2`` (mm/shmem.c,
   5.10 to 7.2), and totalram_pages() is the hand-off's managed pages
   (memblock_free_all() adds every page it frees, deferred struct pages
   included).  An initramfs whose files need more pages stops unpacking with
   "Initramfs unpacking failed: write error" (init/initramfs.c
   ``do_copy()``/``xwrite()``), and the capture kernel finds no complete /init.
2. **the initramfs is unpacked** (``populate_rootfs()``, a rootfs_initcall):
   its files are allocated while the compressed archive is still held (it is
   freed only afterwards, "Freeing initrd memory"), and before
   ``free_initmem()`` gives back the image's init sections and gaps.  If the
   free pages fall to the zones' min watermarks, the allocator has nothing to
   reclaim (tmpfs pages without swap) and the OOM killer finds no process:
   "Kernel panic - not syncing: System is deadlocked on memory"
   (mm/oom_kill.c ``out_of_memory()``), as the sweep's 1 GiB boots show.
3. **/init runs** with MemFree = MemTotal − the kernel's own use since the
   hand-off (slab, page tables, stacks, per-CPU lists: the build's *runtime*,
   :mod:`.calibration`) − the unpacked files.
4. **the dump**: makedumpfile 1.7.2 sizes its bitmap buffer in
   ``calculate_cyclic_buffer_size()`` as min(60 % of MemFree, 4 MiB, both
   bitmaps of the crashed machine = 2 bits per page frame).  When both
   bitmaps fit in it (machines up to about 64 GiB), it works in one cycle and
   keeps them in a file under $TMPDIR, /tmp (``open_dump_bitmap()``: 2 ×
   the bitmap rounded up to a page, ``prepare_bitmap2_buffer()``), which is
   rootfs: the file must fit under the tmpfs limit too ("Can't write the
   bitmap ... No space left on device", as the sweep's 8 GiB boots show);
   otherwise it works in cycles through a heap buffer of that size, one bitmap
   at a time: for the kdump-compressed format ``create_dump_bitmap()`` frees
   the 2nd bitmap's buffer once it has counted the dumpable pages, and
   ``write_kdump_pages_and_bitmap_cyclic()`` frees the 1st bitmap's before it
   allocates the 2nd's (``prepare_bitmap1_buffer()``,
   ``prepare_bitmap2_buffer()``; 64 GiB calibration boots peak at 4 MiB plus
   the working set, not 8).  Beside them it needs its own working set (the
   build's *dump_own*, the dump's memory cgroup's peak charge less the
   bitmaps on the calibration machines).  It must not bring MemFree below the
   min watermarks.

Step 2 is a band, not a line.  What the unpack competes with at its end is
measured on calibration machines, where boots grew the initramfs until it ran
out of memory (:meth:`Calibration.unpack_band`, tests/fixtures/dumps/unpack):
to 256 KiB on the machine's own platform and node count; wider where the
machine is not one measured, or where its edge was irregular; where nothing is
measured, it lies between what the kernel had allocated when an unpack ran out
of memory (:attr:`Calibration.runtime_low`) and what it holds at /init
(:attr:`Calibration.runtime`).  A region whose margin is negative at the low
end fails; positive at the high end, it passes; in between the outcome is
**marginal**, and earlymem says so rather than guess.  The real edge is
deterministic on one-node machines (tests/fixtures/dumps/repeat: six boots of
each of three once-marginal captures did the same every time).  Where a
calibration machine showed the percpu allocator's second chunk waiting for the
late frees (:class:`~earlymem.kdump.calibration.ChunkDeferral`: its
``__GFP_NORETRY`` attempt fails when memory is already short), a region whose
room lies in the run of boots that dumped that way passes the unpack, and one
between that run and the failures above it is marginal.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.kdump.calibration import Calibration, ChunkDeferral
from earlymem.kdump.initrd import InitrdFacts
from earlymem.result import BootResult

__all__ = ["CaptureMemory", "capture_memory", "makedumpfile_bitmaps", "EARLY_FREES"]

PAGE = 4096
#: what a boot frees before populate_rootfs() runs: alternative_instructions() (check_bugs() in 5.10,
#: arch_cpu_finalize_init() from 6.x) frees the SMP lock section in start_kernel(); every other
#: Free (initrd, free_initmem()'s init sections and gaps, the decrypted section) comes after the unpack
EARLY_FREES = ("SMP alternatives",)
#: makedumpfile.c calculate_cyclic_buffer_size(): "4MB will be enough for performance"
MAKEDUMPFILE_BITMAP_MAX = 4 << 20


def makedumpfile_bitmaps(max_mapnr: int, memfree: int) -> tuple[int, int]:
    """``(heap, file)``: the bytes makedumpfile 1.7.2's bitmaps take at their peak in its heap and in
    its bitmap file under /tmp, for a crashed machine of ``max_mapnr`` page frames and ``memfree``
    free, writing the kdump-compressed format (``-c``/``-l``/``-p``/``-z``; not ``-E``)."""
    buf = min(int(memfree * 0.6), MAKEDUMPFILE_BITMAP_MAX, max_mapnr * 2 // 8)
    if buf * 8 >= max_mapnr * 2:  # one cycle: the bitmap file, read through a BUFSIZE_BITMAP buffer each
        bitmap = -(-max_mapnr // 8)  # prepare_bitmap2_buffer(): divideup(max_mapnr, BITPERBYTE) bytes,
        per = -(-bitmap // PAGE) * PAGE  # rounded up to the page size
        return 2 * PAGE, 2 * per
    # cyclic: one bufsize_cyclic buffer at a time (create_dump_bitmap(), write_kdump_pages_and_bitmap_cyclic())
    return buf, 0


@dataclass(frozen=True)
class CaptureMemory:
    """The capture kernel's memory at each step (bytes; negative margins are shortfalls).

    :param handoff: managed memory at the hand-off (totalram_pages() when rootfs is mounted).
    :param total: MemTotal after boot (the hand-off plus what the kernel gave back).
    :param min_watermark: the zones' min watermarks, summed.
    :param tmpfs_limit: rootfs's size limit (handoff / 2).
    :param unpacked: the initramfs's files in rootfs.
    :param runtime: the build's own use between the hand-off and /init (None: not measured for this build).
    :param dump: makedumpfile's need on this machine, its bitmap file included (None: not measured for this build).
    :param dump_file: the part of ``dump`` in its bitmap file under /tmp (rootfs).
    :param memfree_at_init: MemFree when /init runs (None: runtime unknown).
    """

    handoff: int
    total: int
    min_watermark: int
    tmpfs_limit: int
    unpacked: int
    initrd: int
    late_frees: int
    runtime: int | None
    runtime_low: int | None
    dump: int | None
    dump_file: int
    calibration: str | None
    #: what the unpack competes with at its end, at most (None: the runtime at /init stands for it)
    unpack_runtime: int | None = None
    #: makedumpfile's own working set, beside its bitmaps (the part of ``dump`` measured, not derived)
    dump_own: int = 0
    #: the least own working set the calibration boots showed (the optimistic end of the dump's band)
    dump_own_low: int = 0
    #: where the unpack's band comes from, in words (None: no edge measured for this build)
    unpack_basis: str | None = None
    #: the machine's calibration platform (earlymem.kdump.calibration.platform_key; None: not one measured)
    platform: str | None = None
    #: where the percpu chunk was seen to wait on the machine's own calibration machine (None: not seen)
    deferral: ChunkDeferral | None = None

    @property
    def room(self) -> int:
        """Free memory at the unpack's end above the min watermarks before the kernel's own use."""
        return self.total - self.late_frees - self.unpacked - self.min_watermark

    @property
    def chunk_waits(self) -> str | None:
        """For a region short at the band's top: "yes" where its room lies in the run of calibration boots
        that dumped with the percpu chunk waiting, "maybe" between that run and the failures on either
        side of it, None where the deferral says nothing (not seen, the room is where boots failed, below
        the run with no failure measured under it, or the files overflow rootfs anyway)."""
        d = self.deferral
        if d is None or self.unpack_margin is None or self.unpack_margin >= 0 or self.tmpfs_margin < 0:
            return None
        if d.at_most <= self.room <= d.up_to:
            return "yes"
        if d.up_to < self.room < d.made_from or (d.above is not None and d.above < self.room < d.at_most):
            return "maybe"
        return None

    @property
    def tmpfs_margin(self) -> int:
        return self.tmpfs_limit - self.unpacked

    @property
    def unpack_margin(self) -> int | None:
        """Free memory left when the unpack ends, above the min watermarks, with the runtime at /init
        (the pessimistic end of the band)."""
        if self.runtime is None:
            return None
        used = self.unpack_runtime if self.unpack_runtime is not None else self.runtime
        return self.total - self.late_frees - used - self.unpacked - self.min_watermark

    @property
    def unpack_margin_low(self) -> int | None:
        """The same with the runtime an unpack was seen to compete with (the optimistic end)."""
        if self.runtime_low is None:
            return None
        return self.total - self.late_frees - self.runtime_low - self.unpacked - self.min_watermark

    @property
    def memfree_at_init(self) -> int | None:
        return None if self.runtime is None else self.total - self.runtime - self.unpacked

    @property
    def dump_margin(self) -> int | None:
        if self.runtime is None or self.dump is None:
            return None
        return self.memfree_at_init - self.dump - self.min_watermark

    @property
    def dump_margin_low(self) -> int | None:
        """The dump's margin with the least own working set the calibration boots showed (the
        optimistic end)."""
        if self.dump_margin is None:
            return None
        return self.dump_margin + self.dump_own - self.dump_own_low

    @property
    def dump_tmpfs_margin(self) -> int:
        """What rootfs has left once makedumpfile's bitmap file is written."""
        return self.tmpfs_limit - self.unpacked - self.dump_file

    @property
    def failure(self) -> str | None:
        """The first step that fails or may fail: "tmpfs", "unpack", "marginal" (the unpack lies in
        the band), "dump-tmpfs", "dump"; None when all pass or are unknown.

        The unpack writes files until rootfs is full or memory runs out, whichever comes first: rootfs's
        limit is the failure when the memory left for files at the pessimistic end is at least the
        limit; otherwise the memory runs out first (the SWIOTLB cliff's small hand-offs), and a region
        the files overflow either way fails by running out of memory or by filling rootfs."""
        if self.tmpfs_margin < 0 and (self.unpack_margin is None or self.tmpfs_limit <= self.unpacked + self.unpack_margin):
            return "tmpfs"
        if self.unpack_margin is not None and self.unpack_margin < 0 and self.chunk_waits != "yes":
            if self.chunk_waits == "maybe":
                return "marginal"
            low = self.unpack_margin_low
            return "unpack" if low is None or low <= 0 or self.tmpfs_margin < 0 else "marginal"
        if self.dump_tmpfs_margin < 0:
            return "dump-tmpfs"
        if self.dump_margin is not None and self.dump_margin < 0:
            return "dump" if self.dump_margin_low < 0 else "marginal"
        return None

    @property
    def known(self) -> bool:
        """Whether every step is predicted (the build's runtime and dump figures are measured)."""
        return self.runtime is not None and self.dump is not None


def _frees(capture: BootResult, initrd: InitrdFacts, image_frees: dict[str, int]) -> tuple[int, int]:
    """``(early, late)`` bytes the capture kernel frees after the hand-off: its predicted Frees, or
    where they are not predicted (the possible CPUs unknown) the build's image frees and the initrd."""
    if capture.frees is not None:
        early = sum(f.pages for f in capture.frees if f.what in EARLY_FREES) * PAGE
        return early, sum(f.pages for f in capture.frees) * PAGE - early
    early = image_frees.get("smp_locks", 0)
    late = sum(v for k, v in image_frees.items() if k != "smp_locks") + -(-initrd.size // PAGE) * PAGE
    return early, late


def capture_memory(capture: BootResult, initrd: InitrdFacts, calibration: Calibration | None, crashed_max_pfn: int,
                   image_frees: dict[str, int] | None = None, nodes: int = 1, platform: str | None = None) -> CaptureMemory:
    """Follow the capture kernel ``capture`` (a predicted boot) with ``initrd`` through the four steps.

    :param calibration: the capture build's measured runtime and dump figures (None: not measured).
    :param crashed_max_pfn: the crashed machine's max_pfn (makedumpfile's bitmaps cover it).
    :param image_frees: the capture build's image frees (KernelBuild.image_frees), used where the
        capture boot's frees are not predicted.
    :param nodes: the NUMA nodes the capture kernel knows (each past the first adds to the runtime).
    :param platform: the machine's calibration platform (:func:`~earlymem.kdump.calibration.platform_key`;
        None: not one measured): the unpack's edge is the platform's own where it is measured.
    """
    handoff = sum(z.managed_at_handoff or 0 for z in capture.zones) * PAGE
    early, late = _frees(capture, initrd, dict(image_frees or {}))
    total = handoff + early + late
    wmin = sum(z.min or 0 for z in capture.zones) * PAGE
    runtime = runtime_low = dump = unpack_runtime = basis = None
    # MemFree as makedumpfile reads it: without the runtime when it is known, else the most it can be
    extra = calibration.runtime_per_node * (nodes - 1) if calibration else 0
    memfree = total - initrd.unpacked_bytes - (calibration.runtime + extra if calibration else 0)
    heap, file = makedumpfile_bitmaps(crashed_max_pfn, max(memfree, 0))
    if calibration is not None:
        runtime, runtime_low = calibration.runtime + extra, calibration.runtime_low
        band = calibration.unpack_band(platform, nodes)
        if band is not None:  # the edge measured on calibration machines: (above, at most)
            runtime_low, unpack_runtime = band
            basis = calibration.unpack_basis(platform, nodes)
        dump = calibration.dump_own + heap + file
    return CaptureMemory(handoff, total, wmin, handoff // PAGE // 2 * PAGE, initrd.unpacked_bytes, initrd.size, late, runtime,
                         runtime_low, dump, file, calibration.source if calibration else None, unpack_runtime,
                         dump_own=calibration.dump_own if calibration else 0,
                         dump_own_low=calibration.dump_own_low if calibration else 0, unpack_basis=basis, platform=platform,
                         deferral=calibration.unpack_deferral(platform, nodes) if calibration else None)
