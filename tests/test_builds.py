"""Honesty about builds (earlymem.kernels.builds): facts that depend on the kernel
image come from that image or from the pinned build the banner names -- never
from another build of the same series."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from earlymem.kernels.builds import PINNED, build_for, pinned_build
from earlymem.lib.version import parse_version
from earlymem.pipeline import IMAGE_FAMILIES, boot
from earlymem.sources.capture import read_capture
from earlymem.sources.dmesg import machine_from_boot_log, parse_boot_logs

FIX = Path(__file__).parent / "fixtures"
CAP = FIX / "oracle" / "numa2x4g-ck256-load-crash--6.1"
#: a real Debian 6.1 build earlymem has no facts for (bookworm's 6.1.55-1 of 2023)
OTHER = "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)"
#: Ubuntu 24.04's kernel (6.8: the generic crashkernel code, no pinned build)
UBUNTU = "Linux version 6.8.0-48-generic (buildd@lcy02-amd64-010) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #48-Ubuntu SMP PREEMPT_DYNAMIC Fri Sep 27 14:04:52 UTC 2024 (Ubuntu 6.8.0-48.48-generic 6.8.12)"


def _with_banner(tmp_path, banner: str) -> Path:
    lines = read_capture(CAP).sections["first/dmesg"]
    out = [re.sub(r"Linux version .*", banner, ln) if "Linux version" in ln else ln for ln in lines]
    p = tmp_path / "boot.log"
    p.write_text("\n".join(out) + "\n")
    return p


def test_a_pinned_release_and_its_banner_name_the_pinned_build():
    b = pinned_build(parse_version("6.1.0-50-amd64"), "Linux version 6.1.0-50-amd64 ... Debian 6.1.176-1 (2026-07-02)")
    assert b is not None and b.release == "6.1.0-50-amd64" and b.struct_sizes["pglist_data"] == 0x2A880


def test_the_same_abi_name_from_another_upload_is_another_build():
    # Debian keeps an ABI name across some uploads: the banner's version decides
    assert pinned_build(parse_version("6.1.0-50-amd64"), "Linux version 6.1.0-50-amd64 ... Debian 6.1.170-1 (2026-04-01)") is None


@pytest.mark.parametrize("text", ["6.1.0-13-amd64", "6.8.0-48-generic", "6.1.0", "6.1.5", "5.14.0-427.el9.x86_64", "8.0"])
def test_releases_without_facts_get_none_and_a_reason(text):
    build, why = build_for(parse_version(text))
    assert build is None and text in why and "--kernel" in why
    assert all(p.name in why for p in PINNED)


@pytest.mark.parametrize("series,release", [("5.10", "5.10.0-32-amd64"), ("6.1", "6.1.0-50-amd64"), ("6.12", "6.12.117+deb13-amd64"),
                                            ("7.2", "7.2.13+deb14-amd64")])
def test_a_bare_series_stands_for_its_pinned_build(series, release):
    assert pinned_build(parse_version(series)).release == release


@pytest.mark.parametrize("banner", [OTHER, UBUNTU])
def test_unknown_build_boot_predicts_nothing_that_depends_on_the_image(tmp_path, banner):
    first = parse_boot_logs(read_capture(CAP).sections["first/dmesg"], "x")[0]
    machine = machine_from_boot_log(first)
    known = boot(machine)
    log = parse_boot_logs(_with_banner(tmp_path, banner).read_text().splitlines(), "y")[0]
    result = boot(machine_from_boot_log(log))
    assert result.build is None and known.build is not None
    for fam in IMAGE_FAMILIES:
        if fam == "crashkernel" and result.crash_predicted:
            # the crash search from the e820 map and the places the log states
            # (earlymem.phases.crashkernel_middle), where the unknown image cannot change it: the
            # same as with the build's facts
            assert result.lines_of("crashkernel") == known.lines_of("crashkernel") and result.crash == known.crash
            continue
        assert not result.predicted(fam) and "no facts for the build" in result.why_not(fam)
    assert all(a.purpose == "crashkernel" for a in result.allocations) and result.kernel_image is None
    assert not result.lines_of("nosave", "percpu", "hash", "swiotlb", "frees")
    assert not any("NODE_DATA" in t for t in result.dmesg())
    assert all(z.managed is None and z.free_lists is None for z in result.zones)
    # what does not depend on the image is still predicted, and the same
    assert result.lines_of("e820", "zones", "node-ranges", "initmem") == known.lines_of("e820", "zones", "node-ranges", "initmem")


def test_cli_predict_and_verify_on_an_unknown_build_print_no_image_number(tmp_path):
    log = _with_banner(tmp_path, OTHER)
    proc = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(log)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "NODE_DATA" not in proc.stdout and "Freeing" not in proc.stdout
    # the crash region does not depend on this image here: predicted from the e820 map (crashkernel_middle)
    assert "Reserving 256MB of memory at 2800MB for crashkernel (System RAM: 8191MB)" in proc.stdout
    assert "no facts for the build 6.1.0-13-amd64" in proc.stderr and "--kernel" in proc.stderr
    z = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(log), "--format", "zoneinfo"], capture_output=True, text=True)
    assert z.returncode == 1 and "not predicted" in z.stderr and not z.stdout
    v = subprocess.run([sys.executable, "-m", "earlymem", "verify", "--format", "json", str(log)], capture_output=True, text=True)
    assert v.returncode == 0, v.stderr  # nothing predicted wrong
    fams = {f["family"]: f for f in json.loads(v.stdout)["reports"][0]["families"]}
    for fam in ("percpu", "hash", "swiotlb", "frees", "nosave"):
        assert not fams[fam]["predicted"], fam
    assert fams["crashkernel"]["state"] == "ok"
    assert fams["e820"]["state"] == "ok" and fams["zones"]["state"] == "ok"
    # naming the pinned series instead is an explicit choice, and it is said so
    s = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(log), "--kernel-version", "6.1"], capture_output=True, text=True)
    assert s.returncode == 0 and "NODE_DATA(0) allocated" in s.stdout and "taken as the pinned build Debian 6.1.176-1" in s.stderr


@pytest.mark.parametrize("cap", sorted(p for p in (FIX / "oracle").iterdir() if (p / "serial.log").is_file())[::7], ids=lambda p: p.name)
def test_every_reserved_byte_at_the_handoff_has_a_purpose(cap):
    # BootResult.allocations names what every byte memblock holds reserved at
    # the hand-off is for (the image, the low memory, page tables, NODE_DATA,
    # the crash region, the memmap, per-CPU areas, hash tables, swiotlb ...)
    from earlymem.lib.ranges import Range, RangeSet

    result = boot(machine_from_boot_log(parse_boot_logs(read_capture(cap).sections["first/dmesg"], "x")[0]))
    reserved = RangeSet(Range(r.start, r.end) for r in result.reserved)
    named = RangeSet(Range(a.start, a.end) for a in result.allocations if a.size)
    assert reserved and not reserved.subtract(named), reserved.subtract(named)
    assert all(a.purpose and a.phase for a in result.allocations)
