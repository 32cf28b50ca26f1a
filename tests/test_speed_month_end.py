"""The month-end phases (ageing, checks, record) skip or defer work whose result nothing reads, and take short ways
to the same figures. Each test checks a short way against the rule it stands for, on real runs, and asserts that the
comparison can tell them apart (a broken short way fails)."""

from __future__ import annotations

import numpy as np

from gpucredit.sim import GPUEconomy
from gpucredit.sim.technology import BY_OWNER


def _capacity_by_owner_now(m) -> dict[str, np.ndarray]:
    """Each owner's live and installing H100e and power drawn (MW), worked out from the fleet as it is now."""
    fleet = m.fleet
    owners = len(m.ledger.names) + 1
    own, cnt, gen = fleet.view("owner"), fleet.view("count"), fleet.view("gen")
    h100e = cnt * m.perf[gen]
    live = fleet.view("live_from") <= m.month
    return {"capacity_by_owner": np.bincount(own, weights=h100e * live, minlength=owners),
            "installing_by_owner": np.bincount(own, weights=h100e * ~live, minlength=owners),
            "power_by_owner": np.bincount(own, weights=cnt * m.facility_kw[gen] / 1000.0, minlength=owners)}


def test_capacity_by_owner_after_a_month_is_the_fleet_at_its_end(monkeypatch):
    """The ageing's refresh of capacity and power by owner is worked out when first read (no rule reads it before the
    next month's own refresh): read after a month, the figures are those of the fleet at the month's end, as the
    refresh at the end of the ageing gave. In some months the fleet changed after the chip trade's refresh (scrapping,
    fire sales, resales), so figures left as of then would fail."""
    from gpucredit.sim.model import GPUEconomy as Model

    before_ageing = []
    age = Model.age_the_economy

    def remember_figures(self):
        before_ageing.append({name: getattr(self.fleet, name).copy() for name in BY_OWNER})
        age(self)

    monkeypatch.setattr(Model, "age_the_economy", remember_figures)
    m = GPUEconomy("fact_neocloud_default", rng=6, **{"run.months": 36})
    stale_months = 0
    while m.running:
        m.step()
        now = _capacity_by_owner_now(m)
        for name in BY_OWNER:
            assert np.array_equal(getattr(m.fleet, name), now[name]), f"{name}, month {m.month}"
        stale_months += any(len(before_ageing[-1][name]) != len(now[name])
                            or not np.array_equal(before_ageing[-1][name], now[name]) for name in BY_OWNER)
    assert stale_months >= 5  # the figures as of the chip trade would have been wrong in these months


def _round_trip_over_every_firm(history) -> float:
    """The round-trip ratio as defined (sim/reporting/network.py): every firm's 12-month outlays added up, month by
    month, then each financed firm's Nvidia money times the share of its outlays paid to Nvidia."""
    from collections import defaultdict

    money, outlays, back = defaultdict(float), defaultdict(float), defaultdict(float)
    for month in list(history["nvidia_flows_to"])[-12:]:
        for firm, amount in month.items():
            money[firm] += amount
    for month in list(history["financed_outlays"])[-12:]:
        for firm, (total, nvidia) in month.items():
            outlays[firm] += total
            back[firm] += nvidia
    total_money = sum(money.values())
    if total_money <= 0:
        return 0.0
    return sum(amount * min(1.0, back[f] / outlays[f]) for f, amount in money.items() if outlays[f] > 0) / total_money


def test_the_round_trip_ratio_adds_up_only_the_outlays_it_reads(monkeypatch):
    """The round-trip ratio adds up the 12-month outlays of the firms Nvidia put money into, the only ones it reads:
    every month of a baseline run it is, bit for bit, the ratio worked out over every financed firm's outlays."""
    from gpucredit.sim.reporting.series import SeriesRecorder

    round_trip, ratios = SeriesRecorder._round_trip, []

    def both_ways(self, m, financed):
        ratio = round_trip(self, m, financed)
        assert ratio == _round_trip_over_every_firm(self.history), f"month {m.month}"
        ratios.append(ratio)
        return ratio

    monkeypatch.setattr(SeriesRecorder, "_round_trip", both_ways)
    m = GPUEconomy("baseline", rng=1, **{"run.months": 48})
    while m.running:
        m.step()
    assert len(ratios) == 48 and len(set(ratios)) > 30 and 0.0 < max(ratios) < 1.0
