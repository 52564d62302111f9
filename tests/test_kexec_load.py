"""kexec -p (kexec_load, kexec-tools 2.0.25) and the capture kernel it boots.

Checked against every committed capture whose first kernel ran ``kexec -p
--debug`` (tests/fixtures/*/): the segment table, the E820 map kexec-tools
hands over, the capture kernel's BIOS-e820 map and its NUMA/zone/node lines.
Unit tests pin the rules read in the v2.0.25 tag.
"""

import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from earlymem.kernels import profile_for
from earlymem.sources.dmesg import parse_boot_logs

from earlymem.kexec.holes import HoleFinder, KexecLoadError
from earlymem.kexec.tools_2_0_25 import (
    RANGE_ACPI,
    RANGE_RAM,
    RANGE_RESERVED,
    KernelHeader,
    crash_load_bzimage64,
)
from earlymem.verification import verify_path

FIX = Path(__file__).parent / "fixtures"
LOADS = sorted(p.parent for p in FIX.glob("*/*/serial.log") if "@@@@BEGIN first/kexec_load_debug@@@@" in p.read_text(errors="replace"))
FILES = sorted(p.parent for p in FIX.glob("*/*/serial.log") if "@@@@BEGIN first/kexec_file_dmesg@@@@" in p.read_text(errors="replace"))
NORMALS = sorted(p.parent for p in FIX.glob("*/*/serial.log") if "@@@@BEGIN first/kexec_normal_debug@@@@" in p.read_text(errors="replace"))
H61 = KernelHeader(8221184, 39, 0x020F, 1, 0x7F, True, 0x200000, 66678784, 2047)
M = 1 << 20
# a 4 GiB QEMU guest: firmware map, and /proc/iomem with a 256M crash region
MEMMAP = [(0, 0x9FBFF, RANGE_RAM), (0x9FC00, 0x9FFFF, RANGE_RESERVED), (0xF0000, 0xFFFFF, RANGE_RESERVED),
          (0x100000, 0xBFFDFFFF, RANGE_RAM), (0xBFFE0000, 0xBFFFFFFF, RANGE_RESERVED), (0xFFFC0000, 0xFFFFFFFF, RANGE_RESERVED),
          (0x100000000, 0x13FFFFFFF, RANGE_RAM)]
IOMEM = [(0, 0xFFF, "Reserved"), (0x1000, 0x9FBFF, "System RAM"), (0x9FC00, 0x9FFFF, "Reserved"), (0xF0000, 0xFFFFF, "Reserved"),
         (0xF0000, 0xFFFFF, "System ROM"), (0x100000, 0xBFFDFFFF, "System RAM"), (0x1000000, 0x1E01D31, "Kernel code"),
         (0xAF000000, 0xBEFFFFFF, "Crash kernel"), (0xBFFE0000, 0xBFFFFFFF, "Reserved"), (0xFFFC0000, 0xFFFFFFFF, "Reserved"),
         (0x100000000, 0x13FFFFFFF, "System RAM")]


def test_there_are_load_captures_on_every_kernel():
    kernels = {p.name.rsplit("--", 1)[-1] for p in LOADS}
    assert kernels == {"5.10", "6.1", "6.12", "7.2"} and len(LOADS) >= 40


def test_there_are_normal_load_captures_on_every_kernel():
    assert {p.name.rsplit("--", 1)[-1] for p in NORMALS} == {"5.10", "6.1", "6.12", "7.2"}


def test_there_are_file_load_captures_on_every_kernel():
    assert {p.name.rsplit("--", 1)[-1] for p in FILES} == {"5.10", "6.1", "6.12", "7.2"} and len(FILES) >= 24


