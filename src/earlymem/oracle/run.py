"""Run oracle boots: prepare tools, kernels and initramfs, then boot (in parallel)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from earlymem.oracle.config import BootConfig
from earlymem.oracle.initramfs import build_initramfs
from earlymem.oracle.kernels import FetchedKernel, cache_dir, fetch_kernel
from earlymem.oracle.qemu import BootResult, boot
from earlymem.oracle.tools import ensure_tools

__all__ = ["Prepared", "prepare", "run_boots"]


class Prepared:
    """Host tools, and for each kernel series its bzImage and its initramfs for
    each kdump image the configurations ask for (``dump``: none, small, large)."""

    def __init__(self, tools: dict[str, str], kernels: dict[str, FetchedKernel], initrds: dict[tuple[str, str, int], Path]):
        self.tools = tools
        self.kernels = kernels
        self.initrds = initrds

    def for_config(self, key: str, config: BootConfig) -> tuple[FetchedKernel, Path]:
        return self.kernels[key], self.initrds[(key, config.dump, config.pad)]


def prepare(configs: Iterable[BootConfig], *, allow_newer: bool = False, log: Callable[[str], None] = print) -> Prepared:
    """Install/locate tools, fetch every kernel the configurations name, build their initramfs."""
    configs = list(configs)
    tools = ensure_tools(log=log)
    kernels, initrds = {}, {}
    keys = {k for c in configs for k in c.kernels}
    for key in sorted(keys, key=lambda k: tuple(int(x) for x in k.split("."))):
        log(f"kernel {key}: fetching")
        kernels[key] = fetch_kernel(key, allow_newer=allow_newer, log=log)
        for dump, pad in sorted({(c.dump, c.pad) for c in configs if key in c.kernels}):
            initrds[(key, dump, pad)] = build_initramfs(kernels[key].vmlinuz, tools, cache_dir() / "initramfs", dump, pad)
    return Prepared(tools, kernels, initrds)


def run_boots(
    configs: list[BootConfig],
    prepared: Prepared,
    out_dir: Path,
    *,
    jobs: int = 1,
    on_done: Callable[[BootResult], None] = lambda r: None,
) -> list[BootResult]:
    """Boot every (config, kernel) pair; ``on_done`` is called as each finishes."""
    work = [(c, k, r) for c in configs for k in c.kernels for r in range(1, c.boots + 1)]

    def one(item):
        config, key, repeat = item
        fetched, initrd = prepared.for_config(key, config)
        result = boot(config, fetched, initrd, prepared.tools["qemu-system-x86_64"], out_dir, repeat)
        on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, work))
