"""End-user AI revenue: diffusion towards a market size nobody knows, served by the compute developers deploy.

* **The market size.** The long-run end-user AI market (US$bn/year at full adoption) is drawn once per run from a
  log-normal distribution with median ``demand.market_size`` and log standard deviation
  ``demand.market_size_uncertainty`` (:attr:`AIRevenue.market_size`). No agent observes it; they learn it from the
  revenue that arrives (:mod:`.market_size`).
* **Adoption** is a logistic diffusion in its own state, not a dated curve: the adopters' share ``a`` of the market
  grows by ``demand.adoption_rate / 12 x a (1 - a) x service`` a month from ``a_0 = demand.initial_ai_revenue / M``, so
  where it flattens depends on the market drawn and on the compute it is served with. A scenario may slow it from
  ``demand.slowdown_year`` by ``demand.slowdown_factor``.
* **Potential revenue** is ``M / 12 x a`` times a persistent AR(1) shock in logs (and a scenario's demand shock).
* **Service.** Revenue needs compute: one H100e-hour in use carries at most ``demand.revenue_per_h100e_hour`` US$ of
  end-user revenue. The compute developers and hyperscalers ran last month can serve ``min(1, capacity / potential)``
  of this month's potential; revenue is the potential times that share to the power ``demand.rationing_elasticity``
  (scarce compute rations use and slows adoption). Cheaper compute lets developers' budgets deploy more of it, so it
  raises usage and, when compute is scarce, revenue.
* **The split.** Revenue goes to the labs (``demand.lab_share``, by weight), the start-ups (``demand.startup_share`` x
  ``population.scale``) and the hyperscalers (the rest, by weight, as AI-services revenue); each sets its budget.
"""

from __future__ import annotations

import math

import numpy as np

from .calendar import year_of
from .technology import BN, HOURS_PER_MONTH


def draw_market_size(p, rng) -> float:
    """The run's long-run AI market, US$bn/year: log-normal around ``demand.market_size``, and at least twice the
    initial revenue (adoption starts below half of it)."""
    size = p["demand.market_size"] * math.exp(p["demand.market_size_uncertainty"] * float(rng.standard_normal()))
    return max(size, 2.0 * p["demand.initial_ai_revenue"])


def diffuse(adoption, speed):
    """One month of logistic diffusion at ``speed`` (per month): ``a + speed x a (1 - a)``, below 1; for one adoption
    share or, elementwise, for an array of them (the candidates of :mod:`.market_size`)."""
    return np.minimum(adoption + speed * adoption * (1.0 - adoption), 1.0 - 1e-12)


class AIRevenue:
    """The AI-revenue process: adoption, its persistent shock, and the service compute allows."""

    def __init__(self, economy):
        self.economy = economy
        p = economy.p
        self.market_size = draw_market_size(p, economy.rng)  # US$bn/year, never observed by agents
        self.adoption = p["demand.initial_ai_revenue"] / self.market_size
        self.shock = 0.0  # log deviation of potential revenue (AR(1))
        self.service = 1.0  # share of potential revenue last month's compute could serve
        self.potential = 0.0  # this month's potential end-user revenue, US$bn
        self.revenue = 0.0  # this month's end-user AI revenue, US$bn

    def adoption_speed(self) -> float:
        """Diffusion speed this month (per month): ``demand.adoption_rate / 12``, times ``demand.slowdown_factor`` from
        ``demand.slowdown_year``."""
        p = self.economy.p
        slow = p["demand.slowdown_factor"] if year_of(self.economy.month) >= p["demand.slowdown_year"] else 1.0
        return p["demand.adoption_rate"] / 12.0 * slow

    def serving_capacity(self) -> float:
        """End-user revenue (US$bn/month) the compute in use can carry: last month's H100e in use (the live fleet in
        the first month) x ``demand.revenue_per_h100e_hour`` x hours."""
        m = self.economy
        in_use = m.spot.in_use_h100e if m.month > 0 else float(m.fleet.capacity_by_owner.sum())
        return in_use * m.p["demand.revenue_per_h100e_hour"] * HOURS_PER_MONTH / BN

    def now(self) -> float:
        """End-user AI revenue this month, US$bn: adoption advances (slowed by last month's rationing), potential revenue
        follows it with its shock, and the compute in use serves what it can."""
        m = self.economy
        p = m.p
        if m.month > 0:
            self.adoption = float(diffuse(self.adoption, self.adoption_speed() * self.service))
        self.shock = p["demand.shock_persistence"] * self.shock + p["demand.shock_volatility"] * float(m.rng.standard_normal())
        self.potential = self.market_size / 12.0 * self.adoption * math.exp(self.shock) * m.shocks.demand_factor
        self.service = min(1.0, self.serving_capacity() / self.potential) if self.potential > 0 else 1.0
        return self.potential * self.service ** p["demand.rationing_elasticity"]

    def pay_buyers(self) -> None:
        """End users pay this month's AI revenue to labs, start-ups and hyperscalers, who set their compute budgets."""
        m = self.economy
        p = m.p
        total = self.revenue = self.now()
        labs_total = total * p["demand.lab_share"]
        startups_total = min(total * p["demand.startup_share"] * p["population.scale"], total - labs_total)
        hyperscaler_total = max(0.0, total - labs_total - startups_total)
        live_labs = [l for l in m.labs if l.alive]
        per_weight = labs_total / max(sum(l.weight for l in live_labs), 1e-9)  # (the same for every lab)
        for lab in live_labs:
            lab.earn(per_weight)
        m.startups.earn(startups_total if m.startups.n else 0.0)
        weights = sum(h.weight for h in m.hyperscalers)
        for h in m.hyperscalers:
            share = hyperscaler_total * h.weight / weights
            m.ledger.pay(m.ledger.sector("end_users"), h.eid, share, "ai_revenue")
            h.set_budget(share)
        for lab in live_labs:
            lab.set_budget()
        m.startups.set_budgets()
