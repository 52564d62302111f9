"""Host tools the oracle needs, located or installed with apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess

from earlymem.lib.errors import InputError

__all__ = ["REQUIRED", "REQUIRED_FILES", "OVMF_CODE", "OVMF_VARS", "ensure_tools"]

#: command -> Debian package that provides it.
REQUIRED = {
    "qemu-system-x86_64": "qemu-system-x86",
    "kexec": "kexec-tools",
    "makedumpfile": "makedumpfile",
    "busybox": "busybox-static",
    "cpio": "cpio",
    "dpkg-deb": "dpkg",
    "gcc": "gcc",
    "apt-get": "apt",
}

#: UEFI firmware for ``firmware = "uefi"`` boots (Debian's ovmf package; 4 MiB flash layout).
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
#: file -> Debian package that provides it.
REQUIRED_FILES = {OVMF_CODE: "ovmf", OVMF_VARS: "ovmf"}


def _busybox_is_static() -> bool:
    path = shutil.which("busybox")
    if not path:
        return False
    out = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout if shutil.which("file") else ""
    return "statically linked" in out or "static-pie" in out or not out


def ensure_tools(*, install: bool = True, log=print) -> dict[str, str]:
    """Paths of the required commands, installing missing ones when possible.

    :raises InputError: one line naming what is missing and why it could not
        be installed.
    """
    missing = [cmd for cmd in REQUIRED if shutil.which(cmd, path=_path()) is None]
    if "busybox" not in missing and not _busybox_is_static():
        missing.append("busybox")
    missing += [f for f in REQUIRED_FILES if not os.path.isfile(f)]
    if missing:
        packages = sorted({REQUIRED.get(c) or REQUIRED_FILES[c] for c in missing})
        if not install:
            raise InputError(f"missing {', '.join(missing)} (install {' '.join(packages)})", field="oracle")
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise InputError(f"missing {', '.join(missing)} and cannot install {' '.join(packages)} (needs root and apt-get)", field="oracle")
        log(f"installing {' '.join(packages)} ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise InputError(f"cannot install {' '.join(packages)}: {last}", field="oracle")
        still = [c for c in missing if not (os.path.isfile(c) if c in REQUIRED_FILES else shutil.which(c, path=_path()))]
        if still:
            raise InputError(f"{', '.join(still)} still missing after installing {' '.join(packages)}", field="oracle")
    return {cmd: shutil.which(cmd, path=_path()) or cmd for cmd in REQUIRED}


def _path() -> str:
    # kexec lives in /usr/sbin, which a non-root PATH may lack.
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
