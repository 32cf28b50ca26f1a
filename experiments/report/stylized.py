"""The stylized-fact experiments the report can evaluate from its studies, each with its statistic and a verdict.

A verdict is ``consistent`` or ``not consistent`` with the expected direction only when the statistic's uncertainty
excludes the other answer; otherwise ``inconclusive``. Facts whose experiment the report's studies do not contain,
or that this report does not implement, are listed as ``not run`` with what they need. Nothing is forced: the
verdicts are read off the simulated runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .document import num, p_is, pct
from .results import StudyData

CIRCULAR_SCENARIO = "no_circular_financing"
LTV = "lenders.max_ltv"


@dataclass
class FactResult:
    number: int
    claim: str
    source: str
    statistic: str
    verdict: str


def procyclical_ltv(frames: list[pd.DataFrame]) -> FactResult:
    """Fact 2: the origination LTV lenders offer moves with sentiment (Pearson correlation per run, over the months
    with at least US$0.05bn of GPU-backed lending); sign test over runs."""
    from scipy import stats

    claim = "Lender leverage and LTV are procyclical: origination LTV rises with sentiment"
    source = "Adrian and Shin (2010); Geanakoplos (2009)"
    rhos = []
    for df in frames:
        live = df[df["gpu_backed_lending"] >= 0.05]
        x, y = live["origination_ltv"].to_numpy(float), live["sentiment"].to_numpy(float)
        if len(x) >= 6 and np.std(x) > 0 and np.std(y) > 0:
            rhos.append(float(np.corrcoef(x, y)[0, 1]))
    if not rhos:
        return FactResult(2, claim, source, "origination LTV or sentiment does not vary in any run", "inconclusive")
    positive = sum(r > 0 for r in rhos)
    p = float(stats.binomtest(positive, len(rhos), 0.5).pvalue)
    median = float(np.median(rhos))
    verdict = ("consistent" if median > 0 and p < 0.05 else "not consistent" if median < 0 and p < 0.05
               else "inconclusive")
    text = (f"corr(origination_ltv, sentiment): median {median:+.2f} over {len(rhos)} runs, positive in {positive}; "
            f"sign test {p_is(p)}")
    return FactResult(2, claim, source, text, verdict)


def critical_leverage(study: StudyData) -> FactResult:
    """Fact 4: the crisis probability across the levels of ``lenders.max_ltv`` of a grid study (over the other
    factors' levels and the seeds); Fisher's exact test of more crises at the highest level than at the lowest."""
    from scipy import stats

    claim = "A critical leverage above which default cascades appear"
    source = "Caccioli et al. (2014)"
    data = study.plan[["run_id", LTV]].merge(study.ok[["run_id", "crisis"]], on="run_id")
    by_level = data.groupby(LTV)["crisis"].agg(["sum", "count"])
    if by_level.empty:
        return FactResult(4, claim, source, "no successful run", "inconclusive")
    share = by_level["sum"] / by_level["count"]
    (c_low, n_low), (c_high, n_high) = by_level.iloc[0], by_level.iloc[-1]
    table = [[c_high, n_high - c_high], [c_low, n_low - c_low]]
    p_more = float(stats.fisher_exact(table, alternative="greater").pvalue)
    p_less = float(stats.fisher_exact(table, alternative="less").pvalue)
    critical = next((level for level, p in share.items() if p >= 0.5), None)
    text = (f"crisis probability {pct(share.iloc[0], 0)} of {int(n_low)} runs at max LTV {share.index[0]:g}, "
            f"{pct(share.iloc[-1], 0)} of {int(n_high)} at {share.index[-1]:g} (Fisher exact, one-sided, "
            f"{p_is(p_more)}); " + (f"first level with probability >= 50%: {critical:g}" if critical is not None
                                    else "no level reaches 50%") + f" ({study.spec.name})")
    verdict = "consistent" if p_more < 0.05 else "not consistent" if p_less < 0.05 else "inconclusive"
    return FactResult(4, claim, source, text, verdict)


def circular_financing(comparison: pd.DataFrame, reference: str) -> FactResult:
    """Fact 7: without circular financing, Nvidia's peak revenue is lower and its drawdown shallower (paired
    differences with 95% confidence intervals)."""
    claim = "Circular financing inflates the vendor's boom revenue and deepens its drawdown in the bust"
    source = f"tested against {CIRCULAR_SCENARIO}"
    rows = comparison[comparison["scenario"] == CIRCULAR_SCENARIO].set_index("outcome")
    parts, signs = [], []
    for outcome, label, fmt in (("peak_nvidia_revenue_12m", "peak Nvidia revenue (US$bn/yr)", num),
                                ("market_cap_drawdown", "Nvidia market-cap drawdown (fraction)", num)):
        r = rows.loc[outcome]
        parts.append(f"{label}: {fmt(r['diff_mean'])} [{fmt(r['diff_ci_low'])}, {fmt(r['diff_ci_high'])}]")
        signs.append(-1 if r["diff_ci_high"] < 0 else 1 if r["diff_ci_low"] > 0 else 0)
    verdict = ("consistent" if signs == [-1, -1] else "not consistent" if 1 in signs else "inconclusive")
    text = f"{CIRCULAR_SCENARIO} minus {reference}, paired mean [95% CI]: " + "; ".join(parts)
    return FactResult(7, claim, source, text, verdict)


NOT_RUN = {
    1: ("Higher permitted leverage gives fatter-tailed, more clustered GPU-price and equity returns",
        "Thurner, Farmer and Geanakoplos (2012)",
        "needs return kurtosis and volatility clustering across a sweep of lenders.max_ltv; not implemented here"),
    3: ("Fire sales amplify: final losses over the initial shock exceed 1",
        "Bookstaber et al. (2018); Cont and Schaanning (2017)",
        "needs a controlled initial shock and loss accounting per round; not implemented here"),
    5: ("Capital overhang: the firms that invested most cut hardest; vendor-financed entrants fail first",
        "telecom 2001 (Lucent, Nortel, Cisco vendor loans)",
        "needs agent balance sheets and event logs, which studies do not store; not implemented here"),
    6: ("Collateral channel: a default lowers rivals' collateral values and raises their borrowing costs",
        "Benmelech and Bergman (2011)",
        "needs an event study around default events, which studies do not store; not implemented here"),
}


def evaluate(main: StudyData, comparison: pd.DataFrame, frames: list[pd.DataFrame],
             others: list[StudyData]) -> list[FactResult]:
    """Every stylized fact: evaluated where the studies allow it, otherwise ``not run`` with the reason."""
    results = {2: procyclical_ltv(frames)}
    if CIRCULAR_SCENARIO in main.spec.scenarios and main.spec.scenarios[0] != CIRCULAR_SCENARIO:
        results[7] = circular_financing(comparison, main.spec.scenarios[0])
    grid = next((s for s in others if s.spec.design == "grid" and LTV in s.spec.factor_names), None)
    if grid is not None:
        results[4] = critical_leverage(grid)
    missing = {4: ("A critical leverage above which default cascades appear", "Caccioli et al. (2014)",
                   f"needs a grid study over {LTV} (e.g. the shipped phase_ltv_cadence); none in this report"),
               7: ("Circular financing inflates the vendor's boom revenue and deepens its drawdown in the bust",
                   "the source material's claim",
                   f"needs the scenario {CIRCULAR_SCENARIO} in the main study; not in this report")}
    for number, (claim, source, reason) in {**NOT_RUN, **missing}.items():
        results.setdefault(number, FactResult(number, claim, source, reason, "not run"))
    return [results[k] for k in sorted(results)]
