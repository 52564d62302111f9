"""The dump sweep's bisection and its reading of a boot's outcome (no QEMU here)."""

import json

import pytest

from earlymem.lib.errors import InputError
from earlymem.oracle.config import make_config
from earlymem.oracle.sweep import KernelSweep, Outcome, bisect, classify, read_results, refine, write_results

M = 1 << 20


def cfg(low="32M", high="512M"):
    return make_config({"name": "d", "memory": "4G", "kexec": "load", "crash": True, "dump": "small",
                        "sweep": {"low": low, "high": high, "step": "4M"}}, "boot[0]", "m.toml")


@pytest.mark.parametrize("threshold", [36 * M, 100 * M, 212 * M, 512 * M])
def test_bisection_finds_the_threshold_and_the_size_below(threshold):
    tried = []

    def run(size):
        tried.append(size)
        return Outcome(size, "dumped" if size >= threshold else "oom", "", 1.0)

    r = bisect(cfg(), "6.1", run)
    assert r.minimum == threshold and r.below.size == threshold - 4 * M and r.below.outcome == "oom"
    assert len(tried) <= 2 + 7 and len(set(tried)) == len(tried)


def test_bisection_says_when_the_bracket_is_open():
    never = bisect(cfg(), "6.1", lambda s: Outcome(s, "load-refused", "", 1.0))
    assert never.minimum is None and never.below.size == 512 * M and len(never.boots) == 1
    always = bisect(cfg(), "6.1", lambda s: Outcome(s, "dumped", "", 1.0))
    assert always.minimum == 32 * M and always.below is None


def serial(tmp_path, text, name="c"):
    d = tmp_path / name
    d.mkdir()
    (d / "serial.log").write_text(text)
    return d


def sec(name, *lines, rc=0):
    return "\n".join([f"@@@@BEGIN {name}@@@@", *lines, f"@@@@END {name}@@@@", f"@@@@RC {name}={rc}@@@@"]) + "\n"


FIRST = sec("first/dmesg", "[    0.000000] Linux version 6.1.0-50-amd64") + sec("first/kexec_crash_size", "268435456") + sec("first/kexec_crash_loaded_after", "1") + "@@@@CRASH first@@@@\n" \
    "[    3.8] Kernel panic - not syncing: sysrq triggered crash\n"


def test_classify_each_outcome(tmp_path):
    ok = FIRST + sec("kdump/makedumpfile", "makedumpfile Completed.", "makedumpfile exit status 0", "49316594")
    assert classify(serial(tmp_path, ok, "ok"), False) == ("dumped", "makedumpfile exit status 0, 49316594 bytes")
    oom = FIRST + sec("kdump/makedumpfile", "makedumpfile exit status 137", "0") + sec(
        "kdump/dmesg_after", "[ 5.1] sh invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0")
    assert classify(serial(tmp_path, oom, "oom"), False)[0] == "oom"
    panic = FIRST + "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
    assert classify(serial(tmp_path, panic, "panic"), False) == ("panic", "VFS: Unable to mount root fs on unknown-block(0,0)")
    nomem = FIRST + "[    0.9] Kernel panic - not syncing: Out of memory and no killable processes...\n"
    assert classify(serial(tmp_path, nomem, "nomem"), False)[0] == "oom"
    # what the 1 GiB boots printed when populate_rootfs() ran out of memory
    deadlock = FIRST + "[    0.978061] Kernel panic - not syncing: System is deadlocked on memory\n"
    assert classify(serial(tmp_path, deadlock, "deadlock"), False) == ("oom", "System is deadlocked on memory")
    # rootfs full: the unpack stops, and /init runs without makedumpfile
    full = FIRST + "[    1.3] Initramfs unpacking failed: write error\n" + sec("kdump/makedumpfile",
        "/init: line 71: makedumpfile: not found", "makedumpfile exit status 127", "0")
    assert classify(serial(tmp_path, full, "full"), False) == ("unpack-failed", "[    1.3] Initramfs unpacking failed: write error")
    assert refine("dump-failed", "makedumpfile exit status 127: /init: line 71: makedumpfile: not found") == "unpack-failed"
    assert refine("panic", "System is deadlocked on memory") == "oom" and refine("panic", "VFS: Unable to mount root fs") == "panic"
    refused = sec("first/dmesg", "x") + sec("first/kexec_crash_size", "67108864") + sec(
        "first/kexec_load_debug", "Could not find a free area of memory of 0x3a4000 bytes...", rc=1) + sec(
        "first/kexec_crash_loaded_after", "0")
    assert classify(serial(tmp_path, refused, "refused"), False) == ("load-refused", "Could not find a free area of memory of 0x3a4000 bytes...")
    none = sec("first/dmesg", "x") + sec("first/kexec_crash_size", "0")
    assert classify(serial(tmp_path, none, "none"), False)[0] == "no-region"
    assert classify(serial(tmp_path, FIRST, "hang"), True)[0] == "hang"
    assert classify(serial(tmp_path, FIRST, "quiet"), False)[0] == "no-capture"


