"""Shortcuts in the contract register and the compute markets give, bit for bit, what the plain computations give."""

from types import SimpleNamespace

import numpy as np

from gpucredit.sim.contracts.register import RENT_BACK, EndingContracts, add_up, groups


def _register(rng, size: int, parties: int, rent_backs: bool) -> SimpleNamespace:
    """What EndingContracts reads of a register: its columns and the number of ledger parties."""
    kinds = rng.integers(0, RENT_BACK + 1, size=size) if rent_backs else np.zeros(size, dtype=np.int64)
    columns = {"customer": rng.integers(0, parties, size=size), "provider": rng.integers(0, parties, size=size),
               "kind": kinds.astype(np.int8)}
    return SimpleNamespace(_columns=columns, economy=SimpleNamespace(ledger=SimpleNamespace(names=[""] * parties)))


def test_ending_contracts_grouped_by_pair_are_the_groups_of_their_pairs():
    """Contracts ending are sorted once for their books (by customer, provider and kind) and their events (by customer
    and provider): with or without rent-backs among them, the groups by pair are groups() of the pairs themselves, the
    same keys, rows and order, and each group's H100e sums to the same number."""
    rng = np.random.default_rng(5)
    for trial in range(400):
        size, parties = int(rng.integers(1, 700)), int(rng.integers(2, 70))
        register = _register(rng, size, parties, rent_backs=trial % 2 == 1)
        rows = np.sort(rng.choice(size, size=int(rng.integers(1, size + 1)), replace=False))
        qty = rng.lognormal(0.0, 2.0, size)[rows]
        c = register._columns
        pairs = c["customer"][rows] * parties + c["provider"][rows]
        order, by_pair = EndingContracts(register, rows).by_pair()
        plain_order, plain_by_pair = groups(pairs)
        assert by_pair == plain_by_pair
        for (_, first, last), (_, plain_first, plain_last) in zip(by_pair, plain_by_pair):
            assert order[first:last].tolist() == plain_order[plain_first:plain_last].tolist()
            assert add_up(qty[order][first:last]) == qty[plain_order][plain_first:plain_last].sum()


def test_add_up_is_ndarray_sum_bit_for_bit():
    """add_up (np.add.reduce) of a slice is its sum() number for number: the same pairwise reduction, whatever the
    length (below 8, the unrolled blocks of 8 and 128, beyond) and with both signs, zeros and huge values."""
    rng = np.random.default_rng(3)
    for size in list(range(0, 40)) + [127, 128, 129, 255, 256, 257, 1000, 4099]:
        x = rng.lognormal(0.0, 4.0, size) * rng.choice([-1.0, 1.0, 0.0], size)
        for first in (0, 1, 3):
            part = x[first:]
            assert add_up(part) == part.sum() and type(add_up(part)) is type(part.sum())


def test_next_months_forecasts_are_each_rules_path_of_month_one():
    """observe_price takes next month's forecasts from the first month of both rules' cached 240-month paths: that is,
    number for number, the path of month 1 alone, through rising, falling and trend-clipped prices and a fundamental
    that falls (a cost trend) or not."""
    from gpucredit.sim.expectations import Expectations
    from gpucredit.sim.parameters import defaults

    rng = np.random.default_rng(9)
    one = np.array([1.0])
    for weight in (0.0, 0.7, 1.0):
        ex = Expectations(dict(defaults(), **{"expectations.cost_trend_weight": weight}), 2.0)
        price, fundamental = 2.0, 1.5
        for _ in range(60):
            price *= float(np.exp(rng.normal(0.0, 0.15)))
            fundamental *= float(np.exp(rng.normal(-0.02, 0.03)))
            ex.observe_price(price, fundamental)
            assert ex.forecasts.tolist() == [ex.fundamentalist_path(one)[0], ex.extrapolator_path(one)[0]]


def test_start_ups_providers_drawn_as_rng_choice_draws_them():
    """draw_weighted gives rng.choice's indices with p = weights / weights.sum(), and leaves the generator where
    rng.choice leaves it (the next draws equal), for few or many providers, tiny and huge weights, no draw at all."""
    from gpucredit.sim.markets.term import draw_weighted

    for seed in range(300):
        rng = np.random.default_rng(seed)
        weights = rng.lognormal(0.0, 3.0, int(rng.integers(1, 40)))
        k = int(rng.integers(0, 300))
        ours, theirs = np.random.default_rng(seed + 1000), np.random.default_rng(seed + 1000)
        drawn = draw_weighted(ours, weights, k)
        assert drawn.tolist() == theirs.choice(len(weights), size=k, p=weights / weights.sum()).tolist()
        assert ours.random() == theirs.random()


def test_buyers_counted_at_a_price_are_the_thresholds_below_it_whatever_was_asked_before():
    """The demand curve remembers how many buyers bought at the last price asked and keeps the count when it still
    holds: at every price factor, in a bisection's order or at random, at the thresholds themselves and beyond all of
    them, the count is threshold.searchsorted (buyers with equal thresholds, or none, included)."""
    from gpucredit.sim.markets.compute import SpotDemandCurve

    rng = np.random.default_rng(8)
    for trial in range(200):
        size = int(rng.integers(1, 300))
        at_reference = rng.random(size) * (rng.random(size) < 0.9)
        contracted = np.round(rng.random(size) * 5.0, int(rng.integers(0, 3))) * (rng.random(size) < 0.6)
        curve = SpotDemandCurve(at_reference, contracted, 1.2, 2.0)
        thresholds = curve.threshold.tolist()
        lo, hi, asked = np.log(0.01), np.log(500.0), []
        for _ in range(40):  # a bisection's prices, turning at random
            mid = 0.5 * (lo + hi)
            asked.append((np.exp(mid) / 2.0) ** -1.2)
            lo, hi = (mid, hi) if rng.random() < 0.5 else (lo, mid)
        asked += thresholds[: 20] + [0.0, 1e300] + rng.choice(thresholds + [1.0], 20).tolist()
        for f in asked:
            assert curve.buying(f) == curve.threshold.searchsorted(f)
