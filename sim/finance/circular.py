"""Circular financing: money Nvidia puts into its customers beyond equity.

* **Capacity backstop.** From ``nvidia.backstop_start_year`` Nvidia commits to buy its largest neocloud investee's
  idle live capacity at the spot price, up to ``nvidia.backstop_cap`` US$bn in all, until
  ``nvidia.backstop_end_year`` (spread evenly over the remaining months).
* **Rent-backs.** Nvidia rents compute back from its two largest neocloud investees: a contract of
  ``nvidia.rentback_total`` US$bn over ``nvidia.rentback_months``, signed at the contract price without prepayment.
* :func:`financed_by_nvidia` -- the firms Nvidia finances this month (a stake, a live backstop or a rent-back), the
  basis of the circular revenue share and the round-trip ratio.

The backstops are one columnar table (:class:`Backstops`, one row per backstop;
:class:`~gpucredit.sim.contracts.claims.Backstop` is a view of a row).
"""

from __future__ import annotations

import numpy as np

from ..calendar import year_of
from ..contracts.claims import Backstop
from ..table import Table
from ..technology import H

COLUMNS = {  # name -> (dtype, value of an empty row)
    "id": (np.int64, 0), "guarantor": (np.int64, 0), "beneficiary": (np.int64, 0), "cap": (float, 0.0),  # US$bn
    "start": (np.int64, 0), "end": (np.int64, 0), "paid": (float, 0.0),  # months; US$bn paid so far
}


class Backstops(Table):
    """Capacity backstops, one row each in the order signed (:class:`gpucredit.sim.table.Table`)."""

    def __init__(self, capacity: int = 4):
        super().__init__(COLUMNS, capacity)
        self._next_id = 0

    def add(self, guarantor: int, beneficiary: int, cap: float, start: int, end: int) -> Backstop:
        """A backstop of ``cap`` US$bn from month ``start`` to ``end`` (excluded)."""
        row = self.append(id=self._next_id, guarantor=guarantor, beneficiary=beneficiary, cap=cap, start=start, end=end)
        self._next_id += 1
        return Backstop(self, int(row[0]))

    def __iter__(self):
        """Every backstop, as views, in the order signed."""
        return (Backstop(self, r) for r in range(self.n))

    def in_force_rows(self, month: int) -> np.ndarray:
        """Rows of the backstops in force in ``month``."""
        return ((self.column("start") <= month) & (month < self.column("end"))).nonzero()[0]

    def live_rows(self, month: int) -> np.ndarray:
        """Rows of the backstops in force in ``month`` with cap left."""
        rows = self.in_force_rows(month)
        return rows[~(self.column("paid")[rows] >= self.column("cap")[rows])]

    def live(self, month: int) -> list[Backstop]:
        """Backstops in force in ``month`` with cap left, as views."""
        return [Backstop(self, r) for r in self.live_rows(month).tolist()]

    def beneficiaries(self, month: int) -> set[int]:
        """The firms a backstop in force in ``month`` is in favour of."""
        return set(self.column("beneficiary")[self.in_force_rows(month)].tolist())

    def end_for(self, beneficiary: int, month: int) -> None:
        """The backstops in favour of ``beneficiary`` end in ``month`` (it left the market)."""
        end = self.column("end")
        end[self.column("beneficiary") == beneficiary] = month


class CircularFinance:
    """Nvidia's backstops (``economy.circular.backstops``, a :class:`Backstops` table) and the agreements that create
    them and rent-backs."""

    def __init__(self, economy):
        self.economy = economy
        self.backstops = Backstops()

    def sign_agreements(self) -> None:
        """The capacity backstop (with Nvidia's largest investee among neoclouds, from ``nvidia.backstop_start_year``)
        and rent-backs (with its two largest neocloud investees)."""
        m = self.economy
        p = m.p
        nv = m.nvidia
        alive = {nc.eid: nc for nc in m.neoclouds}
        rows = m.equity.rows_of(holder=nv.eid)  # its stakes in neoclouds still operating, the most valuable first
        stakes = zip(m.equity.column("issuer")[rows].tolist(), m.equity.column("value")[rows].tolist())
        held = [issuer for issuer, _ in sorted(((i, v) for i, v in stakes if i in alive), key=lambda s: -s[1])]
        if p["nvidia.backstop_cap"] > 0 and not self.backstops.n and year_of(m.month) >= p["nvidia.backstop_start_year"] and held:
            end = int(round((p["nvidia.backstop_end_year"] - 2023.0) * 12))
            if end > m.month:
                target = alive[held[0]]
                self.backstops.add(nv.eid, target.eid, p["nvidia.backstop_cap"], m.month, end)
                m.events.log("backstop_signed", ["Nvidia", target.name], p["nvidia.backstop_cap"])
        if p["nvidia.rentback_total"] > 0:
            signed = False
            have = m.contracts.rent_back_providers()
            price = m.term.price
            for issuer in held[:2]:
                if issuer in have or len(have) >= 2:
                    continue
                months = p["nvidia.rentback_months"]
                qty = p["nvidia.rentback_total"] / (months * price * H)
                c = m.contracts.sign(nv, issuer, qty, price, "ig", "rent_back", term=months, prepay_share=0.0)
                if c is not None:
                    have.add(issuer)
                    signed = True
                    m.events.log("rent_back_signed", ["Nvidia", alive[issuer].name], p["nvidia.rentback_total"])
            if signed:
                m.contracts.refresh_books()

    def pay_backstops(self) -> None:
        """Nvidia buys its beneficiary's idle live capacity at the spot price, up to the monthly cap."""
        m = self.economy
        led, fleet = m.ledger, m.fleet
        for b in self.backstops.live(m.month):  # in force, with cap left
            rows = fleet.rows_of(b.beneficiary)
            live = fleet.live_from[rows] <= m.month  # (fleet.live_rows of its rows only)
            idle = float(((fleet.count[rows] * m.perf[fleet.gen[rows]] - m.spot.cohort_active[rows]) * live).sum())
            value = min(max(idle, 0.0) * m.spot.price * H, b.monthly_cap(m.month), max(led.cash[b.guarantor], 0.0))
            if value > 1e-9:
                led.pay(b.guarantor, b.beneficiary, value, "backstop")
                b.paid += value
                m.flow["backstop_paid"] += value
                m.nvidia_flows_to[b.beneficiary] += value
                m.customer_payments[b.beneficiary][b.guarantor] += value
                m.events.log("backstop_draw", [m.entity[b.guarantor].name, m.entity[b.beneficiary].name], value)

    def live(self) -> list[Backstop]:
        """Backstops in force this month with cap left."""
        return self.backstops.live(self.economy.month)


def financed_by_nvidia(economy) -> set[int]:
    """Firms Nvidia finances this month: it holds equity in them, backstops them or rents compute back from them."""
    m = economy
    nv = m.nvidia.eid
    firms = m.equity.investees_of(nv)
    firms |= m.circular.backstops.beneficiaries(m.month)
    firms |= m.contracts.rent_back_providers_active()
    return firms