@pytest.mark.parametrize("cap", sorted(set(LOADS) | set(FILES) | set(NORMALS)), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_segment_table_and_capture_kernel_match(cap):
    # kexec -p's table (nr_segments, every segment's bufsz/mem/memsz), the
    # kernel's kexec_file lines (Loaded ..., Loading segment / segment[N]),
    # and the capture kernel booted by the last load: its e820 map, NUMA,
    # NODE_DATA, zone, node-range and Initmem lines
    rep = verify_path(cap)
    fam = {f.name: f for f in rep.families}
    assert fam["kexec-segments"].ok, "\n".join(fam["kexec-segments"].diff())
    assert fam["kdump-e820"].ok, "\n".join(fam["kdump-e820"].diff())
    if fam["kdump-nodes"].expected:
        # (5.10 included: the crashing CPU's memoryless node, earlymem.phases.paging_init)
        assert fam["kdump-nodes"].ok, "\n".join(fam["kdump-nodes"].diff())


@pytest.mark.parametrize("cap", LOADS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_e820_map_handed_over_is_kexec_tools(cap):
    # the "E820 memmap:" lines kexec-tools --debug prints are the capture
    # kernel's boot_params e820 -- compared line by line
    from earlymem.kexec.capture import kexec_load
    from earlymem.sources.capture import read_capture
    from earlymem.verification import _kexec_inputs, predict_capture

    c = read_capture(cap)
    dbg = c.sections["first/kexec_load_debug"]
    if "E820 memmap:" not in dbg:
        pytest.skip("kexec -p failed in this capture (no crash region)")
    first = parse_boot_logs(c.sections["first/dmesg"], str(cap))[0]
    prof = profile_for(first.version)
    m, result = predict_capture(c, first, prof)
    kp = kexec_load(m, result, profile=prof, **_kexec_inputs(c, m))
    want = [ln for ln in dbg[dbg.index("E820 memmap:") + 1:] if re.match(r"^[0-9a-f]{16}-[0-9a-f]{16} \(\d+\)$", ln)]
    got = list(kp.debug[kp.debug.index("E820 memmap:") + 1:])
    assert got[: len(want)] == want
    assert [ln for ln in dbg if ln.startswith(("Loaded ", "Created ", "kernel init_size"))] == \
        [ln for ln in kp.debug if ln.startswith(("Loaded ", "Created ", "kernel init_size"))]


def test_load_places_top_down_in_the_crash_region():
    load = crash_load_bzimage64(MEMMAP, IOMEM, H61, 0xFC4BD, "console=ttyS0", cpus=2, rsdp=0xF59B0)
    by = {s.name: s for s in load.segments}
    # backup of [0x1000, 0x9fbff] (get_backup_area), 1 KiB-rounded, last fit at the top
    assert (by["backup"].mem, by["backup"].bufsz, by["backup"].memsz) == (0xBEF61000, 0x9EC00, 0x9F000)
    # ELF header: 64 + 56 * (2 CPUs + vmcoreinfo + kernel text + 10 ranges) -> 1 KiB; memsz 16 KiB
    assert (by["elf core header"].mem, by["elf core header"].bufsz, by["elf core header"].memsz) == (0xBEF5D000, 0x400, 0x4000)
    assert by["purgatory"].mem == 0xBEF54000
    # kernel: init_size at kernel_alignment below the boot parameters; the
    # initrd goes into the alignment gap above it (highest fit)
    assert by["kernel"].mem == 0xBAE00000 and by["kernel"].memsz == 0x3F97000
    assert by["initrd"].mem == 0xBEE51000
    assert load.cmdline == "console=ttyS0 acpi_rsdp=0xf59b0 elfcorehdr=3128692K"
    assert load.entry == 0xBEF54760
    # the crash region minus backup and ELF header; the 1 KiB tail past the backup stays RAM
    assert (0xAF000000, 0xBEF5CFFF, 1) in load.e820 and (0xBEFFFC00, 0xBEFFFFFF, 1) in load.e820
    assert (0, 0xFFF, 2) in load.e820 and (0x1000, 0x9FBFF, 1) in load.e820


def test_rng_seed_and_e820_ext_are_setup_data_at_the_bottom():
    load = crash_load_bzimage64(MEMMAP, IOMEM, H61, None, "x", rng_ready=True)
    rng = [s for s in load.segments if s.name == "setup_data (RNG_SEED)"]
    assert rng and rng[0].mem == 0xAF000000 and rng[0].memsz == 0x1000
    # 130 reserved holes -> more than E820MAX (128) entries: SETUP_E820_EXT
    iomem = IOMEM + [(0x140000000 + i * 0x2000, 0x140000FFF + i * 0x2000, "Reserved") for i in range(130)]
    big = crash_load_bzimage64(MEMMAP, iomem, H61, None, "x")
    assert any(s.name == "setup_data (E820_EXT)" for s in big.segments)
    assert "extra E820 memmap are passed via setup_data" in big.debug


def test_load_failures_use_kexec_tools_words():
    with pytest.raises(KexecLoadError, match="Memory for crashkernel is not reserved"):
        crash_load_bzimage64(MEMMAP, [r for r in IOMEM if r[2] != "Crash kernel"], H61, None, "x")
    small = [r if r[2] != "Crash kernel" else (0xAF000000, 0xAF7FFFFF, "Crash kernel") for r in IOMEM]
    with pytest.raises(KexecLoadError, match="locate_hole failed"):
        crash_load_bzimage64(MEMMAP, small, H61, None, "x")  # 8 MiB cannot hold init_size
    with pytest.raises(KexecLoadError, match="too long"):
        crash_load_bzimage64(MEMMAP, IOMEM, H61, None, "x" * 2047)
    old = KernelHeader(8221184, 39, 0x020B, 1, 0x7F, True, 0x200000, 66678784, 2047)
    with pytest.raises(KexecLoadError, match="bzImage64"):
        crash_load_bzimage64(MEMMAP, IOMEM, old, None, "x")


def test_hole_arithmetic_of_both_generations():
    # 2.0.3+: fits if end - start >= size - 1; highest fit ALIGN_DOWN(end - size + 1)
    new = HoleFinder([(0x100000, 0x1FFFFF)])
    assert new.locate_hole(0x100000, 0x1000, 0, (1 << 64) - 1, -1) == 0x100000
    # 2.0.2: fits only if end - start >= size, and the highest fit is one page lower
    old = HoleFinder([(0x100000, 0x2FFFFF)], modern=False)
    assert old.locate_hole(0x100000, 0x1000, 0, (1 << 64) - 1, -1) == 0x1FF000
    assert HoleFinder([(0x100000, 0x1FFFFF)], modern=False).locate_hole(0x100000, 0x1000, 0, (1 << 64) - 1, -1) is None


def test_acpi_tables_go_to_the_capture_kernel_map():
    iomem = IOMEM[:8] + [(0xBFFE0000, 0xBFFEFFFF, "ACPI Tables")] + IOMEM[9:]
    load = crash_load_bzimage64(MEMMAP, iomem, H61, None, "x")
    assert (0xBFFE0000, 0xBFFEFFFF, 3) in load.e820  # RANGE_ACPI -> E820_ACPI
    assert RANGE_ACPI == 2


def test_purgatory_facts_of_the_installed_kexec():
    from earlymem.kexec.tools_2_0_25 import KEXEC_TOOLS_2_0_25 as T
    from earlymem.sources.purgatory import purgatory_facts

    kexec = Path("/usr/sbin/kexec")
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "kexec-tools"], capture_output=True, text=True).stdout if kexec.exists() else ""
    if ver != "1:2.0.25-3+deb12u3":
        pytest.skip(f"needs Debian's kexec-tools 1:2.0.25-3+deb12u3 (have {ver or 'none'})")
    f = purgatory_facts(kexec.read_bytes(), str(kexec))
    assert (f.bufsz, f.memsz, f.align, f.entry) == (T.purgatory_bufsz, T.purgatory_memsz, T.purgatory_align, T.purgatory_entry)


