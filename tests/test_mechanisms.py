"""Each mechanism shows its effect."""

import numpy as np
import pytest

from gpucredit.agents.lender import units_funded
from gpucredit.sim.finance.circular import Backstops
from gpucredit.sim.accounts import balance_sheets
from gpucredit.sim.credit.default import resolve_default
from tests.conftest import run


def _largest_loan(model):
    loans = [l for l in model.loans.values() if l.status == "performing" and l.principal > 0]
    return max(loans, key=lambda l: l.principal)


def test_a_fire_sale_lowers_other_borrowers_collateral_marks_and_can_trip_covenants(fresh_24):
    m = fresh_24
    loan = _largest_loan(m)
    m.loans.mark_all()
    before_value, before_ltv = loan.collateral_value, loan.ltv
    # a distressed hyperscaler-sized seller dumps a third of the installed base it holds on the used market
    seller = m.hyperscalers[0]
    for r in m.fleet.rows_of(seller.eid):
        m.used_gpus.sell_cohort(seller.eid, r, m.fleet.count[r] / 3.0, forced=True)
    m.loans.mark_all()
    assert loan.collateral_value < before_value
    assert loan.ltv > before_ltv
    assert m.flow["fire_sale_volume"] > 0
    # large enough, the fall trips covenants of borrowers that sold nothing
    for _ in range(6):
        for r in m.fleet.rows_of(seller.eid):
            m.used_gpus.sell_cohort(seller.eid, r, m.fleet.count[r] / 2.0, forced=True)
    m.mark_and_enforce()
    tripped = [e for e in m.events if e["event"] in ("covenant_breach", "covenant_waiver") and e["date"] == m.date]
    assert tripped, "collapsing used-GPU prices should breach an LTV covenant"


def _h100_fire_sale(neocloud_cash: float):
    """A hyperscaler dumps 100,000 H100s on the used market in December 2024, with every neocloud holding
    ``neocloud_cash`` US$bn; returns the economy, the H100 price before and after, the buyers' new cohorts."""
    m = run(24, seed=3)
    sector = m.ledger.sector("venture_and_public_equity")
    for nc in m.neoclouds:
        gap = neocloud_cash - m.ledger.cash[nc.eid]
        if gap > 0:
            m.ledger.pay(sector, nc.eid, float(gap), "funding_round")
        elif gap < 0:
            m.ledger.pay(nc.eid, sector, float(-gap), "payout")
    m.used_gpus.withdraw_bids()  # bids are asked afresh, with the new cash
    h100 = m.gen_index("H100")
    seller = m.hyperscalers[0]
    before = m.used_gpus.prices[h100]
    left = 100_000.0
    for r in m.fleet.rows_of(seller.eid):
        if m.fleet.gen[r] == h100 and left > 0:
            units = min(left, m.fleet.count[r])
            m.used_gpus.sell_cohort(seller.eid, r, units, forced=True)
            left -= units
    assert left == 0
    f = m.fleet  # cohorts bought: older GPUs whose re-installation starts this month
    resold = (f.view("vintage") < m.month) & (f.view("live_from") == m.month + m.p["technology.deploy_months"])
    bought = [(int(f.owner[r]), f.count[r]) for r in np.flatnonzero(resold)]
    assert all(m.entity[eid] in m.neoclouds for eid, _ in bought)
    assert sum(units for _, units in bought) == pytest.approx(m.flow["used_gpus_resold"])
    return m, before, m.used_gpus.prices[h100], bought


def test_forced_sales_lower_the_used_price_less_when_buyers_have_more_money():
    _, before_poor, after_poor, bought_poor = _h100_fire_sale(0.0)
    m, before_rich, after_rich, bought = _h100_fire_sale(5.0)
    assert before_rich == pytest.approx(before_poor)
    assert after_poor < before_poor  # no neocloud can pay: outside buyers walk down their demand curve
    assert after_rich / before_rich > after_poor / before_poor + 0.05  # the same wave, better absorbed
    assert not bought_poor and sum(units for _, units in bought) > 10_000
    # the GPUs bought stay in the economy and, once re-installed, serve compute under their new owner
    installed = m.fleet.installed_h100e
    owners = {eid for eid, _ in bought}
    sold_in, ready = m.month, m.month + m.p["technology.deploy_months"]
    for _ in range(m.p["technology.deploy_months"]):
        m.step()
    assert m.fleet.installed_h100e > 0.9 * installed
    for eid in owners:
        mine = (m.fleet.view("owner") == eid) & (m.fleet.view("vintage") < sold_in) & (m.fleet.view("live_from") == ready)
        assert mine.any() and m.fleet.live_rows(m.month)[mine].all()
        assert m.fleet.capacity_by_owner[eid] >= float((m.fleet.view("count") * m.perf[m.fleet.view("gen")])[mine].sum())


