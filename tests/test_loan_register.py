"""The loan register is a columnar table (one row per facility) and a loan a view of its row: the view reads and writes
its row as plain Python values, and the register's rules over whole columns give what the same rule gives loan by loan."""

from __future__ import annotations

import numpy as np
import pytest

from gpucredit.sim import GPUEconomy
from gpucredit.sim.contracts.claims import STATUSES, Loan
from gpucredit.sim.credit.covenants import over_covenant

SMALL = {"population.startups": 200}


@pytest.fixture(scope="module")
def economy():
    """An economy after five years of disappointing demand: facilities performing, repaid and in default."""
    m = GPUEconomy("demand_disappointment", rng=1, **{"run.months": 60, "population.startups": 300})
    while m.running:
        m.step()
    assert {l.status for l in m.loans.values()} >= {"performing", "repaid", "default"}
    return m


def one_by_one(values) -> float:
    total = 0
    for x in values:
        total += x
    return total


def test_a_loan_view_reads_and_writes_its_row_as_plain_python_values():
    m = GPUEconomy("baseline", rng=0, **{"run.months": 12}, **SMALL)
    while m.running:
        m.step()
    loan = next(l for l in m.loans.values() if l.principal > 0)
    row = loan.row
    borrower = loan.borrower
    cached = (m.loans.debt_of(borrower), m.loans.in_breach(borrower), m.loans.open_debt_and_collateral(borrower),
              m.loans.dues(borrower, m.month, m.sofr))  # what the register keeps about the borrower's facilities
    fields = {"id": int, "lender": int, "borrower": int, "start": int, "maturity": int, "draw_until": int,
              "principal": float, "drawn": float, "spread_sum": float, "covenant_ltv": float, "status": str,
              "breach_since": int, "waived_until": int, "waivers": int, "cure_tried": int, "missed": float,
              "collateral_value": float, "gpu_value": float}
    for name, kind in fields.items():  # plain Python values, the row's
        value = getattr(loan, name)
        assert type(value) is kind, name
        stored = m.loans.column(name)[row]
        assert value == (STATUSES[stored] if name == "status" else stored), name
    loan.principal = 1.25  # US$bn
    loan.waivers = 3
    loan.status = "breach"
    assert m.loans.column("principal")[row] == 1.25 and m.loans.column("waivers")[row] == 3
    assert m.loans.column("status")[row] == STATUSES.index("breach") and loan.status == "breach"
    # what the register kept about the borrower follows the writes
    facilities = m.loans.of_borrower(borrower)
    assert m.loans.in_breach(borrower) and not cached[1]
    assert m.loans.debt_of(borrower) == one_by_one([l.principal for l in facilities]) != cached[0]
    open_ = [l for l in facilities if l.status not in ("default", "repaid")]
    assert m.loans.open_debt_and_collateral(borrower) == (one_by_one([l.principal for l in open_]),
                                                          sum([l.collateral_value for l in open_]))
    due, interest, _ = m.loans.dues(borrower, m.month, m.sofr)
    assert loan not in cached[3][0] or cached[3][1][cached[3][0].index(loan)] != 1.25 * loan.monthly_rate(m.sofr)
    assert loan in due and interest[due.index(loan)] == 1.25 * loan.monthly_rate(m.sofr)
    with pytest.raises(ValueError):
        loan.status = "bankrupt"  # not a status
    # the same facility seen twice is one loan: equal, one hash, found by id
    again = Loan(m.loans, row)
    assert again == loan and hash(again) == hash(loan) and m.loans[loan.id] is loan and len({again, loan}) == 1
    assert again != next(l for l in m.loans.values() if l.id != loan.id)


