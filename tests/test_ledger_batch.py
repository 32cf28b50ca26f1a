"""The ledger's batched contract payments (Ledger.pay_contracts) make exactly the entries of a payment and two non-cash
entries per group (Ledger.pay, Ledger.book): the same values, bit for bit, in the same order, and the same refusals."""

import numpy as np
import pytest

from gpucredit.sim.ledger import AccountingError, Ledger


def _ledger():
    led = Ledger()
    led.start_step(14, "2024-03")
    roles = ["lab", "lab", "startups", "hyperscaler", "chipmaker", "neocloud", "neocloud", "neocloud", "lender"]
    return led, [led.register(f"{role} {i}", role, cash=50.0) for i, role in enumerate(roles)]


def _state(led):
    """Everything the month-end checks and the series read, with the order of every column."""
    columns = lambda d: [(k, list(v.items())) for k, v in d.items()]
    return (led.cash, led.equity, columns(led.income), columns(led.flows), columns(led.transfers),
            [type(x) for x in led.cash + led.equity])


def _groups(rng, parties, k):
    """``k`` random contract payments: customers (labs, start-ups, a hyperscaler; Nvidia for rent-backs), providers
    (neoclouds, a lender), amounts with zeros and rounding-level negatives, pairs paid twice."""
    lab0, lab1, startups, hyperscaler, nvidia, nc0, nc1, nc2, lender = parties
    out = []
    for _ in range(k):
        rent_back = rng.random() < 0.2
        customer = nvidia if rent_back else [lab0, lab1, startups, hyperscaler][rng.integers(4)]
        provider = [nc0, nc1, nc2, lender][rng.integers(4)]
        paid, release = (float(x) for x in rng.choice([0.0, -1e-17, rng.random(), rng.random() * 1e-3], size=2))
        out.append((customer, provider, "rent_back" if rent_back else "compute_contract", paid, abs(release)))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_batched_contract_payments_make_the_entries_of_one_payment_and_two_entries_per_group(seed):
    rng = np.random.default_rng(seed)
    batched, parties = _ledger()
    one_by_one, _ = _ledger()
    for _ in range(3):  # three batches in one month: pairs and kinds already paid, and new ones
        groups = _groups(rng, parties, int(rng.integers(1, 30)))
        batched.pay_contracts(*(list(x) for x in zip(*groups)))
        for customer, provider, kind, paid, release in groups:
            one_by_one.pay(customer, provider, paid, kind)
            one_by_one.book(customer, -release, kind)
            one_by_one.book(provider, release, kind)
        assert _state(batched) == _state(one_by_one)


def test_batched_contract_payments_refuse_a_route_their_kind_does_not_declare():
    led, (lab0, lab1, startups, hyperscaler, nvidia, nc0, *_rest) = _ledger()
    led.pay_contracts([lab0], [nc0], ["compute_contract"], [1.0], [0.5])  # the kind's column is open from here
    with pytest.raises(AccountingError, match="'rent_back' .* from lab 0 \\(lab\\) to neocloud 5 \\(neocloud\\)"):
        led.pay_contracts([nvidia, lab0], [nc0, nc0], ["rent_back", "rent_back"], [1.0, 1.0], [0.0, 0.0])
    with pytest.raises(AccountingError, match="'compute_contract' .* from neocloud 5 \\(neocloud\\) to lab 1"):
        led.pay_contracts([nc0], [lab1], ["compute_contract"], [1.0], [0.0])
    assert led.cash[lab1] == 50.0 and led.cash[nc0] == 50.0 + 1.0 + 1.0  # the refused payments moved nothing


