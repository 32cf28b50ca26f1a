"""The stylized facts in the report: the fact experiments of :mod:`gpucredit.experiments.facts`, read from the
report's studies.

A fact is evaluated when the report names its study (e.g. ``studies = ["fact2_procyclical", "fact4_critical_leverage",
"fact6_collateral"]``; see ``gpucredit facts`` and experiments/studies/fact*.toml). Without them, four facts are
still read from studies the report has anyway: 2 and 5 from the main study's reference scenario (5 from its firm
panels), 4 from a grid study over ``lenders.max_ltv`` (e.g. phase_ltv_cadence), 7 from the main study when it
includes ``no_circular_financing``.
Every other fact is listed as ``not run`` with what it needs. Verdicts (holds / fails / inconclusive) follow the
facts package's rule; nothing is forced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..facts import CLAIMS, FACTS, NOT_RUN, FactRow, StoredStudy, fact_verdict
from ..facts.common import MAX_LTV
from ..facts.market import critical_leverage, procyclicality
from ..facts.runner import evaluate_fact
from ..facts.vendor import NO_CIRCULAR, capital_overhang, circular_financing
from .document import num
from .results import StudyData


@dataclass
class FactResult:
    number: int
    claim: str
    source: str
    statistic: str
    verdict: str


def statistic_text(rows: list[FactRow]) -> str:
    """One fact's statistics as text: each label, value, 95% interval, n and verdict (or why it was not run)."""
    parts = []
    for r in rows:
        if r.verdict == NOT_RUN or not math.isfinite(r.value):
            parts.append(f"{r.label}: {r.note}" if r.label != CLAIMS[r.fact].text else r.note)
            continue
        interval = (f" [{num(r.ci_low)}, {num(r.ci_high)}]" if math.isfinite(r.ci_low) and math.isfinite(r.ci_high)
                    else "")
        parts.append(f"{r.label}: {num(r.value)}{interval}, n = {r.n}, {r.verdict}")
    return "; ".join(parts)


def _fallback(number: int, main: StoredStudy, others: list[StoredStudy]) -> list[FactRow] | None:
    """Facts 2, 4, 5 and 7 from the report's usual studies when it names no fact study for them."""
    if number == 2:
        return procyclicality(main)
    if number == 5:
        return capital_overhang(main)
    if number == 4:
        grid = next((s for s in others if s.spec.design == "grid" and MAX_LTV in s.spec.factor_names), None)
        return critical_leverage(grid) if grid is not None else None
    if number == 7 and NO_CIRCULAR in main.spec.scenarios[1:]:
        return circular_financing(main)
    return None


def evaluate(main: StudyData, others: list[StudyData]) -> list[FactResult]:
    """Every stylized fact: evaluated where the report's studies allow it, otherwise ``not run`` with the reason."""
    stored_main = StoredStudy.open(main.directory)
    stored_others = [StoredStudy.open(s.directory) for s in others]
    studies = {s.name: s for s in (stored_main, *stored_others)}
    results = []
    for number in FACTS:
        rows = evaluate_fact(number, studies)
        if all(r.verdict == NOT_RUN for r in rows):
            rows = _fallback(number, stored_main, stored_others) or rows
        claim = CLAIMS[number]
        results.append(FactResult(number, claim.text, claim.source, statistic_text(rows), fact_verdict(rows)))
    return results
