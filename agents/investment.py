"""How an investor values new GPU capacity: the full cost of an H100e-hour on a new GPU (the fundamental price the
forecasters anchor to) and the net present value of buying one GPU under a set of price expectations. Neoclouds and
hyperscalers decide their orders with these."""

from __future__ import annotations

import functools

import numpy as np

HOURS_PER_MONTH = 730.0
RESIDUAL_VALUE_SHARE = 0.25  # a new GPU is worth this share of its price at the end of the appraisal horizon


def fundamental_price(unit_price_per_h100e: float, running_cost_per_h100e: float, facility_cost_per_h100e: float,
                      annual_rate: float, life_months: int, utilisation: float = 0.7) -> float:
    """Full cost of an H100e-hour on a new GPU, US$: capital recovery (annuity over the accounting life at
    ``annual_rate``, per year; straight line at a zero rate) plus running and data-centre costs, spread over hours sold
    at normal utilisation."""
    r = annual_rate / 12.0
    discount = 1.0 - (1.0 + r) ** -life_months  # 0 at a zero rate, and at a rate too small to move 1 + r (say 1e-300)
    if discount == 0.0:  # straight-line recovery (the annuity's limit as the rate goes to 0)
        annuity = unit_price_per_h100e / life_months
    else:
        annuity = unit_price_per_h100e * r / discount
    return (annuity / 730.0 + running_cost_per_h100e + facility_cost_per_h100e) / utilisation


def gpu_npv(model, g: int, unit_price: float, hurdle_rate: float, extrapolator_weight: float | None) -> float:
    """Net present value (US$) of buying one new GPU of generation ``g`` at ``unit_price``: the expected
    rental margin (expected spot price x performance - running cost, at the expected utilisation, less the
    data-centre cost) over ``neoclouds.horizon_months`` discounted at ``hurdle_rate``, plus a residual
    value of a quarter of the price, minus the price. While it is being installed (``technology.deploy_months``)
    it earns nothing but its data centre is paid. Expectations follow the market's mix of forecasting
    rules (``extrapolator_weight`` None), or an agent's own weight on extrapolation."""
    m = model
    weight = m.expectations.shares[1] if extrapolator_weight is None else extrapolator_weight
    key = ("gpu_npv", g, unit_price, hurdle_rate, weight)
    npv = this_months_appraisals(m).get(key)
    if npv is None:
        npv = this_months_appraisals(m)[key] = float(gpu_npvs(m, g, unit_price, hurdle_rate, [weight])[0])
    return npv


def gpu_npvs(model, g: int, unit_price: float, hurdle_rate: float, extrapolator_weights) -> np.ndarray:
    """:func:`gpu_npv` (US$) for each of several weights on extrapolation at once, number for number."""
    m = model
    horizon = m.p["neoclouds.horizon_months"]
    months = m.horizons[:horizon]
    paths = m.expectations.price_paths(horizon, extrapolator_weights)
    gen = m.gens[g]
    serving = (paths * gen.perf - m.running_cost[g]) * m.spot.expected_utilisation
    margin = (np.where(months > m.p["technology.deploy_months"], serving, 0.0) - m.facility_cost[g]) * HOURS_PER_MONTH
    discount = discount_factors(hurdle_rate, len(months))
    return (margin * discount).sum(axis=1) + RESIDUAL_VALUE_SHARE * unit_price * discount[-1] - unit_price


def this_months_appraisals(model) -> dict:
    """Appraisals made this month, by what they depend on besides the month's prices, expectations and utilisation
    (which stay put between the phases that move them): agents asking the same question get the same answer."""
    m = model
    stamp = (m.month, m.expectations.inputs(), m.spot.expected_utilisation)
    memo = m.__dict__.get("_appraisals")
    if memo is None or memo[0] != stamp:
        memo = m.__dict__["_appraisals"] = (stamp, {})
    return memo[1]


def roster_key(model) -> tuple:
    """Names the neocloud roster in the keys of shared appraisals: no neocloud enters after the start and each that
    exits joins ``model.defunct``, so the count of exits names who is in the market (cheaper than listing them, which
    every neocloud asking would do: a month's time would grow with the square of their number)."""
    return ("exits", len(model.defunct))


@functools.lru_cache(maxsize=64)
def discount_factors(annual_rate: float, horizon: int) -> np.ndarray:
    """Discount factors ``(1 + r/12)^-t`` for months t = 1..horizon (read-only: the same array is returned for
    the same rate, as all neoclouds discount at the same hurdle rate in a month)."""
    factors = (1.0 + annual_rate / 12.0) ** -np.arange(1, horizon + 1, dtype=float)
    factors.flags.writeable = False
    return factors


def life_discount(horizon: int, remaining_life: np.ndarray, annual_rate: float) -> np.ndarray:
    """The discount factor of months 1..``horizon`` ahead at ``annual_rate`` for a GPU of each remaining life (months),
    0 from the month it is dead: one row per GPU. (A margin, never negative, times this is, bit for bit, the margin
    times whether the GPU is alive times the discount: the factor 1 or 0 is exact.) Used by a neocloud valuing used
    GPUs and by the lenders' appraisal (:mod:`gpucredit.sim.markets.used_gpus`)."""
    alive = np.arange(1, horizon + 1)[None, :] <= remaining_life[:, None]
    return np.where(alive, discount_factors(annual_rate, horizon)[None, :], 0.0)


def used_gpu_values(model, hurdle_rate: float, extrapolator_weights) -> np.ndarray:
    """What one used GPU of each generation is worth to each of several buyers (US$, one row per weight on
    extrapolation, one column per generation): the present value of its expected rental margin (expected spot price x
    performance x its generation's current rent relative to the price index - running and data-centre cost, when positive, at the expected utilisation) over the generation's
    remaining physical life, at ``hurdle_rate``; never more than the same performance costs new at today's list
    price of the newest Nvidia generation (a buyer would buy new instead); zero for generations not yet released."""
    m = model
    life = m.p["technology.physical_life_months"]
    paths = m.expectations.price_paths(life, extrapolator_weights)  # (buyers, months)
    released = np.flatnonzero(m.release <= m.month)  # only these are valued: the others are worth nothing yet
    remaining = np.maximum(0, life - (m.month - m.release[released]))  # months of life left, by generation
    released, remaining = released[remaining > 0], remaining[remaining > 0]  # (a generation past its life is worth 0)
    cost = (m.running_cost + m.facility_cost)[released]
    earning = (m.perf * m.spot.relative_rents())[released]  # H100e at its own generation's rent relative to the index
    discount = life_discount(life, remaining, hurdle_rate)  # by (generation, month), 0 once its GPUs are dead
    # (buyers, generations, months): the margin when positive, per GPU-month at the expected utilisation, discounted;
    # worked out in one array (each step writes over the last: the same numbers as a new array for each)
    margin = np.multiply(paths[:, None, :], earning[None, :, None])
    np.subtract(margin, cost[None, :, None], out=margin)
    np.maximum(margin, 0.0, out=margin)
    np.multiply(margin, HOURS_PER_MONTH * m.spot.expected_utilisation, out=margin)
    np.multiply(margin, discount[None, :, :], out=margin)
    values = np.zeros((len(paths), len(m.gens)))
    values[:, released] = margin.sum(axis=2)
    newest = m.newest_nvidia_gen
    replacement = m.perf * (m.nvidia.list_price(newest) / m.gens[newest].perf)
    values = np.minimum(values, replacement[None, :])
    values[:, m.release > m.month] = 0.0
    return values
