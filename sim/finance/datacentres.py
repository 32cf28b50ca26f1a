"""Data-centre construction finance: the leading neoclouds build part of their power capacity with construction debt.

A data centre is leased or built. A lease (the rule of every neocloud until now) costs ``neoclouds.power_cost`` per
MW-month from the month its capacity is ready. A *build* (powered shell, electrical plant and cooling) costs
``datacentres.cost_per_mw`` US$bn per MW of critical IT load, spent evenly over ``datacentres.build_months``, and
earns nothing until GPUs are installed in it: capacity under construction hosts no GPU. Each month's spending is
financed ``datacentres.debt_share`` by a construction loan from the banks (an outside sector) and the rest from the
builder's cash; a builder short of cash spends less that month and finishes later. Interest (SOFR +
``datacentres.spread``) accrues on the loan during construction and is capitalised into the asset's cost (borrowing
costs of a qualifying asset, IAS 23); once complete the loan amortises straight-line over
``datacentres.term_months`` (the usual refinancing of a construction loan into a term loan, kept as one loan), and
the data centre is owned: it pays no lease (the power and operations of the GPUs in it are paid as before) and its
book value depreciates straight-line over ``datacentres.life_months``. An instalment a builder cannot pay is not a
default by itself: unpaid interest is added to the loan (an expense), unpaid principal stays due.

Who builds: the ``datacentres.builders`` largest named neoclouds by opening power capacity (ties in roster order),
``datacentres.build_share`` of each new block of capacity they add, as far as their cash above its buffer can fund the
equity part (after what is still to come on the projects under way); the rest they lease, as every other neocloud.

Default (:meth:`DataCentres.realise`, from :func:`gpucredit.sim.credit.default.resolve_default`): a builder that
defaults defaults on its construction loans too (cross-default). The construction lender, secured on the data
centres, takes them at ``datacentres.recovery_rate`` of their book value and keeps what it is owed out of that;
any excess goes to the defaulted firm's estate (its GPU lenders, then suppliers and owners, by absolute priority);
the unrecovered construction debt is extinguished.

Every payment goes through the ledger (kinds ``construction_draw``, ``construction_spend``, ``construction_interest``,
``construction_repayment``, ``datacentre_sale``); the data centres are an asset of the owner's balance sheet and the
construction loans a liability (:func:`gpucredit.sim.accounts.balance_sheets`).
"""

from __future__ import annotations

from dataclasses import dataclass

BUILDING, OWNED = "building", "owned"


@dataclass
class Build:
    """One data-centre project of one builder (money in US$bn, capacity in MW, months as model steps)."""

    owner: int  # the builder's entity id
    mw: float  # critical IT load
    cost: float  # construction cost, US$bn (capitalised interest comes on top)
    start: int  # month construction started
    ready: int  # month it is due to be complete, if every month's spending is funded
    spent: float = 0.0  # construction spending so far, US$bn
    debt: float = 0.0  # construction loan outstanding, US$bn (capitalised interest included)
    book: float = 0.0  # book value: spending and capitalised interest, less depreciation once complete
    basis: float = 0.0  # book value at completion (the depreciable cost)
    instalment: float = 0.0  # principal due each month once complete
    status: str = BUILDING


