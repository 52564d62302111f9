"""Inputs the fuzzer (fuzz/run.py) found that broke a reader's contract, fed back exactly.

The contract: for any bytes a reader returns a value or raises an InputError
whose message is one line naming the file (and the line, field or offset).
Reproducers are inline when short, else in tests/fixtures/fuzz/ (each the
fuzzer's input after ``python -m fuzz.run --minimize``).  README, "Fuzzing",
lists the bugs.
"""

from pathlib import Path

import pytest

from earlymem.lib.errors import InputError

FUZZ = Path(__file__).parent / "fixtures" / "fuzz"


def rejected(call, *args, source: str, match: str = ""):
    with pytest.raises(InputError) as exc:
        call(*args)
    text = str(exc.value)
    assert "\n" not in text and text.startswith(source), text
    assert match in text, text
    return exc.value


# -- 1. pyelftools raises OverflowError (not ELFError) for offsets past 2^63 -----------------------

ELF_SHOFF_HUGE = (b"\x7fELF\x02\x01\x01\x00\x01" + bytes(15) + b"\x02\x00>\x00\x01\x00\x00\x00\x00" + b"\x90" * 23
                  + b"abc" + bytes(5))


@pytest.mark.parametrize("data", [
    ELF_SHOFF_HUGE,
    (FUZZ / "elf-section-offset-overflow.bin").read_bytes(),
], ids=["section-headers", "section-name"])
def test_vmlinux_elf_with_an_offset_past_2_63(data):
    from earlymem.sources.bzimage import _load_segments

    rejected(_load_segments, data, "vmlinux", source="vmlinux: payload:")


def test_bzimage_whose_vmlinux_has_an_offset_past_2_63():
    from earlymem.sources.bzimage import parse_bzimage

    rejected(parse_bzimage, (FUZZ / "bzimage-elf-offset-overflow.bin").read_bytes(), "vmlinuz",
             source="vmlinuz: payload:", match="ELF is malformed")


def test_purgatory_elf_with_an_offset_past_2_63():
    from earlymem.sources.purgatory import purgatory_facts

    rejected(purgatory_facts, (FUZZ / "purgatory-offset-overflow.bin").read_bytes(), "kexec", source="kexec:",
             match="purgatory ELF is malformed")


# -- 2. an ELF ident in the last 20 bytes of a kexec binary: struct.error reading e_type ---------

@pytest.mark.parametrize("data", [b"\x90\x7fELF\x02\x01\x01", b"\x7fELF\x02\x01\x01" * 3])
def test_purgatory_search_with_an_elf_ident_cut_short(data):
    from earlymem.sources.purgatory import purgatory_facts

    rejected(purgatory_facts, data, "kexec", source="kexec:", match="no embedded")


# -- 3. a memblock=debug range that ends before it starts: ValueError from Range -------------------

@pytest.mark.parametrize("lines, lineno", [
    (["MEMBLOCK configuration:", "] reserved[0x0]\t[0x0-0x0]", "memblock_reserve: [0xe0-0xf] c"], 3),
    (["MEMBLOCK configuration:", " reserved[0x0]\t[0x1000-0x0fff]", " reserved[0x1]\t[0x3000-0x1000]"], 3),
    (["MEMBLOCK configuration:", " reserved[0x0]\t[0x0-0x1ffffffffffffffff]"], 2),
])
def test_memblock_trace_range_that_ends_before_it_starts(lines, lineno):
    from earlymem.sources.memblock_trace import reserved_at_handoff

    rejected(reserved_at_handoff, lines, "mb.log", source=f"mb.log:{lineno}:")


# -- 4. a /proc root whose cmdline or osrelease is not UTF-8: UnicodeDecodeError ------------------

@pytest.mark.parametrize("name, data, match", [
    ("proc/sys/kernel/osrelease", b"\xac\n", "not UTF-8"),
    ("proc/cmdline", b"ro quiet \xfa\n", "not UTF-8"),
    ("proc/sys/kernel/osrelease", b"not-a-version\n", "not a kernel version"),
])
def test_proc_root_with_a_bad_osrelease_or_cmdline(tmp_path, name, data, match):
    from earlymem.sources.procfs import machine_from_proc

    for n, (start, end, type_) in enumerate([("0x0", "0x9fbff", "System RAM"), ("0x100000", "0x7fffffff", "System RAM")]):
        d = tmp_path / "sys/firmware/memmap" / str(n)
        d.mkdir(parents=True)
        for f, v in (("start", start), ("end", end), ("type", type_)):
            (d / f).write_text(v + "\n")
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(data)
    rejected(machine_from_proc, tmp_path, source=str(tmp_path / name), match=match)


# -- 5, 6. decompression bombs: a hand-made probe of the 500 MB limit (the fuzzer's inputs are
# too short to build one).  Memory is measured in a fresh process: the peak RSS (ru_maxrss) of
# pytest's own process says nothing about one call.

_PEAK = """
import resource, sys, time
from pathlib import Path
from earlymem.lib.errors import InputError
from earlymem.sources.{module} import {func}
data = Path(sys.argv[1]).read_bytes()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.monotonic()
try:
    {func}(data, "bomb")
    outcome = "value"
except InputError as exc:
    outcome = str(exc)
print(f"{{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) >> 10}} {{time.monotonic() - t:.2f}} {{outcome}}")
"""


def _peak(module, func, path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK.format(module=module, func=func), str(path)],
                         capture_output=True, text=True, check=True).stdout
    mb, seconds, outcome = out.split(" ", 2)
    return int(mb), float(seconds), outcome.strip()


