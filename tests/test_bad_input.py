"""Bad input: one line naming the file and the line or field, exit status 2."""

import subprocess
import sys

import pytest

GOOD_HEAD = "[    0.000000] Linux version 6.1.0-50-amd64 (x) #1 SMP\n[    0.000000] Command line: console=ttyS0\n[    0.000000] BIOS-provided physical RAM map:\n"
GOOD_E820 = (
    "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
    "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable\n"
)


def run(*args):
    return subprocess.run([sys.executable, "-m", "earlymem", *args], capture_output=True, text=True)


def check_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize(
    "body, line, what",
    [
        ("[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000zz] usable\n", 4, "garbled e820"),
        ("[    0.000000] BIOS-e820: [mem 0x00000000000a0000-0x000000000009ffff] usable\n", 4, "before it starts"),
        ("[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x1ffffffffffffffff] usable\n", 4, "64 bits"),
        ("[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000001fffff] wobbly\n", 4, "unknown e820 type label"),
        ("[    0.000000]  BIOS-e820: 00000000001000 - 0000000000000 (usable)\n", 4, "before it starts"),
    ],
)
def test_malformed_e820_lines(tmp_path, body, line, what):
    f = tmp_path / "bad.log"
    f.write_text(GOOD_HEAD + body + GOOD_E820)
    check_one_line_error(run("e820", "--dmesg", str(f)), f"bad.log:{line}:", what)


