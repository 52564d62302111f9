"""What the real kernel does with a legal but unlucky input -- a panic -- is a
predicted outcome with the kernel's own words and exit status 0, never an
input error (issue 14, item 2)."""

import json
import subprocess
import sys

import pytest

from earlymem import boot, load_machine

_TOML = """kernel_version = "{v}"
command_line = "{cmd}"
{extra}
[[e820]]
start = 0
end = "640K"
type = "usable"
[[e820]]
start = "1M"
end = "1G"
type = "usable"
"""


def _machine(tmp_path, v="6.1", cmd="nokaslr", extra=""):
    f = tmp_path / "m.toml"
    f.write_text(_TOML.format(v=v, cmd=cmd, extra=extra))
    return f


def _run(*args):
    return subprocess.run([sys.executable, "-m", "earlymem", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("v", ["2.6.27", "5.10", "6.1", "6.12", "7.2"])
def test_an_unsanitizable_user_map_panics_with_the_kernels_words(tmp_path, v):
    # e820__finish_early_params(): e820__update_table() < 0 -> early_panic("Invalid user supplied memory map")
    f = _machine(tmp_path, v, "nokaslr memmap=exactmap memmap=640K@0")
    result = boot(load_machine(f))
    assert result.panic is not None and result.panic.message == "Invalid user supplied memory map"
    assert result.dmesg()[-1] == "Kernel panic - not syncing: Invalid user supplied memory map"
    assert "fewer than two" in result.panic.why
    proc = _run("predict", "--machine", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "Kernel panic - not syncing: Invalid user supplied memory map"
    assert proc.stdout.count("Kernel panic") == 1
    assert "predicted outcome: the kernel panics" in proc.stderr and "Traceback" not in proc.stderr


def test_the_panic_is_in_the_json(tmp_path):
    f = _machine(tmp_path, "6.1", "nokaslr memmap=exactmap")
    from tests.test_json_schema import _validate

    doc = json.loads(_run("predict", "--machine", str(f), "--format", "json").stdout)
    assert doc["panic"]["function"] == "e820__finish_early_params"
    _validate(doc, "earlymem/boot/2")
    doc = json.loads(_run("e820", "--machine", str(f), "--format", "json").stdout)
    assert doc["panic"]["message"] == "Invalid user supplied memory map" and doc["user"] is None
    _validate(doc, "earlymem/e820/2")


@pytest.mark.parametrize("v", ["5.10", "6.1", "7.2"])
def test_an_initrd_that_cannot_be_moved_is_relocate_initrds_panic(tmp_path, v):
    # arch/x86/kernel/setup.c relocate_initrd(): panic("Cannot find place for new RAMDISK of size %lld")
    # the RAMDISK range is page-rounded, so the exact size is bounded, not printed
    f = _machine(tmp_path, v, "nokaslr crashkernel=128M", 'initrd = { start = "0x3ff00000", end = "0x7ff00000" }')
    result = boot(load_machine(f))
    assert result.panic is not None and result.panic.function == "relocate_initrd" and result.panic.message is None
    assert "from 1073737729 to 1073741824 bytes" in result.panic.why
    assert not any("Kernel panic" in ln for ln in result.dmesg())  # (its number is not known)
    assert not any(ln.family in ("numa", "zones") for ln in result.lines)  # x86_numa_init() runs after it
    if v == "5.10":  # reserve_real_mode() printed its crashkernel line before
        assert result.dmesg()[-1] == "kexec: Reserving the low 1M of memory for crashkernel"
    proc = _run("predict", "--machine", str(f))
    assert proc.returncode == 0 and "relocate_initrd()" in proc.stderr and "Cannot find place for new RAMDISK" in proc.stderr


def test_kexec_into_a_kernel_that_panics_loads_nothing(tmp_path):
    from earlymem import kexec_load
    from tests.test_kexec_load import _synthetic_kernel
    from earlymem import read_kernel

    f = _machine(tmp_path, "6.1", "nokaslr crashkernel=128M memmap=exactmap")
    first = boot(load_machine(f))
    res = kexec_load(load_machine(f), first, read_kernel(_synthetic_kernel(tmp_path)))
    assert not res.loaded and "panics during boot" in res.error


def test_a_memblock_array_that_cannot_double_fails_the_call_not_earlymem():
    # mm/memblock.c memblock_double_array(): pr_err("memblock: Failed to double %s array from
    # %ld to %ld entries !") and -1; memblock_add_range() returns -ENOMEM and adds nothing
    # (it was an internal error, exit 70)
    from earlymem.allocators.memblock import ENOMEM, Memblock

    mb = Memblock()
    mb.can_resize = True
    mb.add(0x1000, 0x1000)  # one page: no room for a doubled array
    rcs = [mb.reserve(0x100000 + i * 0x2000, 0x1000) for i in range(130)]
    assert rcs[:127] == [0] * 127 and rcs[-1] == -ENOMEM
    assert mb.reserved.cnt == 128 and mb.log[-1] == "memblock: Failed to double reserved array from 128 to 256 entries !"
    mb.check_invariants()
    # memblock_alloc_range_nid(): "if (found && !memblock_reserve(found, size))" -- found, not reserved: NULL
    assert mb.alloc(0x10, 0x10) == 0 and mb.reserved.cnt == 128
