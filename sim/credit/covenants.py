"""Covenants, breaches, waivers and cures.

Each month every open loan is marked to market (:meth:`~gpucredit.sim.credit.loans.LoanRegister.mark_all`); a loan
whose LTV exceeds its covenant, or whose borrower missed a payment, is in breach unless waived. The lender decides
(:meth:`~gpucredit.agents.lender.Lender.decide_on_breach`): a waiver suspends enforcement for
``lenders.waiver_months`` and capitalises the arrears; otherwise a cure period of ``lenders.cure_months`` starts, in
which the borrower tries to cure (:meth:`~gpucredit.agents.neocloud.Neocloud.try_to_cure`: pay down with cash, then
sell pledged GPUs). An uncured breach at the end of the cure period is a default
(:func:`gpucredit.sim.credit.default.resolve_default`). Cures and defaults sell or seize collateral, which moves the
used-GPU price and every other loan's mark, so the rounds repeat (at most ``ENFORCEMENT_ROUNDS``) until quiet.
"""

from __future__ import annotations

from .default import resolve_default
from .loans import PERFORMING

ENFORCEMENT_ROUNDS = 4  # marks, breaches, cures and defaults are repeated at most this often in a month


def open_breach(economy, loan, reason: str, amount: float) -> None:
    """A covenant breach or missed payment: the lender waives it or a cure period starts."""
    m = economy
    if loan.status != "performing" or loan.waived_until >= m.month:
        return
    lender = m.entity[loan.lender]
    borrower = m.entity[loan.borrower]
    if lender.decide_on_breach(loan) == "waive":
        loan.waived_until = m.month + m.p["lenders.waiver_months"]
        loan.waivers += 1
        loan.missed = 0.0  # forbearance: arrears are capitalised
        m.flow["waivers"] += 1
        m.events.log("covenant_waiver", [lender.name, borrower.name], loan.principal, detail=reason)
        return
    loan.status = "breach"
    loan.breach_since = m.month
    m.flow["covenant_breaches"] += 1
    m.events.log("covenant_breach", [lender.name, borrower.name], loan.principal, detail=f"{reason}; LTV {loan.ltv:.2f}")


def enforce(economy) -> None:
    """Mark every loan, open breaches of the LTV covenant, let borrowers in breach try to cure and declare defaults
    at the end of the cure period; repeat while defaults or new breaches occur; mark again if collateral moved."""
    m = economy
    marks_current = True
    for _round in range(ENFORCEMENT_ROUNDS):
        m.loans.mark_all()
        marks_current = True  # until a cure or a default sells or seizes collateral
        defaults_before = m.flow["defaults_count"]
        breaches_before = m.flow["covenant_breaches"]
        for loan in m.loans.views(over_covenant(m.loans, m.month)):  # (a breach changes no other loan)
            open_breach(m, loan, "LTV covenant", loan.principal)
        to_cure = m.loans.borrowers_to_cure(m.month)  # (a cure or a default changes no other borrower's loans)
        with m.contracts.books_deferred():  # the books once after the round's defaults, not after each
            for nc in [nc for nc in m.neoclouds if nc.eid in to_cure]:
                if not cure_or_default(m, nc):
                    marks_current = False
        if m.flow["defaults_count"] == defaults_before and m.flow["covenant_breaches"] == breaches_before:
            break
    if not marks_current:  # cures and defaults since the last marks sold or seized collateral
        m.loans.mark_all()


def over_covenant(loans, month: int):
    """Rows of the performing loans, not under a waiver in ``month``, whose LTV exceeds their covenant (in the order
    opened): the covenant test, column by column."""
    status = loans.column("status")
    performing = (status == PERFORMING) & (loans.column("waived_until") < month)
    rows = performing.nonzero()[0]
    return rows[loans.ltvs(rows) > loans.column("covenant_ltv")[rows]]


def cure_or_default(economy, nc) -> bool:
    """``nc`` tries to cure each of its loans in breach (once a month); an uncured breach past the cure period is a
    default. Returns whether the marks are still current (nothing was tried)."""
    m = economy
    current = True
    for loan in m.loans.views(m.loans.to_cure(nc.eid, m.month)):  # (a cure changes no other loan's status)
        loan.cure_tried = m.month
        current = False
        if nc.try_to_cure(loan):
            loan.status = "performing"
            m.events.log("breach_cured", [m.entity[loan.lender].name, nc.name], loan.principal)
        elif m.month - loan.breach_since >= m.p["lenders.cure_months"]:
            resolve_default(m, nc)
            break
    return current


class Covenants:
    """The covenant regime of an economy (``economy.covenants``): what borrowers report breaches to."""

    def __init__(self, economy):
        self.economy = economy

    def open_breach(self, loan, reason: str, amount: float) -> None:
        open_breach(self.economy, loan, reason, amount)

    def enforce(self) -> None:
        enforce(self.economy)