def test_a_new_generation_lowers_older_gpus_secondary_price(fresh_24):
    m = fresh_24
    h100 = m.gen_index("H100")
    m.used_gpus.reappraise()
    before = m.used_gpus.prices[h100]
    # Rubin arrives early: the newest generation's cost per H100e sets both the fundamentalists' anchor
    # (the expected compute price path) and the replacement cost of used GPUs
    rubin = m.gen_index("Rubin")
    gen = m.gens[rubin]
    m.newest_nvidia_gen = rubin
    m.release[rubin] = m.month
    from gpucredit.sim.expectations import fundamental_price
    m.expectations.fundamental = fundamental_price(m.nvidia.list_price(rubin) / gen.perf, m.running_cost[rubin] / gen.perf,
                                                   m.facility_cost[rubin] / gen.perf, 0.1, 72)
    m.used_gpus.reappraise()
    assert m.used_gpus.prices[h100] < before


def test_an_expired_contract_returns_its_gpus_to_the_spot_market(fresh_24):
    m = fresh_24
    # the largest contract being served (a forward contract that has not started holds no capacity yet)
    c = max((c for c in m.contracts if c.active and c.kind != "rent_back" and c.start <= m.month), key=lambda c: c.qty)
    provider = c.provider
    committed_before = m.contracts.contracted_by_provider[provider]
    c.end = m.month + 1  # the contract ends this month
    m.age_the_economy()
    assert not c.active
    assert m.contracts.contracted_by_provider[provider] == pytest.approx(committed_before - c.qty)
    assert any(e["event"] == "contract_expiry" and e["units"] == c.qty for e in m.events)
    # next month the capacity it held is offered on spot: the provider's spot sales rise
    free_before = m.fleet.capacity_by_owner[provider] - committed_before
    free_after = m.fleet.capacity_by_owner[provider] - m.contracts.contracted_by_provider[provider]
    assert free_after > free_before


def test_a_backstop_pays_when_utilisation_is_low(fresh_24):
    m = fresh_24
    # the neocloud with the most capacity not committed to contracts
    nc = max(m.neoclouds, key=lambda n: m.fleet.capacity_by_owner[n.eid] - m.contracts.contracted_by_provider[n.eid])
    m.circular.backstops = Backstops()  # this one only
    m.circular.backstops.add(m.nvidia.eid, nc.eid, 6.3, m.month, m.month + 60)
    m.open_month = lambda: None  # keep the month as it is
    # a demand collapse: developers and hyperscalers stop buying compute on spot
    for lab in m.labs:
        lab.budget = 0.0
    for h in m.hyperscalers:
        h.budget = 0.0
    m.startups.budget[:] = 0.0
    # and term customers are gone too (neoclouds can be fully contracted at this date, and contracts sold
    # ahead of delivery would otherwise buy up the idle capacity on spot)
    for c in m.contracts:  # start-ups' contracts included: they are rows of the same register
        c.active = False
    m.contracts.refresh_books()
    m.flow.clear()
    m.clear_compute_market()
    low = m.flow["backstop_paid"]
    assert low > 0
    assert any(e["event"] == "backstop_draw" for e in m.events)
    # the idle capacity is measured: hyperscalers' GPUs with no workload of their own and no buyer stand idle too
    live = m.fleet.count[:m.fleet.n] * m.perf[m.fleet.view("gen")] * m.fleet.live_rows(m.month)
    assert m.spot.idle_h100e == pytest.approx(live.sum() - m.spot.cohort_active.sum())
    assert m.spot.utilisation < 0.5 and m.spot.idle_h100e > 0
    hyperscaler_rows = np.isin(m.fleet.view("owner"), [h.eid for h in m.hyperscalers])
    assert m.spot.cohort_active[hyperscaler_rows].sum() == pytest.approx(0.0, abs=1e-6)


def test_a_backstop_pays_nothing_when_all_capacity_is_used(fresh_24):
    m = fresh_24
    nc = m.neoclouds[0]
    m.circular.backstops = Backstops()  # this one only
    m.circular.backstops.add(m.nvidia.eid, nc.eid, 6.3, m.month, m.month + 60)
    for h in m.hyperscalers:
        h.budget = 1e4  # overwhelming demand: every GPU is rented
    m.flow.clear()
    m.clear_compute_market()
    assert m.flow["backstop_paid"] == pytest.approx(0.0, abs=1e-12)


def _force_breach(m):
    loan = _largest_loan(m)
    m.used_gpus.shock(5.0)  # used-GPU prices collapse: every LTV covenant is breached
    return loan


def _defaults_after_price_collapse(waiver_hurdle, months):
    """Neocloud defaults in the ``months`` after used-GPU prices collapse (and stay collapsed)."""
    m = run(24, seed=3, **{"lenders.waiver_hurdle": waiver_hurdle})
    m.p["run.months"] = m.n_months = 60
    defaults = []
    sector = m.ledger.sector("venture_and_public_equity")
    for _ in range(months):
        m.used_gpus.shock(5.0)  # used-GPU prices at 1% of the quote: LTV covenants breached
        for nc in m.neoclouds:  # borrowers have paid out their cash: they cannot pay down to cure
            cash = m.ledger.cash[nc.eid]
            if cash > 0:
                m.ledger.pay(nc.eid, sector, float(cash), "payout")
        m.step()
        defaults.append(m.current["defaults_count"])
    return np.cumsum(defaults)


