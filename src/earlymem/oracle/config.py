"""Boot configurations for the oracle, and matrices of them in TOML.

A matrix file::

    [defaults]                 # optional; applies to every [[boot]]
    kernels = ["5.10", "6.1", "6.12", "7.2"]
    timeout = 300

    [[boot]]
    name = "pc-4g-ck256-load-crash"
    machine = "pc"             # pc (i440fx) or q35
    memory = "4G"
    cpus = 1                   # default: 1, or the CPUs the NUMA nodes name
    numa = [{ size = "2G", cpus = "0" }, { size = "2G", cpus = "1" }]   # size "0": CPUs only
    cmdline = "memmap=512M$0x120000000"
    crashkernel = "256M"       # appended as crashkernel=...
    kexec = "load"             # none, load (kexec -p), file (kexec -s -p), both, normal (kexec -l)
    crash = true               # echo c > /proc/sysrq-trigger, then the kdump kernel runs
    firmware = "bios"          # bios (SeaBIOS) or uefi (OVMF, a fresh VARS copy per boot)
    kaslr = false              # true: no nokaslr, the kernel's place is random
    boots = 1                  # boot it this many times (captures NAME--KERNEL--NN); KASLR statistics
    dump = "small"             # the kdump kernel runs makedumpfile -F -l -d 31 /proc/vmcore into a pipe;
                               # small: its initramfs holds busybox, makedumpfile and its libraries;
                               # large: the same plus 32 MiB of random bytes and 32 MiB of zeros (none: no dump)
    pad = "8M"                 # a dump initramfs with this much more zeros (a file of them; whole 4 KiB pages):
                               # what the unpack can still take at a given region, for the model's calibration
    sweep = { low = "64M", high = "1G", step = "4M" }   # `oracle sweep`: bisect crashkernel=SIZE on real
                               # boots for the smallest region in which the dump completes
    icount = 3                 # QEMU's -icount shift=N (single-threaded TCG, one guest instruction each
                               # 2^N ns of virtual time): the same guest at another speed against its
                               # timers, for outcomes that depend on timing; default: none (multi-threaded TCG)

Every error names the file and the field (``matrix.toml: boot[3].numa: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earlymem.lib.errors import InputError
from earlymem.lib.units import format_size, parse_size
from earlymem.oracle.kernels import KERNELS
from earlymem.sources.text import read_toml

__all__ = ["NumaNode", "BootConfig", "read_matrix", "parse_cpus"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,79}$")
KEXEC_MODES = ("none", "load", "file", "both", "normal")


@dataclass(frozen=True)
class NumaNode:
    """One guest NUMA node: its memory and the CPUs in it."""

    size: int
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class BootConfig:
    """One oracle boot.  ``kernels`` lists the series it is booted with."""

    name: str
    memory: int
    machine: str = "pc"
    cpus: int = 1
    numa: tuple[NumaNode, ...] = ()
    cmdline: str = ""
    crashkernel: str | None = None
    kexec: str = "none"
    crash: bool = False
    kernels: tuple[str, ...] = tuple(KERNELS)
    timeout: int = 300
    firmware: str = "bios"
    kaslr: bool = False
    boots: int = 1
    dump: str = "none"
    sweep: tuple[int, int, int] | None = None
    pad: int = 0
    icount: int | None = None

    def kernel_cmdline(self) -> str:
        """The first kernel's command line: ``nokaslr`` unless the configuration asks
        for KASLR (then the place is random and each boot says where it went)."""
        parts = ["console=ttyS0", "loglevel=4", "log_buf_len=4M", "panic=5"] + ([] if self.kaslr else ["nokaslr"])
        if self.cmdline:
            parts.append(self.cmdline)
        if self.crashkernel:
            parts.append(f"crashkernel={self.crashkernel}")
        if self.kexec != "none":
            parts.append(f"oracle.kexec={self.kexec}")
        if self.crash:
            parts.append("oracle.crash=1")
        if self.dump != "none":
            parts.append("oracle.dump=1")
        return " ".join(parts)

    def describe(self) -> str:
        numa = " + ".join(f"{format_size(n.size)}" for n in self.numa)
        bits = [self.machine, format_size(self.memory)]
        if numa:
            bits.append(f"NUMA {numa}")
        if self.crashkernel:
            bits.append(f"crashkernel={self.crashkernel}")
        if self.kexec != "none":
            bits.append(f"kexec {self.kexec}")
        if self.crash:
            bits.append("crash")
        if self.firmware != "bios":
            bits.append(self.firmware.upper())
        if self.kaslr:
            bits.append("KASLR")
        if self.dump != "none":
            bits.append(f"makedumpfile, {self.dump} kdump initramfs" + (f" + {format_size(self.pad)} of zeros" if self.pad else ""))
        if self.icount is not None:
            bits.append(f"icount shift={self.icount}")
        return ", ".join(bits)


def parse_cpus(value: Any, where: str, source: str) -> tuple[int, ...]:
    """``"0"``, ``"0-3"``, ``"0,2"`` or a list of integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        items = list(value)
    elif isinstance(value, str) and re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", value):
        items = []
        for part in value.split(","):
            a, _, b = part.partition("-")
            items.extend(range(int(a), int(b or a) + 1))
    else:
        raise InputError(f"expected CPUs like \"0\", \"0-1\" or [0, 1], got {value!r}", source=source, field=where)
    if not items or min(items) < 0 or len(set(items)) != len(items):
        raise InputError(f"bad CPU list {value!r}", source=source, field=where)
    return tuple(items)