@pytest.mark.parametrize("seed", range(10))
def test_batched_non_cash_entries_are_the_entries_booked_one_by_one(seed):
    """Depreciation (one-sided) and prepayments earned or kept (transfers between customer and provider), mixed in one
    batch as the register's expiries make them: the same equity, income and transfer entries in the same order."""
    rng = np.random.default_rng(seed)
    batched, parties = _ledger()
    one_by_one, _ = _ledger()
    parties = parties + [batched.sector("recyclers")]  # an outside sector keeps no book equity: nothing is entered
    for _ in range(3):
        k = int(rng.integers(1, 40))
        eids = rng.choice(parties, size=k).tolist()
        amounts = rng.choice([0.0, -0.0, 1.0, -1.0], size=k) * rng.random(k)
        items = [["depreciation", "compute_contract", "rent_back", "contracts_terminated"][i] for i in rng.integers(4, size=k)]
        batched.book_all(eids, amounts if seed % 2 else amounts.tolist(), items)  # an array, or plain floats as they are
        for eid, amount, item in zip(eids, amounts, items):
            one_by_one.book(eid, amount, item)
        assert _state(batched) == _state(one_by_one)
    with pytest.raises(AccountingError, match="non-cash item 'windfall'"):
        batched.book_all([parties[0]], [1.0], ["windfall"])


def test_incomes_of_several_parties_are_each_partys_income_of_the_items():
    """The series' EBITDA of all neoclouds reads each one's income of eight items at once: the same sums as one by one,
    items with no entry this month (no column yet) counting zero."""
    rng = np.random.default_rng(3)
    led, parties = _ledger()
    items = ["depreciation", "compute_contract", "scrapping", "rent_back", "interest"]  # scrapping, interest: none
    for _ in range(200):
        led.book(int(rng.choice(parties)), float(rng.normal()), items[int(rng.choice([0, 1, 3]))])
    assert led.incomes_of(parties, *items) == [led.income_of(eid, *items) for eid in parties]
    assert led.incomes_of(parties, *items) == [sum(led.income[i].get(eid, 0.0) for i in items if i in led.income)
                                               for eid in parties]
    assert led.income_of(parties[0], "scrapping") == 0.0 and "scrapping" not in led.income  # (nothing opened)


def test_a_route_is_checked_once_per_pair_and_a_refused_pair_is_refused_every_time():
    """The ledger notes the pairs found on their kind's routes (roles never change) and checks only new ones: a pair
    refused once is refused again, in later months too, and a pair accepted stays accepted."""
    led, (lab0, lab1, startups, hyperscaler, nvidia, nc0, *_rest, lender) = _ledger()
    for month in range(15, 18):
        led.start_step(month, "2024-04")
        led.pay(nc0, lender, 0.25, "interest")  # a borrower pays its lender
        for _ in range(2):
            with pytest.raises(AccountingError, match="'interest' .* from lender 8 \\(lender\\) to neocloud 5"):
                led.pay(lender, nc0, 0.25, "interest")
            with pytest.raises(AccountingError, match="'rent_back' .* from lab 0 \\(lab\\)"):
                led.pay_contracts([lab0], [nc0], ["rent_back"], [1.0], [0.0])
    assert led.cash[nc0] == 50.0 - 0.75 and led.cash[lender] == 50.0 + 0.75


def test_batched_contract_payments_take_arrays_and_numpy_scalars_as_plain_numbers():
    """Lists of plain numbers are taken as they are; arrays, and lists holding numpy scalars, give the same entries and
    leave plain Python floats in the balances (a numpy scalar there would change every later compensated sum)."""
    rng = np.random.default_rng(7)
    plain, parties = _ledger()
    groups = _groups(rng, parties, 25)
    plain.pay_contracts(*(list(x) for x in zip(*groups)))
    customers, providers, kinds, paid, released = (list(x) for x in zip(*groups))
    for as_given in ((np.array(customers), np.array(providers), kinds, np.array(paid), np.array(released)),
                     ([np.int64(c) for c in customers], providers, kinds, [np.float64(x) for x in paid],
                      [np.float64(x) for x in released])):
        batched, _ = _ledger()
        batched.pay_contracts(*as_given)
        assert _state(batched) == _state(plain)
        assert {type(x) for x in batched.cash + batched.equity} == {float}
