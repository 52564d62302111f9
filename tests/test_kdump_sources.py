"""`check` from a sosreport (directory and archive) and from a system copy gives what it gives from
the same boot's log with the same inputs; each missing input is named; bad sources exit 2."""

from __future__ import annotations

import io
import re
import subprocess
from fractions import Fraction
import sys
import tarfile
from pathlib import Path

import pytest

from earlymem.kdump.check import check, next_kernel
from earlymem.kdump.gather import Options, gather, installed_builds
from earlymem.sources.capture import read_capture
from earlymem.verification import _oracle_kappend

SWEEP = Path(__file__).parent / "fixtures" / "dumps" / "sweep"
CAPTURE = SWEEP / "dump-pc-2g-large-file--6.1--ck240M"
RELEASE = "6.1.0-50-amd64"
APPEND = " ".join([_oracle_kappend(), "nokaslr", "oracle.dump=1"])
TOP = "sosreport-host1-2026-12-05-abcdef"


def sos_files() -> dict[str, bytes]:
    cap = read_capture(CAPTURE)
    listing = (SWEEP / "kdump-initrd-large.lst").read_text()
    size = 36351882
    text = lambda lines: ("\n".join(lines) + "\n").encode()
    return {
        "sos_commands/kernel/dmesg": text(cap.section("first/dmesg")),
        "proc/cmdline": text(cap.section("first/cmdline")),
        "proc/iomem": text(cap.section("first/iomem")),
        "sys/kernel/kexec_crash_size": text(cap.section("first/kexec_crash_size")),
        "sys/kernel/kexec_crash_loaded": b"1\n",
        "etc/sysconfig/kdump": f'KDUMP_COMMANDLINE="{APPEND}"\nKDUMP_COMMANDLINE_REMOVE=""\nKEXEC_ARGS="-s"\n'.encode(),
        f"sos_commands/kdump/lsinitrd_.boot.initramfs-{RELEASE}kdump.img":
            f"Image: /boot/initramfs-{RELEASE}kdump.img: 35M\n{'=' * 72}\n".encode() + listing.encode(),
        "sos_commands/boot/ls_-lanR_.boot": (
            "/boot:\ntotal 4\n"
            f"-rw-------. 1 0 0 {size} Dec  5 16:58 initramfs-{RELEASE}kdump.img\n"
            f"-rwxr-xr-x. 1 0 0  8221184 Nov 20 10:00 vmlinuz-{RELEASE}\n"
            "-rwxr-xr-x. 1 0 0  9437184 Nov 20 10:00 vmlinuz-6.12.117+deb13-amd64\n").encode(),
    }


def write_dir(root: Path) -> Path:
    for rel, data in sos_files().items():
        (root / TOP / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / TOP / rel).write_bytes(data)
    return root / TOP


def write_tar(root: Path) -> Path:
    out = root / f"{TOP}.tar.xz"
    with tarfile.open(out, "w:xz") as tar:
        for rel, data in sos_files().items():
            info = tarfile.TarInfo(f"{TOP}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def from_log(tmp_path: Path):
    log = tmp_path / "first.log"
    log.write_text("\n".join(read_capture(CAPTURE).section("first/dmesg")) + "\n")
    g = gather(str(log), Options(kernel=RELEASE, initrd=str(SWEEP / "kdump-initrd-large.lst"), initrd_size="36351882",
                                 append=APPEND, file_load=True))
    return check(g.setup, source=g.source)


@pytest.mark.parametrize("make", [write_dir, write_tar], ids=["directory", "tar.xz"])
def test_a_sosreport_gives_what_the_log_gives(tmp_path, make):
    g = gather(str(make(tmp_path)))
    assert g.missing == [] and g.crash_loaded[0] == "1"
    assert g.setup.append == APPEND and g.setup.method == "kexec_file_load" and g.setup.initrd.size == 36351882
    nxt = tuple(next_kernel(g.setup, rel, b) for rel, b in installed_builds(g))
    result = check(g.setup, source=g.source, next_kernels=nxt, crash_loaded=g.crash_loaded)
    alone = from_log(tmp_path)
    assert result.verdict == alone.verdict == "ready"
    assert [p.status for p in result.parts[:4]] == [p.status for p in alone.parts[:4]]
    assert any(f.code == "loaded-now" for f in result.parts[1].findings)
    # the other installed kernel is a build earlymem knows: checked with the same crashkernel= and initramfs
    assert [k.release for k in nxt] == ["6.12.117+deb13-amd64"] and nxt[0].verdict in ("ready", "not_ready", "marginal")


def test_a_sosreport_without_the_initramfs_listing_names_it(tmp_path):
    root = write_dir(tmp_path)
    (root / f"sos_commands/kdump/lsinitrd_.boot.initramfs-{RELEASE}kdump.img").unlink()
    g = gather(str(root))
    assert [m.what for m in g.missing] == ["the kdump initramfs (--initrd FILE, or a listing of it)"]
    result = check(g.setup, source=g.source)
    assert result.verdict == "unknown" and result.parts[1].status == "unknown"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "earlymem", *args], capture_output=True, text=True)