def test_empty_file(tmp_path):
    f = tmp_path / "empty.log"
    f.write_text("\n\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), "empty.log", "empty")


def test_binary_junk(tmp_path):
    f = tmp_path / "junk.log"
    f.write_bytes(b"Linux version\n" + bytes(range(256)) * 40)
    check_one_line_error(run("e820", "--dmesg", str(f)), "junk.log:2", "binary")


def test_missing_file(tmp_path):
    check_one_line_error(run("e820", "--dmesg", str(tmp_path / "nope.log")), "nope.log", "cannot read")


def test_log_without_kernel_lines(tmp_path):
    f = tmp_path / "prose.log"
    f.write_text("hello\nworld\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), "prose.log", "no kernel boot messages")


def test_log_without_firmware_map(tmp_path):
    f = tmp_path / "nomap.log"
    f.write_text("[    0.000000] Linux version 6.1.0 (x)\n[    0.000000] Command line: quiet\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), "nomap.log:1", "BIOS-provided")


def test_header_without_entries(tmp_path):
    f = tmp_path / "cut.log"
    f.write_text(GOOD_HEAD + "[    0.000000] NX (Execute Disable) protection: active\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), "cut.log:3", "no e820 lines")


def test_size_past_2_64_on_the_command_line(tmp_path):
    f = tmp_path / "huge.log"
    f.write_text(GOOD_HEAD.replace("console=ttyS0", "memmap=99999999999999999999G$0x1000") + GOOD_E820)
    check_one_line_error(run("e820", "--dmesg", str(f)), "huge.log", "memmap=", "64 bits")


def test_unknown_kernel_version_override(tmp_path):
    f = tmp_path / "ok.log"
    f.write_text(GOOD_HEAD + GOOD_E820)
    check_one_line_error(run("e820", "--dmesg", str(f), "--kernel-version", "banana"), "--kernel-version", "not a kernel version")
    check_one_line_error(run("e820", "--dmesg", str(f), "--kernel-version", "2.4.20"), "older than any profile")


def test_boot_number_past_the_end(tmp_path):
    f = tmp_path / "ok.log"
    f.write_text(GOOD_HEAD + GOOD_E820)
    check_one_line_error(run("e820", "--dmesg", str(f), "--boot", "2"), "ok.log", "1 boot")


def test_user_map_the_kernel_panics_on_is_an_outcome_not_an_error(tmp_path):
    # memmap=exactmap alone leaves no entries: the kernel panics with 'Invalid user
    # supplied memory map' -- a legal input, so a predicted outcome (it was exit 2)
    f = tmp_path / "exact.log"
    f.write_text(GOOD_HEAD.replace("console=ttyS0", "memmap=exactmap") + GOOD_E820)
    proc = run("e820", "--dmesg", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "Kernel panic - not syncing: Invalid user supplied memory map"
    assert "predicted outcome: the kernel panics in e820__finish_early_params(): fewer than two e820 entries" in proc.stderr


def test_good_log_exits_zero(tmp_path):
    f = tmp_path / "ok.log"
    f.write_text(GOOD_HEAD + GOOD_E820)
    proc = run("e820", "--dmesg", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "BIOS-provided physical RAM map:",
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable",
    ]


def test_append_shows_what_extra_parameters_would_do(tmp_path):
    f = tmp_path / "ok.log"
    f.write_text(GOOD_HEAD + GOOD_E820)
    proc = run("e820", "--dmesg", str(f), "--append", "memmap=1M$0x200000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-4:] == [
        "user: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "user: [mem 0x0000000000100000-0x00000000001fffff] usable",
        "user: [mem 0x0000000000200000-0x00000000002fffff] reserved",
        "user: [mem 0x0000000000300000-0x000000003fffffff] usable",
    ]
    check_one_line_error(run("e820", "--dmesg", str(f), "--append", "mem=99999999999999999999"), "--append", "64 bits")


def test_exactly_one_input(tmp_path):
    proc = run("e820")
    assert proc.returncode == 2 and "exactly one of" in proc.stderr


def test_proc_root(tmp_path):
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/cmdline").write_text("quiet mem=0x20000000\n")
    (tmp_path / "proc/sys/kernel/osrelease").write_text("6.1.0-50-amd64\n")
    for i, (s, e, t) in enumerate([(0, 0x9FBFF, "System RAM"), (0x100000, 0x3FFFFFFF, "System RAM")]):
        d = tmp_path / f"sys/firmware/memmap/{i}"
        d.mkdir(parents=True)
        (d / "start").write_text(f"{s:#x}\n")
        (d / "end").write_text(f"{e:#x}\n")
        (d / "type").write_text(t + "\n")
    proc = run("e820", "--proc", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "user: [mem 0x0000000000100000-0x000000001fffffff] usable"


def test_banner_of_an_unmodelled_era_names_the_line(tmp_path):
    f = tmp_path / "old.log"
    f.write_text(GOOD_HEAD.replace("6.1.0-50-amd64", "2.4.20") + GOOD_E820)
    check_one_line_error(run("e820", "--dmesg", str(f)), "old.log:1:", "older than any profile")
    # ... and an override lets the user choose an era for it.
    assert run("e820", "--dmesg", str(f), "--kernel-version", "2.6.22").returncode == 0


def test_line_numbers_are_the_files_lf_lines_whatever_the_carriage_returns(tmp_path):
    # CR CR LF endings and a lone CR inside a line (a progress counter) counted as extra
    # lines, so errors named the wrong line
    f = tmp_path / "cr.log"
    f.write_bytes(b"[    0.000000] Linux version 6.1.0-50-amd64 (x) #1 SMP\r\r\n"
                  b"[    0.000000] Command line: console=ttyS0\r\r\n"
                  b"progress 10%\rprogress 100%\r\n"
                  b"[    0.000000] BIOS-provided physical RAM map:\r\n"
                  b"[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\r\n"
                  b"[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000zz] usable\r\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), f"{f}:6:", "garbled e820")


def test_binary_hidden_behind_a_carriage_return_is_still_binary(tmp_path):
    # (the short fuzzing run found it: the line of the first bad byte was searched for in
    # the lines as displayed, where a lone CR had hidden it -- StopIteration)
    f = tmp_path / "bin.log"
    f.write_bytes(b"ok\n" + b"\xff\xfe" * 40 + b"\rvisible\n")
    check_one_line_error(run("e820", "--dmesg", str(f)), f"{f}:2:", "binary data")
