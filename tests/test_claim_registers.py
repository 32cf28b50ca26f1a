"""The columnar registers of chip orders, equity stakes and backstops: a claim read as an object is its row (reads
and writes go to the table, as plain Python values), and the registers' column rules give exactly, to the last bit,
what the same rule applied claim by claim gives."""

from collections import defaultdict

import numpy as np
import pytest

from gpucredit.sim.accounts import balance_sheets
from gpucredit.sim.contracts.claims import ChipOrder
from gpucredit.sim.finance.circular import Backstops
from gpucredit.sim.markets.chips import ORDER_COLUMNS, OrderBook, first_seen
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
        buyers, requested, deposit, rows = book.by_buyer(due, deposits=True)
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


def test_an_order_added_alone_is_the_row_append_would_add_even_when_the_book_grows():
    added, appended = OrderBook([1, 2], capacity=2), OrderBook([1, 2], capacity=2)
    for k in range(5):
        order = dict(id=10 + k, buyer=20 + k % 2, seller=1 + k % 2, h100e=100.0 * k, month=k - 3, deposit=0.5 * k)
        assert added.add(**order) == int(appended.append(**order)[0]) == k
    assert added.n == appended.n == 5 and len(added._columns["id"]) >= 5
    for name in ORDER_COLUMNS:
        assert added.column(name).tolist() == appended.column(name).tolist()
        assert added.column(name).dtype == appended.column(name).dtype


def test_first_seen_numbers_keys_in_the_order_they_appear():
    keys = np.array([7, 3, 7, 1, 3, 9])
    distinct, group, members = first_seen(keys, np.array([10, 11, 12, 13, 14, 15]))
    assert distinct.tolist() == [7, 3, 1, 9]
    assert group.tolist() == [0, 1, 0, 2, 1, 3]
    assert members == [[10, 12], [11, 14], [13], [15]]
    assert first_seen(keys[:0])[2] == []


# --- equity stakes ---------------------------------------------------------------------------------------------
def _two_holders(m):
    """Nvidia and the rival chipmaker both hold stakes in the same neocloud (the rival's bought last)."""
    nc = max(m.neoclouds, key=lambda n: n.valuation)
    m.equity.invest(m.nvidia, nc, 0.3, nc.valuation)
    m.equity.invest(m.rival, nc, 0.2, nc.valuation + 0.3)
    return nc


def test_a_stake_is_a_view_of_its_row_and_rounds_dilute_every_holder(fresh_24):
    m = fresh_24
    nc = max(m.neoclouds, key=lambda n: n.valuation)
    register = m.equity
    m.equity.invest(m.nvidia, nc, 0.3, nc.valuation)
    nvidia = next(s for s in register if s.holder == m.nvidia.eid and s.issuer == nc.eid)
    share, cost = nvidia.share, nvidia.cost
    assert (type(nvidia.share), type(nvidia.value), type(nvidia.holder), type(nvidia.since)) == (float, float, int, int)
    m.equity.invest(m.rival, nc, 0.2, nc.valuation + 0.3)  # a second holder buys in: Nvidia is diluted
    rival = next(s for s in register if s.holder == m.rival.eid)
    assert nvidia.share == share * ((nc.valuation + 0.3) / (nc.valuation + 0.5)) and nvidia.cost == cost
    assert rival.share == 0.2 / (nc.valuation + 0.5) and rival.value == 0.2 and rival.since == m.month
    assert register.held_share(nc.eid) == nvidia.share + rival.share
    assert register.share_of(m.rival.eid, nc.eid) == rival.share
    assert register.stakes_in(nc.eid)[-1] == rival and rival != nvidia
    nvidia.value = 1.5  # a write goes to the row
    assert register.column("value")[nvidia.row] == 1.5
    before = [st.share for st in register]
    m.equity.sell_to_outside_investors(nc, 1.0, nc.valuation)
    for st, old in zip(register, before):
        assert st.share == (old * (nc.valuation / (nc.valuation + 1.0)) if st.issuer == nc.eid else old)


def test_the_equity_registers_marks_and_sums_are_those_stake_by_stake(fresh_24):
    """The month's marks (one column operation) book each holder what marking the stakes one by one books, and leave
    each stake at its share of the issuer's valuation; value held and shares held are the stakes added in turn."""
    m = fresh_24
    _two_holders(m)
    register = m.equity
    assert register.n >= 3
    expected_value, expected_income = [], defaultdict(float)
    for st in register:
        new = st.share * max(getattr(m.entity[st.issuer], "valuation", 0.0), 0.0)
        expected_value.append(new)
        expected_income[st.holder] += new - st.value
    before = {h: m.ledger.income_of(h, "stake_revaluation") for h in expected_income}
    register.mark()
    assert [st.value for st in register] == expected_value
    for h, income in expected_income.items():
        assert m.ledger.income_of(h, "stake_revaluation") - before[h] == pytest.approx(income, abs=1e-12)
    for holder in (m.nvidia.eid, m.rival.eid):
        total = 0.0
        for st in register:
            total += st.value if st.holder == holder else 0.0
        assert register.value_held_by(holder) == total
        assert register.investees_of(holder) == {st.issuer for st in register if st.holder == holder}
    sheets = balance_sheets(m)
    assert sheets["equity_stakes"][m.nvidia.eid] == register.value_held_by(m.nvidia.eid)


