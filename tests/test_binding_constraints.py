"""Constraints that bind: corporate tax on profits, a hyperscaler's leverage limit, a bounded valuation multiple."""

import pytest

from gpucredit.sim.finance.tax import UNTAXED
from tests.conftest import run


@pytest.fixture(scope="module")
def taxed_and_untaxed():
    return run(24, seed=2), run(24, seed=2, **{"tax.corporate_rate": 0.0})


def test_profitable_firms_pay_tax_and_it_lowers_nvidias_cash_and_valuation(taxed_and_untaxed):
    taxed, untaxed = taxed_and_untaxed
    led = taxed.ledger
    paid = -sum(led.income_of(e, "corporate_tax") for e in range(len(led.names)))
    assert paid > 0 and taxed.taxes.paid >= 0
    assert led.cash[led.sector("government")] > 0  # the government collected it over the run
    assert untaxed.ledger.cash[untaxed.ledger.sector("government")] == 0
    assert taxed.nvidia.market_cap < untaxed.nvidia.market_cap
    # Nvidia's profits are taxed at about the rate, in arrears: what the government holds is close to the rate
    # times Nvidia's pre-tax operating profit over the run
    assert taxed.ledger.cash[taxed.nvidia.eid] < untaxed.ledger.cash[untaxed.nvidia.eid]


def test_losses_are_carried_forward_and_capital_is_not_taxed():
    from gpucredit.sim.model import GPUEconomy

    m = GPUEconomy(rng=1, **{"run.months": 2})
    m.step()
    tax = m.taxes
    lab = m.labs[0]
    tax.losses_carried.clear()
    tax.due.clear()
    # a loss of 5, then a profit of 8: tax only on 3
    m.ledger.income.clear()
    m.ledger.income["compute_contract"][lab.eid] = -5.0
    tax.assess()
    assert tax.losses_carried[lab.eid] == pytest.approx(5.0) and tax.due[lab.eid] == 0.0
    m.ledger.income.clear()
    m.ledger.income["ai_revenue"][lab.eid] = 8.0
    m.ledger.income["funding_round"][lab.eid] = 100.0  # capital raised is not income
    tax.assess()
    assert tax.losses_carried[lab.eid] == 0.0
    assert tax.due[lab.eid] == pytest.approx(3.0 * m.p["tax.corporate_rate"])
    assert {"funding_round", "payout", "equity_investment", "core_cash_flow", "stake_revaluation"} <= UNTAXED


def test_a_hyperscaler_at_its_leverage_limit_stops_issuing_bonds_for_chips_but_meets_obligations():
    from gpucredit.sim.model import GPUEconomy

    m = GPUEconomy(rng=1, **{"run.months": 2})
    m.step()
    h = m.hyperscalers[0]
    net_debt = lambda: h.bonds - m.ledger.cash[h.eid]
    room = h.debt_limit() - net_debt()
    assert room > 0
    # discretionary spending beyond the room: only the room is affordable
    affordable = h.ensure_cash(room + 50.0, obligation=False)
    assert affordable == pytest.approx(room)
    m.ledger.cash[h.eid] -= affordable  # spent on GPUs (outside the ledger's checks: this test looks at leverage only)
    assert net_debt() == pytest.approx(h.debt_limit())
    # at the limit: nothing more for chips (bonds issued only to keep its cash floor, which leaves net debt put) ...
    assert h.ensure_cash(10.0, obligation=False) == pytest.approx(0.0, abs=1e-9)
    assert net_debt() == pytest.approx(h.debt_limit())
    # ... yet an obligation is still met with new bonds
    bonds = h.bonds
    assert h.ensure_cash(10.0, obligation=True) == 10.0 and h.bonds > bonds


def test_the_leverage_limit_binds_on_hyperscaler_capex():
    from gpucredit.experiments.run import timeseries

    small = {"hyperscalers.core_cash_flow": 2.0}
    tight = timeseries(run(48, seed=3, **small, **{"hyperscalers.max_net_leverage": 0.0}))
    loose = timeseries(run(48, seed=3, **small, **{"hyperscalers.max_net_leverage": 10.0}))
    assert tight["hyperscaler_capex"].sum() < loose["hyperscaler_capex"].sum()
    assert tight["hyperscaler_net_debt"].max() < loose["hyperscaler_net_debt"].max()


