"""The loan register: GPU-backed delayed-draw term loan facilities, their draws, repayments and capitalised
interest, each lender's exposure to each borrower, and the collateral marks.

The register is a columnar table (:class:`gpucredit.sim.table.Table`): one row per facility, in the order they were
opened (ids increase in that order), one numpy array per term (lender, borrower, months, principal, drawn, spread,
covenant, status as a code, breach and waiver months, arrears, marks). Loans never leave it, so a facility's row never
moves. A single facility is read and written through its view, :class:`gpucredit.sim.contracts.claims.Loan`; the bulk
rules (marks, closings, sums by party, the covenant test) work on whole columns.

**Collateral** (:meth:`LoanRegister.mark_all`, the one rule): a loan's collateral is the market value of the GPU
cohorts pledged to it (at used-GPU prices) plus ``lenders.contract_collateral_share`` of the remaining value of the
compute contracts assigned to it.
"""

from __future__ import annotations

import numpy as np

from ..contracts.claims import STATUSES, Loan
from ..table import Table
from ..technology import BN, H
from .loan_books import BREACH, CLOSED, DEFAULT, NO_ROWS, PERFORMING, REPAID, LoanBooks, running_sum, sum_of_lower

__all__ = ["LoanRegister", "running_sum", "sum_of_lower", "CLOSED", "PERFORMING", "BREACH", "DEFAULT", "REPAID"]

COLUMNS = {  # name -> (dtype, value of an empty row); units as on :class:`Loan`
    "id": (np.int64, 0), "lender": (np.int64, -1), "borrower": (np.int64, -1), "start": (np.int64, 0),
    "maturity": (np.int64, 0), "draw_until": (np.int64, 0), "principal": (float, 0.0), "drawn": (float, 0.0),
    "spread_sum": (float, 0.0), "covenant_ltv": (float, 0.8), "status": (np.int8, PERFORMING),
    "breach_since": (np.int64, -1), "waived_until": (np.int64, -1), "waivers": (np.int64, 0),
    "cure_tried": (np.int64, -1), "missed": (float, 0.0), "collateral_value": (float, 0.0), "gpu_value": (float, 0.0),
}


