"""Oracle configurations: validation with one-line errors, and the qemu command."""

from pathlib import Path

import pytest

from earlymem.lib.errors import InputError
from earlymem.oracle.config import make_config, read_matrix
from earlymem.oracle.qemu import qemu_argv

MATRIX = Path(__file__).parent / "fixtures" / "oracle" / "matrix.toml"


def test_committed_matrix_is_valid_and_covers_what_the_issue_asks():
    configs = read_matrix(MATRIX)
    assert len(configs) >= 25
    assert {c.machine for c in configs} == {"pc", "q35"}
    assert min(c.memory for c in configs) == 1 << 30 and max(c.memory for c in configs) == 64 << 30
    assert {len(c.numa) for c in configs} >= {0, 2, 3, 4}
    assert {c.kexec for c in configs} >= {"none", "load", "file", "both"}
    assert sum(c.crash for c in configs) >= 5
    cks = [c.crashkernel or "" for c in configs] + [c.cmdline for c in configs]
    for needle in ("@16M", "-4G:", ",high", ",low", "3G", "256Q"):
        assert any(needle in s for s in cks), needle
    assert all(set(c.kernels) == {"5.10", "6.1", "6.12", "7.2"} for c in configs)


def cfg(**kw):
    return make_config({"name": "t", "memory": "4G", **kw}, "boot[0]", "m.toml")


@pytest.mark.parametrize(
    "kw, field, text",
    [
        ({"numa": [{"size": "3G"}, {"size": "3G", "cpus": "1"}]}, "boot[0].numa", "more than the 4 GiB of RAM"),
        ({"numa": [{"size": "1G"}]}, "boot[0].numa", "less than"),
        ({"kernels": ["4.19"]}, "boot[0].kernels", "unknown kernel '4.19'"),
        ({"crash": True}, "boot[0].crash", "needs a kexec"),
        ({"kexec": "sideways"}, "boot[0].kexec", "kexec must be one of"),
        ({"machine": "isapc"}, "boot[0].machine", "pc or q35"),
        ({"memory": "4Q"}, "boot[0].memory", "not a size"),
        ({"memory": "100M"}, "boot[0].memory", "between 128M and 1T"),
        ({"crashkernel": "crashkernel=256M x"}, "boot[0].crashkernel", "without 'crashkernel='"),
        ({"numa": [{"size": "2G", "cpus": "0"}, {"size": "2G", "cpus": "0"}]}, "boot[0].numa", "two NUMA nodes"),
        ({"numa": [{"size": "2G", "cpus": "0"}, {"size": "2G", "cpus": "1"}], "cpus": 1}, "boot[0].numa", "beyond"),
        ({"colour": "blue"}, "boot[0].colour", "unknown key"),
        ({"dump": "huge", "kexec": "load", "crash": True}, "boot[0].dump", "dump must be one of"),
        ({"dump": "small", "kexec": "load"}, "boot[0].dump", "needs crash = true"),
        ({"dump": "small", "kexec": "load", "crash": True, "sweep": {"low": "64M", "high": "1G"}}, "boot[0].sweep", "expected {"),
        ({"dump": "small", "kexec": "load", "crash": True, "sweep": {"low": "66M", "high": "1G", "step": "4M"}}, "boot[0].sweep",
         "multiples"),
        ({"dump": "small", "kexec": "load", "crash": True, "sweep": {"low": "1G", "high": "64M", "step": "4M"}}, "boot[0].sweep",
         "low < high"),
        ({"dump": "small", "kexec": "load", "crash": True, "sweep": {"low": "64M", "high": "4G", "step": "4M"}}, "boot[0].sweep",
         "low < high < the guest's memory"),
        ({"dump": "small", "kexec": "load", "crash": True, "crashkernel": "256M",
          "sweep": {"low": "64M", "high": "1G", "step": "4M"}}, "boot[0].crashkernel", "chooses crashkernel= itself"),
        ({"kexec": "load", "crash": True, "sweep": {"low": "64M", "high": "1G", "step": "4M"}}, "boot[0].sweep", "measures a dump"),
    ],
)
def test_bad_configurations_fail_with_one_line(kw, field, text):
    with pytest.raises(InputError) as exc:
        cfg(**kw)
    msg = str(exc.value)
    assert msg.startswith(f"m.toml: {field}: ") and text in msg and "\n" not in msg


