"""Fact 5 (capital overhang) and the firm panels it reads: the statistics hold and fail on constructed firms whose
answer is known, the firm cycle follows its definition, the panel a study stores is consistent with the run's
series and leaves the model untouched, and a study stored without panels is reported, not misread."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from gpucredit.experiments.engine import run_study
from gpucredit.experiments.facts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, StoredStudy
from gpucredit.experiments.facts.overhang import (BOOM_MONTHS, VENDOR_STAKE, capital_overhang, failure_gap,
                                                  firm_cycle, overhang_correlation, overhang_rows, turning_point)
from gpucredit.experiments.store import query
from gpucredit.experiments.study import StudySpec, validate
from gpucredit.sim.reporting.firms import FIRM_COLUMN_NAMES

MONTHS, PEAK = 72, 40


# ====================================================================================================
# constructed firms
# ====================================================================================================
def synthetic_panel(rng, slope: float, fail_financed: float, fail_others: float, early_financed: bool = True,
                    n: int = 20) -> pd.DataFrame:
    """A firm panel whose neoclouds ramp their GPU capex up over the boom (the 24 months to month ``PEAK``) and cut
    it after; a firm's cut rises with its boom investment (``slope`` > 0) or falls with it (< 0), plus noise. Half
    the firms are Nvidia-financed; each fails in the bust with probability ``fail_financed`` or ``fail_others``,
    the financed ones early in the bust and the others late (or the other way round)."""
    rows = []
    start = PEAK - BOOM_MONTHS + 1
    for k in range(n):
        fleet = rng.uniform(100.0, 1000.0)
        intensity = rng.uniform(0.5, 5.0)  # H100e delivered in the boom / fleet at its start
        boom_rate = intensity * fleet / BOOM_MONTHS
        cut = float(np.clip(0.5 + slope * (intensity - 2.75) / 2.25 + rng.normal(0.0, 0.1), 0.0, 1.0))
        financed = k % 2 == 0
        fails = rng.uniform() < (fail_financed if financed else fail_others)
        failed_at = (PEAK + (3 if financed == early_financed else 20)) if fails else None
        held = fleet
        for t in range(MONTHS):
            if t < start:
                capex = 0.1 * boom_rate
            elif t <= PEAK:
                capex = boom_rate * 2.0 * (t - start + 1) / (BOOM_MONTHS + 1)
            else:
                capex = boom_rate * (1.0 - cut)
            if t == start:
                held = fleet + capex
            elif t > start:
                held += capex
            gone = failed_at is not None and t == failed_at
            rows.append({"month": t, "firm": f"firm {k}", "named": 0, "size": 1.0,
                         "gpu_capex": 0.0 if gone else capex, "new_h100e": 0.0 if gone else capex,
                         "h100e": 0.0 if gone else held, "gpu_debt": 0.0,
                         "nvidia_stake": 2 * VENDOR_STAKE if financed else 0.0, "nvidia_backstop": 0,
                         "nvidia_rent_back": 0, "failed": int(gone)})
            if gone:
                break
    return pd.DataFrame(rows, columns=list(FIRM_COLUMN_NAMES))


def cycles(seed: int, runs: int = 20, **kw) -> dict[int, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for s in range(runs):
        panel = synthetic_panel(rng, **kw)
        out[s] = firm_cycle(panel, turning_point(panel, MONTHS), MONTHS)
    return out


def test_the_turning_point_is_the_peak_of_the_firms_twelve_month_capex():
    panel = synthetic_panel(np.random.default_rng(0), 0.5, 0.0, 0.0)
    assert turning_point(panel, MONTHS) == PEAK


def test_boom_investment_and_cut_follow_their_definitions():
    # one firm, fleet 100 at the start of the boom: 2 months of boom (10 then 30 H100e, US$1 each), then 2 months of
    # bust at 5 a month; a second firm that fails in the bust's first month
    rows = []
    for t, capex in enumerate([0.0, 10.0, 30.0, 5.0, 5.0]):
        rows.append({"month": t, "firm": "A", "gpu_capex": capex, "new_h100e": capex, "h100e": 100.0 + capex,
                     "nvidia_stake": 0.2, "nvidia_backstop": 0, "nvidia_rent_back": 0, "failed": 0})
    for t, capex in enumerate([0.0, 10.0, 10.0, 0.0]):
        rows.append({"month": t, "firm": "B", "gpu_capex": capex, "new_h100e": capex, "h100e": 50.0 + capex,
                     "nvidia_stake": 0.0, "nvidia_backstop": 0, "nvidia_rent_back": int(t == 1), "failed": int(t == 3)})
    panel = pd.DataFrame(rows)
    # boom: months 1-2 (start = peak - 23, clipped at 0: months 0-2); bust: months 3-4
    cycle = firm_cycle(panel, peak=2, months=5)
    assert cycle.loc["A", "boom_investment"] == pytest.approx(40.0 / 100.0)
    assert cycle.loc["A", "cut"] == pytest.approx(1.0 - (10.0 / 2) / (40.0 / 3))
    assert cycle.loc["B", "cut"] == pytest.approx(1.0) and cycle.loc["B", "failed_month"] == 3
    assert cycle.loc["A", "financed"] and not cycle.loc["B", "financed"]  # B's rent-back began after the boom's start
    assert math.isnan(cycle.loc["A", "failed_month"])
    assert failure_gap(cycle) == (-1.0, math.nan)  # only the other firm failed


def test_the_overhang_correlation_holds_when_big_investors_cut_hardest_and_fails_when_they_cut_least():
    holds = overhang_rows(cycles(1, slope=0.4, fail_financed=0.0, fail_others=0.0), "synthetic")
    fails = overhang_rows(cycles(2, slope=-0.4, fail_financed=0.0, fail_others=0.0), "synthetic")
    assert holds[0].value > 0.5 and holds[0].verdict == HOLDS and holds[0].n == 20
    assert fails[0].value < -0.5 and fails[0].verdict == FAILS
    noise = overhang_rows(cycles(3, slope=0.0, fail_financed=0.0, fail_others=0.0), "synthetic")
    assert noise[0].verdict == INCONCLUSIVE


def test_vendor_financed_fail_first_holds_fails_and_is_inconclusive_without_failures():
    first = overhang_rows(cycles(4, slope=0.4, fail_financed=0.6, fail_others=0.1), "synthetic")
    assert first[1].value > 0 and first[1].verdict == HOLDS  # a larger share of financed firms fails
    assert first[2].value == pytest.approx(-17.0) and first[2].verdict == HOLDS  # and they fail earlier
    last = overhang_rows(cycles(5, slope=0.4, fail_financed=0.1, fail_others=0.6, early_financed=False), "synthetic")
    assert last[1].verdict == FAILS and last[2].value == pytest.approx(17.0) and last[2].verdict == FAILS
    none = overhang_rows(cycles(6, slope=0.4, fail_financed=0.0, fail_others=0.0), "synthetic")
    assert none[1].value == 0.0 and none[2].n == 0 and none[2].verdict == INCONCLUSIVE


def test_the_correlation_needs_five_firms():
    cycle = pd.DataFrame({"boom_investment": [1.0, 2.0, 3.0, 4.0], "cut": [0.1, 0.2, 0.3, 0.4]})
    assert math.isnan(overhang_correlation(cycle))
    assert overhang_correlation(pd.concat([cycle, cycle.iloc[:1] * 5])) == pytest.approx(1.0)


# ====================================================================================================
# the firm panels a study stores
# ====================================================================================================
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The baseline, 2 seeds, 72 months: each run stores its firm panel."""
    root = tmp_path_factory.mktemp("overhang") / "fact5"
    spec = validate(StudySpec(name="fact5_small", scenarios=["baseline"], replicates=2, months=72, seed=7))
    run_study(spec, root, workers=1, progress=False)
    return root


