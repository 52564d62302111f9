"""Kernel profiles: one per era (:mod:`.eras`), the profile's fields by subsystem
(:mod:`.profile`), and the facts of the pinned builds earlymem knows (:mod:`.builds`)."""

from earlymem.kernels.builds import PINNED, KernelBuild, build_for, pinned_build
from earlymem.kernels.eras import PROFILES, profile_for
from earlymem.kernels.profile import KernelProfile, KexecFileEra
from earlymem.lib.version import KernelVersion, parse_version

__all__ = ["KernelVersion", "KernelProfile", "KexecFileEra", "PROFILES", "profile_for", "parse_version", "KernelBuild", "PINNED", "build_for", "pinned_build"]
