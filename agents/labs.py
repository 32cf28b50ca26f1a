"""AI labs: OpenAI, Anthropic, xAI, Mistral.

Revenue follows AI adoption (:mod:`gpucredit.sim.demand`), split among labs by weight. A lab's monthly compute
budget is a share of its revenue plus its cash spread over a planned runway, turned into H100e-hours at the market
price (price elastic); it holds part of its needs under term contracts (4-5 years, part prepaid), sized for the
budget it expects ``labs.planning_months`` ahead, and buys the rest on spot. It raises equity from VCs and Nvidia
more often when sentiment is high, and certainly when its cash runs short while investors are willing. A lab that
cannot pay its contracts defaults on them (the non-investment-grade risk neoclouds carry) and exits.
"""

from __future__ import annotations

import mesa


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
        m.ledger.pay(self.eid, m.ledger.sector("staff_and_services"), m.p["labs.opex_share"] * self.revenue, "operating_expense")

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
        expected AI revenue (fundamentalists towards the market size they believe in, extrapolators the latest trend,
        see :mod:`gpucredit.sim.expectations`). A lab plans
        its term compute for that budget, so in a boom it signs for capacity its revenue does not yet pay for,
        and a disappointment leaves it holding take-or-pay commitments its revenue cannot meet."""
        months = self.model.p["labs.planning_months"]
        if months == 0:
            return 1.0
        return self.model.expectations.revenue_factor(months)

    def value_firm(self) -> None:
        m = self.model
        self.valuation = max(0.0, m.p["labs.valuation_multiple"] * 12.0 * self.revenue * (1.0 + m.sentiment))

    def wants_round(self) -> float:
        """Size of the round it raises this month (0 if none): opportunistic rounds arrive at a rate that
        rises with sentiment; a lab whose cash covers less than ``labs.raise_runway_months`` of its contract
        payments and compute budget goes to investors for a round, which they grant unless sentiment is below
        ``neoclouds.raise_threshold`` (the same window for all private AI equity). A round comes at most every
        ``labs.round_interval_months`` and sells at most ``labs.max_round_share`` of the firm: investors fund labs in
        proportion to their revenue-based valuation, so a lab whose burn outruns its revenue runs out of cash. No
        round takes its cash above ``labs.max_cash_months`` of planned spending. Venture investors may grant less
        than it asks (their allotment is finite)."""
        m, p = self.model, self.model.p
        if m.month - self.last_round < p["labs.round_interval_months"]:
            return 0.0
        burn = self.budget + m.contracts.contract_payments_by_customer.get(self.eid, 0.0)
        short_of_cash = m.ledger.cash[self.eid] < p["labs.raise_runway_months"] * burn
        prob = p["labs.funding_rate"] * max(0.0, 1.0 + p["labs.funding_sentiment"] * m.sentiment)
        if short_of_cash and m.sentiment >= p["neoclouds.raise_threshold"]:
            prob = 1.0
        if m.rng.random() >= prob:
            return 0.0
        planned = burn + p["labs.opex_share"] * self.revenue  # planned spending, US$bn/month
        room = max(0.0, p["labs.max_cash_months"] * planned - m.ledger.cash[self.eid])  # no hoard beyond that
        return min(p["labs.round_size"] * 12.0 * max(burn, 0.05 * self.weight), p["labs.max_round_share"] * self.valuation,
                   room)