def test_purgatory_facts_refuse_a_binary_without_one(tmp_path):
    from earlymem.lib.errors import InputError
    from earlymem.sources.purgatory import purgatory_facts

    with pytest.raises(InputError, match="no embedded"):
        purgatory_facts(b"\x7fELF\x02\x01\x01" + b"\0" * 100, "x")
    proc = subprocess.run([sys.executable, "tools/purgatory_facts.py", str(tmp_path / "missing")], capture_output=True, text=True,
                          cwd=Path(__file__).parents[1])
    assert proc.returncode != 0


def test_file_load_rules_per_era():
    from earlymem.kernels import profile_for
    from earlymem.kernels.builds import KernelPurgatory
    from earlymem.kexec.file_load import file_load_bzimage64

    purg = KernelPurgatory(0x4000, 0x5000, 0x1000)
    old = file_load_bzimage64(IOMEM, H61, purg, 0xFC4BD, "console=ttyS0", profile_for("6.1").kexec_file)
    new = file_load_bzimage64(IOMEM, H61, purg, 0xFC4BD, "console=ttyS0", profile_for("6.12").kexec_file)
    o, n = ({s.name: s for s in x.segments} for x in (old, new))
    # the ELF header goes bottom-up to the start of the crash region
    assert o["elf core header"].mem == n["elf core header"].mem == 0xAF000000
    # 6.12's CONFIG_CRASH_HOTPLUG header reserves 2 + 8192 + 8192 program headers
    assert (o["elf core header"].memsz, n["elf core header"].memsz) == (0x1000, 0xE1000)
    # top-down: end - memsz (one page low, then aligned) before the Dec 2023 fix, end - memsz + 1 after
    assert (o["purgatory"].mem, n["purgatory"].mem) == (0xBEFFA000, 0xBEFFB000)
    # boot params slide down past the purgatory a page at a time
    assert o["boot params + command line"].mem == 0xBEFF8000
    assert old.cmdline == "elfcorehdr=0xaf000000 console=ttyS0"
    # the capture kernel's RAM: the crash region minus the header (its unaligned size on 6.12)
    assert (0xAF001000, 0xBEFFFFFF, 1) in old.e820 and (0xAF0E00B0, 0xBEFFFFFF, 1) in new.e820
    assert (0x1000, 0x9FBFF, 1) in old.e820 and (0, 0xFFF, 2) in old.e820


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "earlymem", *map(str, args)], capture_output=True, text=True)


