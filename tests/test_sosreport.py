"""Reading a sosreport as shipped (issue 17's inputs): the files earlymem needs, from a
directory or an archive, and a one-line refusal for a truncated archive, path traversal,
a link out of the report, or something that is not a sosreport."""

from __future__ import annotations

import io
import tarfile

import pytest

from earlymem.lib.errors import InputError
from earlymem.sources.sosreport import SOS_PATHS, SOS_PATTERNS, read_sosreport

TOP = "sosreport-host1-2026-12-05-abcdef"
FILES = {
    "proc/cmdline": b"BOOT_IMAGE=/vmlinuz-4.18.0-305.el8.x86_64 ro crashkernel=auto\n",
    "sos_commands/kernel/dmesg": b"[    0.000000] Linux version 4.18.0-305.el8.x86_64 (x) #1 SMP\n",
    "sos_commands/kernel/uname_-a": b"Linux host1 4.18.0-305.el8.x86_64 #1 SMP x86_64 GNU/Linux\n",
    "proc/iomem": b"00000000-00000fff : Reserved\n",
    "sys/kernel/kexec_crash_size": b"167772160\n",
    "etc/kdump.conf": b"path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n",
}


def _tar(tmp_path, files=FILES, links=(("uname", "sos_commands/kernel/uname_-a"),), mode="w:xz", name="s.tar.xz", extra=()):
    out = tmp_path / name
    with tarfile.open(out, mode) as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{TOP}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for rel, target in links:
            info = tarfile.TarInfo(f"{TOP}/{rel}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def test_an_archive_gives_the_files_earlymem_reads_and_names_what_is_missing(tmp_path):
    sos = read_sosreport(_tar(tmp_path))
    assert sos.text("cmdline").endswith("crashkernel=auto\n")
    assert sos.text("kexec_crash_size") == "167772160\n" and sos.where("iomem").endswith(".tar.xz:proc/iomem")
    assert sos.files["uname"][0] == "sos_commands/kernel/uname_-a"
    assert set(sos.missing()) == {*SOS_PATHS, *SOS_PATTERNS} - {"cmdline", "dmesg", "uname", "iomem", "kexec_crash_size", "kdump_conf"}


LISTING = b"-rwxr-xr-x   1 root root 1982256 May  7  2026 bin/busybox\n"


@pytest.mark.parametrize("as_dir", [False, True])
def test_the_kdump_initramfs_listing_is_found_by_its_versioned_name(tmp_path, as_dir):
    name = "sos_commands/kdump/lsinitrd_.boot.initramfs-4.18.0-305.el8.x86_64kdump.img"
    files = {**FILES, name: LISTING, "sos_commands/kdump/lsinitrd_.boot.initramfs-4.18.0-305.el8.x86_64.img": b"other\n"}
    if as_dir:
        for rel, data in files.items():
            (tmp_path / TOP / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / TOP / rel).write_bytes(data)
        sos = read_sosreport(tmp_path / TOP)
    else:
        sos = read_sosreport(_tar(tmp_path, files))
    assert sos.files["kdump_initrd_listing"] == (name, LISTING)


def test_a_link_is_followed_inside_the_report(tmp_path):
    """The first-file fallback takes a link to a file that is in the report (here the link is
    the only way to the dmesg)."""
    files = {k: v for k, v in FILES.items() if k != "sos_commands/kernel/dmesg"}
    files["sos_commands/kernel/dmesg_real"] = b"[    0.000000] Linux version 5.14.0-70.el9.x86_64\n"
    sos = read_sosreport(_tar(tmp_path, files, links=(("sos_commands/kernel/dmesg", "dmesg_real"),)))
    assert sos.text("dmesg").startswith("[    0.000000] Linux version 5.14.0")


def test_a_directory_and_the_directory_above_it(tmp_path):
    root = tmp_path / "unpacked" / TOP
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    assert read_sosreport(root).text("cmdline") == read_sosreport(tmp_path / "unpacked").text("cmdline") == FILES["proc/cmdline"].decode()
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/default/kdump-tools").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match="link out of the report") as exc:
        read_sosreport(root)
    assert exc.value.source == str(root)


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95])
def test_a_truncated_archive_is_named(tmp_path, cut):
    data = _tar(tmp_path, {**FILES, "sos_commands/logs/big": bytes(range(256)) * 4000}).read_bytes()
    short = tmp_path / "short.tar.xz"
    short.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InputError, match="truncated or damaged archive") as exc:
        read_sosreport(short)
    assert exc.value.source == str(short)


@pytest.mark.parametrize("name,why", [("../../etc/cron.d/evil", "leaves the archive"), ("/etc/passwd", "absolute path"),
                                      (f"{TOP}/../../x", "leaves the archive")])
def test_path_traversal_in_a_member_name_is_refused(tmp_path, name, why):
    info = tarfile.TarInfo(name)
    info.size = 1
    with pytest.raises(InputError, match=why):
        read_sosreport(_tar(tmp_path, extra=((info, b"x"),)))
    assert not (tmp_path.parent / "etc").exists() and list(tmp_path.iterdir()) == [tmp_path / "s.tar.xz"]


def test_a_link_out_of_the_archive_is_refused(tmp_path):
    with pytest.raises(InputError, match="path traversal"):
        read_sosreport(_tar(tmp_path, links=(("proc/cmdline2", "../../../../etc/shadow"),)))


def test_not_a_sosreport(tmp_path):
    with pytest.raises(InputError, match="not a sosreport"):
        read_sosreport(_tar(tmp_path, {"proc/cmdline": b"ro\n"}, links=()))
    plain = tmp_path / "notes.txt"
    plain.write_text("hello\n")
    with pytest.raises(InputError, match="truncated or damaged archive"):
        read_sosreport(plain)
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="not a sosreport"):
        read_sosreport(tmp_path / "d")


def test_gzip_and_plain_tar_too(tmp_path):
    for mode, name in (("w:gz", "s.tar.gz"), ("w", "s.tar")):
        assert read_sosreport(_tar(tmp_path, mode=mode, name=name)).text("cmdline") == FILES["proc/cmdline"].decode()
