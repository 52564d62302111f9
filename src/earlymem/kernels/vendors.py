"""Distribution kernels' own rules, as profile fields (:class:`~earlymem.kernels.profile.VendorRules`).

:func:`vendor_profile` adds them to the upstream era's profile of a release that
:func:`earlymem.kernels.distro.identify` recognises; model code reads the fields and
never asks which vendor it is.  Each rule names the vendor source it was read in.
Where sources disagree and no committed log has settled which build does what, the
rule keeps every candidate (``CrashAuto.bases`` / ``ranges``) and predictions give
the alternatives.
"""

from __future__ import annotations

import dataclasses
import re

from earlymem.kernels.distro import Distro, identify
from earlymem.kernels.profile import CrashAuto, KernelProfile, VendorRules

__all__ = ["vendor_rules", "vendor_profile", "vendor_note", "RHEL8_AUTO_EARLY", "RHEL8_AUTO_LATER"]

M = 1 << 20

_RH6_SRC = ("seyko2/openvz_rhel6_kernel_mirror@3ef24bc8 and @967e98ba (RHEL 6.5/6.6 base): kernel/kexec.c "
            "parse_crashkernel() 'auto' -> KEXEC_AUTO_RESERVED_SIZE (128M) + roundup((ram - 128M) / 16384, 1M), "
            "nothing below 2G; the command line rewritten to '%luM@%luM'",
            "seyko2/openvz_rhel6_kernel_mirror@9202124d and @901de73b (2.6.32-573, RHEL 6.7 base): "
            "KEXEC_AUTO_RESERVED_SIZE (1ULL<<27)+(16ULL<<20) = 144M and arch_crash_auto_scale() "
            "[stock RHEL 6.7+ unconfirmed: an OpenVZ tree]",
            "RHEL 6 Deployment Guide 31.2.3: crashkernel=auto reserves only with 2 GB or more (x86)")
_RH7_SRC = ("halfline/rhel7@2a42fe79:kernel/crash_core.c arch_default_crash_size(): nothing when "
            "roundup(ram, 128M) < KEXEC_AUTO_THRESHOLD (2G), else KEXEC_AUTO_RESERVED_SIZE + "
            "roundup((ram - KEXEC_AUTO_RESERVED_SIZE) / 16384, 1M); 'crashkernel=auto resulted in zero bytes of "
            "reserved memory.'",
            "halfline/rhel7@fc3d2c3c:include/asm-generic/kexec.h: KEXEC_AUTO_RESERVED_SIZE 128M",
            "OpenVZ/vzkernel@4faef332:include/asm-generic/kexec.h (RHEL 7 based): (1ULL<<27)+(1ULL<<25) = 160M; "
            "the RHEL 7 Kernel Crash Dump Guide: '160 MB + 2 bits for every 4 KB of RAM'")
#: RHEL 8.0's built-in table (lulu-github-name/linuxtmp@88ad45d0:kernel/crash_core.c, x86_64)
RHEL8_AUTO_EARLY = "1G-64G:160M,64G-1T:256M,1T-:512M"
#: the later RHEL 8 table (P. Tesarik, "What's Wrong with crashkernel=auto", 2022; RHEL 8 "Supported kdump
#: configurations and targets"; kdump-utils' default before commit 34d27c4)
RHEL8_AUTO_LATER = "1G-4G:160M,4G-64G:192M,64G-1T:256M,1T-:512M"
_RH8_SRC = ("lulu-github-name/linuxtmp@88ad45d0:kernel/crash_core.c (RHEL 8 tree): 'auto' -> "
            f"'{RHEL8_AUTO_EARLY}' on x86_64, pr_info 'Using crashkernel=auto, the size chosen is a best effort "
            "estimation.'; parse_crashkernel_mem() matches roundup(ram, 128M)",
            f"P. Tesarik, 'What's Wrong with crashkernel=auto' (2022-01-27) and the RHEL 8 kdump guide: '{RHEL8_AUTO_LATER}' "
            "[the 8.x minor that switched tables is unconfirmed]")


#: public logs that settled a candidate (tests/fixtures/public/enterprise)
_LOGS_RH6 = ("public logs (tests/fixtures/public/enterprise): 2.6.32-504 (RHEL 6.6) and 2.6.32-754 (RHEL 6.10) "
             "reserve 128M + 1M per 16G for crashkernel=auto (130MB at 16896MB and 25087MB, 161MB at 526336MB): "
             "R = 128M in stock builds; 6.6 rewrites auto to '<size>M@0M', 6.10 to '<size>M@<base found>M'")
