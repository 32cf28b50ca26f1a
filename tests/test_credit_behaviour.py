"""The credit system's behaviour: forbearance decided by expected recovery, spreads priced on the borrower's leverage
and the lender's losses, lender failure. (The crisis flag's floor is tested with the other outcomes, test_studies.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from gpucredit.sim import GPUEconomy
from gpucredit.sim.accounts import balance_sheets
from tests.conftest import run


def _performing_loans(m):
    return sorted([l for l in m.loans.values() if l.status == "performing" and l.principal > 0], key=lambda l: -l.principal)


# ================================================================================================================
# forbearance
# ================================================================================================================
def _breached_loan(m):
    """The largest performing loan in breach of its covenant after used-GPU prices collapse (to 1% of the quote), with
    its borrower out of cash."""
    m.used_gpus.shock(5.0)
    m.loans.mark_all()
    loan = next(l for l in _performing_loans(m) if l.ltv > l.covenant_ltv)
    borrower = loan.borrower
    cash = m.ledger.cash[borrower]
    if cash > 0:
        m.ledger.pay(borrower, m.ledger.sector("venture_and_public_equity"), float(cash), "payout")
    assert loan.ltv > loan.covenant_ltv  # the breach both borrowers face
    return loan


def test_a_borrower_with_a_large_contracted_backlog_is_waived_one_without_is_foreclosed(fresh_24):
    m = fresh_24
    loan = _breached_loan(m)
    lender = m.entity[loan.lender]
    backlog = m.contracts.backlog_by_provider
    backlog[loan.borrower] = 0.0  # no contracted payments to come: only foreclosure later
    m.expectations.collateral_return_6m = 0.0  # at prices it expects to stay where they are
    assert lender.cure_probability(loan) < 0.5
    assert lender.decide_on_breach(loan) == "enforce"
    backlog[loan.borrower] = 20.0 * m.loans.debt_of(loan.borrower)  # contracted payments cover what curing takes many times over
    assert lender.cure_probability(loan) == 1.0
    assert lender.waiver_value(loan) == pytest.approx(loan.principal)
    assert lender.foreclosure_recovery(loan) < loan.principal
    assert lender.decide_on_breach(loan) == "waive"
    # the decision is the lender's, not a draw: the same breach gets the same answer, and the generator is untouched
    state = m.rng.bit_generator.state
    assert {lender.decide_on_breach(loan) for _ in range(5)} == {"waive"}
    assert m.rng.bit_generator.state == state
    # a strict lender (the strict_lenders scenario) forecloses on the same borrower
    lender.waiver_hurdle = 1.0
    assert lender.decide_on_breach(loan) == "enforce"


def test_foreclosure_recovery_counts_the_fire_sale_impact_of_selling_the_gpus(fresh_24):
    m = fresh_24
    loan = _breached_loan(m)
    lender = m.entity[loan.lender]
    # the GPUs alone (no contracts counted, no foreclosure cost), so the cap at the principal cannot hide the impact
    m.p["lenders.contract_collateral_share"], m.p["lenders.foreclosure_cost"] = 0.0, 0.0
    recovered = lender.foreclosure_recovery(loan)
    assert 0.0 < recovered < loan.principal
    m.used_gpus.impact = 0.0  # outside buyers with unlimited depth
    assert lender.foreclosure_recovery(loan) > recovered
    m.used_gpus.impact = 50.0  # a thin market: selling the pledged GPUs at once sinks their price
    assert lender.foreclosure_recovery(loan) < recovered


def test_strict_and_forbearing_lenders_differ():
    strict = GPUEconomy("strict_lenders", rng=3, record="series", **{"run.months": 60})
    forbearing = GPUEconomy("forbearing_lenders", rng=3, record="series", **{"run.months": 60})
    for m in (strict, forbearing):
        while m.running:
            m.step()
    waivers = [m.datacollector.get_model_vars_dataframe()["covenant_waivers"].sum() for m in (strict, forbearing)]
    assert waivers[0] == 0 and waivers[1] > 0


# ================================================================================================================
# risk-priced spreads
# ================================================================================================================
def test_spreads_rise_with_the_borrowers_leverage(fresh_24):
    m = fresh_24
    def gpu_share(nc):
        loans = [l for l in m.loans.of_borrower(nc.eid) if l.status == "performing" and l.principal > 0]
        return sum(l.gpu_value for l in loans) / max(sum(l.collateral_value for l in loans), 1e-12)
    borrower = max((nc for nc in m.neoclouds if nc.lender is not None), key=gpu_share)  # collateral mostly GPUs
    lender = borrower.lender
    base = lender.spread(0.0)
    draws = (0.0, 5.0, 50.0)
    quotes = [lender.spread(0.0, borrower, d) for d in draws]
    ltvs = [lender.ltv_after(borrower, d) for d in draws]
    m.used_gpus.shock(5.0)  # its collateral loses most of its value: its LTV, and the quote, rise
    m.loans.mark_all()
    stressed = lender.spread(0.0, borrower, 5.0)
    assert lender.ltv_after(borrower, 5.0) > max(ltvs[1], lender.origination_ltv())
    assert stressed > base and stressed > quotes[1]
    assert ltvs[0] < ltvs[1] < ltvs[2] and quotes[0] <= quotes[1] <= quotes[2]
    # investment-grade contracts behind the draw lower it
    assert lender.spread(1.0, borrower, 5.0) < stressed
    # the premium is the sensitivity times the leverage above the lender's origination LTV
    premium = m.p["lenders.spread_leverage_sensitivity"] * (lender.ltv_after(borrower, 5.0) - lender.origination_ltv())
    assert stressed == pytest.approx(lender.spread(0.0) + premium)


def _offered_spreads(m, exclude: str) -> float:
    """The average spread each surviving neocloud with a relationship lender is offered on a non-IG draw of US$0.1bn
    (the grade held fixed, so only the risk premia can differ between the paired runs)."""
    quotes = [nc.lender.spread(0.0, nc, 0.1) for nc in m.neoclouds
              if nc.name != exclude and nc.lender is not None and nc.lender.alive]
    return float(np.mean(quotes))


def test_a_default_raises_the_spreads_other_borrowers_are_offered(tmp_path):
    """Paired runs from the same seed, both with used-GPU prices 80% lower from January 2025, one also with a dated
    firm_default of Fluidstack that month: its lender loses money on the seized GPUs, and three months later the other
    borrowers are offered higher spreads than in the run without the default. (A default fully covered by collateral,
    as CoreWeave's is at these prices, costs the lenders nothing and moves no spread.)"""
    drop = '[[shocks]]\ndate = "2025-01"\nkind = "used_gpu_price_drop"\nsize = 0.8\n'
    default = '[[shocks]]\ndate = "2025-01"\nkind = "firm_default"\nfirm = "Fluidstack"\n'
    spreads, losses = {}, {}
    for name, shocks in (("calm", drop), ("default", drop + default)):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'name = "{name}"\n' + shocks)
        m = GPUEconomy(str(path), rng=4, record="series", **{"run.months": 28})
        while m.running:
            m.step()
        spreads[name] = _offered_spreads(m, "Fluidstack")
        losses[name] = m.datacollector.get_model_vars_dataframe()["lender_losses"].sum()
    assert losses["default"] > losses["calm"]
    assert spreads["default"] > spreads["calm"]