def test_marking_every_loan_at_once_gives_each_loans_own_mark(economy):
    """mark_all writes every open loan's GPU value and collateral value at once; marking each loan alone (the same rule,
    one loan) gives the same values (up to the order of the additions), and a loan closed keeps its last mark."""
    m = economy
    m.used_gpus.prices = m.used_gpus.prices * 0.6  # prices move: every mark changes
    loans = m.loans
    closed = [l for l in loans.values() if l.status in ("default", "repaid")]
    closed_marks = [(l.gpu_value, l.collateral_value) for l in closed]
    loans.mark_all()
    together = {l.id: (l.gpu_value, l.collateral_value) for l in loans.values()}
    assert [(l.gpu_value, l.collateral_value) for l in closed] == closed_marks
    open_loans = [l for l in loans.values() if l.status not in ("default", "repaid")]
    assert open_loans and any(v[0] > 0 for v in together.values())
    for loan in open_loans:
        loan.gpu_value = loan.collateral_value = -1.0
        loans.mark(loan)
        assert (loan.gpu_value, loan.collateral_value) == pytest.approx(together[loan.id], rel=1e-12, abs=1e-15)


def test_a_partys_sums_are_the_sums_over_its_loans(economy):
    """Book, marks, exposure, debt and the month's dues of every party, by columns, equal the same rule loan by loan."""
    m = economy
    loans = m.loans
    month, sofr = m.month, m.sofr
    lenders = {l.lender for l in loans.values()}
    borrowers = {l.borrower for l in loans.values()}
    assert len(lenders) > 2 and len(borrowers) > 2
    for lender in lenders:
        held = loans.of_lender(lender)
        assert all(l.lender == lender for l in held)
        assert loans.book_of(lender) == one_by_one([l.principal for l in held if l.status != "default"])
        lower = [min(l.principal, l.collateral_value) for l in held if l.status not in ("default", "repaid")]
        assert loans.marks_of(lender) == pytest.approx(sum(lower), rel=1e-12, abs=1e-15)
        for borrower in borrowers:
            mine = [l.principal for l in loans.of_borrower(borrower) if l.lender == lender and l.status != "default"]
            loans.exposures.clear()
            assert loans.exposure(lender, borrower) == one_by_one(mine)
    for borrower in borrowers:
        facilities = loans.of_borrower(borrower)
        assert [l.id for l in facilities] == sorted(l.id for l in facilities)  # oldest first
        assert loans.debt_of(borrower) == one_by_one([l.principal for l in facilities])
        due = [l for l in facilities if l.status not in ("default", "repaid") and l.principal > 0]
        got, interest, amortisation = loans.dues(borrower, month, sofr)
        assert got == due
        assert interest == [l.principal * l.monthly_rate(sofr) for l in due]
        assert amortisation == [l.amortisation(month) for l in due]
        assert loans.in_breach(borrower) == any(l.status == "breach" for l in facilities)


