"""Lenders: private-credit funds and banks (Blackstone, Magnetar, Pimco, Carlyle, BlackRock, Macquarie,
Upper90, Apollo, plus generic ones) that make GPU-backed delayed-draw term loans.

* **Underwriting.** The origination LTV is procyclical (the leverage cycle): it rises with sentiment and
  recent collateral gains and falls after losses, capped at ``lenders.max_ltv``. Spreads over SOFR are
  lower for draws backed by investment-grade contracts. Exposure to one borrower is capped at a share of
  the fund's capital. Credit investors add capital when sentiment and collateral values rise, within
  their total allocation to GPU lending, and redeem idle cash after losses and collateral declines.
* **Spreads** price risk: the grade blend (IG-backed draws cheaper), plus a premium for the borrower's leverage after the
  draw above the lender's origination LTV, plus a premium for the lender's own recent losses.
* **Monitoring.** Collateral is marked monthly to the secondary GPU price (plus a share of the assigned
  contracts' remaining value). At a breach (covenant or missed payment) the lender compares what it expects to
  recover by foreclosing now with what it expects from waiving (:meth:`Lender.decide_on_breach`); a waiver suspends
  enforcement for ``lenders.waiver_months``, otherwise a cure period opens; an uncured breach at its end is a default.
* **Failure.** A fund whose net worth is exhausted, or whose bank's margin call stays unmet for
  ``lenders.margin_call_months``, fails (:mod:`gpucredit.sim.credit.lender_failure`).
* **Recovery.** On default the lender seizes the pledged GPUs and the assigned contracts; it keeps the GPUs
  that serve those contracts (leasing them out) and sells the rest over ``lenders.liquidation_months``
  to outside buyers, a fire sale that depresses the used-GPU price; losses are principal minus recoveries. The
  seizure, the schedule and the sales are carried out by the credit system (:mod:`gpucredit.sim.credit.default`).
"""

from __future__ import annotations

import math
from collections import deque

import mesa

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sim.contracts.claims import Loan


