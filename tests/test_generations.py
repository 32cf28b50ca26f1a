"""Generations are imperfect substitutes: each clears its own rental market, linked by an elasticity of substitution."""

import numpy as np

from gpucredit.experiments.run import timeseries
from gpucredit.sim.markets.compute import generation_premia
from tests.conftest import run

RELEASED = np.array([True, True, True, False])


def test_a_scarce_generation_rents_above_the_index_and_an_abundant_one_below():
    premia = generation_premia(np.array([10.0, 100.0, 40.0, 0.0]), RELEASED, substitution=8.0, floor_share=0.01)
    assert premia[0] > premia[2] > 1.0 > premia[1]  # rent per H100e falls with what is in use
    assert premia[3] == 0.0  # not yet released
    in_use = np.array([10.0, 100.0, 40.0])
    assert np.isclose((premia[:3] * in_use).sum() / in_use.sum(), 1.0)  # the use-weighted average is the index


def test_near_perfect_substitutes_rent_at_one_price_per_h100e_and_poor_ones_apart():
    in_use = np.array([10.0, 100.0, 40.0, 0.0])
    close = generation_premia(in_use, RELEASED, substitution=100.0, floor_share=0.01)
    apart = generation_premia(in_use, RELEASED, substitution=2.0, floor_share=0.01)
    assert close[:3].max() / close[:3].min() < 1.03
    assert apart[:3].max() / apart[:3].min() > 3.0


def test_the_floor_bounds_a_new_generations_launch_premium():
    in_use = np.array([0.001, 100.0, 40.0, 0.0])
    low_floor = generation_premia(in_use, RELEASED, substitution=8.0, floor_share=0.01)
    high_floor = generation_premia(in_use, RELEASED, substitution=8.0, floor_share=0.5)
    assert np.isfinite(low_floor).all() and high_floor[0] < low_floor[0]


def test_h100_and_h200_rents_change_by_different_percentages_over_2025():
    df = timeseries(run(36, seed=5)).set_index("date")
    h100 = df.loc["2025-12", "rental_price_h100"] / df.loc["2024-12", "rental_price_h100"] - 1.0
    h200 = df.loc["2025-12", "rental_price_h200"] / df.loc["2024-12", "rental_price_h200"] - 1.0
    assert abs(h100 - h200) > 0.02, (h100, h200)
    # before its release a generation has no rent and no used price; after, both are positive
    assert df.loc["2024-12", "rental_price_b200"] == 0.0 and df.loc["2024-12", "secondary_price_b200"] == 0.0
    assert df.loc["2025-12", "rental_price_b200"] > 0.0 and df.loc["2025-12", "secondary_price_b200"] > 0.0
    # and with near-perfect substitutes the two rents move together (one price per H100e)
    one_price = timeseries(run(36, seed=5, **{"markets.generation_substitution": 100.0})).set_index("date")
    h100_1 = one_price.loc["2025-12", "rental_price_h100"] / one_price.loc["2024-12", "rental_price_h100"] - 1.0
    h200_1 = one_price.loc["2025-12", "rental_price_h200"] / one_price.loc["2024-12", "rental_price_h200"] - 1.0
    assert abs(h100_1 - h200_1) < abs(h100 - h200)


def test_spot_sellers_are_paid_by_their_generations_rent(fresh_24):
    m = fresh_24
    rents = m.spot.rents()
    h100, a100 = m.gen_index("H100"), m.gen_index("A100")
    per_h100e = rents / np.where(m.perf > 0, m.perf, 1.0)
    assert per_h100e[a100] != per_h100e[h100]  # different rent per unit of performance
    assert np.isclose(rents[h100], m.spot.price * m.spot.premia[h100] * m.perf[h100])
