"""A KASLR prediction for people (notes beside the most probable outcome's lines) and as JSON.

JSON schema ``earlymem/kaslr/1`` (docs/json-schema.md): the slots the
decompressor draws from, and every outcome with its exact probability (a
fraction of slots) and the boot it leads to (schema ``earlymem/boot/2``).
"""

from __future__ import annotations

from fractions import Fraction

from earlymem.kaslr import SCHEMA, KaslrPrediction, crash_summary

__all__ = ["kaslr_notes", "kaslr_json", "percent", "kexec_kaslr_notes"]


def percent(p: Fraction) -> str:
    """A probability in words: at most one decimal, never rounded to 0 or 100 when it is not."""
    value = float(p) * 100
    if p == 0 or p == 1:
        return f"{int(value)}%"
    text = f"{value:.1f}%"
    if text == "0.0%":
        return "<0.1%"
    if text == "100.0%":
        return ">99.9%"
    return text


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:#x} bytes"


def kaslr_notes(kp: KaslrPrediction, *, limit: int = 5) -> list[str]:
    """What the most probable outcome stands for, and the others, in words."""
    s = kp.slots
    top = kp.outcomes[0]
    if s.disabled is not None:
        return [f"KASLR: physical KASLR does not run ({s.disabled}): the kernel runs at {s.output:#x}, as without KASLR"]
    first = min(a.start for a in s.areas)
    last = max(a.start + (a.count - 1) * s.align for a in s.areas)
    notes = [f"KASLR: the kernel's place is drawn from {s.total} places, {_size(s.align)} apart, from {first:#x} to {last:#x} "
             + ("(each equally likely" if s.draw != "efi32" else "(drawn by the EFI stub: each with 1/N of its 32-bit seeds, to "
                "within one seed") + f"; the image needs {_size(s.image_size)}); the lines above are the most probable outcome's, "
             f"{percent(top.probability)} of boots" + (f" ({top.slots} of {s.total} places)" if top.cea_pages is None else "")]
    # by what a user asks first: where the crash region goes
    groups: dict[str, Fraction] = {}
    for o in kp.outcomes:
        key = crash_summary(o.result)
        groups[key] = groups.get(key, Fraction(0)) + o.probability
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    # the most probable places by name; every failure by name; the other places together
    shown = [kv for i, kv in enumerate(ranked) if i < limit or not kv[0].startswith("crashkernel at ")]
    parts = [f"{what} in {percent(p)} of boots" for what, p in shown]
    rest = [n for kv in ranked if kv not in shown for n in (kv[1],)]
    if rest:
        parts.append(f"crashkernel at {len(rest)} other place(s) in {percent(sum(rest))} "
                     "(where the image lies in the way)")
    notes.append("KASLR: " + "; ".join(parts))
    if len(kp.outcomes) > len(groups):
        notes.append(f"KASLR: NODE_DATA and managed pages vary with the place as well ({len(kp.outcomes)} outcomes in all): "
                     "--format json gives each with its probability")
    notes.append("KASLR: --kernel-at ADDR (the start of 'Kernel code' in /proc/iomem) makes the prediction exact for one boot")
    return notes


def kaslr_json(kp: KaslrPrediction) -> dict:
    """The whole distribution, as data."""
    s = kp.slots
    return {
        "schema": SCHEMA,
        "slots": {
            "total": s.total,
            "align": s.align,
            "image_size": s.image_size,
            "minimum": s.minimum,
            "mem_limit": s.mem_limit,
            "output": s.output,
            "disabled": s.disabled,
            "draw": s.draw,
            "areas": [{"start": a.start, "count": a.count} for a in s.areas],
            "avoided": [{"what": w, "start": r.start, "end": r.end} for w, r in s.avoided],
            "notes": list(s.notes),
        },
        "boots": kp.boots,
        "outcomes": [
            {
                "slots": o.slots,
                "cea_pages": o.cea_pages,
                "probability": f"{o.probability.numerator}/{o.probability.denominator}",
                "probability_float": float(o.probability),
                "summary": crash_summary(o.result),
                "places": [{"first": a, "last": b, "count": n} for a, b, n in o.runs],
                "boot": o.result.to_json(),
            }
            for o in kp.outcomes
        ],
    }


def kexec_kaslr_notes(top, others, top_p: Fraction) -> list[str]:
    """A load into each crash-region outcome of a KASLR first boot: the most probable one
    is printed; these notes sum up all of them, by probability."""
    everything = [(top, top_p), *others]
    ok = sum(p for load, p in everything if load.loaded)
    places = sum(1 for load, _ in everything if load.loaded)
    fails: dict[str, Fraction] = {}
    for load, p in everything:
        if not load.loaded:
            fails[load.error] = fails.get(load.error, 0) + p
    parts = []
    if ok:
        parts.append(f"the load succeeds in {percent(ok)} of boots ({places} crash-region place{'s' if places != 1 else ''})")
    parts += [f"it fails in {percent(p)}: {why}" for why, p in sorted(fails.items(), key=lambda kv: -kv[1])]
    return [f"KASLR: the load above is into the most probable first boot's crash region ({percent(top_p)} "
            "of boots); over every place KASLR may draw, " + "; ".join(parts)]
