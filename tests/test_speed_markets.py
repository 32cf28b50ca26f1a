"""Shortcuts in the markets and the contract register give, bit for bit, what the plain computations give."""

import numpy as np
import pytest

from gpucredit.agents.investment import discount_factors, used_gpu_values
from gpucredit.sim.contracts.books import EARLY, LATE, early_books, late_books
from gpucredit.sim.markets.used_gpus import appraise


def test_appraising_only_the_released_generations_gives_every_generations_appraisal(fresh_24):
    """reappraise() values only the generations released so far (each generation's value is worked out on its own);
    the result is the appraisal of every generation with the unreleased ones at zero, bit for bit."""
    m = fresh_24
    p = m.p
    life = p["technology.physical_life_months"]
    newest = m.newest_nvidia_gen
    replacement = m.perf * (m.nvidia.list_price(newest) / m.gens[newest].perf)
    every = appraise(m.expectations.price_path(m.horizons[:life]), m.perf * m.spot.relative_rents(),
                     m.running_cost + m.facility_cost, np.maximum(0, life - (m.month - m.release)),
                     m.spot.expected_utilisation, m.sofr + p["lenders.spread_ig"], replacement)
    every[m.release > m.month] = 0.0
    m.used_gpus.reappraise()
    assert (m.release > m.month).any() and (m.release <= m.month).sum() > 3  # both kinds of generation
    assert m.used_gpus.appraisal.tolist() == every.tolist()


def test_the_active_contracts_columns_are_the_active_rows_values_whether_views_or_copies(fresh_24):
    """With every contract active the register hands out its columns themselves; once a contract has ended, copies of
    the active rows. Either way the values are those of the active rows, in signing order."""
    register = fresh_24.contracts
    register.open_month()  # contracts that ended last month leave the table: every one left is active
    names = ("customer", "provider", "qty", "prepaid")
    for ended in (0, 3):
        register.terminate(register.active_rows()[:ended], "test")
        rows, columns = register.active_columns(*names)
        assert rows.tolist() == np.flatnonzero(register.column("active")).tolist() and len(rows) > 10
        for name, column, as_asked in zip(names, columns, register.active().columns(*names)):
            assert as_asked.tolist() == column.tolist()
            assert column.tolist() == register.column(name)[register.column("active")].tolist()
            assert np.shares_memory(column, register.column(name)) == (ended == 0)


def test_new_ids_at_once_are_the_ids_one_at_a_time(fresh_24):
    """Start-ups' contracts take their ids in one call (new_ids): the ids, and the next id after them, are those the
    same number of new_id calls would give."""
    m = fresh_24
    start = m._next_id
    at_once = m.new_ids(5).tolist()
    after = m.new_id()
    m._next_id = start
    assert at_once == [m.new_id() for _ in range(5)] and after == m.new_id()
    assert m.new_ids(0).tolist() == [] and m.new_id() == after + 1


def test_expired_contracts_log_each_pair_once_with_no_value_left(fresh_24):
    """At expiry each customer-provider pair is logged once, with a value of 0.0 US$bn (nothing is left to pay) and the
    H100e of its contracts that expire (summed as the register sums them)."""
    m = fresh_24
    register = m.contracts
    register.open_month()
    register.expire()  # those due to expire this month first
    rows = register.active_rows()[:40]
    register.column("end")[rows] = m.month + 1  # these expire now
    qty = {}
    for r in rows.tolist():
        key = (m.entity[int(register.column("customer")[r])].name, m.entity[int(register.column("provider")[r])].name)
        qty.setdefault(key, []).append(register.column("qty")[r])
    before = len(m.events)
    register.expire()
    logged = m.events[before:]
    assert len(qty) > 1 and len(logged) == len(qty)
    for event in logged:
        held = np.array(qty[tuple(event["agents"].split(";"))])
        assert event["event"] == "contract_expiry" and event["amount_bn"] == 0.0 and event["units"] == float(held.sum())


def test_late_books_read_after_the_register_changed_hold_the_numbers_of_their_refresh(fresh_24):
    """The late books (capacity served by customer, investment-grade capacity, backlog, capacity due soon) are worked
    out when first read: they hold the numbers of the refresh before, in the same order, although contracts were
    reassigned, ended, dropped and signed in between (when every contract is active the refresh sees the table's own
    columns: it must keep copies)."""
    m = fresh_24
    register = m.contracts
    register.open_month()  # every contract active
    register.refresh_books()
    early, kept = early_books(register)
    expected = {**early, **late_books(kept)}
    assert not any(name in register.__dict__ for name in LATE)  # not worked out yet
    rows = register.active_rows()
    register.reassign(rows[:30], np.full(30, m.lenders[0].eid, dtype=np.int64))
    register.terminate(rows[30:60], "test")
    register.open_month()  # the ended contracts leave: rows move
    register.sign(m.labs[0], m.neoclouds[0].eid, 5_000.0, 2.0, "ig", "compute")
    assert all(np.array_equal(getattr(register, name), expected[name]) if name.endswith("provider") else
               getattr(register, name) == expected[name] for name in EARLY)
    register.signed_by_provider[m.neoclouds[0].eid] += 1_000.0  # as the term market notes a deal signed
    for name in LATE:
        book = getattr(register, name)
        assert list(book.items()) == list(expected[name].items()) and book, name
    register.refresh_books()  # and a refresh sees the changes
    assert register.backlog_by_provider != expected["backlog_by_provider"]


