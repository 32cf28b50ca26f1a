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
The same shares apply to the growth forecasts behind the sentiment index: fundamentalists expect AI
revenue to keep growing at its realised 12-month rate, extrapolators expect the latest quarter's growth of AI
revenue (annualised) to continue. Sentiment is a persistent (exponentially weighted) average of
``tanh((expected growth - neutral) / scale)``.
"""

from __future__ import annotations

import math

import numpy as np


class Expectations:
    def __init__(self, params, initial_price: float):
        self.beta = params["expectations.intensity_of_choice"]
        self.memory = params["expectations.memory"]
        self.trend_weight = params["expectations.trend_weight"]
        self.reversion = 1.0 / params["expectations.reversion_months"]
        self.scale = params["expectations.sentiment_scale"]
        self.neutral = params["expectations.neutral_growth"]
        self.sentiment_memory = params["expectations.sentiment_memory"]
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

    def fundamentalist_path(self, horizon: np.ndarray) -> np.ndarray:
        p = math.exp(self.log_prices[-1])
        anchor = self.fundamental_path(horizon)
        return anchor + (p - self.fundamental) * (1.0 - self.reversion) ** horizon

    def extrapolator_path(self, horizon: np.ndarray) -> np.ndarray:
        """The trend continues for a year; beyond it extrapolators share the fundamentalists' anchor and expect
        the price reached to revert to the fundamental at the same speed."""
        p = math.exp(self.log_prices[-1])
        trended = p * np.exp(np.clip(self.trend(), -0.05, 0.05) * np.minimum(horizon, 12))
        beyond = np.maximum(horizon - 12, 0)
        anchor = self.fundamental_path(horizon)
        reached = self.fundamental_path(np.minimum(horizon, 12))
        return anchor + (trended - reached) * (1.0 - self.reversion) ** beyond

    def price_path(self, horizon: np.ndarray, extrapolator_weight: float | None = None) -> np.ndarray:
        """Expected spot price (US$/H100e-hour) ``horizon`` months ahead, for the market mix of rules
        or for an agent with its own weight on extrapolation."""
        w = self.shares[1] if extrapolator_weight is None else extrapolator_weight
        w = min(1.0, max(0.0, w))
        k = len(horizon)
        if 0 < k <= len(self._months) and horizon[0] == 1.0 and horizon[-1] == k:  # months 1..k: cached paths
            key = (self.fundamental, self.cost_decline, self.log_prices[-1], self.log_prices[-4])
            if self._paths is None or self._paths[0] != key:
                self._paths = (key, self.fundamentalist_path(self._months), self.extrapolator_path(self._months))
            return (1.0 - w) * self._paths[1][:k] + w * self._paths[2][:k]
        return (1.0 - w) * self.fundamentalist_path(horizon) + w * self.extrapolator_path(horizon)

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
        one = np.array([1.0])
        self.forecasts = np.array([self.fundamentalist_path(one)[0], self.extrapolator_path(one)[0]])

    def update_sentiment(self, fundamental_growth: float, momentum_growth: float) -> float:
        """``fundamental_growth``: realised 12-month AI revenue growth; ``momentum_growth``: the latest
        quarter's AI revenue growth, annualised. Both per year. Sentiment is persistent: an exponentially weighted average of
        tanh((expected growth - neutral) / scale)."""
        extrapolated = self.trend_weight * momentum_growth
        self.expected_growth = self.shares[0] * fundamental_growth + self.shares[1] * extrapolated
        mood = math.tanh((self.expected_growth - self.neutral) / self.scale)
        self.sentiment = self.sentiment_memory * self.sentiment + (1.0 - self.sentiment_memory) * mood
        return self.sentiment


def fundamental_price(unit_price_per_h100e: float, running_cost_per_h100e: float, facility_cost_per_h100e: float,
                      annual_rate: float, life_months: int, utilisation: float = 0.7) -> float:
    """Full cost of an H100e-hour on a new GPU, US$: capital recovery (annuity over the accounting life at
    ``annual_rate``) plus running and data-centre costs, spread over hours sold at normal utilisation."""
    r = annual_rate / 12.0
    annuity = unit_price_per_h100e * r / (1.0 - (1.0 + r) ** -life_months)
    return (annuity / 730.0 + running_cost_per_h100e + facility_cost_per_h100e) / utilisation
