"""The register of compute contracts: every take-or-pay contract -- of labs, hyperscalers (overflow), Nvidia
(rent-backs) and start-ups alike -- as one columnar table (one row per contract, like the fleet's cohorts), signed,
paid month by month, terminated or expired here, by one rule per contract kind whatever the customer.

* **Signing** (:meth:`ContractRegister.sign`, :meth:`ContractRegister.sign_startups`): the prepayment
  (``contracts.prepay_share`` of the value) is paid at signing; the contract becomes collateral of the provider's
  newest loan facility not in default.
* **Payments** (:meth:`ContractRegister.collect_payments`): each contract being served owes its monthly value
  less the prepayment released this month (the unreleased prepayment over the months left). A customer that can
  pay all its contracts pays them, in one transfer per provider and kind; one that cannot pays them in turn and
  fails on the first it cannot meet. A start-up is a customer with its own cash (its slot of the population).
* **The end** (:meth:`ContractRegister.expire`, :meth:`ContractRegister.terminate`): at expiry the rest of the
  prepayment is earned; a contract ended early (its customer failed, its provider exited) leaves the provider the
  unreleased prepayment.

Each month the register keeps each party's *books* (:meth:`ContractRegister.refresh_books`): capacity contracted
and served now, capacity signed (forward starts included), investment-grade capacity, monthly contract payments,
backlog. They are queries the agents read
(``economy.contracts.signed_by_provider[eid]``).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..technology import H
from ..table import Table
from .books import BOOKS, LATE, early_books, late_books
from .books import parties_in, totals_by_party  # noqa: F401 (read from here by callers of the register)
from .claims import KINDS, ComputeContract

RENT_BACK = KINDS.index("rent_back")
RADIX_FROM = 512  # keys from which groups() sorts 16-bit keys by radix (below, the conversion costs more than it saves)

COLUMNS = {  # name -> (dtype, value of an empty row)
    "id": (np.int64, 0), "customer": (np.int64, 0), "slot": (np.int64, -1), "provider": (np.int64, 0),
    "qty": (float, 0.0), "price": (float, 0.0), "start": (np.int64, 0), "end": (np.int64, 0), "ig": (bool, False),
    "kind": (np.int8, 0), "prepaid": (float, 0.0), "loan": (np.int64, -1), "active": (bool, False),
}


def groups(keys: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Rows grouped by key: ``order`` (a stable sort of the rows by key) and, for each distinct key in increasing
    order, (key, first, end) such that ``order[first:end]`` are its rows in their original order. A slice of an
    array taken in ``order`` holds the same elements, in the same order, as a boolean selection ``keys == key``."""
    if not len(keys):
        return np.argsort(keys, kind="stable"), []
    # a stable sort: by radix on 16 bits when many keys fit in them (the same order, faster than a merge sort of int64)
    small = len(keys) >= RADIX_FROM and keys.min() >= 0 and keys.max() < 2**16
    order = np.argsort(keys.astype(np.uint16) if small else keys, kind="stable")
    sorted_keys = keys[order]
    # each key's first row: where the sorted keys change (np.unique's first indices without its second sort)
    first = np.concatenate(([0], (sorted_keys[1:] != sorted_keys[:-1]).nonzero()[0] + 1))
    ends = first[1:].tolist() + [len(keys)]
    return order, list(zip(sorted_keys[first].tolist(), first.tolist(), ends))


add_up = np.add.reduce  # ndarray.sum() of a 1-D array without its Python wrapper: the same reduction, the same sum


class EndingContracts:
    """Contracts about to end (``rows``), grouped for their books and their events: by customer, provider and kind
    (:func:`groups` of ``(customer x n + provider) x 2 + is_rent_back``) and by customer and provider. With no rent-back
    among them the two are the same groups in the same order (each pair's key is twice the pair's: the same stable
    order), so the rows are sorted once; otherwise the pairs are grouped on their own."""

    def __init__(self, register: ContractRegister, rows: np.ndarray):
        c = register._columns
        self.rows, self.n = rows, len(register.economy.ledger.names)
        self.pairs = c["customer"][rows] * self.n + c["provider"][rows]
        self.rent_back = c["kind"][rows] == RENT_BACK
        self.by_pair_and_kind = groups(self.pairs * 2 + self.rent_back)

    def by_pair(self) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """:func:`groups` of the customer-provider pairs."""
        if self.rent_back.any():
            return groups(self.pairs)
        order, by_key = self.by_pair_and_kind
        return order, [(key >> 1, first, last) for key, first, last in by_key]


