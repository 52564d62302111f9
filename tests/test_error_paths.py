"""Every error names the file and line, the TOML field or the option (issue 14, item 3).

The command-line paths -- options, missing or wrong files, combinations, the
kernel's limits -- are walked here through ``earlymem.cli.main`` itself, in
process, and each printed line is checked: exit status 2, nothing on stdout,
one line ``earlymem: error: WHERE: message`` on stderr, WHERE the expected
file[:line][: field] or option, never ``<input>``.  The readers' own paths
(every malformed byte a file can hold) are walked by the coverage-guided
fuzzer (fuzz/, README "Fuzzing"), whose targets check the same form on every
InputError (fuzz.targets.check_error): CI's short run and the long runs.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from earlymem.cli import main

FIX = Path(__file__).parent / "fixtures"
LOG = FIX / "oracle" / "pc-4g-ck256-load-crash--6.1" / "serial.log"
HEAD = "[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1\n"
E820 = ("[    0.000000] BIOS-provided physical RAM map:\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable\n")
TOML = 'kernel_version = "6.1"\n[[e820]]\nstart = 0\nend = "640K"\ntype = "usable"\n[[e820]]\nstart = "1M"\nend = "1G"\ntype = "usable"\n'


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["earlymem", *argv]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def _proc_root(tmp: Path, osrelease: str = "6.1.0-50-amd64\n") -> Path:
    root = tmp / "root"
    for i, (s, e, t) in enumerate((("0x0", "0x9fbff", "System RAM"), ("0x100000", "0x3fffffff", "System RAM"))):
        d = root / f"sys/firmware/memmap/{i}"
        d.mkdir(parents=True)
        for f, v in (("start", s), ("end", e), ("type", t)):
            (d / f).write_text(v + "\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text(osrelease)
    (root / "proc/cmdline").write_text("nokaslr\n")
    return root


def _kernel(tmp: Path) -> Path:
    from tests.test_kexec_load import _synthetic_kernel

    return _synthetic_kernel(tmp)


# (id, build(tmp) -> (argv, where)): `where` is what follows "earlymem: error: "
CASES = {
    # files that are not there, or not what the option wants
    "dmesg missing": lambda t: (["predict", "--dmesg", str(t / "none.log")], f"{t / 'none.log'}: "),
    "machine missing": lambda t: (["predict", "--machine", str(t / "none.toml")], f"{t / 'none.toml'}: "),
    "proc missing": lambda t: (["predict", "--proc", str(t / "nodir")], f"{t / 'nodir'}: "),
    "kernel image missing": lambda t: (["predict", "--dmesg", str(LOG), "--kernel", str(t / "vmlinuz")], f"{t / 'vmlinuz'}: "),
    "kernel image not a bzImage": lambda t: (["predict", "--dmesg", str(LOG), "--kernel", str(_write(t, "vmlinuz", "not a kernel\n"))],
                                             f"{t / 'vmlinuz'}"),
    "bzimage not a bzImage": lambda t: (["bzimage", str(_write(t, "bz", "x" * 600))], f"{t / 'bz'}"),
    "verify missing": lambda t: (["verify", str(t / "none")], f"{t / 'none'}: "),
    "replay scenario missing": lambda t: (["replay", str(t / "none.toml")], f"{t / 'none.toml'}: "),
    "replay scenario unknown": lambda t: (["replay", "no-such-scenario"], "SCENARIO: "),
    "kexec initrd unreadable": lambda t: (["kexec", "--dmesg", str(LOG), "--kernel", str(_kernel(t)), "--initrd", str(t / "none.img")],
                                          f"{t / 'none.img'}: "),
    # logs: a line, and the facts the kernel bounds
    "log without banner": lambda t: (["predict", "--dmesg", str(_write(t, "b.log", E820))], f"{t / 'b.log'}:"),
    "log boot number": lambda t: (["e820", "--dmesg", str(_write(t, "b.log", HEAD + E820)), "--boot", "3"], f"{t / 'b.log'}: --boot: "),
    "log e820 past 2^52": lambda t: (["e820", "--dmesg", str(_write(t, "b.log", HEAD + E820 + "[    0.000000] BIOS-e820: [mem 0x0010000000000000-0x00100000ffffffff] usable\n"))],
                                     f"{t / 'b.log'}:5: "),
    "log node past MAX_NUMNODES": lambda t: (["predict", "--dmesg", str(_write(t, "b.log", HEAD + E820 + "[    0.000000] SRAT: PXM 0 -> APIC 0x00 -> Node 4096\n"))],
                                             f"{t / 'b.log'}:5: "),
    "log kernel too new": lambda t: (["predict", "--dmesg", str(_write(t, "b.log", HEAD.replace("6.1.0-50-amd64", "8.1.0") + E820))], f"{t / 'b.log'}:1: "),
    "log kernel too old": lambda t: (["predict", "--dmesg", str(_write(t, "b.log", HEAD.replace("6.1.0-50-amd64", "2.4.20") + E820))], f"{t / 'b.log'}:1: "),
    "log crashkernel overflow": lambda t: (["predict", "--dmesg", str(_write(t, "b.log", HEAD + "[    0.000000] Command line: nokaslr crashkernel=99999999999999999999G\n" + E820))],
                                           f"{t / 'b.log'}:2: "),
    # TOML fields
    "toml field": lambda t: (["predict", "--machine", str(_write(t, "m.toml", TOML.replace('end = "1G"', 'end = "banana"')))], f"{t / 'm.toml'}: e820[1].end: "),
    "toml node": lambda t: (["predict", "--machine", str(_write(t, "m.toml", TOML + '[[numa]]\nnode = 5000\nstart = 0\nend = "1G"\n'))], f"{t / 'm.toml'}: numa[0].node: "),
    "toml kernel without profile": lambda t: (["predict", "--machine", str(_write(t, "m.toml", TOML.replace('"6.1"', '"1.6.23"')))], f"{t / 'm.toml'}: kernel"),
    "toml broken": lambda t: (["e820", "--machine", str(_write(t, "m.toml", "[[e820]\n"))], f"{t / 'm.toml'}:"),
    # /proc roots
    "proc not a root": lambda t: (["predict", "--proc", str((t / "empty").mkdir() or t / "empty")], f"{t / 'empty'}: "),
    "proc osrelease too new": lambda t: (["predict", "--proc", str(_proc_root(t, "9.9.0\n"))], f"{t / 'root'}: "),
    # options
    "kernel-version garbage": lambda t: (["predict", "--dmesg", str(LOG), "--kernel-version", "banana"], "--kernel-version: "),
    "kernel-version too new": lambda t: (["predict", "--dmesg", str(LOG), "--kernel-version", "8.0"], "--kernel-version: "),
    "assume-era garbage": lambda t: (["predict", "--dmesg", str(LOG), "--assume-era", "banana"], "--assume-era: "),
    "append bad crashkernel": lambda t: (["predict", "--dmesg", str(LOG), "--append", "crashkernel=99999999999999999999G"], "--append"),
    "crash-cpu": lambda t: (["kexec", "--dmesg", str(LOG), "--kernel", str(_kernel(t)), "--crash-cpu", "5000"], "--crash-cpu: "),
    "image and banner differ": lambda t: (["predict", "--dmesg", str(LOG), "--kernel", str(_kernel(t))], f"{t}/"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_path_names_where(tmp_path, case):
    argv, where = CASES[case](tmp_path)
    code, out, err = _main(argv)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1, (code, out[-300:], err)
    assert lines[0].startswith("earlymem: error: " + where), lines[0]
    assert "<input>" not in err and "Traceback" not in err


def test_every_reader_checks_the_error_form_under_fuzzing():
    # the readers' paths are walked by the fuzzer: every target raises only one-line
    # InputErrors that name their file (fuzz.targets._guard -> check_error)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fuzz import targets

    from earlymem.lib.errors import InputError

    with pytest.raises(AssertionError, match="names no file"):
        targets.check_error(InputError("bad"))
    targets.check_error(InputError("bad", source="f", line=3))
