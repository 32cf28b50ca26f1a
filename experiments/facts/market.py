"""Facts about leverage and the cycle, read from studies without shocks: 1 (leverage fattens and clusters return
tails), 2 (procyclical leverage and LTV) and 4 (a critical leverage for crises)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .common import (CRISIS, EQUITY_VALUE, FAILS, GPU_LENDING, HOLDS, INCONCLUSIVE, LENDER_LEVERAGE, MAX_LTV,
                     MIN_SEEDS, ORIGINATION_LTV, SENTIMENT, USED_GPU_PRICE, FactRow, StoredStudy, directional_row,
                     not_run, verdict)

MIN_RETURNS = 12            # months of returns a run needs for a kurtosis or an autocorrelation
MIN_LENDING_BN = 0.05       # US$bn: months with less GPU-backed lending are not a credit market (as outcomes.py)
MIN_CYCLE_MONTHS = 12       # months a run needs for a correlation with the cycle
GROWTH_MONTHS = 12          # lending growth over this many months (log change) as the second cycle measure


# ====================================================================================================
# fact 1: leverage and the tails of returns
# ====================================================================================================
def log_returns(prices) -> np.ndarray:
    """Monthly log returns over the months with a positive price (a used H100 is worth 0 once scrapped)."""
    x = np.asarray(prices, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    return np.diff(np.log(x))


def excess_kurtosis(returns) -> float:
    """Sample excess kurtosis (0 for a normal distribution; bias-corrected), NaN with too few or constant returns."""
    from scipy import stats

    r = np.asarray(returns, dtype=float)
    if r.size < MIN_RETURNS or np.std(r) == 0:
        return math.nan
    return float(stats.kurtosis(r, fisher=True, bias=False))


def volatility_clustering(returns) -> float:
    """Lag-1 autocorrelation of absolute returns (0 without clustering), NaN with too few or constant returns."""
    a = np.abs(np.asarray(returns, dtype=float))
    if a.size < MIN_RETURNS or np.std(a[:-1]) == 0 or np.std(a[1:]) == 0:
        return math.nan
    return float(np.corrcoef(a[:-1], a[1:])[0, 1])


def tails_and_clustering(study: StoredStudy, scenario: str | None = None) -> list[FactRow]:
    """Fact 1: per seed, excess kurtosis and volatility clustering of monthly log returns of the used-H100 price
    and of the equity value at the highest level of ``lenders.max_ltv`` minus the same at the lowest (the same
    seed at both: common random numbers); mean over seeds with a bootstrap interval, expected > 0."""
    levels = sorted(study.plan[MAX_LTV].astype(float).unique()) if MAX_LTV in study.plan else []
    if len(levels) < 2:
        return [not_run(1, f"study {study.name} does not vary {MAX_LTV}")]
    scenario = scenario or study.spec.scenarios[0]
    low, high = (study.series_by_seed(scenario, **{MAX_LTV: lv}) for lv in (levels[0], levels[-1]))
    seeds = sorted(set(low) & set(high))
    rows = []
    for column, what in ((USED_GPU_PRICE, "used-H100 price"), (EQUITY_VALUE, "Nvidia equity value")):
        for measure, name in ((excess_kurtosis, "excess kurtosis"), (volatility_clustering, "lag-1 autocorr. of |r|")):
            diffs = [measure(log_returns(high[s][column])) - measure(log_returns(low[s][column])) for s in seeds]
            rows.append(directional_row(1, f"{name}, monthly log returns r of the {what}: max LTV {levels[-1]:g} "
                                           f"minus {levels[0]:g}", diffs, +1,
                                        note=f"study {study.name}, scenario {scenario}; paired seeds"))
    return rows


# ====================================================================================================
# fact 2: procyclical leverage and LTV
# ====================================================================================================
def cycle_correlation(df: pd.DataFrame, column: str, cycle: str) -> float:
    """Pearson correlation over time of ``column`` with the cycle measure (``sentiment``, or the 12-month log
    growth of GPU-backed lending: ``lending_growth``) over the months with a credit market; NaN if either is flat."""
    live = df[df[GPU_LENDING] >= MIN_LENDING_BN]
    if cycle == "lending_growth":
        lending = df[GPU_LENDING].to_numpy(float)
        growth = np.full(len(df), np.nan)
        ok = (lending[GROWTH_MONTHS:] > 0) & (lending[:-GROWTH_MONTHS] > 0)
        growth[GROWTH_MONTHS:][ok] = np.log(lending[GROWTH_MONTHS:][ok] / lending[:-GROWTH_MONTHS][ok])
        cyc = pd.Series(growth, index=df.index)[live.index]
    else:
        cyc = live[cycle]
    pair = pd.DataFrame({"x": live[column].astype(float), "c": cyc.astype(float)}).dropna()
    if len(pair) < MIN_CYCLE_MONTHS or pair["x"].std() == 0 or pair["c"].std() == 0:
        return math.nan
    return float(np.corrcoef(pair["x"], pair["c"])[0, 1])


def procyclicality(study: StoredStudy, scenario: str | None = None) -> list[FactRow]:
    """Fact 2: per run, the correlation over time of lender leverage and of origination LTV with the cycle
    (sentiment; 12-month growth of GPU-backed lending); median over runs with a bootstrap interval, expected > 0."""
    scenario = scenario or study.spec.scenarios[0]
    frames = study.series_by_seed(scenario)
    rows = []
    for column, what in ((LENDER_LEVERAGE, "lender leverage"), (ORIGINATION_LTV, "origination LTV")):
        for cycle, label in ((SENTIMENT, "sentiment"), ("lending_growth", "12-month GPU-lending growth")):
            rhos = [cycle_correlation(df, column, cycle) for df in frames.values()]
            flat = sum(not math.isfinite(r) for r in rhos)
            rows.append(directional_row(2, f"corr({what}, {label}) over months, median over runs",
                                        rhos, +1, statistic=np.median,
                                        note=f"study {study.name}, scenario {scenario}"
                                             + (f"; {flat} run(s) without variation left out" if flat else "")))
    return rows


# ====================================================================================================
# fact 4: a critical leverage
# ====================================================================================================
def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def logistic_slope(ltv: np.ndarray, crisis: np.ndarray) -> tuple[float, float, float]:
    """Slope (log-odds of a crisis per unit of max LTV) of a logistic regression and its 95% Wald interval; NaNs
    when it cannot be estimated (no variation in crises, or perfect separation)."""
    import warnings

    import statsmodels.api as sm

    if crisis.min() == crisis.max():
        return math.nan, math.nan, math.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(crisis, sm.add_constant(ltv)).fit(disp=0, maxiter=200)
        low, high = fit.conf_int(alpha=0.05)[1]
        slope = float(fit.params[1])
    except Exception:  # statsmodels raises on perfect separation and singular designs
        return math.nan, math.nan, math.nan
    if not all(map(math.isfinite, (slope, low, high))) or abs(slope) > 1e3:
        return math.nan, math.nan, math.nan
    return slope, float(low), float(high)


def fisher_extremes(by_level: pd.DataFrame) -> tuple[float, float]:
    """One-sided Fisher exact p-values of more (and of fewer) crises at the highest level than at the lowest."""
    from scipy import stats

    (c_low, n_low), (c_high, n_high) = by_level.iloc[0], by_level.iloc[-1]
    table = [[c_high, n_high - c_high], [c_low, n_low - c_low]]
    return (float(stats.fisher_exact(table, alternative="greater").pvalue),
            float(stats.fisher_exact(table, alternative="less").pvalue))


def critical_leverage(study: StoredStudy) -> list[FactRow]:
    """Fact 4: crisis probability at each level of ``lenders.max_ltv`` (Wilson intervals); the logistic slope of the
    crisis flag on max LTV with its interval (expected > 0), or, when the logistic fit is impossible, Fisher's exact
    test of the highest level against the lowest; the first level whose probability reaches 50%."""
    if MAX_LTV not in study.plan or study.plan[MAX_LTV].nunique() < 2:
        return [not_run(4, f"study {study.name} does not vary {MAX_LTV}")]
    data = study.rows()
    data = data[np.isfinite(data[CRISIS].astype(float))]
    by_level = data.groupby(MAX_LTV)[CRISIS].agg(["sum", "count"]).astype(int)
    levels = []
    for level, (k, n) in by_level.iterrows():
        lo, hi = wilson(k, n)
        levels.append(f"{level:g}: {k}/{n} = {k / n:.0%} [{lo:.0%}, {hi:.0%}]")
    share = by_level["sum"] / by_level["count"]
    critical = next((level for level, p in share.items() if p >= 0.5), None)
    p_more, p_less = fisher_extremes(by_level)
    slope, low, high = logistic_slope(data[MAX_LTV].to_numpy(float), data[CRISIS].to_numpy(float))
    note = (f"P(crisis) by max LTV (Wilson 95%): {'; '.join(levels)}. "
            + (f"First level with P >= 50%: {critical:g}. " if critical is not None else "No level reaches 50%. ")
            + f"Fisher exact, highest vs lowest level: p(more) = {p_more:.3g}, p(fewer) = {p_less:.3g}. "
            + f"Study {study.name}")
    if math.isfinite(slope):
        return [FactRow(4, "logistic slope of the crisis flag on lenders.max_ltv (log-odds per unit LTV)", slope, low,
                        high, len(data), verdict(low, high, +1, 0.0, len(data)), "> 0",
                        "logit maximum likelihood, 95% Wald interval", note)]
    result = (INCONCLUSIVE if len(data) < MIN_SEEDS else HOLDS if p_more < 0.05 else FAILS if p_less < 0.05
              else INCONCLUSIVE)
    diff = share.iloc[-1] - share.iloc[0]
    return [FactRow(4, f"crisis probability at max LTV {share.index[-1]:g} minus at {share.index[0]:g} "
                       f"(logistic slope not estimable)", float(diff), math.nan, math.nan, len(data), result, "> 0",
                    "Fisher exact test, one-sided, 5% level (no interval)", note)]


__all__ = ["tails_and_clustering", "procyclicality", "critical_leverage", "log_returns", "excess_kurtosis",
           "volatility_clustering", "cycle_correlation", "logistic_slope", "wilson"]
