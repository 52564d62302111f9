"""The page ledger: who owns every page frame, phase by phase.

A phase is a list of ``(pfn range, owner)`` covering ``[0, end_pfn)`` with no
gap and no overlap (:meth:`Ledger.check` asserts it: conservation).  Claims
that are not ownership -- the ``Crash kernel`` region that kexec will write
into -- are kept beside the owners, so "which pages are both in the crash
region and free in the buddy allocator" is a query, not a story.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from earlymem.lib.ranges import Range, RangeSet

__all__ = ["Ledger", "LedgerError"]


class LedgerError(Exception):
    """A phase that does not give every page exactly one owner."""


@dataclass
class Ledger:
    end_pfn: int
    phases: dict[str, list[tuple[Range, str]]] = field(default_factory=dict)
    claims: dict[str, Range] = field(default_factory=dict)

    def add_phase(self, name: str, owners: list[tuple[Range, str]]) -> None:
        """Record a phase; owners given as possibly overlapping ranges, first one wins,
        and pages nobody owns are ``unaccounted`` (which :meth:`check` rejects).

        One sweep over the ranges' ends with a heap of the ranges covering the
        current piece, keyed by their place in ``owners``: O(n log n) in the
        number of ranges, whatever their sizes.
        """
        spans = []
        for idx, (r, owner) in enumerate(owners):
            s, e = max(r.start, 0), min(r.end, self.end_pfn)
            if s < e:
                spans.append((s, e, idx, owner))
        spans.sort()
        points = sorted({0, self.end_pfn} | {s for s, _, _, _ in spans} | {e for _, e, _, _ in spans})
        active: list[tuple[int, int, str]] = []  # (index in owners, end, owner)
        merged: list[tuple[Range, str]] = []
        i = 0
        for a, b in zip(points, points[1:]):
            while i < len(spans) and spans[i][0] <= a:
                s, e, idx, owner = spans[i]
                heapq.heappush(active, (idx, e, owner))
                i += 1
            while active and active[0][1] <= a:
                heapq.heappop(active)  # ended before this piece
            owner = active[0][2] if active else "unaccounted"
            if merged and merged[-1][1] == owner and merged[-1][0].end == a:
                merged[-1] = (Range(merged[-1][0].start, b), owner)
            else:
                merged.append((Range(a, b), owner))
        self.phases[name] = merged

    def check(self) -> None:
        """Conservation: in every phase each page has exactly one owner."""
        for name, owners in self.phases.items():
            pos = 0
            for r, o in owners:
                if r.start != pos:
                    raise LedgerError(f"phase {name}: pages {pos:#x}-{r.start - 1:#x} have no owner" if r.start > pos else f"phase {name}: {r} owned twice")
                if o == "unaccounted":
                    raise LedgerError(f"phase {name}: pages {r.start:#x}-{r.end - 1:#x} unaccounted")
                pos = r.end
            if pos != self.end_pfn:
                raise LedgerError(f"phase {name}: ends at {pos:#x}, not {self.end_pfn:#x}")

    def owners(self, phase: str, pfns: Range) -> list[tuple[Range, str]]:
        """Who owns ``pfns`` in ``phase``."""
        return [(r.intersect(pfns), o) for r, o in self.phases[phase] if r.overlaps(pfns)]  # type: ignore[misc]

    def pages_of(self, phase: str, owner_prefix: str) -> RangeSet:
        return RangeSet(r for r, o in self.phases[phase] if o.startswith(owner_prefix))

    def conflicts(self, phase: str, claim: str, owner_prefix: str) -> RangeSet:
        """Pages inside ``claim`` that ``phase`` gives to an owner starting with ``owner_prefix``."""
        c = self.claims.get(claim)
        if c is None:
            return RangeSet()
        return self.pages_of(phase, owner_prefix).intersect([c])