def test_a_defaulted_issuers_stakes_are_written_off_and_leave_the_register(fresh_24):
    m = fresh_24
    nc = _two_holders(m)
    register = m.equity
    values = {st.holder: st.value for st in register.stakes_in(nc.eid)}
    others = [st for st in register if st.issuer != nc.eid]
    equity = {h: m.ledger.equity[h] for h in values}
    register.write_off(nc.eid)
    assert not register.stakes_in(nc.eid) and list(register) == others
    for h, v in values.items():
        assert m.ledger.equity[h] == equity[h] - v
    assert m.flow["stake_writedowns"] >= sum(values.values()) - 1e-12


# --- backstops -------------------------------------------------------------------------------------------------
def test_a_backstop_is_a_view_of_its_row_and_the_table_selects_those_in_force():
    table = Backstops()
    first = table.add(1, 5, 6.0, 10, 40)
    second = table.add(1, 6, 3.0, 20, 30)
    assert (type(first.cap), type(first.paid), type(first.end)) == (float, float, int)
    first.paid = 1.5  # a write goes to the row
    assert table.column("paid")[first.row] == 1.5 and first.monthly_cap(25) == (6.0 - 1.5) / 15
    assert second.monthly_cap(29) == 3.0 and second.monthly_cap(35) == 3.0  # the rest, in its last month or after
    for month in (5, 10, 20, 29, 30, 39, 40):
        by_loop = [b for b in table if b.start <= month < b.end and b.cap > b.paid]
        assert table.live(month) == by_loop
        assert table.beneficiaries(month) == {b.beneficiary for b in table if b.start <= month < b.end}
    second.paid = 3.0  # its cap used up: in force, but no longer live
    assert table.live(25) == [first] and table.beneficiaries(25) == {5, 6}
    table.end_for(5, 12)  # the beneficiary left the market
    assert first.end == 12 and table.live(12) == [] and second.end == 30
    assert list(table) == [first, second] and first != second


def test_a_backstop_pays_its_beneficiarys_idle_capacity_up_to_the_monthly_cap(fresh_24):
    """Nvidia buys the idle live capacity of a backstopped neocloud at the spot price, never more than the cap left
    spread over the remaining months; what it paid is recorded on the backstop's row."""
    m = fresh_24
    nc = max(m.neoclouds, key=lambda n: m.fleet.capacity_by_owner[n.eid])
    m.circular.backstops = Backstops()
    backstop = m.circular.backstops.add(m.nvidia.eid, nc.eid, 0.012, m.month, m.month + 12)
    cap = backstop.monthly_cap(m.month)
    m.spot.cohort_active[:] = 0.0  # nothing of it is used this month
    before = m.ledger.income_of(nc.eid, "backstop")
    m.circular.pay_backstops()
    assert backstop.paid == pytest.approx(cap, rel=1e-12) and cap == pytest.approx(0.001)
    assert m.ledger.income_of(nc.eid, "backstop") - before == pytest.approx(cap, rel=1e-12)
    assert backstop.monthly_cap(m.month + 1) == pytest.approx((0.012 - cap) / 11)


def test_rows_where_selects_the_rows_whose_columns_equal_the_values_given():
    """Table.rows_where (behind the order book's and the equity register's rows_of): the rows matching every value
    given, in row order; a None leaves its column free; nothing asked gives every row."""
    import numpy as np
    from gpucredit.sim.table import Table
    rng = np.random.default_rng(5)
    t = Table({"id": (np.int64, 0), "a": (np.int64, 0), "b": (np.int64, 0)}, capacity=4)
    t.append(40, id=np.arange(40), a=rng.integers(0, 3, 40), b=rng.integers(0, 4, 40))
    a, b = t.column("a").tolist(), t.column("b").tolist()
    for x in (None, 0, 1, 2):
        for y in (None, 0, 3):
            expected = [r for r in range(40) if (x is None or a[r] == x) and (y is None or b[r] == y)]
            assert t.rows_where(a=x, b=y).tolist() == expected


def test_a_row_appended_alone_is_the_row_a_batch_of_one_adds_through_growth_and_after_rows_left():
    """Table.append of one row (set by index) gives what appending a batch of one gives: the same row numbers, values
    and dtypes, an empty value in every column not given (also in rows that a :meth:`keep` vacated), through the
    columns' growth."""
    from gpucredit.sim.table import Table

    spec = {"id": (np.int64, 0), "owner": (np.int64, -1), "amount": (float, 0.0), "live": (bool, True)}
    alone, batch = Table(spec, capacity=2), Table(spec, capacity=2)
    for i in range(7):
        values = {"id": i, "amount": 0.5 * i} if i % 2 else {"id": i, "owner": 10 + i, "live": False}
        rows = alone.append(**values)
        assert rows.tolist() == batch.append(1, **values).tolist() == [alone.n - 1] and rows.dtype == np.intp
        if i == 4:
            for table in (alone, batch):
                table.keep(np.array([0, 2, 3]))  # rows 3 and 4 are vacated with their values left in place
    assert alone.n == batch.n == 5 and alone._capacity == len(alone._columns["id"]) == 8
    for name, (dtype, _) in spec.items():
        assert alone.column(name).dtype == batch.column(name).dtype == np.dtype(dtype)
        assert alone.column(name).tolist() == batch.column(name).tolist(), name
    assert alone.column("owner").tolist() == [10, 12, -1, -1, 16] and alone.column("amount").tolist()[3:] == [2.5, 0.0]
