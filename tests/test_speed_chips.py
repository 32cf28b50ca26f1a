"""Nvidia's chip sales over the last 12 months, by buyer (which customers it invests in, its customer concentration),
are added up from the closed months' sales kept as plain floats: to the last bit the sums of the sales as they were
booked, month after month, including the month still open. Each fleet cohort carries its generation's H100e and kW per
GPU, so that capacity and power by owner are added up without looking generations up: the columns must stay right
through splits, sales and compaction."""

from __future__ import annotations

from collections import defaultdict

from gpucredit.sim import GPUEconomy
from gpucredit.sim.markets.chips import ChipMarket


def _sum_by_buyer(months: list[dict]) -> dict[int, float]:
    totals: dict[int, float] = defaultdict(float)
    for month in months:
        for buyer, sale in month.items():
            totals[buyer] += sale
    return dict(totals)


def test_twelve_month_sales_are_the_sums_of_the_sales_booked(monkeypatch):
    """Every time the model asks (Nvidia choosing whom to invest in, the customer concentration recorded), the
    12-month sales are the sums of the last 11 closed months' sales and this month's, as booked."""
    booked: list[dict] = []  # each closed month's sales, as booked (before the history keeps them)
    close_month, sales_12m = ChipMarket.close_month, ChipMarket.sales_12m
    checked = []

    def keep_booked(self):
        booked.append(dict(self.sales))
        close_month(self)

    def checked_sales_12m(self):
        totals = sales_12m(self)
        assert self._closed_month != self.economy.month  # asked while the month is open
        assert totals == _sum_by_buyer(booked[-11:] + [self.sales]), f"month {self.economy.month}"
        checked.append(len(totals))
        return totals

    monkeypatch.setattr(ChipMarket, "close_month", keep_booked)
    monkeypatch.setattr(ChipMarket, "sales_12m", checked_sales_12m)
    m = GPUEconomy("baseline", rng=1, **{"run.months": 40})
    while m.running:
        m.step()
    assert len(checked) >= 40 and sum(checked) > 500  # buyers with sales, summed over the calls


def test_each_cohort_carries_its_generations_performance_and_power_through_splits_sales_and_compaction():
    """Capacity and power by owner are added up from each cohort's own H100e and kW per GPU: after a run with
    deliveries, seizures, fire sales (split cohorts) and monthly compaction, the columns are still the generation's
    figures, and the totals by owner are those of looking each cohort's generation up."""
    import numpy as np

    m = GPUEconomy("fact_neocloud_default", rng=6, **{"run.months": 48})
    while m.running:
        m.step()
    fleet = m.fleet
    gen = fleet.view("gen")
    assert fleet.n > 1000
    assert np.array_equal(fleet.view("h100e_per_gpu"), m.perf[gen])
    assert np.array_equal(fleet.view("kw_per_gpu"), m.facility_kw[gen])
    owners = len(m.ledger.names) + 1
    fleet.refresh(m.month, owners)
    own, cnt = fleet.view("owner"), fleet.view("count")
    live = fleet.view("live_from") <= m.month
    assert np.array_equal(fleet.capacity_by_owner, np.bincount(own, weights=cnt * m.perf[gen] * live, minlength=owners))
    assert np.array_equal(fleet.power_by_owner,
                          np.bincount(own, weights=cnt * m.facility_kw[gen] / 1000.0, minlength=owners))
