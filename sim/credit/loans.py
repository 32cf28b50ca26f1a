"""The loan register: GPU-backed delayed-draw term loan facilities, their draws, repayments and capitalised
interest, each lender's exposure to each borrower, and the collateral marks.

**Collateral** (:meth:`LoanRegister.mark_all`, the one rule): a loan's collateral is the market value of the GPU
cohorts pledged to it (at used-GPU prices) plus ``lenders.contract_collateral_share`` of the remaining value of the
compute contracts assigned to it.
"""

from __future__ import annotations

import numpy as np

from ..contracts.claims import Loan
from ..technology import BN, H

CLOSED = ("default", "repaid")


class LoanRegister:
    """Every loan facility of an economy (``economy.loans``), by id in the order opened."""

    def __init__(self, economy):
        self.economy = economy
        self.loans: dict[int, Loan] = {}
        self.by_borrower: dict[int, list[Loan]] = {}  # borrower eid -> its facilities, oldest first
        self.exposures: dict[tuple[int, int], float] = {}  # (lender, borrower) -> principal outstanding, cached
        self.version = 0  # bumped whenever a facility's principal, status or marks change (for callers' caches)
        self._closed: set[int] = set()  # lenders with a facility closed since the last change (changed at the next)

    def __getitem__(self, loan_id: int) -> Loan:
        return self.loans[loan_id]

    def __contains__(self, loan_id: int) -> bool:
        return loan_id in self.loans

    def values(self):
        return self.loans.values()

    # --- queries -------------------------------------------------------------------------------------
    def of_borrower(self, eid: int) -> list[Loan]:
        """``eid``'s facilities, oldest first."""
        return list(self.by_borrower.get(eid, ()))

    def in_breach(self, borrower: int) -> bool:
        """Whether any of ``borrower``'s facilities is in breach."""
        return any([l.status == "breach" for l in self.by_borrower.get(borrower, ())])

    def outstanding(self) -> list[Loan]:
        """Open loans with principal outstanding."""
        return [l for l in self.loans.values() if l.status not in CLOSED and l.principal > 0]

    def newest_facility(self, borrower: int) -> int:
        """Id of ``borrower``'s newest facility not in default (-1 if none): new contracts are assigned to it."""
        ids = [l.id for l in self.by_borrower.get(borrower, ()) if l.status != "default"]
        return ids[-1] if ids else -1

    def exposure(self, lender: int, borrower: int) -> float:
        """Principal ``lender`` has outstanding to ``borrower`` (cached until one of their facilities changes)."""
        key = (lender, borrower)
        exposure = self.exposures.get(key)
        if exposure is None:
            facilities = self.by_borrower.get(borrower, ())  # oldest first (as in the lender's own list)
            exposure = self.exposures[key] = sum([l.principal for l in facilities if l.lender == lender and l.status != "default"])
        return exposure

    def debt_of(self, borrower: int) -> float:
        """All principal ``borrower`` owes on its facilities (defaulted ones included until they are written off)."""
        return sum([l.principal for l in self.by_borrower.get(borrower, ())])  # oldest first

    # --- the life of a facility ----------------------------------------------------------------------
    def changed(self, loan: Loan) -> None:
        """A facility's principal, status or marks changed: its lender's cached exposure to the borrower is stale, and
        a new version is the one at which its lender's facilities changed (its ``loans_version``: its book and marks,
        added up from its own facilities, stay current while it is the same, whatever other lenders' facilities do);
        also that of lenders with a facility closed since the last version (a closing moves no version: it is seen
        with the next change of any facility)."""
        self.exposures.pop((loan.lender, loan.borrower), None)
        self.version += 1
        entity = self.economy.entity
        if self._closed:
            for eid in self._closed:
                entity[eid].loans_version = self.version
            self._closed.clear()
        entity[loan.lender].loans_version = self.version

    def open(self, lender, borrower, covenant: float) -> Loan:
        """A new delayed-draw facility: draws for 24 months, fully amortising by ``lenders.maturity_months``; the
        borrower's contracts not yet assigned to a facility become its collateral."""
        m = self.economy
        loan = Loan(m.new_id(), lender.eid, borrower.eid, m.month, m.month + m.p["lenders.maturity_months"],
                    m.month + 24, covenant_ltv=covenant)
        self.loans[loan.id] = loan
        self.by_borrower.setdefault(borrower.eid, []).append(loan)
        lender.loans.append(loan)
        m.contracts.assign_unassigned(borrower.eid, loan.id)  # its contracts not yet collateral become this loan's
        return loan

    def draw(self, loan: Loan, amount: float, spread: float, ig_share: float = 0.0) -> None:
        """The borrower draws ``amount`` US$bn at ``spread`` over SOFR (``ig_share`` of it backed by investment-grade
        contracts); the lender funds it first (:meth:`gpucredit.agents.lender.Lender.fund`)."""
        m = self.economy
        m.entity[loan.lender].fund(amount)  # cash, its bank facility, or a call on its investors
        loan.spread_sum += spread * amount
        loan.drawn += amount
        loan.principal += amount
        self.changed(loan)
        m.ledger.pay(loan.lender, loan.borrower, amount, "loan_draw")
        # the month's new lending by grade and the spread on each part (the premium applies to both)
        p = m.p
        premium = spread - (ig_share * p["lenders.spread_ig"] + (1.0 - ig_share) * p["lenders.spread_non_ig"])
        flow = m.flow
        flow["new_lending_ig"] += ig_share * amount
        flow["new_lending_ig_spread"] += ig_share * amount * (p["lenders.spread_ig"] + premium)
        flow["new_lending_non_ig"] += (1.0 - ig_share) * amount
        flow["new_lending_non_ig_spread"] += (1.0 - ig_share) * amount * (p["lenders.spread_non_ig"] + premium)

    def pay_interest(self, loan: Loan, amount: float) -> None:
        self.economy.ledger.pay(loan.borrower, loan.lender, amount, "interest")

    def repay(self, loan: Loan, amount: float) -> None:
        """The borrower pays down ``amount`` US$bn of principal (at most what is outstanding)."""
        if amount <= 0:
            return
        amount = min(amount, loan.principal)
        self.economy.ledger.pay(loan.borrower, loan.lender, amount, "principal")
        loan.principal -= amount
        self.changed(loan)

    def capitalise_interest(self, loan: Loan, amount: float) -> None:
        """Unpaid interest is added to the loan: an expense of the borrower, income of the lender."""
        if amount <= 0:
            return
        led = self.economy.ledger
        loan.principal += amount
        self.changed(loan)
        led.book(loan.borrower, -amount, "interest")
        led.book(loan.lender, amount, "interest")

    def close_repaid(self) -> None:
        """Performing facilities fully repaid after their draw period are closed."""
        month = self.economy.month
        for loan in self.loans.values():
            if loan.status == "performing" and loan.principal <= 1e-9 and month >= loan.draw_until:
                loan.status = "repaid"
                self._closed.add(loan.lender)

    # --- collateral ----------------------------------------------------------------------------------
    def mark(self, loan: Loan) -> None:
        """One loan's collateral at market (the rule of :meth:`mark_all`)."""
        m = self.economy
        fleet = m.fleet
        rows = np.flatnonzero(fleet.view("pledged") == loan.id)
        gpu_value = float((fleet.count[rows] * m.used_gpus.prices[fleet.gen[rows]]).sum()) / BN
        contracts = m.contracts.remaining_value_by_loan(loan.id)
        loan.gpu_value = gpu_value
        loan.collateral_value = gpu_value + m.p["lenders.contract_collateral_share"] * contracts
        self.changed(loan)  # (its exposure, added up again from the same principals, is the same)

    def mark_all(self) -> None:
        """Every open loan's collateral at market: its pledged GPUs plus ``lenders.contract_collateral_share`` of the
        remaining value of the contracts assigned to it."""
        m = self.economy
        fleet, month = m.fleet, m.month
        open_loans = [loan for loan in self.loans.values() if loan.status not in CLOSED]
        ids = np.array([loan.id for loan in open_loans], dtype=np.int64)  # increasing (issue order)

        def sum_by_loan(loan_ids: np.ndarray, values: np.ndarray) -> list[float]:
            """``values`` summed by the open loan they belong to (in the order given), one total per open loan."""
            k = np.minimum(np.searchsorted(ids, loan_ids), max(len(ids) - 1, 0))
            mine = ids[k] == loan_ids if len(ids) else np.zeros(len(loan_ids), dtype=bool)
            return np.bincount(k[mine], weights=values[mine], minlength=len(ids)).tolist()

        pledged = fleet.view("pledged")
        mask = pledged >= 0
        value = fleet.view("count")[mask] * m.used_gpus.prices[fleet.view("gen")[mask]] / BN
        gpus_by_loan = sum_by_loan(pledged[mask], value)
        loan, qty, price, start, end = m.contracts.active().columns("loan", "qty", "price", "start", "end")
        assigned = (loan >= 0) & (end > month)
        remaining = qty[assigned] * price[assigned] * H * (end[assigned] - np.maximum(start[assigned], month))  # remaining value, US$bn
        contracts_by_loan = sum_by_loan(loan[assigned], remaining)
        share = m.p["lenders.contract_collateral_share"]
        for loan, gpu_value, contracts in zip(open_loans, gpus_by_loan, contracts_by_loan):
            loan.gpu_value = gpu_value
            loan.collateral_value = gpu_value + share * contracts
        self.version += 1
        for lender in m.lenders + m.failed_lenders:  # every lender's marks changed (and those with a facility closed)
            lender.loans_version = self.version
        self._closed.clear()
