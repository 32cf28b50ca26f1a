"""Facts about the chip vendor and the firms it finances: 5 (capital overhang, read from the firm panels:
:mod:`.overhang`) and 7 (circular financing inflates the vendor's boom and deepens its bust)."""

from __future__ import annotations

import numpy as np

from .common import PEAK_VENDOR_REVENUE, VENDOR_DRAWDOWN, FactRow, StoredStudy, directional_row, not_run
from .overhang import capital_overhang

NO_CIRCULAR = "no_circular_financing"
__all__ = ["NO_CIRCULAR", "capital_overhang", "circular_financing"]


def circular_financing(study: StoredStudy) -> list[FactRow]:
    """Fact 7: per seed, the reference scenario minus ``no_circular_financing`` of the vendor's peak 12-month revenue
    (US$bn/year, expected > 0) and of its market-cap drawdown (fraction, expected > 0); mean with a bootstrap
    interval over paired seeds."""
    reference = study.spec.scenarios[0]
    if NO_CIRCULAR not in study.spec.scenarios or reference == NO_CIRCULAR:
        return [not_run(7, f"study {study.name} does not compare {NO_CIRCULAR} with a reference scenario")]
    with_, without = (study.rows(s).set_index("seed") for s in (reference, NO_CIRCULAR))
    seeds = sorted(set(with_.index) & set(without.index))
    rows = []
    for outcome, label in ((PEAK_VENDOR_REVENUE, "peak 12-month Nvidia revenue (US$bn/year)"),
                           (VENDOR_DRAWDOWN, "Nvidia market-cap drawdown (fraction)")):
        diffs = (with_.loc[seeds, outcome].to_numpy(float) - without.loc[seeds, outcome].to_numpy(float))
        rows.append(directional_row(7, f"{label}: {reference} minus {NO_CIRCULAR}", diffs[np.isfinite(diffs)], +1,
                                    note=f"study {study.name}"))
    return rows