def test_a_waiver_delays_a_default():
    cure = 3
    strict = _defaults_after_price_collapse(1.0, 8)  # never waives
    forbearing = _defaults_after_price_collapse(-1.0, 8)  # waives whatever foreclosing would recover
    # strict lenders foreclose once the cure period has run out
    assert strict[cure - 1] == 0 and strict[cure] > 0
    # lenders that waive every breach suspend enforcement for the waiver period (6 months)
    assert forbearing[cure] == 0
    assert forbearing[cure] < strict[cure]


def test_a_default_writes_nvidias_stake_down(fresh_24):
    m = fresh_24
    nc = m.neoclouds[1]
    m.equity.invest(m.nvidia, nc, 0.2, max(nc.valuation, 1.0))  # Nvidia joins an equity round
    stake = next(s for s in m.equity if s.holder == m.nvidia.eid and s.issuer == nc.eid)
    equity_before = m.ledger.equity[m.nvidia.eid]
    value = stake.value
    forfeited_before = m.ledger.income_of(m.nvidia.eid, "forfeited_deposit")
    surplus_before = m.ledger.income_of(m.nvidia.eid, "recovery")
    resolve_default(m, nc)
    assert stake not in list(m.equity)
    forfeited = m.ledger.income_of(m.nvidia.eid, "forfeited_deposit") - forfeited_before  # its chip deposits
    # as a shareholder it gets its share of whatever the lenders seized beyond their claims (absolute priority)
    surplus = m.ledger.income_of(m.nvidia.eid, "recovery") - surplus_before
    assert 0 <= surplus < value
    assert m.ledger.equity[m.nvidia.eid] == pytest.approx(equity_before - value + forfeited + surplus)
    assert any(e["event"] == "stake_writedown" and nc.name in e["agents"] for e in m.events)
    assert any(e["event"] == "default" and nc.name in e["agents"] for e in m.events)
    m.check_accounts()  # the default itself leaves the accounts closed


def test_a_default_hands_gpus_to_lenders_and_books_losses(fresh_24):
    m = fresh_24
    loan = _largest_loan(m)
    nc = m.entity[loan.borrower]
    gpus = m.fleet.count[m.fleet.rows_of(nc.eid)].sum()
    principal = sum(l.principal for l in m.loans.of_borrower(nc.eid) if l.status not in ("default", "repaid"))
    rows = m.fleet.rows_of(nc.eid)
    assets = float((m.fleet.count[rows] * m.used_gpus.prices[m.fleet.gen[rows]]).sum()) / 1e9 + max(m.ledger.cash[nc.eid], 0.0)
    assert assets > principal  # this borrower's GPUs and cash are worth more than its debt
    resolve_default(m, nc)
    assert m.fleet.rows_of(nc.eid).size == 0
    assert m.flow["gpus_seized"] == pytest.approx(gpus)
    assert m.fleet.count[m.fleet.rows_of(loan.lender)].sum() > 0
    assert loan.status == "default"
    # the credit loss is the principal less what the lenders recover (seized GPUs at market and cash), never more
    # than the principal; the prepaid compute they take on with the contracts is reported, not counted as a loss
    recovered = [e for e in m.events if e["event"] == "seizure"][-1]["amount_bn"]
    assert m.flow["lender_losses"] == pytest.approx(principal - recovered)
    assert -1e-9 <= m.flow["lender_losses"] <= principal  # absolute priority: no lender keeps more than it is owed
    assert "prepaid compute assumed" in [e for e in m.events if e["event"] == "default"][-1]["detail"]
    # the lenders keep what they are owed; the rest goes to the shareholders
    surplus = [e for e in m.events if e["event"] == "default_surplus" and nc.name in e["agents"]]
    assert surplus and surplus[-1]["amount_bn"] == pytest.approx(assets - principal, rel=0.05)
    m.check_accounts()


def test_a_lender_short_of_cash_sells_seized_gpus_to_pass_the_surplus_on(fresh_24):
    m = fresh_24
    loan = _largest_loan(m)
    nc = m.entity[loan.borrower]
    principal = sum(l.principal for l in m.loans.of_borrower(nc.eid) if l.status not in ("default", "repaid"))
    lenders = {l.lender for l in m.loans.of_borrower(nc.eid) if l.status not in ("default", "repaid")}
    for k in lenders:  # the lenders have lent out all their cash (the test sets it; the ledger check is not run)
        m.ledger.cash[k] = 0.0
    sold_before = m.fleet.sold_outside
    resolve_default(m, nc)
    surplus = [e for e in m.events if e["event"] == "default_surplus" and nc.name in e["agents"]]
    assert surplus and surplus[-1]["amount_bn"] > 0
    assert m.fleet.sold_outside > sold_before  # seized GPUs sold to raise the cash
    assert -1e-9 <= m.flow["lender_losses"] <= principal


def test_switching_off_nvidias_investments_removes_circular_revenue():
    base = run(48, seed=4).datacollector.get_model_vars_dataframe()
    off = run(48, seed=4, scenario="no_circular_financing").datacollector.get_model_vars_dataframe()
    assert base["circular_revenue_share"].max() > 0
    assert (off["circular_revenue_share"] == 0).all()
    assert (off["nvidia_stake_value"] == 0).all()
    assert (off["backstop_paid"] == 0).all()