def _synthetic_kernel(tmp_path, release: bytes | None = None):
    """A small relocatable bzImage64; ``release`` makes its version string name
    that build (e.g. a pinned one, whose facts then complete the image's)."""
    from tests.test_bzimage import bzimage

    data = bytearray(bzimage())  # protocol 2.15, relocatable bzImage64 header, gzip vmlinux
    if release is not None:
        text = release + b" (earlymem) #1 SMP\0"
        data[0x300:0x300 + len(text)] = text
    struct.pack_into("<I", data, 0x230, 0x200000)  # kernel_alignment
    data[0x234] = 1
    struct.pack_into("<I", data, 0x238, 2047)  # cmdline_size
    p = tmp_path / "vmlinuz"
    p.write_bytes(bytes(data))
    return p


def test_cli_kexec_prints_the_debug_table_and_the_capture_kernel(tmp_path):
    log = FIX / "oracle" / "pc-4g-ck256-load-crash--6.1" / "serial.log"
    k = _synthetic_kernel(tmp_path)
    rd = tmp_path / "initrd.img"
    rd.write_bytes(b"\0" * 5000)
    proc = _cli("kexec", "--dmesg", log, "--kernel", k, "--initrd", rd, "--append", "console=ttyS0 nokaslr")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "nr_segments = 6" in out and any(ln.startswith("Loaded initrd at 0x") and ln.endswith("size 0x1388") for ln in out)
    proc = _cli("kexec", "--dmesg", log, "--kernel", k, "--format", "kdump", "--append", "console=ttyS0 nokaslr")
    assert proc.returncode == 0 and "BIOS-e820: [mem 0x00000000af000000-0x00000000bef5cfff] usable" in proc.stdout


