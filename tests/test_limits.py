"""Limits the kernel itself has, enforced where the input is read (issue 14's
first list): a node id, an e820 table size -- each an error naming the file
and line (or TOML field), exit status 2, and no cost that grows with a value."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures"
LOG = FIX / "oracle" / "numa2x4g-ck256-load-crash--6.1" / "serial.log"


def _predict(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(path)], capture_output=True, text=True, timeout=60)


def _predict_toml(tmp_path, extra: str) -> tuple[Path, subprocess.CompletedProcess]:
    """A 4 GiB TOML machine (6.1) with ``extra`` appended, predicted."""
    f = tmp_path / "m.toml"
    f.write_text('kernel_version = "6.1"\n[[e820]]\nstart = 0\nend = "640K"\ntype = "usable"\n[[e820]]\nstart = "1M"\nend = "4G"\n'
                 'type = "usable"\n' + extra)
    return f, subprocess.run([sys.executable, "-m", "earlymem", "predict", "--machine", str(f)], capture_output=True, text=True)


def _edited(tmp_path, find: str, add: str) -> tuple[Path, int]:
    lines = LOG.read_text(errors="replace").splitlines()
    i = next(k for k, ln in enumerate(lines) if find in ln)
    lines.insert(i + 1, lines[i][: lines[i].index(find)] + add)
    p = tmp_path / "boot.log"
    p.write_text("\n".join(lines) + "\n")
    return p, i + 2


@pytest.mark.parametrize("line", ["SRAT: PXM 1 -> APIC 0x02 -> Node 99999", "SRAT: PXM 1 -> APIC 0x02 -> Node 1024",
                                  "ACPI: SRAT: Node 65536 PXM 1 [mem 0x100000000-0x13fffffff]",
                                  "ACPI: SRAT: Node 1099511627776 PXM 1 [mem 0x100000000-0x13fffffff]"])
def test_a_node_id_past_max_numnodes_is_refused_at_its_line(tmp_path, line):
    log, lineno = _edited(tmp_path, "SRAT: PXM 1 -> APIC 0x01 -> Node 1", line)
    t = time.monotonic()
    proc = _predict(log)
    assert time.monotonic() - t < 30  # (it hung before: the cost grew with the square of the id)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.count("\n") == 0 and f"{log}:{lineno}:" in err and "MAX_NUMNODES" in err


def test_a_negative_node_is_refused_not_dropped(tmp_path):
    log, lineno = _edited(tmp_path, "SRAT: PXM 1 -> APIC 0x01 -> Node 1", "ACPI: SRAT: Node -1 PXM 1 [mem 0x100000000-0x13fffffff]")
    proc = _predict(log)
    assert proc.returncode == 2 and f"{log}:{lineno}:" in proc.stderr and "unsigned" in proc.stderr


def test_the_highest_node_id_is_accepted(tmp_path):
    log, _ = _edited(tmp_path, "SRAT: PXM 1 -> APIC 0x01 -> Node 1", "SRAT: PXM 1 -> APIC 0x02 -> Node 1023")
    proc = _predict(log)
    assert proc.returncode == 0, proc.stderr


def test_a_toml_node_past_max_numnodes_names_its_field(tmp_path):
    f, proc = _predict_toml(tmp_path, '[[numa]]\nnode = 2000\nstart = 0\nend = "4G"\n')
    assert proc.returncode == 2 and f"{f}: numa[0].node:" in proc.stderr and "MAX_NUMNODES" in proc.stderr


def test_an_e820_table_larger_than_the_kernels_is_refused_at_its_line(tmp_path):
    # 5000 BIOS-e820 lines: no kernel prints a table of more than E820_MAX_ENTRIES
    # (it was an internal error, exit 70, after 18 s and more)
    lines = ["[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1",
             "[    0.000000] BIOS-provided physical RAM map:"]
    lines += [f"[    0.000000] BIOS-e820: [mem {i << 20:#018x}-{(i << 20) + 0x7ffff:#018x}] usable" for i in range(5000)]
    log = tmp_path / "big.log"
    log.write_text("\n".join(lines) + "\n")
    t = time.monotonic()
    proc = _predict(log)
    assert time.monotonic() - t < 30
    assert proc.returncode == 2 and f"{log}:{3 + 3200}:" in proc.stderr and "E820_MAX_ENTRIES" in proc.stderr


def test_a_crashkernel_size_past_64_bits_in_a_log_names_the_command_line(tmp_path):
    # it named "<input>": the boot reads the command line, so its errors point there
    from earlymem.sources.dmesg import read_boot_logs

    log = tmp_path / "boot.log"
    log.write_text(LOG.read_text(errors="replace").replace("crashkernel=256M", "crashkernel=99999999999999999999G"))
    at = read_boot_logs(log)[0].command_line_lineno
    proc = _predict(log)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.count("\n") == 0 and f"{log}:{at}:" in err and "64 bits" in err and "<input>" not in err


def test_a_crash_cpu_the_machine_lacks_names_the_option(tmp_path):
    from tests.test_kexec_load import _synthetic_kernel

    proc = subprocess.run([sys.executable, "-m", "earlymem", "kexec", "--dmesg", str(LOG), "--kernel", str(_synthetic_kernel(tmp_path)),
                           "--crash-cpu", "5000"], capture_output=True, text=True)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("earlymem: error: --crash-cpu: CPU 5000") and "<input>" not in err


@pytest.mark.parametrize("where,says", [("nonexistent", "no such directory"), ("empty", "not a system's root")])
def test_proc_that_is_not_a_system_root_says_so(tmp_path, where, says):
    # `--proc /nonexistent` complained about proc/iomem
    root = tmp_path / where
    if where == "empty":
        root.mkdir()
    proc = subprocess.run([sys.executable, "-m", "earlymem", "predict", "--proc", str(root)], capture_output=True, text=True)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err == f"earlymem: error: {root}: " + err.split(f"{root}: ", 1)[1] and says in err


def test_an_image_of_another_release_than_the_banner_is_refused_unless_the_user_says(tmp_path):
    from tests.test_kexec_load import _synthetic_kernel

    k = _synthetic_kernel(tmp_path)  # "6.1.0-test"; the log says 6.1.0-50-amd64
    base = [sys.executable, "-m", "earlymem", "predict", "--dmesg", str(LOG), "--kernel", str(k)]
    proc = subprocess.run(base, capture_output=True, text=True)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith(f"earlymem: error: {k}: the image is 6.1.0-test") and "--kernel-version" in err
    ok = subprocess.run(base + ["--kernel-version", "6.1.0-test"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_a_log_cut_inside_its_e820_map_says_so(tmp_path):
    lines = (FIX / "oracle" / "pc-1g-plain--6.1" / "serial.log").read_text(errors="replace").splitlines()
    last = max(i for i, ln in enumerate(lines) if "BIOS-e820:" in ln and "Linux version" not in ln and i < 60)
    cut = tmp_path / "cut.log"
    cut.write_text("\n".join(lines[: last + 1]) + "\n")
    proc = _predict(cut)
    assert proc.returncode == 0 and "ends inside its BIOS-e820 map" in proc.stderr
    whole = _predict(FIX / "oracle" / "pc-1g-plain--6.1" / "serial.log")
    assert "ends inside" not in whole.stderr


def test_words_after_a_double_dash_are_said_to_go_to_init(tmp_path):
    root = tmp_path / "sys"
    (root / "sys/firmware/memmap/0").mkdir(parents=True)
    (root / "sys/firmware/memmap/1").mkdir(parents=True)
    for d, (s, e, ty) in {"0": ("0x0", "0x9fbff", "System RAM"), "1": ("0x100000", "0x3fffffff", "System RAM")}.items():
        (root / f"sys/firmware/memmap/{d}/start").write_text(s + "\n")
        (root / f"sys/firmware/memmap/{d}/end").write_text(e + "\n")
        (root / f"sys/firmware/memmap/{d}/type").write_text(ty + "\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/cmdline").write_text("nokaslr crashkernel=128M -- single crashkernel=1G\n")
    (root / "proc/sys/kernel/osrelease").write_text("6.1.0-50-amd64\n")
    proc = subprocess.run([sys.executable, "-m", "earlymem", "e820", "--proc", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "after '--' go to init, not the kernel: single crashkernel=1G" in proc.stderr


def test_memory_past_the_widest_physical_address_is_refused_at_its_line(tmp_path):
    # MAXPHYADDR is at most 52: e820 RAM at 2^56 names no real machine (it was predicted, with a
    # "node 1024" range and a nosave region of 2^56 bytes)
    lines = ["[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1",
             "[    0.000000] BIOS-provided physical RAM map:",
             "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
             "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable",
             "[    0.000000] BIOS-e820: [mem 0x00f0000000000000-0x00f00000ffffffff] usable"]
    log = tmp_path / "high.log"
    log.write_text("\n".join(lines) + "\n")
    proc = _predict(log)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.count("\n") == 0 and f"{log}:5:" in err and "2^52" in err
    f, proc = _predict_toml(tmp_path, '[[e820]]\nstart = "0x10000000000000"\nsize = "1G"\ntype = "usable"\n')
    assert proc.returncode == 2 and f"{f}: e820[2]:" in proc.stderr and "2^52" in proc.stderr


def test_more_toml_cpus_than_nr_cpus_is_refused(tmp_path):
    f, proc = _predict_toml(tmp_path, "".join(f"[[cpus]]\napic = {i}\nnode = 0\n" for i in range(8193)))
    assert proc.returncode == 2 and f"{f}: cpus:" in proc.stderr and "NR_CPUS (8192)" in proc.stderr