_LOGS_RH7 = ("public logs (tests/fixtures/public/enterprise): 3.10.0-514 (7.3), -862 (7.5), -1127 (7.8) and -1160 (7.9) "
             "reserve 160M + 1M per 16G (162MB at 24563MB and 32598MB, 164MB at 64701MB and 65525MB); and 3.10.0-229.11.1 "
             "(7.1): 'Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)' "
             "(https://github.com/RedHatEMEA/demobuilder/issues/58): R = 160M from 7.1; 7.0 not seen")
_LOGS_RH8 = ("public logs (tests/fixtures/public/enterprise): 4.18.0-147 (8.1) reserves 160MB at 8172MB and 4.18.0-193 "
             "(8.2) 160MB at 32704MB: the early table; "
             "4.18.0-348 (8.5) reserves 192MB at 6131MB: the later table (8.3 and 8.4 reserve where both tables agree)")
_RH7_WINDOWS = ("halfline/rhel7@01c375b2:arch/x86/kernel/setup.c reserve_crashkernel(): [16M, 896M), then [16M, 4G), then "
                "[16M, MAXMEM), top-down, 16M aligned; no 'kexec: Reserving the low 1M' line (none in the public 3.10 logs)")
_RH8_WINDOWS = ("lulu-github-name/linuxtmp@013c2b46:arch/x86/kernel/setup.c (RHEL 8 tree): the v5.2 rule, [16M, 4G) then "
                "[16M, MAXMEM); the public 4.18.0-147 (8.1) and -193 (8.2) logs reserve above 896M; 'kexec: Reserving the low 1M "
                "of memory for crashkernel' on 4.18.0-193 and -301, not on 4.18.0-348 and later (the 5.13 removal, backported)")
_LOGS_RH8_E820 = ("public logs (tests/fixtures/public/enterprise): 4.18.0-193 (8.2) and 4.18.0-348 (8.5) print "
                  "'BIOS-provided physical RAM map:' without upstream 4.18's 'e820: ' prefix (the 4.19 wording, backported)")


