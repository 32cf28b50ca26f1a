"""AI developers: the named labs (OpenAI, Anthropic, xAI, Mistral) and a population of start-ups.

Revenue follows AI adoption (an S-curve with persistent shocks, in :mod:`gpucredit.sim.model`), split among labs by
weight and among start-ups by heterogeneous, persistent firm draws. A developer's monthly compute budget is
a share of its revenue plus its cash spread over a planned runway, turned into H100e-hours at the market
price (price elastic); it holds part of its needs under term contracts (4-5 years, part prepaid) and buys
the rest on spot. It raises equity from VCs (and, for labs, Nvidia) more often when sentiment is high. A
developer that cannot pay its contracts defaults on them (the non-investment-grade risk neoclouds carry)
and exits; new start-ups enter into empty slots when VCs fund them.

The start-up population is one agent holding arrays (one entry per start-up), so that economies of
100,000+ start-ups stay fast; each start-up is still an individual with its own revenue draw, cash,
contract, failure and entry.
"""

from __future__ import annotations

import mesa
import numpy as np


class Lab(mesa.Agent):
    def __init__(self, model, name: str, eid: int, weight: float, grade: str = "non_ig"):
        super().__init__(model)
        self.name = name
        self.eid = eid
        self.weight = weight
        self.grade = grade
        self.revenue = 0.0
        self.budget = 0.0
        self.valuation = 0.0
        self.alive = True
        self.raised = 0.0
        self.last_round = -99

    def earn(self, lab_revenue: float) -> None:
        m = self.model
        self.revenue = lab_revenue * self.weight
        m.ledger.pay(m.ledger.sector("end_users"), self.eid, self.revenue, "ai_revenue")
        m.ledger.pay(self.eid, m.ledger.sector("staff_and_services"), 0.2 * self.revenue, "operating_expense")

    def set_budget(self) -> None:
        p = self.model.p
        cash = max(0.0, self.model.ledger.cash[self.eid] - self.committed_payments())
        self.budget = p["labs.compute_share"] * self.revenue + cash / p["labs.runway_months"]

    def committed_payments(self) -> float:
        """Contract payments due over the next year, US$bn (kept aside before spot spending)."""
        return 12.0 * self.model.contracts.contract_payments_by_customer.get(self.eid, 0.0)

    def contract_demand(self, contract_price: float) -> float:
        """H100e of new term capacity it wants at ``contract_price``: ``labs.contract_share`` of its expected
        needs, less what it already holds, and no more than it can pay for: total monthly contract payments
        stay within ``labs.contract_share`` of its compute budget (a lab does not sign take-or-pay commitments
        it could not honour out of its budget, however cheap or dear the contract)."""
        m, p = self.model, self.model.p
        budget = self.budget * self.expected_budget_growth()
        total = (budget * 1e9 / (p["demand.reference_price"] * 730.0)
                 * (contract_price / p["demand.reference_price"]) ** (-p["demand.price_elasticity"]))
        wanted = p["labs.contract_share"] * total - m.contracts.signed_by_customer.get(self.eid, 0.0)
        room = p["labs.contract_share"] * budget - m.contracts.contract_payments_by_customer.get(self.eid, 0.0)
        affordable = max(0.0, room) * 1e9 / (max(contract_price, 1e-9) * 730.0)
        return max(0.0, min(wanted, affordable))

    def expected_budget_growth(self) -> float:
        """Factor by which it expects its compute budget to grow over ``labs.planning_months``: the market's
        expected AI-revenue growth (fundamentalists and extrapolators, see :mod:`gpucredit.sim.expectations`). A lab plans
        its term compute for that budget, so in a boom it signs for capacity its revenue does not yet pay for,
        and a disappointment leaves it holding take-or-pay commitments its revenue cannot meet."""
        months = self.model.p["labs.planning_months"]
        if months == 0:
            return 1.0
        return (1.0 + max(-0.5, self.model.expectations.expected_growth)) ** (months / 12.0)

    def value_firm(self) -> None:
        m = self.model
        self.valuation = max(0.0, m.p["labs.valuation_multiple"] * 12.0 * self.revenue * (1.0 + m.sentiment))

    def wants_round(self) -> float:
        """Size of the round it raises this month (0 if none): opportunistic rounds arrive at a rate that
        rises with sentiment; a lab whose cash covers less than ``labs.raise_runway_months`` of its contract
        payments and compute budget goes to investors for a round, which they grant unless sentiment is below
        ``neoclouds.raise_threshold`` (the same window for all private AI equity). A round comes at most every
        ``labs.round_interval_months`` and sells at most ``labs.max_round_share`` of the firm: investors fund labs in
        proportion to their revenue-based valuation, so a lab whose burn outruns its revenue runs out of cash."""
        m, p = self.model, self.model.p
        if m.month - self.last_round < p["labs.round_interval_months"]:
            return 0.0
        burn = self.budget + m.contracts.contract_payments_by_customer.get(self.eid, 0.0)
        short_of_cash = m.ledger.cash[self.eid] < p["labs.raise_runway_months"] * burn
        prob = p["labs.funding_rate"] * max(0.0, 1.0 + 2.0 * m.sentiment)
        if short_of_cash and m.sentiment >= p["neoclouds.raise_threshold"]:
            prob = 1.0
        if m.rng.random() >= prob:
            return 0.0
        return min(p["labs.round_size"] * 12.0 * max(burn, 0.05 * self.weight), p["labs.max_round_share"] * self.valuation)


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
        # one term contract per start-up at most
        self.provider = np.full(n, -1, dtype=np.int64)
        self.qty = np.zeros(n)
        self.price = np.zeros(n)
        self.end = np.zeros(n, dtype=np.int64)
        self.prepaid = np.zeros(n)
        self.release = np.zeros(n)
        self.failures = 0
        self.entries = 0
        self.grade = "non_ig"
        start = rng.random(n) < 0.5
        self._enter(np.flatnonzero(start))

    def _enter(self, idx: np.ndarray) -> None:
        """New start-ups in slots ``idx``: a revenue-potential draw and seed funding from VCs."""
        if len(idx) == 0:
            return
        m = self.model
        rng = m.rng
        self.alive[idx] = True
        self.weight[idx] = rng.lognormal(0.0, 1.2, size=len(idx))
        self.shock[idx] = 0.0
        seed = m.p["startups.seed_funding"] * self.scale * rng.lognormal(0.0, 0.8, size=len(idx)) * 2000.0 / max(self.n, 1)
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
        self.shock[live] = 0.9 * self.shock[live] + 0.15 * rng.standard_normal(int(live.sum()))
        potential = self.weight * np.exp(self.shock) * live
        denom = potential.sum()
        self.revenue = total_revenue * potential / denom if denom > 0 else np.zeros(self.n)
        paid = float(self.revenue.sum())
        self.cash += self.revenue
        m.ledger.pay(m.ledger.sector("end_users"), self.eid, paid, "ai_revenue")
        # staff: a quarter of revenue plus the fixed team cost, paid while the cash lasts
        due = 0.25 * self.revenue + self.team_cost * live
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
        return np.where(self.alive & (self.provider >= 0), self.qty, 0.0)

    def contract_due(self) -> np.ndarray:
        """Cash due on contracts this month, US$bn per start-up (the monthly value less the prepayment
        released)."""
        value = self.contracted() * self.price * 730.0 / 1e9
        return np.where(self.provider >= 0, np.maximum(value - self.release, 0.0), 0.0)

    def contract_seekers(self, contract_price: float) -> tuple[np.ndarray, np.ndarray]:
        """Start-ups looking for a term contract this month and the H100e each wants."""
        m, p = self.model, self.model.p
        looking = self.alive & (self.provider < 0) & (m.rng.random(self.n) < 0.1)
        idx = np.flatnonzero(looking)
        want = (p["startups.contract_share"] * self.budget[idx] * 1e9 / (p["demand.reference_price"] * 730.0)
                * (contract_price / p["demand.reference_price"]) ** (-p["demand.price_elasticity"]))
        return idx, want

    def raise_rounds(self) -> None:
        m, p = self.model, self.model.p
        prob = p["startups.funding_rate"] * max(0.0, 1.0 + 2.0 * m.sentiment)
        lucky = self.alive & (m.rng.random(self.n) < prob)
        traction = p["startups.compute_share"] * self.revenue  # compute spending its revenue pays for, US$bn/month
        size = p["startups.round_years"] * 12.0 * np.maximum(traction, 1e-4 * self.scale) * lucky
        self.team_cost += self.hiring(size)
        self.cash += size
        m.ledger.pay(m.ledger.sector("venture_and_public_equity"), self.eid, float(size.sum()), "funding_round")
        empty = np.flatnonzero(~self.alive)
        if len(empty):
            entry = p["startups.entry_rate"] * max(0.0, 1.0 + 2.0 * m.sentiment)
            self._enter(empty[m.rng.random(len(empty)) < entry])
