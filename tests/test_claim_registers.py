"""The columnar registers of chip orders, equity stakes and backstops: a claim read as an object is its row (reads
and writes go to the table, as plain Python values), and the registers' column rules give exactly, to the last bit,
what the same rule applied claim by claim gives."""

from collections import defaultdict

import numpy as np
import pytest

from gpucredit.sim.accounts import balance_sheets
from gpucredit.sim.contracts.claims import ChipOrder
from gpucredit.sim.markets.chips import first_seen
from tests.conftest import run


@pytest.fixture(scope="module")
def economy_30():
    """A baseline economy at June 2025 (read-only but for the tests that restore what they change)."""
    return run(30, seed=2)


# --- chip orders -----------------------------------------------------------------------------------------------
def test_a_chip_order_is_a_view_of_its_row_in_plain_python_types(fresh_24):
    m = fresh_24
    nv, h = m.nvidia, m.hyperscalers[0]
    order = m.chips.place(h.eid, nv, 1234.5, deposit_share=0.1)
    book = m.chips.order_book
    row = order.row
    assert (type(order.h100e), type(order.deposit), type(order.buyer), type(order.month)) == (float, float, int, int)
    assert (order.buyer, order.seller, order.h100e, order.month) == (h.eid, nv.eid, 1234.5, m.month)
    assert order.deposit == float(book.column("deposit")[row]) > 0
    order.h100e = 1000.0  # a write goes to the row
    assert book.column("h100e")[row] == 1000.0
    book.column("deposit")[row] = 0.25  # and the row is what is read
    assert order.deposit == 0.25 and order.apply_deposit(500.0) == 0.125
    same = m.chips.orders(nv.eid, h.eid)[-1]
    assert same == order and hash(same) == hash(order) and same is not order and len({same, order}) == 1
    # earlier orders leave the book: the order keeps its identity, found at its new row
    first = book.rows_of(nv.eid)[0]
    book.column("h100e")[first] = 0.0
    book.drop_filled(nv.eid)
    assert order.row == row - 1 and order.h100e == 1000.0
    order.h100e = 0.0
    book.drop_filled(nv.eid)
    with pytest.raises(LookupError, match="has left"):
        order.h100e


def _tally_by_loop(orders: list[ChipOrder]):
    """What each buyer has on order and its deposits, order by order (the definition)."""
    on_order, on_order_from, deposits = defaultdict(float), defaultdict(float), defaultdict(float)
    for o in orders:
        on_order[o.buyer] += o.h100e
        on_order_from[(o.buyer, o.seller)] += o.h100e
        deposits[o.buyer] += o.deposit
    return on_order, on_order_from, deposits


def test_the_order_books_column_sums_are_the_sums_order_by_order(economy_30):
    """The tally, the backlog, the deposits held and the balance sheets' deposits, from the columns, are bit for bit
    the sums of the orders taken one by one, chipmaker by chipmaker, oldest first."""
    m = economy_30
    chips = m.chips
    orders = chips.orders()
    assert len(orders) > 50 and len({o.seller for o in orders}) == 2  # both chipmakers have open orders
    assert [o.seller for o in orders] == sorted((o.seller for o in orders), key=chips.order_book.sellers.index)
    chips.tally()
    on_order, on_order_from, deposits = _tally_by_loop(orders)
    assert dict(chips.on_order) == dict(on_order)
    assert dict(chips.on_order_from) == dict(on_order_from)
    assert dict(chips.deposits_paid) == dict(deposits)
    for chip in chips.chipmakers:
        backlog = 0.0
        for o in chips.orders(chip.eid):
            backlog += o.h100e
        assert chips.backlog(chip.eid) == backlog
    held = 0.0
    for o in orders:
        held += o.deposit
    assert chips.deposits_held() == held
    sheets = balance_sheets(m)
    for buyer, total in deposits.items():
        assert sheets["chip_deposits"][buyer] == total


def test_orders_due_are_grouped_by_buyer_in_the_order_of_their_oldest_order(economy_30):
    """What each buyer is owed (the allocation's input): its due orders' H100e added oldest first, buyers in the order
    of their oldest due order, as the loop over the orders gives."""
    m = economy_30
    book = m.chips.order_book
    placed_by = m.month
    for chip in m.chips.chipmakers:
        due = book.due_rows(chip.eid, placed_by)
        buyers, requested, deposit, rows = book.by_buyer(due)
        owed: dict[int, list] = {}
        for o in m.chips.orders(chip.eid):
            if o.month <= placed_by and o.h100e > 0:
                owed.setdefault(o.buyer, []).append(o)
        assert buyers == list(owed) and len(buyers) > 1
        for b, total, rows_b in zip(buyers, requested.tolist(), rows):
            added = 0.0
            for o in owed[b]:
                added += o.h100e
            assert total == added
            assert book.column("id")[rows_b].tolist() == [o.id for o in owed[b]]


def test_first_seen_numbers_keys_in_the_order_they_appear():
    keys = np.array([7, 3, 7, 1, 3, 9])
    distinct, group = first_seen(keys)
    assert distinct.tolist() == [7, 3, 1, 9]
    assert group.tolist() == [0, 1, 0, 2, 1, 3]