#: The 4.3-5.4 builds of Ubuntu, Debian and SUSE whose "Zone ranges:" list a Device zone:
#: CONFIG_ZONE_DEVICE=y in each line's config (mm/page_alloc.c zone_names[] has "Device" under
#: #ifdef CONFIG_ZONE_DEVICE). KHC = github.com/a13xp0p0v/kernel-hardening-checker. The public
#: logs of each line (tests/fixtures/public/enterprise, hold-out 3) print 'Device   empty' too.
_KHC = "a13xp0p0v/kernel-hardening-checker"
_DEVICE_ZONE: dict[tuple[str, str], str] = {
    ("ubuntu", "4.4"): "CONFIG_ZONE_DEVICE=y: rajcspsg/Personal@0b6c4af4:boot/config-4.4.0-21-generic and config-4.4.0-22-generic",
    ("ubuntu", "4.15"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@6b25acb5:ubuntu-bionic-generic.config (4.15.0-24.26-generic)",
    ("ubuntu", "5.4"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@07ef006b:kernel_hardening_checker/config_files/distros/"
                       "Ubuntu_20.04_LTS_Focal_x86_64.config (5.4.0-26.30-generic)",
    ("debian", "4.9"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@849010d8:config_files/debian-stretch.config (4.9.88) and "
                       f"{_KHC}@62441bcd:config_files/distros/debian-stretch.config (4.9.168)",
    ("debian", "4.19"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@ca99f6d4:config_files/distros/debian-buster.config and "
                        f"{_KHC}@cfb6d27e:kernel_hardening_checker/config_files/distros/Debian_10_Buster_x86_64.config (4.19.249)",
    ("opensuse", "4.12"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@45fb296b:config_files/distros/openSUSE-15.1.config (kernel-source "
                          "branch openSUSE-15.1)",
    ("opensuse", "5.3"): "CONFIG_ZONE_DEVICE=y: kinale/kernel-source@f825cee5:config/x86_64/default and preempt (Leap 15.2)",
    ("suse", "5.3"): f"CONFIG_ZONE_DEVICE=y: {_KHC}@64fcdc8b (pull 185):kernel_hardening_checker/config_files/distros/"
                     "gcp_sles-15-sp3-sap-v20250408-x86-64.config (SLE 15 SP3, whose kernel Leap 15.3 runs)",
}


def vendor_rules(distro: Distro) -> VendorRules | None:
    """The rules of ``distro``'s kernel that upstream's lack; None when earlymem knows none."""
    build = distro.build
    if distro.family == "rhel" and distro.major == "6":
        # 128M where a public log shows it (6.6, 6.10); the 144M of an OpenVZ 6.7-based tree stays a
        # candidate for the builds in between that no log shows
        settled = build is not None and (build <= 504 or build >= 754)
        bases = (128 * M,) if settled else (128 * M, 144 * M)
        return VendorRules(
            distro.label,
            # the rewrite: '130M@0M' on 2.6.32-504 (6.6), '130M@48M' (the base found) on 2.6.32-754 (6.10)
            CrashAuto("formula", bases=bases, ram="span", sources=_RH6_SRC + (_LOGS_RH6,),
                      rewrite="zero" if build is not None and build <= 504 else "found" if build is not None and build >= 754
                      else "either"),
            sources=_RH6_SRC + (_LOGS_RH6,),
            notes=("RHEL 6.7-based OpenVZ trees scale an auto size down until it fits below 896M "
                   "(arch_crash_auto_scale()): not modelled",) if not settled else (),
            crash_early_res=True,
            # 'Found 130MB of memory at 48MB for crashkernel auto ' on 2.6.32-754 (6.10), not on -504 (6.6)
            crash_found_line=False if build is not None and build <= 504 else True if build is not None and build >= 754 else None,
        )
    if distro.family == "rhel" and distro.major == "7":
        bases = (160 * M,) if build is not None and build >= 229 else (160 * M, 128 * M)
        return VendorRules(distro.label, CrashAuto("formula", bases=bases, sources=_RH7_SRC + (_LOGS_RH7,)),
                           sources=_RH7_SRC + (_LOGS_RH7, _RH7_WINDOWS),
                           # halfline/rhel7@01c375b2:arch/x86/kernel/setup.c reserve_crashkernel(): 896M, then 4G, then MAXMEM
                           crash_windows=(896 * M, 4 << 30, 1 << 46), low_1m="no",
                           # the public 3.10 logs: no Device zone; 3.10.0-514 (7.3) prints setup_node_data()'s
                           # "Initmem setup node" and "  NODE_DATA [mem ...]", -862 (7.5) and later
                           # "NODE_DATA(n) allocated" and free_area_init_node()'s line
                           zone_names=("DMA", "DMA32", "Normal"), zone_limits_clamped=None,
                           initmem_style="setup_node_data" if build is not None and build <= 514 else
                           "free_area_init" if build is not None and build >= 862 else "unknown")
    if distro.family == "rhel" and distro.major == "8":
        ranges = ((RHEL8_AUTO_LATER,) if build is not None and build >= 348 else
                  (RHEL8_AUTO_EARLY,) if build is not None and build <= 193 else (RHEL8_AUTO_EARLY, RHEL8_AUTO_LATER))
        return VendorRules(
            distro.label,
            CrashAuto("ranges", ranges=ranges,
                      message="Using crashkernel=auto, the size chosen is a best effort estimation.", sources=_RH8_SRC + (_LOGS_RH8,)),
            sources=_RH8_SRC + (_LOGS_RH8, _LOGS_RH8_E820, _RH8_WINDOWS),
            e820_header_prefix="",
            # the v5.2 rule (4G first, then MAXMEM) backported: lulu-github-name/linuxtmp@013c2b46 and the 8.1 and 8.2
            # logs; 8.0 is not known to have it
            crash_windows=(4 << 30, 1 << 46) if build is not None and build >= 147 else (),
            low_1m="yes" if build is not None and build <= 301 else "no" if build is not None and build >= 348 else "unknown",
            # the public 4.18 logs: "Device empty" among the zones, free_area_init_node()'s Initmem line
            zone_names=("DMA", "DMA32", "Normal", "Device"),
            initmem_style="free_area_init",
        )
    device = _DEVICE_ZONE.get((distro.family, distro.line))
    if device is not None:
        return VendorRules(distro.label, None, sources=(device,), zone_names=("DMA", "DMA32", "Normal", "Device"))
    if distro.family == "rhel" and distro.major in ("9", "10"):
        return VendorRules(distro.label, None, sources=(
            "no kernel 'auto' from RHEL 9 (the upstream parser: 'crashkernel: memory value expected'); kdumpctl "
            "writes the value on the command line (docs/vendor-crashkernel.md)",))
    return None


def vendor_note(release: str | None) -> str | None:
    """What the user should know about the vendor rules a release gets: a suffix no pattern
    knows, or a known distribution without rules of its own (None: nothing to say)."""
    if not release:
        return None
    distro = identify(release)
    if distro is None:
        m = re.match(r"^\d+\.\d+(?:\.\d+)?(?P<suffix>-\S+)$", release.strip())
        if m is None:
            return None
        return (f"the release's suffix '{m['suffix']}' names no distribution earlymem knows (kernels.distro): "
                "upstream's rules, without any vendor's")
    if vendor_rules(distro) is None:
        return f"{distro.label}: earlymem knows no rules of this vendor beyond upstream's ({distro.source}); upstream's are used"
    return None


def vendor_profile(profile: KernelProfile, distro: Distro | None) -> KernelProfile:
    """``profile`` with ``distro``'s rules added (unchanged when there are none)."""
    rules = vendor_rules(distro) if distro is not None else None
    if rules is None:
        return profile
    crash = profile.crash
    if rules.auto is not None and rules.auto.form == "ranges":
        # the vendor's parse_crashkernel_mem() rounds System RAM up to 128 MiB (the same tree)
        crash = dataclasses.replace(crash, range_rounds_128m=True)
    if rules.crash_windows is not None:
        crash = dataclasses.replace(crash, windows=rules.crash_windows)
    if rules.low_1m != "upstream":
        crash = dataclasses.replace(crash, low_1m_message={"yes": True, "no": False, "unknown": None}[rules.low_1m])
    memmap = profile.memmap
    if rules.zone_names is not None:
        memmap = dataclasses.replace(memmap, zone_names=rules.zone_names, zones_known=True)
    if rules.zone_limits_clamped != "upstream":
        memmap = dataclasses.replace(memmap, zone_limits_clamped=rules.zone_limits_clamped)
    if rules.initmem_style != "upstream":
        memmap = dataclasses.replace(memmap, initmem_style=None if rules.initmem_style == "unknown" else rules.initmem_style)
    profile = dataclasses.replace(profile, memmap=memmap)
    e820 = profile.e820
    if rules.e820_header_prefix is not None:
        e820 = dataclasses.replace(e820, header_prefix=rules.e820_header_prefix)
    return dataclasses.replace(profile, vendor=rules, crash=crash, e820=e820)


#: every vendor rule set earlymem knows: (family, major, the release strings that name it, a build of it)
KNOWN: tuple[tuple[str, str, str, str], ...] = (
    ("rhel", "6", "2.6.32-N...el6 (RHEL 6, CentOS 6, Scientific Linux 6, Oracle Linux 6's RHCK)", "2.6.32-754.el6.x86_64"),
    ("rhel", "7", "3.10.0-N...el7 (RHEL 7, CentOS 7, Oracle Linux 7's RHCK)", "3.10.0-1160.el7.x86_64"),
    ("rhel", "8", "4.18.0-N...el8 (RHEL 8, CentOS 8, Rocky 8, Alma 8, Oracle Linux 8's RHCK)", "4.18.0-305.el8.x86_64"),
    ("rhel", "9", "5.14.0-N...el9 (RHEL 9, CentOS Stream 9, Rocky 9, Alma 9)", "5.14.0-70.el9.x86_64"),
    ("ubuntu", "4.4", "4.4.0-N-generic (Ubuntu 16.04)", "4.4.0-139-generic"),
    ("ubuntu", "4.15", "4.15.0-N-generic (Ubuntu 18.04, 16.04 HWE)", "4.15.0-50-generic"),
    ("ubuntu", "5.4", "5.4.0-N-generic (Ubuntu 20.04, 18.04 HWE)", "5.4.0-113-generic"),
    ("debian", "4.9", "4.9.0-N-amd64 (Debian 9)", "4.9.0-13-amd64"),
    ("debian", "4.19", "4.19.0-N-amd64 (Debian 10)", "4.19.0-20-amd64"),
    ("opensuse", "4.12", "4.12.14-lp151.N-default (openSUSE Leap 15.1)", "4.12.14-lp151.28.32-default"),
    ("opensuse", "5.3", "5.3.18-lp152.N-default (openSUSE Leap 15.2)", "5.3.18-lp152.60-default"),
    ("suse", "5.3", "5.3.18-N-default (SLE 15 SP2/SP3, openSUSE Leap 15.3)", "5.3.18-57-default"),
)


def known_vendor_rules() -> list[tuple[str, str, str, VendorRules]]:
    """``(family, major, releases, rules)`` for each rule set, with the rules of a
    representative build (the build only picks between candidates)."""
    out = []
    for family, major, releases, example in KNOWN:
        rules = vendor_rules(identify(example))
        label = identify(example).label  # a RHEL build's label names its minor: the rule set is the major's
        out.append((family, major, releases,
                    dataclasses.replace(rules, distro=f"{label.split()[0]} {major}" if family == "rhel" else label)))
    return out
