"""One real boot, end to end: the harness itself must keep working.

Runs only when EARLYMEM_ORACLE_TEST=1 (.ci/run sets it; it installs QEMU,
kexec-tools, busybox-static and cpio and downloads a Debian kernel, so it is
not for every `make test`).  It boots the smallest matrix configuration with
the pinned 6.1 kernel and checks that the capture reproduces the committed
fixture's memory lines exactly.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from earlymem.verification import verify_path

FIXTURE = Path(__file__).parent / "fixtures" / "oracle" / "pc-1g-plain--6.1"

pytestmark = pytest.mark.skipif(
    os.environ.get("EARLYMEM_ORACLE_TEST") != "1", reason="real QEMU boot: set EARLYMEM_ORACLE_TEST=1 (CI does)"
)


def test_smallest_configuration_boots_and_reproduces_its_fixture(tmp_path):
    matrix = Path(__file__).parent / "fixtures" / "oracle" / "matrix.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "earlymem", "oracle", "matrix", str(matrix), "--only", "pc-1g-plain", "--kernel", "6.1", "--out", str(tmp_path), "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = verify_path(tmp_path / "pc-1g-plain--6.1")
    committed = verify_path(FIXTURE)
    for a, b in zip(fresh.families, committed.families):
        assert a.expected == b.expected, a.name
    assert {f.name: f.ok for f in fresh.families}["e820"]


def test_real_debian_kernel_image_reads_back():
    """The pinned 6.1 bzImage (fetched above, cached): header, payload and the image
    extent earlymem assumes when no --kernel is given."""
    from earlymem.phases.numa_init import DEBIAN_IMAGE_SIZE, PHYSICAL_START
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    assert img.kernel_probe_error() is None and img.protocol >= 0x020F
    assert img.kernel_version.startswith("6.1.0-50-amd64")
    assert img.image_extent.start == PHYSICAL_START == img.fields["pref_address"]
    assert img.image_extent.size == DEBIAN_IMAGE_SIZE[(6, 1)]


def test_real_debian_kernel_btf_sizes_explain_node_data():
    """The pinned 6.1 kernel's own BTF gives sizeof(struct pglist_data); 6.1's
    alloc_node_data() (arch/x86/mm/numa.c) rounds it up to a page, which is
    exactly the NODE_DATA range the committed capture of this kernel prints."""
    import re

    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    sizes = read_bzimage(fetch_kernel("6.1").vmlinuz).struct_sizes
    m = re.search(r"NODE_DATA\(0\) allocated \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", (FIXTURE / "serial.log").read_text())
    assert m, "fixture lost its NODE_DATA line"
    printed = int(m.group(2), 16) + 1 - int(m.group(1), 16)
    assert (sizes["pglist_data"] + 0xFFF) & ~0xFFF == printed
    assert sizes["prb_desc"] == 0x18 and sizes["printk_info"] == 0x58


def test_real_debian_kernel_resources_are_the_captured_iomem_ones():
    """Kernel code/rodata/data/bss read from the 6.1 image's section headers are
    the lines the same kernel showed in /proc/iomem (committed capture)."""
    from earlymem.sources.capture import read_capture
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    mine = [f"  {a:08x}-{e - 1:08x} : {n}" for n, a, e in img.kernel_resources]
    captured = [ln for ln in read_capture(FIXTURE).sections["first/iomem"] if " : Kernel " in ln]
    assert mine == captured and len(mine) == 4


def test_kexec_facts_tables_are_the_real_image():
    # the header facts kexec -p predictions use for the oracle's captures, and
    # the image/reserve spans, against the real 6.1 vmlinuz
    from earlymem.kexec.capture import (
        DEBIAN_BZIMAGE,
        DEBIAN_IMAGE_SPAN,
        DEBIAN_RESERVE_SPAN,
    )
    from earlymem.kexec.tools_2_0_25 import KernelHeader
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    assert KernelHeader.from_bzimage(img) == DEBIAN_BZIMAGE[(6, 1)]
    assert img.image_extent.size == DEBIAN_IMAGE_SPAN[(6, 1)]
    assert img.reserve_end - img.image_extent.start == DEBIAN_RESERVE_SPAN[(6, 1)]


def test_early_allocation_tables_are_the_real_image():
    # the section and struct sizes the hand-off model takes from the Debian
    # series when no --kernel is given, against the real 6.1 vmlinuz
    from earlymem.phases.numa_init import DEBIAN_BRK_SIZE
    from earlymem.phases.setup_arch import DEBIAN_STRUCT_SIZES
    from earlymem.phases.start_kernel import DEBIAN_PCPU_CHUNK, DEBIAN_PERCPU_STATIC
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    assert img.brk_size == DEBIAN_BRK_SIZE[(6, 1)] and img.percpu_static == DEBIAN_PERCPU_STATIC[(6, 1)]
    assert img.struct_sizes["pcpu_chunk"] == DEBIAN_PCPU_CHUNK[(6, 1)]
    from earlymem.mm.frees import DEBIAN_IMAGE_FREES

    assert img.image_frees == {k: v for k, v in DEBIAN_IMAGE_FREES[(6, 1)].items() if k != "decrypted"}
    assert all(img.struct_sizes[k] == v for k, v in DEBIAN_STRUCT_SIZES[(6, 1)].items())
