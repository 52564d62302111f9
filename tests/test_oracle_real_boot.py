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
    from earlymem.kernels.builds import PHYSICAL_START, pinned_build
    from earlymem.lib.version import parse_version
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    assert img.kernel_probe_error() is None and img.protocol >= 0x020F
    assert img.kernel_version.startswith("6.1.0-50-amd64")
    assert img.image_extent.start == PHYSICAL_START == img.fields["pref_address"]
    assert img.image_extent.size == pinned_build(parse_version("6.1")).image_span


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


def test_pinned_build_facts_are_the_real_image():
    # every fact kernels/builds.py pins for Debian 6.1 -- extent, reserved span,
    # .brk, struct sizes, per-CPU area, frees, bzImage header, purgatory --
    # read back from the real vmlinuz; the decrypted-bss size (not in the
    # section headers) comes from the kernel's own "Freeing unused decrypted" line
    from earlymem.kernels.builds import IMAGE_FACTS, pinned_build
    from earlymem.lib.version import parse_version
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.bzimage import kernel_build, read_bzimage

    pinned = pinned_build(parse_version("6.1"))
    image = kernel_build(read_bzimage(fetch_kernel("6.1").vmlinuz))
    assert image.release == pinned.release
    assert (image.load_addr, image.image_span, image.reserve_span, image.brk_size) == \
        (pinned.load_addr, pinned.image_span, pinned.reserve_span, pinned.brk_size)
    assert {k: image.struct_sizes[k] for k in IMAGE_FACTS} == {k: pinned.struct_sizes[k] for k in IMAGE_FACTS}
    assert dict(image.image_frees) == {k: v for k, v in pinned.image_frees.items() if k != "decrypted"}
    assert image.header == pinned.header and image.purgatory == pinned.purgatory


def test_verify_with_the_real_image_gives_the_pinned_builds_figures():
    # `verify --kernel VMLINUZ` boots the capture with the image's own facts:
    # the same figures, family by family, as with the pinned build
    from earlymem.oracle.kernels import fetch_kernel
    from earlymem.sources.inputs import read_kernel

    cap = Path(__file__).parent / "fixtures" / "oracle" / "pc-4g-ck256-load-crash--6.1"
    image = read_kernel(fetch_kernel("6.1").vmlinuz)
    with_image = verify_path(cap, kernel=image)
    pinned = verify_path(cap)
    assert [(f.name, f.matched, len(f.expected), f.state) for f in with_image.families] == \
        [(f.name, f.matched, len(f.expected), f.state) for f in pinned.families]
    assert all(f.ok for f in with_image.families if f.expected)
