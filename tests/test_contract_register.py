"""The contract register's grouped sums and books: the quick forms give what the plain definitions give."""

import numpy as np

from gpucredit.sim.contracts.register import RADIX_FROM, groups, totals_by_party


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


def test_groups_of_many_keys_hold_the_same_rows_whether_sorted_by_radix_or_not():
    """From RADIX_FROM keys on, keys that fit in 16 bits are sorted by radix: each key's rows are still exactly its
    rows in row order; keys beyond 16 bits or negative ones (sorted as they are) too."""
    rng = np.random.default_rng(11)
    for low, high in [(0, 40), (0, 7_200), (0, 2**16 + 9), (-30, 30)]:
        for size in (RADIX_FROM - 1, RADIX_FROM, 3_000):
            keys = rng.integers(low, high, size=size)
            keys[:3] = high - 1  # the largest key, repeated
            order, by_key = groups(keys)
            assert [k for k, _, _ in by_key] == sorted(set(keys.tolist()))
            for key, first, end in by_key:
                assert order[first:end].tolist() == np.flatnonzero(keys == key).tolist()


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


def test_with_no_forward_contract_the_capacity_served_is_what_is_signed_and_a_separate_book(fresh_24):
    """When every active contract has started, what each party is served now equals what it signed; the books stay
    separate: capacity taken by a deal later in the month (sign_with_lead adds it to signed_by_provider) is not
    served yet."""
    m = fresh_24
    register = m.contracts
    rows = register.active_rows()
    forward = rows[register.column("start")[rows] > m.month]
    register.terminate(forward, "test")  # no contract is still to start
    register.refresh_books()
    assert np.array_equal(register.contracted_by_provider, register.signed_by_provider)
    assert register.contracted_by_customer == register.signed_by_customer
    provider = m.neoclouds[0].eid
    served = register.contracted_by_provider[provider]
    register.signed_by_provider[provider] += 1000.0
    register.signed_by_customer[m.labs[0].eid] = -1.0
    assert register.contracted_by_provider[provider] == served
    assert register.contracted_by_customer.get(m.labs[0].eid) != -1.0
