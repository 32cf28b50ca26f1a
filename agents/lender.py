"""Lenders: private-credit funds and banks (Blackstone, Magnetar, Pimco, Carlyle, BlackRock, Macquarie,
Upper90, Apollo, plus generic ones) that make GPU-backed delayed-draw term loans.

* **Underwriting.** The origination LTV is procyclical (the leverage cycle): it rises with sentiment and
  recent collateral gains and falls after losses, capped at ``lenders.max_ltv``. Spreads over SOFR are
  lower for draws backed by investment-grade contracts. Exposure to one borrower is capped at a share of
  the fund's capital. Credit investors add capital when sentiment and collateral values rise, within
  their total allocation to GPU lending, and redeem idle cash after losses and collateral declines.
* **Monitoring.** Collateral is marked monthly to the secondary GPU price (plus a share of the assigned
  contracts' remaining value). A breach (covenant or missed payment) opens a cure period; the lender may
  waive it (forbearance) for ``lenders.waiver_months``; an uncured breach at the end of the cure period
  is a default.
* **Recovery.** On default the lender seizes the pledged GPUs and the assigned contracts; it keeps the GPUs
  that serve those contracts (leasing them out) and sells the rest over ``lenders.liquidation_months``
  to outside buyers, a fire sale that depresses the used-GPU price; losses are principal minus recoveries. The
  seizure, the schedule and the sales are carried out by the credit system (:mod:`gpucredit.sim.credit.default`).
"""

from __future__ import annotations

from collections import deque

import mesa

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sim.contracts.claims import Loan


