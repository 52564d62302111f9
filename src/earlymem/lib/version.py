"""Kernel releases: ``6.1.0-50-amd64`` as ``(6, 1, 0)`` plus the full string."""

from __future__ import annotations

import re
from dataclasses import dataclass

from earlymem.lib.errors import InputError

__all__ = ["KernelVersion", "parse_version", "EARLYMEM_VERSION"]

#: earlymem's own version (earlymem.__version__; pyproject.toml has the same)
EARLYMEM_VERSION = "0.1.0"


@dataclass(frozen=True, order=True, slots=True)
class KernelVersion:
    """A kernel release as ``(major, minor, patch)`` plus the full string."""

    major: int
    minor: int
    patch: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> KernelVersion:
    """Parse ``6.1.0-50-amd64``, ``2.6.23``, ``7.2.13+deb14-amd64`` ...

    :raises InputError: if ``text`` does not start with ``MAJOR.MINOR``.
    """
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise InputError(f"not a kernel version: {text!r} (expected e.g. 6.1 or 2.6.23)")
    return KernelVersion(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), text.strip())