def test_investee_preference_gives_investees_more_chips_when_scarce():
    from gpucredit.sim.markets.chips import allocate_chips
    requested = np.array([100.0, 100.0])
    pro_rata = allocate_chips(requested, np.array([1.0, 1.0]), 100.0)
    preferred = allocate_chips(requested, np.array([4.0, 1.0]), 100.0)
    assert pro_rata == pytest.approx([50.0, 50.0])
    assert preferred[0] > preferred[1] and preferred.sum() == pytest.approx(100.0)
    assert allocate_chips(requested, np.array([4.0, 1.0]), 500.0) == pytest.approx(requested)


def test_obsolescence_idles_old_gpus_through_the_compute_price():
    from gpucredit.sim.markets.compute import fill_merit_order
    available = np.array([10.0, 10.0])  # H100e of an old and a new generation
    cost = np.array([0.9, 0.2])  # running cost per H100e-hour
    fill = fill_merit_order(8.0, available, cost, price=1.0)
    assert fill[1] == pytest.approx(0.8) and fill[0] == 0.0  # the efficient generation is used first
    assert fill_merit_order(20.0, available, cost, price=0.5)[0] == 0.0  # price below its cost: idle


def test_a_funding_drought_makes_start_ups_fail_and_default_on_their_contracts():
    """Start-ups hire teams with the money they raise; when the rounds stop, the fixed costs run their cash down."""
    kw = {"startups.entry_rate": 0.0}
    failures = {"funded": 0, "drought": 0}
    alive = {"funded": 0, "drought": 0}
    for seed in (5, 6):  # two economies, so that the comparison is not one path's luck
        funded = run(36, seed=seed, **kw)
        drought = run(36, seed=seed, **kw, **{"startups.funding_rate": 0.0})
        for name, m in (("funded", funded), ("drought", drought)):
            failures[name] += m.startups.failures
            alive[name] += int(m.startups.alive.sum())
    assert failures["drought"] > 1.05 * failures["funded"]
    assert alive["drought"] < alive["funded"]
    defaults = [e for e in drought.events if e["event"] == "contract_default" and e["agents"].startswith("AI start-ups")]
    assert defaults, "failing start-ups should default on their compute contracts"


def test_investors_cap_a_lab_round_at_a_share_of_its_revenue_based_valuation(fresh_24):
    m = fresh_24
    lab = max(m.labs, key=lambda l: l.weight)
    m.expectations.sentiment = 0.9
    lab.last_round = -99
    m.ledger.cash[lab.eid] = 0.0  # short of cash: it goes to investors this month
    lab.value_firm()
    size = lab.wants_round()
    assert 0 < size <= m.p["labs.max_round_share"] * lab.valuation + 1e-12
    valuation = lab.valuation
    lab.revenue *= 0.01  # the same lab, burning as much, with a hundredth of the revenue
    lab.value_firm()
    lab.last_round = -99
    small = lab.wants_round()
    assert 0 < small <= m.p["labs.max_round_share"] * valuation / 100 + 1e-12
    assert small < size
    lab.last_round = m.month  # and no second round within the interval
    assert lab.wants_round() == 0.0


def test_speculative_orders_rise_with_tobins_q(fresh_24, monkeypatch):
    m = fresh_24
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    m.p["neoclouds.order_persistence"] = 0.0
    price = m.nvidia.list_price(m.newest_nvidia_gen)
    planned = []
    for npv_share in (-0.2, 0.1, 0.4, 2.0):
        monkeypatch.setattr(type(nc), "npv_per_gpu", lambda self, g, p, s=npv_share: s * price)
        monkeypatch.setattr(type(nc), "contracted_next", lambda self: 0.0)
        monkeypatch.setattr(type(nc), "financeable_units", lambda self, g, p: 1e12)
        nc.speculative_h100e = 0.0
        nc.plan_orders()
        planned.append(nc.planned_units)
    assert planned[0] == 0.0
    assert planned[0] < planned[1] < planned[2] <= planned[3]
    assert planned[3] == pytest.approx(nc.growth_room() / m.gens[m.newest_nvidia_gen].perf)


def test_a_neocloud_that_stops_building_pays_out_its_surplus_cash(fresh_24):
    m = fresh_24
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    nc.planned_units = 0.0
    nc.speculative_h100e = 0.0
    nc.last_raise = m.month - 12
    m.contracts.signed_by_provider[nc.eid] = 0.0  # nothing sold forward: nothing left to build
    m.ledger.cash[nc.eid] += 5.0
    before = m.ledger.cash[nc.eid]
    surplus = before - 2.0 * nc.cash_buffer()
    nc.pay_out_surplus()
    assert m.ledger.cash[nc.eid] == pytest.approx(before - m.p["neoclouds.payout_rate"] * surplus)
    # while it is ordering, the equity slices of its planned build-out are kept
    m.ledger.cash[nc.eid] = before
    nc.planned_units = 1e5
    nc.pay_out_surplus()
    assert before - m.p["neoclouds.payout_rate"] * surplus < m.ledger.cash[nc.eid] <= before
    # and a firm that raised equity in the last year hands nothing back
    m.ledger.cash[nc.eid] = before
    nc.last_raise = m.month - 3
    nc.pay_out_surplus()
    assert m.ledger.cash[nc.eid] == before

