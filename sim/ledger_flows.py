"""The month's income and transaction-flow matrix as the agents, the month-end checks and the series read them: income
by item and party, and the ledger's flows by payment kind and (payer, payee) pair turned into arrays once after the
month's last payment (:class:`MonthFlows`, a part of :class:`~gpucredit.sim.ledger.Ledger`)."""

from __future__ import annotations

from collections import defaultdict
from itertools import chain

import numpy as np

# a month's flows of one kind are kept by (payer, payee) pair, under the key payer x PAIR + payee
PAIR = 1 << 20
_NO_ENTRIES: dict = {}  # an item with no entry this month has no column: this one stands in (read only)


def plain_list(values, kind: type, dtype=None) -> list:
    """``values`` as a list of plain Python numbers of ``kind`` (``int`` or ``float``): a list of them as it is (the
    contract register passes ``tolist()``s), anything else converted through a numpy array (``dtype``): the same values,
    never numpy scalars, which would make every later sum of the balances they go into slower and, with Python's
    compensated ``sum()``, different."""
    if type(values) is list and all([type(x) is kind for x in values]):
        return values
    return np.asarray(values, dtype=dtype).tolist()


class MonthFlows:
    """Readers of a ledger's month of income (``income``: item -> {eid: US$bn}) and flows (``flows``: kind ->
    {payer x PAIR + payee: US$bn}; ``names`` and ``roles`` of the parties; ``_arrays``: the arrays once built, None
    after any payment)."""

    def income_of(self, eid: int, *items: str) -> float:
        """This step's net income of ``eid`` from ``items`` (their sum in the order given), US$bn."""
        column = self.income.get
        return sum([column(item, _NO_ENTRIES).get(eid, 0.0) for item in items])

    def incomes_of(self, eids: list[int], *items: str) -> list[float]:
        """:meth:`income_of` each of ``eids`` (the same sums), the items' columns looked up once."""
        columns = [self.income.get(item, _NO_ENTRIES) for item in items]
        return [sum([column.get(eid, 0.0) for column in columns]) for eid in eids]

    def income_total(self, item: str) -> float:
        """This month's ``item`` income of all parties (positive entries only, in the order of their first entry), US$bn."""
        income = self.income.get(item)
        return sum(v for v in income.values() if v > 0) if income else 0

    def _flow_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """This month's flows by (payer, payee) pair as arrays: payer, payee, amount (US$bn) in the order of the flow
        matrix, and each party's payments summed over them; built once after the month's last payment (the month-end
        checks and the round-trip ratio both read them)."""
        arrays = self._arrays
        if arrays is None:
            flows = self.flows
            count = sum([len(column) for column in flows.values()])
            pairs = np.fromiter(chain.from_iterable(flows.values()), dtype=np.int64, count=count)
            amounts = np.fromiter(chain.from_iterable([c.values() for c in flows.values()]), dtype=float, count=count)
            payer = pairs // PAIR
            paid = np.bincount(payer, weights=amounts, minlength=len(self.names))
            paid.flags.writeable = False  # shared by the callers
            arrays = self._arrays = (payer, pairs % PAIR, amounts, paid)
        return arrays

    def flows_by_party(self) -> tuple[np.ndarray, np.ndarray]:
        """This month's net cash in (+) or out (-) of every party over all kinds, and its gross flows (US$bn)."""
        _, payee, amounts, paid = self._flow_arrays()
        received = np.bincount(payee, weights=amounts, minlength=len(self.names))
        return received - paid, received + paid

    def paid_by_party(self, payee: int) -> tuple[np.ndarray, np.ndarray]:
        """This month's cash paid out by every party over all kinds, and the part of it that went to ``payee``, US$bn
        (read-only arrays)."""
        payers, payees, amounts, paid = self._flow_arrays()
        keep = payees == payee
        to_payee = np.bincount(payers[keep], weights=amounts[keep], minlength=len(self.names))
        to_payee.flags.writeable = False
        return paid, to_payee

    def flow_matrix(self) -> dict[str, dict[str, float]]:
        """This month's transaction-flow matrix by role: {kind: {role: net cash in (+) or out (-), US$bn}}. Each entry is
        a payment from one party to another, so every kind sums to zero across the roles, and a role's entries sum to
        the change in its cash."""
        out: dict[str, dict[str, float]] = {}
        for kind, column in self.flows.items():
            by_role: dict[str, float] = defaultdict(float)
            for pair, amount in column.items():
                payer, payee = divmod(pair, PAIR)
                by_role[self.roles[payer]] -= amount
                by_role[self.roles[payee]] += amount
            out[kind] = dict(by_role)
        return out
