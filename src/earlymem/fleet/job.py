"""One host of a fleet: its input in, one row out (a pure function: the same input gives the same row).

The row is what `check` says of the host -- its kernel, RAM, NUMA nodes, crash region (where KASLR
could move it, only if every place of the kernel gives the same one), verdict, the exact probability
that kdump works where KASLR rolls dice (``p_ready``), the reasons (the codes of the findings that fail or hang in the balance), and `recommend`'s size -- and,
with a what-if, the verdict with another kernel (running and capture, as `check` checks the other
installed kernels: earlymem.kdump.check.next_kernel()) or another crashkernel=.  A bad input is a row
whose ``error`` says what and where, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.fleet.hosts import Host, input_hash
from earlymem.kdump.calibration import node_count
from earlymem.kdump.check import check, next_kernel
from earlymem.kdump.evaluate import evaluate
from earlymem.kdump.gather import Options, gather
from earlymem.kdump.recommend import recommend
from earlymem.kernels.builds import pinned_build
from earlymem.lib.errors import InputError
from earlymem.lib.version import parse_version

__all__ = ["FleetOptions", "check_host", "COLUMNS"]

#: the row's columns, in order
COLUMNS = ("host", "input", "input_hash", "kernel", "ram", "nodes", "crashkernel", "crash_region", "verdict", "p_ready", "reasons",
           "recommended", "whatif", "whatif_verdict", "whatif_why", "error")


@dataclass(frozen=True)
class FleetOptions:
    """What every host's `check` gets besides its own input (None: the input's own, as `check` reads it)."""

    kernel: str | None = None
    initrd: str | None = None
    initrd_size: str | None = None
    append: str | None = None
    #: check every host again with this kernel release (running and capture)
    what_if: str | None = None
    #: ... or with this crashkernel= (the whole parameter: "crashkernel=256M")
    what_if_cmdline: str | None = None
    recommend: bool = True


def _row(host: Host, digest: str) -> dict:
    return dict.fromkeys(COLUMNS) | {"host": host.id, "input": host.path, "input_hash": digest, "reasons": ""}


def check_host(host: Host, opts: FleetOptions = FleetOptions()) -> dict:
    """The row of ``host``."""
    try:
        digest = input_hash(host.path)
    except OSError as exc:
        return _row(host, "") | {"error": f"{host.path}: cannot be read: {exc.strerror or exc}"}
    row = _row(host, digest)
    try:
        g = gather(host.path, Options(1, opts.kernel, opts.initrd, opts.initrd_size, opts.append, None))
        if g.setup is None:
            return row | {"error": f"{host.path}: no memory map in this input (" + "; ".join(m.what for m in g.missing[:2]) + ")"}
        setup = g.setup
        ev = evaluate(setup)
        result = check(setup, source=g.source, missing=tuple(g.missing), evaluation=ev)
        first = ev.outcomes[0].first
        regions = {" ".join(f"{c.start:#x}-{c.end - 1:#x}" for c in o.first.crash) or None for o in ev.outcomes}
        row.update(kernel=result.kernel, crashkernel=result.crashkernel, verdict=result.verdict,
                   ram=sum(e.end - e.start for e in first.e820 if e.type == 1), nodes=node_count(setup.machine),
                   # under KASLR the region may differ between the kernel's places: given only where all agree,
                   # and p_ready is then the exact share of places that dump
                   crash_region=regions.pop() if len(regions) == 1 else None, p_ready=result.p_ready,
                   reasons=" ".join(sorted({f.code for p in result.parts if p.status in ("fail", "marginal") for f in p.findings})))
        if opts.recommend:
            row["recommended"] = recommend(setup).plain
        if opts.what_if:
            row["whatif"] = opts.what_if
            nk = next_kernel(setup, opts.what_if, pinned_build(parse_version(opts.what_if)))
            row.update(whatif_verdict=nk.verdict, whatif_why=nk.why)
        elif opts.what_if_cmdline:
            row["whatif"] = opts.what_if_cmdline
            ev = evaluate(setup, opts.what_if_cmdline.removeprefix("crashkernel="))
            stage = ev.outcomes[0].stage
            row.update(whatif_verdict="ready" if ev.ready else "marginal" if stage == "marginal" else "unknown"
                       if stage == "unknown" else "not_ready", whatif_why=stage)
        return row
    except InputError as exc:
        return row | {"error": str(exc)}
    except Exception as exc:  # a bug must not fail the fleet: the row says so
        return row | {"error": f"{host.path}: internal error: {type(exc).__name__}: {exc}"}
