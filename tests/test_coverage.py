"""earlymem says plainly which kernels and facts it knows (issue 14, item 4): era
boundaries from the kernel's history, versions past the newest refused unless
--assume-era, eras named by the user's kernel, one "assumed" block on stderr."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from earlymem.kernels import (NEWEST_KNOWN, PROFILES, check_known, coverage_note, era_name, era_span, parse_version,
                              profile_for)
from earlymem.lib.errors import InputError

LOG = Path(__file__).parent / "fixtures" / "oracle" / "pc-4g-ck256-load-crash--6.1" / "serial.log"
BANNER = re.compile(r"Linux version 6\.1\.0-50-amd64 .*")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "earlymem", *args], capture_output=True, text=True, timeout=120)


def _log_of(tmp_path, release):
    text = LOG.read_text(errors="replace")
    p = tmp_path / f"{release}.log"
    p.write_text(BANNER.sub(f"Linux version {release} (buildd@lcy02-amd64-080) (gcc) #35-Ubuntu SMP PREEMPT_DYNAMIC", text))
    return p


def test_a_6_8_kernel_uses_the_generic_crashkernel_code():
    # x86 moved to reserve_crashkernel_generic() in v6.7 (9c08a2a139fe); a 6.8 banner (Ubuntu
    # 24.04) was predicted with the pre-6.7 x86 code
    assert profile_for("6.8.0-31-generic").crash.generic
    assert not profile_for("6.6.30").crash.generic and profile_for("6.7.0").crash.generic


@pytest.mark.parametrize("release", ["8.0.0", "99.1.0", "7.3.1"])
def test_a_release_past_the_newest_known_is_refused_unless_assumed(tmp_path, release):
    log = _log_of(tmp_path, release)
    proc = _run("predict", "--dmesg", str(log))
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.count("\n") == 0 and f"{log}:" in err and "newer than any earlymem knows" in err
    assert f"--assume-era {NEWEST_KNOWN.major}.{NEWEST_KNOWN.minor}" in err
    ok = _run("predict", "--dmesg", str(log), "--assume-era", "7.2")
    assert ok.returncode == 0, ok.stderr
    assert "as --assume-era 7.2 asks; nothing about it was checked" in ok.stderr
    with pytest.raises(InputError):
        check_known(parse_version(release))


def test_assume_era_must_name_a_known_release(tmp_path):
    proc = _run("predict", "--dmesg", str(_log_of(tmp_path, "8.0.0")), "--assume-era", "banana")
    assert proc.returncode == 2 and proc.stderr.startswith("earlymem: error: --assume-era:")


def test_eras_are_named_by_the_users_kernel():
    p = profile_for("6.1.0-50-amd64")
    assert era_name(parse_version("6.1.0-50-amd64"), p) == "6.1 (rules of 6.0\u20136.1)"
    assert era_name(parse_version("6.8.0-31-generic"), profile_for("6.8.0")) == "6.8 (rules of 6.8\u20136.9)"
    assert era_span(PROFILES[-1])[1] == f"{NEWEST_KNOWN.major}.{NEWEST_KNOWN.minor}"


def test_eras_cover_every_release_once():
    # each era runs from its first release to the one before the next era's first
    for p in PROFILES:
        first, last = era_span(p)
        assert profile_for(first) is p and profile_for(last) is p, (p.name, first, last)


def test_a_release_between_verified_ones_says_it_is_not_verified(tmp_path):
    assert coverage_note(parse_version("6.1.0-50-amd64"), profile_for("6.1")) is None
    note = coverage_note(parse_version("6.8.0-31-generic"), profile_for("6.8"))
    assert "not of 6.8" in note and "6.1.176" in note
    proc = _run("predict", "--dmesg", str(_log_of(tmp_path, "6.8.0-31-generic")))
    assert proc.returncode == 0
    block = proc.stderr.split("earlymem: assumed:\n", 1)[1]
    assert block.startswith("  - 6.8.0-31-generic is predicted with the rules of 6.8\u20136.9")


def test_one_assumed_block_lists_the_defaults(tmp_path):
    # the I/O APICs and CPUs the log does not show, in one block instead of scattered notes
    lines = [ln for ln in LOG.read_text(errors="replace").splitlines() if "IOAPIC[" not in ln]
    log = tmp_path / "boot.log"
    log.write_text("\n".join(lines) + "\n")
    err = _run("predict", "--dmesg", str(log)).stderr
    assert err.count("earlymem: assumed:") == 1
    block = err.split("earlymem: assumed:\n", 1)[1].split("earlymem:", 1)[0]
    assert "I/O APICs are unknown" in block and all(ln.startswith("  - ") for ln in block.splitlines())
    assert "earlymem: note: the I/O APICs" not in err


@pytest.mark.parametrize("release,cma_known", [("6.12", False), ("7.2", True)])
def test_cma_suffix_is_known_from_6_17(release, cma_known):
    # get_last_crashkernel()'s suffix_tbl gained ",cma" in v6.17: before, the token is the
    # base request and parse_crashkernel_simple() stops at its ','
    assert (",cma" in profile_for(release).crash.suffixes) == cma_known
    proc = _run("predict", "--dmesg", str(LOG), "--kernel-version", release, "--append", "crashkernel=64M,cma")
    assert proc.returncode == 0, proc.stderr
    if cma_known:
        assert "crashkernel reserved:" in proc.stdout and "the CMA part" in proc.stderr
    else:
        assert "crashkernel: unrecognized char: ," in proc.stdout and "crashkernel reserved" not in proc.stdout


def test_profiles_show_first_last_verified_and_boundary_source():
    out = _run("profiles").stdout
    assert "6.0\u20136.1" in out and "6.7 " in out
    assert "boundary: commit 9c08a2a139fe" in out
    assert "verified: Debian 6.1.176" in out and "verified: no real boot of this era was checked" in out
    doc = json.loads(_run("profiles", "--format", "json").stdout)
    six_seven = next(p for p in doc["profiles"] if p["name"] == "6.7")
    assert six_seven["first"] == "6.7.0" and six_seven["last"] == "6.7" and six_seven["boundary_confirmed"] is True
    unconfirmed = [p["name"] for p in doc["profiles"] if not p["boundary_confirmed"]]
    assert unconfirmed and all("unverified" in p["boundary"] for p in doc["profiles"] if p["name"] in unconfirmed)


def test_every_unverified_boundary_is_marked_and_listed():
    # a "[release unverified]" anywhere in an era's boundary makes it unconfirmed in `earlymem profiles`
    for p in PROFILES:
        assert p.boundary, p.name
        assert p.boundary_confirmed == ("unverified" not in p.boundary)


def test_ram_above_2_46_is_said_to_need_5_level_paging(tmp_path):
    lines = ["[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1",
             "[    0.000000] BIOS-provided physical RAM map:",
             "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
             "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable",
             f"[    0.000000] BIOS-e820: [mem {(1 << 47):#018x}-{(1 << 47) + (1 << 30) - 1:#018x}] usable",
             "[    0.000000] Command line: console=ttyS0"]
    log = tmp_path / "b.log"
    log.write_text("\n".join(lines) + "\n")
    proc = _run("predict", "--dmesg", str(log))
    assert proc.returncode == 0 and "above 2^46: the kernel uses it only with 5-level paging" in proc.stderr
