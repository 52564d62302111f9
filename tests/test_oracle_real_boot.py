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

from earlymem.verify import verify_path

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
    from earlymem.kexec.bzimage import read_bzimage
    from earlymem.nodes import DEBIAN_IMAGE_SIZE, PHYSICAL_START
    from earlymem.oracle.kernels import fetch_kernel

    img = read_bzimage(fetch_kernel("6.1").vmlinuz)
    assert img.kernel_probe_error() is None and img.protocol >= 0x020F
    assert img.kernel_version.startswith("6.1.0-50-amd64")
    assert img.image_extent.start == PHYSICAL_START == img.fields["pref_address"]
    assert img.image_extent.size == DEBIAN_IMAGE_SIZE[(6, 1)]