def test_a_delivery_beyond_the_arrangers_room_is_syndicated_to_other_lenders(fresh_24):
    m = fresh_24
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    arranger = nc.lender
    g = m.newest_nvidia_gen
    unit_price = m.nvidia.list_price(g)
    room = arranger.lending_room(nc.eid)
    # a delivery whose advance is three times what the arranger can still lend
    units = 3.0 * room / (arranger.origination_ltv() * min(unit_price, m.used_gpus.appraisal_per_gpu[g]) * 1e-9)
    m.ledger.cash[nc.eid] += units * unit_price * 1e-9  # it can pay the equity slice
    exposure = {l.eid: l.exposure_to(nc.eid) for l in m.lenders}
    rows_before = set(m.fleet.rows_of(nc.eid))
    nc.take_delivery(m.nvidia, [(g, units, unit_price, 0.0)])
    lent = {l.eid: l.exposure_to(nc.eid) - exposure[l.eid] for l in m.lenders}
    joined = [eid for eid, v in lent.items() if v > 1e-9]
    assert arranger.eid in joined and len(joined) >= 2, "other lenders should join the facility"
    assert lent[arranger.eid] == pytest.approx(room)
    # each tranche is secured by its own share of the new GPUs, pro rata to what it lent
    new_rows = [r for r in m.fleet.rows_of(nc.eid) if r not in rows_before]
    pledged_units = {}
    for r in new_rows:
        pledged_units[m.loans[m.fleet.pledged[r]].lender] = pledged_units.get(m.loans[m.fleet.pledged[r]].lender, 0.0) + m.fleet.count[r]
    assert sum(pledged_units.values()) == pytest.approx(units)
    for eid in joined:
        assert pledged_units[eid] / units == pytest.approx(lent[eid] / sum(lent.values()))
    # with a syndicate of one the arranger's room caps the debt
    m2 = run(24, seed=3, **{"lenders.syndicate_size": 1})
    nc2 = max(m2.neoclouds, key=lambda n: n.capacity())
    assert all(l.lender == nc2.relationship_lender for l in m2.loans.of_borrower(nc2.eid))


def test_capacity_sold_forward_is_built_ahead_and_paid_only_once_it_starts():
    m = run(6, seed=2)
    lead = m.p["contracts.lead_months"]
    forward = [c for c in m.contracts if c.active and c.start > m.month]
    assert forward, "neoclouds should sell capacity they have yet to build forward"
    c = min(forward, key=lambda c: c.start)
    assert c.start - m.month <= lead
    provider = m.entity[c.provider]
    # it is in the provider's backlog and its signed capacity, but not yet served or paid
    assert m.contracts.signed_by_provider[c.provider] > m.contracts.contracted_by_provider[c.provider]
    paid_before = c.prepaid
    assert provider.contracted() >= c.qty
    while m.month + 1 < c.start:
        m.step()
        assert c.prepaid == paid_before, "no prepayment is released before the start"
    # within neoclouds.install_months of the start, the provider plans GPUs for it
    assert m.contracts.contracted_next_by_provider[c.provider] >= m.contracts.contracted_by_provider[c.provider] + c.qty - 1e-6
    m.step()  # the start month: it is served and paid
    assert c.start == m.month
    assert c.prepaid < paid_before
    assert m.customer_payments[c.provider][c.customer] > 0


def test_a_chip_order_is_filled_after_the_lead_time_with_its_deposit_applied():
    m = run(6, seed=2)
    lead = m.p["nvidia.order_lead_months"]
    h, nv = m.hyperscalers[0], m.nvidia
    before = balance_sheets(m)
    order = m.chips.place(h.eid, nv, 50_000.0)
    after = balance_sheets(m)
    # the deposit is the buyer's asset and Nvidia's liability until the chips arrive
    assert order.deposit == pytest.approx(m.p["nvidia.deposit_share"] * 50_000.0 / m.gens[m.newest_nvidia_gen].perf
                                          * nv.list_price(m.newest_nvidia_gen) * 1e-9)
    assert after["chip_deposits"][h.eid] - before["chip_deposits"][h.eid] == pytest.approx(order.deposit)
    assert after["customer_advances"][nv.eid] - before["customer_advances"][nv.eid] == pytest.approx(order.deposit)
    ratio, placed = order.deposit / order.h100e, order.month
    for _ in range(lead - 1):
        m.step()
        assert order.h100e == 50_000.0, "nothing is shipped before the lead time"
    # due: the buyer shares each month's output with the other buyers, and its own orders fill oldest first
    for _ in range(12):
        m.step()
        still_open = order in m.chips.orders(nv.eid, h.eid)  # a filled order leaves the book
        if not still_open or order.h100e < 50_000.0:
            break
    assert not still_open or order.h100e < 50_000.0
    older = [o for o in m.chips.orders(nv.eid, h.eid) if o.month < placed]
    assert not older, "a buyer's older orders are filled first"
    assert not still_open or order.deposit / order.h100e == pytest.approx(ratio), "the deposit is applied pro rata"
    assert m.flow["nvidia_allocation_ratio"] > 0


