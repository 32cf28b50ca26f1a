"""The correction outcomes (when the boom turns, how deep and how long the fall) on constructed series whose answer
is known and on real runs, where each moves; the two scenarios of the correction study; the study at a small size
and its table (`gpucredit correction`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gpucredit.experiments.outcomes import OUTCOME_NAMES, correction, peak_and_trough, run_outcomes, trailing_12m

CORRECTION = ("correction_month", "correction_depth_revenue", "correction_months_to_trough", "ai_capex_drawdown",
              "market_cap_drawdown")


def test_peak_and_trough_measure_the_fall_from_the_global_peak():
    # a dip on the way up (4 -> 2) is not the correction; the fall after the peak of 10 is
    x = np.array([1.0, 4.0, 2.0, 6.0, 10.0, 7.0, 3.0, 5.0])
    assert peak_and_trough(x) == (4, 6, pytest.approx(0.7))
    assert peak_and_trough(np.array([1.0, 2.0, 3.0])) == (2, 2, 0.0)  # still rising at the end: no fall yet
    assert peak_and_trough(np.zeros(5))[2] == 0.0
    np.testing.assert_allclose(trailing_12m(np.ones(14)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 12])


def test_the_correction_outcomes_of_a_constructed_boom_and_bust():
    # Nvidia sells 1 a month for 24 months, 3 a month for 24, then 0.5: its 12-month revenue first reaches its
    # peak of 36 in month 35 (a plateau to month 47) and first reaches its trough of 6 in month 59 (1 - 6/36);
    # AI capex peaks with it and halves
    revenue = np.concatenate([np.ones(24), np.full(24, 3.0), np.full(24, 0.5)])
    capex = np.concatenate([np.ones(24), np.full(24, 4.0), np.full(24, 2.0)])
    out = correction(pd.DataFrame({"nvidia_revenue": revenue, "ai_capex": capex}))
    assert out["correction_month"] == 35 and out["correction_months_to_trough"] == 24
    assert out["correction_depth_revenue"] == pytest.approx(1 - 6 / 36)
    assert out["ai_capex_drawdown"] == pytest.approx(0.5)
    assert all(name in OUTCOME_NAMES for name in CORRECTION)


def test_each_correction_outcome_moves_across_runs():
    from gpucredit.sim import GPUEconomy

    def outcomes(scenario, seed):
        model = GPUEconomy(scenario, rng=seed, record="series", **{"run.months": 120})
        while model.running:
            model.step()
        return run_outcomes(model.datacollector.get_model_vars_dataframe())

    runs = [outcomes("baseline", 0), outcomes("baseline", 1), outcomes("demand_no_saturation", 0)]
    for name in CORRECTION:
        values = [r[name] for r in runs]
        assert all(math.isfinite(v) for v in values) and any(v > 0 for v in values), name
        assert len(set(values)) > 1, (name, values)  # not a constant of the model


# ====================================================================================================
# the scenarios and the shipped study, at a small size
# ====================================================================================================
def test_the_two_correction_scenarios_set_what_they_say():
    from gpucredit.sim.parameters import resolve
    from gpucredit.sim.scenarios import load_scenario

    assert load_scenario("no_extrapolation").parameters == {"expectations.trend_weight": 0.0}
    demand = resolve({}, load_scenario("demand_no_saturation").parameters)
    base = resolve({}, load_scenario("baseline").parameters)

    def adoption(p, years):  # sim/demand.py's diffusion at full service from a_0 = R_0 / M, without shocks
        from gpucredit.sim.demand import diffuse

        a = p["demand.initial_ai_revenue"] / p["demand.market_size"]
        for _ in range(int(12 * years)):
            a = diffuse(a, p["demand.adoption_rate"] / 12.0)
        return a

    def growth(p, year):  # AI revenue growth over the year to ``year`` (potential revenue at the median market)
        return adoption(p, year - 2023.0) / adoption(p, year - 2024.0) - 1.0

    assert demand["demand.market_size_uncertainty"] == 0.0
    for year in (2024.0, 2025.0):  # close to the baseline's early growth ...
        assert growth(demand, year) == pytest.approx(growth(base, year), abs=0.4)
    # ... and still growing fast in 2032 (at least 80% a year) where the baseline has all but saturated
    assert growth(demand, 2032.0) > 0.8 and growth(base, 2032.0) < 0.2


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The shipped correction study at 2 seeds and 36 months (8 runs)."""
    from dataclasses import replace

    from gpucredit.experiments.engine import run_study
    from gpucredit.experiments.study import REPO, load_spec, validate

    spec = validate(replace(load_spec(REPO / "experiments" / "studies" / "correction.toml"), replicates=2, months=36))
    assert spec.scenarios == ["baseline", "demand_no_saturation", "no_extrapolation", "no_circular_financing"]
    out = tmp_path_factory.mktemp("correction") / "study"
    run_study(spec, out, workers=1, progress=False)
    return out