def test_matrix_file_errors(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[[boot]]\nname = "a"\nmemory = "1G"\n[[boot]]\nname = "a"\nmemory = "2G"\n')
    with pytest.raises(InputError, match="two boots are named 'a'"):
        read_matrix(f)
    f.write_text("[[boot]\n")
    with pytest.raises(InputError, match="not valid TOML"):
        read_matrix(f)


def test_command_line_always_has_nokaslr_and_the_knobs():
    c = cfg(crashkernel="256M", kexec="load", crash=True, cmdline="memmap=1G$4G")
    assert c.kernel_cmdline().split() == [
        "console=ttyS0", "loglevel=4", "log_buf_len=4M", "panic=5", "nokaslr",
        "memmap=1G$4G", "crashkernel=256M", "oracle.kexec=load", "oracle.crash=1",
    ]


def test_qemu_command_for_numa_and_large_guests():
    numa = cfg(memory="8G", numa=[{"size": "3G", "cpus": "0"}, {"size": "5G", "cpus": "1"}])
    argv = qemu_argv(numa, "qemu-system-x86_64", Path("vmlinuz"), Path("initrd"))
    joined = " ".join(argv)
    assert "-machine pc -m 8192M -smp 2" in joined
    assert "-object memory-backend-ram,id=m0,size=3072M,reserve=off -numa node,nodeid=0,cpus=0,memdev=m0" in joined
    assert "-numa node,nodeid=1,cpus=1,memdev=m1" in joined
    big = qemu_argv(cfg(memory="64G", machine="q35"), "qemu", Path("v"), Path("i"))
    assert "q35,memory-backend=ram0" in big and "memory-backend-ram,id=ram0,size=65536M,reserve=off" in big
    # a node of CPUs only: no memory backend (QEMU takes it as memoryless)
    cpuonly = " ".join(qemu_argv(cfg(memory="4G", numa=[{"size": "0", "cpus": "0"}, {"size": "4G", "cpus": "1"}]), "q", Path("v"), Path("i")))
    assert "-smp 2 -numa node,nodeid=0,cpus=0 -object memory-backend-ram,id=m1,size=4096M" in cpuonly and "id=m0" not in cpuonly
    small = qemu_argv(cfg(memory="1G"), "qemu", Path("v"), Path("i"))
    assert not any("memory-backend" in a for a in small)
    assert small[-2:] == ["-append", cfg(memory="1G").kernel_cmdline()]
    assert small[1:3] == ["-accel", "tcg,thread=multi"] and "-icount" not in small


def test_icount_runs_the_guest_at_another_speed():
    c = cfg(memory="1G", icount=3)
    assert qemu_argv(c, "qemu", Path("v"), Path("i"))[1:5] == ["-accel", "tcg,thread=single", "-icount", "shift=3"]
    assert c.describe().endswith("icount shift=3") and "icount" not in cfg(memory="1G").describe()
    for bad in (11, -1, True, "3"):
        with pytest.raises(InputError) as exc:
            cfg(memory="1G", icount=bad)
        assert exc.value.field == "boot[0].icount"


def test_missing_qemu_that_cannot_be_installed(monkeypatch):
    import earlymem.oracle.tools as tools

    monkeypatch.setattr(tools.shutil, "which", lambda cmd, path=None: None if cmd == "qemu-system-x86_64" else f"/usr/bin/{cmd}")
    monkeypatch.setattr(tools, "_busybox_is_static", lambda: True)
    monkeypatch.setattr(tools.os, "geteuid", lambda: 1000)
    with pytest.raises(InputError) as exc:
        tools.ensure_tools(log=lambda m: None)
    assert "missing qemu-system-x86_64 and cannot install qemu-system-x86" in str(exc.value)
    with pytest.raises(InputError, match="missing qemu-system-x86_64"):
        tools.ensure_tools(install=False)


def test_cli_refuses_bad_configurations_before_booting(tmp_path):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "earlymem", "oracle", *args], capture_output=True, text=True)

    p = run("boot", "--name", "x", "--memory", "4G", "--numa", "3G:0", "--numa", "3G:1", "--out", str(tmp_path))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "more than the 4 GiB of RAM" in p.stderr
    p = run("boot", "--name", "x", "--kernel", "4.19", "--out", str(tmp_path))
    assert p.returncode == 2 and "unknown kernel '4.19'" in p.stderr
    m = tmp_path / "m.toml"
    m.write_text('[[boot]]\nname = "a"\nmemory = "1G"\nkernels = ["2.6.23"]\n')
    p = run("matrix", str(m), "--out", str(tmp_path))
    assert p.returncode == 2 and f"{m}: boot[0].kernels: unknown kernel '2.6.23'" in p.stderr
    assert not any(tmp_path.glob("*--*")), "nothing was booted"