def test_buyers_count_what_they_have_on_order():
    m = run(6, seed=2)
    h = m.hyperscalers[0]
    m.chips.tally()
    prior = h.planned_h100e
    h.plan_orders()
    without = h.planned_h100e
    h.planned_h100e = prior
    m.chips.on_order[h.eid] += 1e7  # a large order outstanding: the gap to its target is covered
    h.plan_orders()
    assert h.planned_h100e < without
    g = m.newest_nvidia_gen
    m.p["neoclouds.max_growth"] = 2.0  # growth room (which counts orders as fleet) not binding: money and power bind
    nc = max(m.neoclouds, key=lambda n: n.financeable_units(g, m.nvidia.list_price(g)))
    free = nc.financeable_units(g, m.nvidia.list_price(g))
    assert free > 0
    m.chips.on_order[nc.eid] += 0.5 * free * m.gens[g].perf  # half its room is spoken for by GPUs it has on order
    assert nc.financeable_units(g, m.nvidia.list_price(g)) < free


def test_a_syndicate_is_asked_for_room_only_until_cash_binds_instead():
    """The GPUs a neocloud's syndicate funds the advance on are worked out lender by lender, stopping once they exceed
    what its cash pays the equity slice of: the financing bound min(debt-funded, cash-funded) is the same as with every
    lender asked, whatever the cash."""
    m = run(24, seed=0)
    g = m.newest_nvidia_gen
    price = m.nvidia.list_price(g)
    checked = 0
    for nc in m.neoclouds:
        syndicate = nc.syndicate()
        advance = nc.advance_per_gpu(syndicate, g, price)
        rooms = [lender.lending_room(nc.eid) for lender in syndicate]
        if advance <= 0 or sum(1 for r in rooms if r > 0) < 2:
            continue  # a bound of one lender's room proves nothing about asking the others
        on_order = m.chips.on_order[nc.eid] / m.gens[g].perf
        every_lender = max(0.0, sum(rooms) - on_order * advance) / advance
        assert units_funded(syndicate, nc.eid, advance, on_order) == every_lender
        arranger_only = max(0.0, rooms[0] - on_order * advance) / advance
        for cash_funds in [0.0, 0.5 * arranger_only, arranger_only, 0.5 * (arranger_only + every_lender),
                           every_lender, 2.0 * every_lender]:
            asked = units_funded(syndicate, nc.eid, advance, on_order, cash_funds)
            assert min(asked, cash_funds) == min(every_lender, cash_funds), (nc.name, cash_funds)
        checked += 1
    assert checked > 0


def test_a_buyer_that_cannot_pay_for_its_allocation_forfeits_that_part_of_its_deposit():
    m = run(6, seed=2)
    nv = m.nvidia
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    order = m.chips.place(nc.eid, nv, 20_000.0, deposit_share=0.1)
    deposit = order.deposit
    assert deposit > 0
    # its cash covers only part of the equity slice (the test sets it; the ledger check is not run)
    m.ledger.cash[nc.eid] = deposit
    supply = nv.supply(m.month)
    mix = m.chips.output_mix(nv, supply, sum(units * m.gens[g].perf for g, units in supply.items()))
    nvidia_forfeits_before = m.ledger.income_of(nv.eid, "forfeited_deposit")  # other buyers' this month
    buyer_forfeits_before = m.ledger.income_of(nc.eid, "forfeited_deposit")
    shipped = m.chips.deliver([order.row], nv, 20_000.0, mix)
    assert 0 < shipped < 20_000.0  # only what its cash, deposit and loan advances pay for
    assert order.h100e == pytest.approx(0.0) and order.deposit == pytest.approx(0.0)
    cancelled = [e for e in m.events if e["event"] == "chip_order_cancelled"]
    assert cancelled and cancelled[-1]["units"] == pytest.approx(20_000.0 - shipped)
    forfeit = cancelled[-1]["amount_bn"]
    assert 0 < forfeit < deposit
    assert m.ledger.income_of(nc.eid, "forfeited_deposit") - buyer_forfeits_before == pytest.approx(-forfeit)
    assert m.ledger.income_of(nv.eid, "forfeited_deposit") - nvidia_forfeits_before == pytest.approx(forfeit)


def test_a_defaulting_neocloud_forfeits_its_open_chip_orders(fresh_24):
    m = fresh_24
    nv = m.nvidia
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    deposit = m.chips.place(nc.eid, nv, 10_000.0, deposit_share=0.1).deposit
    open_before = sum(o.h100e for o in m.chips.orders(nv.eid, nc.eid))
    assert open_before >= 10_000.0
    resolve_default(m, nc)
    assert not m.chips.orders(nv.eid, nc.eid)
    assert m.ledger.income_of(nv.eid, "forfeited_deposit") >= deposit - 1e-12 or deposit == 0
    assert balance_sheets(m)["chip_deposits"][nc.eid] == 0.0
    assert sum(e["units"] for e in m.events if e["event"] == "chip_order_cancelled" and e["date"] == m.date) == pytest.approx(open_before)


