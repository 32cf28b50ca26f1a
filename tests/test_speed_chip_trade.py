"""Shortcuts on the chip-trade and financing paths give, bit for bit, what the plain rules give."""

import numpy as np
import pytest


def test_deliveries_keep_what_buyers_have_on_order_as_a_recount_of_the_order_book_gives(fresh_24):
    """A delivery takes what it fills off what its buyer has on order (in all and from the chipmaker) and the deposits
    applied off its deposits, order by order (ChipMarket._order_changed, written out in deliver); after a month's
    trade those tallies are what a recount of the order book gives, to rounding."""
    m = fresh_24
    chips = m.chips
    for phase in (m.open_month, m.earn_ai_revenue, m.fund_developers, m.sign_compute_contracts, m.trade_chips):
        phase()
    assert m.flow["nvidia_allocation_ratio"] > 0 and m.flow["gpu_purchases"] > 0  # chips were delivered
    kept = [dict(chips.on_order), dict(chips.on_order_from), dict(chips.deposits_paid)]
    chips.tally()
    for tallies, recount in zip(kept, (chips.on_order, chips.on_order_from, chips.deposits_paid)):
        assert len([k for k, v in tallies.items() if v > 1.0]) > 3
        for key in set(tallies) | set(recount):
            assert tallies.get(key, 0.0) == pytest.approx(recount.get(key, 0.0), rel=1e-9, abs=1e-6), key


def test_a_lenders_room_is_its_funding_capacity_or_the_concentration_limit_whichever_is_lower(fresh_24):
    """A lender's room for a borrower is the lower of its funding capacity and what the concentration limit leaves; when
    that limit is below the floor of its capacity (uncalled commitments less its facility) the capacity is not worked
    out. Over lenders with many mixes of cash, commitments, facility debt and limits the room is the one worked out in
    full, of the same type, and the capacity never falls below its floor."""
    m = fresh_24
    led, p = m.ledger, m.p
    rng = np.random.default_rng(11)
    credit_investors = led.sector("credit_investors")
    below = above = 0
    for _ in range(30):
        p["lenders.concentration_limit"] = float(rng.uniform(0.02, 1.0))
        for lender in m.lenders:
            capital = lender.capital()
            lender.uncalled = np.float64(rng.uniform(0.0, 1.5) * capital)
            lender.borrowings = np.float64(rng.uniform(0.0, 1.5) * capital)
            cash = led.cash[lender.eid]
            if cash > 0:
                led.pay(lender.eid, credit_investors, float(rng.uniform(0.0, 1.0) * cash), "fund_outflow")
            led.pay(credit_investors, lender.eid, float(rng.uniform(0.0, 0.5) * capital), "capital_call")
            capital = lender.capital()  # (its capital moves with the capital called and paid out)
            for nc in m.neoclouds:
                limit = p["lenders.concentration_limit"] * capital - m.loans.exposure(lender.eid, nc.eid)
                room = lender.lending_room(nc.eid)
                full = max(0.0, min(lender.funding_capacity(), limit)) if limit > 0 else 0.0
                assert room == full and type(room) is type(full)
                assert lender.funding_capacity() >= lender.funding_capacity_floor()
                if limit > 0:
                    below += limit < lender.funding_capacity_floor()
                    above += limit >= lender.funding_capacity_floor()
    assert below > 100 and above > 100  # both ways of working the room out were taken
