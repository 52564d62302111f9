#!/usr/bin/env python3
"""Derive earlymem.kdump.calibration.CALIBRATIONS from the calibration captures.

    python tools/kdump_calibration.py [tests/fixtures/dumps/calibrate] [--write]

For each capture (a dump boot with oracle.calibrate=1) it reads the capture
kernel's /proc/meminfo and /proc/zoneinfo at /init and the least MemFree the
dump left, and the crashed machine's max_pfn from its first kernel's boot
(earlymem's own prediction of the log); it prints one row per capture and,
per build, the runtime (the least seen: what is allocated by the time the
initramfs is unpacked is no more than at /init) and the largest dump figure.  --write puts the table into
src/earlymem/kdump/calibration.py between its markers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from earlymem.kdump.calibration import ChunkDeferral, UnpackEdge, node_count, percpu_chunk_bytes, platform_key  # noqa: E402
from earlymem.kdump.memory import makedumpfile_bitmaps  # noqa: E402
from earlymem.kernels.eras import check_known  # noqa: E402
from earlymem.pipeline import boot  # noqa: E402
from earlymem.sources.capture import read_capture  # noqa: E402
from earlymem.sources.dmesg import machine_from_boot_log, parse_boot_logs  # noqa: E402

MODULE = ROOT / "src/earlymem/kdump/calibration.py"


def _first_machine(directory: Path, cap):
    """The first kernel's machine, from the capture's first/dmesg section."""
    return machine_from_boot_log(parse_boot_logs(cap.section("first/dmesg"), f"{directory.name}/first/dmesg")[0])


def _kb(lines: list[str], key: str) -> int:
    for line in lines:
        m = re.match(rf"{key}:\s+(\d+) kB", line)
        if m:
            return int(m.group(1)) << 10
    raise SystemExit(f"no {key} in the capture's kdump/meminfo")


def oom_runtime(directory: Path, cap) -> dict | None:
    """A boot whose capture kernel ran out of memory while unpacking the initramfs (oracle.oomreport=1):
    what the kernel had allocated then, from its Mem-Info -- managed − free − the per-CPU lists − shmem."""
    text = [ln.rstrip("\r") for ln in cap.serial]
    crash = next((i for i, ln in enumerate(text) if "@@@@CRASH first@@@@" in ln), None)
    if crash is None:
        return None
    after = text[crash + 1:]
    start = next((i for i, ln in enumerate(after) if "invoked oom-killer" in ln), None)
    if start is None:
        return None
    report = after[start:start + 200]
    if not any("unpack_to_rootfs" in ln for ln in report):
        return {"capture": directory.name, "skip": "the capture kernel ran out of memory before the unpack"}
    zones = [ln for ln in report if re.search(r"Node \d+ \w+ free:\d+kB", ln)]
    kb = lambda key, lines: sum(int(m.group(1)) for ln in lines for m in [re.search(rf"\b{key}:(\d+)kB", ln)] if m) << 10
    node = [ln for ln in report if re.search(r"Node \d+ active_anon:", ln)]
    managed, free, pcp, shmem = kb("managed", zones), kb("free", zones), kb("free_pcp", zones), kb("shmem", node)
    release = _first_machine(directory, cap).kernel_version.text
    return {"capture": directory.name, "release": release, "runtime_low": managed - free - pcp - shmem}


_PAD = re.compile(r"\+ ([\d.]+) (MiB|KiB) of zeros")


def unpack_edge(directory: Path, cap) -> dict | None:
    """A dumps/unpack boot: the small dump initramfs grown by ``pad`` MiB of zeros.  What the model puts
    free at the end of its unpack with nothing allocated by the kernel -- MemTotal − the frees after
    the unpack − the files − the min watermarks -- less what the kernel had allocated by then must be
    >= 0 where the boot dumped, < 0 where it ran out of memory: the row gives that free figure."""
    from earlymem.kdump.evaluate import KdumpSetup, evaluate
    from earlymem.kdump.initrd import InitrdFacts
    from earlymem.kexec.capture import LoadMethod
    from earlymem.oracle.sweep import classify
    from earlymem.verification import _kexec_inputs

    if cap.section("first/dmesg") is None:
        return {"capture": directory.name, "skip": "the first kernel left no log"}
    m = _PAD.search(cap.note)
    pad = round(float(m.group(1)) * (1 << (20 if m.group(2) == "MiB" else 10))) if m else 0
    machine = _first_machine(directory, cap)
    inputs = _kexec_inputs(cap, machine)
    initrd = InitrdFacts(inputs["initrd_size"], 1440 + pad // 4096, 11 + bool(pad), "small + pad")
    setup = KdumpSetup(machine, check_known(machine.kernel_version), None, inputs["capture"], initrd, inputs["append"],
                       LoadMethod.KEXEC_LOAD, inputs["cpus"], 0)
    mem = evaluate(setup).outcomes[0].memory
    room = mem.total - mem.late_frees - mem.unpacked - mem.min_watermark
    outcome = classify(directory, False)[0]
    if outcome not in ("dumped", "oom"):
        return {"capture": directory.name, "skip": f"neither dumped nor out of memory ({outcome})"}
    if mem.tmpfs_margin < 0:
        return {"capture": directory.name, "skip": "rootfs's limit comes first at this pad"}
    return {"capture": directory.name, "release": machine.kernel_version.text, "pad": pad, "room": room,
            "dumped": outcome == "dumped", "platform": platform_key(machine.dmi), "nodes": node_count(machine)}


def measure(directory: Path) -> dict:
    cap = read_capture(directory)
    if directory.name.startswith(("unpack",) + DIAG_EDGE):
        return unpack_edge(directory, cap)
    if cap.section("kdump/meminfo") is None:
        return oom_runtime(directory, cap) or {"capture": directory.name, "skip": "no kdump/meminfo and no out-of-memory report"}
    meminfo = cap.section("kdump/meminfo")
    dump = cap.section("kdump/makedumpfile") or []
    least = next((int(m.group(1)) << 10 for ln in dump for m in [re.search(r"least MemFree: (\d+) kB", ln)] if m), None)
    # oracle.memcg=1: the dump's own memory cgroup's peak charge (exact; polling MemFree is not)
    peak = next((int(m.group(1)) << 10 for ln in dump for m in [re.search(r"memcg peak: (\d+) kB", ln)] if m), None)
    if least is None and peak is None:  # an oracle.oomreport=1 boot whose region was large enough after all
        return {"capture": directory.name, "skip": "the capture kernel did not run out of memory (and its dump was not watched)"}
    machine = _first_machine(directory, cap)
    release = machine.kernel_version.text
    nodes = node_count(machine)
    first = boot(machine, check_known(machine.kernel_version))
    total, free, shmem, anon = (_kb(meminfo, k) for k in ("MemTotal", "MemFree", "Shmem", "AnonPages"))
    # free pages parked in the per-CPU lists (zoneinfo's "count:" of each pageset) are not in MemFree
    # but the allocator drains them before it gives up
    pcp = sum(int(m.group(1)) for ln in cap.section("kdump/zoneinfo") or [] for m in [re.match(r"\s+count:\s+(\d+)", ln)] if m) * 4096
    bitmaps = sum(makedumpfile_bitmaps(first.max_pfn, free))
    heap = makedumpfile_bitmaps(first.max_pfn, free)[1] == 0
    fall = peak if peak is not None else free - least
    return {"capture": directory.name, "release": release, "runtime": total - free - shmem - pcp - anon, "nodes": nodes,
            "dump_own": max(0, fall - bitmaps), "fall": fall, "bitmaps": bitmaps, "memcg": peak is not None,
            "heap": heap}


def deferral(bad: list[int], ok: list[int]) -> ChunkDeferral | None:
    """The dumps below the most room of a failure, if they are where the percpu chunk waited
    (calibration.py's **deferral**): one run with no failure among them, failures above, and the two
    regimes' needs apart by what the chunk takes (:func:`percpu_chunk_bytes`) -- the regime above needs
    more than the most room of any failure and no more than the least dump above it; the run's, no more
    than its least dump and more than the failure below it.  Else None."""
    low = sorted(o for o in ok if o < max(bad))
    if not low or any(low[0] < b < low[-1] for b in bad):
        return None
    below = max((b for b in bad if b < low[0]), default=None)
    at_most = min((o for o in ok if o > max(bad)), default=None)
    apart = (max(bad) - low[0], None if at_most is None or below is None else at_most - below)
    chunk = percpu_chunk_bytes()
    if not (apart[0] < chunk and (apart[1] is None or chunk < apart[1])):
        return None
    return ChunkDeferral(below, low[0], low[-1], min(b for b in bad if b > low[-1]))


def unpack_edges(rows: list[dict]) -> tuple[UnpackEdge, ...]:
    """One build's unpack-edge boots, per machine (platform and node count): a boot that dumped says the
    kernel had allocated no more than its room by the end of the unpack; one that ran out of memory, more.
    Regular: every failure had less room than every dump, and the edge lies between the two nearest.
    Irregular (a dump with less room than a failure): where the dumps below the failures are one run
    (:func:`deferral`), the edge is the regime above them -- from the most room of any failure to the
    least room of a dump above it -- and the run is kept; otherwise the band runs from the most room of
    a failure below every dump to the least room of a dump above every failure."""
    out = []
    for platform, nodes in sorted({(r["platform"], r["nodes"]) for r in rows}, key=lambda k: (k[0] or "", k[1])):
        mine = [r for r in rows if (r["platform"], r["nodes"]) == (platform, nodes)]
        bad = [r["room"] for r in mine if not r["dumped"]]
        ok = [r["room"] for r in mine if r["dumped"]]
        if platform is None or not bad:
            continue  # not a calibration platform, or no failure: nothing bounds the edge from below
        least_ok = min(ok, default=None)
        at_most = min((o for o in ok if o > max(bad)), default=None)
        regular = least_ok is None or max(bad) < least_ok
        waited = None if regular else deferral(bad, ok)
        if regular or waited is not None:
            above = max(bad)
        else:
            above = max((b for b in bad if b < least_ok), default=None)
        out.append(UnpackEdge(platform, nodes, above, at_most, regular, waited))
    return tuple(out)


#: diagnostic boots (dumps/diag) that are unpack-edge boots as well: the calibration machine, the small
#: initramfs with or without zeros, nothing added to the capture kernel's command line
DIAG_EDGE = ("diagmap-", "diagsteps-")


def derive(where: Path, unpack: Path | None = None) -> tuple[list[dict], dict]:
    """Every capture's row, and the table: release -> Calibration.  ``unpack``: the dumps/unpack boots."""
    from earlymem.kdump.calibration import Calibration

    dirs = sorted(d for d in where.iterdir() if d.is_dir())
    unpack = unpack if unpack is not None else where.parent / "unpack"
    if unpack.is_dir():
        dirs += sorted(d for d in unpack.iterdir() if d.is_dir())
    diag = unpack.parent / "diag"
    if diag.is_dir():
        dirs += sorted(d for d in diag.iterdir() if d.is_dir() and d.name.startswith(DIAG_EDGE) and "oomreport" not in d.name)
    rows = [measure(d) for d in dirs]
    table = {}
    used = [r for r in rows if "skip" not in r]
    for release in sorted({r["release"] for r in used}):
        mine = [r for r in used if r["release"] == release and "runtime" in r]
        single = [r for r in mine if r["nodes"] == 1]
        low = [r for r in used if r["release"] == release and "runtime_low" in r]
        # where the figures come from, as a user reads it in check's evidence (this tool lists every boot)
        names = f"tests/fixtures/dumps/calibrate ({len(mine + low)} boots of {release})"
        base = min(r["runtime"] for r in single)
        per_node = max([(r["runtime"] - base) // (r["nodes"] - 1) for r in mine if r["nodes"] > 1] + [0])
        edge = [r for r in used if r["release"] == release and "room" in r]
        edges = unpack_edges(edge)
        if edges:
            diag = sum(r["capture"].startswith(DIAG_EDGE) for r in edge)
            names += f", tests/fixtures/dumps/unpack ({len(edge) - diag} boots)" + (f", tests/fixtures/dumps/diag ({diag})" if diag else "")
        # makedumpfile's own working set: from the memory cgroup's peak where boots measured it so (exact),
        # else from polled MemFree (0 to the most seen)
        exact = [r["dump_own"] for r in mine if r["memcg"]]
        own, own_low = (max(exact), min(exact)) if exact else (max(r["dump_own"] for r in mine), 0)
        table[release] = Calibration(release, base, own, min((r["runtime_low"] for r in low), default=None),
                                     per_node, names, edges, own_low)
    return rows, table


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--write"]
    where = Path(args[0]) if args else ROOT / "tests/fixtures/dumps/calibrate"
    rows, derived = derive(where)
    print(f"{'capture':40} {'runtime':>10} {'MemFree fall':>12} {'bitmaps':>9} {'dump_own':>9}")
    for r in rows:
        if "skip" in r:
            print(f"{r['capture']:40} not used: {r['skip']}")
        elif "room" in r:
            print(f"{r['capture']:44} pad {r['pad'] / (1 << 20):5.2f} MiB: {'dumped' if r['dumped'] else 'out of memory'}, "
                  f"room {r['room'] >> 10}K ({r['platform']}, {r['nodes']} node{'s' if r['nodes'] > 1 else ''})")
        elif "runtime_low" in r:
            print(f"{r['capture']:40} {r['runtime_low'] >> 10:>9}K  (at the out-of-memory report, during the unpack)")
        else:
            print(f"{r['capture']:40} {r['runtime'] >> 10:>9}K {r['fall'] >> 10:>11}K {r['bitmaps'] >> 10:>8}K {r['dump_own'] >> 10:>8}K"
                  f"  ({r['nodes']} node{'s' if r['nodes'] > 1 else ''})")
    table = []
    for release, c in derived.items():
        edges = ",\n                              ".join(repr(e) for e in c.unpack_edges)
        table.append(f'    "{release}": Calibration("{release}", {c.runtime}, {c.dump_own}, {c.runtime_low}, {c.runtime_per_node},\n'
                     f'                             "{c.source}",\n                             ({edges}{"," if len(c.unpack_edges) == 1 else ""}),\n'
                     f'                             dump_own_low={c.dump_own_low}),')
        low = f"{c.runtime_low >> 10}K" if c.runtime_low is not None else "?"
        bands = "; ".join(f"{e.platform} {e.nodes}n {'?' if e.above is None else e.above >> 10}K-{'?' if e.at_most is None else e.at_most >> 10}K"
                          f"{'' if e.regular else ' irregular'}"
                          f"{'' if e.deferral is None else f' (chunk waited: dumped {e.deferral.at_most >> 10}K-{e.deferral.up_to >> 10}K)'}"
                          for e in c.unpack_edges) or "?"
        print(f"{release}: runtime {c.runtime >> 10}K (at the unpack: {low}; per node past the first: "
              f"{c.runtime_per_node >> 10}K; at the unpack's end, measured: {bands}), dump_own {c.dump_own_low >> 10}K-{c.dump_own >> 10}K")
    if "--write" in sys.argv:
        text = MODULE.read_text()
        start = text.index("    # @@CALIBRATIONS@@")
        end = text.index("}", start)
        MODULE.write_text(text[:start] + "    # @@CALIBRATIONS@@\n" + "\n".join(table) + "\n" + text[end:])
        print(f"wrote {MODULE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
