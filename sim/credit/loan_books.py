"""What a party's loan facilities add up to: a lender's exposure to a borrower, its book and loan marks, a borrower's
debt, open debt and collateral, whether it is in breach and the month's debt service due. Part of the loan register
(:class:`gpucredit.sim.credit.loans.LoanRegister`, which holds the table and the indexes of rows by party these read).

A party's facilities are a handful, so these read the party's rows only, and keep what they add up until one of the
facilities changes (:meth:`LoanBooks._forget`, called by the register's rules and by any write through a loan's view).
The month's debt service is worked out for every borrower at once, by columns.

Principal is added up loan by loan, without compensation (:func:`running_sum`), in the order the facilities were opened
(a borrower's, a lender-borrower pair's) or acquired (a lender's).
"""

from __future__ import annotations

import numpy as np

from ..contracts.claims import STATUSES, Loan, amortisation, monthly_rate

CLOSED = ("default", "repaid")
PERFORMING, BREACH, DEFAULT, REPAID = (STATUSES.index(s) for s in ("performing", "breach", "default", "repaid"))
NO_ROWS = np.zeros(0, dtype=np.int64)
_ZERO = np.float64(0.0)


def few(rows: np.ndarray) -> np.ndarray | list[int]:
    """``rows`` as a list if they are few enough to be read value by value (:meth:`LoanBooks._read`), else as they are."""
    return rows.tolist() if len(rows) <= 12 else rows


def running_sum(values: list[float]):
    """``values`` added up one by one from 0, in their order, without compensation: what Python's
    ``sum()`` gives for numpy floats, a numpy float (0 if there are none). Principal is added up this way: a facility's
    principal was a numpy float (draws are numpy floats) when facilities were objects, and the compensated ``sum()`` of
    plain floats differs from it in the last bits."""
    if not values:
        return 0
    total = 0.0
    for x in values:
        total += x
    return _ZERO + total  # (a numpy float, made more cheaply than by np.float64(); total is never -0.0)


def sum_of_lower(principal: list[float], other: list[float]):
    """The lower of ``principal`` and ``other`` (a plain float, e.g. collateral), loan by loan (the principal when they
    are equal), added up in their order as Python's ``sum()`` added the mix of numpy floats (principal) and plain
    floats: compensated over the leading loans that count ``other``, then one by one from the first that counts its
    principal."""
    k, n = 0, len(principal)
    while k < n and other[k] < principal[k]:
        k += 1
    total = sum(other[:k])
    if k == n:
        return total
    for p, o in zip(principal[k:], other[k:]):
        total += o if o < p else p
    return np.float64(total)


