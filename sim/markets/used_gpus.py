"""The used-GPU market: appraisal, a bid book that forced sellers trade against, and the used-GPU price that marks every
loan's collateral.

* **Appraisal** (:func:`appraise`): the present value of a GPU's expected rental margin (at its own generation's rent,
  the expected price index times the generation's current rent relative to it) over its remaining life, at
  the expected utilisation and the investment-grade cost of capital, capped at the replacement cost of the same
  performance new. Lenders advance against it at origination.
* **Buyers.** Two kinds bid for used GPUs, generation by generation:

  - *neoclouds* (:meth:`gpucredit.agents.neocloud.Neocloud.used_gpu_bid`), each up to what a GPU is worth to it under
    its own expectations and hurdle rate (never above outside buyers' top price: it could buy there), with a month's
    budget out of its free cash and the power it has free to run what it buys. GPUs they buy stay in the economy
    and serve compute again under their new owner after ``technology.deploy_months`` of re-installation;
  - *outside buyers* (smaller clouds abroad, enterprises, resellers) with a finite, downward-sloping demand: the
    first GPU fetches the *quote*, appraisal less ``markets.liquidity_discount``, and their bid falls by
    ``markets.price_impact`` log points per ``markets.market_depth`` of the installed base they absorb. What they
    absorb recovers with a half-life of ``markets.impact_half_life`` months. GPUs they buy leave the economy.

* **Trading** (:meth:`UsedGpuMarket.sell_cohort`): a seller (a distressed neocloud raising cash, a lender liquidating
  seized GPUs) sells into the best bid first: a neocloud's, at its bid, while it is at least the outside buyers'
  price; outside buyers' otherwise, walking down their demand curve (the seller receives its integral) until it
  meets the next neocloud bid. So a wave of forced sales lowers the price by the balance of sellers and buyers'
  money, not by a formula.
* **Price** (:attr:`UsedGpuMarket.prices`): the best bid left for the next GPU (outside buyers' or a neocloud's with
  money left), never above the quote. It marks every loan's collateral, so one seller's fire sale tightens every
  other borrower's covenant.
"""

from __future__ import annotations

import math

import numpy as np

from ...agents.investment import life_discount
from ..technology import BN, HOURS_PER_MONTH


def appraise(expected_path: np.ndarray, perf: np.ndarray, running_cost: np.ndarray, remaining_life: np.ndarray,
             utilisation: float, annual_rate: float, replacement_cost: np.ndarray,
             discount: np.ndarray | None = None) -> np.ndarray:
    """Appraised value of one used GPU per generation, US$: the present value of its expected rental
    margin (expected H100e price x performance - running cost, when positive) over its remaining life (``perf``: the
    H100e a GPU earns the price index for, its performance times its generation's rent relative to the index),
    at the expected utilisation, capped at the replacement cost of the same performance new.

    ``expected_path`` is the expected spot price for months 1..H ahead; ``discount``, if given, is
    :func:`life_discount` of the same horizon, remaining lives and rate (worked out once for several appraisals)."""
    if discount is None:
        discount = life_discount(len(expected_path), remaining_life, annual_rate)
    # np.outer's products, broadcast (without its Python wrapper)
    margin = np.maximum(perf[:, None] * expected_path - running_cost[:, None], 0.0) * HOURS_PER_MONTH * utilisation
    value = (margin * discount).sum(axis=1)
    return np.minimum(value, replacement_cost)


SCAN_BIDS_BELOW = 64  # bids: below, the best bid is found bid by bid; from there on, with array operations


