"""Edges of the one boot pipeline (earlymem.boot()) that a review of the
redesign found: each was a wrong answer, an internal error or a lost
behaviour, and each is pinned here."""

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures"
SEED = (resources.files("earlymem.scenario") / "scenarios" / "seed-2011.toml").read_text()


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "earlymem", *map(str, args)], capture_output=True, text=True, timeout=120)


def _machine_toml(tmp_path, version: str, cmdline_edit=lambda c: c, drop_ram: bool = False) -> Path:
    text = re.sub(r"\n\[running\].*", "\n", SEED, flags=re.S)  # a machine, not a replay scenario
    text = text.replace('kernel_version = "2.6.23"', f'kernel_version = "{version}"')
    text = re.sub(r'(command_line\s*=\s*")([^"]*)"', lambda m: m.group(1) + cmdline_edit(m.group(2)) + '"', text)
    if drop_ram:
        text = text.replace('type  = "usable"', 'type  = "reserved"').replace('type = "usable"', 'type = "reserved"')
    p = tmp_path / f"m-{version}.toml"
    p.write_text(text)
    return p


def test_zoneinfo_without_the_possible_cpus_is_printed_with_a_note():
    # 6.12 prints no SRAT CPU lines: the CPUs are unknown; /proc/zoneinfo is still
    # printed (managed pages a little high), as before the redesign
    proc = _cli("predict", "--dmesg", FIX / "oracle" / "numa2x4g-ck256-load-crash--6.12" / "serial.log", "--format", "zoneinfo")
    assert proc.returncode == 0 and "managed" in proc.stdout and "a little high" in proc.stderr


def test_an_old_era_boot_uses_the_user_map(tmp_path):
    proc = _cli("predict", "--machine", _machine_toml(tmp_path, "2.6.37", lambda c: "mem=2G " + c))
    assert proc.returncode == 0, proc.stderr
    assert "Reserving 128MB of memory at 16MB for crashkernel (System RAM: 2048MB)" in proc.stdout


def test_where_bootmem_would_bug_is_an_outcome_not_an_internal_error(tmp_path):
    proc = _cli("predict", "--machine", _machine_toml(tmp_path, "2.6.23", lambda c: c.replace("128M@16M", "200G@16M")))
    assert proc.returncode == 0 and "BUG()" in proc.stderr and "internal error" not in proc.stderr


def test_an_old_era_map_without_ram_is_said_not_crashed_on(tmp_path):
    proc = _cli("predict", "--machine", _machine_toml(tmp_path, "2.6.23", drop_ram=True))
    assert proc.returncode in (0, 2) and "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_replay_of_a_modern_release_without_a_pinned_build_says_which_it_runs():
    proc = _cli("replay", "seed-2011", "--kernel-version", "5.15")
    err = proc.stderr.strip()
    assert proc.returncode == 2 and "5.10, 6.1, 6.12, 7.2" in err and "--kernel VMLINUZ" not in err


def test_replay_of_a_range_list_with_a_fixed_base_knows_the_region_asked_for(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SEED.replace("crashkernel=128M@16M", "crashkernel=1G-:128M@16M"))
    proc = _cli("replay", p, "--kernel-version", "6.1", "--brief")
    assert proc.returncode == 0 and "SAFE BUT NO KDUMP" in proc.stdout, proc.stdout + proc.stderr


def test_a_bad_kernel_version_names_the_option_only():
    proc = _cli("predict", "--dmesg", FIX / "oracle" / "q35-4g-ck256-load--6.1" / "serial.log", "--kernel-version", "abc")
    assert proc.returncode == 2 and proc.stderr.startswith("earlymem: error: --kernel-version: not a kernel version")


def test_predict_and_verify_agree_on_kernel_version():
    cap = FIX / "oracle" / "q35-4g-ck256-load--6.1"
    pred = _cli("predict", "--dmesg", cap / "serial.log", "--kernel-version", "6.12").stdout.splitlines()
    from earlymem.verification import verify_path

    fams = {f.name: f for f in verify_path(cap, kernel_version="6.12").families}
    assert fams["numa"].predicted == [ln for ln in pred if ln.startswith(("NUMA", "NODE_DATA", "    NODE_DATA", "No NUMA", "Faking"))]
    assert fams["percpu"].predicted == [ln for ln in pred if ln.startswith("percpu:")]


def test_kexec_over_an_old_era_first_kernel_is_refused_plainly(tmp_path):
    from tests.test_kexec_load import _synthetic_kernel

    proc = _cli("kexec", "--machine", _machine_toml(tmp_path, "2.6.37"), "--kernel", _synthetic_kernel(tmp_path))
    assert proc.returncode == 2 and "not modelled" in proc.stderr and proc.stderr.count("\n") == 1
