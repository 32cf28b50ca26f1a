"""Each party's contract *books* (:meth:`~gpucredit.sim.contracts.register.ContractRegister.refresh_books`): capacity
contracted and served now, capacity signed (forward starts included), investment-grade capacity, monthly contract
payments, backlog, capacity due by the end of the installation time -- sums by party over the active contracts.

The books are worked out in two parts. :data:`EARLY` (what the term market, the labs' budgets and the hyperscalers'
offers read) at each refresh; :data:`LATE` (what chip orders, the spot market, debt service and firm values read) only
when one of them is first read after a refresh, from what the refresh kept for them: private copies of the contracts'
columns and the month's masks, taken when the refresh was asked for. So a late book read later holds the same numbers it
would have held if worked out at the refresh, whatever the register did in between (contracts signed, reassigned or
dropped); and the refresh after the month's ageing, whose late books nothing reads before the next month's term market
refreshes them again, does not work them out at all.
"""

from __future__ import annotations

import numpy as np

from ..technology import H

BOOKS = {  # name -> what it holds
    "contracted_by_provider": "H100e each provider serves now (array by entity id)",
    "signed_by_provider": "H100e each provider has signed, forward starts included (array)",
    "contracted_by_customer": "H100e each customer is served now (dict)",
    "signed_by_customer": "H100e each customer has signed (dict)",
    "ig_contracted_by_provider": "H100e each provider sold investment-grade (dict)",
    "contract_payments_by_customer": "Each customer's monthly payments, US$bn (dict)",
    "backlog_by_provider": "Each provider's remaining contract value, US$bn (dict)",
    "contracted_next_by_provider": "H100e each provider serves by the end of its installation time (dict)",
}
EARLY = ("signed_by_provider", "signed_by_customer", "contracted_by_provider", "contract_payments_by_customer")
LATE = ("contracted_by_customer", "ig_contracted_by_provider", "backlog_by_provider", "contracted_next_by_provider")


def parties_in(parties: np.ndarray, n: int) -> list[int]:
    """The distinct parties among ``parties`` (entity ids below ``n``), in increasing order."""
    return np.bincount(parties, minlength=n).nonzero()[0].tolist()


def totals_by_party(parties: np.ndarray, values: np.ndarray, n: int, appear: list[int] | None = None) -> dict[int, float]:
    """Sum of ``values`` by party, for the parties that appear (``appear``: :func:`parties_in` of ``parties``, when
    already known)."""
    if appear is None:
        appear = parties_in(parties, n)
    totals = np.bincount(parties, weights=values, minlength=n).tolist()
    return {k: totals[k] for k in appear}


def early_books(register) -> tuple[dict, tuple]:
    """The :data:`EARLY` books of ``register`` now, and what the :data:`LATE` books need (for :func:`late_books`)."""
    m = register.economy
    n = len(m.ledger.names) + 1
    month = m.month
    rows, (provider, customer, qty, price, start, end, ig) = register.active_columns(
        "provider", "customer", "qty", "price", "start", "end", "ig")
    if len(rows) == register.n:  # the table's own columns: the late books, worked out later, read copies
        provider, customer, qty, ig = provider.copy(), customer.copy(), qty.copy(), ig.copy()
    started = start <= month
    monthly = qty * price * H  # US$bn a month
    customers = parties_in(customer, n)  # (both customers' books below have the same parties)
    # capacity signed (including forward starts) and capacity served and used now (started contracts; the same
    # sums when no contract is still to start) (np.bincount of no rows is an integer array, whatever the weights: cast)
    signed = np.bincount(provider, weights=qty, minlength=n).astype(float, copy=False)
    signed_by_customer = totals_by_party(customer, qty, n, customers)
    all_started = bool(started.all())
    contracted = signed.copy() if all_started else \
        np.bincount(provider[started], weights=qty[started], minlength=n).astype(float, copy=False)
    books = {"signed_by_provider": signed, "signed_by_customer": signed_by_customer, "contracted_by_provider": contracted,
             "contract_payments_by_customer": totals_by_party(customer, monthly, n, customers)}
    remaining = np.maximum(0, end - np.maximum(start, month))  # months still to pay (all of them before the start)
    soon = start <= month + m.p["neoclouds.install_months"]
    # (signed copied: the term market adds this month's deals to the array it reads; the dict is only read)
    return books, (n, provider, customer, qty, monthly, remaining, started, all_started, ig, soon, signed.copy(),
                   signed_by_customer)


def late_books(kept: tuple) -> dict:
    """The :data:`LATE` books from what :func:`early_books` kept for them (the same numbers as at that refresh)."""
    n, provider, customer, qty, monthly, remaining, started, all_started, ig, soon, signed, signed_by_customer = kept
    contracted = dict(signed_by_customer) if all_started else totals_by_party(customer[started], qty[started], n)
    due_soon = signed if soon.all() else np.bincount(provider[soon], weights=qty[soon], minlength=n).astype(float, copy=False)
    due = due_soon.tolist()
    return {"contracted_by_customer": contracted,
            "ig_contracted_by_provider": totals_by_party(provider[ig], qty[ig], n),
            "backlog_by_provider": totals_by_party(provider, monthly * remaining, n, parties_in(provider, n)),
            "contracted_next_by_provider": {i: due[i] for i in (due_soon > 0).nonzero()[0].tolist()}}
