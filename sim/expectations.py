"""Heterogeneous expectations with switching (Brock and Hommes 1998) and the sentiment index.

Two forecasting rules for the spot price of an H100e-hour:

* fundamentalists expect the price to revert to its *fundamental* level, the full cost of an H100e-hour
  on the newest generation (capital recovery at the cost of capital over the accounting life plus running
  and data-centre costs, at normal utilisation), closing ``1/reversion_months`` of the gap each month; they
  know that the fundamental itself keeps falling with technical progress (each generation is cheaper per
  H100e) and project its realised rate of decline over the last ``cost_trend_months`` forward, weighted by
  ``cost_trend_weight`` (0 = a constant anchor, 1 = the full trend): the anchor of a GPU bought today is
  the cost of the GPUs that will compete with it tomorrow;
* extrapolators expect the recent trend (mean log change over the last three months, times
  ``trend_weight``) to continue for up to a year, and the price reached to revert to the fundamental after that.

Each rule's fitness is an exponentially weighted average of minus its squared one-month forecast error
(in units of (10 x log error)^2); the population shares follow a logit with intensity of choice ``beta``.
The same shares apply to the forecasts of AI revenue behind investment plans and the sentiment index:
fundamentalists project adoption towards the market size they have learnt so far (:mod:`.market_size`: a belief
over the unknown long-run market, updated from the revenue that arrives), extrapolators expect the latest quarter's
growth of AI revenue (annualised) to continue. Sentiment is a persistent (exponentially weighted) average of
``tanh(news)``, and the news is what agents see:

* expected AI-revenue growth above ``neutral_growth``, in units of ``sentiment_scale``;
* compute prices: ``price_news`` x the 6-month log change of the spot price relative to the fundamental (rents
  rising faster than the cost of new capacity is good news for everyone who owns or finances GPUs);
* returns: ``return_news`` x the 6-month log returns of used GPUs (market value per installed H100e) and of
  Nvidia's equity, averaged;
* credit: ``- default_news x 12 x default rate - loss_news x 12 x loss rate``, the share of GPU-backed debt that
  defaults in the month and lenders' credit losses over GPU-backed lending, both annualised (a forced default or a
  credit loss lowers sentiment).

Each market term is clipped to +-1 (a log change beyond it is news of the same size).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..agents.investment import fundamental_price
from .market_size import MarketSizeBelief

RETURN_MONTHS = 6  # window of the price and return news in sentiment


class Expectations:
    def __init__(self, params, initial_price: float):
        self.beta = params["expectations.intensity_of_choice"]
        self.memory = params["expectations.memory"]
        self.trend_weight = params["expectations.trend_weight"]
        self.reversion = 1.0 / params["expectations.reversion_months"]
        self.scale = params["expectations.sentiment_scale"]
        self.neutral = params["expectations.neutral_growth"]
        self.sentiment_memory = params["expectations.sentiment_memory"]
        self.default_news = params["expectations.default_news"]
        self.loss_news = params["expectations.loss_news"]
        self.price_news = params["expectations.price_news"]
        self.return_news = params["expectations.return_news"]
        self.belief = MarketSizeBelief(params)
        self.momentum = 0.0  # the latest quarter's AI-revenue growth, annualised (the extrapolators' forecast)
        self.news_history: deque = deque(maxlen=RETURN_MONTHS + 1)  # (spot / fundamental, Nvidia's market cap)
        self.cost_trend_weight = params["expectations.cost_trend_weight"]
        self.cost_trend_months = params["expectations.cost_trend_months"]
        self.log_fundamentals = [math.log(initial_price)]
        self.cost_decline = 0.0  # expected monthly log decline of the fundamental (technical progress)
        self.log_prices = [math.log(initial_price)] * 4
        self.fitness = np.zeros(2)  # [fundamentalist, extrapolator]
        self.shares = np.array([0.5, 0.5])
        self.fundamental = initial_price
        self.forecasts = np.array([initial_price, initial_price])  # made last month for this month
        self.sentiment = 0.0
        self.expected_growth = 0.0
        self._months = np.arange(1, 241, dtype=float)
        self._paths = None  # (inputs, both rules' paths for months 1..240), recomputed when the inputs change
        # what the market observes, month by month (the last 24 months)
        self.fundamental_price = initial_price  # the full cost of new capacity this month (the market's anchor)
        self.ai_revenue_history: deque = deque(maxlen=24)  # end-user AI revenue, US$bn/month
        self.collateral_index_history: deque = deque(maxlen=24)  # market value per installed H100e, US$
        self.collateral_return_6m = 0.0  # 6-month return of that index

    def anchor(self, fundamental: float) -> None:
        """Set the fundamental the forecasters start from (before any price has been observed)."""
        self.fundamental = fundamental
        self.log_fundamentals = [math.log(fundamental)]

    # --- the two rules --------------------------------------------------------------------------
    def trend(self) -> float:
        lp = self.log_prices
        return self.trend_weight * (lp[-1] - lp[-4]) / 3.0

    def fundamental_path(self, horizon: np.ndarray) -> np.ndarray:
        """The expected fundamental ``horizon`` months ahead: today's, falling at the projected rate of
        technical progress."""
        return self.fundamental * np.exp(-self.cost_decline * horizon)

    def gap_decay(self) -> float:
        """The share of a gap between the price and the fundamental expected to remain a month later: the gap closes
        at ``1 / reversion_months`` a month, but never more slowly than the fundamental itself falls, so that the
        mispricing relative to the fundamental is not expected to widen (and no expected price is negative)."""
        return min(1.0 - self.reversion, math.exp(-self.cost_decline))

    def fundamentalist_path(self, horizon: np.ndarray) -> np.ndarray:
        p = math.exp(self.log_prices[-1])
        anchor = self.fundamental_path(horizon)
        return anchor + (p - self.fundamental) * self.gap_decay() ** horizon

    def extrapolator_path(self, horizon: np.ndarray) -> np.ndarray:
        """The trend continues for a year; beyond it extrapolators share the fundamentalists' anchor and expect
        the price reached to revert to the fundamental at the same speed."""
        p = math.exp(self.log_prices[-1])
        trended = p * np.exp(np.clip(self.trend(), -0.05, 0.05) * np.minimum(horizon, 12))
        beyond = np.maximum(horizon - 12, 0)
        anchor = self.fundamental_path(horizon)
        reached = self.fundamental_path(np.minimum(horizon, 12))
        return anchor + (trended - reached) * self.gap_decay() ** beyond

    def inputs(self) -> tuple:
        """What the two rules' paths depend on this month (besides the fixed parameters)."""
        return (self.fundamental, self.cost_decline, self.log_prices[-1], self.log_prices[-4])

    def rule_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """The fundamentalists' and the extrapolators' expected spot price for months 1..240 ahead (cached until
        :meth:`inputs` change)."""
        key = self.inputs()
        if self._paths is None or self._paths[0] != key:
            self._paths = (key, self.fundamentalist_path(self._months), self.extrapolator_path(self._months))
        return self._paths[1], self._paths[2]

    def price_path(self, horizon: np.ndarray, extrapolator_weight: float | None = None) -> np.ndarray:
        """Expected spot price (US$/H100e-hour) ``horizon`` months ahead, for the market mix of rules
        or for an agent with its own weight on extrapolation."""
        w = self.shares[1] if extrapolator_weight is None else extrapolator_weight
        w = min(1.0, max(0.0, w))
        k = len(horizon)
        if 0 < k <= len(self._months) and horizon[0] == 1.0 and horizon[-1] == k:  # months 1..k: cached paths
            fundamentalist, extrapolator = self.rule_paths()
            return (1.0 - w) * fundamentalist[:k] + w * extrapolator[:k]
        return (1.0 - w) * self.fundamentalist_path(horizon) + w * self.extrapolator_path(horizon)

    def price_paths(self, months: int, extrapolator_weights: np.ndarray) -> np.ndarray:
        """Expected spot prices for months 1..``months`` ahead (at most 240), one row per weight on extrapolation:
        row i is ``price_path(1..months, extrapolator_weights[i])``, number for number."""
        w = np.clip(np.asarray(extrapolator_weights, dtype=float), 0.0, 1.0)[:, None]
        fundamentalist, extrapolator = self.rule_paths()
        return (1.0 - w) * fundamentalist[:months] + w * extrapolator[:months]

    # --- monthly update -------------------------------------------------------------------------------
    def observe_price(self, price: float, fundamental: float) -> None:
        """Score last month's forecasts against the realised price, switch, and forecast again."""
        errors = 10.0 * (math.log(price) - np.log(self.forecasts))
        self.fitness = self.memory * self.fitness - (1.0 - self.memory) * errors**2
        z = self.beta * (self.fitness - self.fitness.max())
        weights = np.exp(z)
        self.shares = weights / weights.sum()
        self.log_prices.append(math.log(price))
        del self.log_prices[:-13]
        self.fundamental = fundamental
        self.log_fundamentals.append(math.log(fundamental))
        del self.log_fundamentals[:-(self.cost_trend_months + 1)]
        lf = self.log_fundamentals
        trend = (lf[0] - lf[-1]) / max(len(lf) - 1, 1)
        self.cost_decline = self.cost_trend_weight * max(0.0, trend)
        # next month's forecasts: the first month of both rules' paths, worked out now for the month's readers (an
        # elementwise path's first element is the path of month 1 alone)
        fundamentalist, extrapolator = self.rule_paths()
        self.forecasts = np.array([fundamentalist[0], extrapolator[0]])

    def revenue_factor(self, months: float, extrapolator_weight: float | None = None) -> float:
        """Expected AI revenue ``months`` ahead over today's, for the market mix of rules (or a given weight on
        extrapolation): fundamentalists project adoption towards the market size they believe in, extrapolators the
        latest quarter's growth (times ``trend_weight``; at worst -50% a year)."""
        w = self.shares[1] if extrapolator_weight is None else min(1.0, max(0.0, extrapolator_weight))
        extrapolated = (1.0 + max(-0.5, self.trend_weight * self.momentum)) ** (months / 12.0)
        return (1.0 - w) * self.belief.revenue_factor(months) + w * extrapolated

    def market_news(self) -> float:
        """Price and return news over the last 6 months (see the module docstring), before the credit news."""
        if len(self.news_history) <= RETURN_MONTHS:
            return 0.0
        (rent_then, cap_then), (rent_now, cap_now) = self.news_history[0], self.news_history[-1]
        clip = lambda x: min(1.0, max(-1.0, x))
        log_change = lambda now, then: clip(math.log(now / then)) if now > 0 and then > 0 else 0.0
        returns = 0.5 * (clip(self.collateral_return_6m) + log_change(cap_now, cap_then))
        return self.price_news * log_change(rent_now, rent_then) + self.return_news * returns

    def update_sentiment(self, fundamental_growth: float, momentum_growth: float, default_rate: float = 0.0,
                         loss_rate: float = 0.0, market_news: float = 0.0) -> float:
        """``fundamental_growth``: the fundamentalists' expected AI-revenue growth over the next year;
        ``momentum_growth``: the latest quarter's AI revenue growth, annualised. Both per year. ``default_rate`` and
        ``loss_rate``: the shares of GPU-backed debt that defaulted and that lenders lost this month; ``market_news``:
        :meth:`market_news`. Sentiment is persistent: an exponentially weighted average of tanh(news)."""
        extrapolated = self.trend_weight * momentum_growth
        self.expected_growth = self.shares[0] * fundamental_growth + self.shares[1] * extrapolated
        news = ((self.expected_growth - self.neutral) / self.scale + market_news
                - 12.0 * (self.default_news * default_rate + self.loss_news * loss_rate))
        self.sentiment = self.sentiment_memory * self.sentiment + (1.0 - self.sentiment_memory) * math.tanh(news)
        return self.sentiment


