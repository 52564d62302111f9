"""A :class:`~earlymem.result.BootResult` as text: the kernel's lines by family,
/proc/iomem, and the sentences ``predict`` writes on stderr."""

from __future__ import annotations

from earlymem.render.iomem import child_line, iomem_text
from earlymem.render.procfs import zoneinfo_lines
from earlymem.result import BootResult, Panic

__all__ = ["family_lines", "iomem_crash_lines", "not_predicted_note", "panic_note"]


def iomem_crash_lines(result: BootResult) -> list[str]:
    """The ``Crash kernel`` lines of /proc/iomem (one level under System RAM)."""
    return [child_line("Crash kernel", c.start, c.end) for c in result.crash]


def family_lines(result: BootResult) -> dict[str, list[str]]:
    """Every family the boot predicts a line of, as verify compares them: the
    kernel's log lines by family, ``zoneinfo`` (and ``-managed``,
    ``-watermarks`` where predicted), ``iomem`` and, when the crashkernel
    outcome is predicted, ``iomem-crash`` (possibly empty)."""
    out: dict[str, list[str]] = {}
    for ln in result.lines:
        if ln.printed:
            out.setdefault(ln.family, []).append(ln.text)
    for fam, lines in zoneinfo_lines(result.zones).items():
        # managed pages and watermarks only where predicted (not_predicted says why not)
        if lines and (fam == "zoneinfo" or result.predicted("zoneinfo managed pages")):
            out[fam] = lines
    if result.crash_predicted:
        out["iomem-crash"] = iomem_crash_lines(result)
    if result.iomem:
        out["iomem"] = iomem_text(result.iomem)
    return out


def panic_note(p: Panic) -> str:
    """The outcome in plain words when the kernel panics on this input."""
    words = f"'{p.message}'" if p.message is not None else "its panic"
    return f"predicted outcome: the kernel panics in {p.function}() with {words}: {p.why}; nothing after it is predicted"


def not_predicted_note(result: BootResult) -> str | None:
    """One line naming what the boot does not predict and why (None when it predicts everything)."""
    if result.panic is not None:
        return panic_note(result.panic)
    if not result.not_predicted:
        return None
    by_reason: dict[str, list[str]] = {}
    for n in result.not_predicted:
        by_reason.setdefault(n.reason, []).append(n.what)
    return "not predicted yet: " + "; ".join(f"{', '.join(whats)} ({why})" for why, whats in by_reason.items())
