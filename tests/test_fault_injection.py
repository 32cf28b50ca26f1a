"""Fault injection: each economic or bookkeeping fault, injected into a running economy by replacing the function that
makes the posting, stops the run, and we know which check catches it.

The table ``FAULTS`` is the one in docs/ODD.md (section 7.14): fault, where it is injected, the check that catches it.
With the accounts as they stood before issue 13 (commit f5473eb), a 12-month run with any of four of these faults
(used-GPU buyers paying for no GPUs, interest paid by the lender, chips sold without or at zero cost of goods) closed
its accounts every month; cash from nothing and the double count were caught by a balance sheet, lost GPUs by the
aggregate GPU count (naming no owner).
"""

from __future__ import annotations

import pytest

from gpucredit.sim import AccountingError, GPUEconomy
from gpucredit.sim import aging
from gpucredit.sim.contracts.register import ContractRegister
from gpucredit.sim.credit.loans import LoanRegister
from gpucredit.sim.markets.chips import ChipMarket
from gpucredit.sim.markets.used_gpus import UsedGpuMarket

SMALL = {"run.months": 12, "population.startups": 300}


def economy():
    return GPUEconomy(rng=4, **SMALL)


def sell_one_gpu_in_phase_8(monkeypatch, model):
    """A distressed neocloud sells one GPU to outside buyers each month, after the month's marks (phase 8): the
    used-GPU market's sale function runs in every month of the test, faulty or not."""
    original = model.mark_and_enforce

    def mark_and_enforce():
        original()
        nc = max(model.neoclouds, key=lambda n: model.fleet.capacity_by_owner[n.eid])
        row = int(model.fleet.rows_of(nc.eid)[0])
        model.used_gpus.sell_cohort(nc.eid, row, 1.0, forced=False)

    monkeypatch.setattr(model, "mark_and_enforce", mark_and_enforce)


# --- the faults: each replaces one function with a faulty copy ---------------------------------------------------
def used_gpu_buyers_pay_50bn_for_no_gpus(monkeypatch, model):
    def sell_cohort(self, seller, row, units, forced):
        led = self.economy.ledger
        led.pay(led.sector("used_gpu_buyers"), seller, 50.0, "used_gpu_sale")  # no GPUs leave the fleet
        led.book(seller, 50.0, "gain_on_gpu_sales")  # the 'gain' that balanced the seller's balance sheet
        return 50.0
    monkeypatch.setattr(UsedGpuMarket, "sell_cohort", sell_cohort)
    sell_one_gpu_in_phase_8(monkeypatch, model)


def used_gpus_paid_for_but_kept(monkeypatch, model):
    def sell_cohort(self, seller, row, units, forced):
        led = self.economy.ledger
        led.pay(led.sector("used_gpu_buyers"), seller, 50.0, "used_gpu_sale", gpus=units)  # says GPUs move; none do
        led.book(seller, 50.0, "gain_on_gpu_sales")
        return 50.0
    monkeypatch.setattr(UsedGpuMarket, "sell_cohort", sell_cohort)
    sell_one_gpu_in_phase_8(monkeypatch, model)


def lender_pays_interest_to_borrower(monkeypatch, model):
    def pay_interest(self, loan, amount):
        self.economy.ledger.pay(loan.lender, loan.borrower, amount, "interest")
    monkeypatch.setattr(LoanRegister, "pay_interest", pay_interest)


def _ship_with_cost_of_goods(monkeypatch, cost_of_goods):
    """The delivery as it is, with its cost-of-goods posting replaced by ``cost_of_goods(post, *posting)``."""
    original = ChipMarket.ship_lots  # (every delivery, ship() included, goes through it)

    def ship(self, *args, **kwargs):
        led = self.economy.ledger
        pay = led.pay
        led.pay = lambda payer, payee, amount, kind, gpus=0.0: (
            cost_of_goods(pay, payer, payee, amount, kind, gpus) if kind == "cost_of_goods"
            else pay(payer, payee, amount, kind, gpus))
        try:
            original(self, *args, **kwargs)
        finally:
            del led.pay
    monkeypatch.setattr(ChipMarket, "ship_lots", ship)