def test_nvidias_multiple_is_bounded():
    low = run(24, seed=2, **{"nvidia.pe_max": 10.0})
    high = run(24, seed=2)
    assert low.nvidia.market_cap < high.nvidia.market_cap


def test_capacity_booked_in_a_boom_arrives_after_the_lead_time_and_costs_money():
    from gpucredit.sim.model import GPUEconomy

    m = GPUEconomy(rng=1, **{"run.months": 24, "nvidia.capacity_lead_months": 6})
    nv = m.nvidia
    m.step()
    nv.capacity_pipeline = type(nv.capacity_pipeline)([0.0] * 6)  # nothing booked before
    before, cash = nv.capacity, m.ledger.cash[nv.eid]
    nv.requested, nv.supply_h100e = 3.0 * 1e6, 1e6  # orders due three times output: a boom
    nv.invest_in_capacity()
    booked = nv.capacity_pipeline[-1]
    assert booked > 0 and nv.capacity == before  # booked now, nothing more produced yet
    assert m.ledger.cash[nv.eid] < cash  # and paid for
    nv.requested = 0.0  # the boom ends at once: what was booked still arrives, in month 6
    for month in range(1, 7):
        nv.supply_h100e = nv.requested + 1.0
        nv.requested = nv.supply_h100e  # orders exactly meet output: no new bookings, no shrinking
        nv.invest_in_capacity()
        if month < 6:
            assert nv.capacity == pytest.approx(before)
    assert nv.capacity == pytest.approx(before + booked)


def test_a_vanishing_capacity_cost_books_capacity_for_almost_nothing():
    """A fuzzed draw with a vanishing nvidia.capacity_cost_months divided by a cost that underflowed to zero and stopped."""
    m = run(12, seed=1, **{"nvidia.capacity_cost_months": 5e-324, "nvidia.capacity_lead_months": 0})  # cost underflows to 0
    assert m.month == 11 and m.nvidia.capacity > 0


def test_a_hyperscaler_with_almost_no_room_takes_no_sliver_of_a_delivery():
    """Fuzzed draws with a core cash flow or leverage limit of 5e-324 left a hyperscaler a subnormal room, so it took a
    share of 1e-323 of a delivery: 2e-318 GPUs for a payment that rounded to zero, which the ledger refuses."""
    from gpucredit.sim.model import GPUEconomy

    m = GPUEconomy(rng=1, **{"run.months": 3})
    m.step()
    h = m.hyperscalers[0]
    m.p["hyperscalers.core_cash_flow"] = 5e-324  # its limit and cash floor become subnormal
    h.bonds = m.ledger.cash[h.eid]  # net debt 0: the room is the (subnormal) limit
    chip, g = m.nvidia, m.newest_nvidia_gen
    taken = h.take_delivery(chip, [(g, 1000.0, chip.list_price(g), 0.0)])
    assert taken == 0.0


def test_nvidias_multiple_is_bounded_by_what_investors_have_paid_for_a_firm_of_its_size():
    from gpucredit.agents.chipmaker import size_bounded_value

    assert size_bounded_value(800.0, 20.0, 60.0, 0.25) == 800.0  # below US$1tn only pe_max applies
    earnings = 400.0  # US$bn of forward earnings at 60x would be US$24tn
    bounded = size_bounded_value(60.0 * earnings, earnings, 60.0, 0.25)
    implied = bounded / earnings
    assert implied == pytest.approx(60.0 * (1000.0 / bounded) ** 0.25)  # the multiple the size allows, exactly
    assert 25.0 < implied < 35.0 and bounded < 15_000.0
    assert size_bounded_value(60.0 * earnings, earnings, 60.0, 0.0) == 60.0 * earnings  # elasticity 0: no size bound