def test_bzimage_decompression_bomb_stays_under_500_mb_and_5_s():
    # 1.5 KB of bzImage whose bzip2 payload is 480 MiB of zeros: with MAX_VMLINUX at 512 MiB it
    # was read whole (the decompressor's output built in blocks and joined: ~1 GB at the peak)
    mb, seconds, outcome = _peak("bzimage", "parse_bzimage", FUZZ / "bzimage-bzip2-bomb-480m.bin")
    assert "payload: payload decompresses to more than" in outcome
    assert mb < 500 and seconds < 5, (mb, seconds)


@pytest.mark.parametrize("name, expect", [("cpio-bzip2-bomb-300m.bin", "past the limit"), ("cpio-bzip2-250m.bin", "value")])
def test_cpio_member_costs_its_size_once(name, expect):
    # a 250 MiB member (under the 256 MiB limit) was decompressed in one call (twice its
    # size at the peak) and then copied into a bytearray: ~770 MB
    mb, seconds, outcome = _peak("cpio", "parse_cpio", FUZZ / name)
    assert expect in outcome
    assert mb < 500 and seconds < 5, (mb, seconds)


# -- 7. a NOBITS .BTF section of 2^45 bytes: pyelftools' data() made that many zero bytes -------
# (MemoryError; a smaller size would have been a silent blow-up).  Sections are now read from
# the file itself, bounded by it.

def test_bzimage_whose_btf_section_is_nobits_and_huge():
    from earlymem.sources.bzimage import parse_bzimage

    img = parse_bzimage((FUZZ / "bzimage-btf-nobits-huge.bin").read_bytes(), "vmlinuz")
    assert img.struct_sizes.get("pglist_data") is None  # no BTF bytes: no sizes


def test_bzimage_whose_version_string_is_blank():
    """The fuzzer (a CI run, 2026-12-05): kernel_build() took split()[0] of a version string of
    blanks (IndexError); such an image names no release."""
    from earlymem.sources.bzimage import kernel_build, parse_bzimage

    img = parse_bzimage((FUZZ / "bzimage-blank-version-string.bin").read_bytes(), "vmlinuz")
    assert img.kernel_version is not None and not img.kernel_version.split()
    build = kernel_build(img)
    assert build is None or build.release is None


def test_vmlinux_sections_outside_the_file_or_compressed():
    import struct
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz.make_corpus import vmlinux

    from earlymem.sources.bzimage import _load_segments

    good = vmlinux()
    assert _load_segments(good, "vmlinux")[1] is not None  # .BTF read
    shoff = struct.unpack_from("<Q", good, 0x28)[0]
    btf_index = 10  # null, .text .rodata .data .data..percpu .init.text .init.data .smp_locks .bss .brk, .BTF
    at = shoff + 64 * btf_index
    big = bytearray(good)
    struct.pack_into("<Q", big, at + 32, 1 << 40)  # sh_size
    rejected(_load_segments, bytes(big), "vmlinux", source="vmlinux: payload:", match="section .BTF")
    packed = bytearray(good)
    struct.pack_into("<Q", packed, at + 8, 2 | 0x800)  # sh_flags: SHF_ALLOC | SHF_COMPRESSED
    rejected(_load_segments, bytes(packed), "vmlinux", source="vmlinux: payload:", match="compressed")


# -- 8. a .BTF section flagged SHF_COMPRESSED with junk in it: zlib.error out of pyelftools'
# data() (the long run's first pass; the fix of 7 reads no compressed section)

def test_vmlinux_whose_btf_section_is_compressed_junk():
    from earlymem.sources.bzimage import _load_segments

    rejected(_load_segments, (FUZZ / "elf-btf-compressed.bin").read_bytes(), "vmlinux", source="vmlinux: payload:",
             match="compressed")


# -- 9. load_input with a TOML machine (or /proc root) whose kernel has no profile: the error
# named no file ('<input>: kernel version: kernel 1.6.23 is older than any profile ...')

def test_load_input_names_the_toml_or_proc_root_of_a_kernel_without_a_profile(tmp_path):
    from earlymem.sources.inputs import load_input

    toml = tmp_path / "m.toml"
    toml.write_text('kernel_version = "1.6.23"\n[[e820]]\nstart = 0\nsize = "640K"\ntype = "usable"\n')
    err = rejected(lambda: load_input(machine_file=toml), source=f"{toml}: ", match="1.6.23")
    assert err.source == str(toml)
    root = tmp_path / "root"
    d = root / "sys/firmware/memmap/0"
    d.mkdir(parents=True)
    for f, v in (("start", "0x0"), ("end", "0x9fbff"), ("type", "System RAM")):
        (d / f).write_text(v + "\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("1.6.23\n")
    err = rejected(lambda: load_input(proc_root=root), source=f"{root}: ", match="1.6.23")
    assert err.source == str(root)


# -- 10. an SRAT CPU line with a decimal APIC id written with a leading zero ("APIC 06"):
# int(.., 0) raised ValueError (the third long run, on the dmesg target)

def test_srat_cpu_line_with_a_zero_padded_decimal_apic_id(tmp_path):
    from earlymem.sources.dmesg import read_boot_logs

    log = tmp_path / "boot.log"
    log.write_text("[    0.000000] Linux version 2.6.32 (x) #1 SMP\n"
                   "[    0.000000] SRAT: PXM 1 -> APIC 06 -> Node 1\n")
    cpu = read_boot_logs(log)[0].srat_cpus[0]
    assert (cpu.apic, cpu.node) == (6, 1)
