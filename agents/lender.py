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

    # --- underwriting -------------------------------------------------------------------------------
    def capital(self) -> float:
        return max(self.model.ledger.equity[self.eid], 0.0)

    def exposure_to(self, borrower: int) -> float:
        """Principal it has outstanding to ``borrower``."""
        return self.model.loans.exposure(self.eid, borrower)

    def lending_room(self, borrower: int) -> float:
        """US$bn it can still lend to ``borrower``: cash on hand, within the concentration limit."""
        m = self.model
        led, eid = m.ledger, self.eid
        capital = max(led.equity[eid], 0.0)  # self.capital(), inlined: asked of every lender for every order
        limit = m.p["lenders.concentration_limit"] * capital - m.loans.exposure(eid, borrower)
        return max(0.0, min(led.cash[eid], limit))

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
        return sum([l.principal for l in self.loans if l.status != "default"])

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
        """Spread over SOFR it charges on a draw: lower for the share backed by investment-grade contracts."""
        p = self.model.p
        return ig_share * p["lenders.spread_ig"] + (1.0 - ig_share) * p["lenders.spread_non_ig"]

    def raise_capital(self) -> None:
        """Credit investors move money into or out of the fund. Their appetite rises with sentiment and
        recent collateral gains and falls with the fund's recent loss rate; inflows are bounded by what
        credit investors allocate to GPU lending in all (``lenders.credit_allocation``, shared by the funds):
        the closer the funds' combined capital is to that allocation, the smaller the inflow. When appetite
        turns negative (falling collateral values, losses, gloom) investors redeem the fund's idle cash."""
        m, p = self.model, self.model.p
        loss_rate = sum(self.loss_history) / max(self.book() + 1e-9, 1e-9)
        sensitivity = p["lenders.redemption_loss_sensitivity"]
        appetite = ((max(0.0, m.sentiment) + p["lenders.appetite_prices"] * m.expectations.collateral_return_6m)
                    * max(0.0, 1.0 - sensitivity * loss_rate))
        appetite -= sensitivity * loss_rate
        if m.shocks.frozen():  # a funding freeze: no new commitments, investors redeem idle cash
            idle = max(0.0, min(m.ledger.cash[self.eid], self.capital() - self.book()))
            m.ledger.pay(self.eid, m.ledger.sector("credit_investors"), m.shocks.freeze_redemption * idle, "fund_outflow")
        elif appetite > 0:
            room = max(0.0, 1.0 - m.lender_capital_total / p["lenders.credit_allocation"])
            inflow = p["lenders.capital_growth"] * min(1.0, appetite) * room * self.capital()
            m.ledger.pay(m.ledger.sector("credit_investors"), self.eid, inflow, "fund_inflow")
        elif appetite < 0:
            idle = max(0.0, min(m.ledger.cash[self.eid], self.capital() - self.book()))
            outflow = p["lenders.capital_growth"] * min(1.0, -appetite) * idle
            m.ledger.pay(self.eid, m.ledger.sector("credit_investors"), outflow, "fund_outflow")
        self.loss_history.append(self.losses)

    # --- monitoring ---------------------------------------------------------------------------------
    def decide_on_breach(self, loan: Loan) -> str:
        """``waive`` (forbearance) or ``enforce``; drawn from the model's generator."""
        m = self.model
        if m.rng.random() < m.p["lenders.forbearance"]:
            return "waive"
        return "enforce"
