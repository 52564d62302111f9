"""earlymem verify on every oracle capture: the e820 family matches 100%.

Families earlymem does not predict yet are reported as 0/N with N taken from
the capture; these tests also check that every family is found where the
capture's configuration says it must be (so a 0/N can never hide a 0/0).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from earlymem.oracle.config import read_matrix
from earlymem.sources.dmesg import machine_from_boot_log
from earlymem.verification import verify_path

ORACLE = Path(__file__).parent / "fixtures" / "oracle"
CAPTURES = sorted(p for p in ORACLE.iterdir() if (p / "serial.log").is_file()) if ORACLE.is_dir() else []
CONFIGS = {c.name: c for c in read_matrix(ORACLE / "matrix.toml")}
#: Boots of configurations written down before they were run (fixtures/holdout, holdout2, holdout3, holdout4).
HOLDOUT = sorted(
    p for d in ("holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6") for p in (Path(__file__).parent / "fixtures" / d).iterdir() if (p / "serial.log").is_file()
)


def test_every_matrix_boot_was_captured_on_every_kernel():
    names = {p.name for p in CAPTURES}
    missing = [f"{c.name}--{k}" for c in CONFIGS.values() for k in c.kernels if f"{c.name}--{k}" not in names]
    assert not missing
    assert len(CAPTURES) >= 100


@pytest.mark.parametrize("path", CAPTURES + HOLDOUT, ids=lambda p: p.name)
def test_e820_family_matches_fully(path):
    report = verify_path(path)
    fam = {f.name: f for f in report.families}
    assert fam["e820"].expected and fam["e820"].ok
    assert fam["user-map"].ok


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_families_are_found_where_the_configuration_implies_them(path):
    config = CONFIGS[path.name.split("--")[0]]
    fam = {f.name: f for f in verify_path(path).families}
    for name in ("e820", "zones", "node-ranges", "initmem", "zoneinfo"):
        assert fam[name].expected, name
    if (config.crashkernel or "crashkernel=" in config.cmdline) and not (config.crashkernel or "").endswith(",low"):
        # (crashkernel=X,low alone is ignored without a word by 6.1, 6.12 and 7.2)
        assert fam["crashkernel"].expected
    if "memmap=" in config.cmdline or "mem=" in config.cmdline:
        assert fam["user-map"].expected
    if config.numa:
        assert fam["numa"].expected
    if config.crash and fam["iomem-crash"].expected:
        assert fam["kdump-e820"].expected, "a crash with a reserved region boots the kdump kernel"
    for f in fam.values():
        if f.predicted is None:
            assert f.matched == 0


def test_verify_cli_prints_a_table_and_exits_zero():
    path = next(p for p in CAPTURES if "memmap" in p.name)
    proc = subprocess.run([sys.executable, "-m", "earlymem", "verify", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "BIOS-provided physical RAM map" in proc.stdout and "not predicted yet" not in proc.stdout
    # a plain 6.12 NUMA boot log: no SRAT CPU lines (6.12 prints none) and no
    # capture note, so the possible CPUs are unknown and families are left out
    path = Path(__file__).parent / "fixtures" / "bootlogs" / "q35-16g-numa4--6.12.117+deb13-amd64.log"
    proc = subprocess.run([sys.executable, "-m", "earlymem", "verify", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "not predicted yet" in proc.stdout


MODERN_LOGS = sorted((Path(__file__).parent / "fixtures" / "bootlogs").glob("*.log"))


@pytest.mark.parametrize("path", CAPTURES + MODERN_LOGS + HOLDOUT, ids=lambda p: p.name)
def test_zone_node_range_and_initmem_lines_match_fully(path):
    """earlymem.phases.numa_init: the Zone ranges, Early memory node ranges and Initmem
    setup lines of every Debian 5.10/6.1/6.12/7.2 boot, byte for byte."""
    fam = {f.name: f for f in verify_path(path).families}
    for name in ("zones", "node-ranges", "initmem"):
        assert fam[name].expected and fam[name].ok, name


@pytest.mark.parametrize("path", CAPTURES + MODERN_LOGS + HOLDOUT, ids=lambda p: p.name)
def test_numa_and_node_data_lines_match_fully(path):
    """NUMA merge lines, the faked node and every NODE_DATA placement
    (earlymem.phases.setup_arch: page tables, printk ring buffer, initrd move, then
    alloc_node_data()), byte for byte."""
    f = {f.name: f for f in verify_path(path).families}["numa"]
    assert any(ln.startswith("NODE_DATA(") for ln in f.expected)
    assert f.expected == f.predicted


@pytest.mark.parametrize("name", ["numa3-2g6g4g-ck384-load--6.12", "pc-8g-memmap-hole-ck256-load--5.10", "q35-2g-plain--7.2"])
def test_predict_prints_kernel_lines_in_kernel_order(name, tmp_path):
    """Every line `earlymem predict` prints appears in the kernel's own log, in the same order."""
    from earlymem.sources.capture import read_capture
    from earlymem.sources.dmesg import message_text

    cap = read_capture(ORACLE / name)
    log_file = tmp_path / "first-dmesg.log"
    log_file.write_text("\n".join(cap.sections["first/dmesg"]) + "\n")
    proc = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(log_file)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "not predicted yet" in proc.stderr and "NODE_DATA" not in proc.stderr
    predicted = proc.stdout.splitlines()
    kernel = iter(message_text(ln) for ln in cap.sections["first/dmesg"])
    assert len(predicted) > 15
    for line in predicted:
        assert any(k == line for k in kernel), f"not found in order: {line!r}"


