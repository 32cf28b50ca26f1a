"""The primary chip market: buyers order chips (in H100e, with a deposit), chipmakers allocate their output among the
orders due and deliver their current generation mix, paid at the delivery month's list price less the deposit.

* **Order book.** The chipmakers' open orders, one columnar table (:class:`OrderBook`: one row per order, in the order
  placed; :class:`~gpucredit.sim.contracts.claims.ChipOrder` is a view of a row), filled once
  ``nvidia.order_lead_months`` have passed and dropped when filled or cancelled; what each buyer has on order is
  tallied (:attr:`ChipMarket.on_order`).
* **Allocation.** Output is allocated among the buyers with orders due, pro rata to what they are owed (or with
  a preference weight for Nvidia's investees, ``nvidia.investee_preference``), water-filling any remainder
  (:func:`allocate_chips`); output no order claims is not produced.
* **Delivery.** The buyer pays what it can (a neocloud with loan draws, its deposits and cash); the part it cannot
  pay for is cancelled and that share of its deposit forfeited.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np

from ..contracts.claims import ChipOrder, deposit_with
from ..table import Table, added_in_turn
from ..technology import BN

ORDER_COLUMNS = {  # name -> (dtype, value of an empty row)
    "id": (np.int64, 0), "buyer": (np.int64, 0), "seller": (np.int64, 0), "h100e": (float, 0.0),  # H100e still to deliver
    "month": (np.int64, 0), "deposit": (float, 0.0),  # month placed; US$bn still held by the seller
}


def allocate_chips(requested: np.ndarray, weights: np.ndarray, supply: float) -> np.ndarray:
    """Allocate ``supply`` GPUs of one generation among orders ``requested``.

    With enough supply every order is filled. Otherwise orders are filled in proportion to
    ``requested x weight`` (weight 1 = pro rata; investees of the chipmaker can carry a preference
    weight), capped at what each buyer asked for, re-distributing any remainder (water-filling)."""
    requested = np.asarray(requested, dtype=float)
    if requested.sum() <= supply:
        return requested.copy()
    alloc = np.zeros_like(requested)
    open_ = requested > 0
    left = supply
    for _ in range(len(requested) + 1):
        if left <= 1e-9 or not open_.any():
            break
        w = requested * weights * open_
        share = left * w / w.sum()
        take = np.minimum(share, requested - alloc)
        alloc += take
        left -= take.sum()
        open_ = open_ & (requested - alloc > 1e-9)
    return alloc


def first_seen(keys: np.ndarray, items: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[list]]:
    """The distinct ``keys`` in the order they first appear; for each element the index of its key among them; and
    for each key the ``items`` (default: the positions) of its elements, in their order. One stable sort."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")  # each key's elements together, in their order
    sorted_keys = keys[order]
    new = np.ones(n, dtype=bool)  # where a key's elements start
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    starts = new.nonzero()[0]
    rank = order[starts].argsort()  # the keys, in increasing order, ranked by where they first appear
    position = np.empty(len(starts), dtype=np.intp)
    position[rank] = np.arange(len(starts))
    group = np.empty(n, dtype=np.intp)
    group[order] = position[new.cumsum() - 1]
    bounds = starts.tolist() + [n]
    flat = (order if items is None else items[order]).tolist()
    return sorted_keys[starts[rank]], group, [flat[bounds[j]:bounds[j + 1]] for j in rank.tolist()]