def full_cost_of_new_capacity(economy, month: int) -> float:
    """The full cost of an H100e-hour on the chips Nvidia is shipping in ``month`` (its production mix: a new
    generation sets the price only as its output ramps up), at the investment-grade cost of capital: the
    fundamental price."""
    m = economy
    p = m.p
    mix = m.nvidia.production_mix(month)
    h100e = sum(share * m.gens[g].perf for g, share in mix.items())
    per_h100e = lambda cost: sum(share * cost(g) for g, share in mix.items()) / h100e
    return fundamental_price(per_h100e(m.nvidia.list_price), per_h100e(lambda g: m.running_cost[g]),
                             per_h100e(lambda g: m.facility_cost[g]), m.sofr + p["lenders.spread_ig"],
                             p["technology.accounting_life_months"])


def performing_debt(economy) -> float:
    """GPU-backed principal performing at the month's end, US$bn."""
    return economy.loans.performing_principal()


def default_rate(economy, performing: float | None = None) -> float:
    """Share of GPU-backed debt (performing at the month's end, plus what defaulted in it) that defaulted this month."""
    m = economy
    defaulted = m.flow["debt_in_default"]
    if defaulted <= 0.0:
        return 0.0
    performing = performing_debt(m) if performing is None else performing
    return defaulted / (performing + defaulted)