class BidBook:
    """The month's standing bids of neoclouds, columnar: one row per bidder (in the order asked) with what a GPU of
    each generation is worth to it (US$), the US$bn it has left to spend and the MW of power it has left to run what
    it buys. Sales draw the budget and power down; the values stay as formed. The bid-by-bid search reads the same
    figures as plain Python lists (``budget_list``, ``power_list``, kept equal to the arrays by :class:`Bid`'s writes,
    and each generation's values, listed when first searched)."""

    def __init__(self, buyers: list, values: list[np.ndarray], budget: list[float], power_mw: list[float], n_gens: int,
                 exits: list | None = None):
        self.buyers = buyers
        self._exits = exits if exits is not None else []  # the economy's list of neoclouds that exited (it only grows)
        self._exits_seen = len(self._exits)  # ... as long as it is this long, every bidder is in business
        self._all_alive = np.ones(len(buyers), dtype=bool)
        self.eids = np.array([b.eid for b in buyers], dtype=np.int64)
        self.values = np.array(values, dtype=float).reshape(len(buyers), n_gens)
        self.budget = np.array(budget, dtype=float)
        self.power_mw = np.array(power_mw, dtype=float)
        self.eid_list = self.eids.tolist()
        self.budget_list = self.budget.tolist()
        self.power_list = self.power_mw.tolist()
        self._values_of_gen: dict[int, list[float]] = {}
        self.drawn = 0  # how many times a bid's budget or power was drawn down (for :meth:`top_bids`)
        self._top = None  # ((drawn, exits), top bids) as last worked out

    def __len__(self) -> int:
        return len(self.buyers)

    def alive(self) -> np.ndarray:
        """Which bidders are still in business (a neocloud can default after it bid: it then joins the economy's
        exits, so while no neocloud has exited since the book was formed, every bidder is)."""
        if len(self._exits) == self._exits_seen:
            return self._all_alive
        return np.fromiter((b.alive for b in self.buyers), dtype=bool, count=len(self.buyers))

    def top_bids(self, facility_kw: np.ndarray) -> np.ndarray | None:
        """The highest bid for one more GPU of each generation (US$; 0 where no bidder has the money and the power,
        ``facility_kw`` per GPU, for one), over the bidders still in business; None if none is. Worked out again only
        after a bid was drawn down or a bidder exited (the values never change)."""
        key = (self.drawn, len(self._exits))
        if self._top is None or self._top[0] != key:
            live = self.alive()
            if not live.any():
                top = None
            else:
                if live is self._all_alive:  # every bidder (the rows themselves, not copies of them)
                    values, budget, power = self.values, self.budget[:, None] * BN, self.power_mw[:, None] * 1000.0
                else:
                    values = self.values[live]  # (bidders, generations)
                    budget = self.budget[live][:, None] * BN
                    power = self.power_mw[live][:, None] * 1000.0
                can_buy = (budget >= values) & (power >= facility_kw[None, :])  # at least one GPU
                top = np.where(can_buy, values, 0.0).max(axis=0)
            self._top = (key, top)
        return self._top[1]

    def values_of_gen(self, g: int) -> list[float]:
        """What a GPU of generation ``g`` is worth to each bidder, US$, as a list (the values never change)."""
        values = self._values_of_gen.get(g)
        if values is None:
            values = self._values_of_gen[g] = self.values[:, g].tolist()
        return values


class Bid:
    """One row of the bid book: a neocloud's standing bid (its budget and power are the book's, drawn down by what it
    buys)."""

    __slots__ = ("book", "row")

    def __init__(self, book: BidBook, row: int):
        self.book, self.row = book, row

    @property
    def buyer(self):
        return self.book.buyers[self.row]

    @property
    def budget(self) -> float:
        return self.book.budget_list[self.row]  # a plain float, as the neocloud bid it

    @budget.setter
    def budget(self, value: float) -> None:
        self.book.drawn += 1
        self.book.budget[self.row] = value
        self.book.budget_list[self.row] = float(value)  # (the value stored: a float64 either way)

    @property
    def power_mw(self) -> float:
        return self.book.power_list[self.row]

    @power_mw.setter
    def power_mw(self, value: float) -> None:
        self.book.drawn += 1
        self.book.power_mw[self.row] = value
        self.book.power_list[self.row] = float(value)