def test_results_round_trip_and_bad_files(tmp_path):
    r = KernelSweep("d", "6.1", "pc", 32 * M, 512 * M, 4 * M, [Outcome(100 * M, "dumped", "x", 1.0), Outcome(96 * M, "oom", "y", 2.0)])
    path = tmp_path / "sweep.json"
    write_results([r], path)
    (back,) = read_results(path)
    assert back.minimum == 100 * M and back.below.outcome == "oom"
    assert json.loads(path.read_text())["schema"] == "earlymem/sweep/1"
    path.write_text('{"schema": "other"}')
    with pytest.raises(InputError, match="sweep.json: schema: not an earlymem/sweep/1 file"):
        read_results(path)
    path.write_text('{"schema": "earlymem/sweep/1", "sweeps": [{"config": 1}]}')
    with pytest.raises(InputError, match="damaged sweep results"):
        read_results(path)


def test_a_placement_hole_below_the_minimum_is_filled_from_the_memory_failure_up():
    """dump-numa3-24g-large-file on 7.2: 304M ran out of room, 364M reserved no region, 368M dumped;
    the bisection never tried 308-360M."""
    def outcome(size):
        if size == 364 * M:
            return "no-region"
        return "dumped" if size >= 312 * M else "unpack-failed"

    tried = []

    def run(size):
        tried.append(size)
        return Outcome(size, outcome(size), "", 1.0)

    r = bisect(cfg(low="64M", high="1G"), "7.2", run)
    assert r.minimum == 312 * M and r.below.size == 308 * M and r.below.outcome == "unpack-failed"
    assert 364 * M in tried and tried[-2:] == [308 * M, 312 * M]


def test_a_first_kernel_that_dies_is_tried_again_and_earlier_outcomes_are_reused(tmp_path):
    died = serial(tmp_path, "[    1.7] Kernel panic - not syncing: Fatal exception in interrupt\n", "died")
    assert classify(died, False) == ("first-failed", "the first kernel did not reach /init: Fatal exception in interrupt")
    calls = []

    def run(size):
        calls.append(size)
        if size == 364 * M and calls.count(size) == 1:
            return Outcome(size, "first-failed", "", 1.0)
        return Outcome(size, "dumped" if size >= 312 * M else "oom", "", 1.0)

    first = bisect(cfg(low="64M", high="1G"), "7.2", run)
    assert first.minimum == 312 * M and all(b.outcome != "first-failed" for b in first.boots)
    before = len(calls)
    again = bisect(cfg(low="64M", high="1G"), "7.2", run, first.boots)
    assert len(calls) == before and again.minimum == 312 * M
    # a run that tries a died boot again keeps the earlier boots on record, off its path or not
    died = Outcome(364 * M, "first-failed", "the first kernel did not reach /init", 1.0)
    extra = Outcome(900 * M, "dumped", "x", 1.0)
    third = bisect(cfg(low="64M", high="1G"), "7.2", run, [*first.boots, died, extra])
    assert died in third.boots and extra in third.boots and third.minimum == 312 * M


def test_a_garbled_crash_marker_falls_back_to_the_sysrq_panic(tmp_path):
    """The console may interleave init.sh's @@@@CRASH marker with the kernel's lines: the sysrq panic marks
    where the capture kernel's output begins (tests/fixtures/dumps/repeat, numa2 6.12 at 88M, boot 01)."""
    text = (sec("first/dmesg", "x") + sec("first/kexec_crash_size", "92274688") + sec("first/kexec_crash_loaded_after", "1")
            + "@@@@CR[    4.7] Kernel panic - not syncing: sysrq triggered crash\n"
            + "[    1.4] Kernel panic - not syncing: System is deadlocked on memory\n")
    assert classify(serial(tmp_path, text, "garbled"), False) == ("oom", "System is deadlocked on memory")
