"""Hyperscalers: Microsoft, Google, Amazon, Meta, Oracle.

Investment-grade balance sheets funded by their core businesses and bonds (never GPU-backed loans). Each
month a hyperscaler earns its core cash flow and its share of AI-services revenue, spends an internal AI
compute budget (growing with AI revenue and sentiment) in the compute market, builds its own fleet ahead of
expected demand (custom silicon first, up to the rival's share, then Nvidia) as fast as its data-centre power
allows (``hyperscalers.max_build_growth``), contracts overflow capacity from neoclouds when its own fleet falls
short or its build-out outruns its power (Microsoft and CoreWeave), sells uncommitted capacity to
AI developers, issues bonds when cash runs short and pays out surplus cash.
"""

from __future__ import annotations

import mesa

from .investment import gpu_npv


class Hyperscaler(mesa.Agent):
    def __init__(self, model, name: str, eid: int, weight: float):
        super().__init__(model)
        self.name = name
        self.eid = eid
        self.weight = weight  # share of the group's core cash flow and AI-services revenue
        self.bonds = 0.0  # US$bn outstanding
        self.budget = 0.0
        self.capex = 0.0  # this month's GPU and data-centre capex, US$bn
        self.planned: dict[int, float] = {}
        self.planned_h100e = 0.0
        self.unhoused = 0.0  # H100e of last month's plan it had no data-centre power for
        self.alive = True
        self.grade = "ig"

    def open_month(self) -> None:
        self.capex = 0.0

    def capacity(self) -> float:
        """H100e serving compute."""
        return self.model.fleet.capacity_by_owner[self.eid]

    def fleet(self) -> float:
        """H100e it owns: serving compute or being installed."""
        return self.capacity() + self.model.fleet.installing_by_owner[self.eid]

    def contracted_out(self) -> float:
        return self.model.contracts.contracted_by_provider[self.eid]

    def contracted_in(self) -> float:
        return self.model.contracts.signed_by_customer.get(self.eid, 0.0)

    def set_budget(self, ai_services_revenue: float) -> None:
        """Internal AI compute budget, US$bn/month: a share of core cash flow scaled by sentiment, plus
        what its AI services earn."""
        p, m = self.model.p, self.model
        core = p["hyperscalers.core_cash_flow"] * self.weight
        self.budget = max(0.0, core * p["hyperscalers.ai_budget_share"] * (1.0 + p["hyperscalers.budget_sentiment"] * m.sentiment)
                          + ai_services_revenue)

    def own_demand(self, price: float) -> float:
        """H100e its internal workloads would use at ``price``."""
        m = self.model
        p = m.p
        return (self.budget * 1e9 / (p["demand.reference_price"] * 730.0)
                * (price / p["demand.reference_price"]) ** (-p["demand.price_elasticity"]))

    def overflow_demand(self) -> float:
        """Term capacity it wants from neoclouds: a share of the gap between its demand and its fleet, and of
        the capacity it planned last month but could not house (data-centre power is its bottleneck, so the
        build-out it cannot house is contracted from neoclouds, as Microsoft did with CoreWeave)."""
        m = self.model
        gap = self.own_demand(m.spot_price) - self.fleet() - self.contracted_in()
        return max(0.0, m.p["hyperscalers.overflow_share"] * max(gap, self.unhoused))

    def contract_offer(self) -> float:
        """Uncommitted capacity it offers to AI developers on term contracts (``hyperscalers.offer_share`` of what is free)."""
        m = self.model
        free = self.capacity() - self.contracted_out() - self.own_demand(m.spot_price)
        return max(0.0, m.p["hyperscalers.offer_share"] * free)

    def plan_orders(self) -> None:
        """Build toward expected own demand ``build_ahead_months`` ahead (budget growing with the AI revenue the market
        expects, at the full cost of new capacity), ordering a share of the gap each month, plus capacity to sell
        when a new GPU has a positive NPV at the market's expectations and its (investment-grade) cost of
        capital: custom silicon first, up to the rival's share, then Nvidia."""
        m, p = self.model, self.model.p
        ahead = p["hyperscalers.build_ahead_months"]
        # the AI race: capacity planned for the AI revenue the market expects (towards the market size it believes
        # in) at the full cost of new capacity (what an hour of its own fleet costs it), not at today's rental price
        target = self.own_demand(m.fundamental_price) * m.expectations.revenue_factor(ahead) + self.contracted_out()
        gap = max(0.0, target - self.fleet() - m.chips.on_order[self.eid])
        self.planned = {}
        gn = m.newest_nvidia_gen
        npv = gpu_npv(m, gn, m.nvidia.list_price(gn), m.sofr + p["hyperscalers.hurdle_spread"], None)
        to_sell = p["hyperscalers.sell_growth"] * self.fleet() * min(1.0, max(0.0, npv) / m.nvidia.list_price(gn))
        want = p["hyperscalers.build_speed"] * gap + to_sell
        k = p["hyperscalers.capex_persistence"]
        want = k * self.planned_h100e + (1.0 - k) * want
        self.planned_h100e = want
        housed = p["hyperscalers.max_build_growth"] * self.fleet()
        self.unhoused = max(0.0, want - housed)
        want = min(want, housed)
        if want <= 0:
            return
        rival_share = m.rival_share()
        gr = m.newest_rival_gen
        if gr >= 0:
            self.planned[gr] = want * rival_share / m.gens[gr].perf
        self.planned[gn] = want * (1.0 - rival_share if gr >= 0 else 1.0) / m.gens[gn].perf

    def take_delivery(self, chipmaker, lots: list[tuple[int, float, float, float]]) -> float:
        """Pay for one delivery, ``lots`` of (generation, GPUs, list price per GPU, deposit applied in US$bn), issuing
        bonds if need be within its leverage limit (:meth:`ensure_cash`); returns the share of the delivery it takes
        (the same share of every lot)."""
        m = self.model
        cost = sum([units * price for _, units, price, _ in lots]) * 1e-9
        due = cost - sum([lot[3] for lot in lots])  # less the deposits applied
        affordable = self.ensure_cash(due, obligation=False)
        share = 1.0 if due <= 0 else min(1.0, affordable / due)
        if share < 1e-9:  # (a vanishing share would ship a few 1e-318 GPUs for a payment that rounds to nothing)
            return 0.0
        m.chips.ship_lots(self.eid, chipmaker, [(g, units * share, price, -1, prepaid * share)
                                                for g, units, price, prepaid in lots])
        for g, units, price, _ in lots:  # (its capex is its own tally: added up after the shipments, in the same order)
            self.capex += units * share * price * 1e-9 + m.datacentre_capex(g, units * share)
        return share

    def debt_limit(self) -> float:
        """Most net debt (bonds less cash) its rating allows, US$bn: ``hyperscalers.max_net_leverage`` x a year of
        its core cash flow."""
        p = self.model.p
        return p["hyperscalers.max_net_leverage"] * 12.0 * p["hyperscalers.core_cash_flow"] * self.weight

    def ensure_cash(self, amount: float, obligation: bool = True) -> float:
        """Make ``amount`` US$bn payable, issuing bonds when cash would fall below a month of core cash flow after
        paying it, and return what it can pay: all of an obligation (a contract or interest payment, whatever its
        leverage); of discretionary spending (chips, deposits, spot compute), only what keeps its net debt within
        :meth:`debt_limit` (bonds raise cash and debt alike; spending the cash is what raises net debt)."""
        m = self.model
        cash = m.ledger.cash[self.eid]
        affordable = amount if obligation else min(amount, max(0.0, self.debt_limit() - (self.bonds - cash)))
        floor = m.p["hyperscalers.core_cash_flow"] * self.weight
        short = affordable + floor - cash
        if short > 0:
            m.ledger.pay(m.ledger.sector("bond_investors"), self.eid, short, "bond_issue")
            self.bonds += short
        return affordable

    def close_month(self) -> None:
        """Core cash flow in, bond interest out, surplus cash above three months of core cash flow paid out."""
        m = self.model
        led = m.ledger
        core = m.p["hyperscalers.core_cash_flow"] * self.weight
        led.pay(led.sector("hyperscaler_core_business"), self.eid, core, "core_cash_flow")
        interest = self.bonds * (m.sofr + m.p["hyperscalers.bond_spread"]) / 12.0
        self.ensure_cash(interest)
        led.pay(self.eid, led.sector("bond_investors"), interest, "interest")
        surplus = led.cash[self.eid] - m.p["hyperscalers.cash_months"] * core
        if surplus > 0:
            repay = min(surplus, self.bonds)
            led.pay(self.eid, led.sector("bond_investors"), repay, "principal")
            self.bonds -= repay
            surplus -= repay
            led.pay(self.eid, led.sector("venture_and_public_equity"), m.p["hyperscalers.payout_share"] * surplus, "payout")