class DataCentres:
    """Every data-centre project of an economy (``economy.datacentres``) and the construction loans behind them."""

    def __init__(self, economy):
        self.economy = economy
        self.builds: list[Build] = []
        p = economy.p
        named = [nc for nc in economy.neoclouds if nc.named]
        ranked = sorted(named, key=lambda nc: -nc.power_mw)  # stable: ties keep the roster's order
        for nc in ranked[:p["datacentres.builders"]]:
            nc.builds = True

    # --- queries -------------------------------------------------------------------------------------
    def of(self, eid: int, status: str | None = None) -> list[Build]:
        return [b for b in self.builds if b.owner == eid and (status is None or b.status == status)]

    def debt_of(self, eid: int) -> float:
        """Construction debt ``eid`` owes, US$bn."""
        return sum([b.debt for b in self.builds if b.owner == eid])

    def building_mw(self, eid: int) -> float:
        """MW ``eid`` has under construction (not yet able to host GPUs)."""
        return sum([b.mw for b in self.builds if b.owner == eid and b.status == BUILDING])

    def ready_by(self, eid: int, month: int) -> float:
        """MW under construction that is due to be complete by ``month``."""
        return sum([b.mw for b in self.builds if b.owner == eid and b.status == BUILDING and b.ready <= month])

    def equity_to_come(self, eid: int) -> float:
        """US$bn ``eid`` has still to pay from its own cash on the projects it has under construction."""
        own = 1.0 - self.economy.p["datacentres.debt_share"]
        return own * sum([b.cost - b.spent for b in self.builds if b.owner == eid and b.status == BUILDING])

    def totals(self) -> tuple[float, float, float]:
        """Construction debt (US$bn), MW under construction and MW owned, all builders."""
        debt = sum([b.debt for b in self.builds])
        building = sum([b.mw for b in self.builds if b.status == BUILDING])
        return debt, building, sum([b.mw for b in self.builds if b.status == OWNED])

    # --- a project's life ----------------------------------------------------------------------------
    def start(self, builder, mw: float) -> None:
        """``builder`` starts building ``mw`` MW this month (nothing is spent before the monthly advance)."""
        m = self.economy
        p = m.p
        self.builds.append(Build(builder.eid, mw, mw * p["datacentres.cost_per_mw"], m.month,
                                 m.month + p["datacentres.build_months"]))
        m.events.log("datacentre_start", [builder.name], mw * p["datacentres.cost_per_mw"], units=mw, detail="MW")

    def advance(self) -> None:
        """The month of every project (phase 7): construction spending and draws, capitalised interest and completion;
        debt service and depreciation of the finished ones."""
        m = self.economy
        rate = self.monthly_rate()  # (nothing in the month's advance changes SOFR or the spread)
        banks, life = m.ledger.sector("banks"), m.p["datacentres.life_months"]
        for b in list(self.builds):
            if b.status == OWNED:
                if b.debt > 0:
                    self._service(b, rate, banks)
                self._depreciate(b, life)
            else:
                self._build(b, rate)

    def monthly_rate(self) -> float:
        m = self.economy
        return (m.sofr + m.p["datacentres.spread"]) / 12.0

    def _build(self, b: Build, rate: float) -> None:
        """Interest on the loan is capitalised; this month's spending (cost / build months, less if the builder's cash
        cannot fund its equity part) is drawn ``datacentres.debt_share`` on the loan and paid to the contractors; a
        project fully spent and past its due month is complete."""
        m = self.economy
        led, p = m.ledger, m.p
        interest = b.debt * rate
        b.debt += interest
        b.book += interest
        m.flow["construction_interest_capitalised"] += interest
        share = p["datacentres.debt_share"]
        spend = min(b.cost / p["datacentres.build_months"], b.cost - b.spent)
        equity_part = (1.0 - share) * spend
        cash = max(0.0, led.cash[b.owner])
        if equity_part > cash:  # it can fund only part of this month's work
            spend = cash / (1.0 - share)
        if spend > 0:
            draw = share * spend
            led.pay(led.sector("banks"), b.owner, draw, "construction_draw")
            led.pay(b.owner, led.sector("utilities_and_data_centres"), spend, "construction_spend")
            b.debt += draw
            b.spent += spend
            b.book += spend
            m.flow["construction_spend"] += spend
        if b.spent >= b.cost * (1.0 - 1e-9) and m.month + 1 >= b.ready:
            self._complete(b)

    def _complete(self, b: Build) -> None:
        """The data centre is finished: owned capacity of its builder from now on; its loan starts amortising."""
        m = self.economy
        b.status = OWNED
        b.basis = b.book
        b.instalment = b.debt / m.p["datacentres.term_months"]
        nc = m.entity[b.owner]
        nc.commission_owned(b.mw)
        m.events.log("datacentre_complete", [nc.name], b.book, units=b.mw, detail="MW")

    def _service(self, b: Build, rate: float, banks: int) -> None:
        """Interest (``rate`` a month) and the straight-line instalment of a finished data centre's loan (still owed),
        out of the owner's cash, to the ``banks``; what it cannot pay of the interest is added to the loan (an
        expense), unpaid principal stays due."""
        led = self.economy.ledger
        interest = b.debt * rate
        cash = max(0.0, led.cash[b.owner])
        paid = min(interest, cash)
        led.pay(b.owner, banks, paid, "construction_interest")
        if interest - paid > 0:
            led.book(b.owner, -(interest - paid), "construction_interest_capitalised")
            b.debt += interest - paid
        principal = min(b.instalment, b.debt, max(0.0, led.cash[b.owner]))
        led.pay(b.owner, banks, principal, "construction_repayment")
        b.debt -= principal

    def _depreciate(self, b: Build, life_months: int) -> None:
        dep = min(b.book, b.basis / life_months)
        b.book -= dep
        self.economy.ledger.book(b.owner, -dep, "datacentre_depreciation")

    # --- default -------------------------------------------------------------------------------------
    def realise(self, nc) -> float:
        """``nc`` defaults: its construction lender takes its data centres (built or not) at ``datacentres.recovery_rate``
        of their book value, paying for them in cash; out of that cash it is repaid up to its claim; any excess stays
        with the defaulted firm for its other creditors (absolute priority); the rest of the construction debt is
        extinguished. Returns the construction lender's loss (US$bn)."""
        m = self.economy
        mine = self.of(nc.eid)
        if not mine:
            return 0.0
        led = m.ledger
        banks = led.sector("banks")
        book = sum([b.book for b in mine])
        debt = sum([b.debt for b in mine])
        proceeds = m.p["datacentres.recovery_rate"] * book
        led.pay(banks, nc.eid, proceeds, "datacentre_sale")
        led.book(nc.eid, proceeds - book, "datacentre_writedown")
        repaid = min(proceeds, debt)
        led.pay(nc.eid, banks, repaid, "construction_repayment")
        loss = debt - repaid
        led.book(nc.eid, loss, "construction_debt_extinguished")
        self.builds = [b for b in self.builds if b.owner != nc.eid]
        m.flow["construction_losses"] += loss
        m.events.log("construction_default", [nc.name, "banks"], debt,
                     detail=f"data centres {book:.3f} taken at {proceeds:.3f}; loss {loss:.3f}")
        return loss
