"""The columnar table the registers of two-sided claims are built on: one numpy array per column, one row per claim,
grown by doubling and compacted when claims leave. A register's bulk rules (a month's payments, marks, sums by party)
read whole columns; a single claim is read and written through a *row view*, an object whose attributes are
:func:`column_property` descriptors over its row.

Used by the compute-contract register (:mod:`gpucredit.sim.contracts.register`), the loan register
(:mod:`gpucredit.sim.credit.loans`), the chip order book (:mod:`gpucredit.sim.markets.chips`), the equity register
(:mod:`gpucredit.sim.finance.equity`) and the backstops (:mod:`gpucredit.sim.finance.circular`). The fleet's cohorts
(:class:`gpucredit.sim.technology.Fleet`) are the same kind of table, with their columns as attributes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


class Table:
    """Rows of claims in parallel numpy arrays. ``columns`` maps each column's name to ``(dtype, value of an empty
    row)``; ``n`` rows are in use, in the order they were added (compaction keeps that order)."""

    def __init__(self, columns: dict[str, tuple], capacity: int = 64):
        self.spec = dict(columns)
        self.n = 0
        self._columns = {name: np.full(capacity, empty, dtype=dtype) for name, (dtype, empty) in self.spec.items()}
        self._capacity = capacity  # rows the columns hold
        self._empty = tuple((name, empty) for name, (_, empty) in self.spec.items())

    def column(self, name: str) -> np.ndarray:
        """The column ``name`` over the rows in use (a view: writes go to the table)."""
        return self._columns[name][: self.n]

    def __len__(self) -> int:
        return self.n

    def append(self, k: int | None = None, **values) -> np.ndarray:
        """Add ``k`` rows with the given column values (scalars or arrays of length ``k``), or (``k`` None) one row of
        scalars set by index; a column not given takes its empty value. Returns the new rows' numbers."""
        row = self.n
        where, need = (row, row + 1) if k is None else (slice(row, row + k), row + k)
        if need > self._capacity:
            self._grow(max(2 * self._capacity, need))
        columns = self._columns
        for name, empty in self._empty:  # rows dropped by :meth:`keep` may have left values here
            columns[name][where] = values.get(name, empty)
        self.n = need
        return np.arange(row, need)

    def _grow(self, capacity: int) -> None:
        """Columns of ``capacity`` rows, the rows in use copied over (new arrays: views of the old ones stay as they
        were)."""
        for name, (dtype, empty) in self.spec.items():
            grown = np.full(capacity, empty, dtype=dtype)
            grown[: self.n] = self._columns[name][: self.n]
            self._columns[name] = grown
        self._capacity = capacity

    def rows_where(self, **values) -> np.ndarray:
        """Rows whose columns equal the values given (a value of None leaves its column free), in row order: every row
        when nothing is asked, e.g. ``rows_where(holder=3, issuer=None)``."""
        mask = None
        for name, value in values.items():
            if value is not None:
                equal = self.column(name) == value
                mask = equal if mask is None else mask & equal
        return np.arange(self.n) if mask is None else mask.nonzero()[0]

    def keep(self, rows: np.ndarray) -> None:
        """Keep only ``rows`` (increasing), in their order: the others leave the table and row numbers change."""
        k = len(rows)
        for col in self._columns.values():
            col[:k] = col.take(rows)
        self.n = k


def column_property(name: str, doc: str, convert: Callable | None = None, encode: Callable | None = None) -> property:
    """An attribute of a row view (an object with ``_table`` and ``row``) that reads and writes its row of column
    ``name``; ``convert`` turns the stored value into what is read (``float``, ``int``, a label), ``encode`` turns
    what is written into what is stored."""

    def read(self):
        value = self._table._columns[name][self.row]
        return convert(value) if convert else value

    def write(self, value) -> None:
        self._table._columns[name][self.row] = encode(value) if encode else value

    return property(read, write, doc=doc)


def added_in_turn(values: np.ndarray) -> float:
    """The sum of ``values`` added one after another from 0.0, in their order: what a ``+=`` loop gives, and Python's
    ``sum()`` of numpy scalars (which, unlike a sum of Python floats, is not compensated). 0.0 if there are none."""
    if not len(values):
        return 0.0
    return float(np.bincount(np.zeros(len(values), dtype=np.intp), weights=values, minlength=1)[0])
