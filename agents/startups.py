"""AI start-ups: a population of firms held as arrays in one agent, so that economies of 100,000+ start-ups stay
fast; each start-up is still an individual with its own revenue draw, cash, team cost, contract, failure and entry.

Revenue follows AI adoption (:mod:`gpucredit.sim.demand`), split among start-ups by heterogeneous, persistent firm
draws. A start-up's compute budget is a share of its revenue plus its cash spread over its runway; some look for a
term contract each month; it raises rounds from VCs more often when sentiment is high, hires a team with what it
raises, and fails when it cannot pay its team or its contract; new start-ups enter empty slots when VCs fund them.
"""

from __future__ import annotations

import mesa
import numpy as np


class StartupPopulation(mesa.Agent):
    """All AI start-ups, each an entry of the arrays below."""

    def __init__(self, model, eid: int, n: int, segment_scale: float):
        super().__init__(model)
        self.name = "AI start-ups"
        self.eid = eid
        self.n = n
        self.scale = segment_scale
        rng = model.rng
        self.alive = np.zeros(n, dtype=bool)
        self.weight = np.zeros(n)
        self.shock = np.zeros(n)
        self.cash = np.zeros(n)
        self.revenue = np.zeros(n)
        self.budget = np.zeros(n)
        self.team_cost = np.zeros(n)  # fixed monthly cost of the team hired with the money raised, US$bn
        self.unpaid = np.zeros(n, dtype=bool)  # could not meet this month's team cost: out of cash
        # its term contract (one at most) is a row of the contract register (``model.contracts``), by slot
        self.failures = 0
        self.entries = 0
        self.grade = "non_ig"
        start = rng.random(n) < model.p["startups.initial_share"]
        self._enter(np.flatnonzero(start))

    def _enter(self, idx: np.ndarray, rationed: bool = False) -> None:
        """New start-ups in slots ``idx``: a revenue-potential draw and seed funding from VCs (``rationed``: out of the
        month's venture allotment)."""
        if len(idx) == 0:
            return
        m = self.model
        rng = m.rng
        self.alive[idx] = True
        self.weight[idx] = rng.lognormal(0.0, m.p["startups.potential_dispersion"], size=len(idx))
        self.shock[idx] = 0.0
        seed = m.p["startups.seed_funding"] * self.scale * rng.lognormal(0.0, m.p["startups.seed_dispersion"], size=len(idx)) * 2000.0 / max(self.n, 1)
        if rationed:
            seed = m.venture.ration(seed)
        self.cash[idx] += seed
        self.team_cost[idx] = self.hiring(seed)
        m.ledger.pay(m.ledger.sector("venture_and_public_equity"), self.eid, float(seed.sum()), "funding_round")
        self.entries += len(idx)

    def hiring(self, raised: np.ndarray) -> np.ndarray:
        """Monthly team cost a start-up takes on with ``raised`` US$bn: ``startups.team_share`` of it spent
        over its planned runway (the fixed burn that makes a start-up fail when the next round does not come)."""
        p = self.model.p
        return p["startups.team_share"] * raised / p["startups.runway_months"]

    def earn(self, total_revenue: float) -> None:
        m = self.model
        rng = m.rng
        live = self.alive
        p = m.p
        rows = live.nonzero()[0]  # the live slots (selected once, for the shocks' read and write)
        self.shock[rows] = (p["startups.revenue_persistence"] * self.shock[rows]
                            + p["startups.revenue_volatility"] * rng.standard_normal(len(rows)))
        potential = self.weight * np.exp(self.shock) * live
        denom = potential.sum()
        self.revenue = total_revenue * potential / denom if denom > 0 else np.zeros(self.n)
        paid = float(self.revenue.sum())
        self.cash += self.revenue
        m.ledger.pay(m.ledger.sector("end_users"), self.eid, paid, "ai_revenue")
        # staff and services (startups.opex_share of revenue) plus the fixed team cost, paid while the cash lasts
        due = p["startups.opex_share"] * self.revenue + self.team_cost * live
        staff = np.minimum(due, np.maximum(self.cash, 0.0))
        self.unpaid = live & (due - staff > 1e-12)
        self.cash -= staff
        m.ledger.pay(self.eid, m.ledger.sector("staff_and_services"), float(staff.sum()), "operating_expense")

    def set_budgets(self) -> None:
        p = self.model.p
        committed = 12.0 * self.contract_due()
        self.budget = np.where(self.alive, p["startups.compute_share"] * self.revenue
                               + np.maximum(self.cash - committed, 0.0) / p["startups.runway_months"], 0.0)

    def contracted(self) -> np.ndarray:
        """H100e each start-up has under a contract being served."""
        return self.model.contracts.startup_contracted()

    def contract_due(self) -> np.ndarray:
        """Cash due on contracts this month, US$bn per start-up (the monthly value less the prepayment released)."""
        return self.model.contracts.startup_due()

    def contract_seekers(self, contract_price: float) -> tuple[np.ndarray, np.ndarray]:
        """Start-ups looking for a term contract this month and the H100e each wants."""
        m, p = self.model, self.model.p
        looking = (self.alive & ~m.contracts.startups_with_contract()
                   & (m.rng.random(self.n) < p["startups.contract_search_rate"]))
        idx = looking.nonzero()[0]
        want = (p["startups.contract_share"] * self.budget[idx] * 1e9 / (p["demand.reference_price"] * 730.0)
                * (contract_price / p["demand.reference_price"]) ** (-p["demand.price_elasticity"]))
        return idx, want

    def raise_rounds(self) -> None:
        m, p = self.model, self.model.p
        prob = p["startups.funding_rate"] * max(0.0, 1.0 + p["startups.funding_sentiment"] * m.sentiment)
        lucky = self.alive & (m.rng.random(self.n) < prob)
        traction = p["startups.compute_share"] * self.revenue  # compute spending its revenue pays for, US$bn/month
        size = m.venture.ration(p["startups.round_years"] * 12.0 * np.maximum(traction, 1e-4 * self.scale) * lucky)
        self.team_cost += self.hiring(size)
        self.cash += size
        m.ledger.pay(m.ledger.sector("venture_and_public_equity"), self.eid, float(size.sum()), "funding_round")
        empty = (~self.alive).nonzero()[0]
        if len(empty):
            entry = p["startups.entry_rate"] * max(0.0, 1.0 + p["startups.funding_sentiment"] * m.sentiment)
            self._enter(empty[m.rng.random(len(empty)) < entry], rationed=True)
