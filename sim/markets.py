"""Markets: compute spot clearing, contract pricing, primary chip allocation and the secondary GPU market.

Markets are plain functions and small state objects with their own clearing and price-impact rules;
agents only place orders and offers.
"""

from __future__ import annotations

import bisect
import functools
import math

import numpy as np

from .technology import BN, HOURS_PER_MONTH


# --------------------------------------------------------------------------------------------------
# Compute spot market
# --------------------------------------------------------------------------------------------------
def reference_demand(budgets: np.ndarray, reference_price: float) -> np.ndarray:
    """H100e each buyer wants in total at the reference price: ``b / (p_ref x 730 h)`` for a compute budget
    ``b`` (US$bn/month). It does not depend on the price, so a clearing search computes it once."""
    return budgets * BN / (reference_price * HOURS_PER_MONTH)


def spot_demand(price: float, budgets: np.ndarray, contracted: np.ndarray, elasticity: float,
                reference_price: float, at_reference: np.ndarray | None = None) -> np.ndarray:
    """Each buyer's spot demand in H100e at ``price`` (US$/H100e-hour).

    A buyer with compute budget ``b`` (US$bn/month) wants ``b / (p_ref x 730 h) x (p / p_ref)^-elasticity``
    H100e in total; what its take-or-pay contracts already cover is not bought on spot. ``at_reference`` is
    :func:`reference_demand` of ``budgets``, when already computed.
    """
    if at_reference is None:
        at_reference = reference_demand(budgets, reference_price)
    total = at_reference * (price / reference_price) ** (-elasticity)
    return np.maximum(total - contracted, 0.0)


class SpotDemandCurve:
    """Total spot demand of all buyers (the sum of :func:`spot_demand`) as a function of the price, quick to
    evaluate many times in a clearing search, with a bound on its rounding error.

    A buyer with reference demand ``a`` and contracts ``c`` buys ``a f - c`` on spot when the price factor
    ``f = (p / p_ref)^-elasticity`` exceeds ``c / a``, nothing otherwise. With the buyers sorted by that
    threshold, the total at any price is ``f A - C`` (the sums of ``a`` and ``c`` over the buyers still buying),
    found by bisection on the thresholds. It differs from the buyer-by-buyer sum only by rounding, at most
    :meth:`total`'s bound, so a search can rely on its sign wherever it is further than that from zero."""

    def __init__(self, at_reference: np.ndarray, contracted: np.ndarray, elasticity: float, reference_price: float):
        self.elasticity, self.reference_price = elasticity, reference_price
        buying = at_reference > 0  # the others never buy on spot (as long as their contracts are not negative)
        a, c = at_reference[buying], contracted[buying]
        threshold = c / a
        order = np.argsort(threshold)
        self.threshold = threshold[order].tolist()
        # sums over the first k buyers in threshold order (those buying at a factor above all their thresholds)
        self.a_upto = np.concatenate(([0.0], np.cumsum(a[order])))
        self.c_upto = np.concatenate(([0.0], np.cumsum(c[order])))
        exact = not (contracted[~buying] < 0).any()
        # rounding of the sorted sums and of the buyer-by-buyer sum: a few units in the last place per buyer
        self.relative_error = 4.0 * (len(contracted) + 8) * np.finfo(float).eps if exact else math.inf
        self.total_a, self.total_c = float(self.a_upto[-1]), float(self.c_upto[-1])

    def total(self, price: float) -> tuple[float, float]:
        """Total spot demand at ``price`` and a bound on its difference from ``spot_demand(...).sum()``."""
        f = (price / self.reference_price) ** (-self.elasticity)
        k = bisect.bisect_left(self.threshold, f)  # the first k buyers buy on spot (up to rounding at the threshold)
        return f * float(self.a_upto[k]) - float(self.c_upto[k]), self.relative_error * (f * self.total_a + self.total_c)


