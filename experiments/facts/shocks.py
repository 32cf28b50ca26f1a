"""Facts read from paired runs with and without a dated shock (the same seed in both: common random numbers):
3 (fire sales amplify an initial loss, differently under strict and forbearing lenders) and 6 (the collateral
channel of a default). The shocks are scheduled by the scenario files named below (experiments/scenarios/)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .common import (DEBT_IN_DEFAULT, DEFAULTS, FLEET_GAP, LENDER_LOSSES, SPREAD_IG, SPREAD_NON_IG, USED_GPU_PRICE,
                     FactRow, StoredStudy, bootstrap, directional_row, not_run, verdict, BOOTSTRAP_DRAWS)

PRICE_SHOCK = "fact_used_gpu_price_drop"     # a dated fall of the used-GPU quote
DEFAULT_SHOCK = "fact_neocloud_default"      # a dated forced default of a named neocloud
LOSS_MONTHS = 24                             # fact 3: months over which final losses are counted, from the shock on
AFTER_DEFAULT = (6, 12)                      # fact 6: months after the default, [first, last) -> months 6 to 11
BP = 1e4                                     # basis points per unit of a rate (fraction/year)


def shock_of(scenario: str) -> tuple[int, str, str]:
    """(month index since 2023-01, kind, YYYY-MM) of the first dated shock of a scenario."""
    from gpucredit.sim.calendar import month_label
    from gpucredit.sim.scenarios import load_scenario

    shocks = load_scenario(scenario).shocks
    if not shocks:
        raise ValueError(f"scenario {scenario} schedules no shock")
    return shocks[0].month, shocks[0].kind, month_label(shocks[0].month)


def pairs(study: StoredStudy, shocked: str, reference: str) -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """(seed, reference run, shocked run) for every seed with both runs stored."""
    base, hit = study.series_by_seed(reference), study.series_by_seed(shocked)
    return [(s, base[s], hit[s]) for s in sorted(set(base) & set(hit))]


def _delta(base: pd.DataFrame, hit: pd.DataFrame, column: str) -> np.ndarray:
    return hit[column].to_numpy(float) - base[column].to_numpy(float)


# ====================================================================================================
# fact 3: amplification
# ====================================================================================================
def initial_loss(base: pd.DataFrame, hit: pd.DataFrame, t0: int, kind: str) -> float:
    """The direct loss on impact (US$bn): for a price drop, the fall in the market value of the installed GPUs in
    the shock month (the paired rise of book minus market value); for a forced default, the principal that
    defaulted in that month beyond the reference run's."""
    column = FLEET_GAP if kind == "used_gpu_price_drop" else DEBT_IN_DEFAULT
    return float(_delta(base, hit, column)[t0])


def final_loss(base: pd.DataFrame, hit: pd.DataFrame, t0: int, months: int = LOSS_MONTHS) -> tuple[float, int]:
    """(final losses in US$bn, months counted): the paired excess credit losses of the lenders summed over the
    shock month and the following months, plus the largest paired fall in the market value of the installed GPUs
    in any month after the shock month (losses of the GPUs' holders, at least 0). Counted over ``months`` months
    or up to the end of the run."""
    end = min(len(base), t0 + months)
    credit = float(_delta(base, hit, LENDER_LOSSES)[t0:end].sum())
    later = _delta(base, hit, FLEET_GAP)[t0 + 1:end]
    holders = max(0.0, float(later.max())) if later.size else 0.0
    return credit + holders, end - t0


def amplification(study: StoredStudy, shocked: str) -> tuple[dict[int, tuple[float, float]], int, str]:
    """seed -> (initial, final) for the seeds whose shock did hit (initial > 0), months counted, shock date."""
    t0, kind, date = shock_of(shocked)
    out, counted = {}, 0
    for seed, base, hit in pairs(study, shocked, study.spec.scenarios[0]):
        if len(base) <= t0:
            continue
        initial = initial_loss(base, hit, t0, kind)
        if initial > 1e-9:
            final, counted = final_loss(base, hit, t0)
            out[seed] = (initial, final)
    return out, counted, date


def ratio_of_sums(initial: np.ndarray, final: np.ndarray) -> float:
    total = initial.sum()
    return float(final.sum() / total) if total > 0 else math.nan


def ratio_row(study: StoredStudy, shocked: str, what: str) -> FactRow:
    """Final over initial losses, summed over seeds (a ratio of sums: robust to seeds with a tiny initial loss)."""
    if shocked not in study.spec.scenarios:
        return FactRow(3, f"final / initial losses, {what}", note=f"study {study.name} lacks scenario {shocked}")
    pairs_, months, date = amplification(study, shocked)
    if not pairs_:
        return FactRow(3, f"final / initial losses, {what} ({date})", verdict="inconclusive",
                       note=f"study {study.name}: the shock hit no run (after the horizon, or the firm had exited)")
    initial, final = (np.array([p[k] for p in pairs_.values()]) for k in (0, 1))
    value, low, high = bootstrap((initial, final), ratio_of_sums)
    return FactRow(3, f"final / initial losses, {what} ({date}; {months} months)", value, low, high,
                   len(pairs_), verdict(low, high, +1, 1.0, len(pairs_)), "> 1",
                   f"sum over seeds of final / of initial losses; 95% paired bootstrap ({BOOTSTRAP_DRAWS} draws)",
                   f"study {study.name}: initial US${initial.sum() / len(initial):.3g}bn, final "
                   f"US${final.sum() / len(final):.3g}bn per run on average")