class LoanRegister(Table, LoanBooks):
    """Every loan facility of an economy (``economy.loans``): a table with one row per facility, in the order opened
    (:class:`gpucredit.sim.table.Table`), and the rules that draw, repay, mark and close them; what a party's facilities
    add up to is :class:`~gpucredit.sim.credit.loan_books.LoanBooks`. The rules over every facility work on whole
    columns; a party's queries read its rows only (indexes of rows by borrower, lender and pair)."""

    def __init__(self, economy, capacity: int = 64):
        super().__init__(COLUMNS, capacity)
        self.economy = economy
        self._views: list[Loan] = []  # row -> its view (rows never move)
        self._row: dict[int, int] = {}  # loan id -> row
        self._slot_of_id = np.zeros(capacity, dtype=np.intp)  # loan id -> row + 1, 0 for other ids (mark_all's bins)
        self._by_borrower: dict[int, np.ndarray] = {}  # borrower eid -> rows of its facilities, oldest first
        self._by_lender: dict[int, np.ndarray] = {}  # lender eid -> rows it holds, in the order it acquired them
        self._by_pair: dict[tuple[int, int], list[int]] = {}  # (lender, borrower) -> rows, oldest first
        self._parties: list[tuple[int, int]] = []  # row -> (lender, borrower), as in the columns (for single loans)
        self._init_books()
        self._refresh_cells()
        self.version = 0  # bumped whenever a facility's principal, status or marks change (for callers' caches)
        self._closed: set[int] = set()  # lenders with a facility closed since the last change (changed at the next)

    # --- the table -----------------------------------------------------------------------------------
    def __getitem__(self, loan_id: int) -> Loan:
        return self._views[self._row[loan_id]]

    def __contains__(self, loan_id: int) -> bool:
        return loan_id in self._row

    def __iter__(self):
        return iter(self._views)

    def values(self) -> list[Loan]:
        """Every facility, as views, in the order opened."""
        return self._views

    def _refresh_cells(self) -> None:
        """``_cells``: a memoryview of each column, through which the rules on one facility read and write single values
        as plain Python numbers (without numpy's scalars)."""
        self._cells = {name: memoryview(column) for name, column in self._columns.items()}

    def _note_slot(self, loan_id: int, row: int) -> None:
        """Loan ``loan_id`` is in ``row``: its entry of ``_slot_of_id``, which grows (by doubling) to keep a last entry
        of 0 beyond every loan id (where an id of -1, nothing pledged or assigned, is looked up)."""
        if loan_id + 1 >= len(self._slot_of_id):
            grown = np.zeros(2 * (loan_id + 1), dtype=np.intp)
            grown[: len(self._slot_of_id)] = self._slot_of_id
            self._slot_of_id = grown
        self._slot_of_id[loan_id] = row + 1

    def views(self, rows) -> list[Loan]:
        """The facilities in ``rows`` (row numbers), as views, in that order."""
        views = self._views
        return [views[r] for r in (rows.tolist() if isinstance(rows, np.ndarray) else rows)]

    def rows_of(self, borrower: int | None = None, lender: int | None = None, excluding: tuple[str, ...] = ()) -> np.ndarray:
        """Rows of ``borrower``'s facilities (oldest first) or of those ``lender`` holds (in the order it acquired them),
        leaving out those whose status is in ``excluding``; with neither party, every facility's row."""
        if borrower is not None:
            rows = self._by_borrower.get(borrower, NO_ROWS)
        elif lender is not None:
            rows = self._by_lender.get(lender, NO_ROWS)
        elif excluding:  # every facility's row but those excluded: one mask over the column
            return self._not_in(self.column("status"), excluding).nonzero()[0]
        else:
            return np.arange(self.n)
        if excluding and len(rows):
            rows = rows[self._not_in(self._columns["status"][rows], excluding)]
        return rows

    @staticmethod
    def _not_in(status: np.ndarray, excluding: tuple[str, ...]) -> np.ndarray:
        """Which of the status codes ``status`` are none of the statuses ``excluding``."""
        codes = [STATUSES.index(s) for s in excluding]
        keep = status != codes[0]
        for code in codes[1:]:
            keep &= status != code
        return keep

    def columns_of(self, *names: str, borrower: int | None = None, lender: int | None = None,
                   excluding: tuple[str, ...] = ()) -> list[np.ndarray]:
        """Columns ``names`` over the rows of :meth:`rows_of` (plain arrays, for callers outside the engine)."""
        rows = self.rows_of(borrower, lender, excluding)
        return [self._columns[name][rows] for name in names]

    def ltvs(self, rows: np.ndarray) -> np.ndarray:
        """Loan-to-value of facilities ``rows`` at their last marks (:attr:`Loan.ltv`, by columns: the same floats)."""
        principal = self._columns["principal"][rows]
        collateral = self._columns["collateral_value"][rows]
        return np.where(principal > 0, principal / np.where(1e-12 > collateral, 1e-12, collateral), 0.0)

    def monthly_rates(self, rows: np.ndarray, sofr: float) -> np.ndarray:
        """SOFR plus the blended spread, per month, of facilities ``rows`` (:meth:`Loan.monthly_rate`, by columns)."""
        drawn = self._columns["drawn"][rows]
        spread = np.divide(self._columns["spread_sum"][rows], drawn, out=np.zeros(len(rows)), where=drawn > 0)
        return (sofr + spread) / 12.0

    # --- queries -------------------------------------------------------------------------------------
    def of_borrower(self, eid: int) -> list[Loan]:
        """``eid``'s facilities, oldest first."""
        return self.views(self._by_borrower.get(eid, NO_ROWS))

    def of_lender(self, eid: int) -> list[Loan]:
        """The facilities ``eid`` holds, in the order it acquired them (opened, or bought from a failed fund)."""
        return self.views(self._by_lender.get(eid, NO_ROWS))

    def lender_of(self, loan_id: int) -> int:
        """Entity id of the lender that holds loan ``loan_id``."""
        return self._parties[self._row[loan_id]][0]

    def outstanding_rows(self) -> np.ndarray:
        """Rows of the open loans with principal outstanding, in the order opened."""
        status = self.column("status")
        return ((status != DEFAULT) & (status != REPAID) & (self.column("principal") > 0)).nonzero()[0]

    def outstanding(self) -> list[Loan]:
        """Open loans with principal outstanding."""
        return self.views(self.outstanding_rows())

    def to_cure(self, borrower: int, month: int) -> list[int]:
        """Rows of ``borrower``'s facilities in breach that it has not yet tried to cure in ``month``, oldest first."""
        rows = self._by_borrower.get(borrower, NO_ROWS)
        return [r for r, status, tried in zip(rows.tolist(), *self._values(rows, "status", "cure_tried"))
                if status == BREACH and tried != month]

    def borrowers_to_cure(self, month: int) -> set[int]:
        """The borrowers with a facility in breach not yet tried to cure in ``month``."""
        due = (self.column("status") == BREACH) & (self.column("cure_tried") != month)
        return set(self.column("borrower")[due].tolist())

    def newest_facility(self, borrower: int) -> int:
        """Id of ``borrower``'s newest facility not in default (-1 if none): new contracts are assigned to it."""
        status, ids = self._cells["status"], self._cells["id"]
        for row in reversed(self._by_borrower.get(borrower, NO_ROWS).tolist()):  # newest first: mostly the first one
            if status[row] != DEFAULT:
                return ids[row]
        return -1

    def facility(self, lender: int, borrower: int, month: int) -> Loan | None:
        """``borrower``'s oldest performing facility with ``lender`` still in its draw period in ``month`` (None if none)."""
        status, draw_until = self._cells["status"], self._cells["draw_until"]
        for row in self._by_pair.get((lender, borrower), ()):
            if status[row] == PERFORMING and draw_until[row] >= month:
                return self._views[row]
        return None

    def has_open_debt(self, borrower: int) -> bool:
        """Whether ``borrower`` owes principal on a facility performing or in breach."""
        rows = self._by_borrower.get(borrower, NO_ROWS)
        return any([(s == PERFORMING or s == BREACH) and p > 0 for s, p in zip(*self._values(rows, "status", "principal"))])

    # --- the life of a facility ----------------------------------------------------------------------
    def changed(self, loan: Loan) -> None:
        """A facility's principal, status or marks changed: its lender's cached exposure to the borrower is stale, and
        a new version is the one at which its lender's facilities changed (its ``loans_version``: its book and marks,
        added up from its own facilities, stay current while it is the same, whatever other lenders' facilities do);
        also that of lenders with a facility closed since the last version (a closing moves no version: it is seen
        with the next change of any facility)."""
        self._changed(*self._parties[loan.row])

    def _changed(self, lender: int, borrower: int) -> None:
        """A facility of ``lender`` to ``borrower`` changed (:meth:`changed`)."""
        self.exposures.pop((lender, borrower), None)  # (what :meth:`_forget` drops when only principal changed)
        self._debts.pop(borrower, None)
        self._dues_stale.add(borrower)
        if self._closed:
            self._new_version((lender,))
        else:
            self.version += 1
            self.economy.entity[lender].loans_version = self.version

    def _new_version(self, lenders) -> None:
        """A new version, at which the facilities of ``lenders`` (and of lenders with a facility closed since the
        last version) changed."""
        self.version += 1
        entity = self.economy.entity
        if self._closed:
            for eid in self._closed:
                entity[eid].loans_version = self.version
            self._closed.clear()
        for eid in lenders:
            entity[eid].loans_version = self.version

    def open(self, lender, borrower, covenant: float) -> Loan:
        """A new delayed-draw facility: draws for 24 months, fully amortising by ``lenders.maturity_months``; the
        borrower's contracts not yet assigned to a facility become its collateral."""
        m = self.economy
        loan_id = m.new_id()
        row = self.n
        self.append(id=loan_id, lender=lender.eid, borrower=borrower.eid, start=m.month,
                    maturity=m.month + m.p["lenders.maturity_months"], draw_until=m.month + 24, covenant_ltv=covenant)
        if self._cells["id"].obj is not self._columns["id"]:  # the columns grew into new arrays
            self._refresh_cells()
        loan = Loan(self, row)
        self._views.append(loan)
        self._row[loan_id] = row
        self._note_slot(loan_id, row)
        for index, party in ((self._by_borrower, borrower.eid), (self._by_lender, lender.eid)):
            index[party] = np.append(index.get(party, NO_ROWS), row)
        self._by_pair.setdefault((lender.eid, borrower.eid), []).append(row)
        self._parties.append((lender.eid, borrower.eid))
        for cache in (self._debts, self._breach, self._open):  # the borrower's (an exposure is unchanged: 0 drawn)
            cache.pop(borrower.eid, None)
        self._dues_stale.add(borrower.eid)
        self._held.pop(lender.eid, None)
        m.contracts.assign_unassigned(borrower.eid, loan_id)  # its contracts not yet collateral become this loan's
        return loan

    def draw(self, loan: Loan, amount: float, spread: float, ig_share: float = 0.0) -> None:
        """The borrower draws ``amount`` US$bn at ``spread`` over SOFR (``ig_share`` of it backed by investment-grade
        contracts); the lender funds it first (:meth:`gpucredit.agents.lender.Lender.fund`)."""
        m = self.economy
        c, row = self._cells, loan.row
        lender, borrower = self._parties[row]
        m.entity[lender].fund(amount)  # cash, its bank facility, or a call on its investors
        # in plain floats: the same operations on the same values as on the numpy floats the figures often come as
        # (only the type of the month's new-lending tallies changes; they are read as a ratio)
        drawing, spread, ig_share = float(amount), float(spread), float(ig_share)
        spread_sum, drawn, principal = c["spread_sum"], c["drawn"], c["principal"]
        spread_sum[row] = spread_sum[row] + spread * drawing
        drawn[row] = drawn[row] + drawing
        principal[row] = principal[row] + drawing
        self._changed(lender, borrower)
        m.ledger.pay(lender, borrower, amount, "loan_draw")
        # the month's new lending by grade and the spread on each part (the premium applies to both)
        p = m.p
        spread_ig, spread_non_ig = p["lenders.spread_ig"], p["lenders.spread_non_ig"]
        premium = spread - (ig_share * spread_ig + (1.0 - ig_share) * spread_non_ig)
        flow = m.flow
        flow["new_lending_ig"] += ig_share * drawing
        flow["new_lending_ig_spread"] += ig_share * drawing * (spread_ig + premium)
        flow["new_lending_non_ig"] += (1.0 - ig_share) * drawing
        flow["new_lending_non_ig_spread"] += (1.0 - ig_share) * drawing * (spread_non_ig + premium)

    def pay_interest(self, loan: Loan, amount: float) -> None:
        lender, borrower = self._parties[loan.row]
        self.economy.ledger.pay(borrower, lender, amount, "interest")

    def repay(self, loan: Loan, amount: float) -> None:
        """The borrower pays down ``amount`` US$bn of principal (at most what is outstanding)."""
        if amount <= 0:
            return
        principal, row = self._cells["principal"], loan.row
        owed = principal[row]
        amount = min(amount, owed)
        lender, borrower = self._parties[loan.row]
        self.economy.ledger.pay(borrower, lender, amount, "principal")
        principal[row] = owed - amount
        self._changed(lender, borrower)

    def capitalise_interest(self, loan: Loan, amount: float) -> None:
        """Unpaid interest is added to the loan: an expense of the borrower, income of the lender."""
        if amount <= 0:
            return
        led = self.economy.ledger
        principal, row = self._cells["principal"], loan.row
        principal[row] = principal[row] + amount
        lender, borrower = self._parties[loan.row]
        self._changed(lender, borrower)
        led.book(borrower, -amount, "interest")
        led.book(lender, amount, "interest")

    def close_repaid(self) -> None:
        """Performing facilities fully repaid after their draw period are closed."""
        status = self.column("status")
        repaid = ((status == PERFORMING) & (self.column("principal") <= 1e-9)
                  & (self.economy.month >= self.column("draw_until"))).nonzero()[0]
        if len(repaid):
            status[repaid] = REPAID
            parties = [self._parties[row] for row in repaid.tolist()]
            for lender, borrower in parties:
                self._forget(lender, borrower)
            self._closed.update(lender for lender, _ in parties)

    def write_off(self, loans: list[Loan]) -> None:
        """``loans`` are in default (their lenders' exposures and books change)."""
        rows = np.array([loan.row for loan in loans], dtype=np.int64)
        if not len(rows):
            return
        c = self._columns
        c["status"][rows] = DEFAULT
        lenders = c["lender"][rows].tolist()
        for lender, borrower in zip(lenders, c["borrower"][rows].tolist()):
            self._forget(lender, borrower)
        self._new_version(dict.fromkeys(lenders))

    def transfer(self, rows: np.ndarray, seller: int, buyer: int) -> None:
        """Facilities ``rows`` (held by ``seller``, in its order) pass to ``buyer``, which adds them to its own in that
        order; both lenders' exposures to the borrowers change."""
        if not len(rows):
            return
        c = self._columns
        for row, borrower in zip(rows.tolist(), c["borrower"][rows].tolist()):
            self._forget(seller, borrower)
            self._forget(buyer, borrower)
            self._by_pair[(seller, borrower)].remove(row)
            self._by_pair[(buyer, borrower)] = sorted(self._by_pair.get((buyer, borrower), []) + [row])
            self._parties[row] = (buyer, borrower)
        c["lender"][rows] = buyer
        held = self._by_lender.get(seller, NO_ROWS)
        self._by_lender[seller] = held[~np.isin(held, rows)]
        self._by_lender[buyer] = np.concatenate((self._by_lender.get(buyer, NO_ROWS), rows))
        self._new_version((seller, buyer))

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
        remaining value of the contracts assigned to it (two columns written at once). Each cohort's market value and
        each active contract's remaining value is added to its loan's bin in row order (np.bincount: one by one, from
        0.0); unpledged cohorts, unassigned or ended contracts fall in bin 0, which nothing reads."""
        m = self.economy
        fleet, month, n = m.fleet, m.month, self.n
        status = self._columns["status"][:n]
        open_rows = ((status != DEFAULT) & (status != REPAID)).nonzero()[0]
        slot = self._slot_of_id  # loan id -> its row + 1 (0: not a loan, and for -1, the last entry)
        value = fleet.view("count") * m.used_gpus.prices[fleet.view("gen")] / BN
        gpus_by_loan = np.bincount(slot[fleet.view("pledged")], weights=value, minlength=n + 1)[open_rows + 1]
        contracts = m.contracts
        loan, qty, price, start, end = (contracts.column(name) for name in ("loan", "qty", "price", "start", "end"))
        counts = contracts.column("active") & (end > month)  # contracts that still have payments to come
        remaining = qty * price * H * (end - np.maximum(start, month))  # remaining value, US$bn (where it counts)
        contracts_by_loan = np.bincount(slot[loan] * counts, weights=remaining, minlength=n + 1)[open_rows + 1]
        self._open.clear()  # every borrower's collateral moved, and every lender's
        self.marks_made += 1
        self._columns["gpu_value"][open_rows] = gpus_by_loan
        self._columns["collateral_value"][open_rows] = gpus_by_loan + m.p["lenders.contract_collateral_share"] * contracts_by_loan
        self.version += 1
        for lender in m.lenders + m.failed_lenders:  # every lender's marks changed (and those with a facility closed)
            lender.loans_version = self.version
        self._closed.clear()
