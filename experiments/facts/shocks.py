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


def loss_paths(base: pd.DataFrame, hit: pd.DataFrame, t0: int, months: int = LOSS_MONTHS) -> tuple[float, np.ndarray]:
    """The two parts of one seed's final losses over ``months`` months from the shock (or to the end of the run):
    the lenders' paired excess credit losses summed over the shock month and the following months (US$bn), and the
    path of the paired fall in the market value of the installed GPUs in each month after the shock month (US$bn,
    the paired rise of book minus market value: the losses of the GPUs' holders)."""
    end = min(len(base), t0 + months)
    credit = float(_delta(base, hit, LENDER_LOSSES)[t0:end].sum())
    return credit, _delta(base, hit, FLEET_GAP)[t0 + 1:end]


def amplification_ratio(initial: np.ndarray, credit: np.ndarray, gaps: np.ndarray) -> float:
    """Final over initial losses of a set of seeds: (mean credit losses + the largest fall of the seed-averaged
    market-value path, at least 0) / mean initial loss. The path is averaged over seeds before its largest value is
    taken, so paired runs that merely drift apart (differences of either sign) do not count as losses."""
    total = float(np.mean(initial))
    if total <= 0:
        return math.nan
    path = np.mean(gaps, axis=0) if gaps.size else np.zeros(1)
    return (float(np.mean(credit)) + max(0.0, float(np.max(path)))) / total


def amplification(study: StoredStudy, shocked: str) -> tuple[dict[int, tuple], int, str]:
    """seed -> (initial loss, credit losses, market-value path) for the seeds whose shock did hit (initial > 0),
    the months counted and the shock's date."""
    t0, kind, date = shock_of(shocked)
    out, counted = {}, 0
    for seed, base, hit in pairs(study, shocked, study.spec.scenarios[0]):
        if len(base) <= t0:
            continue
        initial = initial_loss(base, hit, t0, kind)
        if initial > 1e-9:
            credit, path = loss_paths(base, hit, t0)
            out[seed], counted = (initial, credit, path), len(path) + 1
    return out, counted, date


def _arrays(by_seed: dict[int, tuple], seeds: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.array([by_seed[s][0] for s in seeds]), np.array([by_seed[s][1] for s in seeds]),
            np.array([by_seed[s][2] for s in seeds]))


def ratio_row(study: StoredStudy, shocked: str, what: str) -> FactRow:
    """Final over initial losses after a shock, with a bootstrap interval over the seeds it hit."""
    if shocked not in study.spec.scenarios:
        return FactRow(3, f"final / initial losses, {what}", note=f"study {study.name} lacks scenario {shocked}")
    by_seed, months, date = amplification(study, shocked)
    if not by_seed:
        return FactRow(3, f"final / initial losses, {what} ({date})", verdict="inconclusive",
                       note=f"study {study.name}: the shock hit no run (after the horizon, or the firm had exited)")
    initial, credit, gaps = _arrays(by_seed, sorted(by_seed))
    value, low, high = bootstrap((initial, credit, gaps), amplification_ratio)
    path = np.mean(gaps, axis=0) if gaps.size else np.zeros(1)
    return FactRow(3, f"final / initial losses, {what} ({date}; {months} months)", value, low, high,
                   len(by_seed), verdict(low, high, +1, 1.0, len(by_seed)), "> 1",
                   f"mean final over mean initial loss; 95% bootstrap over seeds ({BOOTSTRAP_DRAWS} draws)",
                   f"study {study.name}, per run on average: initial US${initial.mean():.3g}bn; credit losses "
                   f"US${credit.mean():.3g}bn; largest fall of GPU market value after the impact month "
                   f"US${max(0.0, float(path.max())):.3g}bn")


def reaction_row(strict: StoredStudy, forbearing: StoredStudy, shocked: str, what: str) -> FactRow:
    """How the amplification depends on the lenders' reaction: the ratio under forbearing lenders minus under
    strict ones, over the seeds present in both studies (the same seeds: the studies share their root seed)."""
    a, _, date = amplification(forbearing, shocked)
    b, _, _ = amplification(strict, shocked)
    seeds = sorted(set(a) & set(b))
    label = f"final / initial losses, {what} ({date}): forbearing minus strict lenders"
    if not seeds:
        return FactRow(3, label, verdict="inconclusive", note="the shock hit no run in both studies")
    arrays = (*_arrays(a, seeds), *_arrays(b, seeds))
    value, low, high = bootstrap(arrays, lambda *x: amplification_ratio(*x[:3]) - amplification_ratio(*x[3:]))
    return FactRow(3, label, value, low, high, len(seeds), verdict(low, high, 0, 0.0, len(seeds)), "!= 0",
                   f"difference of the two ratios; 95% paired bootstrap over seeds ({BOOTSTRAP_DRAWS} draws)",
                   f"forbearing ({forbearing.name}) {amplification_ratio(*arrays[:3]):.3g}, strict ({strict.name}) "
                   f"{amplification_ratio(*arrays[3:]):.3g}")


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