def test_term_buyers_pay_no_more_than_the_capped_multiple_of_the_full_cost_of_new_capacity():
    capped = run(12, seed=4).datacollector.get_model_vars_dataframe()
    uncapped = run(12, seed=4, **{"markets.contract_price_cap": 10.0}).datacollector.get_model_vars_dataframe()
    cap = 1.3  # the default
    # contracts are signed on last month's fundamental (the full cost of new capacity)
    bound = cap * capped["fundamental_price_h100e"].shift(1).iloc[1:]
    assert (capped["contract_price_h100e"].iloc[1:] <= bound * (1 + 1e-9)).all()
    # in the 2023 boom, extrapolated spot prices would have priced term contracts above it
    loose = uncapped["contract_price_h100e"].iloc[1:] > cap * uncapped["fundamental_price_h100e"].shift(1).iloc[1:]
    assert loose.sum() >= 3
    assert uncapped["contract_price_h100e"].max() > 1.5 * capped["contract_price_h100e"].max()


def test_delivered_gpus_serve_compute_only_once_installed(fresh_24):
    m = fresh_24
    deploy = m.p["technology.deploy_months"]
    assert deploy > 0
    nc = max(m.neoclouds, key=lambda n: n.capacity())
    g = m.newest_nvidia_gen
    live_before, power_before, installing_before = m.fleet.capacity_by_owner[nc.eid], m.fleet.power_by_owner[nc.eid], nc.installing()
    m.chips.ship(nc.eid, m.nvidia, g, 10_000.0, m.nvidia.list_price(g))
    row = m.fleet.n - 1
    m.refresh_capacity()
    # owned and drawing power, but not serving compute: not in the capacity that sells or serves contracts
    assert m.fleet.capacity_by_owner[nc.eid] == pytest.approx(live_before)
    assert nc.installing() == pytest.approx(installing_before + 10_000.0 * m.perf[g])
    assert m.fleet.power_by_owner[nc.eid] > power_before
    m.clear_compute_market()
    assert m.spot.cohort_active[row] == 0.0
    # once installed it serves compute like the rest of the fleet
    m.month += deploy
    m.refresh_capacity()
    assert m.fleet.capacity_by_owner[nc.eid] == pytest.approx(live_before + installing_before + 10_000.0 * m.perf[g])
    m.clear_compute_market()
    assert m.spot.cohort_active[row] > 0.0


def test_labs_that_plan_for_expected_growth_sign_more_forward_capacity_and_neoclouds_borrow_for_it():
    # one lab's demand at a given price: with no expected growth the planning horizon changes nothing; with
    # expected growth it asks for its budget grown over the horizon
    m = run(12, seed=3)
    lab = max(m.labs, key=lambda l: l.budget)
    price = m.term.price
    m.p["labs.planning_months"] = 0
    now = lab.contract_demand(price)
    m.p["labs.planning_months"] = 12
    m.expectations.revenue_factor = lambda months, weight=None: 1.0  # the market expects no growth
    assert lab.contract_demand(price) == pytest.approx(now)
    m.expectations.revenue_factor = lambda months, weight=None: 2.0 ** (months / 12.0)  # AI revenue to double in a year
    assert lab.contract_demand(price) > now
    # in the economy: labs that size contracts for the needs they expect sign more of them, and the
    # neoclouds borrow against the GPUs they buy to serve them
    def labs_signed_and_neocloud_debt(months_ahead):  # summed over six paired seeds (one seed's path is noisy)
        signed = debt = 0.0
        for seed in range(6):
            e = run(24, seed=seed, **{"labs.planning_months": months_ahead})
            signed += sum(e.contracts.signed_by_customer.get(l.eid, 0.0) for l in e.labs)
            debt += sum(e.loans.debt_of(n.eid) for n in e.neoclouds)
        return signed, debt
    signed_0, debt_0 = labs_signed_and_neocloud_debt(0)
    signed_12, debt_12 = labs_signed_and_neocloud_debt(12)
    assert signed_12 > 1.2 * signed_0
    assert debt_12 > debt_0


def test_a_zero_cost_of_capital_is_the_limit_of_a_small_one_and_runs():
    """The full cost of new capacity at a zero rate is straight-line recovery, the annuity's limit (it divided by
    zero); an economy with zero SOFR and zero spreads, and one with no term contracts at all, run to the end."""
    from gpucredit.agents.investment import fundamental_price

    assert fundamental_price(30_000.0, 0.2, 0.1, 0.0, 72) == pytest.approx(fundamental_price(30_000.0, 0.2, 0.1, 1e-9, 72))
    assert fundamental_price(30_000.0, 0.2, 0.1, 0.0, 72) < fundamental_price(30_000.0, 0.2, 0.1, 0.05, 72)
    free_money = run(48, seed=2, **{"lenders.spread_ig": 0.0, "rates.sofr_long_run": 0.0})
    assert free_money.month == 47
    no_contracts = run(24, seed=2, **{"labs.contract_share": 0.0, "hyperscalers.overflow_share": 0.0})
    assert no_contracts.month == 23
    assert not any(c.customer != no_contracts.startups.eid for c in no_contracts.contracts if c.kind != "rent_back")