def _size(value: Any, where: str, source: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        try:
            return parse_size(value, what=where)
        except InputError as exc:
            raise exc.located(source=source, field=where)
    raise InputError(f"expected a size such as \"4G\", got {value!r}", source=source, field=where)


_KEYS = {"name", "machine", "memory", "cpus", "numa", "cmdline", "crashkernel", "kexec", "crash", "kernels", "timeout",
         "firmware", "kaslr", "boots", "dump", "sweep", "pad", "icount"}
FIRMWARES = ("bios", "uefi")
DUMPS = ("none", "small", "large")


def _flag(data: dict, key: str, where: str, source: str) -> bool:
    """A true/false field (false when absent).  :raises InputError: naming it."""
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"{key} must be true or false", source=source, field=f"{where}.{key}")
    return value


def make_config(data: dict, where: str, source: str, defaults: dict | None = None) -> BootConfig:
    """Validate one boot description.  :raises InputError: naming the field."""
    data = {**(defaults or {}), **data}
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}", source=source, field=f"{where}.{unknown[0]}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError("'name' must be letters, digits, '.', '_', '+' or '-' (at most 80)", source=source, field=f"{where}.name")
    if "memory" not in data:
        raise InputError("missing 'memory'", source=source, field=f"{where}.memory")
    memory = _size(data["memory"], f"{where}.memory", source)
    if memory % (1 << 20) or not (128 << 20) <= memory <= (1 << 40):
        raise InputError(f"memory {format_size(memory)} must be whole MiB between 128M and 1T", source=source, field=f"{where}.memory")
    machine = data.get("machine", "pc")
    if machine not in ("pc", "q35"):
        raise InputError(f"machine must be pc or q35, not {machine!r}", source=source, field=f"{where}.machine")
    numa = []
    for i, node in enumerate(data.get("numa", [])):
        nwhere = f"{where}.numa[{i}]"
        if not isinstance(node, dict) or "size" not in node:
            raise InputError("expected { size = \"2G\", cpus = \"0\" }", source=source, field=nwhere)
        # size 0: a node with CPUs and no memory (QEMU: -numa node without memdev)
        size = 0 if node["size"] in (0, "0") else _size(node["size"], f"{nwhere}.size", source)
        if size % (1 << 20):
            raise InputError("node sizes must be whole MiB", source=source, field=f"{nwhere}.size")
        numa.append(NumaNode(size, parse_cpus(node.get("cpus", str(i)), f"{nwhere}.cpus", source)))
    if numa:
        total = sum(n.size for n in numa)
        if total != memory:
            more = "more" if total > memory else "less"
            raise InputError(
                f"the NUMA nodes hold {format_size(total)}, {more} than the {format_size(memory)} of RAM",
                source=source,
                field=f"{where}.numa",
            )
        all_cpus = [c for n in numa for c in n.cpus]
        if len(set(all_cpus)) != len(all_cpus):
            raise InputError("a CPU is in two NUMA nodes", source=source, field=f"{where}.numa")
    cpus = data.get("cpus", (max(c for n in numa for c in n.cpus) + 1) if numa else 1)
    if not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= 64:
        raise InputError("cpus must be a number from 1 to 64", source=source, field=f"{where}.cpus")
    if numa and max(c for n in numa for c in n.cpus) >= cpus:
        raise InputError(f"a NUMA node names a CPU beyond the {cpus} the guest has", source=source, field=f"{where}.numa")
    cmdline = data.get("cmdline", "")
    crashkernel = data.get("crashkernel")
    if not isinstance(cmdline, str) or "\n" in cmdline or '"' in cmdline and cmdline.count('"') % 2:
        raise InputError("cmdline must be one line with balanced quotes", source=source, field=f"{where}.cmdline")
    if crashkernel is not None and (not isinstance(crashkernel, str) or not crashkernel or " " in crashkernel):
        raise InputError("crashkernel must be a value such as \"256M\" (without 'crashkernel=')", source=source, field=f"{where}.crashkernel")
    kexec = data.get("kexec", "none")
    if kexec not in KEXEC_MODES:
        raise InputError(f"kexec must be one of {', '.join(KEXEC_MODES)}", source=source, field=f"{where}.kexec")
    crash = _flag(data, "crash", where, source)
    if crash and kexec in ("none", "normal"):
        raise InputError("crash = true needs a kexec -p load to crash into", source=source, field=f"{where}.crash")
    kernels = data.get("kernels", list(KERNELS))
    if isinstance(kernels, str):
        kernels = [kernels]
    if not isinstance(kernels, list) or not kernels:
        raise InputError("kernels must be a list such as [\"6.1\", \"7.2\"]", source=source, field=f"{where}.kernels")
    for k in kernels:
        if k not in KERNELS:
            raise InputError(f"unknown kernel {k!r}; the oracle knows {', '.join(KERNELS)}", source=source, field=f"{where}.kernels")
    timeout = data.get("timeout", 300)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 10 <= timeout <= 3600:
        raise InputError("timeout must be 10 to 3600 seconds", source=source, field=f"{where}.timeout")
    firmware = data.get("firmware", "bios")
    if firmware not in FIRMWARES:
        raise InputError(f"firmware must be one of {', '.join(FIRMWARES)}", source=source, field=f"{where}.firmware")
    kaslr = _flag(data, "kaslr", where, source)
    if kaslr and re.search(r"(^|\s)nokaslr(\s|$)", cmdline):
        raise InputError("kaslr = true with nokaslr in cmdline", source=source, field=f"{where}.cmdline")
    boots = data.get("boots", 1)
    if not isinstance(boots, int) or isinstance(boots, bool) or not 1 <= boots <= 99:
        raise InputError("boots must be a number from 1 to 99", source=source, field=f"{where}.boots")
    dump = data.get("dump", "none")
    if dump not in DUMPS:
        raise InputError(f"dump must be one of {', '.join(DUMPS)}", source=source, field=f"{where}.dump")
    if dump != "none" and not crash:
        raise InputError("dump needs crash = true (the kdump kernel runs the dump)", source=source, field=f"{where}.dump")
    sweep = _sweep(data.get("sweep"), f"{where}.sweep", source, memory)
    if sweep and crashkernel is not None:
        raise InputError("a sweep chooses crashkernel= itself; drop 'crashkernel'", source=source, field=f"{where}.crashkernel")
    if sweep and dump == "none":
        raise InputError("a sweep measures a dump; set dump = \"small\" or \"large\"", source=source, field=f"{where}.sweep")
    pad = 0
    if "pad" in data:
        pad = _size(data["pad"], f"{where}.pad", source)
        if dump == "none" or pad % 4096 or pad > 256 << 20:
            raise InputError("pad needs a dump and is whole 4 KiB pages up to 256M", source=source, field=f"{where}.pad")
    icount = data.get("icount")
    if icount is not None and (not isinstance(icount, int) or isinstance(icount, bool) or not 0 <= icount <= 10):
        raise InputError("icount must be a shift from 0 to 10", source=source, field=f"{where}.icount")
    return BootConfig(name, memory, machine, cpus, tuple(numa), cmdline, crashkernel, kexec, crash, tuple(kernels), timeout,
                      firmware, kaslr, boots, dump, sweep, pad, icount)


