"""Every parameter set inside the declared ranges that respects the declared constraints runs to the end, and its
outputs make economic sense (issue 13).

A property-based test (hypothesis) draws every parameter over its full declared range, respecting the
cross-parameter constraints of the schema (:data:`gpucredit.sim.parameters.CONSTRAINTS`), with the populations
capped so that a ten-year run takes a second or two, runs the model and checks what a researcher relies on: the run
finishes; every series is finite; prices are positive; counts are non-negative integers; shares and utilisation lie
in [0, 1]; lenders never book a negative loss (a gain) on a default; GPUs are conserved.

* ``pytest`` runs a small budget, derandomized (the same draws on every machine);
* ``make fuzz`` runs a large one (``GPUCREDIT_FUZZ_EXAMPLES``, default 2,000, split over ``GPUCREDIT_FUZZ_SHARDS``
  shards run on both cores by pytest-xdist), with fresh random draws each time.

Each failure the fuzzing found is pinned below as an explicit parameter set (a regression test).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gpucredit.sim import GPUEconomy
from gpucredit.sim.constraints import CONSTRAINTS
from gpucredit.sim.reporting.columns import NAN_AFTER_EXIT, SERIES_NAMES
from gpucredit.sim.parameters import BY_NAME, PARAMETERS, ParameterError, defaults, resolve

# populations capped (the ranges allow 2,000 small neoclouds and 500,000 start-ups): a draw takes seconds
CAPS = {"population.small_neoclouds": 8, "population.startups": 300, "population.extra_lenders": 5}
MONTHS = 120

FUZZ_EXAMPLES = int(os.environ.get("GPUCREDIT_FUZZ_EXAMPLES", "0"))  # 0: the small budget of the default suite
FUZZ_SHARDS = max(1, int(os.environ.get("GPUCREDIT_FUZZ_SHARDS", "1")))
SMALL_BUDGET = 12

POSITIVE_PRICES = ("spot_price_h100e", "clearing_price_h100e", "rental_price_h100", "contract_price_h100e",
                   "fundamental_price_h100e", "nvidia_markup")
# every generation's rent and used price (0 before its release)
NON_NEGATIVE_PRICES = tuple(n for n in SERIES_NAMES if n.startswith(("rental_price_", "secondary_price_"))
                            and n not in POSITIVE_PRICES)
COUNTS = ("defaults_count", "covenant_breaches", "covenant_waivers", "neoclouds_alive", "startups_alive",
          "startup_failures", "lab_failures", "lender_failures")
SHARES = ("utilization", "fire_sale_discount", "circular_revenue_share", "round_trip_ratio", "nvidia_customer_hhi",
          "lender_exposure_hhi", "origination_ltv", "extrapolator_share", "systemic_risk", "nvidia_gross_margin")
LEAD_SHARES = ("lead_neocloud_top_customer_share", "nvidia_stake_in_lead")  # NaN after the lead neocloud exits
NON_NEGATIVE = ("lender_losses", "gpus_seized", "debt_in_default", "fire_sale_volume", "neocloud_debt",
                "gpu_backed_lending", "installed_h100e", "installed_gpus", "installing_h100e", "neocloud_avg_ltv",
                "ai_revenue", "nvidia_capacity", "sofr", "idle_h100e", "used_gpus_resold", "lender_leverage",
                "lender_borrowings", "lender_uncalled", "loan_provisions", "venture_allotment", "venture_raised",
                "backstop_paid", "construction_debt", "datacentre_mw_building", "datacentre_mw_owned")


# ================================================================================================================
# drawing admissible parameter sets
# ================================================================================================================
def _interval(param, values: dict) -> tuple[float, float]:
    """The declared range of ``param`` (capped for populations), narrowed by every constraint of which it is the last
    parameter drawn (the others are in ``values`` already): each constraint is ``sum(c x value) <= bound``."""
    lo, hi = param.min, min(param.max, CAPS.get(param.name, param.max))
    for c in CONSTRAINTS:
        coefficients = c.coefficients
        if param.name not in coefficients or any(n not in values for n in coefficients if n != param.name):
            continue
        rest = sum(k * values[n] for n, k in coefficients.items() if n != param.name)
        limit = (c.bound - rest) / coefficients[param.name]
        if coefficients[param.name] > 0:
            hi = min(hi, limit)
        else:
            lo = max(lo, limit)
    if param.kind is int:
        lo, hi = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    assert lo <= hi, f"no admissible value of {param.name} given {values}"
    return lo, hi


def draw_parameters(number, integer, choice) -> dict:
    """Every parameter, in the schema's order, from ``number(lo, hi)``, ``integer(lo, hi)`` or ``choice(options)``
    (hypothesis strategies or a random generator), so that every declared constraint holds."""
    values: dict = {}
    for p in PARAMETERS:
        if p.choices is not None:
            values[p.name] = choice(p.choices)
            continue
        lo, hi = _interval(p, values)
        values[p.name] = integer(int(lo), int(hi)) if p.kind is int else number(float(lo), float(hi))
    values["run.months"] = MONTHS
    return values


@st.composite
def admissible_sets(draw) -> dict:
    return draw_parameters(lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False)),
                           lambda lo, hi: draw(st.integers(lo, hi)),
                           lambda options: draw(st.sampled_from(options)))


# ================================================================================================================
# the invariants
# ================================================================================================================
def broken_invariants(model, df=None) -> list[str]:
    """What is wrong with a finished run's outputs (its monthly series ``df`` unless given; nothing: an empty list)."""
    df = model.datacollector.get_model_vars_dataframe() if df is None else df
    problems = []
    if len(df) != model.n_months:
        problems.append(f"{len(df)} months recorded of {model.n_months}")
    firm = df[list(NAN_AFTER_EXIT)]  # the lead neocloud's metrics: NaN from its exit on (or throughout, if removed)
    gone = firm.isna().all(axis=1).to_numpy()
    if not ((firm.isna().any(axis=1).to_numpy() == gone).all() and (np.diff(gone.astype(int)) >= 0).all()):
        problems.append("the lead neocloud's metrics are NaN in some month it operates")
    for name in LEAD_SHARES:
        x = firm[name].to_numpy(dtype=float)
        if ((x < 0) | (x > 1)).any():
            problems.append(f"{name} outside [0, 1]")
    df = df.drop(columns=list(NAN_AFTER_EXIT))
    values = df.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        problems.append("non-finite series: " + ", ".join(df.columns[~np.isfinite(values).all(axis=0)]))

    def bad(names, test, what):
        for name in names:
            wrong = np.flatnonzero(~test(df[name].to_numpy(dtype=float)))
            if len(wrong):
                problems.append(f"{name} {what} (month {int(wrong[0])}: {df[name].iloc[wrong[0]]!r})")

    bad(POSITIVE_PRICES, lambda x: x > 0, "not positive")
    bad(NON_NEGATIVE_PRICES + NON_NEGATIVE, lambda x: x >= 0, "negative")
    bad(COUNTS, lambda x: (x >= 0) & (x == np.round(x)), "not a non-negative integer")
    bad(SHARES, lambda x: (x >= 0) & (x <= 1), "outside [0, 1]")
    fleet = model.fleet
    held = float(fleet.view("count").sum())
    if (fleet.view("count") < 0).any():
        problems.append("a cohort holds a negative number of GPUs")
    if abs(fleet.produced - held - fleet.scrapped - fleet.sold_outside) > 1e-6 * max(1.0, fleet.produced):
        problems.append(f"GPUs not conserved: produced {fleet.produced} held {held} scrapped {fleet.scrapped} "
                        f"sold {fleet.sold_outside}")
    for lender in model.lenders:
        if lender.realised_losses < 0:
            problems.append(f"{lender.name} realised a gain of US${-lender.realised_losses:.3f}bn on defaults")
    return problems


