"""Which distribution built a kernel, from its release string as ``uname -r`` (and the
``Linux version`` banner) writes it.

A distribution's kernel runs its upstream line's rules plus the vendor's own
(``crashkernel=auto``, backports): :func:`identify` names the vendor and, where the
build number says so, the product release; :func:`earlymem.kernels.eras.profile_for`
adds the vendor's rules (profile fields, :class:`earlymem.kernels.profile.VendorRules`).
A release string no pattern knows is an upstream kernel (or an unknown vendor's):
upstream rules, with a note.

Sources for the release maps:

* RHEL: the build number of ``version-build...elN`` names the minor release: the
  first build of each minor, from insights-core's ``rhel_release_map``
  (RedHatInsights/insights-core@041e8c8e:insights/parsers/uname.py, RHEL 6.0-9.2);
  later minors from vendor support tables (AMD ROCm's system requirements: RHEL 8.10
  4.18.0-553, RHEL 9.4 5.14.0-427, RHEL 9.6 5.14.0-570; AWS FSx for Lustre client
  install scripts: RHEL 9.3 5.14.0-362). An ``elN_M`` tag (``el8_2``, ``el9_4``) names
  the minor directly. CentOS, Rocky, Alma and Oracle Linux's Red Hat compatible
  kernel use the same release strings; ``elNuek`` is Oracle's UEK, another kernel.
* Ubuntu: ``X.Y.0-N-generic`` (and the other flavours); Debian: ``X.Y.0-N-amd64``
  (``+debNN`` from 6.x); SUSE: ``-default`` with an ``lpNNN`` (openSUSE Leap 15.N)
  or ``1504NN``/``1505NN`` (SLE 15 SP4/SP5 code streams) build number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Distro", "identify", "RHEL_MINORS"]

_INSIGHTS = "RedHatInsights/insights-core@041e8c8e:insights/parsers/uname.py rhel_release_map"

#: (kernel line, first build of the minor) -> RHEL minor release, and where that pair was read
RHEL_MINORS: dict[tuple[str, int], tuple[str, str]] = {
    **{("2.6.32", b): (r, _INSIGHTS) for b, r in (
        (71, "6.0"), (131, "6.1"), (220, "6.2"), (279, "6.3"), (358, "6.4"), (431, "6.5"), (504, "6.6"),
        (573, "6.7"), (642, "6.8"), (696, "6.9"), (754, "6.10"))},
    **{("3.10.0", b): (r, _INSIGHTS) for b, r in (
        (123, "7.0"), (229, "7.1"), (327, "7.2"), (514, "7.3"), (693, "7.4"), (862, "7.5"), (957, "7.6"),
        (1062, "7.7"), (1127, "7.8"), (1160, "7.9"))},
    **{("4.18.0", b): (r, _INSIGHTS) for b, r in (
        (80, "8.0"), (147, "8.1"), (193, "8.2"), (240, "8.3"), (305, "8.4"), (348, "8.5"), (372, "8.6"),
        (425, "8.7"), (477, "8.8"))},
    ("4.18.0", 553): ("8.10", "AMD ROCm system requirements table: 'RHEL 8.10', '4.18.0-553'"),
    **{("5.14.0", b): (r, _INSIGHTS) for b, r in ((70, "9.0"), (162, "9.1"), (284, "9.2"))},
    ("5.14.0", 362): ("9.3", "AWS FSx for Lustre client install script: '5.14.0-362' -> 9.3"),
    ("5.14.0", 427): ("9.4", "AWS FSx for Lustre client install script and AMD ROCm table: '5.14.0-427' -> 9.4"),
    ("5.14.0", 570): ("9.6", "AMD ROCm system requirements table: 'RHEL 9.6', '5.14.0-570'"),
}

_RHEL = re.compile(r"^(?P<line>\d+\.\d+\.\d+)-(?P<build>\d+)(?:\.[0-9.]+)?\.el(?P<major>\d+)(?:_(?P<minor>\d+))?(?P<uek>uek)?")
_UBUNTU = re.compile(r"^(?P<line>\d+\.\d+)\.0-(?P<abi>\d+)-(?P<flavour>generic|lowlatency|virtual|server|aws|azure|gcp|gke|kvm|oracle|ibm|nvidia)\b")
_DEBIAN = re.compile(r"^(?P<line>\d+\.\d+)(?:\.0-(?P<abi>\d+)|\.\d+\+deb(?P<deb>\d+))-(?:cloud-|rt-)?amd64\b")
_SUSE = re.compile(r"^(?P<line>\d+\.\d+\.\d+)-(?P<build>lp\d+|\d+)(?:[.\w]*)?-(?P<flavour>default|azure|rt|preempt)\b")


@dataclass(frozen=True)
class Distro:
    """A distribution's kernel build.

    :param family: ``rhel`` (RHEL and its rebuilds: CentOS, Rocky, Alma, Oracle's RHCK),
        ``uek``, ``ubuntu``, ``debian``, ``suse`` (SLE) or ``opensuse`` (Leap).
    :param major: the product's major release (``"7"`` for RHEL 7, ``"15"`` for SLE 15), None if unknown.
    :param minor: the product's minor release (``"7.9"``, ``"15.2"``), None when the build does not say.
    :param line: the kernel line (``"3.10"``).
    :param build: the vendor's build number (RHEL's 1160 of ``3.10.0-1160.71.1.el7``).
    :param source: where the release mapping was read.
    """

    family: str
    line: str
    major: str | None = None
    minor: str | None = None
    build: int | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """``RHEL 7.9``, ``RHEL 8 (build 513)``, ``Ubuntu (5.15 kernel)`` ..."""
        names = {"rhel": "RHEL", "uek": "Oracle UEK", "ubuntu": "Ubuntu", "debian": "Debian", "suse": "SLE",
                 "opensuse": "openSUSE Leap"}
        name = names[self.family]
        if self.minor:
            return f"{name} {self.minor}"
        if self.major:
            return f"{name} {self.major}" + (f" (build {self.build})" if self.build is not None else "")
        return f"{name} ({self.line} kernel)"


def _rhel(m: re.Match) -> Distro:
    line, build, major = m["line"], int(m["build"]), m["major"]
    if m["uek"]:
        return Distro("uek", ".".join(line.split(".")[:2]), major=f"el{major}", build=build,
                      source="'elNuek' in the release: Oracle's Unbreakable Enterprise Kernel")
    short = ".".join(line.split(".")[:2])
    if m["minor"] is not None:
        return Distro("rhel", short, major, f"{major}.{m['minor']}", build, f"the release's 'el{major}_{m['minor']}' tag")
    exact = RHEL_MINORS.get((line, build))
    if exact is not None:
        return Distro("rhel", short, major, exact[0], build, exact[1])
    # every update of a minor keeps its first build number (3.10.0-1160.71.1 is 7.9); another
    # number is a build of no known minor (CentOS Stream, a minor not in the maps): left open
    return Distro("rhel", short, major, None, build, "'el" + major + "' in the release; the build names no minor earlymem knows")


def identify(release: str | None) -> Distro | None:
    """The distribution that built the kernel ``release`` (``uname -r`` or the banner's
    release), or None for an upstream kernel or a vendor no pattern knows."""
    if not release:
        return None
    text = release.strip()
    m = _RHEL.match(text)
    if m:
        return _rhel(m)
    m = _UBUNTU.match(text)
    if m:
        return Distro("ubuntu", m["line"], build=int(m["abi"]), source=f"'-{m['flavour']}' flavour: Ubuntu's kernel naming")
    m = _DEBIAN.match(text)
    if m:
        return Distro("debian", m["line"], major=m["deb"], build=int(m["abi"]) if m["abi"] else None,
                      source="'-amd64' flavour: Debian's kernel naming")
    m = _SUSE.match(text)
    if m:
        b = m["build"]
        if b.startswith("lp"):
            n = b[2:]
            minor = f"15.{int(n[-1])}" if len(n) == 3 and n.startswith("15") else None
            return Distro("opensuse", ".".join(m["line"].split(".")[:2]), "15" if minor else None, minor, None,
                          f"'{b}': an openSUSE Leap build" + (f" (Leap {minor})" if minor else ""))
        minor = None
        if len(b) == 6 and b.startswith("150"):
            minor = f"15 SP{int(b[3])}"  # the SLE 15 SPn code stream's "150n00" build prefix
        return Distro("suse", ".".join(m["line"].split(".")[:2]), "15" if minor else None, minor, int(b),
                      "'-" + m["flavour"] + "' flavour: SUSE's kernel naming" + (f"; build {b}: SLE {minor}" if minor else ""))
    return None