def _used_gpu_values_plainly(m, hurdle_rate, weights):
    """What a used GPU of each generation is worth to each buyer, worked out step by step on new arrays: each released
    generation's positive margin, times whether its GPUs still live, times the discount factor, summed over months."""
    life = m.p["technology.physical_life_months"]
    paths = m.expectations.price_paths(life, weights)
    released = np.flatnonzero(m.release <= m.month)
    remaining = np.maximum(0, life - (m.month - m.release[released]))
    months = np.arange(1, life + 1)
    cost = (m.running_cost + m.facility_cost)[released]
    earning = (m.perf * m.spot.relative_rents())[released]
    margin = np.maximum(paths[:, None, :] * earning[None, :, None] - cost[None, :, None], 0.0)
    margin = margin * (730.0 * m.spot.expected_utilisation)
    alive = months[None, :] <= remaining[:, None]
    values = np.zeros((len(paths), len(m.gens)))
    values[:, released] = (margin * alive[None, :, :] * discount_factors(hurdle_rate, life)[None, None, :]).sum(axis=2)
    newest = m.newest_nvidia_gen
    values = np.minimum(values, (m.perf * (m.nvidia.list_price(newest) / m.gens[newest].perf))[None, :])
    values[:, m.release > m.month] = 0.0
    return values


def test_used_gpu_values_in_one_array_are_those_worked_out_step_by_step(fresh_24):
    """used_gpu_values works the margins out in one array, folds whether a generation's GPUs live into the discount
    factors and skips generations past their physical life: the values are those of the plain computation, bit for bit,
    for generations alive, past their life and not yet released."""
    m = fresh_24
    weights = [0.0, 0.3, 1.0]
    for life in (96, 40):  # (a life of 40 months leaves the oldest generations past it)
        m.p["technology.physical_life_months"] = life
        dead = (m.release <= m.month) & (m.month - m.release >= life)
        assert dead.any() == (life == 40) and (m.release > m.month).any()
        assert used_gpu_values(m, 0.15, weights).tobytes() == _used_gpu_values_plainly(m, 0.15, weights).tobytes()


def test_the_life_discount_is_alive_times_discount_bit_for_bit():
    """The appraisal multiplies a margin by one factor (alive x discount, :func:`life_discount`) instead of by whether
    the GPU is alive and then the discount: the same floats, signs of zero and non-finite values included."""
    from gpucredit.agents.investment import life_discount

    rng = np.random.default_rng(3)
    horizon, rate = 72, 0.07
    remaining = rng.integers(0, 90, size=12)
    margin = rng.choice([0.0, -0.0, 1e-300, 3.7, 1234.5678, np.inf, np.nan], size=(12, horizon)) * rng.random((12, horizon))
    months = np.arange(1, horizon + 1)
    alive, discount = months[None, :] <= remaining[:, None], (1.0 + rate / 12.0) ** -months
    with np.errstate(invalid="ignore"):  # inf x 0 is NaN on purpose: non-finite values must match too
        as_before = (margin * alive * discount)
        now = margin * life_discount(horizon, remaining, rate)
    assert as_before.tobytes() == now.tobytes()
    assert (as_before.sum(axis=1)).tobytes() == now.sum(axis=1).tobytes()


def test_nvidia_ranks_its_customers_only_while_it_has_room_for_another_investee(fresh_24, monkeypatch):
    """Nvidia's strategic neoclouds are those it holds, then its largest customers until it holds
    ``nvidia.max_neocloud_investees``: with no room left its customers' purchases are not even added up, and the set is
    the one the full rule gives (its holdings); with room, the largest customers join in order of purchases."""
    m = fresh_24
    equity = m.equity
    held = equity.investees_of(m.nvidia.eid) & {nc.eid for nc in m.neoclouds}
    purchases = m.chips.sales_12m()
    ranked = sorted((e for e in purchases if e in {nc.eid for nc in m.neoclouds} and e not in held),
                    key=lambda e: (-purchases[e], e))
    assert ranked, "the test needs customers Nvidia does not hold"
    for room in (0, 1, 2):
        monkeypatch.setitem(m.p, "nvidia.max_neocloud_investees", len(held) + room)
        if room == 0:
            monkeypatch.setattr(m.chips, "sales_12m", lambda: pytest.fail("purchases added up with no room"))
        else:
            monkeypatch.setattr(m.chips, "sales_12m", lambda: purchases)
        assert equity.strategic_neoclouds() == held | set(ranked[:room])