def chips_sold_without_cost_of_goods(monkeypatch, model):
    """The chipmaker's cost-of-goods posting left out of a delivery."""
    _ship_with_cost_of_goods(monkeypatch, lambda pay, *posting: None)


def chips_sold_at_zero_cost_of_goods(monkeypatch, model):
    """The GPUs come from the foundry, for nothing."""
    _ship_with_cost_of_goods(monkeypatch, lambda pay, payer, payee, amount, kind, gpus: pay(payer, payee, 0.0, kind, gpus))


def revenue_credited_from_nowhere(monkeypatch, model):
    """Hyperscalers' AI revenue is credited to their cash a second time, with no payer."""
    original = model.demand.pay_buyers

    def pay_buyers():
        original()
        for h in model.hyperscalers:
            model.ledger.cash[h.eid] += 1.0
    monkeypatch.setattr(model.demand, "pay_buyers", pay_buyers)


def depreciation_loses_gpus(monkeypatch, model):
    """Depreciation applied to the GPU count as well as to book value."""
    original = aging.depreciate

    def depreciate(economy):
        original(economy)
        fleet = economy.fleet
        fleet.count[: fleet.n] *= 1.0 - 1.0 / economy.p["technology.accounting_life_months"]
    monkeypatch.setattr(aging, "depreciate", depreciate)


def contract_payment_counted_twice(monkeypatch, model):
    """A contract payment is received in cash and booked as earned revenue again."""
    original = ContractRegister._settle

    def settle(self, customers, providers, kinds, paid, released):
        original(self, customers, providers, kinds, paid, released)
        for provider, kind, amount in zip(providers, kinds, paid):
            self.economy.ledger.book(provider, amount, kind)
    monkeypatch.setattr(ContractRegister, "_settle", settle)


FAULTS = [  # fault, the function made faulty, the check that catches it (a pattern of its message)
    (used_gpu_buyers_pay_50bn_for_no_gpus, "payment for GPUs moves GPUs", r"'used_gpu_sale' of 50\.0+ US\$bn .* for 0\.0 GPUs"),
    (used_gpus_paid_for_but_kept, "GPU positions", r"GPUs of .* \(neocloud\) not conserved"),
    (lender_pays_interest_to_borrower, "routes of the kind", r"'interest' .* \(lender\) to .* \(neocloud\).* neocloud -> lender"),
    (chips_sold_without_cost_of_goods, "GPU positions", r"GPUs of Nvidia \(chipmaker\) not conserved: its transactions leave it -"),
    (chips_sold_at_zero_cost_of_goods, "payment for GPUs moves GPUs", r"'cost_of_goods' of 0\.0+ US\$bn .* never moves GPUs for nothing"),
    (revenue_credited_from_nowhere, "rows of the flow matrix", r"cash of Microsoft \(hyperscaler\) changed by .* moved outside the ledger"),
    (depreciation_loses_gpus, "GPU positions", r"GPUs of .* not conserved"),
    (contract_payment_counted_twice, "non-cash transfers net to zero", r"non-cash entries 'compute_contract' do not net to zero"),
]


@pytest.mark.parametrize("fault, check, message", FAULTS, ids=[f.__name__ for f, _, _ in FAULTS])
def test_each_injected_fault_stops_the_run_in_its_month_naming_the_party_and_amounts(monkeypatch, fault, check, message):
    model = economy()
    fault(monkeypatch, model)
    with pytest.raises(AccountingError, match=message) as err:
        while model.running:
            model.step()
    text = str(err.value)
    assert f"step {model.month} ({model.date})" in text and ("US$bn" in text or "GPUs" in text)
    assert model.month <= 2, "caught in one of the first months it happens"


def test_the_harness_without_a_fault_runs_clean(monkeypatch):
    """The same run with the phase-8 sale done right passes every check: the faults, not the harness, are caught."""
    model = economy()
    sell_one_gpu_in_phase_8(monkeypatch, model)
    before, resold = model.fleet.sold_outside, 0.0
    while model.running:
        model.step()
        resold += model.flow["used_gpus_resold"]
    # a GPU a month changed hands, to outside buyers or to a neocloud bidding more
    assert model.fleet.sold_outside - before + resold >= 12.0
    assert model.ledger.gpus[model.ledger.sector("used_gpu_buyers")] == pytest.approx(model.fleet.sold_outside)