class ActiveContracts:
    """The active contracts as columns, in signing order: ``register.active().columns(*fields)`` (for sums by party
    with ``np.bincount``); ``grade`` and ``kind`` come as strings."""

    def __init__(self, register: ContractRegister):
        self.register = register
        self.rows = register.active_rows()

    def columns(self, *fields: str) -> list[np.ndarray]:
        out = []
        for f in fields:
            if f == "grade":
                out.append(np.where(self.register.column("ig")[self.rows], "ig", "non_ig").astype(object))
            elif f == "kind":
                out.append(np.array(KINDS, dtype=object)[self.register.column("kind")[self.rows]])
            else:
                out.append(self.register._columns[f].take(self.rows))  # (the rows in use: column(f)[rows])
        return out


class ContractRegister(Table):
    """The compute contracts of an economy (``economy.contracts``), a table with one row per contract
    (:class:`gpucredit.sim.table.Table`), and the rules that settle them."""

    def __init__(self, economy, capacity: int = 256):
        super().__init__(COLUMNS, capacity)  # ``n``: rows in use (active contracts and those ended this month)
        self.economy = economy
        self._books_stale = False  # a refresh was asked for while deferred (:meth:`books_deferred`)
        self._late_kept = None  # what the last refresh kept for the late books not read since (:mod:`.books`)
        self._deferring = 0

    # --- the table -----------------------------------------------------------------------------------
    def _append(self, k: int | None, **values) -> np.ndarray:
        """Add ``k`` active rows with the given column values (scalars or arrays), or (``k`` None) one row of scalars
        set by index (a contract signed alone); returns their row numbers."""
        return self.append(k, active=True, **values)

    def __iter__(self):
        """Every contract in the table (active ones and those ended this month), as views, in signing order."""
        return (ComputeContract(self, r) for r in range(self.n))

    def active_rows(self) -> np.ndarray:
        return self.column("active").nonzero()[0]  # (np.flatnonzero without its wrappers: asked ~10 times a month)

    def active_columns(self, *names: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """The active rows and the columns ``names`` over them, in signing order: when every row is active (as from the
        month's opening until a contract ends), the columns themselves (views of the table, to be read, not written)
        rather than copies of the same values."""
        rows, c = self.active_rows(), self._columns
        if len(rows) == self.n:
            return rows, [c[name][: self.n] for name in names]
        return rows, [c[name].take(rows) for name in names]

    def active(self) -> ActiveContracts:
        return ActiveContracts(self)

    def remaining_value(self, rows: np.ndarray) -> np.ndarray:
        """US$bn still to be paid on contracts ``rows`` (all of it for a forward contract that has not started)."""
        c, month = self._columns, self.economy.month
        return c["qty"][rows] * c["price"][rows] * H * np.maximum(0, c["end"][rows] - np.maximum(c["start"][rows], month))

    def rows_of(self, provider: int | None = None, customer: int | None = None) -> np.ndarray:
        """Active rows of ``provider`` and/or ``customer``, in signing order."""
        mask = self.column("active").copy()
        if provider is not None:
            mask &= self.column("provider") == provider
        if customer is not None:
            mask &= self.column("customer") == customer
        return mask.nonzero()[0]

    # --- books ---------------------------------------------------------------------------------------
    def refresh_books(self) -> None:
        """Each party's contracted H100e, backlog and monthly contract payments, from the active contracts (or, within
        :meth:`books_deferred`, when next read or at its end)."""
        if self._deferring:
            self._books_stale = True
            for name in BOOKS:  # the next read finds none and computes them (:meth:`__getattr__`)
                self.__dict__.pop(name, None)
        else:
            self._compute_books()

    def __getattr__(self, name: str):
        """A book not worked out yet (:mod:`.books`): after a refresh deferred (:meth:`books_deferred`) every book is
        worked out now; a late book, from what the last refresh kept for it. (The books are plain attributes once worked
        out: read many times a month, they cost no more than any attribute.)"""
        if name in BOOKS:
            if self._books_stale or self._late_kept is None:
                self._compute_books()
            if name not in self.__dict__:
                self.__dict__.update(late_books(self._late_kept))
                self._late_kept = None
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @contextmanager
    def books_deferred(self):
        """Within, :meth:`refresh_books` only marks the books due; they are computed when first read or at the end.
        For a loop of defaults (each asks for a refresh, the next one overwrites it unread)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring and self._books_stale:
                self._compute_books()

    def _compute_books(self) -> None:
        """The books now (:meth:`refresh_books`): the early ones at once, the late ones when first read
        (:mod:`.books`)."""
        self._books_stale = False
        books, self._late_kept = early_books(self)
        for name in LATE:
            self.__dict__.pop(name, None)
        self.__dict__.update(books)

    # --- signing -------------------------------------------------------------------------------------
    def term(self) -> int:
        """A contract's term in months: ``contracts.term_months`` +- up to ``contracts.term_spread``."""
        m = self.economy
        p = m.p
        spread = p["contracts.term_spread"]
        return max(1, p["contracts.term_months"] + (int(m.rng.integers(-spread, spread + 1)) if spread else 0))

    def terms(self, k: int) -> np.ndarray:
        """``k`` terms drawn as by ``k`` calls of :meth:`term` (the generator yields the same numbers for one draw
        of ``k`` integers as for ``k`` draws of one)."""
        m = self.economy
        p = m.p
        spread = p["contracts.term_spread"]
        if not spread:
            return np.full(k, p["contracts.term_months"])
        return np.maximum(1, p["contracts.term_months"] + m.rng.integers(-spread, spread + 1, size=k))

    def sign(self, customer, provider_eid: int, qty: float, price: float, grade: str, kind: str,
             term: int | None = None, prepay_share: float | None = None, start: int | None = None) -> ComputeContract | None:
        """Sign a take-or-pay contract for ``term`` months from ``start`` (this month unless it is a forward
        contract for capacity still to be built); the prepayment is paid at signing. A customer that cannot pay
        the prepayment out of ``contracts.max_prepay_cash_share`` of its cash signs a smaller contract (none below
        ``contracts.min_deal_h100e``). The contract becomes collateral of the provider's newest loan facility."""
        m = self.economy
        p = m.p
        term = term or self.term()
        start = m.month if start is None else start
        prepay_share = p["contracts.prepay_share"] if prepay_share is None else prepay_share
        prepay = prepay_share * qty * price * 730.0 / 1e9 * term
        cash = m.ledger.cash[customer.eid]
        cash_share = p["contracts.max_prepay_cash_share"]
        if prepay > cash_share * max(cash, 0.0):  # cannot afford the prepayment: smaller contract
            shrink = cash_share * max(cash, 0.0) / prepay
            if shrink * qty < p["contracts.min_deal_h100e"]:
                return None
            qty *= shrink
            prepay *= shrink
        m.ledger.pay(customer.eid, provider_eid, prepay, "contract_prepayment")
        row = self._append(None, id=m.new_id(), customer=customer.eid, provider=provider_eid, qty=qty, price=price,
                           start=start, end=start + term, ig=grade == "ig", kind=KINDS.index(kind), prepaid=prepay,
                           loan=m.loans.newest_facility(provider_eid))
        return ComputeContract(self, int(row[0]))

    def sign_startups(self, slots: np.ndarray, providers: np.ndarray, qty: np.ndarray, price: float,
                      terms: np.ndarray, prepay: np.ndarray) -> None:
        """Start-ups in ``slots`` each sign one contract with ``providers`` (starting now), paying ``prepay`` US$bn out of
        their own cash (one ledger transfer per provider). Each becomes collateral of its provider's newest facility."""
        m = self.economy
        s = m.startups
        if not len(slots):
            return
        order, by_provider = groups(providers)  # (each provider's contracts, providers in increasing order)
        loans = {prov: m.loans.newest_facility(prov) for prov, _, _ in by_provider}
        self._append(len(slots), id=m.new_ids(len(slots)), customer=s.eid, slot=slots,
                     provider=providers, qty=qty, price=price, start=m.month, end=m.month + terms, ig=False,
                     kind=KINDS.index("compute"), prepaid=prepay, loan=[loans[p] for p in providers.tolist()])
        s.cash[slots] -= prepay
        prepay_sorted = prepay[order]
        for prov, first, last in by_provider:
            m.ledger.pay(s.eid, prov, float(add_up(prepay_sorted[first:last])), "contract_prepayment")

    def assign_unassigned(self, provider: int, loan_id: int) -> None:
        """A new facility of ``provider``: its active contracts not yet collateral of any loan become its collateral."""
        rows = self.rows_of(provider=provider)
        loan = self._columns["loan"]
        loan[rows[loan[rows] < 0]] = loan_id

    # --- payments ------------------------------------------------------------------------------------
    def collect_payments(self) -> None:
        """Each contract being served owes its monthly value less the prepayment released this month. A customer that
        can pay all its contracts pays them; one that cannot pays them in turn and fails on the first it cannot meet
        (labs: :func:`~gpucredit.sim.credit.default.fail_lab`; start-ups, each with its own cash and one contract:
        :func:`~gpucredit.sim.credit.default.fail_startups`). Payments go in one transfer per customer, provider
        and kind."""
        from ..credit.default import fail_lab, fail_startups

        m = self.economy
        led = m.ledger
        rows, (customer, provider, slot, kind, start, end, qty, price, prepaid) = self.active_columns(
            "customer", "provider", "slot", "kind", "start", "end", "qty", "price", "prepaid")  # (read before any write)
        if not len(rows):
            return
        c = self._columns
        serving = start <= m.month  # a forward contract is neither served nor paid before it starts
        release = np.where(serving, prepaid / np.maximum(1, end - m.month), 0.0)
        due = np.where(serving, np.maximum(0.0, qty * price * H - release), 0.0)
        paid = np.zeros(len(rows))
        short = self._pay_in_full(customer, serving & (slot < 0), due, paid)
        failing_slots = self._startups_pay(slot, serving & (slot >= 0), due, paid)
        settled = (serving & ~np.isin(customer, short) if short else serving).nonzero()[0]
        settling = (customer, provider, kind, paid, release)
        if len(settled) == len(rows) == self.n:  # every row active and settled (rows are 0..n-1): no gathers
            c["prepaid"][: self.n] -= release
        else:
            c["prepaid"][rows[settled]] -= release[settled]
        self._settle_grouped(*(settling if len(settled) == len(rows) else (x.take(settled) for x in settling)))
        for eid in short:  # short of cash: contract by contract, failing on the first it cannot meet
            agent = m.entity.get(eid)
            for i in np.flatnonzero(serving & (customer == eid)).tolist():
                if not c["active"][rows[i]]:
                    continue
                paid_now = min(float(due[i]), max(led.cash[eid], 0.0))
                c["prepaid"][rows[i]] -= release[i]
                self._settle([eid], [int(provider[i])], ["rent_back" if kind[i] == RENT_BACK else "compute_contract"],
                             [paid_now], [float(release[i])])
                if due[i] - paid_now > 1e-9:
                    fail_lab(m, agent)
        if len(failing_slots):
            fail_startups(m, failing_slots)

    def _pay_in_full(self, customer: np.ndarray, named: np.ndarray, due: np.ndarray, paid: np.ndarray) -> list[int]:
        """Customers (not start-ups) that can pay all their contracts due this month pay them (``paid`` is filled in);
        returns those short of cash. Hyperscalers issue bonds rather than fall short."""
        m = self.economy
        led = m.ledger
        n = len(led.names)
        payers = customer[named]
        total_due = np.bincount(payers, weights=due[named], minlength=n).tolist()
        short = []
        for eid in np.bincount(payers, minlength=n).nonzero()[0].tolist():  # customers being served
            agent = m.entity.get(eid)
            if agent in m.hyperscalers:
                agent.ensure_cash(total_due[eid])
            if led.cash[eid] < total_due[eid]:
                short.append(eid)
        paying = named & ~np.isin(customer, short) if short else named
        paid[paying] = due[paying]
        return short

    def _startups_pay(self, slot: np.ndarray, of_startups: np.ndarray, due: np.ndarray, paid: np.ndarray) -> np.ndarray:
        """Each start-up pays its contract out of its own cash as far as it goes; returns the slots that fell short."""
        s = self.economy.startups
        k = of_startups.nonzero()[0]
        paying = slot[k]
        paid[k] = np.minimum(due[k], np.maximum(s.cash[paying], 0.0))
        s.cash[paying] -= paid[k]
        return paying[due[k] - paid[k] > 1e-12]

    def _settle_grouped(self, customer, provider, kind, paid, release) -> None:
        """One transfer per customer, provider and kind of contract (in increasing order of the key)."""
        n = len(self.economy.ledger.names)
        key = (customer * n + provider) * 2 + (kind == RENT_BACK)
        keys = np.bincount(key).nonzero()[0]
        pairs, rent_back = np.divmod(keys, 2)
        self._settle((pairs // n).tolist(), (pairs % n).tolist(),
                     ["rent_back" if r else "compute_contract" for r in rent_back.tolist()],
                     np.bincount(key, weights=paid)[keys].tolist(), np.bincount(key, weights=release)[keys].tolist())

    def _settle(self, customers: list[int], providers: list[int], kinds: list[str], paid: list[float],
                released: list[float]) -> None:
        """Each customer pays its provider ``paid`` US$bn and ``released`` US$bn of its prepayment is earned by the
        provider (its revenue from the customer this month; Nvidia's rent-back money to the provider)."""
        m = self.economy
        m.ledger.pay_contracts(customers, providers, kinds, paid, released)
        payments, nvidia = m.customer_payments, m.nvidia.eid
        for customer, provider, amount, release in zip(customers, providers, paid, released):
            payments[provider][customer] += amount + release
            if customer == nvidia:
                m.nvidia_flows_to[provider] += amount + release
                m.flow["rent_back_paid"] += amount + release

    # --- the end of a contract ---------------------------------------------------------------------------
    def terminate(self, rows, reason: str) -> None:
        """End contracts early (``rows``, or one contract): the provider keeps any unreleased prepayment. One event
        per customer and provider."""
        if isinstance(rows, ComputeContract):
            rows = [rows.row]
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return
        c = self._columns
        ending = EndingContracts(self, rows)
        self._book_prepaid(ending, "contracts_terminated")
        c["active"][rows] = False
        remaining = self.remaining_value(rows)
        self._log_by_pair(ending, "contract_default" if reason != "expiry" else "contract_expiry", remaining, reason)

    def expire(self) -> None:
        """Contracts that end this month expire (the rest of the prepayment is earned); the capacity returns to the
        spot market. Ended contracts leave the table when the next month opens."""
        m = self.economy
        c = self._columns
        rows = (self.column("active") & (self.column("end") <= m.month + 1)).nonzero()[0]
        if len(rows):
            ending = EndingContracts(self, rows)
            self._book_prepaid(ending, None)
            c["active"][rows] = False
            m.flow["contracts_expired_h100e"] += float(c["qty"][rows].sum())
            self._log_by_pair(ending, "contract_expiry", None, "")  # (nothing left to pay: each pair's value 0)

    def open_month(self) -> None:
        """Contracts that ended last month leave the table."""
        self._compact()

    def _book_prepaid(self, ending: EndingContracts, item: str | None) -> None:
        """The unreleased prepayment of the ending rows moves from the customers' assets to the providers' income
        (booked under ``item``, or under the contract's payment kind), summed by customer, provider and kind."""
        c, led, n = self._columns, self.economy.ledger, ending.n
        order, by_key = ending.by_pair_and_kind
        prepaid = c["prepaid"][ending.rows][order]
        parties, amounts, kinds = [], [], []  # the customer's entry, then the provider's, group by group
        for k, first, last in by_key:
            amount = float(add_up(prepaid[first:last]))
            if amount:
                pair, is_rent_back = divmod(k, 2)
                parties += (pair // n, pair % n)
                amounts += (-amount, amount)
                kinds += [item or ("rent_back" if is_rent_back else "compute_contract")] * 2
        led.book_all(parties, amounts, kinds)
        c["prepaid"][ending.rows] = 0.0

    def _log_by_pair(self, ending: EndingContracts, event: str, amounts: np.ndarray | None, detail: str) -> None:
        """One event per customer and provider: the contracts' value (``amounts``, US$bn; None: 0.0 for every pair) and
        H100e."""
        m = self.economy
        n = ending.n
        order, by_pair = ending.by_pair()
        qty, log, entity = self._columns["qty"][ending.rows][order], m.events.log, m.entity
        amounts = None if amounts is None else amounts[order]
        for pair, first, last in by_pair:
            log(event, [entity[pair // n].name, entity[pair % n].name],
                0.0 if amounts is None else float(add_up(amounts[first:last])), units=float(add_up(qty[first:last])),
                detail=detail)

    def _compact(self) -> None:
        """Drop ended contracts (keeps the table short in long runs; row numbers change)."""
        keep = self.column("active")
        if not keep.all():
            self.keep(keep.nonzero()[0])  # (selected once for the 13 columns)

    # --- reassignment at a provider's default ------------------------------------------------------------
    def reassign(self, rows: np.ndarray, new_providers: np.ndarray) -> None:
        """Contracts of a defaulted provider go to ``new_providers`` (lenders), unassigned to any loan."""
        c = self._columns
        c["provider"][rows] = new_providers
        c["loan"][rows] = -1

    # --- queries -----------------------------------------------------------------------------------------
    def rent_back_providers(self) -> set[int]:
        """Providers of rent-backs signed (active or ended this month)."""
        return set(self.column("provider")[self.column("kind") == RENT_BACK].tolist())

    def rent_back_providers_active(self) -> set[int]:
        return set(self.column("provider")[(self.column("kind") == RENT_BACK) & self.column("active")].tolist())

    def capacity_owed_by(self, eid: int) -> float:
        """H100e ``eid`` owes its customers."""
        return float(self.column("qty")[self.rows_of(provider=eid)].sum())

    def _startups_served(self) -> np.ndarray:
        """Rows of start-ups' contracts being served this month."""
        return (self.column("active") & (self.column("slot") >= 0) & (self.column("start") <= self.economy.month)).nonzero()[0]

    def startup_contracted(self) -> np.ndarray:
        """H100e each start-up slot has under a contract being served."""
        rows = self._startups_served()
        return np.bincount(self._columns["slot"][rows], weights=self._columns["qty"][rows],
                           minlength=self.economy.startups.n).astype(float, copy=False)

    def startup_due(self) -> np.ndarray:
        """The payment each start-up slot owes on its contract this month, US$bn: the monthly value less the prepayment
        released, as :meth:`collect_payments` will ask."""
        c = self._columns
        month = self.economy.month
        rows = self._startups_served()
        due = np.maximum(c["qty"][rows] * c["price"][rows] * H - c["prepaid"][rows] / np.maximum(1, c["end"][rows] - month), 0.0)
        return np.bincount(c["slot"][rows], weights=due, minlength=self.economy.startups.n).astype(float, copy=False)

    def startups_with_contract(self) -> np.ndarray:
        """Whether each start-up slot holds an active contract."""
        has = np.zeros(self.economy.startups.n, dtype=bool)
        rows = self.active_rows()
        slot = self.column("slot")[rows]
        has[slot[slot >= 0]] = True
        return has

    def remaining_value_by_loan(self, loan_id: int) -> float:
        """Remaining value (US$bn) of the active contracts assigned to loan ``loan_id``."""
        return float(self.remaining_value((self.column("active") & (self.column("loan") == loan_id)).nonzero()[0]).sum())
