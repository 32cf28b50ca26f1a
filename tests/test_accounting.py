"""The accounts close every step in every shipped scenario (and for random parameter sets: tests/test_fuzz.py);
outputs are finite; runs are reproducible bit for bit."""

import numpy as np
import pandas as pd
import pytest

from gpucredit.sim import AccountingError, GPUEconomy, shipped_scenarios
from gpucredit.sim.reporting.columns import NAN_AFTER_EXIT, series_names
from tests.conftest import run


@pytest.mark.parametrize("scenario", shipped_scenarios())
def test_every_scenario_closes_its_accounts_for_ten_years(scenario):
    model = GPUEconomy(scenario=scenario, rng=11)
    while model.running:
        model.step()  # check_accounts raises AccountingError on any violation
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 120
    assert list(df.columns) == list(series_names(model.generations_released()))  # the data dictionary, then generated generations
    firm = df[list(NAN_AFTER_EXIT)]
    assert np.isfinite(df.drop(columns=list(NAN_AFTER_EXIT)).to_numpy(dtype=float)).all()
    # the lead neocloud's metrics are finite while it operates and NaN from its exit on, never another firm's
    gone = firm.isna().all(axis=1).to_numpy()
    assert (firm.isna().any(axis=1).to_numpy() == gone).all() and (np.diff(gone.astype(int)) >= 0).all()


def test_shipped_scenarios_are_the_twelve_of_the_specification_and_the_two_of_the_correction_study():
    # fact_*: the dated shocks of the stylized-fact experiments (experiments/facts), not counterfactuals;
    # no_extrapolation and demand_no_saturation: the counterfactuals of experiments/studies/correction.toml
    assert {s for s in shipped_scenarios() if not s.startswith("fact_")} == {
        "baseline", "no_circular_financing", "tight_credit", "loose_credit", "fast_obsolescence",
        "demand_disappointment", "rate_shock", "lease_expiry_wave", "strict_lenders", "forbearing_lenders",
        "investee_preference", "rival_chips", "no_extrapolation", "demand_no_saturation"}


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
    assert "step 1 (2023-02)" in text and nc.name in text and "US$bn" in text


def test_gpus_vanishing_stops_the_run_naming_their_owner():
    model = GPUEconomy(rng=1, **{"run.months": 12})
    model.step()
    h = model.hyperscalers[0]
    rows = model.fleet.rows_of(h.eid)
    model.fleet.count[rows[0]] *= 0.5
    with pytest.raises(AccountingError, match=f"GPUs of {h.name} \\(hyperscaler\\) not conserved"):
        model.step()


def test_the_transaction_flow_matrix_closes_with_the_outside_sectors_as_accounted_parties(baseline_24):
    """December 2024: every payment kind sums to zero across the roles, every party's payments sum to the change in
    its cash (outside sectors included), and every party holds the GPUs its transactions gave it."""
    m = baseline_24
    led = m.ledger
    matrix = led.flow_matrix()
    assert {"end_users", "foundry_and_suppliers", "staff_and_services", "venture_and_public_equity"} <= \
        {role for column in matrix.values() for role in column}
    for kind, column in matrix.items():
        assert sum(column.values()) == pytest.approx(0.0, abs=1e-9), kind
    change = {}
    for eid, role in enumerate(led.roles):
        change[role] = change.get(role, 0.0) + led.cash[eid] - led.cash_open[eid]
    for role, delta in change.items():
        assert sum(column.get(role, 0.0) for column in matrix.values()) == pytest.approx(delta, abs=1e-9), role
    assert sum(matrix["ai_revenue"].values()) == pytest.approx(0.0, abs=1e-9) and matrix["ai_revenue"]["end_users"] < 0
    held = np.bincount(m.fleet.view("owner"), weights=m.fleet.view("count"), minlength=len(led.names))
    agents = ~np.asarray(led.is_sector)
    assert np.allclose(np.asarray(led.gpus)[agents], held[agents], rtol=1e-9, atol=1e-6)
    assert -led.gpus[led.sector("foundry_and_suppliers")] == pytest.approx(m.fleet.produced)
    assert sum(led.gpus) == pytest.approx(0.0, abs=1e-3)