@pytest.mark.parametrize("path", CAPTURES + MODERN_LOGS + HOLDOUT, ids=lambda p: p.name)
def test_crashkernel_lines_match_fully(path):
    """Parse warnings, searched and fixed placements, low parts and failures:
    exactly the kernel's lines (none, for boots without crashkernel=)."""
    f = {f.name: f for f in verify_path(path).families}["crashkernel"]
    assert f.predicted is not None and f.ok, (f.expected, f.predicted)


@pytest.mark.parametrize("path", CAPTURES + HOLDOUT, ids=lambda p: p.name)
def test_iomem_crash_kernel_lines_match_fully(path):
    f = {f.name: f for f in verify_path(path).families}["iomem-crash"]
    assert f.predicted is not None and f.ok, (f.expected, f.predicted)
    if path.name.startswith("pc-4g-ck128at512m-both-crash--"):
        assert f.expected == ["  20000000-27ffffff : Crash kernel"]


@pytest.mark.parametrize("path", CAPTURES + HOLDOUT, ids=lambda p: p.name)
def test_predicted_iomem_is_the_kernels(path):
    """`predict --format iomem`: System RAM entries and what nests in them
    (Crash kernel here; Kernel code/... need --kernel) appear in the capture's
    /proc/iomem exactly and in order; the other e820 entries appear with their
    start and name (devices may nest them or stretch their end)."""
    from earlymem.sources.capture import read_capture
    from earlymem.pipeline import boot
    from earlymem.render.iomem import iomem_text
    from earlymem.sources.dmesg import read_boot_logs

    iomem = read_capture(path).sections.get("first/iomem")
    assert iomem
    first = read_boot_logs(path / "serial.log")[0]
    predicted = iomem_text(boot(machine_from_boot_log(first)).iomem)
    assert any(t.endswith(" : System RAM") for t in predicted)
    exact = []
    for t in predicted:
        if t.endswith(" : System RAM") or t.startswith("  "):
            exact.append(t)
        else:
            start, name = t.split("-", 1)[0], t.split(" : ", 1)[1]
            assert any(ln.strip().startswith(start + "-") and ln.endswith(" : " + name) for ln in iomem), t
    kernel = iter(iomem)
    for t in exact:
        assert any(k == t for k in kernel), f"not found in order: {t!r}"