def reaction_row(strict: StoredStudy, forbearing: StoredStudy, shocked: str, what: str) -> FactRow:
    """How the amplification depends on the lenders' reaction: the ratio under forbearing lenders minus under
    strict ones, over the seeds present in both studies (the same seeds: the studies share their root seed)."""
    a, months, date = amplification(forbearing, shocked)
    b, _, _ = amplification(strict, shocked)
    seeds = sorted(set(a) & set(b))
    label = f"final / initial losses, {what} ({date}): forbearing minus strict lenders"
    if not seeds:
        return FactRow(3, label, verdict="inconclusive", note="the shock hit no run in both studies")
    arrays = tuple(np.array([d[s][k] for s in seeds]) for d in (a, b) for k in (0, 1))
    value, low, high = bootstrap(arrays, lambda i1, f1, i2, f2: ratio_of_sums(i1, f1) - ratio_of_sums(i2, f2))
    return FactRow(3, label, value, low, high, len(seeds), verdict(low, high, 0, 0.0, len(seeds)), "!= 0",
                   f"difference of ratios of sums; 95% paired bootstrap over seeds ({BOOTSTRAP_DRAWS} draws)",
                   f"forbearing ({forbearing.name}) {ratio_of_sums(*arrays[:2]):.3g}, strict ({strict.name}) "
                   f"{ratio_of_sums(*arrays[2:]):.3g}")


def fire_sales(main: StoredStudy, strict: StoredStudy | None = None,
               forbearing: StoredStudy | None = None) -> list[FactRow]:
    """Fact 3: final over initial losses after a used-GPU price drop and after a forced default (expected > 1),
    and the difference between forbearing and strict lenders (expected != 0)."""
    shocks = ((PRICE_SHOCK, "used-GPU price drop"), (DEFAULT_SHOCK, "forced neocloud default"))
    rows = [ratio_row(main, shocked, what) for shocked, what in shocks]
    for shocked, what in shocks:
        if strict is None or forbearing is None:
            rows.append(not_run(3, "needs the studies under strict and forbearing lenders"))
        else:
            rows.append(reaction_row(strict, forbearing, shocked, what))
    return rows


# ====================================================================================================
# fact 6: the collateral channel
# ====================================================================================================
def window_mean(x: np.ndarray, t0: int) -> float:
    first, last = t0 + AFTER_DEFAULT[0], t0 + AFTER_DEFAULT[1]
    return float(np.mean(x[first:last])) if len(x) >= last else math.nan


def collateral_channel(study: StoredStudy, shocked: str = DEFAULT_SHOCK) -> list[FactRow]:
    """Fact 6: in months 6 to 11 after a forced default, the paired differences (default minus none) of the
    used-H100 price (percent, expected < 0) and of the spreads on new non-investment-grade and investment-grade
    lending (basis points, expected > 0). Seeds whose named firm had already exited are left out."""
    if shocked not in study.spec.scenarios:
        return [not_run(6, f"study {study.name} lacks scenario {shocked}")]
    t0, _, date = shock_of(shocked)
    price, non_ig, ig, missed = [], [], [], 0
    for seed, base, hit in pairs(study, shocked, study.spec.scenarios[0]):
        if len(base) <= t0 or _delta(base, hit, DEFAULTS)[t0] < 1:
            missed += 1
            continue
        p_base = base[USED_GPU_PRICE].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(p_base > 0, _delta(base, hit, USED_GPU_PRICE) / p_base, np.nan)
        price.append(100.0 * window_mean(rel, t0))
        non_ig.append(BP * window_mean(_delta(base, hit, SPREAD_NON_IG), t0))
        ig.append(BP * window_mean(_delta(base, hit, SPREAD_IG), t0))
    months = f"months {AFTER_DEFAULT[0]}-{AFTER_DEFAULT[1] - 1} after the {date} default"
    note = f"study {study.name}" + (f"; {missed} seed(s) left out: no forced default (firm gone or after the horizon)"
                                    if missed else "")
    return [directional_row(6, f"used-H100 price, default minus none, % ({months})", price, -1, note=note),
            directional_row(6, f"non-IG loan spread, default minus none, bp ({months})", non_ig, +1,
                            note=note),
            directional_row(6, f"IG-backed loan spread, default minus none, bp ({months})", ig, +1,
                            note=note)]