def test_a_stored_firm_panel_matches_the_runs_series_and_leaves_the_model_untouched(study):
    from gpucredit.sim import GPUEconomy

    stored = StoredStudy.open(study)
    for row in stored.rows("baseline").itertuples():
        panel, series = stored.firms(row.run_id), stored.series(row.run_id)
        assert list(panel.columns) == ["run_id", *FIRM_COLUMN_NAMES]
        operating = panel[panel["failed"] == 0].groupby("month").size().reindex(range(72), fill_value=0)
        np.testing.assert_array_equal(operating.to_numpy(), series["neoclouds_alive"].to_numpy())
        assert panel["failed"].sum() == series["defaults_count"].sum()
        assert panel.groupby("firm", observed=True)["failed"].sum().max() <= 1
        assert (panel["gpu_capex"] >= 0).all() and panel["gpu_capex"].sum() > 0
        assert panel["nvidia_stake"].between(0.0, 1.0).all()
        # the same seed without the panel: the identical economy
        model = GPUEconomy("baseline", rng=int(row.seed), record="series", **{"run.months": 72})
        while model.running:
            model.step()
        plain = model.datacollector.get_model_vars_dataframe()
        np.testing.assert_array_equal(plain["nvidia_revenue"].to_numpy(), series["nvidia_revenue"].to_numpy())
        np.testing.assert_array_equal(plain["neocloud_debt"].to_numpy(), series["neocloud_debt"].to_numpy())
    firms = query(study, "SELECT count(DISTINCT run_id) AS runs, sum(failed) AS failures FROM firms")
    assert firms["runs"].iloc[0] == 2


def test_fact_5_reads_a_stored_study_and_two_seeds_decide_nothing(study):
    rows = capital_overhang(StoredStudy.open(study))
    assert [r.fact for r in rows] == [5, 5, 5]
    assert all(r.verdict == INCONCLUSIVE and r.n <= 2 for r in rows)
    assert "study fact5_small" in rows[0].note


def test_a_study_stored_without_firm_panels_is_reported_not_misread(study, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(study, old)
    shutil.rmtree(old / "firms")
    [row] = capital_overhang(StoredStudy.open(old))
    assert row.verdict == NOT_RUN and "no firms/ folder" in row.note and "--out" in row.note
    assert query(old, "SELECT count(*) AS n FROM firms")["n"].iloc[0] == 0  # the view exists, empty
    assert len(query(old, "SELECT * FROM runs")) == 2


def test_gpucredit_facts_reads_fact_5_from_the_study_named_fact5_overhang(study):
    from gpucredit.experiments.facts.runner import FACT_STUDIES, evaluate

    assert FACT_STUDIES[5] == ("fact5_overhang",)
    rows = evaluate({"fact5_overhang": StoredStudy.open(study)}, (5,))
    assert len(rows) == 3 and all(r.verdict != NOT_RUN for r in rows)
    [missing] = evaluate({}, (5,))
    assert missing.verdict == NOT_RUN and "fact5_overhang" in missing.note