def _ledger_with(*roles):
    from gpucredit.sim.ledger import Ledger
    led = Ledger()
    led.start_step(14, "2024-03")
    return led, [led.register(f"{role} A", role, cash=10.0) for role in roles]


def test_interest_from_a_lender_to_its_borrower_is_refused_naming_both_the_step_and_the_amount():
    led, (neocloud, lender) = _ledger_with("neocloud", "lender")
    led.pay(neocloud, lender, 0.25, "interest")  # the borrower pays its lender: fine
    with pytest.raises(AccountingError) as err:
        led.pay(lender, neocloud, 0.25, "interest")
    text = str(err.value)
    assert "step 14 (2024-03)" in text and "'interest'" in text and "0.250000000 US$bn" in text
    assert "lender A (lender) to neocloud A (neocloud)" in text and "neocloud -> lender" in text
    assert led.cash[neocloud] == 9.75 and led.cash[lender] == 10.25  # the refused payment moved nothing


def test_a_payment_for_gpus_must_move_gpus_and_gpus_move_only_with_a_payment_for_them():
    led, (neocloud, nvidia) = _ledger_with("neocloud", "chipmaker")
    buyers = led.sector("used_gpu_buyers")
    with pytest.raises(AccountingError, match="'used_gpu_sale' of 50.000000000 US\\$bn .* for 0.0 GPUs"):
        led.pay(buyers, neocloud, 50.0, "used_gpu_sale")
    with pytest.raises(AccountingError, match="'chip_sale' .* for 0.0 GPUs"):
        led.pay(neocloud, nvidia, 1.0, "chip_sale")
    with pytest.raises(AccountingError, match="not a payment for GPUs"):
        led.pay(neocloud, nvidia, 1.0, "chip_deposit", gpus=10.0)
    with pytest.raises(AccountingError, match="never moves GPUs for nothing"):
        led.pay(nvidia, led.sector("foundry_and_suppliers"), 0.0, "cost_of_goods", gpus=10.0)
    led.pay(nvidia, led.sector("foundry_and_suppliers"), 0.1, "cost_of_goods", gpus=10.0)
    led.pay(neocloud, nvidia, 0.0, "chip_sale", gpus=10.0)  # paid by its deposit: the GPUs move, no cash
    led.pay(buyers, neocloud, 0.0, "used_gpu_sale", gpus=4.0)  # worthless old GPUs go for nothing
    assert led.gpus[neocloud] == 6.0 and led.gpus[nvidia] == 0.0 and led.gpus[buyers] == 4.0
    assert led.gpus[led.sector("foundry_and_suppliers")] == -10.0


def test_rounding_level_negative_payments_are_zero_and_real_negatives_are_refused():
    led, (lab, neocloud) = _ledger_with("lab", "neocloud")
    led.pay(lab, neocloud, -2.7e-16, "compute_contract")  # a difference of equal quantities computed two ways
    assert led.cash[lab] == 10.0 and led.cash[neocloud] == 10.0 and not led.flows
    with pytest.raises(AccountingError, match="step 14 \\(2024-03\\): payment 'compute_contract' .* invalid amount -1e-06"):
        led.pay(lab, neocloud, -1e-6, "compute_contract")
    for bad in (float("nan"), float("inf")):
        with pytest.raises(AccountingError, match="invalid amount"):
            led.pay(lab, neocloud, bad, "compute_contract")


