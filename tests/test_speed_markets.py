"""Shortcuts in the markets and the contract register give, bit for bit, what the plain computations give."""

import numpy as np
import pytest

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


def test_the_life_discount_is_alive_times_discount_bit_for_bit():
    """The appraisal multiplies a margin by one factor (alive x discount, :func:`life_discount`) instead of by whether
    the GPU is alive and then the discount: the same floats, signs of zero and non-finite values included."""
    from gpucredit.sim.markets.used_gpus import life_discount

    rng = np.random.default_rng(3)
    horizon, rate = 72, 0.07
    remaining = rng.integers(0, 90, size=12)
    margin = rng.choice([0.0, -0.0, 1e-300, 3.7, 1234.5678, np.inf, np.nan], size=(12, horizon)) * rng.random((12, horizon))
    months = np.arange(1, horizon + 1)
    alive, discount = months[None, :] <= remaining[:, None], (1.0 + rate / 12.0) ** -months
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
