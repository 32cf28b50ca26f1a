"""The accounts close every step in every shipped scenario (and for random parameter sets: tests/test_fuzz.py);
outputs are finite; runs are reproducible bit for bit."""

import numpy as np
import pandas as pd
import pytest

from gpucredit.sim import AccountingError, GPUEconomy, shipped_scenarios
from gpucredit.sim.reporting.columns import SERIES_NAMES
from tests.conftest import run


@pytest.mark.parametrize("scenario", shipped_scenarios())
def test_every_scenario_closes_its_accounts_for_ten_years(scenario):
    model = GPUEconomy(scenario=scenario, rng=11)
    while model.running:
        model.step()  # check_accounts raises AccountingError on any violation
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 120
    assert list(df.columns) == list(SERIES_NAMES)
    assert np.isfinite(df.to_numpy(dtype=float)).all()


def test_shipped_scenarios_are_the_twelve_of_the_specification():
    assert set(shipped_scenarios()) == {
        "baseline", "no_circular_financing", "tight_credit", "loose_credit", "fast_obsolescence",
        "demand_disappointment", "rate_shock", "lease_expiry_wave", "strict_lenders", "forbearing_lenders",
        "investee_preference", "rival_chips"}


# random parameter sets over the full declared ranges, respecting the declared constraints: tests/test_fuzz.py


def _outputs(model):
    return (model.datacollector.get_model_vars_dataframe(), pd.DataFrame(model.events),
            pd.DataFrame(model.balance_sheet_rows))


def test_same_seed_gives_identical_outputs_bit_for_bit():
    a, b = run(36, seed=5), run(36, seed=5)
    for x, y in zip(_outputs(a), _outputs(b)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


def test_different_seeds_give_different_paths():
    a = run(36, seed=5).datacollector.get_model_vars_dataframe()
    b = run(36, seed=6).datacollector.get_model_vars_dataframe()
    assert not a["ai_revenue"].equals(b["ai_revenue"])
    assert not a["spot_price_h100e"].equals(b["spot_price_h100e"])


def test_a_payment_outside_the_ledger_stops_the_run_naming_agent_step_and_amounts():
    model = GPUEconomy(rng=1, **{"run.months": 12})
    model.step()
    nc = model.neoclouds[0]
    model.ledger.cash[nc.eid] += 0.5  # cash appears from nowhere
    with pytest.raises(AccountingError) as err:
        model.step()
    text = str(err.value)
    assert "step 1" in text and "US$bn" in text


def test_gpus_vanishing_stops_the_run():
    model = GPUEconomy(rng=1, **{"run.months": 12})
    model.step()
    rows = model.fleet.rows_of(model.hyperscalers[0].eid)
    model.fleet.count[rows[0]] *= 0.5
    with pytest.raises(AccountingError, match="GPUs not conserved|balance sheet"):
        model.step()


def test_mesa_batch_run_drives_the_model():
    import mesa
    results = mesa.batch_run(GPUEconomy, parameters={"scenario": ["baseline", "tight_credit"], "run.months": 6},
                             rng=[1, 2], number_processes=1, max_steps=6, data_collection_period=-1,
                             display_progress=False)
    assert len(results) == 4
    assert {r["scenario"] for r in results} == {"baseline", "tight_credit"}
    assert all(r["Step"] == 6 and np.isfinite(r["spot_price_h100e"]) for r in results)