def test_the_correction_table_of_a_stored_study(study, capsys):
    from gpucredit.experiments.cli import main

    assert main(["correction", str(study)]) == 0
    printed = capsys.readouterr().out
    assert "2025-" in printed or "2024-" in printed or "2023-" in printed  # the turning point as YYYY-MM
    table = pd.read_csv(study / "correction.csv")
    assert len(table) == 7 * 4 and set(table["scenario"]) == {"baseline", "demand_no_saturation", "no_extrapolation",
                                                              "no_circular_financing"}
    # every outcome but the two that are NaN in a run where they are not observed
    always = table[~table["outcome"].isin(["first_correction_month", "ai_revenue_growth_after_peak"])]
    base, others = table[table["scenario"] == "baseline"], table[table["scenario"] != "baseline"]
    assert base["reference"].isna().all() and (always[always["scenario"] == "baseline"]["n"] == 2).all()
    assert (others["reference"] == "baseline").all() and (always[always["scenario"] != "baseline"]["n_pairs"] == 2).all()
    seen = table[table["n"] > 0]
    assert (seen["band_low"] <= seen["median"]).all() and (seen["median"] <= seen["band_high"]).all()


def test_a_study_stored_before_the_correction_outcomes_gets_them_recomputed(study, tmp_path):
    import json
    import shutil

    from gpucredit.experiments.correction import CORRECTION_OUTCOMES, correction_table

    old = tmp_path / "old"
    shutil.copytree(study, old)
    manifest = json.loads((old / "study.json").read_text())
    manifest["run_columns"] = [c for c in manifest["run_columns"] if c not in CORRECTION_OUTCOMES[:4]]
    (old / "study.json").write_text(json.dumps(manifest))
    (old / "runs.parquet").unlink()  # the run table is rebuilt from the journal with the old columns
    fresh, _ = correction_table(study)
    again, notes = correction_table(old)
    pd.testing.assert_frame_equal(fresh, again)
    assert any("recomputed from the stored series" in n for n in notes)


def test_a_directory_that_is_no_study_is_one_line_and_status_2(tmp_path, capsys):
    from gpucredit.experiments.cli import main

    assert main(["correction", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a gpucredit study directory" in err


def test_the_first_correction_and_the_growth_of_end_demand_through_it():
    from gpucredit.experiments.outcomes import correction, first_correction, growth_after

    boom_dip_boom = np.array([1, 2, 4, 8, 6, 5, 9, 12, 16, 20], dtype=float)  # a 37% dip on the way up, then a new high
    assert first_correction(boom_dip_boom) == 3.0  # the running peak it fell from
    assert first_correction(np.array([1, 2, 4, 8, 7, 7.5, 9], dtype=float)) != first_correction(boom_dip_boom)
    assert math.isnan(first_correction(np.array([1, 2, 4, 8, 7, 7.5, 9], dtype=float)))  # a 12.5% dip is no correction
    assert growth_after(np.arange(1.0, 30.0), 5) == pytest.approx(18.0 / 6.0 - 1.0)
    assert math.isnan(growth_after(np.arange(1.0, 10.0), 5))  # fewer than 12 months left
    months = 48
    t = np.arange(months, dtype=float)
    vendor = np.where(t < 24, t + 1.0, np.maximum(49.0 - t, 1.0))  # the vendor's revenue turns at month 23
    for ai, sign in ((1.0 + t, 1.0), (np.where(t < 24, t + 1.0, 49.0 - t), -1.0)):  # end demand grows on / falls too
        out = correction(pd.DataFrame({"nvidia_revenue": vendor, "ai_capex": vendor, "ai_revenue": ai}))
        assert np.sign(out["ai_revenue_growth_after_peak"]) == sign