@pytest.mark.parametrize("damage", ["truncated", "not-a-sosreport", "traversal"])
def test_bad_archives_exit_2_with_one_line(tmp_path, damage):
    good = write_tar(tmp_path)
    bad = tmp_path / f"bad-{damage}.tar.xz"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        with tarfile.open(bad, "w:xz") as tar:
            name = "../escape" if damage == "traversal" else f"{TOP}/etc/hostname"
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"x\n\n"))
    before = set(tmp_path.parent.iterdir())
    proc = run("check", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert set(tmp_path.parent.iterdir()) == before  # nothing written beside it


def test_a_system_copy_is_read_like_a_live_machine(tmp_path):
    cap = read_capture(CAPTURE)
    root = tmp_path / "root"
    files = {"proc/cmdline": "\n".join(cap.section("first/cmdline")), "proc/iomem": "\n".join(cap.section("first/iomem")),
             "proc/sys/kernel/osrelease": RELEASE, "sys/kernel/kexec_crash_loaded": "0"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")
    g = gather(str(root), Options(initrd=str(SWEEP / "kdump-initrd-large.lst"), initrd_size="36351882", append=APPEND,
                                  file_load=True))
    assert any("boot messages" in m.what for m in g.missing)
    result = check(g.setup, source=g.source, crash_loaded=g.crash_loaded)
    assert result.verdict == "not_ready" and result.parts[1].findings[0].code == "not-loaded-now"


def test_an_insights_archive_without_a_firmware_map_checks_what_it_observed(tmp_path):
    """insights-client's layout: files at their own paths under data/, commands under insights_commands/;
    its dmesg keeps only the lines its uploader's patterns match (here: none of the e820 map)."""
    top = "insights-host1-20261205101010"
    files = {
        "data/insights_commands/dmesg": b"[    0.000000] NUMA: Initialized distance table, cnt=2\n",
        "data/insights_commands/uname_-a": b"Linux host1 5.14.0-284.el9.x86_64 #1 SMP x86_64 GNU/Linux\n",
        "data/proc/cmdline": b"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-284.el9.x86_64 root=/dev/vda ro\n",
        "data/sys/kernel/kexec_crash_size": b"0\n",
        "data/sys/kernel/kexec_crash_loaded": b"0\n",
    }
    out = tmp_path / f"{top}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    proc = run("check", str(out), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "not_ready" and doc["parts"][0]["findings"][0]["code"] == "not-reserved"
    assert "no crashkernel=" in doc["summary"] and "Insights archive" in doc["missing"][0]["what"]
    assert run("recommend", str(out)).returncode == 1


@pytest.mark.parametrize("conf, code", [("nfs my.server.com:/export/tmp\ncore_collector makedumpfile -l -d 31\n", "network-target"),
                                        ("ssh user@my.server.com\n", "network-target"),
                                        ("ext4 /dev/mapper/luks-1\ndracut_args --add crypt\n", "luks-target")])
def test_a_network_or_encrypted_target_leaves_the_capture_kernel_unconfirmed(tmp_path, conf, code):
    root = write_dir(tmp_path)
    (root / "etc/kdump.conf").write_text("# kdump.conf\n" + conf)
    g = gather(str(root))
    result = check(g.setup, source=g.source, crash_loaded=g.crash_loaded, targets=g.targets)
    capture = result.parts[2]
    assert capture.status == "unknown" and result.verdict == "unknown"
    finding = next(f for f in capture.findings if f.code == code)
    assert re.match(rf"{re.escape(str(root))}:etc/kdump.conf:[23]: (nfs|ssh|dracut_args) ", finding.evidence[0])


def test_a_kaslr_boot_is_checked_over_every_place_the_kernel_can_take(tmp_path):
    """No nokaslr: the first kernel's place is drawn at boot; check follows every crash-region outcome
    with its exact share of the slots (earlymem.kaslr) and says on how many boots kdump is ready."""
    from earlymem.render.kdump import check_text

    cap = read_capture(Path(__file__).parent / "fixtures" / "kaslr" / "kaslr-numa2-1g1g-ck192--5.10--01")
    log = tmp_path / "first.log"
    log.write_text("\n".join(cap.section("first/dmesg")) + "\n")
    g = gather(str(log), Options(initrd=str(SWEEP / "kdump-initrd-small.lst"), initrd_size="2752525"))
    result = check(g.setup, source=g.source)
    assert result.p_ready is not None and 0 < Fraction(result.p_ready) <= 1
    assert f"(exactly {result.p_ready})" in check_text(result).splitlines()[1]


def test_a_kdump_configuration_whose_quotes_do_not_close_names_its_line(tmp_path):
    root = write_dir(tmp_path)
    (root / "etc/sysconfig/kdump").write_text('KDUMP_COMMANDLINE_REMOVE="hugepages"\nKDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1\n')
    proc = run("check", str(root))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert f"{root}:etc/sysconfig/kdump:2: KDUMP_COMMANDLINE_APPEND: its quotes do not close" in proc.stderr
