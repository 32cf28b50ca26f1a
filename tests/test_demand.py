"""End-user AI demand and what agents believe about it: diffusion towards an unknown market size, revenue served by the
compute in use, the belief learnt from revenue, sentiment fed by prices, returns and credit losses, and Nvidia's
selective investment as a financing channel."""

from __future__ import annotations

import numpy as np
import pytest

from gpucredit.sim import GPUEconomy
from gpucredit.sim.demand import diffuse
from gpucredit.sim.expectations import Expectations
from gpucredit.sim.market_size import MarketSizeBelief
from gpucredit.sim.markets.compute import spot_demand
from gpucredit.sim.parameters import defaults
from tests.conftest import run


def test_each_run_draws_its_own_market_size_from_its_seed():
    sizes = [GPUEconomy(rng=seed).demand.market_size for seed in range(8)]
    assert len(set(sizes)) == 8
    assert GPUEconomy(rng=3).demand.market_size == sizes[3]  # reproducible
    fixed = {GPUEconomy(rng=seed, **{"demand.market_size_uncertainty": 0.0}).demand.market_size for seed in range(3)}
    assert fixed == {defaults()["demand.market_size"]}


def test_scarce_compute_rations_revenue_and_cheaper_compute_raises_usage():
    """While compute is scarce (early 2023), more compute in use serves more of the potential revenue; once it is
    abundant, more compute adds nothing. At a lower price developers' budgets deploy more H100e (price-elastic use)."""
    m = run(1, seed=2)
    d = m.demand
    m.month = 1  # the next month, served by what ran in this one
    m.spot.in_use_h100e = 0.5 * d.potential * 1e9 / (m.p["demand.revenue_per_h100e_hour"] * 730.0)  # serves half
    state = (d.adoption, d.shock)
    scarce = d.now()
    assert d.service < 1.0 and scarce < d.potential
    d.adoption, d.shock = state
    m.rng = np.random.default_rng(0)
    m.spot.in_use_h100e *= 1.5
    more = d.now()
    assert d.service < 1.0
    assert more > scarce  # the same adopters, more compute: more revenue (shock differs by a draw: compare served share)
    d.adoption, d.shock = state
    m.spot.in_use_h100e *= 100.0
    d.now()
    assert d.service == 1.0  # abundant compute: revenue is the potential
    budgets, contracted = np.array([1.0, 2.0]), np.zeros(2)
    cheap, dear = (spot_demand(price, budgets, contracted, 0.9, 2.0).sum() for price in (1.0, 3.0))
    assert cheap > dear


def test_rationing_slows_adoption():
    assert diffuse(0.1, 0.08 * 0.5) < diffuse(0.1, 0.08)
    assert diffuse(0.999999, 1.0) < 1.0


def _feed(belief: MarketSizeBelief, size: float, months: int, rate: float = 0.95, start: float = 9.0) -> None:
    a = start / size
    for t in range(months):
        if t:
            a = diffuse(a, rate / 12.0)
        belief.observe(size / 12.0 * a, 1.0, rate / 12.0, 1.0, 1.0)


def test_agents_learn_the_market_size_only_when_growth_flattens():
    """In the exponential phase every candidate size explains the revenue equally well, so the belief stays at the
    prior; once growth slows the revenue reveals the size, whichever side of the prior it lies."""
    p = defaults()
    prior = MarketSizeBelief(p).expected_size()
    for true in (800.0, 5000.0):
        early, late = MarketSizeBelief(p), MarketSizeBelief(p)
        _feed(early, true, 12)
        _feed(late, true, 120)
        assert early.expected_size() == pytest.approx(prior, rel=0.02)
        assert late.expected_size() == pytest.approx(true, rel=0.15)
    # and what they expect of next year's revenue follows: a small market leaves little growth to come
    small, large = MarketSizeBelief(p), MarketSizeBelief(p)
    _feed(small, 800.0, 84)
    _feed(large, 5000.0, 84)
    assert small.revenue_factor(12) < large.revenue_factor(12)