class LoanBooks:
    """The queries by party of the loan register (a mixin of :class:`~gpucredit.sim.credit.loans.LoanRegister`: it reads
    the register's columns, its views and its indexes ``_by_borrower``, ``_by_lender``, ``_by_pair`` and ``_parties``)."""

    def _init_books(self) -> None:
        self.exposures: dict[tuple[int, int], float] = {}  # (lender, borrower) -> principal outstanding
        self._debts: dict[int, float] = {}  # borrower -> all principal it owes
        self._breach: dict[int, bool] = {}  # borrower -> whether one of its facilities is in breach
        self._dues: dict[int, tuple[list, list, list]] = {}  # borrower -> the month's dues
        self._dues_stale: set[int] = set()  # borrowers whose dues must be worked out again
        self._dues_for = None  # (month, SOFR) of the dues
        self._open: dict[int, tuple[list, float]] = {}  # borrower -> (rows of its open facilities, their collateral)
        self._held: dict[int, tuple] = {}  # lender -> (rows it holds not in default, rows open, their collateral)
        self.marks_made = 0  # how many times every loan was marked (:meth:`LoanRegister.mark_all`)

    def _values(self, rows: np.ndarray, *names: str) -> list[list]:
        """Columns ``names`` over ``rows``, as lists of plain Python values."""
        c = self._columns
        return [c[name][rows].tolist() for name in names]

    def in_breach(self, borrower: int) -> bool:
        """Whether any of ``borrower``'s facilities is in breach."""
        breach = self._breach.get(borrower)
        if breach is None:
            status = self._cells["status"]
            breach = self._breach[borrower] = any([status[row] == BREACH for row in self._by_borrower.get(borrower, NO_ROWS).tolist()])
        return breach


    def dues(self, borrower: int, month: int, sofr: float) -> tuple[list[Loan], list[float], list[float]]:
        """``borrower``'s open facilities with principal outstanding (oldest first), and on each the interest due in
        ``month`` (principal x :func:`monthly_rate`) and the principal due (:func:`amortisation`), US$bn. Worked out for
        every borrower at once, by columns, at the first call of a month; a borrower's again after one of its facilities
        changed."""
        if self._dues_for != (month, sofr):
            self._all_dues(month, sofr)
        if borrower in self._dues_stale:
            self._dues_stale.discard(borrower)
            self._dues[borrower] = self._dues_of(borrower, month, sofr)
        due = self._dues.get(borrower)
        return due if due is not None else ([], [], [])

    def _all_dues(self, month: int, sofr: float) -> None:
        """Every borrower's dues (:meth:`dues`), by columns."""
        c, n = self._columns, self.n
        status, principal = c["status"][:n], c["principal"][:n]
        rows = ((status != DEFAULT) & (status != REPAID) & ~(principal <= 0)).nonzero()[0]
        principal = principal[rows]
        interest = (principal * self.monthly_rates(rows, sofr)).tolist()
        amortisations = (principal / np.maximum(1, c["maturity"][rows] - month)).tolist()
        self._dues = dues = {}  # (borrowers without dues have none)
        self._dues_stale = set()
        views = self._views
        for row, borrower, i, a in zip(rows.tolist(), c["borrower"][rows].tolist(), interest, amortisations):
            due = dues.get(borrower)
            if due is None:
                due = dues[borrower] = ([], [], [])
            loans, interests, amortisation_ = due
            loans.append(views[row])
            interests.append(i)
            amortisation_.append(a)
        self._dues_for = (month, sofr)

    def _dues_of(self, borrower: int, month: int, sofr: float) -> tuple[list[Loan], list[float], list[float]]:
        """One borrower's dues (:meth:`dues`), loan by loan."""
        rows = self._by_borrower.get(borrower, NO_ROWS)
        loans, interests, amortisations = [], [], []
        views = self._views
        for row, status, principal, spread_sum, drawn, maturity in zip(rows.tolist(), *self._values(
                rows, "status", "principal", "spread_sum", "drawn", "maturity")):
            if status == DEFAULT or status == REPAID or principal <= 0:
                continue
            loans.append(views[row])
            interests.append(principal * monthly_rate(sofr, spread_sum, drawn))
            amortisations.append(amortisation(principal, maturity, month))
        return loans, interests, amortisations


    def exposure(self, lender: int, borrower: int) -> float:
        """Principal ``lender`` has outstanding to ``borrower`` (cached until one of their facilities changes)."""
        key = (lender, borrower)
        exposure = self.exposures.get(key)
        if exposure is None:
            status, principal = self._cells["status"], self._cells["principal"]
            exposure = self.exposures[key] = running_sum([principal[row] for row in self._by_pair.get(key, ())
                                                          if status[row] != DEFAULT])  # oldest first
        return exposure

    def debt_of(self, borrower: int) -> float:
        """All principal ``borrower`` owes on its facilities (defaulted ones included until they are written off; cached
        until one of them changes)."""
        debt = self._debts.get(borrower)
        if debt is None:
            debt = self._debts[borrower] = running_sum(self._columns["principal"][self._by_borrower.get(borrower, NO_ROWS)].tolist())
        return debt

    def open_debt_and_collateral(self, borrower: int) -> tuple[float, float]:
        """Principal and collateral value (at the last marks) of ``borrower``'s open facilities, US$bn."""
        open_loans = self._open.get(borrower)  # its open rows and their collateral (unchanged by draws and payments)
        if open_loans is None:
            status, collateral = self._cells["status"], self._cells["collateral_value"]
            rows = [r for r in self._by_borrower.get(borrower, NO_ROWS).tolist() if status[r] != DEFAULT and status[r] != REPAID]
            open_loans = self._open[borrower] = (rows, sum([collateral[r] for r in rows]))
        principal = self._cells["principal"]
        return running_sum([principal[row] for row in open_loans[0]]), open_loans[1]

    def book_of(self, lender: int) -> float:
        """Principal outstanding on the facilities ``lender`` holds that are not in default, US$bn, in its order (the
        lender keeps it until one of its facilities changes: ``loans_version``)."""
        return running_sum(self._read("principal", self._held_rows(lender)[0]))

    def marks_of(self, lender: int) -> float:
        """The facilities ``lender`` holds that are open, each at the lower of principal and collateral value, US$bn."""
        _, rows, collateral = self._held_rows(lender)
        if collateral[0] != self.marks_made:  # (the collateral values as of the latest marks)
            collateral[:] = self.marks_made, self._read("collateral_value", rows)
        return sum_of_lower(self._read("principal", rows), collateral[1])

    def _read(self, name: str, rows: np.ndarray | list[int]) -> list:
        """Column ``name`` over ``rows`` as a list of plain values: value by value for a few rows (or rows given as a
        list), else by numpy."""
        if type(rows) is not list:
            if len(rows) > 12:
                return self._columns[name][rows].tolist()
            rows = rows.tolist()
        cells = self._cells[name]
        return [cells[r] for r in rows]

    def _held_rows(self, lender: int) -> tuple:
        """Rows ``lender`` holds not in default, and those open, in its order (a list when they are few: they are read
        value by value), kept until a status changes, with ``[marks_made, the open rows' collateral values]`` as
        :meth:`marks_of` last read them (a loan marked alone writes through its view, which drops all this)."""
        held = self._held.get(lender)
        if held is None:
            rows = self._by_lender.get(lender, NO_ROWS)
            status = self._columns["status"][rows]
            performing_or_closed = status != DEFAULT
            not_default, open_rows = few(rows[performing_or_closed]), few(rows[performing_or_closed & (status != REPAID)])
            held = self._held[lender] = (not_default, open_rows, [None, None])
        return held

    def performing_principal(self) -> float:
        """Principal of the performing facilities, US$bn, added up in the order opened."""
        return running_sum(self.column("principal")[self.column("status") == PERFORMING].tolist())


    def _forget(self, lender: int, borrower: int, status: bool = True) -> None:
        """Drop what is cached about the facilities of ``lender`` to ``borrower`` (``status``: whether a status may
        have changed, not only principal)."""
        self.exposures.pop((lender, borrower), None)
        self._debts.pop(borrower, None)
        self._dues_stale.add(borrower)
        if status:
            self._breach.pop(borrower, None)
            self._open.pop(borrower, None)
            self._held.pop(lender, None)

    def written(self, row: int) -> None:
        """A term of facility ``row`` was written through its view: what is cached about its parties is dropped."""
        self._forget(*self._parties[row])
