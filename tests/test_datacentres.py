"""Data-centre construction finance (sim/finance/datacentres.py): the leaders build part of their power capacity
with construction debt and long lead times; the small neoclouds lease."""

import pytest

from gpucredit.sim import GPUEconomy
from gpucredit.sim.credit.default import resolve_default
from gpucredit.sim.finance.datacentres import BUILDING, OWNED
from gpucredit.sim.ledger import PAIR
from gpucredit.sim.parameters import ParameterError, resolve
from tests.conftest import run


def _lead(m):
    return next(nc for nc in m.neoclouds if nc.name == "CoreWeave")


def test_a_builds_debt_rises_while_it_is_built_and_its_capacity_hosts_gpus_only_after_the_lead_time():
    m = GPUEconomy(rng=1, **{"run.months": 30})
    lead = _lead(m)
    build, path = None, []  # (month, its debt, its status, the lead's power and owned MW)
    while m.running:
        m.step()
        if build is None and m.datacentres.of(lead.eid):
            build = m.datacentres.of(lead.eid)[0]
        if build is not None:
            path.append((m.month, build.debt, build.status, lead.power_mw, lead.owned_mw))
    assert build is not None and build.status == OWNED, "the lead neocloud should finish its first data centre by mid-2025"
    building = [row for row in path if row[2] == BUILDING]
    done_month = next(month for month, _, status, _, _ in path if status == OWNED)
    # funded every month, it takes exactly datacentres.build_months: spending from its first month to the month before
    # it can host GPUs
    assert done_month + 1 == build.start + m.p["datacentres.build_months"] == build.ready
    debts = [debt for _, debt, _, _, _ in building]
    assert all(b > a for a, b in zip(debts, debts[1:])) and debts[-1] > 0  # draws and capitalised interest
    assert debts[-1] > m.p["datacentres.debt_share"] * build.cost  # capitalised interest on top of the draws
    # none of its MW can host GPUs until it is complete; then all of them, owned
    before, after = path[len(building) - 1], path[len(building)]
    assert before[4] == 0.0 and after[4] == pytest.approx(build.mw)
    assert lead.owned_mw == pytest.approx(sum(b.mw for b in m.datacentres.of(lead.eid, OWNED)))
    m.check_accounts()


def test_a_builder_pays_no_lease_on_the_capacity_it_owns(baseline_24):
    m = baseline_24
    lead = _lead(m)
    assert lead.owned_mw > 0
    lease = -m.ledger.income_of(lead.eid, "data_centre_lease")
    assert lease == pytest.approx((lead.power_mw - lead.owned_mw) * m.p["neoclouds.power_cost"] * 1e-3)
    assert lease < lead.power_mw * m.p["neoclouds.power_cost"] * 1e-3 - 1e-6


def test_small_neoclouds_never_build_and_only_the_named_leaders_do():
    m = run(18, seed=2, **{"population.small_neoclouds": 30, "datacentres.builders": 5, "datacentres.build_share": 1.0})
    small = [nc for nc in m.neoclouds + m.defunct if not nc.named]
    assert small and not any(nc.builds for nc in small)
    assert not any(m.datacentres.of(nc.eid) for nc in small)
    for nc in small:  # they lease all their capacity
        assert nc.owned_mw == 0.0
        assert -m.ledger.income_of(nc.eid, "data_centre_lease") == pytest.approx(nc.power_mw * m.p["neoclouds.power_cost"] * 1e-3)
    two = GPUEconomy(rng=2, **{"run.months": 1, "datacentres.builders": 2})
    assert sorted(nc.name for nc in two.neoclouds if nc.builds) == ["CoreWeave", "Crusoe"]  # the largest by MW
    assert not any(nc.builds for nc in GPUEconomy(rng=2, **{"run.months": 1, "datacentres.builders": 0}).neoclouds)


@pytest.mark.parametrize("rate", [0.3, 1.0])
def test_a_builders_default_passes_its_datacentres_to_the_construction_lender_at_the_recovery_rate(fresh_24, rate):
    m = fresh_24
    m.p["datacentres.recovery_rate"] = rate
    lead = _lead(m)
    builds = m.datacentres.of(lead.eid)
    book, debt = sum(b.book for b in builds), sum(b.debt for b in builds)
    assert book > 0 and debt > 0
    banks = m.ledger.sector("banks")
    banks_cash, cash = m.ledger.cash[banks], m.ledger.cash[lead.eid]
    assert cash > 0
    resolve_default(m, lead)
    proceeds = rate * book
    recovered = min(proceeds, debt)
    # the construction lender pays the recovery value for the data centres and is repaid out of it, up to its claim
    assert m.ledger.cash[banks] - banks_cash == pytest.approx(recovered - proceeds)
    assert m.flow["construction_losses"] == pytest.approx(debt - recovered)
    # what the data centres fetch beyond the construction debt goes to the firm's GPU lenders with its cash
    to_lenders = sum(v for pair, v in m.ledger.flows["recovery"].items() if pair // PAIR == lead.eid)
    assert to_lenders == pytest.approx(cash + proceeds - recovered)
    assert (proceeds > debt) == (rate == 1.0)  # both cases: a shortfall and an excess
    assert m.datacentres.of(lead.eid) == [] and m.datacentres.debt_of(lead.eid) == 0.0
    event = [e for e in m.events if e["event"] == "construction_default"][-1]
    assert event["amount_bn"] == pytest.approx(debt) and lead.name in event["agents"]
    m.check_accounts()  # the default leaves the accounts closed


def test_builds_raise_the_lead_neoclouds_debt_over_its_revenue():
    """Paired over seeds: the same economy with the leaders building has a lead neocloud whose debt (construction debt
    included) is a larger multiple of its trailing-12-month revenue at end-2025 than when every neocloud leases."""
    def ratio(seed, builders):
        m = GPUEconomy(rng=seed, record="series", **{"run.months": 36, "datacentres.builders": builders})
        while m.running:
            m.step()
        v = m.datacollector.model_vars
        return v["lead_neocloud_debt"][35] / sum(v["lead_neocloud_revenue"][24:36])

    for seed in (0, 1, 2):
        assert ratio(seed, 2) > 1.3 * ratio(seed, 0), seed


def test_construction_parameters_out_of_range_are_refused_in_one_line():
    with pytest.raises(ParameterError) as err:
        resolve({"datacentres.build_months": 40})
    assert "datacentres.build_months" in str(err.value) and "[6, 36]" in str(err.value) and "\n" not in str(err.value)