class OrderBook(Table):
    """The chipmakers' open orders (``economy.chips.order_book``), a table with one row per order
    (:class:`gpucredit.sim.table.Table`) in the order placed, so ids increase down the rows; a chipmaker's orders are
    its rows, in that order. Amounts are read as stored (numpy float64), as the rules that settle orders add them up."""

    def __init__(self, sellers: list[int], capacity: int = 512):
        super().__init__(ORDER_COLUMNS, capacity)
        self.sellers = sellers  # the chipmakers, in the order their books are read

    def rows_of(self, seller: int | None = None, buyer: int | None = None) -> np.ndarray:
        """Rows of ``seller``'s and/or ``buyer``'s orders, oldest first."""
        return self.rows_where(seller=seller, buyer=buyer)

    def rows_by_seller(self) -> np.ndarray:
        """Every row, chipmaker by chipmaker, oldest first within each."""
        seller = self.column("seller")
        return np.concatenate([(seller == s).nonzero()[0] for s in self.sellers])

    def add(self, **values) -> int:
        """One more order, every column given (:meth:`append` for a single row, without building its row number as
        an array: an order is placed ~25 times a month); returns its row."""
        row = self.n
        columns = self._columns
        if row == len(columns["id"]):  # full: grow
            return int(self.append(**values)[0])
        for name, column in columns.items():
            column[row] = values[name]
        self.n = row + 1
        return row

    def orders(self, rows=None) -> list[ChipOrder]:
        """The orders in ``rows`` (default: all, chipmaker by chipmaker), as views."""
        return [ChipOrder(self, r) for r in (self.rows_by_seller() if rows is None else rows).tolist()]

    def due_rows(self, seller: int, placed_by: int) -> np.ndarray:
        """Rows of ``seller``'s orders placed by month ``placed_by`` with H100e still to deliver, oldest first."""
        c = self._columns
        n = self.n
        return ((c["seller"][:n] == seller) & (c["month"][:n] <= placed_by) & (c["h100e"][:n] > 0)).nonzero()[0]

    def by_buyer(self, rows: np.ndarray, deposits: bool = False) -> tuple[list[int], np.ndarray, np.ndarray | None, list]:
        """The orders ``rows`` by buyer, buyers in the order of their first order among them: the buyers, their
        H100e and (if asked for) deposits, each buyer's orders added in turn as a loop over them adds them, and each
        buyer's rows (a list, oldest first)."""
        buyers, group, members = first_seen(self.column("buyer")[rows], rows)
        k = len(buyers)
        h100e = np.bincount(group, weights=self.column("h100e")[rows], minlength=k)
        deposit = np.bincount(group, weights=self.column("deposit")[rows], minlength=k) if deposits else None
        return buyers.tolist(), h100e, deposit, members

    def drop_filled(self, seller: int) -> None:
        """``seller``'s orders with nothing left to deliver leave the book (rows change)."""
        keep = (self.column("seller") != seller) | (self.column("h100e") > 1e-9)
        if not keep.all():
            self.keep(keep.nonzero()[0])


