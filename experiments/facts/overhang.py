"""Fact 5, capital overhang, read from the firm panels a study stores (``firms/<run_id>.parquet``,
:mod:`gpucredit.sim.reporting.firms`): the neoclouds that invested most in the boom cut hardest in the bust, and the
ones the vendor financed fail first (the telecom bust of 2001, when Lucent, Nortel and Cisco had lent to their
customers).

Boom and bust come from each run's own data, not from the calendar. The turning point is the month in which the
neoclouds' aggregate trailing-12-month GPU capex (US$bn, summed over the firm panel) peaks: the fact is about these
firms' investment, and Nvidia's revenue, whose peak dates the run's ``correction_month``
(:mod:`gpucredit.experiments.outcomes`), also carries the hyperscalers' purchases (in baseline runs the neoclouds
often spend more in the two years after Nvidia's revenue peaks than in the two years before). The **boom** is the :data:`BOOM_MONTHS` months up to and including it, the **bust** the :data:`BUST_MONTHS` months
after it (fewer if the run ends first; a run with fewer than :data:`MIN_BUST_MONTHS` months after its peak has no
bust to measure and is left out). Per firm operating at the start of the boom:

* **boom investment**: H100e delivered to it in the boom over the H100e it owned when the boom began (a ratio: the
  growth of its fleet; in US$bn the largest firms would rank first by size alone);
* **cut in the bust**: 1 - its monthly GPU capex (US$bn) in the bust over its monthly GPU capex in the boom (1: it
  stopped investing, 0: it kept its boom pace, negative: it spent faster); a firm that fails invests nothing after.
  Spending, not H100e: each new generation delivers more H100e per dollar, so H100e deliveries rise even where
  spending is cut;
* **Nvidia-financed**: when the boom began, Nvidia held at least :data:`VENDOR_STAKE` of its equity, backstopped its
  capacity or rented compute back from it;
* **failure month**: the month it defaulted, if it did by the end of the run.

Statistics, each with a 95% bootstrap interval over seeds (:mod:`.common`): (i) the Spearman rank correlation across
firms of boom investment and cut, median over runs, expected > 0; (ii) the share of Nvidia-financed firms that fail
minus the share of the others, mean over runs, expected > 0; (iii) among firms that fail, the mean failure month of
Nvidia-financed ones minus the others', mean over runs with failures in both groups, expected < 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .common import FactRow, StoredStudy, directional_row, not_run

BOOM_MONTHS = 24       # the boom: the 24 months to the turning point, the peak month included
BUST_MONTHS = 24       # the bust: up to 24 months after it
MIN_BUST_MONTHS = 12   # fewer months after the peak: no bust to measure in that run
MIN_FIRMS = 5          # firms with a boom investment and a cut needed for a rank correlation in one run
# Nvidia's stake in CoreWeave was about 6% before CoreWeave's listing (CoreWeave Form S-1, March 2025): a stake at
# least this large, a capacity backstop or a rent-back makes a firm Nvidia-financed
VENDOR_STAKE = 0.05
OLD_STUDY = ("was stored before gpucredit kept firm panels (no firms/ folder): run the fact again into a new --out "
             "directory (gpucredit facts --only 5 --out NEW_DIR)")


def turning_point(panel: pd.DataFrame, months: int) -> int:
    """The month the neoclouds' aggregate trailing-12-month GPU capex peaks, in a run of ``months`` months."""
    from ..outcomes import peak_and_trough, trailing_12m

    capex = panel.groupby("month")["gpu_capex"].sum().reindex(range(months), fill_value=0.0)
    return peak_and_trough(trailing_12m(capex.to_numpy(float)))[0]


def firm_cycle(panel: pd.DataFrame, peak: int, months: int) -> pd.DataFrame:
    """One row per neocloud operating at the start of the boom: ``boom_investment`` (ratio), ``cut`` (fraction),
    ``financed`` (bool) and ``failed_month`` (months since 2023-01, NaN if it did not fail), for a run of ``months``
    months whose turning point is ``peak``."""
    start, end = max(0, peak - BOOM_MONTHS + 1), min(months - 1, peak + BUST_MONTHS)
    first = panel[(panel["month"] == start) & (panel["failed"] == 0)].set_index("firm")
    rows = panel[panel["firm"].isin(first.index) & (panel["month"] >= start)]
    in_boom, in_bust = rows[rows["month"] <= peak], rows[(rows["month"] > peak) & (rows["month"] <= end)]

    def total(part: pd.DataFrame, column: str) -> pd.Series:
        return part.groupby("firm", observed=True)[column].sum().reindex(first.index, fill_value=0.0)

    failures = rows[rows["failed"] == 1].groupby("firm", observed=True)["month"].min()
    fleet = first["h100e"] - first["new_h100e"]  # owned when the boom began, before that month's deliveries
    boom_rate = total(in_boom, "gpu_capex") / (peak - start + 1)  # US$bn/month
    bust_rate = total(in_bust, "gpu_capex") / max(1, end - peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "boom_investment": np.where(fleet > 0, total(in_boom, "new_h100e") / fleet, np.nan),
            "cut": np.where(boom_rate > 0, 1.0 - bust_rate / boom_rate, np.nan),
            "financed": (first["nvidia_stake"] >= VENDOR_STAKE) | (first["nvidia_backstop"] == 1)
                        | (first["nvidia_rent_back"] == 1),
            "failed_month": failures.reindex(first.index).astype(float)}, index=first.index)
    return out