class Lender(mesa.Agent):
    def __init__(self, model, name: str, eid: int):
        super().__init__(model)
        self.name = name
        self.eid = eid
        self.alive = True
        self.loss_history: deque = deque([0.0] * 12, maxlen=12)
        self.losses = 0.0  # this month, US$bn
        self.realised_losses = 0.0  # cumulative
        self._ltv = None
        self.loans: list[Loan] = []  # facilities it holds
        self.borrowings = 0.0  # owed on its bank back-leverage facility, US$bn
        self.uncalled = 0.0  # investors' commitments not yet called, US$bn
        self.margin_call = False  # its facility exceeds the advance on its loan marks: no new lending
        self._marks = None  # (loan register version, loan marks) as last added up
        self._book = None  # (loan register version, book) as last added up

    # --- underwriting -------------------------------------------------------------------------------
    def capital(self) -> float:
        return max(self.model.ledger.equity[self.eid], 0.0)

    def exposure_to(self, borrower: int) -> float:
        """Principal it has outstanding to ``borrower``."""
        return self.model.loans.exposure(self.eid, borrower)

    def lending_room(self, borrower: int) -> float:
        """US$bn it can still lend to ``borrower``: what its cash above its buffer, its facility's headroom (the advance
        on what it lends included) and its investors' uncalled commitments can fund, within the concentration limit;
        nothing while its bank's margin call is unmet."""
        m = self.model
        led, eid = m.ledger, self.eid
        if self.margin_call:
            return 0.0
        capital = max(led.equity[eid], 0.0)  # self.capital(), inlined: asked of every lender for every order
        limit = m.p["lenders.concentration_limit"] * capital - m.loans.exposure(eid, borrower)
        return max(0.0, min(self.funding_capacity(), limit)) if limit > 0 else 0.0

    # --- funding: investors' capital and the bank's back-leverage -----------------------------------------
    def loan_marks(self) -> float:
        """Its open loans marked at the lower of principal and collateral value, US$bn (the facility's borrowing base);
        added up again only when a facility or a mark has changed since (the loan register's version)."""
        version = self.model.loans.version
        if self._marks is None or self._marks[0] != version:
            marks = sum([min(l.principal, l.collateral_value) for l in self.loans if l.status not in ("default", "repaid")])
            self._marks = (version, marks)
        return self._marks[1]

    def funding_capacity(self) -> float:
        """US$bn it could lend now: cash above its buffer, plus uncalled commitments, plus the facility's headroom, with
        the advance on the new loans themselves (x / (1 - advance rate))."""
        m, p = self.model, self.model.p
        advance = p["lenders.advance_rate"]
        own = max(0.0, m.ledger.cash[self.eid] - self.cash_buffer()) + self.uncalled
        headroom = advance * self.loan_marks() - self.borrowings
        return max(0.0, (own + headroom) / (1.0 - advance) if headroom >= 0 else own + headroom)

    def cash_buffer(self) -> float:
        return self.model.p["lenders.cash_buffer"] * self.book()

    def fund(self, amount: float) -> None:
        """Raise the cash to lend ``amount`` US$bn: cash above its buffer first, then the facility (up to the advance on
        its marks, this loan included), then a call on its investors' commitments."""
        m, p = self.model, self.model.p
        led = m.ledger
        need = amount - max(0.0, led.cash[self.eid] - self.cash_buffer())
        if need <= 0:
            return
        headroom = max(0.0, p["lenders.advance_rate"] * (self.loan_marks() + amount) - self.borrowings)
        draw = min(need, headroom)
        if draw > 0:
            self.borrowings += draw
            led.pay(led.sector("banks"), self.eid, draw, "facility_draw")
            need -= draw
        call = min(need, self.uncalled)
        if call > 0:
            self.uncalled -= call
            led.pay(led.sector("credit_investors"), self.eid, call, "capital_call")

    def service_facility(self) -> None:
        """Month end: interest to the bank; a margin call when the facility exceeds the advance on its loan marks (met
        with cash, then called capital; while unmet it lends nothing); cash above its buffer repays the facility."""
        m, p = self.model, self.model.p
        led = m.ledger
        banks = led.sector("banks")
        if self.borrowings <= 0:
            self.margin_call = False
            return
        interest = self.borrowings * (m.sofr + p["lenders.facility_spread"]) / 12.0
        paid = min(interest, max(0.0, led.cash[self.eid]))
        led.pay(self.eid, banks, paid, "facility_interest")
        if interest - paid > 0:  # what it cannot pay is added to the facility (an expense now, more debt)
            self.borrowings += interest - paid
            led.book(self.eid, -(interest - paid), "facility_interest_capitalised")
        excess = self.borrowings - p["lenders.advance_rate"] * self.loan_marks()
        if excess > 1e-9:
            call = min(self.uncalled, max(0.0, excess - max(0.0, led.cash[self.eid])))
            if call > 0:
                self.uncalled -= call
                led.pay(led.sector("credit_investors"), self.eid, call, "capital_call")
            repay = min(excess, max(0.0, led.cash[self.eid]))
            self.repay_facility(repay)
            unmet = excess - repay
            if unmet > 1e-9 and not self.margin_call:
                m.events.log("margin_call", [self.name], unmet)
            self.margin_call = unmet > 1e-9
        else:
            self.margin_call = False
        self.repay_facility(max(0.0, led.cash[self.eid] - self.cash_buffer()))

    def repay_facility(self, amount: float) -> None:
        amount = min(amount, self.borrowings)
        if amount > 1e-12:
            self.borrowings -= amount
            self.model.ledger.pay(self.eid, self.model.ledger.sector("banks"), amount, "facility_repayment")

    def origination_ltv(self) -> float:
        if self._ltv is None:
            m, p = self.model, self.model.p
            loss_rate = sum(self.loss_history) / max(self.book() + sum(self.loss_history), 1e-9)
            appetite = (p["lenders.base_appetite"] + p["lenders.appetite_sentiment"] * m.sentiment
                        + p["lenders.appetite_prices"] * m.expectations.collateral_return_6m
                        - p["lenders.loss_aversion"] * loss_rate)
            self._ltv = p["lenders.max_ltv"] * min(1.0, max(0.3, appetite))
        return self._ltv

    def open_month(self) -> None:
        self._ltv = None
        self.losses = 0.0

    def book(self) -> float:
        """Principal outstanding on its loans not in default, US$bn (added up again only after a facility changed)."""
        version = self.model.loans.version
        if self._book is None or self._book[0] != version:
            self._book = (version, sum([l.principal for l in self.loans if l.status != "default"]))
        return self._book[1]

    def facility_for(self, borrower) -> Loan:
        """The borrower's open delayed-draw facility with this lender, or a new one (draws allowed for two
        years, fully amortising by ``lenders.maturity_months`` after signing)."""
        m = self.model
        for loan in m.loans.of_borrower(borrower.eid):
            if loan.lender == self.eid and loan.status in ("performing",) and loan.draw_until >= m.month:
                return loan
        covenant = min(m.p["lenders.max_covenant_ltv"], m.p["lenders.max_ltv"] + m.p["lenders.covenant_cushion"])
        return m.loans.open(self, borrower, covenant)

    def spread(self, ig_share: float) -> float:
        """Spread over SOFR it charges on a draw: lower for the share backed by investment-grade contracts, plus a
        risk premium of ``lenders.spread_loss_sensitivity`` x its recent loss rate (losses over the last 12 months
        relative to its book), so a default raises what its other borrowers pay."""
        p = self.model.p
        return (ig_share * p["lenders.spread_ig"] + (1.0 - ig_share) * p["lenders.spread_non_ig"]
                + p["lenders.spread_loss_sensitivity"] * self.loss_rate())

    def loss_rate(self) -> float:
        """Its credit losses over the last 12 months (this month's included) relative to its book plus those losses."""
        losses = max(0.0, sum(self.loss_history) + self.losses)
        return losses / max(self.book() + losses, 1e-9)

    def raise_capital(self) -> None:
        """Credit investors move money into or out of the fund. Their appetite rises with sentiment and
        recent collateral gains and falls with the fund's recent loss rate; inflows are bounded by what
        credit investors allocate to GPU lending in all (``lenders.credit_allocation``, shared by the funds):
        the closer the funds' combined capital is to that allocation, the smaller the inflow. When appetite
        turns negative (falling collateral values, losses, gloom) investors redeem the fund's idle cash."""
        m, p = self.model, self.model.p
        loss_rate = self.loss_rate()  # this month's losses included
        sensitivity = p["lenders.redemption_loss_sensitivity"]
        appetite = ((max(0.0, m.sentiment) + p["lenders.appetite_prices"] * m.expectations.collateral_return_6m)
                    * max(0.0, 1.0 - sensitivity * loss_rate))
        appetite -= sensitivity * loss_rate
        if m.shocks.frozen():  # a funding freeze: no new commitments, investors withdraw theirs and redeem idle cash
            self.uncalled *= 1.0 - m.shocks.freeze_redemption
            idle = max(0.0, min(m.ledger.cash[self.eid], self.capital() - self.book()))
            m.ledger.pay(self.eid, m.ledger.sector("credit_investors"), m.shocks.freeze_redemption * idle, "fund_outflow")
        elif appetite > 0:  # new commitments, called when the fund lends
            room = max(0.0, 1.0 - (m.lender_capital_total + m.lender_uncalled_total) / p["lenders.credit_allocation"])
            self.uncalled += p["lenders.capital_growth"] * min(1.0, appetite) * room * self.capital()
        elif appetite < 0:  # investors withdraw commitments, then redeem idle cash
            share = p["lenders.capital_growth"] * min(1.0, -appetite)
            self.uncalled *= 1.0 - share
            idle = max(0.0, min(m.ledger.cash[self.eid], self.capital() - self.book()))
            m.ledger.pay(self.eid, m.ledger.sector("credit_investors"), share * idle, "fund_outflow")
        self.loss_history.append(self.losses)

    # --- monitoring ---------------------------------------------------------------------------------
    def decide_on_breach(self, loan: Loan) -> str:
        """``waive`` (forbearance) or ``enforce``; drawn from the model's generator."""
        m = self.model
        if m.rng.random() < m.p["lenders.forbearance"]:
            return "waive"
        return "enforce"