def run_to_the_end(params: dict, seed: int):
    model = GPUEconomy(rng=seed, record="series", **params)
    while model.running:
        model.step()
    return model


def check_draw(params: dict, seed: int) -> None:
    model = run_to_the_end(params, seed)
    problems = broken_invariants(model)
    assert not problems, "; ".join(problems)


# ================================================================================================================
# the property
# ================================================================================================================
NO_SHRINKING = [Phase.explicit, Phase.reuse, Phase.generate]  # shrinking 181 parameters x a model run takes hours
settings.register_profile("small", max_examples=SMALL_BUDGET, derandomize=True, deadline=None, database=None,
                          phases=NO_SHRINKING, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=max(1, FUZZ_EXAMPLES // FUZZ_SHARDS), derandomize=False,
                          deadline=None, print_blob=True, database=None,
                          phases=NO_SHRINKING,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile("fuzz" if FUZZ_EXAMPLES else "small")


@pytest.mark.parametrize("shard", range(FUZZ_SHARDS))
@settings(PROFILE)
@given(params=admissible_sets(), seed=st.integers(0, 2**32 - 1))
def test_every_admissible_parameter_set_runs_to_the_end_with_sensible_outputs(shard, params, seed):
    check_draw(params, seed)


def test_draws_respect_every_declared_constraint_and_range():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = draw_parameters(lambda lo, hi: float(rng.uniform(lo, hi)), lambda lo, hi: int(rng.integers(lo, hi + 1)),
                                 lambda options: options[0])
        resolved = resolve(values)  # raises ParameterError if a range or a constraint is broken
        assert all(resolved[name] == value for name, value in values.items())
        assert all(c.holds(values) for c in CONSTRAINTS)


def test_the_checks_can_fail():
    """The invariants are not vacuous: a negative loss, a zero price and a fractional count are caught."""
    model = run_to_the_end({"run.months": 12, "population.startups": 100}, seed=1)
    assert broken_invariants(model) == []
    df = model.datacollector.get_model_vars_dataframe().copy()
    df.loc[df.index[3], "lender_losses"] = -1.0
    df.loc[df.index[4], "spot_price_h100e"] = 0.0
    df.loc[df.index[5], "defaults_count"] = 0.5
    problems = " ".join(broken_invariants(model, df))
    assert "lender_losses negative" in problems and "spot_price_h100e not positive" in problems
    assert "defaults_count not a non-negative integer" in problems


# ================================================================================================================
# the constraints
# ================================================================================================================
def test_defaults_and_shipped_scenarios_respect_the_constraints():
    from gpucredit.sim.scenarios import load_scenario, shipped_scenarios
    for name in shipped_scenarios():
        resolve(None, load_scenario(name).parameters)
    assert all(c.holds(defaults()) for c in CONSTRAINTS)
    names = {p.name for p in PARAMETERS}
    assert all(set(c.parameters) <= names for c in CONSTRAINTS)


@pytest.mark.parametrize("overrides, named", [
    ({"nvidia.markup_min": 4.6, "nvidia.markup_max": 4.5}, ["nvidia.markup_min = 4.6", "nvidia.markup_max = 4.5"]),
    ({"demand.lab_share": 0.7, "demand.startup_share": 0.4}, ["demand.lab_share = 0.7", "demand.startup_share = 0.4"]),
    ({"contracts.term_months": 12, "contracts.term_spread": 12}, ["contracts.term_spread = 12", "contracts.term_months = 12"]),
    ({"technology.accounting_life_months": 100, "technology.physical_life_months": 96},
     ["technology.accounting_life_months = 100"]),
    ({"demand.initial_ai_revenue": 50.0, "demand.market_size": 40.0}, ["demand.initial_ai_revenue = 50"]),
    ({"nvidia.backstop_start_year": 2030.0, "nvidia.backstop_end_year": 2029.0}, ["nvidia.backstop_end_year = 2029"]),
    ({"lenders.max_ltv": 0.9, "lenders.max_covenant_ltv": 0.8}, ["lenders.max_covenant_ltv = 0.8"]),
])
def test_a_set_breaking_a_constraint_is_refused_in_one_line_naming_the_parameters(overrides, named):
    with pytest.raises(ParameterError) as err:
        GPUEconomy(rng=1, **overrides)
    text = str(err.value)
    assert "\n" not in text and "parameters conflict" in text and all(n in text for n in named)
    for name, value in overrides.items():  # each value alone is inside its declared range
        BY_NAME[name].coerce(value)


# ================================================================================================================
# regressions: each failure class the fuzzing found, pinned
# ================================================================================================================
def test_expected_prices_stay_positive_when_the_fundamental_falls_faster_than_prices_revert():
    """Slow reversion (120 months) and fast technical progress (the fundamental falling 10% a month): the gap to the
    fundamental, closing at 1/120 a month, outlived the anchor, and a price below the fundamental was expected to turn
    negative (negative contract prices; start-ups' prepayments became complex numbers)."""
    from gpucredit.sim.expectations import Expectations
    params = {**defaults(), "expectations.reversion_months": 120, "expectations.cost_trend_weight": 1.0}
    ex = Expectations(params, 2.0)
    ex.anchor(2.0)
    for fundamental in 2.0 * np.exp(-0.1 * np.arange(1, 13)):  # the full cost of new capacity falls 10% a month
        ex.observe_price(0.5 * fundamental, fundamental)  # the spot price at half of it
    assert ex.cost_decline > 0.05
    horizon = np.arange(1, 241, dtype=float)
    for path in (ex.fundamentalist_path(horizon), ex.extrapolator_path(horizon), ex.price_path(horizon)):
        assert (path > 0).all()
        assert (path <= ex.fundamental_path(horizon) * 1.000001).all()  # below the anchor, as the price is now
    # a price above the fundamental: the premium over the (falling) anchor is not expected to grow
    ex.log_prices[-1] = math.log(3.0 * ex.fundamental)
    ratio = ex.fundamentalist_path(horizon) / ex.fundamental_path(horizon)
    assert (np.diff(ratio) <= 1e-12).all()


def test_an_overdrawn_lender_passes_a_default_surplus_on_and_books_no_gain():
    """A lender whose seizure is worth more than its claim, but whose cash was already negative (it buys spot capacity
    to serve contracts it took over at an earlier default), used the proceeds of the GPUs it sold to pay the surplus
    to reduce its overdraft, kept the surplus and booked a negative loss (-US$222bn in a month in one draw)."""
    from gpucredit.sim.credit.default import resolve_default
    model = run_to_the_end({"run.months": 30, "population.startups": 100}, seed=3)
    led = model.ledger
    nc = next(n for n in model.neoclouds if any(l.principal > 0 for l in model.loans.of_borrower(n.eid)))
    loans = [l for l in model.loans.of_borrower(nc.eid) if l.principal > 0]
    lender = model.entity[loans[0].lender]
    for loan in loans:  # the claims fall to a tenth: the seized GPUs are worth far more than they are owed
        led.book(nc.eid, 0.9 * loan.principal, "debt_extinguished")
        led.book(loan.lender, -0.9 * loan.principal, "loan_default")
        loan.principal *= 0.1
    led.pay(lender.eid, led.sector("credit_investors"), led.cash[lender.eid] + 50.0, "fund_outflow")  # overdrawn
    assert led.cash[lender.eid] < 0
    losses_before = {eid: model.entity[eid].realised_losses for eid in {l.lender for l in loans}}
    cash_before = led.cash[lender.eid]
    claim = sum(l.principal for l in loans if l.lender == lender.eid)
    resolve_default(model, nc)
    for eid, before in losses_before.items():  # every claim is covered: no gain (a loss only on GPUs sold below their mark)
        assert model.entity[eid].realised_losses >= before
    # it keeps at most its claim: the proceeds of the GPUs it sold for the surplus went on, not into its overdraft
    assert led.cash[lender.eid] - cash_before <= claim + 1e-9


def test_a_rounding_remainder_on_the_spot_exchange_is_not_paid_out_as_a_negative_amount():
    """Pro-rata payments to sellers leave the exchange a remainder of a few 1e-17 US$bn; in a month when sellers sold
    but nobody paid, the remainder was paid out to them as negative amounts and the run stopped."""
    model = run_to_the_end({"run.months": 3, "population.startups": 50}, seed=1)
    led, spot = model.ledger, model.spot
    led.cash[spot.exchange] = -2.15e-17  # last month's remainder (the remainder the fuzzing met)
    labs = [lab for lab in model.labs if lab.alive]
    spend = np.zeros(len(labs) + len(model.hyperscalers) + model.startups.n)
    owner = model.fleet.view("owner")
    sold = np.zeros(len(owner))
    sold[0] = 1.0
    spot.settle(labs, spend, np.zeros(len(led.names)), owner, sold)  # nobody paid this month
    assert led.cash[spot.exchange] == -2.15e-17  # carried, not paid out


def test_scrapping_the_whole_installed_base_is_not_a_false_accounting_stop():
    """An economy that scrapped its whole installed base (1.9e11 H100e in the draw) within a month stopped on the
    running total's rounding remainder (6e-5 H100e against a tolerance of 1e-6 of the base left, zero); a real gap,
    GPUs leaving the count but not the running total, still stops the run."""
    from gpucredit.sim.accounts import check_gpus
    from gpucredit.sim.ledger import AccountingError
    model = run_to_the_end({"run.months": 6, "population.startups": 50}, seed=1)
    fleet, led = model.fleet, model.ledger
    base = fleet.installed_h100e
    for row in np.flatnonzero(fleet.view("count") > 0).tolist():
        led.move_gpus(int(fleet.owner[row]), led.sector("recyclers"), fleet.count[row], "scrapping")
        fleet.take_out(row, fleet.count[row], scrapped=True)
    fleet.installed_h100e = 1e-10 * base  # the rounding remainder of the running total
    check_gpus(model)
    fleet.installed_h100e = 0.01 * base  # GPUs gone from the count but not from the running total
    with pytest.raises(AccountingError, match="installed base"):
        check_gpus(model)


# Parameter sets drawn by the fuzzing (inside the declared ranges, respecting the constraints) on which the model
# crashed or broke an invariant before the fixes; each reduced to the parameters that matter (the rest at defaults).
REGRESSIONS = {
    # a lender booked a negative loss (a gain of US$0.4m) on a default (before: lender_losses -0.00041 in 2024-09)
    "negative_lender_loss": (10, {
        "startups.team_share": 0.06677169332479282, "startups.seed_funding": 9.863919539801516,
        "startups.funding_sentiment": 9.714664543185759, "startups.contract_search_rate": 0.897906560580642,
        "startups.seed_dispersion": 0.7310619129829266, "hyperscalers.core_cash_flow": 484.8622701650516,
        "hyperscalers.ai_budget_share": 0.35978276330795267, "contracts.term_spread": 12}),
    # running costs far above a low opening spot price and reversion over 119 months: the expected spot path turned
    # negative and with it the contract price (before: contract_price_h100e -0.10 US$/H100e-hour in 2023-02)
    "negative_contract_price": (84, {
        "technology.facility_overhead": 2.852121441478273, "technology.electricity_price": 0.4426966653531902,
        "technology.maintenance_cost": 0.9821151309944571, "nvidia.launch_markup": 9.86283777361255,
        "markets.initial_spot_price": 1.4288519915440796, "markets.price_adjustment": 0.07148446636349254,
        "contracts.min_deal_h100e": 18404.564009475853, "expectations.reversion_months": 119}),
    # a rival share falling to 2e-308: the rival's output rounded to zero H100e and the allocation divided by it
    # (before: ZeroDivisionError in the chip market; hypothesis found it with two full draws, seeds 0 and 2**32 - 2)
    "vanishing_rival_output": (0, {"rival.share_end": 2.2250738585072014e-308}),
    # SOFR 0 from 2026 and an IG spread of 4e-152: a cost of capital too small to move 1 + r, so the annuity factor's
    # denominator was 0 (before: ZeroDivisionError in the full cost of new capacity; found by hypothesis twice)
    "vanishing_cost_of_capital": (181483, {"rates.sofr_long_run": 0.0, "lenders.spread_ig": 3.6267847823980607e-152}),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_parameter_sets_that_failed_before_run_clean(name):
    seed, params = REGRESSIONS[name]
    check_draw({**params, "run.months": MONTHS}, seed)


def test_an_economy_with_no_gpus_left_keeps_the_outside_buyers_fractional_gpus():
    """Once every GPU is scrapped the fleet is empty, and numpy's bincount of an empty fleet is an integer array: the
    GPU check truncated outside buyers' 23,030.547 GPUs to 23,030 and stopped a fuzzed run (2027-10) on a false gap."""
    from gpucredit.sim.accounts import check_gpus
    model = run_to_the_end({"run.months": 6, "population.startups": 50}, seed=1)
    fleet, led = model.fleet, model.ledger
    row = int(np.flatnonzero(fleet.view("count") > 1)[0])
    model.used_gpus.sell_outside(int(fleet.owner[row]), row, 0.5)  # outside buyers now hold a fractional count
    for r in np.flatnonzero(fleet.view("count") > 0).tolist():
        led.move_gpus(int(fleet.owner[r]), led.sector("recyclers"), fleet.count[r], "scrapping")
        fleet.take_out(r, fleet.count[r], scrapped=True)
    fleet.compact()
    assert fleet.n == 0 and fleet.sold_outside % 1 != 0
    fleet.installed_h100e = 0.0
    check_gpus(model)


def test_a_near_zero_price_impact_sells_used_gpus_at_the_outside_price():
    """A draw with markets.price_impact near 0 (inside [0, 20]) made the integral of outside buyers' demand curve
    infinite (depth / impact overflowed): a used-GPU sale of inf US$bn stopped the run (found by the CI fuzz draws)."""
    model = run_to_the_end({"run.months": 6, "population.startups": 50, "markets.price_impact": 1e-300}, seed=1)
    fleet = model.fleet
    row = int(np.flatnonzero(fleet.view("count") > 10)[0])
    price = model.used_gpus.outside_price(int(fleet.gen[row]))
    proceeds = model.used_gpus.sell_outside(int(fleet.owner[row]), row, 10.0)
    assert proceeds == pytest.approx(10.0 * price / 1e9, rel=1e-12)


def test_gpu_positions_restart_from_the_holdings_after_each_check():
    """A draw with a huge economy (population.scale 18) traded 1.6 billion used GPUs in a month: the rounding of the
    positions kept by the ledger then exceeded the tolerance in a later month and stopped the run falsely. The
    tolerance now also scales with the GPUs a party moved in the month, and each check restarts the positions from
    the holdings, so rounding never accumulates; a real gap is still caught."""
    from gpucredit.sim.accounts import check_gpus
    from gpucredit.sim.ledger import AccountingError
    model = run_to_the_end({"run.months": 6, "population.startups": 50}, seed=1)
    led, fleet = model.ledger, model.fleet
    owner = int(fleet.owner[int(np.flatnonzero(fleet.view("count") > 0)[0])])
    held = float(fleet.view("count")[fleet.view("owner") == owner].sum())
    led.gpus[owner] += 1e-7 * max(1.0, held)  # rounding below the tolerance
    check_gpus(model)
    assert led.gpus[owner] == pytest.approx(held, rel=0, abs=1e-9)  # restarted from the holding: no drift
    led.gpus[owner] += 0.5 + 1e-3 * held  # a real gap
    with pytest.raises(AccountingError, match="not conserved"):
        check_gpus(model)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "transfer", "split", "remove", "compact"]),
                          st.integers(0, 4), st.integers(0, 40), st.floats(0.0, 1.0)), max_size=80))