def overhang_correlation(cycle: pd.DataFrame) -> float:
    """Spearman rank correlation across firms of boom investment and cut (NaN with fewer than :data:`MIN_FIRMS`
    firms or no variation)."""
    from scipy import stats

    x = cycle[["boom_investment", "cut"]].dropna()
    if len(x) < MIN_FIRMS or x["boom_investment"].nunique() < 2 or x["cut"].nunique() < 2:
        return math.nan
    return float(stats.spearmanr(x["boom_investment"], x["cut"]).statistic)


def failure_gap(cycle: pd.DataFrame) -> tuple[float, float]:
    """(share of Nvidia-financed firms that failed minus share of the others, mean failure month of the financed
    firms that failed minus the others'); NaN where a group is empty."""
    financed, others = cycle[cycle["financed"]], cycle[~cycle["financed"]]
    if financed.empty or others.empty:
        return math.nan, math.nan
    share = financed["failed_month"].notna().mean() - others["failed_month"].notna().mean()
    a, b = financed["failed_month"].dropna(), others["failed_month"].dropna()
    return float(share), float(a.mean() - b.mean()) if len(a) and len(b) else math.nan


def run_cycles(study: StoredStudy, scenario: str) -> tuple[dict[int, pd.DataFrame], int, int]:
    """seed -> firm cycle of every run with a bust to measure; the runs left out (peak too late) and the runs
    without a firm panel."""
    cycles, too_late, missing = {}, 0, 0
    for row in study.rows(scenario).itertuples():
        panel = study.firms(row.run_id)
        if panel is None:
            missing += 1
            continue
        months = study.spec.months or int(panel["month"].max()) + 1
        peak = turning_point(panel, months)
        if months - 1 - peak < MIN_BUST_MONTHS:
            too_late += 1
            continue
        cycles[int(row.seed)] = firm_cycle(panel, peak, months)
    return cycles, too_late, missing


def capital_overhang(study: StoredStudy | None) -> list[FactRow]:
    """Fact 5 from a stored study (its first scenario): the three statistics of the module docstring."""
    if study is None:
        return [not_run(5, "needs the study fact5_overhang (gpucredit facts --only 5)")]
    scenario = study.spec.scenarios[0]
    cycles, too_late, missing = run_cycles(study, scenario)
    if missing and not cycles:
        return [not_run(5, f"study {study.name} {OLD_STUDY}")]
    return overhang_rows(cycles, f"study {study.name}, scenario {scenario}; {too_late} run(s) left out: fewer than "
                                 f"{MIN_BUST_MONTHS} months after the peak" + (f"; {missing} run(s) without a firm "
                                                                                 f"panel" if missing else ""))


def overhang_rows(cycles: dict[int, pd.DataFrame], where: str) -> list[FactRow]:
    """The three rows of fact 5 from each seed's firm cycle."""
    seeds = sorted(cycles)
    rho = [overhang_correlation(cycles[s]) for s in seeds]
    gaps = [failure_gap(cycles[s]) for s in seeds]
    firms = np.mean([len(c) for c in cycles.values()]) if cycles else 0.0
    financed = np.mean([c["financed"].mean() for c in cycles.values()]) if cycles else math.nan
    failed = np.mean([c["failed_month"].notna().mean() for c in cycles.values()]) if cycles else math.nan
    note = (f"{where}; per run on average {firms:.1f} firms at the start of the boom, {financed:.0%} of them "
            f"Nvidia-financed, {failed:.0%} failed by the end of the run")
    window = f"boom: {BOOM_MONTHS} months to the peak of the neoclouds' 12-month GPU capex; bust: {BUST_MONTHS} months after"
    return [
        directional_row(5, f"Spearman rank correlation across neoclouds: boom investment (H100e delivered / fleet at "
                           f"the boom's start) vs cut in the bust (1 - bust / boom delivery rate); median over runs "
                           f"({window})", rho, +1, statistic=np.median, note=note),
        directional_row(5, f"share of neoclouds that fail by the run's end, Nvidia-financed (stake >= "
                           f"{VENDOR_STAKE:.0%}, backstop or rent-back at the boom's start) minus others (fraction)",
                        [g[0] for g in gaps], +1, note=note),
        directional_row(5, "mean failure month, Nvidia-financed minus other failed neoclouds (months; runs with "
                           "failures in both groups)", [g[1] for g in gaps], -1, note=note),
    ]
