"""The register of compute contracts: every take-or-pay contract of labs, hyperscalers and Nvidia (rent-backs),
signed, paid month by month, terminated or expired here. Contracts with start-ups are rows of the start-up
population's arrays (one per start-up at most) and are settled here by the same rules.

Each month the register keeps each party's *books* (:meth:`ContractRegister.refresh_books`): capacity contracted and
served now, capacity signed (forward starts included), investment-grade capacity, monthly contract payments and
backlog. They are queries the agents read (``economy.contracts.signed_by_provider[eid]``).
"""

from __future__ import annotations

from contextlib import contextmanager
from operator import attrgetter, is_

import numpy as np

from ..technology import BN, HOURS_PER_MONTH
from .claims import ComputeContract

H = HOURS_PER_MONTH / BN  # US$bn per (US$/hour x H100e) per month


_INTEGER_FIELDS = {"id", "customer", "provider", "start", "end", "loan"}
SIGNED_TERMS = frozenset({"id", "customer", "qty", "price", "start", "end", "grade", "kind"})


def _column(contracts: list[ComputeContract], f: str) -> np.ndarray:
    if f == "grade" or f == "kind":
        return np.array([getattr(c, f) for c in contracts], dtype=object)
    return np.fromiter(map(attrgetter(f), contracts), dtype=int if f in _INTEGER_FIELDS else float, count=len(contracts))


class ActiveContracts:
    """The active contracts of a model as columns, in the model's order: ``active.of(contracts).columns(*fields)``
    (for sums by party with ``np.bincount``).

    The columns of the signed terms (:data:`SIGNED_TERMS`) are kept from one call to the next: the rows of
    contracts still active are kept and rows for newly signed contracts are added. The provider, the loan, the
    prepayment and any other field are read on every call."""

    def __init__(self) -> None:
        self._live: list[ComputeContract] = []
        self._kept: dict[str, np.ndarray] = {}  # field -> one row per active contract

    def of(self, contracts: list[ComputeContract]) -> ActiveContracts:
        """Bring the kept rows up to date with ``contracts`` (the model's list, in order)."""
        live = [c for c in contracts if c.active]
        old = self._live
        if live == old:  # the same contracts (list equality tries identity first; distinct contracts have distinct ids)
            return self
        still = np.fromiter(map(attrgetter("active"), old), dtype=bool, count=len(old))
        kept = [c for c in old if c.active]
        if len(kept) <= len(live) and all(map(is_, kept, live)):  # ended contracts dropped, new ones appended
            signed = live[len(kept):]
            self._kept = {f: np.concatenate([rows[still], _column(signed, f)]) for f, rows in self._kept.items()}
            for rows in self._kept.values():
                rows.flags.writeable = False
        else:
            self._kept = {}
        self._live = live
        return self

    @property
    def live(self) -> list[ComputeContract]:
        """The active contracts, in the model's order (the rows of the columns)."""
        return self._live

    def _rows(self, f: str) -> np.ndarray:
        if f not in self._kept:
            rows = _column(self._live, f)
            rows.flags.writeable = False  # shared by later calls
            self._kept[f] = rows
        return self._kept[f]

    def columns(self, *fields: str) -> list[np.ndarray]:
        return [self._rows(f) if f in SIGNED_TERMS else _column(self._live, f) for f in fields]


