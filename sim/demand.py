"""End-user AI revenue and how it reaches the buyers of compute.

AI revenue (US$bn a month) follows logistic adoption scaled to its January 2023 level, slowing after
``demand.slowdown_year`` by ``demand.slowdown_factor``, with a persistent AR(1) shock in logs. It is split among the
labs (``demand.lab_share``, by weight), the start-ups (``demand.startup_share`` x ``population.scale``) and the
hyperscalers (the rest, by weight, as AI-services revenue); each then sets its compute budget.
"""

from __future__ import annotations

import math

from .calendar import year_of


class AIRevenue:
    """The AI-revenue process and its persistent shock."""

    def __init__(self, economy):
        self.economy = economy
        self.shock = 0.0  # log deviation from the adoption curve (AR(1))
        self.annual = economy.p["demand.initial_ai_revenue"]
        self.revenue = 0.0  # this month's end-user AI revenue, US$bn

    def now(self) -> float:
        """End-user AI revenue this month, US$bn: logistic adoption (slowing after ``demand.slowdown_year`` by
        ``demand.slowdown_factor``) scaled to the January 2023 level, with a persistent AR(1) shock in logs."""
        m = self.economy
        p = m.p
        rate = p["demand.adoption_rate"]
        t = year_of(m.month)
        t_slow = p["demand.slowdown_year"]
        eff_t = t if t <= t_slow else t_slow + (t - t_slow) * p["demand.slowdown_factor"]
        mid = p["demand.adoption_midpoint"]
        logistic = 1.0 / (1.0 + math.exp(-rate * (eff_t - mid)))
        logistic0 = 1.0 / (1.0 + math.exp(-rate * (2023.0 - mid)))
        level = p["demand.initial_ai_revenue"] + (p["demand.ai_revenue_max"] - p["demand.initial_ai_revenue"]) * (
            logistic - logistic0) / (1.0 - logistic0)
        self.shock = p["demand.shock_persistence"] * self.shock + p["demand.shock_volatility"] * float(m.rng.standard_normal())
        return level * math.exp(self.shock) * m.shocks.demand_factor / 12.0

    def pay_buyers(self) -> None:
        """End users pay this month's AI revenue to labs, start-ups and hyperscalers, who set their compute budgets."""
        m = self.economy
        p = m.p
        total = self.revenue = self.now()
        labs_total = total * p["demand.lab_share"]
        startups_total = min(total * p["demand.startup_share"] * p["population.scale"], total - labs_total)
        hyperscaler_total = max(0.0, total - labs_total - startups_total)
        live_labs = [l for l in m.labs if l.alive]
        for lab in live_labs:
            lab.earn(labs_total / max(sum(l.weight for l in live_labs), 1e-9))
        m.startups.earn(startups_total if m.startups.n else 0.0)
        weights = sum(h.weight for h in m.hyperscalers)
        for h in m.hyperscalers:
            share = hyperscaler_total * h.weight / weights
            m.ledger.pay(m.ledger.sector("end_users"), h.eid, share, "ai_revenue")
            h.set_budget(share)
        for lab in live_labs:
            lab.set_budget()
        m.startups.set_budgets()
