"""A lender's book (principal outstanding) and loan marks (the borrowing base of its bank facility) are added up from its
own facilities and kept until one of them changes: a draw, repayment, capitalised interest, default, sale or mark of
another lender's facility leaves them as they are. They must always be what adding up its facilities gives."""

from __future__ import annotations

import pytest

from gpucredit.agents.lender import Lender
from gpucredit.sim import GPUEconomy


def one_by_one(values: list[float]) -> float:
    """``values`` added up one by one in their order (how principal is added up: :func:`~gpucredit.sim.credit.loans.running_sum`)."""
    total = 0
    for x in values:
        total += x
    return total


def test_a_lenders_book_and_marks_are_always_the_sums_of_its_own_facilities(monkeypatch):
    """Through a run with draws, repayments, breaches, defaults and marks, every time a lender's book or marks are read
    they equal the sums over its facilities as they are then (a repaid facility's closing is seen at the next change of
    any facility, as with the register's version before; the check waits for it)."""
    book, marks = Lender.book, Lender.loan_marks
    checked = []

    def settled(lender) -> bool:
        return not lender.model.loans._closed  # no closing waiting for the next change

    def checked_book(self):
        value = book(self)
        if settled(self):
            assert value == one_by_one([l.principal for l in self.loans if l.status != "default"]), self.name
            checked.append(value)
        return value

    def checked_marks(self):
        value = marks(self)
        if settled(self):
            lower = [min(l.principal, l.collateral_value) for l in self.loans if l.status not in ("default", "repaid")]
            assert value == self.model.loans.marks_of(self.eid) == pytest.approx(sum(lower), rel=1e-12, abs=1e-15), self.name
            checked.append(value)
        return value

    monkeypatch.setattr(Lender, "book", checked_book)
    monkeypatch.setattr(Lender, "loan_marks", checked_marks)
    m = GPUEconomy("fact_neocloud_default", rng=2, **{"run.months": 48})
    while m.running:
        m.step()
    assert m.flow is not None and len(checked) > 1000
    assert any(l.status == "default" for l in m.loans.values()), "the run should include a default"


def test_marking_one_loan_and_every_loan_moves_its_lenders_marks():
    """After used-GPU prices collapse to 1% of their level, marking one facility changes its lender's borrowing base at once; marking every
    facility changes every lender's; another lender's marks stay as they were until then."""
    m = GPUEconomy("baseline", rng=1, **{"run.months": 24})
    while m.running:
        m.step()

    def fresh(lender) -> float:  # added up again from its facilities now, without the lender's cache
        value = m.loans.marks_of(lender.eid)
        lower = [min(l.principal, l.collateral_value) for l in lender.loans if l.status not in ("default", "repaid")]
        assert value == pytest.approx(sum(lower), rel=1e-12, abs=1e-15)
        return value

    pledged = set(m.fleet.view("pledged").tolist())
    loan = next(l for l in m.loans.outstanding() if l.id in pledged and l.collateral_value < l.principal * 2)
    lender = m.entity[loan.lender]
    others = [l for l in m.lenders if l is not lender and l.loans]
    before = {other.eid: other.loan_marks() for other in others}
    marks_before = lender.loan_marks()
    m.used_gpus.prices = m.used_gpus.prices * 0.01
    m.loans.mark(loan)
    assert lender.loan_marks() == fresh(lender) < marks_before
    assert {other.eid: other.loan_marks() for other in others} == before
    m.loans.mark_all()
    assert all(other.loan_marks() == fresh(other) for other in others)
    assert any(other.loan_marks() < before[other.eid] for other in others)
