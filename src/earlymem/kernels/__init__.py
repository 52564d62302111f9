"""Kernel profiles: one per era (:mod:`.eras`), the profile's fields by subsystem
(:mod:`.profile`), and the facts of the pinned builds earlymem knows (:mod:`.builds`)."""

from earlymem.kernels.builds import PINNED, KernelBuild, build_for, pinned_build
from earlymem.kernels.eras import NEWEST_KNOWN, PROFILES, check_known, coverage_note, era_name, era_span, profile_for, rules_label
from earlymem.kernels.profile import KernelProfile, KexecFileEra
from earlymem.lib.version import KernelVersion, parse_version

__all__ = ["KernelVersion", "KernelProfile", "KexecFileEra", "PROFILES", "NEWEST_KNOWN", "profile_for", "check_known", "coverage_note", "era_name", "era_span", "rules_label", "parse_version", "KernelBuild", "PINNED", "build_for", "pinned_build"]