class ChipMarket:
    """The chipmakers' order book and this month's chip sales."""

    def __init__(self, economy, chipmakers: list):
        self.economy = economy
        self.chipmakers = chipmakers  # Nvidia, then the rival
        self.order_book = OrderBook([c.eid for c in chipmakers])  # every open order, one row each
        self.sales: dict[int, float] = defaultdict(float)  # Nvidia revenue by buyer this month, US$bn
        self.sales_history: deque = deque(maxlen=24)  # the months' sales, by buyer
        self._closed_month = -99  # last month whose sales are in the history
        self._sales_12m = None  # sales_12m() as last added up, until the sales or their history change
        self.foundry = economy.ledger.sector("foundry_and_suppliers")  # who is paid the cost of goods
        self.deploy_months = economy.p["technology.deploy_months"]
        self.tally()

    def open_month(self) -> None:
        self.sales = defaultdict(float)
        self._sales_12m = None

    # --- the order book ------------------------------------------------------------------------------
    def tally(self) -> None:
        """What each buyer has on order (H100e, in all and by chipmaker) and its deposits, recounted from the
        order book (each buyer's orders added in turn, chipmaker by chipmaker, as :meth:`_order_changed` adds them)
        and kept current by every order, delivery and cancellation."""
        book = self.order_book
        rows = book.rows_by_seller()
        buyer, seller = book.column("buyer")[rows], book.column("seller")[rows]
        h100e, deposit = book.column("h100e")[rows], book.column("deposit")[rows]
        size = int(buyer.max()) + 1 if len(rows) else 0
        buyers = np.bincount(buyer, minlength=size).nonzero()[0].tolist()
        on_order = np.bincount(buyer, weights=h100e, minlength=size)  # (numpy scalars, as the orders' own amounts)
        deposits = np.bincount(buyer, weights=deposit, minlength=size)
        self.on_order = defaultdict(float, zip(buyers, on_order[buyers]))  # H100e by buyer
        self.deposits_paid = defaultdict(float, zip(buyers, deposits[buyers]))  # US$bn by buyer
        self.on_order_from = defaultdict(float)  # H100e by (buyer, chipmaker)
        for s in book.sellers:
            own = seller == s
            by_buyer = np.bincount(buyer[own], weights=h100e[own], minlength=size)
            with_orders = np.bincount(buyer[own], minlength=size).nonzero()[0]
            self.on_order_from.update(zip([(b, s) for b in with_orders.tolist()], by_buyer[with_orders]))

    def _order_changed(self, buyer: int, seller: int, h100e: float, deposit: float) -> None:
        """``buyer``'s order with ``seller`` changed by ``h100e`` H100e on order and ``deposit`` US$bn of deposit."""
        self.on_order[buyer] += h100e
        self.on_order_from[(buyer, seller)] += h100e
        self.deposits_paid[buyer] += deposit

    def orders(self, seller: int | None = None, buyer: int | None = None) -> list[ChipOrder]:
        """The open orders (of ``seller`` and/or ``buyer``), chipmaker by chipmaker, oldest first, as views."""
        book = self.order_book
        if seller is None and buyer is None:
            return book.orders()
        return book.orders(book.rows_of(seller, buyer))

    def backlog(self, seller: int) -> float:
        """H100e on order from chipmaker ``seller``, due or not (its orders added in turn, oldest first)."""
        book = self.order_book
        return added_in_turn(book.column("h100e")[book.rows_of(seller)])

    def deposits_held(self) -> float:
        """US$bn of deposits on the open orders (buyers' assets, chipmakers' customer advances), added in turn
        chipmaker by chipmaker."""
        book = self.order_book
        return added_in_turn(book.column("deposit")[book.rows_by_seller()])

    def order_value(self, chip, h100e: float) -> float:
        """US$bn that ``h100e`` of ``chip``'s output costs at today's list price of its newest generation."""
        m = self.economy
        g = m.newest_nvidia_gen if chip is m.nvidia else m.newest_rival_gen
        return h100e / m.gens[g].perf * chip.list_price(g) / BN if g >= 0 else 0.0

    def on_order_cost(self, buyer: int) -> float:
        """Value of what ``buyer`` has on order at today's list prices, less its deposits, US$bn."""
        m = self.economy
        nvidia, rival = m.nvidia, m.rival
        on_order_from = self.on_order_from
        value = self.order_value(nvidia, on_order_from.get((buyer, nvidia.eid), 0.0))
        rival_key = (buyer, rival.eid)
        if rival_key in on_order_from:  # a buyer that never ordered from the rival (every neocloud) owes it 0.0, adding nothing
            value = value + self.order_value(rival, on_order_from[rival_key])
        return value - self.deposits_paid[buyer]

    def place(self, buyer: int, chip, h100e: float, deposit_share: float | None = None, month: int | None = None) -> ChipOrder:
        """An order for ``h100e`` of ``chip``'s output placed in ``month`` (default: this month), with a deposit
        of ``nvidia.deposit_share`` of its value at today's list price (a hyperscaler issues bonds for it if need be)."""
        return ChipOrder(self.order_book, self._place(buyer, chip, h100e, deposit_share, month))

    def _place(self, buyer: int, chip, h100e: float, deposit_share: float | None = None, month: int | None = None) -> int:
        """:meth:`place`, returning the order's row (the market's own orders need no view)."""
        m = self.economy
        share = m.p["nvidia.deposit_share"] if deposit_share is None else deposit_share
        value = self.order_value(chip, h100e)
        deposit = share * value
        buyer_agent = m.entity[buyer]
        if deposit > 0:
            if buyer_agent in m.hyperscalers:
                buyer_agent.ensure_cash(deposit, obligation=False)  # within its leverage limit
            deposit = min(deposit, max(0.0, m.ledger.cash[buyer]))
            m.ledger.pay(buyer, chip.eid, deposit, "chip_deposit")
        book = self.order_book
        row = book.add(id=m.new_id(), buyer=buyer, seller=chip.eid, h100e=h100e,
                       month=m.month if month is None else month, deposit=deposit)
        self._order_changed(buyer, chip.eid, h100e, deposit)
        m.flow["chip_orders"] += value
        return row

    def seed(self) -> None:
        """The backlog at the start: ``nvidia.order_lead_months`` months of each chipmaker's output on order,
        placed before January 2023 (without deposits), split among its buyers in proportion to their fleets
        of its chips (the rival's among the hyperscalers)."""
        m = self.economy
        lead = m.p["nvidia.order_lead_months"]
        for chip in self.chipmakers:
            buyers = [h.eid for h in m.hyperscalers] + ([nc.eid for nc in m.neoclouds] if chip is m.nvidia else [])
            weights = np.array([m.fleet.capacity_by_owner[b] for b in buyers]) if chip is m.nvidia else \
                np.array([h.weight for h in m.hyperscalers])
            if not buyers or weights.sum() <= 0:
                continue
            supply = sum(units * m.gens[g].perf for g, units in chip.supply(0).items())
            for k in range(lead, 0, -1):
                for b, w in zip(buyers, weights / weights.sum()):
                    if w * supply > 1e-6:
                        self._place(b, chip, w * supply, deposit_share=0.0, month=-k)
        m.flow = defaultdict(float)  # pre-history orders are not this month's

    # --- clearing ------------------------------------------------------------------------------------
    def take_orders(self) -> None:
        """Neoclouds and hyperscalers place the orders they planned (neoclouds with Nvidia; hyperscalers with each
        chipmaker for the generations they want of it)."""
        m = self.economy
        gens = m.gens
        for nc in m.neoclouds:
            if nc.planned_units > 0:
                self._place(nc.eid, m.nvidia, nc.planned_units * gens[nc.wanted_gen].perf)
        for h in m.hyperscalers:
            for chip in self.chipmakers:
                want = sum([u * gens[g].perf for g, u in h.planned.items() if gens[g].vendor == chip.vendor])
                if want > 0:
                    self._place(h.eid, chip, want)

    def allocate(self) -> None:
        """Each chipmaker allocates this month's output among the orders due (placed at least
        ``nvidia.order_lead_months`` ago), pro rata to what is still owed (or with the investee preference), and
        ships its current generation mix. Output that no order claims is not produced."""
        m = self.economy
        gens = m.gens
        placed_by = m.month - m.p["nvidia.order_lead_months"]  # orders placed by this month are due
        invested = m.equity.investees_of(m.nvidia.eid)
        book = self.order_book
        for chip in self.chipmakers:
            supply = chip.supply(m.month)
            # each buyer's orders due, oldest first, and what it is owed: buyers in the order of their oldest order due
            buyers, requested, _, due = book.by_buyer(book.due_rows(chip.eid, placed_by))
            supply_h100e = sum([units * gens[g].perf for g, units in supply.items()])
            chip.requested = float(requested.sum()) if buyers else 0.0
            chip.supply_h100e = supply_h100e
            if not buyers or not supply_h100e > 0:  # (a rival share of 1e-308 leaves output that rounds to zero)
                continue
            pref = m.p["nvidia.investee_preference"] if chip is m.nvidia else 0.0
            weights = np.array([1.0 + pref * (b in invested) for b in buyers])
            alloc = allocate_chips(requested, weights, supply_h100e)
            mix = self.output_mix(chip, supply, supply_h100e)
            shipped = 0.0
            for rows, got in zip(due, alloc.tolist()):
                if got > 1e-9:
                    shipped += self.deliver(rows, chip, got, mix)
            book.drop_filled(chip.eid)
            m.flow[f"{chip.vendor}_allocation_ratio"] = float(shipped / max(chip.requested, 1e-9))

    def output_mix(self, chip, supply: dict[int, float], supply_h100e: float) -> list[tuple[int, float, float, float]]:
        """``chip``'s output ``supply`` (GPUs by generation, ``supply_h100e`` H100e in all) as (generation, share of
        the H100e, H100e per GPU, list price per GPU): every buyer this month gets this mix at these prices."""
        gens = self.economy.gens
        return [(g, units * gens[g].perf / supply_h100e, gens[g].perf, chip.list_price(g)) for g, units in supply.items()]

    def deliver(self, rows: list[int], chip, h100e: float, mix: list[tuple[int, float, float, float]]) -> float:
        """Ship one buyer ``h100e`` of its due orders (their ``rows`` in the order book, oldest first) as the chipmaker's
        generation ``mix`` (each generation's share of the H100e, its H100e per GPU and its list price per GPU); the
        buyer pays what it can (a neocloud with loan draws, its deposits and cash). The part it cannot pay for is
        cancelled and that share of its deposits forfeited to the chipmaker; an order filled with deposit to
        spare (prices per H100e fall) gets the rest back. A buyer takes the same share of every generation's lot.
        Returns the H100e shipped."""
        m = self.economy
        columns = self.order_book._columns  # (whole arrays: the rows in use are the first ones)
        open_h100e, held = columns["h100e"], columns["deposit"]
        buyer_id = int(columns["buyer"][rows[0]])
        buyer = m.entity[buyer_id]
        lots = []  # (generation, GPUs, list price per GPU, H100e per GPU): the buyer's share of each generation's lot
        for g, share, perf, price in mix:
            units = h100e * share / perf
            if units > 1e-6:
                lots.append((g, units, price, perf))
        h100e = sum([units * perf for _, units, _, perf in lots])
        value = sum([units * price for _, units, price, _ in lots]) / BN
        if h100e <= 0:
            return 0.0
        # the orders filled, oldest first: what each gives and the deposit that goes with it (what is on order changes
        # as _order_changed changes it, written out: the same additions to the same tallies)
        seller = chip.eid
        on_order, on_order_from, deposits_paid = self.on_order, self.on_order_from, self.deposits_paid
        pair = (buyer_id, seller)
        deposit, left, filled = 0.0, h100e, []
        for r in rows:  # the oldest orders first
            if left <= 1e-12:
                break
            h, dep = open_h100e[r], held[r]  # (numpy scalars, read once)
            x = min(h, left)
            d = min(deposit_with(dep, h, x), value * x / h100e)  # never more than the GPUs it pays for
            open_h100e[r] = h - x
            held[r] = dep - d
            on_order[buyer_id] += -x
            on_order_from[pair] += -x
            deposits_paid[buyer_id] += -d
            deposit += d
            left -= x
            filled.append(r)
        taken = buyer.take_delivery(chip, [(g, units, price, deposit * units * price / BN / value if value > 0 else 0.0)
                                           for g, units, price, _ in lots])  # the deposit applied pro rata to value
        shipped, applied = taken * h100e, taken * deposit
        if shipped < h100e * (1.0 - 1e-9):
            self.cancel(filled[-1], chip, h100e - shipped, forfeit=deposit - applied, reason="unpaid_allocation")
        for r in filled:
            if open_h100e[r] <= 1e-9 and held[r] > 0:  # filled with deposit to spare: the rest goes back
                m.ledger.pay(seller, buyer_id, held[r], "chip_deposit")
                self._order_changed(buyer_id, seller, 0.0, -held[r])
                held[r] = 0.0
        return shipped

    def ship(self, owner: int, chip, g: int, units: float, unit_price: float, pledged: int = -1, prepaid: float = 0.0) -> None:
        """A delivery of ``units`` GPUs of generation ``g``: the buyer pays the list price less ``prepaid`` (its deposit,
        US$bn, now applied: an asset of the buyer and a liability of the chipmaker turned into GPUs and revenue); the
        GPUs join its fleet, pledged to loan ``pledged`` (-1: unencumbered), and serve compute after
        ``technology.deploy_months``."""
        self.ship_lots(owner, chip, [(g, units, unit_price, pledged, prepaid)])

    def ship_lots(self, owner: int, chip, lots: list[tuple[int, float, float, int, float]]) -> None:
        """The lots of one delivery to ``owner``, each (generation, GPUs, list price per GPU, loan pledged to, deposit
        applied in US$bn) shipped as :meth:`ship` ships one, in turn (the same entries in the same order, with what
        every lot shares looked up once)."""
        m = self.economy
        led, fleet, flow = m.ledger, m.fleet, m.flow
        pay, book, produce, datacentre_capex = led.pay, led.book, fleet.produce, m.datacentre_capex
        seller, foundry, month = chip.eid, self.foundry, m.month
        live_from = month + self.deploy_months
        nvidia = chip is m.nvidia
        for g, units, unit_price, pledged, prepaid in lots:
            if units <= 0:
                continue
            cost = units * unit_price / BN
            prepaid = min(prepaid, cost)
            pay(owner, seller, cost - prepaid, "chip_sale", gpus=units)  # the GPUs go to the buyer ...
            book(seller, prepaid, "chip_sale")
            cogs = units * chip.unit_cost(g) / BN
            pay(seller, foundry, cogs, "cost_of_goods", gpus=units)  # ... from the foundry, through the chipmaker
            produce(owner, g, month, units, cost, pledged, live_from)
            chip.revenue += cost
            chip.cogs += cogs
            flow["gpu_purchases"] += cost
            flow["ai_capex"] += cost + datacentre_capex(g, units)
            if nvidia:
                self.sales[owner] += cost
                self._sales_12m = None

    def cancel(self, row: int, chip, h100e: float, forfeit: float | None = None, reason: str = "buyer_default") -> None:
        """Cancel ``h100e`` of the order in ``row`` of the order book; the buyer forfeits the deposit that goes with it
        (by default its share of what is still open), booked as a loss to the buyer and income to the chipmaker."""
        m = self.economy
        book = self.order_book
        buyer = int(book.column("buyer")[row])
        if forfeit is None:
            open_h100e, held = book.column("h100e"), book.column("deposit")
            forfeit = deposit_with(held[row], open_h100e[row], h100e)
            h100e = min(h100e, open_h100e[row])
            held[row] -= forfeit
            open_h100e[row] -= h100e
            self._order_changed(buyer, chip.eid, -h100e, -forfeit)
        if forfeit > 0:
            m.ledger.book(buyer, -forfeit, "forfeited_deposit")
            m.ledger.book(chip.eid, forfeit, "forfeited_deposit")
        m.flow["chip_orders_cancelled"] += h100e
        m.events.log("chip_order_cancelled", [m.entity[buyer].name, chip.name], forfeit, units=h100e, detail=reason)

    def cancel_all(self, buyer: int) -> None:
        """A defaulted buyer's open orders are cancelled and its deposits forfeited."""
        book = self.order_book
        for chip in self.chipmakers:
            for row in book.rows_of(chip.eid, buyer).tolist():
                self.cancel(row, chip, book.column("h100e")[row])
            book.drop_filled(chip.eid)

    # --- sales ---------------------------------------------------------------------------------------
    def close_month(self) -> None:
        """This month's sales join the history (after the month's series are recorded)."""
        m = self.economy
        # kept as plain floats (a sale can be a numpy scalar, slow to add up at every 12-month total; the same values)
        self.sales_history.append({buyer: float(sale) for buyer, sale in self.sales.items()})
        self._closed_month = m.month
        self._sales_12m = None

    def sales_12m(self) -> dict[int, float]:
        """Nvidia chip sales by buyer over the last 12 months, the current month included (added up once until a
        sale or the month's close changes them; each caller gets its own copy)."""
        if self._sales_12m is None:
            months = list(self.sales_history)
            if self._closed_month != self.economy.month:
                months = months[-11:] + [self.sales]
            totals: dict[int, float] = defaultdict(float)
            for month in months[-12:]:
                for k, v in month.items():
                    totals[k] += v
            self._sales_12m = totals
        return defaultdict(float, self._sales_12m)