def groups(keys: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Rows grouped by key: ``order`` (a stable sort of the rows by key) and, for each distinct key in increasing
    order, (key, first, end) such that ``order[first:end]`` are its rows in their original order. A slice of an
    array taken in ``order`` holds the same elements, in the same order, as a boolean selection ``keys == key``."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    distinct, first = np.unique(sorted_keys, return_index=True)
    ends = np.append(first[1:], len(keys))
    return order, list(zip(distinct.tolist(), first.tolist(), ends.tolist()))


def totals_by_party(parties: np.ndarray, values: np.ndarray, n: int) -> dict[int, float]:
    """Sum of ``values`` by party, for the parties that appear."""
    appear = np.flatnonzero(np.bincount(parties, minlength=n)).tolist()
    totals = np.bincount(parties, weights=values, minlength=n).tolist()
    return {k: totals[k] for k in appear}




def _book(name: str, doc: str) -> property:
    """One of the books (:meth:`ContractRegister.refresh_books`), brought up to date when read if a refresh is due."""
    key = "_" + name

    def read(self):
        if self._books_stale:
            self._compute_books()
        return getattr(self, key)

    def write(self, value) -> None:
        setattr(self, key, value)

    return property(read, write, doc=doc)


class ContractRegister:
    """The compute contracts of an economy (``economy.contracts``) and the rules that settle them."""

    contracted_by_provider = _book("contracted_by_provider", "H100e each provider serves now (array by entity id)")
    signed_by_provider = _book("signed_by_provider", "H100e each provider has signed, forward starts included (array)")
    contracted_by_customer = _book("contracted_by_customer", "H100e each customer is served now (dict)")
    signed_by_customer = _book("signed_by_customer", "H100e each customer has signed (dict)")
    ig_contracted_by_provider = _book("ig_contracted_by_provider", "H100e each provider sold investment-grade (dict)")
    contract_payments_by_customer = _book("contract_payments_by_customer", "Each customer's monthly payments, US$bn (dict)")
    backlog_by_provider = _book("backlog_by_provider", "Each provider's remaining contract value, US$bn (dict)")
    contracted_next_by_provider = _book("contracted_next_by_provider",
                                        "H100e each provider serves by the end of its installation time (dict)")

    def __init__(self, economy):
        self.economy = economy
        self.contracts: list[ComputeContract] = []
        self.active_contracts = ActiveContracts()  # their columns: ``self.active().columns(...)``
        self.payments_received: dict = {}  # provider -> customer -> US$bn this month (revenue by customer)
        self._books_stale = False  # a refresh was asked for while deferred (:meth:`books_deferred`)
        self._deferring = 0

    def __iter__(self):
        return iter(self.contracts)

    def active(self) -> ActiveContracts:
        """The active contracts as columns."""
        return self.active_contracts.of(self.contracts)

    # --- books ---------------------------------------------------------------------------------------
    def refresh_books(self) -> None:
        """Each party's contracted H100e, backlog and monthly contract payments, from the active contracts (while
        :meth:`books_deferred`, when next read or at its end)."""
        if self._deferring:
            self._books_stale = True
        else:
            self._compute_books()

    @contextmanager
    def books_deferred(self):
        """Within, :meth:`refresh_books` only marks the books due; they are computed when first read or at the end.
        For a loop of defaults (each asks for a refresh, the next one overwrites it unread): the books come out the
        same as with a refresh per default as long as, within, only the defaults change the contracts and the
        start-ups' contracts, and nothing reads the books in the middle of a default."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring and self._books_stale:
                self._compute_books()

    def _compute_books(self) -> None:
        """The books now (:meth:`refresh_books`)."""
        self._books_stale = False
        m = self.economy
        n = len(m.ledger.names) + 1
        month = m.month
        active = self.active()
        provider, customer, qty, price, start, end, grade = active.columns("provider", "customer", "qty", "price", "start", "end", "grade")
        ig = grade == "ig"
        started = start <= month
        monthly = qty * price * H  # c.monthly_value(), US$bn
        # capacity served and used now (started contracts) and capacity signed (including forward starts)
        # (np.bincount of no rows is an integer array, whatever the weights: cast, so the start-ups' rows can be added)
        self.contracted_by_provider = np.bincount(provider[started], weights=qty[started], minlength=n).astype(float, copy=False)
        self.signed_by_provider = np.bincount(provider, weights=qty, minlength=n).astype(float, copy=False)
        self.contracted_by_customer = totals_by_party(customer[started], qty[started], n)
        self.signed_by_customer = totals_by_party(customer, qty, n)
        self.ig_contracted_by_provider = totals_by_party(provider[ig], qty[ig], n)
        self.contract_payments_by_customer = totals_by_party(customer, monthly, n)
        self.backlog_by_provider = totals_by_party(provider, monthly * np.maximum(0, end - np.maximum(start, month)), n)
        soon = start <= month + m.p["neoclouds.install_months"]
        due_soon = np.bincount(provider[soon], weights=qty[soon], minlength=n).astype(float, copy=False)
        s = m.startups
        if s.n:
            has = np.flatnonzero(s.alive & (s.provider >= 0))  # indices: taking rows is faster than a boolean mask
            provider_of, qty_of = s.provider[has], s.qty[has]
            by_provider = np.bincount(provider_of, weights=qty_of, minlength=n)[:n]
            self.contracted_by_provider += by_provider
            self.signed_by_provider += by_provider
            due_soon += by_provider
            backlog = np.bincount(provider_of, weights=qty_of * s.price[has] * H * np.maximum(s.end[has] - m.month, 0), minlength=n)
            backlog_by_eid = backlog.tolist()
            for eid in np.flatnonzero(backlog > 0).tolist():
                self.backlog_by_provider[eid] = self.backlog_by_provider.get(eid, 0.0) + backlog_by_eid[eid]
        self.contracted_next_by_provider = {i: v for i, v in enumerate(due_soon.tolist()) if v > 0}

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
        the prepayment out of ``contracts.max_prepay_cash_share`` of its cash signs a smaller contract. The
        contract becomes collateral of the provider's newest open loan facility."""
        m = self.economy
        p = m.p
        term = term or self.term()
        start = m.month if start is None else start
        prepay_share = p["contracts.prepay_share"] if prepay_share is None else prepay_share
        c = ComputeContract(m.new_id(), customer.eid, provider_eid, qty, price, start, start + term, grade, kind)
        prepay = prepay_share * c.monthly_value() * term
        cash = m.ledger.cash[customer.eid]
        cash_share = p["contracts.max_prepay_cash_share"]
        if prepay > cash_share * max(cash, 0.0):  # cannot afford the prepayment: smaller contract
            shrink = cash_share * max(cash, 0.0) / prepay
            if shrink * qty < p["contracts.min_deal_h100e"]:
                return None
            c.qty *= shrink
            prepay *= shrink
        m.ledger.pay(customer.eid, provider_eid, prepay, "contract_prepayment")
        c.prepaid = prepay
        c.loan = m.loans.newest_facility(provider_eid)
        self.contracts.append(c)
        return c

    # --- payments ------------------------------------------------------------------------------------
    def collect_payments(self) -> None:
        """Each take-or-pay contract's monthly value is due, less the prepayment released this month. A customer
        that can pay all its contracts pays them in one transfer per provider; one that cannot pays them in
        turn and fails on the first it cannot meet (its failure: :func:`gpucredit.sim.credit.default.fail_lab`).
        Start-ups pay theirs, or fail."""
        from ..credit.default import fail_lab

        m = self.economy
        led = m.ledger
        active = self.active()
        live = active.live
        if live:
            customer, provider, qty, price, start, end, kind = active.columns(
                "customer", "provider", "qty", "price", "start", "end", "kind")
            prepaid, = active.columns("prepaid")
            serving = start <= m.month  # a forward contract is neither served nor paid before it starts
            release = np.where(serving, prepaid / np.maximum(1, end - m.month), 0.0)
            due = np.where(serving, np.maximum(0.0, qty * price * H - release), 0.0)
            n = len(led.names)
            total_due = np.bincount(customer, weights=due, minlength=n)
            short = []
            for eid in np.flatnonzero(np.bincount(customer[serving], minlength=n)).tolist():  # customers being served
                agent = m.entity.get(eid)
                if agent in m.hyperscalers:
                    agent.ensure_cash(float(total_due[eid]))
                if led.cash[eid] < total_due[eid]:
                    short.append(eid)
            paying = serving & ~np.isin(customer, short) if short else serving
            releasing = np.flatnonzero(paying & (release != 0.0))
            for i, r in zip(releasing.tolist(), release[releasing].tolist()):
                live[i].prepaid -= r
            # one transfer per customer, provider and kind of contract (in increasing order of the key)
            rent_back = kind == "rent_back"
            key = (customer * n + provider) * 2 + rent_back
            keys = np.flatnonzero(np.bincount(key[paying]))
            paid = np.bincount(key[paying], weights=due[paying])[keys].tolist()
            released = np.bincount(key[paying], weights=release[paying])[keys].tolist()
            for k, amount, rel in zip(keys.tolist(), paid, released):
                pair, is_rent_back = divmod(k, 2)
                self._settle(pair // n, pair % n, "rent_back" if is_rent_back else "compute_contract", amount, rel)
            for eid in short:  # short of cash: contract by contract, failing on the first it cannot meet
                agent = m.entity.get(eid)
                for i in np.flatnonzero(serving & (customer == eid)).tolist():
                    c = live[i]
                    if not c.active:
                        continue
                    paid_now = min(float(due[i]), max(led.cash[eid], 0.0))
                    c.prepaid -= float(release[i])
                    self._settle(eid, c.provider, c.payment_kind, paid_now, float(release[i]))
                    if due[i] - paid_now > 1e-9:
                        fail_lab(m, agent)
        self.collect_from_startups()

    def collect_from_startups(self) -> None:
        """Start-ups pay their contracts (one transfer per provider) as far as their cash goes; those that cannot
        fail (:func:`gpucredit.sim.credit.default.fail_startups`)."""
        from ..credit.default import fail_startups

        m = self.economy
        led = m.ledger
        s = m.startups
        if s.n:
            has = s.alive & (s.provider >= 0)
            value = np.where(has, s.qty * s.price * H, 0.0)
            due = np.where(has, np.maximum(value - s.release, 0.0), 0.0)
            paid = np.minimum(due, np.maximum(s.cash, 0.0))
            s.cash -= paid
            release = np.where(has, s.release, 0.0)
            s.prepaid -= release
            provs = np.where(has, s.provider, 0)
            by_prov = np.bincount(provs, weights=paid, minlength=len(led.names))
            rel_prov = np.bincount(provs, weights=release, minlength=len(led.names))
            led.book(s.eid, -float(release.sum()), "compute_contract")
            for eid in np.flatnonzero((by_prov > 0) | (rel_prov > 0)):
                led.pay(s.eid, int(eid), float(by_prov[eid]), "compute_contract")
                led.book(int(eid), float(rel_prov[eid]), "compute_contract")
                m.customer_payments[int(eid)][s.eid] += float(by_prov[eid] + rel_prov[eid])
            failing = has & (due - paid > 1e-12)
            if failing.any():
                fail_startups(m, np.flatnonzero(failing))

    def _settle(self, customer: int, provider: int, kind: str, paid: float, release: float) -> None:
        """A customer pays ``paid`` US$bn and ``release`` US$bn of its prepayment is earned by the provider."""
        m = self.economy
        led = m.ledger
        led.pay(customer, provider, paid, kind)
        led.book(customer, -release, kind)
        led.book(provider, release, kind)
        m.customer_payments[provider][customer] += paid + release
        if customer == m.nvidia.eid:
            m.nvidia_flows_to[provider] += paid + release
            m.flow["rent_back_paid"] += paid + release

    # --- the end of a contract ---------------------------------------------------------------------------
    def terminate(self, c: ComputeContract, reason: str) -> None:
        """End a contract early: the provider keeps any unreleased prepayment."""
        m = self.economy
        if c.prepaid:
            m.ledger.book(c.customer, -c.prepaid, "contracts_terminated")
            m.ledger.book(c.provider, c.prepaid, "contracts_terminated")
            c.prepaid = 0.0
        c.active = False
        m.events.log("contract_default" if reason != "expiry" else "contract_expiry",
                     [m.entity[c.customer].name, m.entity[c.provider].name], c.remaining_value(m.month),
                     units=c.qty, detail=reason)

    def expire(self) -> None:
        """Contracts that end this month expire (the rest of the prepayment is earned); the capacity returns to
        the spot market."""
        m = self.economy
        led = m.ledger
        month = m.month
        for c in [c for c in self.contracts if c.active and c.end <= month + 1]:
            if c.prepaid:
                led.book(c.customer, -c.prepaid, c.payment_kind)
                led.book(c.provider, c.prepaid, c.payment_kind)
                c.prepaid = 0.0
            c.active = False
            m.flow["contracts_expired_h100e"] += c.qty
            m.events.log("contract_expiry", [m.entity[c.customer].name, m.entity[c.provider].name], 0.0, units=c.qty)
        self.contracts = [c for c in self.contracts if c.active]
        s = m.startups
        if s.n:
            ending = (s.provider >= 0) & (s.end <= m.month + 1)
            if ending.any():
                rest = s.prepaid[ending]
                provs = s.provider[ending]
                led.book(s.eid, -float(rest.sum()), "compute_contract")
                order, by_provider = groups(provs)  # one pass, not a selection per provider
                rest_sorted, qty_sorted = rest[order], s.qty[ending][order]
                for prov, first, last in by_provider:
                    led.book(prov, float(rest_sorted[first:last].sum()), "compute_contract")
                    m.events.log("contract_expiry", ["AI start-ups", m.entity[prov].name], 0.0,
                                 units=float(qty_sorted[first:last].sum()))
                m.flow["contracts_expired_h100e"] += float(s.qty[ending].sum())
                s.provider[ending] = -1
                s.qty[ending] = 0.0
                s.prepaid[ending] = 0.0
                s.release[ending] = 0.0

    # --- queries -----------------------------------------------------------------------------------------
    def of_provider(self, eid: int) -> list[ComputeContract]:
        """Active contracts ``eid`` provides (in signing order)."""
        return [c for c in self.contracts if c.active and c.provider == eid]

    def of_customer(self, eid: int) -> list[ComputeContract]:
        return [c for c in self.contracts if c.active and c.customer == eid]

    def rent_back_providers(self) -> set[int]:
        """Providers of rent-backs signed (active or ended this month)."""
        return {c.provider for c in self.contracts if c.kind == "rent_back"}

    def rent_back_providers_active(self) -> set[int]:
        return {c.provider for c in self.contracts if c.active and c.kind == "rent_back"}

    def capacity_owed_by(self, eid: int) -> float:
        """H100e ``eid`` owes its customers (contracts and start-up contracts it provides)."""
        s = self.economy.startups
        needed = sum(c.qty for c in self.contracts if c.active and c.provider == eid)
        needed += float(s.qty[np.flatnonzero(s.alive & (s.provider == eid))].sum()) if s.n else 0.0
        return needed