def test_the_column_rules_give_each_loans_own_figures(economy):
    """LTVs, rates, the covenant test, the outstanding loans and the closing of repaid ones, by columns, are what each
    loan's own figures give."""
    m = economy
    loans = m.loans
    rows = np.arange(loans.n)
    views = loans.views(rows)
    assert loans.ltvs(rows).tolist() == [l.ltv for l in views]
    assert loans.monthly_rates(rows, m.sofr).tolist() == [l.monthly_rate(m.sofr) for l in views]
    loans.column("collateral_value")[: loans.n // 2] *= 0.5  # half the loans lose half their collateral
    over = [l.id for l in views if l.status == "performing" and l.waived_until < m.month and l.ltv > l.covenant_ltv]
    assert over and [views[r].id for r in over_covenant(loans, m.month)] == over
    assert loans.outstanding() == [l for l in views if l.status not in ("default", "repaid") and l.principal > 0]
    performing = [l for l in views if l.status == "performing"]
    assert loans.performing_principal() == one_by_one([l.principal for l in performing])
    performing[0].principal = 0.0  # repaid ...
    performing[0].draw_until = m.month  # ... after its draw period
    closing = [l for l in views if l.status == "performing" and l.principal <= 1e-9 and m.month >= l.draw_until]
    before = {l.id: l.status for l in views}
    loans.close_repaid()
    assert closing and {l.id: l.status for l in views} == {**before, **{l.id: "repaid" for l in closing}}
    assert loans._closed >= {l.lender for l in closing}  # their lenders' books are seen to change at the next change


def test_a_failed_funds_loans_pass_to_the_buyer_with_its_exposures_and_book():
    """When a fund's loan book is sold the buyer holds the loans (after its own, in the seller's order), its exposure to
    each borrower and its book grow by their principal, and the seller's fall to nothing."""
    from gpucredit.sim.credit.lender_failure import sell_loan_book

    m = GPUEconomy("baseline", rng=1, **{"run.months": 24}, **SMALL)
    while m.running:
        m.step()
    seller = max(m.lenders, key=lambda l: l.book())
    buyer = next(l for l in m.lenders if l is not seller)
    sold = [l for l in seller.loans if l.status not in ("default", "repaid") and l.principal > 0]
    borrowers = {l.borrower for l in sold}
    exposure = {b: (m.loans.exposure(seller.eid, b), m.loans.exposure(buyer.eid, b)) for b in borrowers}
    own = list(buyer.loans)
    book = buyer.book()
    principal, _ = sell_loan_book(m, seller, buyer)
    assert sold and principal == pytest.approx(sum(l.principal for l in sold))
    assert buyer.loans == own + sold and all(l.lender == buyer.eid for l in sold)
    assert not [l for l in seller.loans if l.status not in ("default", "repaid") and l.principal > 0]
    for b, (was_seller, was_buyer) in exposure.items():
        assert m.loans.exposure(seller.eid, b) == 0
        assert m.loans.exposure(buyer.eid, b) == pytest.approx(was_buyer + was_seller)
    assert buyer.book() == pytest.approx(book + principal)
    assert seller.book() == pytest.approx(sum(l.principal for l in seller.loans if l.status != "default"))


def test_marking_every_loan_adds_each_loans_cohorts_and_contracts_in_row_order():
    """mark_all's bins: each open loan's pledged cohorts (count x used-GPU price) and its active contracts' remaining
    value are added one by one in row order, bit for bit; an unpledged cohort, a cohort pledged to a defaulted loan, a
    contract no longer active or past its end count for no loan."""
    m = GPUEconomy("demand_disappointment", rng=1, **{"run.months": 40, "population.startups": 300})
    while m.running:
        m.step()
    loans, fleet, contracts = m.loans, m.fleet, m.contracts
    month, share, hour = m.month, m.p["lenders.contract_collateral_share"], 730.0 / 1e9
    open_ids = [l.id for l in loans.values() if l.status not in ("default", "repaid")]
    closed = next(l for l in loans.values() if l.status in ("default", "repaid"))
    first, second = (contracts.column("loan") >= 0).nonzero()[0][:2]
    contracts.column("active")[first] = False  # ended this month: its remaining value counts no more
    contracts.column("end")[second] = month  # at its end
    fleet.pledged[(fleet.view("pledged") < 0).nonzero()[0][0]] = closed.id
    loans.mark_all()
    cohorts = list(zip(*(fleet.view(k).tolist() for k in ("count", "gen", "pledged"))))
    terms = list(zip(*(contracts.column(k).tolist() for k in ("active", "loan", "qty", "price", "start", "end"))))
    prices = m.used_gpus.prices.tolist()
    assert open_ids and any(p in open_ids for _, _, p in cohorts) and any(t[1] in open_ids for t in terms)
    for loan_id in open_ids:
        gpus = remaining = 0.0
        for count, g, pledged in cohorts:
            if pledged == loan_id:
                gpus += count * prices[g] / 1e9
        for active, loan, qty, price, start, end in terms:
            if active and loan == loan_id and end > month:
                remaining += qty * price * hour * (end - max(start, month))
        loan = loans[loan_id]
        assert (loan.gpu_value, loan.collateral_value) == (gpus, gpus + share * remaining)
