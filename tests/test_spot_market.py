"""The spot market's quick forms against their plain definitions: the merit order of contract service, the demand
curve of the clearing search and the relative rents asked for many times a month."""

import numpy as np
import pytest

from gpucredit.sim.markets.compute import SpotDemandCurve, spot_demand


def _merit_fill_by_hand(owner, cost, h100e, need):
    """Each owner's GPUs used cheapest first (ties in row order) until its need is met."""
    used = np.zeros(len(owner))
    for o in np.unique(owner):
        left = need[o]
        for r in sorted(np.flatnonzero(owner == o), key=lambda r: cost[r]):  # sorted() is stable
            used[r] = min(max(left, 0.0), h100e[r])
            left -= h100e[r]
    return used


def test_each_provider_serves_its_contracts_with_its_most_efficient_gpus_first(fresh_24):
    spot = fresh_24.spot
    rng = np.random.default_rng(3)
    n_gen = len(spot.cost_rank())
    for _ in range(50):
        k = int(rng.integers(1, 200))
        owner, gen = rng.integers(0, 12, k), rng.integers(0, n_gen, k)
        h100e = rng.random(k) * 100 * (rng.random(k) < 0.9)
        need = rng.random(12) * 400 * (rng.random(12) < 0.8)
        used = spot.merit_fill(owner, gen, h100e, need)
        expected = _merit_fill_by_hand(owner, spot.cost_rank()[gen], h100e, need)
        assert used == pytest.approx(expected, abs=1e-9)
        assert np.bincount(owner, weights=used, minlength=12) == pytest.approx(
            np.minimum(need, np.bincount(owner, weights=h100e, minlength=12)), abs=1e-9)


def test_the_demand_curve_adds_up_to_the_buyers_demand_within_its_bound():
    rng = np.random.default_rng(5)
    budgets = rng.random(500) * (rng.random(500) < 0.9)
    contracted = rng.random(500) * 50 * (rng.random(500) < 0.6)
    at_reference = budgets * 1e9 / (2.0 * 730.0)
    curve = SpotDemandCurve(at_reference, contracted, 1.2, 2.0)
    for price in np.exp(np.linspace(np.log(0.01), np.log(500.0), 60)):
        total, bound = curve.total(float(price))
        exact = spot_demand(float(price), budgets, contracted, 1.2, 2.0, at_reference).sum()
        assert abs(total - exact) <= bound
        assert isinstance(total, float)


def test_relative_rents_follow_each_posting_and_cannot_be_written(fresh_24):
    m = fresh_24
    spot = m.spot
    before = spot.relative_rents()
    assert before is spot.relative_rents()  # worked out once per posting
    with pytest.raises(ValueError):
        before[0] = 2.0
    m.step()  # a new month posts new rents
    assert np.array_equal(spot.relative_rents(), np.where(spot.premia > 0, spot.premia, 1.0))
    assert not np.array_equal(spot.relative_rents(), before)