def test_cli_kexec_failures(tmp_path):
    k = _synthetic_kernel(tmp_path)
    no_crash = FIX / "oracle" / "pc-1g-plain--6.1" / "serial.log"
    proc = _cli("kexec", "--dmesg", no_crash, "--kernel", k)
    assert proc.returncode == 1 and "Memory for crashkernel is not reserved" in proc.stderr and "Traceback" not in proc.stderr
    log = FIX / "oracle" / "pc-4g-ck256-load-crash--6.1" / "serial.log"
    proc = _cli("kexec", "--dmesg", log, "--kernel", k, "--initrd", tmp_path / "missing.img")
    assert proc.returncode == 2 and "missing.img" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = _cli("kexec", "--dmesg", log, "--kernel", k, "--file-load")  # the synthetic vmlinux embeds no purgatory
    assert proc.returncode == 2 and "purgatory" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.write_bytes(b"MZ" + b"\0" * 100)
    proc = _cli("kexec", "--dmesg", log, "--kernel", bad)
    assert proc.returncode == 2 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_5_10_low_reservations_put_node_data_below_640k():
    # holdout3: the capture kernel's node 0 keeps only [4K, 636K); 5.10 reserves
    # the first 64 KiB, the trampoline (0x6000, read from the vmlinux) top-down
    # below the BIOS area [0x9f000, 1M), so NODE_DATA(0) goes just below it
    rep = verify_path(FIX / "holdout3" / "numa2-2g4g-ck256-both-crash--5.10")
    fam = {f.name: f for f in rep.families}
    assert "NODE_DATA(0) allocated [mem 0x0006f000-0x00098fff]" in fam["kdump-nodes"].predicted
    assert fam["kdump-nodes"].ok


def test_realmode_blob_size_is_found_in_a_vmlinux():
    import struct as st

    from earlymem.sources.realmode import realmode_size

    blob = bytearray(0x5244)
    st.pack_into("<10I", blob, 0, 0x1000, 0x1F26, 0x1000, 0x4000, 0x1050, 0x3000, 0x11F0, 0x2010, 0x1ED0, 8)
    relocs = st.pack("<I2I", 2, 0x10, 0x20) + st.pack("<I3I", 3, 0x100, 0x200, 0x5000)
    data = bytes(0x1000) + bytes(blob) + relocs + bytes(0x3000)
    assert realmode_size(data, 0xFFFFFFFF82000000) == 0x6000
    assert realmode_size(bytes(0x4000), 0xFFFFFFFF82000000) is None


def test_cli_kexec_capture_kernel_boots_on_the_crashing_cpu(tmp_path):
    # 5.10: a capture kernel booted on CPU 1 (node 1 has no memory in the crash
    # region) sets node 1 up late; CPU 0's node is online: nothing late
    # (the image claims the pinned 5.10 build, whose struct sizes complete it: it has no .BTF)
    log = FIX / "oracle" / "numa2x4g-ck256-load-crash--5.10" / "serial.log"
    k = _synthetic_kernel(tmp_path, b"5.10.0-32-amd64")
    late = "Initmem setup node 1 [mem 0x0000000000000000-0x0000000000000000]"
    args = ("kexec", "--dmesg", log, "--kernel", k, "--format", "kdump", "--append", "console=ttyS0 nr_cpus=1 nokaslr")
    from_log = _cli(*args)  # the log's panic line: "CPU: 1 PID: 1 Comm: init Kdump: loaded"
    assert from_log.returncode == 0 and late in from_log.stdout and "    NODE_DATA(1) on node 0" in from_log.stdout
    on0 = _cli(*args, "--crash-cpu", "0")
    assert on0.returncode == 0 and late not in on0.stdout
    bad = _cli(*args, "--crash-cpu", "5")
    assert bad.returncode == 2 and "--crash-cpu" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_capture_kernel_of_an_unknown_build_predicts_nothing_that_needs_its_facts(tmp_path):
    # an image of a build earlymem has no facts for, without .BTF: the capture
    # kernel's e820 map is predicted, its NODE_DATA is not (and says why)
    log = FIX / "oracle" / "numa2x4g-ck256-load-crash--5.10" / "serial.log"
    k = _synthetic_kernel(tmp_path)  # "6.1.0-test"
    proc = _cli("kexec", "--dmesg", log, "--kernel", k, "--format", "json", "--append", "console=ttyS0 nr_cpus=1 nokaslr")
    assert proc.returncode == 0, proc.stderr
    import json

    capture = json.loads(proc.stdout)["capture"]
    assert any(ln["family"] == "e820" for ln in capture["lines"])
    assert not any("NODE_DATA" in ln["text"] for ln in capture["lines"])
    assert any(n["what"] == "NODE_DATA" and "lacks" in n["reason"] for n in capture["not_predicted"])