def test_a_lab_whose_funding_stops_defaults_on_its_contracts_and_its_providers_collateral_falls(fresh_24):
    m = fresh_24
    books = m.contracts.contract_payments_by_customer
    lab = max((l for l in m.labs if l.alive), key=lambda l: books.get(l.eid, 0.0))
    rows = m.contracts.rows_of(customer=lab.eid)
    pledged = m.contracts.column("loan")[rows]
    loans = [m.loans[int(i)] for i in np.unique(pledged[pledged >= 0])]  # the facilities its contracts secure
    assert loans and books.get(lab.eid, 0.0) > 0
    m.loans.mark_all()
    collateral = sum(l.collateral_value for l in loans)
    labs_part = m.p["lenders.contract_collateral_share"] * float(m.contracts.remaining_value(rows[pledged >= 0]).sum())
    # its funding stops: no venture money, its cash is gone and its users leave
    m.p["venture.revenue_multiple"] = 0.0
    m.ledger.pay(lab.eid, m.ledger.sector("venture_and_public_equity"), float(m.ledger.cash[lab.eid]), "payout")
    lab.weight = 0.0
    m.contracts.collect_payments()  # this month's instalments fall due: it cannot pay them
    assert not lab.alive and m.flow["lab_failures"] == 1
    assert any(e["event"] == "developer_failure" and lab.name in e["agents"] for e in m.events)
    assert not np.isin(rows, m.contracts.active_rows()).any()  # its contracts are gone
    # the providers' loans lose the collateral value of the lab's contracts (GPU prices unchanged)
    m.loans.mark_all()
    fell = collateral - sum(l.collateral_value for l in loans)  # (start-ups failing this month may take a little more)
    assert labs_part > 0 and labs_part * 0.999 <= fell <= labs_part * 1.05


def test_a_lender_whose_loan_marks_fall_meets_a_margin_call_and_stops_lending(fresh_24):
    m = fresh_24
    led = m.ledger
    lender = max(m.lenders, key=lambda l: l.book())
    borrower = next(nc.eid for nc in m.neoclouds if m.loans.exposure(lender.eid, nc.eid) == 0)  # a new borrower
    m.loans.mark_all()
    # it funds its book with its bank facility, 90% of the way to the advance rate, and has no spare cash or commitments
    drawn = 0.9 * m.p["lenders.advance_rate"] * lender.loan_marks()
    led.pay(led.sector("banks"), lender.eid, drawn, "facility_draw")
    lender.borrowings += drawn
    led.pay(lender.eid, led.sector("credit_investors"), float(led.cash[lender.eid]), "fund_outflow")
    lender.uncalled = 0.0
    assert lender.lending_room(borrower) > 0  # the facility's headroom still funds new loans
    # used-GPU prices fall by 95% (and the bank counts its loans' contracts for nothing): its loan marks fall
    m.p["lenders.contract_collateral_share"] = 0.0
    m.used_gpus.shock(3.0)
    m.loans.mark_all()
    lender.service_facility()
    assert lender.margin_call and lender.lending_room(borrower) == 0.0  # it cannot meet the call: no new lending
    assert any(e["event"] == "margin_call" and e["agents"] == lender.name for e in m.events)


def test_investors_redemptions_follow_a_lenders_losses(fresh_24):
    m = fresh_24
    lender = max(m.lenders, key=lambda l: l.book())
    m.lender_capital_total = sum(l.capital() for l in m.lenders)
    m.lender_uncalled_total = sum(l.uncalled for l in m.lenders)
    lender.uncalled = 5.0
    lender.raise_capital()
    without_losses = lender.uncalled
    lender.uncalled = 5.0
    lender.losses = 0.3 * lender.book()  # a default costs it 30% of its book this month
    cash = m.ledger.cash[lender.eid]
    lender.raise_capital()
    assert without_losses >= 5.0 > lender.uncalled  # investors withdraw commitments after losses, add them otherwise
    assert m.ledger.cash[lender.eid] < cash  # and redeem idle cash


def test_a_default_raises_the_spreads_other_borrowers_are_offered(fresh_24):
    m = fresh_24
    lender = max(m.lenders, key=lambda l: len({x.borrower for x in l.loans}))
    borrowers = list(dict.fromkeys(x.borrower for x in lender.loans if x.status == "performing"))
    assert len(borrowers) >= 2
    before = lender.spread(0.0), lender.spread(1.0)
    m.used_gpus.shock(5.0)  # its GPUs are worth next to nothing: the default costs the lender money
    worst = max(borrowers, key=lambda b: m.loans.exposure(lender.eid, b) - m.ledger.cash[b])  # least cash to repay
    resolve_default(m, m.entity[worst])
    assert lender.losses > 0
    after = lender.spread(0.0), lender.spread(1.0)
    assert after[0] > before[0] and after[1] > before[1]  # the others (investment-grade backed or not) pay more