def _sweep(value: Any, where: str, source: str, memory: int) -> tuple[int, int, int] | None:
    """``{ low, high, step }``: whole multiples of ``step`` (a MiB multiple), low < high < memory."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"low", "high", "step"}:
        raise InputError('expected { low = "64M", high = "1G", step = "4M" }', source=source, field=where)
    low, high, step = (_size(value[k], f"{where}.{k}", source) for k in ("low", "high", "step"))
    if step % (1 << 20) or low % step or high % step:
        raise InputError("step must be whole MiB, and low and high multiples of it", source=source, field=where)
    if not low < high < memory:
        raise InputError("expected low < high < the guest's memory", source=source, field=where)
    return low, high, step


def read_matrix(path: str | Path) -> list[BootConfig]:
    """Read a matrix file.  :raises InputError: naming the file and the field."""
    source = str(path)
    data = read_toml(path)
    unknown = sorted(set(data) - {"defaults", "boot"})
    if unknown:
        raise InputError(f"unknown table {unknown[0]!r} (expected [defaults] and [[boot]])", source=source, field=unknown[0])
    defaults = data.get("defaults", {})
    boots = data.get("boot")
    if not isinstance(boots, list) or not boots:
        raise InputError("no [[boot]] entries", source=source, field="boot")
    configs = [make_config(b, f"boot[{i}]", source, defaults) for i, b in enumerate(boots)]
    names = [c.name for c in configs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"two boots are named {dup!r}", source=source, field="boot")
    return configs
