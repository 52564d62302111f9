"""Boot one configuration under QEMU (TCG) and write its capture directory.

A capture directory ``NAME--KERNEL/`` holds ``serial.log`` (the raw serial
console, byte for byte) and ``note.md`` (kernel package and version, the qemu
command, the configuration, when and how long).
"""

from __future__ import annotations

import datetime
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from earlymem.lib.version import EARLYMEM_VERSION as __version__
from earlymem.oracle.config import BootConfig
from earlymem.oracle.initramfs import kdump_bytes_file
from earlymem.oracle.kernels import FetchedKernel
from earlymem.oracle.tools import OVMF_CODE, OVMF_VARS

__all__ = ["qemu_argv", "BootResult", "boot", "capture_name"]

#: Guests larger than this get an explicit memory backend with reserve=off
#: (MAP_NORESERVE), so that a 64 GiB guest runs on a 24 GiB host.
_NORESERVE_ABOVE = 8 << 30


def capture_name(config: BootConfig, kernel_key: str, repeat: int | None = None) -> str:
    """``NAME--KERNEL``, or ``NAME--KERNEL--NN`` for the NN-th of repeated boots (``boots`` > 1)."""
    return f"{config.name}--{kernel_key}" + (f"--{repeat:02d}" if config.boots > 1 and repeat is not None else "")


def _mib(n: int) -> str:
    return f"{n >> 20}M"


def qemu_argv(config: BootConfig, qemu: str, vmlinuz: Path, initrd: Path, vars_fd: Path | None = None) -> list[str]:
    """The qemu command for ``config`` (the recipe of shared/oracle/README.md).

    UEFI boots use OVMF as two flash drives: the code read-only, and
    ``vars_fd``, a fresh copy of the variable store for this boot."""
    machine = config.machine
    argv = [qemu, "-accel", "tcg,thread=multi"]
    if config.icount is not None:  # instruction counting needs single-threaded TCG
        argv = [qemu, "-accel", "tcg,thread=single", "-icount", f"shift={config.icount}"]
    if config.firmware == "uefi":
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}"]
    mem: list[str] = []
    if config.numa:
        for i, node in enumerate(config.numa):
            cpus = node.cpus
            ranges = ",".join(f"cpus={c}" for c in cpus)
            if not node.size:  # a memoryless node: its CPUs only
                mem += ["-numa", f"node,nodeid={i},{ranges}"]
                continue
            mem += ["-object", f"memory-backend-ram,id=m{i},size={_mib(node.size)},reserve=off"]
            mem += ["-numa", f"node,nodeid={i},{ranges},memdev=m{i}"]
    elif config.memory > _NORESERVE_ABOVE:
        machine += ",memory-backend=ram0"
        mem += ["-object", f"memory-backend-ram,id=ram0,size={_mib(config.memory)},reserve=off"]
    argv += ["-machine", machine, "-m", _mib(config.memory), "-smp", str(config.cpus), *mem]
    argv += ["-nographic", "-no-reboot", "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", config.kernel_cmdline()]
    return argv


@dataclass
class BootResult:
    """How one boot went."""

    name: str
    directory: Path
    seconds: float
    exit_status: int | None
    timed_out: bool


def _qemu_version(qemu: str) -> str:
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
    return (out.splitlines() or ["unknown"])[0]


def boot(config: BootConfig, kernel: FetchedKernel, initrd: Path, qemu: str, out_dir: Path, repeat: int | None = None) -> BootResult:
    """Boot ``config`` with ``kernel``; write ``out_dir/NAME--KERNEL/`` (``NAME--KERNEL--NN/`` for a repeat)."""
    name = capture_name(config, kernel.kernel.key, repeat)
    cap = out_dir / name
    cap.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="earlymem-ovmf-") as tmp:
        vars_fd = None
        if config.firmware == "uefi":
            vars_fd = Path(tmp) / "OVMF_VARS.fd"
            shutil.copyfile(OVMF_VARS, vars_fd)
        return _boot(config, kernel, initrd, qemu, cap, name, vars_fd)


def _boot(config, kernel, initrd, qemu, cap: Path, name: str, vars_fd: Path | None) -> BootResult:
    argv = qemu_argv(config, qemu, kernel.vmlinuz, initrd, vars_fd)
    started = time.monotonic()
    timed_out = False
    with open(cap / "serial.log", "wb") as serial:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=serial, stderr=subprocess.STDOUT)
        try:
            status: int | None = proc.wait(timeout=config.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            status, timed_out = None, True
    seconds = time.monotonic() - started
    # Host paths are replaced by names, so notes do not depend on the cache.
    names = {str(kernel.vmlinuz): f"vmlinuz-{kernel.kernel.abi}", str(initrd): "oracle-initrd.img", qemu: os.path.basename(qemu)}
    shown = [names.get(a, a) for a in argv]
    if vars_fd is not None:
        shown = [a.replace(str(vars_fd), "OVMF_VARS.fd (a fresh copy of " + OVMF_VARS + ")") for a in shown]
    note = [
        f"# {name}",
        "",
        f"- configuration: {config.describe()}",
        f"- kernel: Debian {kernel.package} {kernel.version} ({kernel.kernel.suite}), release {kernel.kernel.abi}",
        f"- qemu: {_qemu_version(qemu)}",
        f"- command: `{shlex.join(shown)}`",
        "- initrd: earlymem's oracle initramfs (busybox-static, src/earlymem/oracle/init.sh, host kexec-tools,"
        " the same kernel as kdump kernel)",
        *([f"- kdump initrd: {kd.read_text().strip()} bytes (/boot/kdump-initrd.img)"] if (kd := kdump_bytes_file(Path(initrd))).is_file() else []),
        f"- captured: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by earlymem {__version__},"
        f" {seconds:.1f} s, " + ("timed out" if timed_out else f"qemu exit status {status}"),
        "",
    ]
    (cap / "note.md").write_text("\n".join(note))
    return BootResult(name, cap, seconds, status, timed_out)
