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
* **dump_own**: how far MemFree falls while makedumpfile runs
  (``oracle.calibrate=1``: init.sh polls MemFree every 50 ms), less the
  bitmaps makedumpfile takes on the calibration machine
  (:func:`earlymem.kdump.memory.makedumpfile_bitmaps`), which are computed
  for each machine instead.

* **runtime_low**: what the kernel had allocated when it ran out of memory
  *while unpacking* the initramfs (``oracle.oomreport=1`` boots with regions
  too small: the out-of-memory report's Mem-Info, managed − free − the
  per-CPU lists − shmem).  The unpack competes with what the kernel has
  allocated by then, which lies between this and the runtime at /init: on
  6.x the unpack runs beside the device initcalls (``initramfs_async``), and
  a 2 MiB watermark boost may come and go, so where in that band the edge
  falls is not something a model can know.

* **runtime_per_node**: the capture kernel parses the SRAT again and keeps
  per-node structures (slab caches' node parts, per-node kthreads, vmstat)
  for every node it names, memory or not: what each node past the first adds
  to the runtime at /init, from the NUMA calibration boots (2 and 4 nodes).
  Whether it is allocated before the unpack is not known, so it widens the
  band: it is added at the pessimistic end only.

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

__all__ = ["Calibration", "CALIBRATIONS", "calibration_for", "node_count"]


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
    #: (above, at most): what the kernel had allocated by the end of the unpack, bracketed by boots that ran out
    #: of memory and boots that dumped as the initramfs grew 1 MiB at a time (dumps/unpack); None: not measured
    unpack_band: tuple[int, int] | None = None


#: written by tools/kdump_calibration.py from tests/fixtures/dumps/calibrate (do not edit by hand)
CALIBRATIONS: dict[str, Calibration] = {
    # @@CALIBRATIONS@@
    "5.10.0-32-amd64": Calibration("5.10.0-32-amd64", 18624512, 1269760, 12374016, 81920,
                             "tests/fixtures/dumps/calibrate: cal-numa2-8g-ck256-small--5.10, cal-numa4-16g-ck256-small--5.10, cal-pc-4g-ck192-small--5.10, cal-pc-4g-ck256-small--5.10, cal-pc-4g-ck512-small--5.10, cal-q35-64g-ck512-small--5.10, cal-pc-1g-ck76-oom--5.10, tests/fixtures/dumps/unpack: unpack-5.10-pc-2g-ck88-pad2--5.10, unpack-5.10-pc-2g-ck88-pad3--5.10, unpack-5.10-pc-2g-ck88-pad4--5.10, unpack-5.10-pc-2g-ck88-pad5--5.10, unpack-5.10-pc-2g-ck88-pad6--5.10, unpack-5.10-pc-2g-ck88-pad7--5.10, unpack-5.10-pc-2g-ck88-pad8--5.10, unpackq-5.10-q35-2g-ck88-pad2--5.10, unpackq-5.10-q35-2g-ck88-pad3--5.10, unpackq-5.10-q35-2g-ck88-pad4--5.10, unpackq-5.10-q35-2g-ck88-pad5--5.10, unpackq-5.10-q35-2g-ck88-pad6--5.10, unpackq-5.10-q35-2g-ck88-pad7--5.10, unpackq-5.10-q35-2g-ck88-pad8--5.10",
                             (17616896, 18665472)),
    "6.1.0-50-amd64": Calibration("6.1.0-50-amd64", 24760320, 937984, 17707008, 2162688,
                             "tests/fixtures/dumps/calibrate: cal-numa2-8g-ck256-small--6.1, cal-numa4-16g-ck256-small--6.1, cal-pc-4g-ck192-small--6.1, cal-pc-4g-ck256-small--6.1, cal-pc-4g-ck512-small--6.1, cal-q35-64g-ck512-small--6.1, cal-pc-2g-ck84-oom--6.1, cal-pc-2g-ck88-oom--6.1, tests/fixtures/dumps/unpack: unpack-6.1-pc-2g-ck96-pad0--6.1, unpack-6.1-pc-2g-ck96-pad1--6.1, unpack-6.1-pc-2g-ck96-pad2--6.1, unpack-6.1-pc-2g-ck96-pad3--6.1, unpack-6.1-pc-2g-ck96-pad4--6.1, unpack-6.1-pc-2g-ck96-pad5--6.1, unpack-6.1-pc-2g-ck96-pad6--6.1, unpackq-6.1-q35-2g-ck96-pad0--6.1, unpackq-6.1-q35-2g-ck96-pad1--6.1, unpackq-6.1-q35-2g-ck96-pad2--6.1, unpackq-6.1-q35-2g-ck96-pad3--6.1, unpackq-6.1-q35-2g-ck96-pad4--6.1, unpackq-6.1-q35-2g-ck96-pad5--6.1, unpackq-6.1-q35-2g-ck96-pad6--6.1",
                             (21192704, 24342528)),
    "6.12.117+deb13-amd64": Calibration("6.12.117+deb13-amd64", 17195008, 962560, 10215424, 2170880,
                             "tests/fixtures/dumps/calibrate: cal-numa2-8g-ck256-small--6.12, cal-numa4-16g-ck256-small--6.12, cal-pc-4g-ck192-small--6.12, cal-pc-4g-ck256-small--6.12, cal-pc-4g-ck512-small--6.12, cal-q35-64g-ck512-small--6.12, cal-pc-1g-ck72-oom--6.12, tests/fixtures/dumps/unpack: unpack-6.12-pc-2g-ck84-pad2--6.12, unpack-6.12-pc-2g-ck84-pad3--6.12, unpack-6.12-pc-2g-ck84-pad4--6.12, unpack-6.12-pc-2g-ck84-pad5--6.12, unpack-6.12-pc-2g-ck84-pad6--6.12, unpack-6.12-pc-2g-ck84-pad7--6.12, unpack-6.12-pc-2g-ck84-pad8--6.12, unpackq-6.12-q35-2g-ck84-pad2--6.12, unpackq-6.12-q35-2g-ck84-pad3--6.12, unpackq-6.12-q35-2g-ck84-pad4--6.12, unpackq-6.12-q35-2g-ck84-pad5--6.12, unpackq-6.12-q35-2g-ck84-pad6--6.12, unpackq-6.12-q35-2g-ck84-pad7--6.12, unpackq-6.12-q35-2g-ck84-pad8--6.12",
                             (13897728, 14954496)),
    "7.2.13+deb14-amd64": Calibration("7.2.13+deb14-amd64", 23388160, 376832, 18173952, 3366912,
                             "tests/fixtures/dumps/calibrate: cal-numa2-8g-ck256-small--7.2, cal-numa4-16g-ck256-small--7.2, cal-pc-4g-ck192-small--7.2, cal-pc-4g-ck256-small--7.2, cal-pc-4g-ck512-small--7.2, cal-q35-64g-ck512-small--7.2, cal-pc-2g-ck88-oom--7.2, tests/fixtures/dumps/unpack: unpack-7.2-pc-2g-ck96-pad2--7.2, unpack-7.2-pc-2g-ck96-pad3--7.2, unpack-7.2-pc-2g-ck96-pad4--7.2, unpack-7.2-pc-2g-ck96-pad5--7.2, unpack-7.2-pc-2g-ck96-pad6--7.2, unpack-7.2-pc-2g-ck96-pad7--7.2, unpack-7.2-pc-2g-ck96-pad8--7.2, unpackq-7.2-q35-2g-ck96-pad2--7.2, unpackq-7.2-q35-2g-ck96-pad3--7.2, unpackq-7.2-q35-2g-ck96-pad4--7.2, unpackq-7.2-q35-2g-ck96-pad5--7.2, unpackq-7.2-q35-2g-ck96-pad6--7.2, unpackq-7.2-q35-2g-ck96-pad7--7.2, unpackq-7.2-q35-2g-ck96-pad8--7.2",
                             (21487616, 22540288)),
}


def node_count(machine) -> int:
    """The NUMA nodes a capture kernel of ``machine`` knows: the SRAT's (1 without one)."""
    return max(1, len({a.node for a in machine.numa} | {c.node for c in machine.cpus}))


def calibration_for(release: str | None) -> Calibration | None:
    """The figures of the build whose ``uname -r`` is ``release`` (None: not measured)."""
    return CALIBRATIONS.get(release or "")