def loss_rate(economy, performing: float | None = None) -> float:
    """Lenders' credit losses this month (at default and on later sales of seized GPUs) over GPU-backed debt: performing
    at the month's end, plus what defaulted in it and what was lost."""
    m = economy
    losses = m.flow["lender_losses"] + m.flow["liquidation_losses"]
    if losses <= 0.0:
        return 0.0
    performing = performing_debt(m) if performing is None else performing
    return losses / (performing + m.flow["debt_in_default"] + losses)


def learn_market_size(economy) -> None:
    """Agents update their belief about the long-run AI market from this month's revenue and service."""
    m = economy
    d = m.demand
    m.expectations.belief.observe(d.revenue, d.service, d.adoption_speed(), m.shocks.demand_factor,
                                  m.p["demand.rationing_elasticity"])


def form_expectations(economy) -> None:
    """The market observes this month's spot price, fundamental, AI revenue, collateral prices, Nvidia's equity and
    credit losses: the forecasting rules are scored and their shares switch; the belief about the market size is
    updated; sentiment follows the news (module docstring)."""
    m = economy
    ex = m.expectations
    fundamental = full_cost_of_new_capacity(m, m.month)
    ex.fundamental_price = fundamental
    ex.observe_price(m.spot.price, fundamental)
    learn_market_size(m)
    ex.ai_revenue_history.append(m.ledger.income_total("ai_revenue"))
    ai_hist = list(ex.ai_revenue_history)
    fundamental_growth = ex.belief.revenue_factor(12.0) - 1.0
    # extrapolators read the latest quarter's AI-revenue growth, annualised (news of the boom, not its capex)
    momentum = (sum(ai_hist[-3:]) / max(sum(ai_hist[-6:-3]), 1e-9)) ** 4 - 1.0 if len(ai_hist) >= 6 else fundamental_growth
    ex.momentum = min(max(momentum, -0.9), 5.0)
    ex.collateral_index_history.append(m.used_gpus.collateral_index())
    ci = list(ex.collateral_index_history)
    ex.collateral_return_6m = (ci[-1] / ci[-7] - 1.0) if len(ci) >= 7 and ci[-7] > 0 else 0.0
    ex.news_history.append((m.spot.price / fundamental, m.nvidia.market_cap))
    performing = performing_debt(m)
    ex.update_sentiment(min(fundamental_growth, 5.0), ex.momentum, default_rate(m, performing), loss_rate(m, performing),
                        ex.market_news())
