"""Chipmakers: Nvidia and a rival (AMD plus the hyperscalers' custom silicon, as one agent).

Each month a chipmaker produces GPUs up to its capacity, split across its generations by a ramp (a new
generation takes over its output over ``technology.ramp_months``), sets list prices as a markup over unit
cost that rises when orders exceed capacity and falls in a glut, allocates scarce chips pro rata (or with a
preference for firms it invested in), expands capacity when the order book runs ahead, pays its cost of
goods to the foundry and suppliers, and is valued at a multiple of forward earnings that rises with growth
and sentiment. Nvidia also invests a share of its free cash flow in its customers, signs a capacity
backstop with its lead investee and rents back GPUs from investees: the circular-financing channels.
"""

from __future__ import annotations

from collections import deque

import mesa
import numpy as np


class Chipmaker(mesa.Agent):
    def __init__(self, model, name: str, vendor: str, eid: int, capacity: float):
        super().__init__(model)
        self.name = name
        self.vendor = vendor
        self.eid = eid
        self.capacity = capacity  # GPUs per month
        # capacity paid for and not yet producing, GPUs/month, by month of arrival (the first arrives next); at the start,
        # what was booked at the fastest pace over the last lead months (orders ran ahead of output from late 2022)
        growth = model.p["nvidia.capacity_growth_max"]
        self.capacity_pipeline: deque = deque(capacity * growth * (1.0 + growth) ** k
                                              for k in range(model.p["nvidia.capacity_lead_months"]))
        p = model.p
        self.markup = p["nvidia.launch_markup"]
        self.gens = [i for i, g in enumerate(model.gens) if g.vendor == vendor]
        self.requested = 0.0  # H100e of orders due for delivery this month (all generations)
        self.supply_h100e = 0.0  # H100e it could deliver this month
        self.revenue_history: deque = deque([0.0] * 24, maxlen=24)
        self.earnings_history: deque = deque([0.0] * 12, maxlen=12)
        self.operating_history: deque = deque([0.0] * 12, maxlen=12)  # operating earnings, US$bn/month
        self.revenue = 0.0
        self.cogs = 0.0
        self.earnings = 0.0
        self.free_cash_flow = 0.0
        self.strategic_budget = 0.0
        self.market_cap = 0.0
        self.invested = 0.0  # cumulative equity investment, US$bn

    @property
    def backlog_h100e(self) -> float:
        """H100e on order from it, due or not (added up when asked: no rule reads it)."""
        return self.model.chips.backlog(self.eid)

    # --- production and pricing -------------------------------------------------------------------
    def production_mix(self, month: int) -> dict[int, float]:
        """Share of output per generation: the newest released generation ramps up linearly over
        ``technology.ramp_months``, taking its share from the previous ones."""
        ramp = self.model.p["technology.ramp_months"]
        released = [g for g in self.gens if self.model.gens[g].release <= month]
        if not released:
            return {}
        released.sort(key=lambda g: self.model.gens[g].release, reverse=True)
        mix, remaining = {}, 1.0
        for g in released[:-1]:
            share = remaining * min(1.0, (month - self.model.gens[g].release + 1) / ramp)
            mix[g] = share
            remaining -= share
            if remaining <= 1e-9:
                break
        if remaining > 1e-9:
            mix[released[-1]] = remaining if len(released) > 1 else 1.0
        return {g: s for g, s in mix.items() if s > 1e-9}

    def unit_cost(self, g: int) -> float:
        """US$ per GPU paid to the foundry and component suppliers."""
        return self.model.gens[g].launch_price / self.model.p["nvidia.launch_markup"]

    def list_price(self, g: int) -> float:
        """US$ per GPU: the unit cost times the markup (:meth:`unit_cost` written out: ~25,000 prices a run)."""
        m = self.model
        return m.gens[g].launch_price / m.p["nvidia.launch_markup"] * self.markup

    def supply(self, month: int) -> dict[int, float]:
        return {g: self.capacity * s for g, s in self.production_mix(month).items()}

    def respond_to_orders(self) -> None:
        """Markup and capacity respond to the order book: orders above output raise prices; a glut brings discounts.
        Nvidia's capacity follows (:meth:`invest_in_capacity`)."""
        p = self.model.p
        ratio = self.order_ratio()
        self.markup *= float(np.exp(p["nvidia.markup_speed"] * np.log(ratio)))
        self.markup = min(max(self.markup, p["nvidia.markup_min"]), p["nvidia.markup_max"])
        if self.vendor == "nvidia":
            self.invest_in_capacity()

    def order_ratio(self, output_h100e: float | None = None) -> float:
        """H100e of the orders due this month over ``output_h100e`` (default: this month's output), within [0.2, 5]."""
        output = self.supply_h100e if output_h100e is None else output_h100e
        return min(max(self.requested / max(output, 1.0), 0.2), 5.0)

    def invest_in_capacity(self) -> None:
        """Output capacity grows only through investment that takes time and money: when the orders due exceed what it
        will be able to make once the capacity already paid for arrives, Nvidia books more (wafers, packaging,
        memory; up to ``nvidia.capacity_growth_max`` of today's capacity a month), paying
        ``nvidia.capacity_cost_months`` months of its newest generation's unit cost per GPU a month of new output now;
        it arrives ``nvidia.capacity_lead_months`` later, whatever the orders are by then (so supply lags a surge and
        overshoots when demand slows). In a glut idle lines are retired at once (``nvidia.capacity_shrink``)."""
        m, p = self.model, self.model.p
        pipeline = sum(self.capacity_pipeline)
        ratio = self.order_ratio(self.supply_h100e * (self.capacity + pipeline) / max(self.capacity, 1.0))
        added = self.capacity * min(p["nvidia.capacity_growth_max"], p["nvidia.capacity_response"] * max(0.0, ratio - 1.0))
        if self.order_ratio() < p["nvidia.glut_ratio"]:
            added = 0.0
            self.capacity *= 1.0 - p["nvidia.capacity_shrink"]
        if added > 0:
            cost = added * p["nvidia.capacity_cost_months"] * self.unit_cost(m.newest_nvidia_gen) * 1e-9
            cash = max(0.0, m.ledger.cash[self.eid])
            if cost > cash:  # it books only what its cash pays for
                added *= cash / cost
                cost = cash
            m.ledger.pay(self.eid, m.ledger.sector("foundry_and_suppliers"), cost, "capacity_investment")
        self.capacity_pipeline.append(added)
        self.capacity += self.capacity_pipeline.popleft()

    # --- accounts ---------------------------------------------------------------------------------
    def close_month(self) -> None:
        """Operating expenses, earnings, payouts and the strategic-investment budget."""
        m, p, led = self.model, self.model.p, self.model.ledger
        opex = p["nvidia.opex_share"] * self.revenue + (p["nvidia.fixed_opex"] if self.vendor == "nvidia" else 0.0)
        opex = min(opex, max(led.cash[self.eid], 0.0))
        led.pay(self.eid, led.sector("staff_and_services"), opex, "operating_expense")
        self.earnings = led.equity[self.eid] - self._equity_start
        self.earnings_history.append(self.earnings)
        tax = -led.income_of(self.eid, "corporate_tax")  # paid this month (on last month's profit)
        self.operating_history.append(self.revenue - self.cogs - opex - tax)
        self.free_cash_flow = max(0.0, self.revenue - self.cogs - opex - tax)
        if self.vendor == "nvidia":
            share = p["nvidia.investment_share"] * max(0.0, 1.0 + m.sentiment)
            self.strategic_budget += share * self.free_cash_flow
        payout = p["nvidia.payout_share"] * self.free_cash_flow
        payout = min(payout, max(0.0, led.cash[self.eid] - self.strategic_budget))
        led.pay(self.eid, led.sector("venture_and_public_equity"), payout, "payout")
        self.revenue_history.append(self.revenue)
        self.value_firm()

    def open_month(self) -> None:
        self._equity_start = self.model.ledger.equity[self.eid]
        self.revenue = 0.0
        self.cogs = 0.0
        self.requested = 0.0
        self.supply_h100e = 0.0

    def value_firm(self) -> None:
        """Market capitalisation = forward after-tax operating earnings x a multiple rising with growth and sentiment,
        at most ``nvidia.pe_max`` (and less for a firm worth more than US$1tn, :func:`size_bounded_value`), and no
        less than ``nvidia.price_to_sales_floor`` x annualised recent revenue.
        Forward earnings are the last 12 months' after-tax operating earnings (revenue less cost of goods, operating
        expenses and corporate tax; marks on equity stakes are not capitalised) grown by half the recent revenue
        growth."""
        p = self.model.p
        recent = sum(list(self.revenue_history)[-3:])
        year_ago = sum(list(self.revenue_history)[-15:-12])
        growth = min(max(recent / year_ago - 1.0, -0.9), 3.0) if year_ago > 0 else 0.0
        annual_earnings = sum(self.operating_history)
        # analysts project half the recent growth one year forward, and pay a higher multiple for growth up to
        # a doubling a year (growth beyond that is not believed to last)
        believable = min(max(growth, -0.5), 1.0)
        forward = max(annual_earnings, 0.0) * (1.0 + 0.5 * believable)
        multiple = p["nvidia.pe_base"] + p["nvidia.pe_growth"] * max(believable, 0.0) + p["nvidia.pe_sentiment"] * self.model.sentiment
        # when earnings are negative or thin the market values the franchise on sales instead
        sales_floor = p["nvidia.price_to_sales_floor"] * 4.0 * recent
        self.market_cap = max(size_bounded_value(min(max(multiple, 5.0), p["nvidia.pe_max"]) * forward, forward,
                                                 p["nvidia.pe_max"], p["nvidia.pe_size_elasticity"]), sales_floor)


TRILLION = 1000.0  # US$bn: the size above which the highest multiple falls


def size_bounded_value(value: float, forward_earnings: float, pe_max: float, elasticity: float) -> float:
    """A valuation (US$bn) bounded by what investors have ever paid for a firm of its size: above US$1tn the highest
    multiple of forward earnings is ``pe_max x (US$1tn / value)^elasticity``, so the bound is the value V solving
    ``V = pe_max x (1tn / V)^e x earnings``, i.e. ``(pe_max x earnings x 1tn^e)^(1 / (1 + e))``."""
    if value <= TRILLION or forward_earnings <= 0:
        return value
    bound = (pe_max * forward_earnings * TRILLION**elasticity) ** (1.0 / (1.0 + elasticity))
    return min(value, bound)
