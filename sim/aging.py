"""The economy ages by a month: contracts expire, firms out of cash exit, repaid loans close, GPUs depreciate and
are scrapped, lenders' investors move capital, failing lenders fail, chipmakers respond to their order books, new generations launch.

* **Depreciation**: straight line on historical cost over ``technology.accounting_life_months``.
* **Scrapping**: GPUs past ``technology.physical_life_months``, and every GPU of a generation whose spot margin
  (spot price x performance - running cost) has been negative for ``technology.scrap_margin_months`` in a row.
"""

from __future__ import annotations

import numpy as np

from .credit.default import exits_for_want_of_cash
from .credit.lender_failure import fail_lenders


def age(economy) -> None:
    m = economy
    m.contracts.expire()
    exits_for_want_of_cash(m)
    m.loans.close_repaid()
    depreciate(m)
    scrap(m)
    m.fleet.compact()
    m.lender_capital_total = sum(l.capital() for l in m.lenders)
    m.lender_uncalled_total = sum(l.uncalled for l in m.lenders)
    for lender in m.lenders:
        lender.service_facility()
        lender.raise_capital()
    fail_lenders(m)  # funds with their net worth exhausted or a margin call long unmet
    for chip in (m.nvidia, m.rival):
        chip.respond_to_orders()
    for gen in m.gens:
        if gen.release == m.month:
            m.events.log("generation_launch", [gen.vendor], gen.launch_price, detail=gen.name)
    m.contracts.refresh_books()
    m.refresh_capacity(when_read=True)  # read by no rule before the next month's refresh


def depreciate(economy) -> None:
    """Straight-line depreciation of every cohort's book value."""
    m = economy
    led, fleet = m.ledger, m.fleet
    life = m.p["technology.accounting_life_months"]
    n = fleet.n
    dep = np.minimum(fleet.book[:n], fleet.cost[:n] / life)
    fleet.book[:n] -= dep
    by_owner = np.bincount(fleet.owner[:n], weights=dep, minlength=len(led.names))
    owners = (by_owner > 0).nonzero()[0]
    led.book_all(owners, -by_owner[owners], ["depreciation"] * len(owners))
    m.flow["depreciation"] = float(dep.sum())


def scrap(economy) -> None:
    """Scrap GPUs past their physical life and generations unprofitable to run for months on end."""
    m = economy
    p, led, fleet = m.p, m.ledger, m.fleet
    n = fleet.n
    margin_negative = m.spot.price * m.spot.relative_rents() * m.perf < m.running_cost  # at its own generation's rent
    m.negative_margin_months = np.where(margin_negative, m.negative_margin_months + 1, 0)
    old = (m.month - fleet.vintage[:n]) > p["technology.physical_life_months"]
    dead_gen = m.negative_margin_months >= p["technology.scrap_margin_months"]
    recyclers = led.sector("recyclers")
    scrap_rows = np.flatnonzero((fleet.count[:n] > 0) & (old | dead_gen[fleet.gen[:n]]))
    for r in scrap_rows:
        units = fleet.count[r]
        owner = int(fleet.owner[r])
        book = fleet.take_out(r, units, scrapped=True)
        led.book(owner, -book, "scrapping")
        led.move_gpus(owner, recyclers, units, "scrapping")
        m.flow["gpus_scrapped"] += units
    if len(scrap_rows):
        m.events.log("scrapping", sorted({m.entity[int(fleet.owner[r])].name for r in scrap_rows}), 0.0,
                     units=float(m.flow["gpus_scrapped"]))