def test_undeclared_kinds_items_and_roles_are_refused():
    led, (lab,) = _ledger_with("lab")
    with pytest.raises(AccountingError, match="non-cash item 'windfall' .* is not declared"):
        led.book(lab, 1.0, "windfall")
    with pytest.raises(AccountingError, match="payment kind 'gift' is not declared"):
        led.pay(lab, led.sector("end_users"), 1.0, "gift")
    with pytest.raises(AccountingError, match="GPUs moved from lab A \\(lab\\) .* 'gpus_seized'"):
        led.move_gpus(lab, led.sector("recyclers"), 5.0, "gpus_seized")
    with pytest.raises(ValueError, match="role of 'Bank' must be one of"):
        led.register("Bank", "bank")


def test_mesa_batch_run_drives_the_model():
    import mesa
    results = mesa.batch_run(GPUEconomy, parameters={"scenario": ["baseline", "tight_credit"], "run.months": 6},
                             rng=[1, 2], number_processes=1, max_steps=6, data_collection_period=-1,
                             display_progress=False)
    assert len(results) == 4
    assert {r["scenario"] for r in results} == {"baseline", "tight_credit"}
    assert all(r["Step"] == 6 and np.isfinite(r["spot_price_h100e"]) for r in results)


def test_the_month_flows_read_by_the_checks_and_the_round_trip_follow_every_payment():
    # the ledger turns the month's flows into arrays once and reuses them: a later payment must show up
    led, (neocloud, nvidia, lender) = _ledger_with("neocloud", "chipmaker", "lender")
    led.pay(neocloud, nvidia, 2.0, "chip_deposit")
    paid, to_nvidia = led.paid_by_party(nvidia)
    assert paid[neocloud] == 2.0 and to_nvidia[neocloud] == 2.0
    led.pay(neocloud, lender, 0.5, "interest")
    led.pay(neocloud, nvidia, 1.0, "chip_deposit")
    paid, to_nvidia = led.paid_by_party(nvidia)
    assert paid[neocloud] == 3.5 and to_nvidia[neocloud] == 3.0
    net, gross = led.flows_by_party()
    assert net[neocloud] == -3.5 and net[nvidia] == 3.0 and net[lender] == 0.5 and gross[neocloud] == 3.5
    led.start_step(15, "2024-04")
    assert not led.flows_by_party()[1].any()


def test_the_record_reads_the_balance_sheets_the_checks_built_and_nothing_in_between_changes_a_stock():
    from gpucredit.sim.accounts import balance_sheets
    from gpucredit.sim.reporting.network import debtrank

    model = run(months=30, seed=2)
    fresh = balance_sheets(model)
    assert fresh.keys() == model.closing_sheets.keys()
    for item, values in fresh.items():
        assert np.array_equal(values, model.closing_sheets[item]), item
    # systemic risk from the checked sheets is the one computed afresh, bit for bit
    assert debtrank(model, sheets=model.closing_sheets) == debtrank(model) == model.current["systemic_risk"]


def test_the_lenders_gpus_in_the_record_are_the_checked_sheets_gpus_at_book():
    """The record reads each lender's GPUs at book (seized GPUs it still holds) from the month's checked balance sheets
    instead of summing the fleet again: the same lender leverage, bit for bit, as from sheets built afresh from the
    fleet, in a month where lenders hold GPUs."""
    from gpucredit.sim.accounts import balance_sheets
    from gpucredit.sim.reporting.series import SeriesRecorder

    model = GPUEconomy(scenario="baseline", rng=2, **{"run.months": 41})
    while model.running:
        model.step()
    lenders = [lender.eid for lender in model.lenders]
    assert model.closing_sheets["gpus_book"][lenders].sum() > 0  # seized GPUs held (else the test shows nothing)
    from_sheets, from_fleet = {}, {}
    SeriesRecorder()._lenders(model, from_sheets, model.closing_sheets)
    SeriesRecorder()._lenders(model, from_fleet, balance_sheets(model))
    assert from_sheets == from_fleet and from_sheets["lender_leverage"] == model.current["lender_leverage"]
