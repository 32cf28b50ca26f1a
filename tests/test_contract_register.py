"""The contract register's grouped sums and books: the quick forms give what the plain definitions give."""

import numpy as np

from gpucredit.sim.contracts.register import groups, totals_by_party


def test_groups_hold_the_rows_of_each_key_in_their_original_order():
    """Each (key, first, end) of groups() selects, through the order, exactly the rows whose key it is, in row order,
    and the keys come in increasing order: what a boolean selection keys == key gives (sums over it match)."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        keys = rng.integers(0, int(rng.integers(1, 60)), size=int(rng.integers(0, 80)))
        values = rng.random(len(keys))
        order, by_key = groups(keys)
        assert [k for k, _, _ in by_key] == sorted(set(keys.tolist()))
        for key, first, end in by_key:
            rows = order[first:end]
            assert rows.tolist() == np.flatnonzero(keys == key).tolist()
            assert values[rows].sum() == values[keys == key].sum()  # the same floats, added in the same order


def test_totals_by_party_name_the_parties_that_appear_and_only_them():
    parties = np.array([3, 1, 3, 5])
    totals = totals_by_party(parties, np.array([1.0, 2.0, 0.5, 0.0]), 8)
    assert totals == {1: 2.0, 3: 1.5, 5: 0.0}  # a party whose contracts sum to zero still appears
    assert totals_by_party(np.zeros(0, dtype=np.int64), np.zeros(0), 8) == {}


def test_books_refreshed_within_a_deferral_are_the_books_of_the_contracts_then(fresh_24):
    """Within books_deferred a refresh is only marked due; a book read then is computed on the spot, from the
    contracts as they are at the read (a provider whose contracts ended serves none)."""
    m = fresh_24
    register = m.contracts
    provider = max(m.neoclouds, key=lambda nc: register.contracted_by_provider[nc.eid]).eid
    assert register.contracted_by_provider[provider] > 0
    with register.books_deferred():
        register.terminate(register.rows_of(provider=provider), "test")
        register.refresh_books()
        assert register.contracted_by_provider[provider] == 0.0
        assert provider not in register.backlog_by_provider
    fresh = {name: getattr(register, name) for name in ("signed_by_customer", "backlog_by_provider")}
    register.refresh_books()
    assert fresh == {name: getattr(register, name) for name in fresh}