class UsedGpuMarket:
    """Used-GPU prices by generation (US$ per GPU), the month's bid book and outside buyers' demand."""

    def __init__(self, economy):
        params = economy.p
        n = len(economy.gens)
        self.economy = economy
        self.liquidity_discount = params["markets.liquidity_discount"]
        self.impact = params["markets.price_impact"]
        self.depth_share = params["markets.market_depth"]
        self.decay = 0.5 ** (1.0 / params["markets.impact_half_life"])
        self.absorbed = np.zeros(n)  # H100e of each generation outside buyers absorbed recently (decaying)
        self.panic = 0.0  # log discount of the quote after a price shock (decaying)
        self.appraisal = np.zeros(n)
        self.appraisal_per_gpu = np.zeros(n)
        self.quote = np.zeros(n)  # outside buyers' top price, US$ per GPU
        self.prices = np.zeros(n)
        self._bids = BidBook([], [], [], [], len(economy.gens))
        self._bids_month = None  # the month the bid book was formed
        self._terms = None  # (month, life, horizon, rate) and the appraisal's terms then (:meth:`_appraisal_terms`)

    # --- prices --------------------------------------------------------------------------------------
    def depth(self) -> float:
        """Outside buyers' depth for each generation, H100e: ``markets.market_depth`` of the installed base."""
        return max(self.depth_share * self.economy.fleet.installed_h100e, 1.0)

    def outside_price(self, g: int) -> float:
        """What outside buyers pay for the next GPU of generation ``g``, US$."""
        return self.quote[g] * math.exp(-self.impact * self.absorbed[g] / self.depth())

    def reappraise(self) -> None:
        """Appraise every generation (:func:`appraise`: unreleased ones at zero) on the market's expected price path
        and the newest Nvidia generation's list price, and mark the used-GPU prices."""
        m = self.economy
        p = m.p
        life = p["technology.physical_life_months"]
        path = m.expectations.price_path(m.horizons[:life])
        newest = m.newest_nvidia_gen
        new_price_per_h100e = m.nvidia.list_price(newest) / m.gens[newest].perf
        rate = m.sofr + p["lenders.spread_ig"]
        released, remaining, cost, discount = self._appraisal_terms(life, len(path), rate)
        earning = m.perf.take(released) * m.spot.relative_rents().take(released)  # H100e at its own generation's rent
        appraisal = np.zeros(len(m.gens))  # (only the released generations are appraised, each on its own)
        appraisal[released] = appraise(path, earning, cost, remaining, m.spot.expected_utilisation, rate,
                                       m.perf.take(released) * new_price_per_h100e, discount)
        self.appraisal_per_gpu = appraisal
        self.appraisal = appraisal
        self.quote = appraisal * ((1.0 - self.liquidity_discount) * math.exp(-self.panic))
        self.mark()

    def _appraisal_terms(self, life: int, horizon: int, rate: float) -> tuple:
        """The month's released generations (their indexes), their remaining lives (months), running and facility
        costs (US$ per GPU-hour) and :func:`life_discount` at ``rate``: the same for the month's appraisals while the
        rate is (the appraisal is made twice a month)."""
        m = self.economy
        key = (m.month, life, horizon, rate)
        if self._terms is None or self._terms[0] != key:
            released = (m.release <= m.month).nonzero()[0]
            remaining = np.maximum(0, life - (m.month - m.release)).take(released)
            cost = (m.running_cost + m.facility_cost).take(released)
            self._terms = (key, (released, remaining, cost, life_discount(horizon, remaining, rate)))
        return self._terms[1]

    def forced_sale_value(self, g: int, units: float, price_factor: float = 1.0) -> float:
        """What selling ``units`` GPUs of generation ``g`` to outside buyers at once would fetch, US$bn: the integral of
        their demand curve from today's outside price (times ``price_factor``, a seller's expected price change), the
        price impact of the sale included; neoclouds' bids are left out (a lender cannot count on them). A query: it
        sells nothing."""
        x = self.impact * units * self.economy.perf[g] / self.depth()
        return self.outside_price(g) * price_factor * units * (-math.expm1(-x) / x if x > 1e-12 else 1.0) / BN

    def forced_sale_total(self, rows: np.ndarray, price_factor: float = 1.0) -> float:
        """What selling the fleet's cohorts ``rows`` to outside buyers would fetch, US$bn: the sum, in row order, of
        :meth:`forced_sale_value` of each cohort sold at once on its own (the same figures, with each generation's
        outside price and the depth worked out once rather than once per cohort). A query: it sells nothing."""
        fleet = self.economy.fleet
        perf = self.economy.perf.tolist()
        depth, impact = self.depth(), self.impact
        outside: dict[int, float] = {}  # each generation's outside price x price_factor, as first needed
        total = 0.0
        for g, units in zip(fleet.gen[rows].tolist(), fleet.count[rows].tolist()):
            price = outside.get(g)
            if price is None:
                price = outside[g] = float(self.outside_price(g)) * price_factor
            x = impact * units * perf[g] / depth
            flattening = -math.expm1(-x) / x if x > 1e-12 else 1.0  # the demand curve's (1 - e^-x) / x
            total = total + price * units * flattening / BN  # one by one, as the values were summed
        return total

    def mark(self) -> None:
        """Each generation's price: the best bid for its next GPU, never above the quote. Neoclouds' bids matter only
        where outside buyers' price is below the quote (after recent sales)."""
        depth = self.depth()
        outside = self.quote * np.exp(-self.impact * self.absorbed / depth)
        if not (outside < self.quote * (1.0 - 1e-9)).any():  # (the method: without np.any's Python wrappers)
            self.prices = outside
            return
        top = self.bids().top_bids(self.economy.facility_kw)
        if top is None:  # no bidder in business
            self.prices = np.minimum(outside, self.quote)
            return
        self.prices = np.minimum(np.maximum(outside, top), self.quote)

    def discount(self) -> float:
        """How far recent sales have pushed used-GPU prices below outside buyers' quote: 1 - the installed base at
        market prices over the installed base at the quote."""
        fleet = self.economy.fleet
        counts, gens = fleet.view("count"), fleet.view("gen")
        at_quote = float((counts * self.quote[gens]).sum())
        return 1.0 - float((counts * self.prices[gens]).sum()) / at_quote if at_quote > 0 else 0.0

    def shock(self, log_discount: float) -> None:
        """A used-GPU price shock: the quote (and with it every bid, which never exceeds it) falls by ``log_discount``
        log points at once; the discount decays with ``markets.impact_half_life``."""
        self.panic += log_discount
        self.quote = self.quote * math.exp(-log_discount)
        self.mark()

    def decay_pressure(self) -> None:
        """Outside buyers' demand recovers: what they absorbed, and any price shock, decay with
        ``markets.impact_half_life`` (volumes below a millionth of the depth, and discounts below 1e-9, are forgotten)."""
        self.absorbed *= self.decay
        self.absorbed[self.absorbed < 1e-6 * self.depth()] = 0.0
        self.panic = self.panic * self.decay if self.panic > 1e-9 else 0.0

    def collateral_index(self) -> float:
        """Market value per H100e of the installed base (a collateral price index)."""
        fleet = self.economy.fleet
        h = fleet.installed_h100e
        if h <= 0:
            return 0.0
        value = float((fleet.view("count") * self.prices[fleet.view("gen")]).sum())
        return value / h

    # --- the bid book --------------------------------------------------------------------------------
    def bids(self) -> BidBook:
        """The month's bid book, formed the first time it is needed in a month (each neocloud asked, in order) and
        drawn down by what they buy."""
        m = self.economy
        if self._bids_month != m.month:
            self._bids_month = m.month
            buyers, values, budget, power = [], [], [], []
            for nc in m.neoclouds:
                bid = nc.used_gpu_bid()
                if bid is not None:
                    buyers.append(nc)
                    values.append(bid[0])
                    budget.append(bid[1])
                    power.append(bid[2])
            self._bids = BidBook(buyers, values, budget, power, len(m.gens), m.defunct)
        return self._bids

    def withdraw_bids(self) -> None:
        """Neoclouds withdraw their bids (their cash or power changed outside the market): the next sale or mark
        asks them again."""
        self._bids_month = None

    def best_bid(self, g: int, seller: int) -> tuple[Bid | None, float]:
        """The highest neocloud bid (other than the seller's, from a firm still in business, with money and power
        left) for a GPU of generation ``g``, and its price (at most the quote); of equal bids, the first asked. A book
        of up to ``SCAN_BIDS_BELOW`` bids is read bid by bid (cheaper than array operations on a few rows); a larger one
        as arrays, so that a sale costs the same few array operations however many neoclouds bid. The two give the same
        answer (tests/test_fuzz.py)."""
        book = self.bids()
        if len(book) < SCAN_BIDS_BELOW or not len(book):
            return self._scan_for_best_bid(book, g, seller)
        value = np.minimum(book.values[:, g], self.quote[g])
        ok = (value > 0.0) & (book.budget * BN >= value) & (book.power_mw * 1000.0 >= self.economy.facility_kw[g])
        ok &= (book.eids != seller) & book.alive()
        row = int(np.where(ok, value, 0.0).argmax())  # the first of the highest
        return (Bid(book, row), value[row]) if ok[row] else (None, 0.0)

    def _scan_for_best_bid(self, book: BidBook, g: int, seller: int) -> tuple[Bid | None, float]:
        """:meth:`best_bid`, bid by bid, compared as plain floats (the same comparisons of the same values); the price
        is the numpy value the book holds, as the array search gives it."""
        kw = float(self.economy.facility_kw[g])
        quote = self.quote[g]
        top = float(quote)
        budget, power = book.budget_list, book.power_list
        alive = book.alive()
        alive = None if alive is book._all_alive else alive.tolist()  # (None: every bidder)
        best, price = None, 0.0
        for row, (eid, bid_value) in enumerate(zip(book.eid_list, book.values_of_gen(g))):
            if eid == seller or (alive is not None and not alive[row]):
                continue
            value = min(bid_value, top)
            if value > price and budget[row] * BN >= value and power[row] * 1000.0 >= kw:  # at least one GPU
                best, price = row, value
        return (Bid(book, best), min(book.values[best, g], quote)) if best is not None else (None, 0.0)

    # --- sales ---------------------------------------------------------------------------------------
    def sell_cohort(self, seller: int, row: int, units: float, forced: bool, remark: bool = True) -> float:
        """Sell ``units`` GPUs of a cohort into the bid book (best bid first; see the module docstring); returns the
        proceeds, US$bn. ``forced`` sales count as fire sales in the outputs and the event log. The prices are marked
        after the sale unless ``remark`` is false: for a run of sales that reads no price in between (a sale itself
        reads the bids and outside buyers' demand, not the marks), the caller marks once after the last."""
        m = self.economy
        fleet = m.fleet
        g = int(fleet.gen[row])
        left = min(units, fleet.count[row])
        proceeds = resold = 0.0
        while left > 1e-9:
            bid, bid_price = self.best_bid(g, seller)
            outside = self.outside_price(g)
            if bid is not None and bid_price >= outside:
                take = min(left, bid.budget * BN / bid_price, bid.power_mw * 1000.0 / m.facility_kw[g])
                proceeds += self.resell(seller, row, take, bid, bid_price)
                resold += take
            else:
                take = self.outside_quantity(g, left, bid_price, outside)  # (at the outside price just read)
                proceeds += self.sell_outside(seller, row, take, outside)
            left -= take
        if remark:
            self.mark()
        if forced and proceeds > 0:
            m.flow["fire_sale_volume"] += proceeds
            m.flow["fire_sale_units"] += units
            m.events.log("fire_sale", [m.entity[seller].name], proceeds, units=units, detail=m.gens[g].name)
        return proceeds

    def outside_quantity(self, g: int, units: float, floor: float, outside: float | None = None) -> float:
        """GPUs of generation ``g`` (at most ``units``) outside buyers take before their price falls to ``floor``
        (the next neocloud bid; 0: all of them). ``outside``: :meth:`outside_price` if the caller has just read it."""
        if outside is None:
            outside = self.outside_price(g)
        if floor <= 0 or self.impact <= 0 or outside <= floor:
            return units
        h100e = self.depth() / self.impact * math.log(outside / floor)
        return min(units, max(h100e / self.economy.perf[g], 1e-9))

    def sell_outside(self, seller: int, row: int, units: float, outside: float | None = None) -> float:
        """Outside buyers take ``units`` GPUs of a cohort, paying the integral of their demand curve; the GPUs leave
        the economy and what outside buyers absorbed rises. Returns the proceeds, US$bn. ``outside``:
        :meth:`outside_price` of the cohort's generation if the caller has just read it."""
        m = self.economy
        fleet = m.fleet
        g = int(fleet.gen[row])
        perf = m.perf[g]
        depth = self.depth()
        if outside is None:
            outside = self.outside_price(g)
        x = self.impact * units * perf / depth  # how far down their curve the sale takes them, in log points
        # the integral, outside x units x (1 - e^-x) / x, written so that a tiny impact neither overflows nor loses digits
        value = outside * units * (-math.expm1(-x) / x if x > 1e-12 else 1.0)
        proceeds = value / BN
        book = fleet.take_out(row, units, scrapped=False)
        self.absorbed[g] += units * perf
        led = m.ledger
        led.pay(led.sector("used_gpu_buyers"), seller, proceeds, "used_gpu_sale", gpus=units)
        self.book_sale(seller, proceeds, book)
        return proceeds

    def book_sale(self, seller: int, proceeds: float, book: float) -> None:
        """The seller's gain or loss on a sale; a lender selling seized GPUs below their value at seizure books a
        credit loss (liquidation losses are part of ``lender_losses``)."""
        m = self.economy
        m.ledger.book(seller, proceeds - book, "gain_on_gpu_sales")
        lender = m.entity[seller]
        if lender in m.lenders and book > proceeds:
            lender.losses += book - proceeds
            lender.realised_losses += book - proceeds
            m.flow["liquidation_losses"] += book - proceeds

    def resell(self, seller: int, row: int, units: float, bid: Bid, price: float) -> float:
        """A neocloud buys ``units`` GPUs of a cohort at ``price`` (US$ each) with cash: they join its fleet
        unencumbered, at what it paid, and serve compute after ``technology.deploy_months`` of re-installation.
        Returns the proceeds, US$bn."""
        m = self.economy
        fleet = m.fleet
        buyer = bid.buyer.eid
        g = int(fleet.gen[row])
        paid = units * price / BN
        part = fleet.split(row, units) if units < fleet.count[row] * (1.0 - 1e-12) else row
        book = fleet.book[part]
        fleet.transfer(part, buyer)
        fleet.pledged[part] = -1
        fleet.liquidate[part] = 0
        fleet.cost[part] = fleet.book[part] = paid
        fleet.live_from[part] = m.month + m.p["technology.deploy_months"]
        led = m.ledger
        led.pay(buyer, seller, paid, "used_gpu_sale", gpus=units)
        self.book_sale(seller, paid, book)
        bid.budget -= paid
        bid.power_mw -= units * m.facility_kw[g] / 1000.0
        m.flow["used_gpus_resold"] += units
        m.flow["used_gpu_resales"] += paid
        return paid

    def sell_for_cash(self, seller: int, rows, amount: float, forced: bool = True) -> float:
        """Sell GPUs from ``rows`` (least efficient first) until ``amount`` US$bn is raised or they run out; returns
        what was raised (:meth:`sell_cohort`)."""
        m = self.economy
        fleet = m.fleet
        raised = 0.0
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[np.argsort(m.perf[fleet.gen[rows]], kind="stable")]  # least efficient first, ties in the order given
        for r, g in zip(rows.tolist(), fleet.gen[rows].tolist()):
            if raised >= amount:
                break
            price = self.prices[g]  # (marked again after each sale)
            if price <= 0 or fleet.count[r] <= 0:
                continue
            units = min(fleet.count[r], (amount - raised) * BN / price)
            raised += self.sell_cohort(seller, r, units, forced=forced)
        return raised
