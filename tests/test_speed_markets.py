"""Shortcuts in the markets and the contract register give, bit for bit, what the plain computations give."""

import numpy as np

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
