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
