"""The stylized facts as experiments (experiments/facts, `gpucredit facts`): the verdict rule returns each verdict
on constructed data whose answer is known, and every fact function runs end to end on small stored studies
(2 seeds, 48 months: the shocks of the fact scenarios land in January 2026, month 37)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gpucredit.experiments.cli import main
from gpucredit.experiments.engine import run_study
from gpucredit.experiments.facts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, StoredStudy, fact_verdict, verdict
from gpucredit.experiments.facts.common import MIN_SEEDS, bootstrap, directional_row
from gpucredit.experiments.facts.market import (critical_leverage, excess_kurtosis, logistic_slope, procyclicality,
                                                tails_and_clustering, volatility_clustering)
from gpucredit.experiments.facts.runner import FACT_STUDIES, evaluate, fact_specs, format_table, markdown
from gpucredit.experiments.facts.shocks import (DEFAULT_SHOCK, PRICE_SHOCK, amplification_ratio, collateral_channel,
                                                fire_sales, initial_loss, loss_paths)
from gpucredit.experiments.facts.vendor import NO_CIRCULAR, circular_financing
from gpucredit.experiments.study import StudySpec, make_factor, validate


# ====================================================================================================
# the verdict rule on constructed data
# ====================================================================================================
def test_the_verdict_follows_the_interval_and_the_expected_direction():
    assert verdict(0.1, 0.5, +1) == HOLDS and verdict(-0.5, -0.1, +1) == FAILS
    assert verdict(-0.1, 0.5, +1) == INCONCLUSIVE
    assert verdict(-0.5, -0.1, -1) == HOLDS and verdict(0.1, 0.5, -1) == FAILS
    assert verdict(1.2, 1.5, +1, reference=1.0) == HOLDS and verdict(0.5, 0.9, +1, reference=1.0) == FAILS
    assert verdict(1.2, 1.5, +1, reference=2.0) == FAILS
    # two-sided claims: hold when the interval excludes the reference either way, never fail
    assert verdict(-0.5, -0.1, 0) == HOLDS and verdict(0.1, 0.5, 0) == HOLDS and verdict(-0.1, 0.5, 0) == INCONCLUSIVE
    assert verdict(math.nan, 1.0, +1) == INCONCLUSIVE
    assert verdict(0.1, 0.5, +1, n=MIN_SEEDS - 1) == INCONCLUSIVE and verdict(0.1, 0.5, +1, n=MIN_SEEDS) == HOLDS


def test_a_known_kurtosis_difference_holds_its_reverse_fails_and_noise_is_inconclusive():
    rng = np.random.default_rng(1)
    normal = [excess_kurtosis(rng.standard_normal(240)) for _ in range(30)]
    fat = [excess_kurtosis(rng.standard_t(4, 240)) for _ in range(30)]  # Student t(4): excess kurtosis infinite
    assert abs(np.mean(normal)) < 0.3 and np.mean(fat) > 1.0
    diffs = np.subtract(fat, normal)
    assert directional_row(1, "t(4) minus normal", diffs, +1).verdict == HOLDS
    assert directional_row(1, "normal minus t(4)", -diffs, +1).verdict == FAILS
    noise = np.subtract([excess_kurtosis(rng.standard_normal(240)) for _ in range(30)], normal)
    assert directional_row(1, "normal minus normal", noise, +1).verdict == INCONCLUSIVE


def test_volatility_clustering_is_found_in_a_garch_series_and_not_in_white_noise():
    rng = np.random.default_rng(2)
    r, var = np.zeros(2000), 1.0
    for t in range(1, 2000):  # GARCH(1,1): omega 0.05, alpha 0.15, beta 0.8
        var = 0.05 + 0.15 * r[t - 1] ** 2 + 0.8 * var
        r[t] = math.sqrt(var) * rng.standard_normal()
    assert volatility_clustering(r) > 0.1
    assert abs(volatility_clustering(rng.standard_normal(2000))) < 0.06
    assert math.isnan(volatility_clustering(np.ones(50)))


def test_a_known_loss_ratio_is_recovered_and_judged_against_one():
    rng = np.random.default_rng(3)
    initial = rng.uniform(1.0, 3.0, 20)
    flat = np.zeros((20, 12))
    assert amplification_ratio(initial, 2.0 * initial, flat) == pytest.approx(2.0)
    value, low, high = bootstrap((initial, 2.0 * initial * rng.uniform(0.9, 1.1, 20), flat), amplification_ratio)
    assert low < value < high and low > 1.0 and verdict(low, high, +1, 1.0, 20) == HOLDS
    _, low, high = bootstrap((initial, 0.5 * initial * rng.uniform(0.9, 1.1, 20), flat), amplification_ratio)
    assert verdict(low, high, +1, 1.0, 20) == FAILS


def test_paired_runs_that_only_drift_apart_add_no_loss():
    # market-value differences of either sign, mean zero: averaged over seeds before the largest month is taken
    rng = np.random.default_rng(5)
    initial, credit = np.full(40, 10.0), np.zeros(40)
    drift = rng.normal(0.0, 20.0, (40, 23))
    drift -= drift.mean(axis=0)  # exactly zero on average in every month
    assert amplification_ratio(initial, credit, drift) == pytest.approx(0.0, abs=1e-9)
    assert np.mean([d.max() for d in drift]) > 10.0  # the largest month per seed would have read noise as loss


def test_initial_and_final_losses_follow_their_definitions():
    n, t0 = 30, 10
    base = pd.DataFrame({"book_minus_market_gpus": np.zeros(n), "lender_losses": np.zeros(n),
                         "debt_in_default": np.zeros(n)})
    hit = base.copy()
    hit.loc[t0, "book_minus_market_gpus"] = 5.0    # 5bn of fleet value lost on impact
    hit.loc[t0 + 3, "book_minus_market_gpus"] = 4.0  # the gap narrows after the impact month
    hit.loc[t0 + 1, "lender_losses"] = 1.5            # credit losses follow
    hit.loc[t0, "debt_in_default"] = 2.0
    assert initial_loss(base, hit, t0, "used_gpu_price_drop") == 5.0
    assert initial_loss(base, hit, t0, "firm_default") == 2.0
    credit, path = loss_paths(base, hit, t0, months=24)
    assert credit == 1.5 and len(path) == n - t0 - 1  # cut at the end of the run; the impact month is not in it
    assert amplification_ratio(np.array([5.0]), np.array([credit]), path[None, :]) == pytest.approx((1.5 + 4.0) / 5)


def test_a_logistic_slope_is_positive_when_crises_rise_with_leverage_and_absent_without_variation():
    rng = np.random.default_rng(4)
    ltv = np.repeat(np.linspace(0.4, 0.9, 6), 40)
    crisis = (rng.uniform(size=ltv.size) < 1 / (1 + np.exp(-12 * (ltv - 0.65)))).astype(float)
    slope, low, high = logistic_slope(ltv, crisis)
    assert low > 0 and verdict(low, high, +1, n=ltv.size) == HOLDS
    slope, low, high = logistic_slope(ltv, 1.0 - crisis)
    assert verdict(low, high, +1, n=ltv.size) == FAILS
    assert math.isnan(logistic_slope(ltv, np.zeros_like(ltv))[0])


def test_a_facts_verdict_needs_all_its_statistics():
    from gpucredit.experiments.facts import FactRow
    rows = lambda *v: [FactRow(1, "x", verdict=x) for x in v]
    assert fact_verdict(rows(HOLDS, HOLDS)) == HOLDS and fact_verdict(rows(HOLDS, INCONCLUSIVE)) == INCONCLUSIVE
    assert fact_verdict(rows(HOLDS, FAILS)) == FAILS and fact_verdict(rows(NOT_RUN)) == NOT_RUN


# ====================================================================================================
# every fact function end to end on small stored studies
# ====================================================================================================
@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """A max-LTV grid (2 levels) and the shock and circular-financing scenarios against the baseline, 2 seeds,
    48 months each (12 runs)."""
    root = tmp_path_factory.mktemp("facts")
    grid = validate(StudySpec(name="grid", scenarios=["baseline"], design="grid", samples=2, replicates=2, months=48,
                              seed=7, factors=[make_factor("gpucredit", "lenders.max_ltv", 0.5, 0.9)]))
    shocks = validate(StudySpec(name="shocks", scenarios=["baseline", PRICE_SHOCK, DEFAULT_SHOCK, NO_CIRCULAR],
                                design="replicate", replicates=2, months=48, seed=7))
    out = {}
    for spec in (grid, shocks):
        run_study(spec, root / spec.name, workers=1, progress=False)
        out[spec.name] = StoredStudy.open(root / spec.name)
    return out


def _check(rows, fact, n_expected):
    assert rows and all(r.fact == fact for r in rows)
    for r in rows:
        assert r.verdict in (HOLDS, FAILS, INCONCLUSIVE), (r.label, r.verdict, r.note)
        assert r.n == n_expected and math.isfinite(r.value), (r.label, r.n, r.value, r.note)
        assert r.verdict == INCONCLUSIVE  # two seeds never decide a fact


def test_fact_1_and_4_read_a_grid_over_max_ltv(studies):
    _check(tails_and_clustering(studies["grid"]), 1, 2)
    [row] = critical_leverage(studies["grid"])
    assert row.fact == 4 and row.n == 4 and "P(crisis) by max LTV" in row.note and row.verdict == INCONCLUSIVE


def test_fact_2_3_6_7_read_paired_scenarios(studies):
    s = studies["shocks"]
    _check(procyclicality(s), 2, 2)
    ratios = fire_sales(s, s, s)  # the same study as strict and forbearing: a difference of exactly 0
    _check(ratios[:2], 3, 2)
    assert ratios[2].value == 0.0 and ratios[3].value == 0.0 and ratios[2].verdict == INCONCLUSIVE
    _check(collateral_channel(s), 6, 2)
    _check(circular_financing(s), 7, 2)


def test_a_missing_study_is_not_run_with_the_reason(studies):
    rows = evaluate({}, (1, 5))
    assert [r.verdict for r in rows] == [NOT_RUN, NOT_RUN]
    assert "fact1_leverage_tails" in rows[0].note and "fact5_overhang" in rows[1].note
    assert "not run" in format_table(rows) and "| 5 |" in markdown(rows)


def test_every_fact_study_file_has_at_least_20_seeds_and_120_months():
    specs = fact_specs(tuple(FACT_STUDIES))
    assert len(specs) == sum(len(v) for v in FACT_STUDIES.values())
    seeds = {s.seed for s in specs}
    assert all(s.replicates >= 20 and s.months == 120 for s in specs) and len(seeds) == 1  # common seeds


def test_the_command_writes_the_table_and_reuses_stored_runs(tmp_path, capsys):
    out = tmp_path / "facts"
    args = ["facts", "--only", "7", "--seeds", "2", "--months", "24", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "Fact 7:" in printed.out and "95% CI" in printed.out
    table = pd.read_csv(out / "facts.csv")
    assert list(table["fact"]) == [7, 7] and set(table["verdict"]) <= {HOLDS, FAILS, INCONCLUSIVE}
    assert "| 7 |" in (out / "facts.md").read_text()
    assert main(args) == 0
    assert "4 already stored, 0 executed" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, field", [("--only", "9", "--only"), ("--only", "2,x", "--only"),
                                                ("--seeds", "0", "--seeds"), ("--months", "0", "--months"),
                                                ("--jobs", "0", "--jobs")])
def test_bad_input_is_one_line_naming_the_field_and_writes_nothing(tmp_path, capsys, flag, value, field):
    out = tmp_path / "facts"
    assert main(["facts", flag, value, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and field in err
    assert not out.exists()
