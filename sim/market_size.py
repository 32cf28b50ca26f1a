"""What agents believe about the size of the AI market, learnt from the revenue that arrives.

Agents know how AI adoption diffuses (the logistic law and its speed ``demand.adoption_rate``, as they know how past
technologies spread) but not how far it goes: the long-run market ``M`` is uncertain. Their prior is the distribution
it is drawn from (log-normal, median ``demand.market_size``, log s.d. ``demand.market_size_uncertainty``), on a grid of
candidate sizes. For each candidate they track the adoption it implies (from the same start, with the service they
observe), and each month they weigh it by how well it explains the potential revenue they see (realised revenue over
its observed service), with the persistent AR(1) shock they know the revenue carries. In the exponential phase every
candidate explains the data equally well, so the belief stays at the prior; only the flattening of growth reveals
the size. The boom is built on the belief; the correction comes when the revenue that arrives says otherwise.

Outputs: :meth:`MarketSizeBelief.expected_size` (US$bn/year, the posterior mean) and
:meth:`MarketSizeBelief.revenue_factor` (expected revenue ``h`` months ahead over today's, the fundamentalists'
forecast of AI-revenue growth).
"""

from __future__ import annotations

import math

import numpy as np

from .demand import diffuse

GRID_POINTS = 41  # candidate market sizes, from -3 to +3 prior standard deviations
MIN_NOISE = 0.01  # log per month: the least forecast noise agents allow for (so a belief never collapses on one month)


class MarketSizeBelief:
    def __init__(self, p):
        spread = p["demand.market_size_uncertainty"]
        z = np.linspace(-3.0, 3.0, GRID_POINTS) if spread > 0 else np.zeros(1)
        initial = p["demand.initial_ai_revenue"]
        self.sizes = np.maximum(p["demand.market_size"] * np.exp(spread * z), 2.0 * initial)  # US$bn/year
        self.log_weights = -0.5 * z**2
        self.adoption = initial / self.sizes  # the adoption each candidate implies
        self.deviation = np.zeros_like(self.sizes)  # log potential revenue over each candidate's, last month
        self.rate = p["demand.adoption_rate"] / 12.0
        self.persistence = p["demand.shock_persistence"]
        self.noise = max(p["demand.shock_volatility"], MIN_NOISE)
        self.last_service = 1.0  # the service observed last month (it moved this month's adoption)
        self.started = False
        self._factors: dict[float, float] = {}  # revenue_factor by horizon, until the next observation
        self._weights: np.ndarray | None = None

    def weights(self) -> np.ndarray:
        """The belief: each candidate size's posterior probability (recomputed after each observation)."""
        if self._weights is None:
            w = np.exp(self.log_weights - self.log_weights.max())
            self._weights = w / w.sum()
        return self._weights

    def observe(self, revenue: float, service: float, speed: float, demand_factor: float,
                rationing_elasticity: float) -> None:
        """One month's evidence: realised revenue (US$bn/month), the share of potential revenue compute served (last
        month's service moves adoption; this month's tells how much revenue was lost), this month's diffusion speed at
        full service (:meth:`~.demand.AIRevenue.adoption_speed`, a scenario's slowdown included) and its demand shock.
        Each candidate's adoption advances as the true one does (:func:`~.demand.diffuse`)."""
        self._factors, self._weights = {}, None
        if self.started:
            self.adoption = diffuse(self.adoption, speed * self.last_service)
        self.last_service = service
        potential = revenue / max(service, 1e-12) ** rationing_elasticity
        if potential <= 0:
            self.started = True
            return
        deviation = math.log(potential) - np.log(self.sizes / 12.0 * self.adoption * demand_factor)
        innovation = deviation - self.persistence * self.deviation if self.started else deviation
        self.log_weights = self.log_weights - 0.5 * (innovation / self.noise) ** 2
        self.log_weights -= self.log_weights.max()
        self.deviation = deviation
        self.started = True

    def expected_size(self) -> float:
        """Posterior mean of the long-run market, US$bn/year."""
        return float(self.weights() @ self.sizes)

    def revenue_factor(self, months: float) -> float:
        """Expected AI revenue ``months`` ahead over today's: each candidate's adoption at full service, weighted by
        the belief."""
        if months not in self._factors:
            a = self.adoption
            ahead = 1.0 / (a + (1.0 - a) * math.exp(-self.rate * months))
            self._factors[months] = float(self.weights() @ ahead)
        return self._factors[months]