def test_the_fleet_finds_an_owners_gpus_as_a_scan_of_every_cohort_would(ops):
    """The fleet keeps each owner's rows (so a firm's GPUs are found without scanning the whole fleet; indexed when
    first asked for after a compaction): after any sequence of new cohorts, changes of hands, splits, sales and
    compactions, rows_of gives what a scan gives."""
    from gpucredit.sim.technology import Fleet

    fleet = Fleet(np.ones(3), np.ones(3), capacity=2)
    for op, owner, row, x in ops:
        i = row % fleet.n if fleet.n else None
        if op == "add" or i is None:
            fleet.add(owner, row % 3, 0, 1.0 + 10 * x, 1.0, pledged=owner % 2 - 1)
        elif op == "transfer":
            fleet.transfer(i, owner)
        elif op == "split" and fleet.count[i] > 0:
            fleet.split(i, fleet.count[i] * x)
        elif op == "remove" and fleet.count[i] > 0:
            fleet.remove(i, fleet.count[i] * x)
        elif op == "compact":
            fleet.compact()
        if x < 0.3:  # not asked after every change: the index is also kept up to date between questions
            continue
        for eid in range(5):
            for pledged in (None, -1, 0):
                held = (fleet.view("owner") == eid) & (fleet.view("count") > 0)
                if pledged is not None:
                    held &= fleet.view("pledged") == pledged
                assert fleet.rows_of(eid, pledged).tolist() == held.nonzero()[0].tolist()