def test_the_boom_is_built_on_the_belief_not_on_the_true_size():
    """Two economies from one seed whose true markets differ fourfold, but whose revenue has not yet told them so:
    after 18 months their agents believe in about the same market and plan about the same capacity; the belief, not
    the market drawn, drives investment until the data reveal it."""
    economies = []
    for size in (1000.0, 4000.0):
        m = GPUEconomy(rng=5, **{"run.months": 18})
        m.demand.market_size = size  # the truth, which agents do not see
        m.demand.adoption = m.p["demand.initial_ai_revenue"] / size
        while m.running:
            m.step()
        economies.append(m)
    small, large = economies
    prior = MarketSizeBelief(defaults()).expected_size()
    for m in economies:
        assert m.expectations.belief.expected_size() == pytest.approx(prior, rel=0.1)
    assert small.demand.revenue == pytest.approx(large.demand.revenue, rel=0.05)
    capacity = [sum(h.fleet() for h in m.hyperscalers) for m in economies]
    assert capacity[0] == pytest.approx(capacity[1], rel=0.05)
    # agents who believe in a larger market expect more revenue growth from the same revenue
    p = defaults()
    modest, bold = MarketSizeBelief(p), MarketSizeBelief(dict(p, **{"demand.market_size": 6000.0}))
    for belief in (modest, bold):
        _feed(belief, 1000.0, 24)  # the same two years of revenue
    assert bold.revenue_factor(12) > modest.revenue_factor(12)


def test_credit_losses_and_falling_prices_lower_sentiment():
    p = defaults()
    calm, losses = Expectations(p, 2.0), Expectations(p, 2.0)
    calm.update_sentiment(0.5, 0.5)
    losses.update_sentiment(0.5, 0.5, loss_rate=0.01)
    assert losses.sentiment < calm.sentiment
    falling, rising = Expectations(p, 2.0), Expectations(p, 2.0)
    for t in range(7):
        falling.news_history.append((1.0 * 0.9**t, 1000.0 * 0.9**t))
        rising.news_history.append((1.0 * 1.05**t, 1000.0 * 1.05**t))
    assert falling.market_news() < 0 < rising.market_news()
    p0 = dict(p, **{"expectations.price_news": 0.0, "expectations.return_news": 0.0})
    muted = Expectations(p0, 2.0)
    muted.news_history.extend(falling.news_history)
    assert muted.market_news() == 0.0


def test_nvidia_invests_selectively_and_its_money_lets_an_investee_order_chips_it_could_not_finance(fresh_24):
    m = fresh_24
    investees = m.equity.investees_of(m.nvidia.eid) & {nc.eid for nc in m.neoclouds}
    assert 0 < len(investees) <= m.p["nvidia.max_neocloud_investees"] < len(m.neoclouds)
    nc = next(n for n in m.neoclouds if n.name == "CoreWeave")  # an investee whose chip purchases its cash limits
    assert nc.eid in investees
    g = m.newest_nvidia_gen
    price = m.nvidia.list_price(g)
    before = nc.financeable_units(g, price)
    m.nvidia.strategic_budget = max(m.nvidia.strategic_budget, 2.0)
    m.equity.invest(m.nvidia, nc, 2.0, nc.valuation)
    after = nc.financeable_units(g, price)
    assert after > before + 1000  # US$2bn of Nvidia equity finances thousands of GPUs it could not buy before


def test_circular_metrics_are_neither_zero_nor_one_by_construction(baseline_24):
    from gpucredit.experiments.run import timeseries

    df = timeseries(run(60, seed=2))
    share, trip = df["circular_revenue_share"], df["round_trip_ratio"]
    assert 0.0 < share.max() < 1.0 and 0.0 < trip.max() < 1.0
    assert share.std() > 0 and trip.std() > 0