def spot_supply(price: float, available: np.ndarray, cost: np.ndarray) -> float:
    """H100e offered at ``price``: uncommitted capacity whose running cost per H100e-hour is covered."""
    return float(available[cost <= price].sum())


def clearing_price(budgets, contracted, available, cost, elasticity, reference_price,
                   low: float = 0.01, high: float = 500.0) -> float:
    """Price at which spot demand equals spot supply (bisection on log price; demand falls and supply
    rises with the price, so the excess-demand function crosses zero once)."""
    at_reference = reference_demand(budgets, reference_price)
    lo, hi = math.log(low), math.log(high)
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        p = math.exp(mid)
        excess = (spot_demand(p, budgets, contracted, elasticity, reference_price, at_reference).sum()
                  - spot_supply(p, available, cost))
        if excess > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def fill_merit_order(quantity: float, available: np.ndarray, cost: np.ndarray, price: float) -> np.ndarray:
    """Share of each generation's uncommitted capacity sold when ``quantity`` H100e are demanded:
    the cheapest capacity per H100e-hour is used first (merit order by efficiency); capacity whose
    running cost exceeds the price is idle; the marginal generation is shared pro rata among owners."""
    fill = np.zeros_like(available)
    remaining = quantity
    capacity, unit_cost = available.tolist(), cost.tolist()
    for g in np.argsort(cost, kind="stable").tolist():
        if unit_cost[g] > price or remaining <= 0 or capacity[g] <= 0:
            continue
        used = min(capacity[g], remaining)
        fill[g] = used / capacity[g]
        remaining -= used
    return fill


def posted_price(previous: float, clearing: float, adjustment: float) -> float:
    """Rental prices are posted and move part of the way to the clearing price each month."""
    return math.exp((1.0 - adjustment) * math.log(previous) + adjustment * math.log(clearing))


# --------------------------------------------------------------------------------------------------
# Contract market
# --------------------------------------------------------------------------------------------------
def contract_price(expected_path: np.ndarray, sentiment: float, term_premium: float,
                   term_premium_sentiment: float, fundamental: float = math.inf, cap: float = math.inf) -> float:
    """Contract price per H100e-hour = expected average spot over the term x (1 + term premium), the
    premium rising with sentiment (buyers pay up to lock in scarce capacity in a boom), but at most ``cap``
    x the ``fundamental`` price: no term buyer pays more than capacity built for it would cost."""
    premium = term_premium + term_premium_sentiment * sentiment
    return min(float(np.mean(expected_path)) * max(0.2, 1.0 + premium), cap * fundamental)


def gpu_npv(model, g: int, unit_price: float, hurdle_rate: float, extrapolator_weight: float | None) -> float:
    """Net present value (US$) of buying one new GPU of generation ``g`` at ``unit_price``: the expected
    rental margin (expected spot price x performance - running cost, at the expected utilisation, less the
    data-centre cost) over ``neoclouds.horizon_months`` discounted at ``hurdle_rate``, plus a residual
    value of a quarter of the price, minus the price. While it is being installed (``technology.deploy_months``)
    it earns nothing but its data centre is paid. Expectations follow the market's mix of forecasting
    rules, or an agent's own weight on extrapolation."""
    m = model
    horizon = m.p["neoclouds.horizon_months"]
    months = m.horizons[:horizon]
    path = m.expectations.price_path(months, extrapolator_weight)
    gen = m.gens[g]
    serving = (path * gen.perf - m.running_cost[g]) * m.expected_utilisation
    margin = (np.where(months > m.p["technology.deploy_months"], serving, 0.0) - m.facility_cost[g]) * HOURS_PER_MONTH
    discount = discount_factors(hurdle_rate, len(months))
    return float((margin * discount).sum() + 0.25 * unit_price * discount[-1] - unit_price)