def assert_top_bids_as_a_loop(book, buyers, kw) -> None:
    """The book's top bid for each generation (kept until a bid is drawn down) is what a loop over the bids gives."""
    n, n_gens = book.values.shape
    live = [b.alive for b in buyers] if len(book._exits) != book._exits_seen else [True] * n
    top = [max([v for v, ok, budget, power in zip(book.values[:, j].tolist(), live, book.budget.tolist(),
                                                   book.power_mw.tolist())
                if ok and budget * 1e9 >= v and power * 1000.0 >= kw[j]], default=0.0) for j in range(n_gens)]
    assert book.top_bids(kw).tolist() == top


def best_bid_both_ways(monkeypatch, market, g: int, seller: int) -> tuple:
    """The best bid for generation ``g`` searched bid by bid and with array operations: the same bid and value, or no
    bid either way. Returns both answers."""
    from gpucredit.sim.markets import used_gpus

    monkeypatch.setattr(used_gpus, "SCAN_BIDS_BELOW", 10**9)
    by_bid = market.best_bid(g, seller)
    monkeypatch.setattr(used_gpus, "SCAN_BIDS_BELOW", 0)
    by_array = market.best_bid(g, seller)
    assert (by_bid[0] is None) == (by_array[0] is None)
    if by_bid[0] is not None:
        assert (by_bid[0].row, by_bid[1]) == (by_array[0].row, by_array[1])
    return by_bid, by_array


