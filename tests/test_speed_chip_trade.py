"""Shortcuts on the chip-trade and financing paths give, bit for bit, what the plain rules give."""

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