# ================================================================================================================
# lender failure
# ================================================================================================================
def test_a_failing_lender_fails_and_its_loans_change_hands_with_the_accounts_closing(fresh_24):
    m = fresh_24
    m.p["run.months"] = m.n_months = 30
    lender = max(m.lenders, key=lambda l: l.book())
    sold = [l for l in lender.loans if l.status not in ("default", "repaid") and l.principal > 0]
    clients = [nc for nc in m.neoclouds if nc.relationship_lender == lender.eid]
    assert sold
    lender.failing = lambda: True  # its net worth exhausted, say
    m.step()  # the month's accounts are checked at its end: the run would stop if they did not close
    assert not lender.alive and lender not in m.lenders and lender in m.failed_lenders
    assert m.current["lender_failures"] == 1
    buyer = max(m.lenders, key=lambda l: l.eid in {x.lender for x in sold})
    assert all(l.lender == buyer.eid for l in sold if l.status != "default")
    assert all(l in buyer.loans for l in sold)
    assert all(nc.relationship_lender == buyer.eid for nc in clients if nc.alive)
    sheets = balance_sheets(m)
    for item in ("cash", "loans_receivable", "gpus_book", "bank_facility", "equity"):
        assert sheets[item][lender.eid] == pytest.approx(0.0, abs=1e-9)
    assert lender.uncalled == 0.0 and lender.lending_room(m.neoclouds[0].eid) == 0.0
    events = [e for e in m.events if e["event"] == "lender_failure"]
    assert len(events) == 1 and lender.name in events[0]["agents"]
    m.step()  # and the economy runs on with the buyer holding the loans


def test_lenders_fail_in_a_credit_freeze_with_collapsing_collateral(tmp_path):
    """Thinly capitalised funds levered on a 90% advance rate against loans secured by GPUs alone, then in January 2025
    a two-year credit freeze (investors withdraw their commitments) and a 90% fall in used-GPU prices: the loan marks
    collapse, the banks' margin calls cannot be met, and after three months funds fail. None fails without the shocks."""
    text = ('name = "fund_run"\n[parameters]\n"lenders.advance_rate" = 0.9\n"lenders.fund_capital" = 0.3\n'
            '"lenders.contract_collateral_share" = 0.0\n')
    shocks = ('[[shocks]]\ndate = "2025-01"\nkind = "credit_freeze"\nsize = 1.0\nmonths = 24\n'
              '[[shocks]]\ndate = "2025-01"\nkind = "used_gpu_price_drop"\nsize = 0.9\n')
    failures, events = {}, {}
    for name, body in (("calm", text), ("stress", text.replace("[parameters]", shocks + "[parameters]"))):
        path = tmp_path / f"{name}.toml"
        path.write_text(body)
        m = GPUEconomy(str(path), rng=0, record="full", **{"run.months": 30})
        while m.running:
            m.step()
        failures[name] = m.datacollector.get_model_vars_dataframe()["lender_failures"].sum()
        events[name] = [e for e in m.events if e["event"] == "lender_failure"]
    assert failures["stress"] >= 1 and failures["calm"] == 0
    assert all("margin call unmet for 3 months" in e["detail"] for e in events["stress"])
    assert all(e["date"] >= "2025-03" for e in events["stress"])  # not before the margin call has run three months


def test_the_leverage_premium_is_bounded_when_a_borrower_has_almost_no_collateral(fresh_24):
    """A fuzzed draw quoted a borrower with next to no collateral an unbounded spread and compounded its interest to
    1e84 US$bn: the premium counts an LTV excess of at most 1."""
    m = fresh_24
    lender = m.lenders[0]
    borrower = next(nc for nc in m.neoclouds if nc.alive)
    lender.ltv_after = lambda b, d: 1e12  # all debt, no collateral
    p = m.p
    ceiling = (p["lenders.spread_non_ig"] + p["lenders.spread_loss_sensitivity"] * lender.loss_rate()
               + p["lenders.spread_leverage_sensitivity"])
    assert lender.spread(0.0, borrower, 1.0) <= ceiling + 1e-12