def test_the_best_used_gpu_bid_is_the_same_read_bid_by_bid_or_as_arrays(monkeypatch):
    """A small bid book is searched bid by bid, a large one with array operations: on random books (ties, bidders out
    of business or without money or power, the seller's own bid) both find the same bid at the same price."""
    from gpucredit.sim.markets.used_gpus import BidBook

    m = GPUEconomy(scenario="baseline", rng=0, **{"run.months": 2})
    market = m.used_gpus
    rng = np.random.default_rng(7)
    n_gens = len(m.gens)
    found = 0
    for trial in range(300):
        n = int(rng.integers(0, 30))
        buyers = [m.neoclouds[i % len(m.neoclouds)] for i in range(n)]
        values = rng.choice([0.0, 5_000.0, 20_000.0, 40_000.0], size=(n, n_gens))  # ties on purpose
        book = BidBook(buyers, list(values), list(rng.choice([0.0, 1e-6, 0.5], size=n)),
                       list(rng.choice([0.0, 0.001, 5.0], size=n)), n_gens, m.defunct)
        if n and trial % 3 == 0:
            book._exits = [None] * (book._exits_seen + 1)  # an exit since the book was formed: alive flags are read
            for b in buyers[: n // 2]:
                monkeypatch.setattr(b, "alive", bool(rng.integers(0, 2)))
        market._bids, market._bids_month = book, m.month
        g, seller = int(rng.integers(0, n_gens)), int(buyers[0].eid) if n and trial % 2 else -1
        by_bid, by_array = best_bid_both_ways(monkeypatch, market, g, seller)
        if by_bid[0] is not None:
            found += 1
            assert type(by_bid[1]) is type(by_array[1]) is np.float64  # the book's value (a numpy float) either way
            bid = by_bid[0]  # a sale draws its budget and power down: the search's lists and the top bids follow
            kw = m.facility_kw
            book.top_bids(kw)
            bid.budget -= float(rng.choice([0.0, 0.25, bid.budget]))
            assert_top_bids_as_a_loop(book, buyers, kw)
            bid.power_mw -= rng.choice([0.0, 0.0005, bid.power_mw]) * np.float64(1.0)
            assert_top_bids_as_a_loop(book, buyers, kw)
            assert book.budget_list == book.budget.tolist() and book.power_list == book.power_mw.tolist()
            assert type(bid.budget) is type(bid.power_mw) is float
            best_bid_both_ways(monkeypatch, market, g, seller)  # and after the draw, the two searches still agree
        else:
            assert by_bid[1] == by_array[1] == 0.0
    assert 30 < found < 270  # both outcomes occur