def test_firmware_kaslr_and_repeated_boots(tmp_path):
    from earlymem.lib.errors import InputError
    from earlymem.oracle.config import read_matrix
    from earlymem.oracle.qemu import capture_name, qemu_argv

    m = tmp_path / "m.toml"
    m.write_text('[[boot]]\nname = "u"\nmemory = "1G"\nfirmware = "uefi"\nkaslr = true\nboots = 3\n')
    (c,) = read_matrix(m)
    assert c.firmware == "uefi" and c.kaslr and c.boots == 3 and "nokaslr" not in c.kernel_cmdline()
    assert capture_name(c, "6.1", 2) == "u--6.1--02"
    argv = qemu_argv(c, "qemu", tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "VARS.fd")
    assert any("OVMF_CODE_4M.fd" in a for a in argv) and any(str(tmp_path / "VARS.fd") in a for a in argv)
    for bad, field in (('firmware = "coreboot"', "firmware"), ("kaslr = 1", "kaslr"), ("boots = 0", "boots"),
                       ('kaslr = true\ncmdline = "nokaslr"', "cmdline")):
        m.write_text(f'[[boot]]\nname = "u"\nmemory = "1G"\n{bad}\n')
        with pytest.raises(InputError) as exc:
            read_matrix(m)
        assert exc.value.field == f"boot[0].{field}"


DUMPS = Path(__file__).parent / "fixtures" / "dumps" / "matrix.toml"


def test_committed_dump_matrix_covers_what_the_issue_asks():
    """Issue 17, Deliver 4: at least 8 configurations x 4 kernels, 1-64 GiB, 1-4 nodes, small and large
    initramfs, with and without kexec_file."""
    configs = read_matrix(DUMPS)
    assert len(configs) >= 8 and all(c.sweep and c.crash for c in configs)
    assert all(set(c.kernels) == {"5.10", "6.1", "6.12", "7.2"} for c in configs)
    assert min(c.memory for c in configs) == 1 << 30 and max(c.memory for c in configs) == 64 << 30
    assert {max(1, len(c.numa)) for c in configs} == {1, 2, 3, 4}
    assert {c.dump for c in configs} == {"small", "large"} and {c.kexec for c in configs} == {"load", "file"}


def test_dump_knob_reaches_the_command_line():
    c = cfg(kexec="file", crash=True, dump="large", sweep={"low": "64M", "high": "1G", "step": "4M"})
    assert c.kernel_cmdline().split()[-1] == "oracle.dump=1" and c.sweep == (64 << 20, 1 << 30, 4 << 20)
    assert "makedumpfile, large kdump initramfs" in c.describe()
    assert "oracle.dump" not in cfg(kexec="load", crash=True).kernel_cmdline()
