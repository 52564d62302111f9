"""Debian kernels for the oracle, fetched with a private apt state directory.

Each supported kernel is pinned to the package and version the committed
fixtures were captured with, so that a matrix run reproduces them.  When the
Debian archive has moved on, ``allow_newer`` takes the newest package of the
same series instead (and says so).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from earlymem.lib.errors import InputError

__all__ = ["DebianKernel", "KERNELS", "kernel_for", "cache_dir", "FetchedKernel", "fetch_kernel"]


@dataclass(frozen=True)
class DebianKernel:
    """A Debian kernel package.

    :param key: the series as the matrix names it (``6.1``).
    :param suite: the Debian suite that carries it.
    :param package: the package holding the image.
    :param version: the pinned package version.
    :param abi: the kernel release string (``uname -r``).
    :param image_path: where the bzImage lies inside the package.
    :param pattern: regex of package names of this series, for ``allow_newer``.
    """

    key: str
    suite: str
    package: str
    version: str
    abi: str
    image_path: str
    pattern: str


KERNELS: dict[str, DebianKernel] = {
    "5.10": DebianKernel(
        "5.10", "bullseye", "linux-image-5.10.0-32-amd64-unsigned", "5.10.223-1", "5.10.0-32-amd64",
        "boot/vmlinuz-5.10.0-32-amd64", r"^linux-image-5\.10\.0-\d+-amd64-unsigned$",
    ),
    "6.1": DebianKernel(
        "6.1", "bookworm", "linux-image-6.1.0-50-amd64-unsigned", "6.1.176-1", "6.1.0-50-amd64",
        "boot/vmlinuz-6.1.0-50-amd64", r"^linux-image-6\.1\.0-\d+-amd64-unsigned$",
    ),
    "6.12": DebianKernel(
        "6.12", "trixie", "linux-image-6.12.117+deb13-amd64-unsigned", "6.12.117-1", "6.12.117+deb13-amd64",
        "boot/vmlinuz-6.12.117+deb13-amd64", r"^linux-image-6\.12\.\d+\+deb13-amd64-unsigned$",
    ),
    # From 7.x Debian splits the image into linux-binary-* (unsigned vmlinuz
    # under usr/lib/modules) and the signed linux-image-* meta package.
    "7.2": DebianKernel(
        "7.2", "sid", "linux-binary-7.2.13+deb14-amd64", "7.2.13-1", "7.2.13+deb14-amd64",
        "usr/lib/modules/7.2.13+deb14-amd64/vmlinuz", r"^linux-binary-7\.2\.\d+\+deb14-amd64$",
    ),
}


def kernel_for(key: str) -> DebianKernel:
    """:raises InputError: for a series the oracle has no package for."""
    try:
        return KERNELS[key]
    except KeyError:
        raise InputError(f"unknown kernel {key!r}; the oracle knows {', '.join(KERNELS)}", field="kernel") from None


def cache_dir() -> Path:
    """Where downloads and builds are kept: $EARLYMEM_CACHE, else ~/.cache/earlymem."""
    base = os.environ.get("EARLYMEM_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "earlymem")
    return Path(base)


@dataclass(frozen=True)
class FetchedKernel:
    """An unpacked kernel: its bzImage, and the package it came from."""

    kernel: DebianKernel
    package: str
    version: str
    vmlinuz: Path


_SUITES = ("bullseye", "bookworm", "trixie", "sid")


def _apt_options(state: Path) -> list[str]:
    return [
        "-o", f"Dir::Etc::SourceList={state / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
    ]


def _run(cmd: list[str], what: str, cwd: Path | None = None, timeout: int = 900) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise InputError(f"{what}: {cmd[0]} is not installed", field="oracle") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: timed out after {timeout} s", field="oracle") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"{what} failed: {last}", field="oracle")
    return proc.stdout


def _apt_state(cache: Path) -> Path:
    """A private apt state directory listing the four suites; updated once a day."""
    state = cache / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    sources = "".join(f"deb http://deb.debian.org/debian {s} main\n" for s in _SUITES)
    src = state / "sources.list"
    stamp = state / "updated"
    import time

    if not src.exists() or src.read_text() != sources or not stamp.exists() or time.time() - stamp.stat().st_mtime > 86400:
        src.write_text(sources)
        _run(["apt-get", *_apt_options(state), "update"], "apt-get update (private state)")
        stamp.touch()
    return state


def _candidates(state: Path, pattern: str) -> list[tuple[str, str]]:
    """(package, version) of every package name matching ``pattern``."""
    out = _run(["apt-cache", *_apt_options(state), "pkgnames", pattern.lstrip("^").split("\\")[0]], "apt-cache pkgnames")
    rx = re.compile(pattern)
    found = []
    for name in sorted(set(out.split())):
        if rx.match(name):
            pol = _run(["apt-cache", *_apt_options(state), "policy", name], "apt-cache policy")
            m = re.search(r"Candidate: (\S+)", pol)
            if m and m.group(1) != "(none)":
                found.append((name, m.group(1)))
    return found


def fetch_kernel(key: str, *, allow_newer: bool = False, cache: Path | None = None, log=print) -> FetchedKernel:
    """Download and unpack the pinned package of series ``key`` (once; cached).

    :raises InputError: one line, if the package cannot be had.
    """
    kernel = kernel_for(key)
    cache = cache or cache_dir()
    target = cache / "kernels" / f"{kernel.package}_{kernel.version}"
    vmlinuz = target / kernel.image_path
    if vmlinuz.is_file():
        return FetchedKernel(kernel, kernel.package, kernel.version, vmlinuz)
    state = _apt_state(cache)
    package, version = kernel.package, kernel.version
    pol = _run(["apt-cache", *_apt_options(state), "policy", package], "apt-cache policy")
    if f" {version} " not in pol and f" {version}\n" not in pol:
        if not allow_newer:
            raise InputError(
                f"{package} {version} is no longer in Debian {kernel.suite}; pass --allow-newer to use the newest {key} kernel",
                field="kernel",
            )
        cands = _candidates(state, kernel.pattern)
        if not cands:
            raise InputError(f"no {key} kernel package found in Debian {kernel.suite}", field="kernel")
        package, version = cands[-1]
        log(f"note: {kernel.package} {kernel.version} is gone; using {package} {version}")
        target = cache / "kernels" / f"{package}_{version}"
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", *_apt_options(state), "download", f"{package}={version}"], f"apt-get download {package}", cwd=debs)
    deb = next(debs.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"), None)
    if deb is None:
        raise InputError(f"apt-get download {package} left no .deb", field="kernel")
    tmp = target.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(tmp)], f"dpkg-deb -x {deb.name}")
    found = list(tmp.glob("boot/vmlinuz-*")) + list(tmp.glob("usr/lib/modules/*/vmlinuz"))
    if not found:
        raise InputError(f"{deb.name} holds no vmlinuz", field="kernel")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    vmlinuz = target / found[0].relative_to(tmp)
    return FetchedKernel(kernel, package, version, vmlinuz)