def units_funded(syndicate: list, borrower: int, advance: float, on_order: float, enough: float = math.inf) -> float:
    """New GPUs a ``syndicate``'s lending room to ``borrower`` funds the ``advance`` (US$bn per GPU) on, after the
    advances on the ``on_order`` GPUs it already has on order. The lenders are asked in turn only until their room funds
    more than ``enough`` GPUs (what the borrower's cash pays the equity slice of: more room would not be used); with no
    advance nothing is borrowed and nobody is asked."""
    if not advance > 0:
        return 0.0
    spoken_for = on_order * advance
    bound = enough * (1.0 + 1e-9)
    rooms, room = [], 0  # (room: sum(rooms), the lenders' room added up as sum() adds it)
    for lender in syndicate:
        rooms.append(lender.lending_room(borrower))
        room = sum(rooms)
        if (room - spoken_for) / advance > bound:
            break  # the room not yet counted would only add to a bound that does not bind
    return max(0.0, room - spoken_for) / advance


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
        self.borrowings = 0.0  # owed on its bank back-leverage facility, US$bn
        self.uncalled = 0.0  # investors' commitments not yet called, US$bn
        self.margin_call = False  # its facility exceeds the advance on its loan marks: no new lending
        self.loans_version = 0  # the loan register's version when one of its facilities last changed (set by the register)
        self._marks = None  # (its loans' version, loan marks) as last added up
        self._capacity = (None, 0.0)  # (what it depends on, funding capacity) as last worked out
        self._book = None  # (its loans' version, book) as last added up
        self.unmet_margin_months = 0  # consecutive month-ends with its bank's margin call unmet
        self.waiver_hurdle = model.p["lenders.waiver_hurdle"]  # its forbearance: a behavioural trait, share of principal

    @property
    def loans(self) -> list[Loan]:
        """The facilities it holds, in the order it acquired them (views of the loan register's rows)."""
        return self.model.loans.of_lender(self.eid)

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
        if self.margin_call or not self.alive:
            return 0.0
        m, eid = self.model, self.eid
        capital = max(m.ledger.equity[eid], 0.0)  # self.capital(), inlined: asked of every lender for every order
        limit = m.p["lenders.concentration_limit"] * capital - m.loans.exposure(eid, borrower)
        if not limit > 0:
            return 0.0
        if limit < self.funding_capacity_floor():
            return limit  # the limit binds: the capacity need not be worked out
        return max(0.0, min(self.funding_capacity(), limit))

    def funding_capacity_floor(self) -> float:
        """US$bn its :meth:`funding_capacity` is at least, whatever its cash, cash buffer and loan marks: its uncalled
        commitments less what it owes on its facility (the cash above its buffer is never negative, nor is the advance
        on its marks, nor its facility). A concentration limit below it binds without working the capacity out (after
        a draw that means adding up its book and marks again). The rounded figures keep the order: each is worked out
        from numbers at least as large (for marks and cash that are numbers: NaN marks would make the capacity zero)."""
        return self.uncalled - self.borrowings

    # --- funding: investors' capital and the bank's back-leverage -----------------------------------------
    def loan_marks(self) -> float:
        """Its open loans marked at the lower of principal and collateral value, US$bn (the facility's borrowing base);
        added up again only when one of its facilities or marks has changed since (its ``loans_version``)."""
        version = self.loans_version
        if self._marks is None or self._marks[0] != version:
            self._marks = (version, self.model.loans.marks_of(self.eid))
        return self._marks[1]

    def funding_capacity(self) -> float:
        """US$bn it could lend now: cash above its buffer, plus uncalled commitments, plus the facility's headroom, with
        the advance on the new loans themselves (x / (1 - advance rate)). Worked out again only when its cash, its
        uncalled commitments, its facility or one of its loan facilities (its book and marks: ``loans_version``) has changed
        since: every neocloud asking the same lender in a month gets the one figure."""
        m = self.model
        cash = m.ledger.cash[self.eid]
        inputs = (self.loans_version, cash, self.uncalled, self.borrowings)
        if self._capacity[0] != inputs:
            advance = m.p["lenders.advance_rate"]
            own = max(0.0, cash - self.cash_buffer()) + self.uncalled
            headroom = advance * self.loan_marks() - self.borrowings
            capacity = max(0.0, (own + headroom) / (1.0 - advance) if headroom >= 0 else own + headroom)
            self._capacity = (inputs, capacity)
        return self._capacity[1]

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
            self.unmet_margin_months = 0
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
        self.unmet_margin_months = self.unmet_margin_months + 1 if self.margin_call else 0
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
        version = self.loans_version
        if self._book is None or self._book[0] != version:
            self._book = (version, self.model.loans.book_of(self.eid))
        return self._book[1]

    def facility_for(self, borrower) -> Loan:
        """The borrower's open delayed-draw facility with this lender, or a new one (draws allowed for two
        years, fully amortising by ``lenders.maturity_months`` after signing)."""
        m = self.model
        loan = m.loans.facility(self.eid, borrower.eid, m.month)  # performing, in its draw period
        if loan is not None:
            return loan
        covenant = min(m.p["lenders.max_covenant_ltv"], m.p["lenders.max_ltv"] + m.p["lenders.covenant_cushion"])
        return m.loans.open(self, borrower, covenant)

    def spread(self, ig_share: float, borrower=None, draw: float = 0.0) -> float:
        """Spread over SOFR it charges on a draw of ``draw`` US$bn by ``borrower``: the grade blend (lower for the share
        backed by investment-grade contracts), plus ``lenders.spread_leverage_sensitivity`` x the borrower's LTV after the
        draw above its own origination LTV (at most 1: up to the sensitivity itself), plus ``lenders.spread_loss_sensitivity`` x its recent
        loss rate (losses over the last 12 months relative to its book), so a default raises what its other borrowers
        pay. Never below zero."""
        p = self.model.p
        spread = (ig_share * p["lenders.spread_ig"] + (1.0 - ig_share) * p["lenders.spread_non_ig"]
                  + p["lenders.spread_loss_sensitivity"] * self.loss_rate())
        if borrower is not None:
            # the excess counts up to 1 (an LTV 100 points above its own): a borrower with almost no collateral left
            # would otherwise be quoted an unbounded rate (a fuzzed draw compounded one to 1e84 US$bn of interest)
            excess = self.ltv_after(borrower, draw) - self.origination_ltv()
            spread += p["lenders.spread_leverage_sensitivity"] * min(1.0, max(0.0, excess))
        return max(0.0, spread)

    def ltv_after(self, borrower, draw: float) -> float:
        """``borrower``'s loan-to-value after drawing ``draw`` US$bn: all its debt over the collateral of its open loans,
        the GPUs the draw buys counted at the value this lender advances against (draw / origination LTV)."""
        debt, collateral = self.model.loans.open_debt_and_collateral(borrower.eid)  # its open loans, at their marks
        ltv = self.origination_ltv()
        debt += draw
        collateral += draw / max(ltv, 1e-9)
        return debt / collateral if collateral > 1e-12 else ltv

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
        """``waive`` (forbearance) or ``enforce``: it waives when the expected recovery from waiving exceeds what it
        expects to recover by foreclosing now by more than its ``waiver_hurdle`` (``lenders.waiver_hurdle``) x the
        principal. No coin flip: the same breach of the same borrower gets the same answer."""
        now = self.foreclosure_recovery(loan)
        return "waive" if self.waiver_value(loan) - now > self.waiver_hurdle * loan.principal else "enforce"

    def foreclosure_recovery(self, loan: Loan, price_factor: float = 1.0) -> float:
        """US$bn it expects to recover by foreclosing on ``loan``: the pledged GPUs sold at once to outside buyers (at the
        used-GPU market's outside price x ``price_factor``, the fire-sale impact of selling them included), plus
        ``lenders.contract_collateral_share`` of the assigned contracts' remaining value, plus its share of the
        borrower's cash, at most the principal, less ``lenders.foreclosure_cost`` x the principal (never below 0)."""
        m, p = self.model, self.model.p
        gpus = m.used_gpus.forced_sale_total(m.fleet.rows_of(loan.borrower, pledged_to=loan.id), price_factor)
        contracts = p["lenders.contract_collateral_share"] * m.contracts.remaining_value_by_loan(loan.id)
        share = loan.principal / max(m.loans.debt_of(loan.borrower), 1e-12)
        cash = share * max(0.0, m.ledger.cash[loan.borrower])
        return max(0.0, min(loan.principal, gpus + contracts + cash) - p["lenders.foreclosure_cost"] * loan.principal)

    def expected_price_factor(self) -> float:
        """The change of used-GPU prices it expects over a waiver (``lenders.waiver_months``): the last six months'
        return of the collateral price index, extrapolated."""
        m = self.model
        return max(0.0, 1.0 + m.expectations.collateral_return_6m) ** (m.p["lenders.waiver_months"] / 6.0)

    def cure_probability(self, loan: Loan) -> float:
        """How likely the borrower is to cure by the end of a waiver: what it can bring (cash, and the contracted
        payments due from its backlog over the waiver, both in proportion to this loan's share of its debt) over what
        curing takes (arrears, interest over the waiver, and the pay-down to ``neoclouds.cure_target`` x the covenant
        at the collateral value expected then), at most 1."""
        m, p = self.model, self.model.p
        months = p["lenders.waiver_months"]
        share = loan.principal / max(m.loans.debt_of(loan.borrower), 1e-12)
        backlog_due = m.contracts.backlog_by_provider.get(loan.borrower, 0.0) * min(1.0, months / p["contracts.term_months"])
        resources = share * (max(0.0, m.ledger.cash[loan.borrower]) + backlog_due)
        collateral = loan.gpu_value * self.expected_price_factor() + (loan.collateral_value - loan.gpu_value)
        need = (loan.missed + loan.principal * loan.monthly_rate(m.sofr) * months
                + max(0.0, loan.principal - p["neoclouds.cure_target"] * loan.covenant_ltv * collateral))
        return min(1.0, resources / need) if need > 1e-12 else 1.0

    def waiver_value(self, loan: Loan) -> float:
        """US$bn it expects from waiving: the principal if the borrower cures, else foreclosure after the waiver at the
        collateral prices it expects then (:meth:`cure_probability`, :meth:`foreclosure_recovery`)."""
        cure = self.cure_probability(loan)
        later = self.foreclosure_recovery(loan, self.expected_price_factor()) if cure < 1.0 else 0.0
        return cure * loan.principal + (1.0 - cure) * later

    def net_worth(self) -> float:
        """Its equity counting the contracts it took over at defaults as worth the prepaid compute it owes on them, US$bn:
        book equity plus that prepaid compute (its book carries the liability but not the contracts' remaining
        payments, which the default resolution takes to be worth as much; docs/ODD.md 7.8)."""
        register = self.model.contracts
        owed = float(register.column("prepaid")[register.rows_of(provider=self.eid)].sum())
        return self.model.ledger.equity[self.eid] + owed

    def failing(self) -> bool:
        """Whether it fails: its net worth is exhausted, or its bank's margin call has been unmet for
        ``lenders.margin_call_months`` month-ends in a row."""
        m = self.model
        if self.unmet_margin_months >= m.p["lenders.margin_call_months"]:
            return True
        # the prepaid compute it owes on contracts taken over is never negative, so its net worth is positive whenever
        # its book equity is: the contract register is read only when the book equity is exhausted
        return m.ledger.equity[self.eid] <= 0.0 and self.net_worth() <= 0.0
