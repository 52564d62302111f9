"""Distribution kernels: the release string names the vendor (earlymem.kernels.distro), and
the vendor's rules are profile fields (earlymem.kernels.vendors): crashkernel=auto."""

from __future__ import annotations

import pytest

from earlymem.kernels import profile_for
from earlymem.kernels.distro import identify
from earlymem.phases.crashkernel import auto_formula_size, parse_crashkernel

M, G = 1 << 20, 1 << 30


@pytest.mark.parametrize("release, label", [
    ("3.10.0-1160.71.1.el7.x86_64", "RHEL 7.9"),
    ("3.10.0-514.26.2.el7.x86_64", "RHEL 7.3"),
    ("4.18.0-305.el8.x86_64", "RHEL 8.4"),
    ("4.18.0-193.19.1.el8_2.x86_64", "RHEL 8.2"),
    ("2.6.32-754.el6.x86_64", "RHEL 6.10"),
    ("2.6.32-754.35.1.el6.centos.plus.x86_64", "RHEL 6.10"),
    ("5.14.0-427.13.1.el9_4.x86_64", "RHEL 9.4"),
    ("5.14.0-300.el9.x86_64", "RHEL 9 (build 300)"),
    ("4.14.35-2047.510.5.el7uek.x86_64", "Oracle UEK el7 (build 2047)"),
    ("5.4.0-150-generic", "Ubuntu (5.4 kernel)"),
    ("4.19.0-21-amd64", "Debian (4.19 kernel)"),
    ("5.14.21-150500.55-default", "SLE 15 SP5"),
    ("5.3.18-lp152.19-default", "openSUSE Leap 15.2"),
])
def test_release_strings_name_their_distribution(release, label):
    assert identify(release).label == label


@pytest.mark.parametrize("release", ["6.1.0", "3.9.0mmotmfix+", "5.10.0-rc3", "", "4.18.0-305.fc28.x86_64"])
def test_upstream_and_unknown_releases_name_none(release):
    assert identify(release) is None
    if release:
        assert profile_for(release).vendor is None


def test_vendor_rules_are_profile_fields_on_the_upstream_era():
    el7, upstream = profile_for("3.10.0-1160.el7.x86_64"), profile_for("3.10.0")
    assert el7.name == upstream.name and el7.e820 == upstream.e820 and el7.vendor.distro == "RHEL 7.9"
    assert el7.vendor.auto.form == "formula" and upstream.vendor is None
    el8 = profile_for("4.18.0-305.el8.x86_64")
    assert el8.vendor.auto.form == "ranges" and el8.crash.range_rounds_128m
    assert profile_for("5.14.0-70.el9.x86_64").vendor.auto is None


def test_rhel_auto_formula():
    # RHEL 7 arch_default_crash_size(): 2 bits per 4 KiB page above the base, rounded up to 1 MiB
    assert auto_formula_size(160 * M, 32598 * M, 2 * G) == 162 * M
    assert auto_formula_size(128 * M, 526336 * M, 2 * G) == 161 * M
    # nothing below 2 GiB once rounded up to 128 MiB; 1945 MiB rounds up to 2 GiB
    assert auto_formula_size(160 * M, 1919 * M, 2 * G) == 0
    assert auto_formula_size(160 * M, 1945 * M, 2 * G) == 161 * M


def test_crashkernel_auto_by_vendor():
    req = parse_crashkernel("ro crashkernel=auto", 130850 * M, profile_for("4.18.0-193.19.1.el8_2.x86_64"))
    assert req.auto and req.size == 256 * M and req.warnings == ["Using crashkernel=auto, the size chosen is a best effort estimation."]
    # RHEL 8's two tables agree above 64 GiB and below 4 GiB, and differ between
    req = parse_crashkernel("crashkernel=auto", 8 * G, profile_for("4.18.0-305.el8.x86_64"))
    assert req.size == 0 and req.alternatives == (160 * M, 192 * M)
    req = parse_crashkernel("crashkernel=auto", 1900 * M, profile_for("3.10.0-1160.el7.x86_64"))
    assert req.error and req.warnings == ["crashkernel=auto resulted in zero bytes of reserved memory."]
    # upstream (and RHEL 9) has no auto: the simple parser fails on it
    for release in ("5.14.0-70.el9.x86_64", "6.1.0-50-amd64"):
        req = parse_crashkernel("crashkernel=auto", 8 * G, profile_for(release))
        assert req.error and req.warnings == ["crashkernel: memory value expected"]


def test_rhel_7_1_auto_size_of_a_public_line():
    """'Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)' on
    3.10.0-229.11.1.el7 (https://github.com/RedHatEMEA/demobuilder/issues/58)."""
    req = parse_crashkernel("ro crashkernel=auto", 4095 * M, profile_for("3.10.0-229.11.1.el7.x86_64"))
    assert req.size == 161 * M and not req.alternatives
    # 7.0 (3.10.0-123) is not settled by any log: both bases
    req = parse_crashkernel("ro crashkernel=auto", 4095 * M, profile_for("3.10.0-123.el7.x86_64"))
    assert req.alternatives == (129 * M, 161 * M)


def test_an_unknown_suffix_or_a_vendor_without_rules_is_named():
    """Deliver 3: an unknown vendor suffix falls back to upstream with a note; a known vendor
    whose rules earlymem lacks is named too; a vendor with rules, or a bare release, needs none."""
    from earlymem.kernels.vendors import vendor_note

    assert "'-foo7' names no distribution" in vendor_note("4.14.35-foo7")
    assert vendor_note("4.14.35-1902.3.2.el7uek.x86_64").startswith("Oracle UEK el7 (build 1902): earlymem knows no rules")
    assert vendor_note("3.10.0-1160.71.1.el7.x86_64") is None and vendor_note("6.1.0") is None and vendor_note(None) is None