@functools.lru_cache(maxsize=64)
def discount_factors(annual_rate: float, horizon: int) -> np.ndarray:
    """Discount factors ``(1 + r/12)^-t`` for months t = 1..horizon (read-only: the same array is returned for
    the same rate, as all neoclouds discount at the same hurdle rate in a month)."""
    factors = (1.0 + annual_rate / 12.0) ** -np.arange(1, horizon + 1, dtype=float)
    factors.flags.writeable = False
    return factors


# --------------------------------------------------------------------------------------------------
# Primary chip market
# --------------------------------------------------------------------------------------------------
def allocate_chips(requested: np.ndarray, weights: np.ndarray, supply: float) -> np.ndarray:
    """Allocate ``supply`` GPUs of one generation among orders ``requested``.

    With enough supply every order is filled. Otherwise orders are filled in proportion to
    ``requested x weight`` (weight 1 = pro rata; investees of the chipmaker can carry a preference
    weight), capped at what each buyer asked for, re-distributing any remainder (water-filling)."""
    requested = np.asarray(requested, dtype=float)
    if requested.sum() <= supply:
        return requested.copy()
    alloc = np.zeros_like(requested)
    open_ = requested > 0
    left = supply
    for _ in range(len(requested) + 1):
        if left <= 1e-9 or not open_.any():
            break
        w = requested * weights * open_
        share = left * w / w.sum()
        take = np.minimum(share, requested - alloc)
        alloc += take
        left -= take.sum()
        open_ = open_ & (requested - alloc > 1e-9)
    return alloc


# --------------------------------------------------------------------------------------------------
# Secondary GPU market
# --------------------------------------------------------------------------------------------------
def appraise(expected_path: np.ndarray, perf: np.ndarray, running_cost: np.ndarray, remaining_life: np.ndarray,
             utilisation: float, annual_rate: float, replacement_cost: np.ndarray) -> np.ndarray:
    """Appraised value of one used GPU per generation, US$: the present value of its expected rental
    margin (expected H100e price x performance - running cost, when positive) over its remaining life,
    at the expected utilisation, capped at the replacement cost of the same performance new.

    ``expected_path`` is the expected spot price for months 1..H ahead."""
    horizon = len(expected_path)
    months = np.arange(1, horizon + 1)
    discount = (1.0 + annual_rate / 12.0) ** -months
    margin = np.maximum(np.outer(perf, expected_path) - running_cost[:, None], 0.0) * HOURS_PER_MONTH * utilisation
    alive = months[None, :] <= remaining_life[:, None]
    value = (margin * alive * discount).sum(axis=1)
    return np.minimum(value, replacement_cost)


class SecondaryMarket:
    """Used-GPU prices: appraisal less a liquidity discount, less a fire-sale discount that rises with
    forced sales relative to market depth and decays with a half-life. Outside buyers absorb what is
    sold at that price. The price marks every loan's collateral, so one seller's fire sale tightens
    every other borrower's covenant."""

    def __init__(self, params):
        self.liquidity_discount = params["markets.liquidity_discount"]
        self.impact = params["markets.price_impact"]
        self.depth_share = params["markets.market_depth"]
        self.decay = 0.5 ** (1.0 / params["markets.impact_half_life"])
        self.pressure = 0.0  # log discount from forced sales
        self.appraisal = np.zeros(0)
        self.prices = np.zeros(0)

    def discount_factor(self) -> float:
        return (1.0 - self.liquidity_discount) * math.exp(-self.pressure)

    def mark(self, appraisal: np.ndarray) -> np.ndarray:
        self.appraisal = appraisal
        self.prices = appraisal * self.discount_factor()
        return self.prices

    def absorb_forced_sales(self, volume_h100e: float, installed_h100e: float) -> None:
        """Forced sales of ``volume_h100e`` push the discount up, immediately re-marking every price."""
        depth = max(self.depth_share * installed_h100e, 1.0)
        self.pressure += self.impact * volume_h100e / depth
        self.prices = self.appraisal * self.discount_factor()

    def decay_pressure(self) -> None:
        self.pressure *= self.decay
