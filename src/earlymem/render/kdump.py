"""``check`` and ``recommend`` for people: plain words first, the kernel lines as evidence."""

from __future__ import annotations

from fractions import Fraction

from earlymem.kdump.check import CheckResult
from earlymem.kdump.recommend import Recommendation

__all__ = ["check_text", "recommend_text"]

_MARK = {"ok": "ok", "fail": "FAIL", "marginal": "MARGINAL", "unknown": "open", "skipped": "--"}
_VERDICT = {"ready": "READY", "not_ready": "NOT READY", "marginal": "MARGINAL", "unknown": "CANNOT TELL"}


def check_text(r: CheckResult) -> str:
    out = [f"kdump on {r.source}: {_VERDICT[r.verdict]} -- {r.summary}",
           f"kernel {r.kernel or 'unknown'}, crashkernel={r.crashkernel or '(none)'}"
           + (f", ready on {float(Fraction(r.p_ready)) * 100:.4g}% of KASLR boots (exactly {r.p_ready})" if r.p_ready else ""), ""]
    for i, part in enumerate(r.parts, 1):
        out.append(f"{i}. {part.name} [{_MARK[part.status]}]")
        for f in part.findings:
            out.append(f"   {f.words}")
            for e in f.evidence:
                out.append(f"     | {e}")
            if f.fix:
                out.append(f"     fix: {f.fix}")
    if r.missing:
        out.append("")
        out.append("missing from the source:")
        out += [f"  - {m.what}: {m.changes}" for m in r.missing]
    if r.notes:
        out.append("")
        out += [f"note: {n}" for n in r.notes]
    return "\n".join(out)


def recommend_text(r: Recommendation, source: str) -> str:
    out = []
    if r.size is None:
        out.append(f"{source}: no recommendation -- {r.why}")
    else:
        out.append(f"{source}: {r.plain}" + (f"  (for similar machines: {r.range_list})" if r.range_list else ""))
        out.append(f"  {r.why}")
    out.append("")
    out.append("what the others would reserve here:")
    for p in r.peers:
        size = f"{p.size >> 20}M" if p.size else "-"
        verdict = {None: "", "ready": "works"}.get(p.stage, f"fails: {p.why}")
        out.append(f"  {p.name:42} {size:>7}  {verdict or p.why}")
        out.append(f"  {'':42} {'':>7}  ({p.rule})")
    if r.assumptions:
        out.append("")
        out += [f"assumed: {a}" for a in r.assumptions]
    return "\n".join(out)
