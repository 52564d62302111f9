"""The oracle's dump captures read as a user would give them to ``check`` (issue 17).

The dump sweep (tests/fixtures/dumps/sweep), its repeats and the hold-out boot a first kernel that
loads a capture kernel and crashes.  What `check` gets for one of them is what a support engineer
would have: the first kernel's log, the kdump initramfs (its ``cpio -itv`` listing and its size:
the capture's note gives it), kexec's --append as init.sh passes it, and kexec -p or -s.
"""

from __future__ import annotations

import re
from pathlib import Path

from earlymem.kdump.gather import Gathered, Options, gather
from earlymem.oracle.sweep import classify
from earlymem.sources.capture import read_capture
from earlymem.verification import _oracle_kappend

__all__ = ["capture_inputs", "sweep_inputs", "bracketed", "repeat_outcomes", "KDUMP_APPEND_EXTRA"]

#: what init.sh adds to the capture kernel's command line in a dump boot besides the fixed part
KDUMP_APPEND_EXTRA = ("nokaslr", "oracle.dump=1")


def capture_inputs(capture: Path, listing: Path, *, file_load: bool, workdir: Path, initrd_size: int | None = None) -> Gathered:
    """`check`'s inputs for the dump capture in ``capture``: its first kernel's log (written to
    ``workdir``), the initramfs ``listing``, its size (``initrd_size``, else the capture's note's)."""
    cap = read_capture(capture)
    first = cap.section("first/dmesg") or []
    log = workdir / f"{capture.name}.log"
    log.write_text("\n".join(first) + "\n")
    release = next((m.group(1) for ln in first for m in [re.search(r"Linux version (\S+)", ln)] if m), None)
    if initrd_size is None:
        initrd_size = int(re.search(r"kdump initrd: (\d+) bytes", cap.note).group(1))
    opts = Options(kernel=release, initrd=str(listing), initrd_size=str(initrd_size),
                   append=" ".join([_oracle_kappend(), *KDUMP_APPEND_EXTRA]), file_load=file_load)
    return gather(str(log), opts)


def sweep_inputs(sweep_dir: Path, sweep: dict, size: int, workdir: Path) -> Gathered:
    """`check`'s inputs for the sweep capture of ``sweep`` (a sweep.json entry) at ``size`` bytes."""
    flavour = "large" if "large kdump initramfs" in sweep["describe"] else "small"
    return capture_inputs(sweep_dir / f"{sweep['config']}--{sweep['kernel']}--ck{size >> 20}M",
                          sweep_dir / f"kdump-initrd-{flavour}.lst", file_load="kexec file" in sweep["describe"], workdir=workdir)


def bracketed(sweep: dict) -> bool:
    """A minimum the sweep has bracketed: a dump, and below it a boot that says something about kdump
    (a first kernel that died before /init says nothing: `earlymem oracle sweep` tries it again)."""
    return sweep["minimum"] is not None and (sweep["below"] is None or sweep["below"]["outcome"] != "first-failed")


def repeat_outcomes(repeat_dir: Path, sweep: dict, size: int) -> list[str]:
    """What the repeats of a sweep configuration at ``size`` bytes did (``repeat_dir``'s captures named
    ``repeat[irr]-<configuration>-ck<MiB>--<kernel>--NN``)."""
    short = sweep["config"].removeprefix("dump-")
    return [classify(d, False)[0] for pre in ("repeat", "repeatirr")
            for d in sorted(repeat_dir.glob(f"{pre}-{short}-ck{size >> 20}--{sweep['kernel']}--[0-9][0-9]"))]
