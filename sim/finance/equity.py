"""Equity stakes and funding rounds.

* :meth:`EquityRegister.invest` -- an investor buys new shares at a pre-money valuation; every existing holder is
  diluted (one rule for every round).
* :meth:`EquityRegister.fund_labs` -- labs raise rounds from venture and public equity when they want one
  (:meth:`~gpucredit.agents.labs.Lab.wants_round`), Nvidia taking up to ``nvidia.lab_round_share``; venture investors'
  part comes out of the month's finite allotment (:mod:`.venture`), as does neoclouds'.
* :meth:`EquityRegister.fund_neoclouds` -- neoclouds raise what they need (or a growth round) when sentiment is above
  ``neoclouds.raise_threshold``, at most every ``neoclouds.round_interval_months`` and at most
  ``neoclouds.max_round_share`` of their valuation; Nvidia takes up to ``nvidia.neocloud_round_share`` of its
  customers' rounds.
* :meth:`EquityRegister.mark` -- stakes are marked to the issuer's valuation each month.

The stakes are one columnar table (:class:`EquityRegister`, one row per holder and issuer, in the order first bought;
:class:`~gpucredit.sim.contracts.claims.EquityStake` is a view of a row): dilution, marks and sums by holder or issuer
are column operations. Sums add the stakes in turn, in row order.
"""

from __future__ import annotations

import numpy as np

from ..contracts.claims import EquityStake
from ..table import Table, added_in_turn

COLUMNS = {  # name -> (dtype, value of an empty row)
    "id": (np.int64, 0), "holder": (np.int64, 0), "issuer": (np.int64, 0), "share": (float, 0.0),
    "cost": (float, 0.0), "value": (float, 0.0), "since": (np.int64, 0),  # US$bn paid; US$bn at the last mark; month
}


class EquityRegister(Table):
    """Every equity stake one agent holds in another (``economy.equity``): a table with one row per holder and issuer
    (:class:`gpucredit.sim.table.Table`), and the rules of rounds, marks and write-offs."""

    def __init__(self, economy, capacity: int = 64):
        super().__init__(COLUMNS, capacity)
        self.economy = economy
        self._next_id = 0  # the stakes' ids, in the order they are bought

    def __iter__(self):
        """Every stake, as views, in the order first bought."""
        return (EquityStake(self, r) for r in range(self.n))

    def rows_of(self, holder: int | None = None, issuer: int | None = None) -> np.ndarray:
        """Rows of the stakes ``holder`` holds and/or of those in ``issuer``, in the order first bought."""
        return self.rows_where(holder=holder, issuer=issuer)

    def stakes_in(self, issuer: int) -> list[EquityStake]:
        """The stakes in ``issuer``, as views."""
        return [EquityStake(self, r) for r in self.rows_of(issuer=issuer).tolist()]

    def investees_of(self, holder: int) -> set[int]:
        """The firms ``holder`` holds a stake in."""
        return set(self.column("issuer")[self.column("holder") == holder].tolist())

    def value_held_by(self, holder: int) -> float:
        """US$bn: the market value of ``holder``'s stakes."""
        return added_in_turn(self.column("value")[self.rows_of(holder)])

    def share_of(self, holder: int, issuer: int) -> float:
        """The share of ``issuer``'s equity ``holder`` owns (0-1)."""
        return added_in_turn(self.column("share")[self.rows_of(holder, issuer)])

    def held_share(self, issuer: int) -> float:
        """The share of ``issuer``'s equity the modelled holders own (the rest is outside investors')."""
        return added_in_turn(self.column("share")[self.rows_of(issuer=issuer)])

    def dilute(self, issuer: int, factor: float) -> None:
        """A round of new shares: every stake in ``issuer`` is multiplied by ``factor`` (pre-money / post-money)."""
        share = self.column("share")
        rows = self.rows_of(issuer=issuer)
        share[rows] = share[rows] * factor

    def write_off(self, issuer: int) -> None:
        """Every stake in ``issuer`` (defaulted) is written off, a loss to its holder, and leaves the register."""
        m = self.economy
        rows = self.rows_of(issuer=issuer)
        holder, value = self.column("holder"), self.column("value")
        for r in rows.tolist():
            m.ledger.book(int(holder[r]), -value[r], "stake_writedown")
            m.flow["stake_writedowns"] += value[r]
            m.events.log("stake_writedown", [m.entity[int(holder[r])].name, m.entity[issuer].name], value[r])
        if len(rows):
            self.keep((self.column("issuer") != issuer).nonzero()[0])

    def invest(self, investor, issuer, amount: float, pre_money: float) -> None:
        """``investor`` buys new shares of ``issuer`` for ``amount`` at ``pre_money`` valuation."""
        m = self.economy
        post = pre_money + amount
        share = amount / post
        self.dilute(issuer.eid, pre_money / post)
        rows = self.rows_of(investor.eid, issuer.eid)
        if len(rows):
            row = int(rows[0])
        else:
            row = int(self.append(id=self._next_id, holder=investor.eid, issuer=issuer.eid, since=m.month)[0])
            self._next_id += 1
        c = self._columns
        c["share"][row] += share
        c["cost"][row] += amount
        c["value"][row] += amount
        investor.strategic_budget = max(0.0, investor.strategic_budget - amount)
        investor.invested += amount
        m.ledger.pay(investor.eid, issuer.eid, amount, "equity_investment")
        m.flow["nvidia_investment"] += amount
        m.nvidia_flows_to[issuer.eid] += amount

    def sell_to_outside_investors(self, issuer, amount: float, pre_money: float) -> None:
        """``issuer`` sells new shares for ``amount`` to venture and public equity at ``pre_money``: holders are diluted."""
        m = self.economy
        self.dilute(issuer.eid, pre_money / (pre_money + amount))
        m.ledger.pay(m.ledger.sector("venture_and_public_equity"), issuer.eid, amount, "funding_round")

    def fund_labs(self) -> None:
        """Labs that want a round raise it from venture and public equity, Nvidia taking up to
        ``nvidia.lab_round_share`` of it (within its strategic budget); Nvidia's part is an equity stake."""
        m = self.economy
        led = m.ledger
        rounds = []  # (lab, Nvidia's part, what it asks of venture investors)
        for lab in m.labs:
            if not lab.alive:
                continue
            lab.value_firm()
            size = lab.wants_round()
            if size <= 0:
                continue
            nvidia_part = min(m.p["nvidia.lab_round_share"] * size, m.nvidia.strategic_budget)
            rounds.append((lab, nvidia_part, size - nvidia_part))
        granted = m.venture.ration([ask for _, _, ask in rounds]).tolist() if rounds else []
        for (lab, nvidia_part, _), vc_part in zip(rounds, granted):
            lab.last_round = m.month
            led.pay(led.sector("venture_and_public_equity"), lab.eid, vc_part, "funding_round")
            if nvidia_part > 1e-6 and lab.valuation > 0:
                self.invest(m.nvidia, lab, nvidia_part, lab.valuation)
            m.events.log("equity_raise", [lab.name] + (["Nvidia"] if nvidia_part > 1e-6 else []), vc_part + nvidia_part)

    def strategic_neoclouds(self) -> set[int]:
        """The neoclouds whose rounds Nvidia joins: those it already holds, then its largest neocloud customers by chip
        purchases over the last 12 months, until it holds ``nvidia.max_neocloud_investees`` (Nvidia invests
        selectively, in large and fast-growing customers, not in every raise; the rest raise from venture and public
        equity alone, so investees and non-investees coexist)."""
        m = self.economy
        neoclouds = {nc.eid for nc in m.neoclouds}
        held = self.investees_of(m.nvidia.eid) & neoclouds
        room = max(0, m.p["nvidia.max_neocloud_investees"] - len(held))
        if not room:  # it holds as many as it wants: no customer is ranked
            return held
        purchases = m.chips.sales_12m()
        ranked = sorted((eid for eid in purchases if eid in neoclouds and eid not in held), key=lambda e: (-purchases[e], e))
        return held | set(ranked[:room])

    def fund_neoclouds(self) -> None:
        """Neoclouds raise what they need (:meth:`~gpucredit.agents.neocloud.Neocloud.equity_need`, or a growth round)
        when sentiment allows; Nvidia joins the rounds of its strategic customers first (:meth:`strategic_neoclouds`),
        venture and public equity take the rest."""
        m = self.economy
        p = m.p
        customers = self.strategic_neoclouds()
        for nc in m.neoclouds:
            if (m.sentiment < p["neoclouds.raise_threshold"] or m.month - nc.last_raise < p["neoclouds.round_interval_months"]
                    or nc.valuation <= 0):
                continue
            need = nc.equity_need()
            need = max(need, nc.growth_round(need))
            if need <= 1e-4:
                continue
            amount = min(need, p["neoclouds.max_round_share"] * nc.valuation)
            nc.last_round_valuation = nc.valuation
            nvidia_part = 0.0
            if nc.eid in customers and m.nvidia.strategic_budget > 0:
                nvidia_part = min(p["nvidia.neocloud_round_share"] * amount, m.nvidia.strategic_budget)
            pre = nc.valuation
            if nvidia_part > 1e-6:
                self.invest(m.nvidia, nc, nvidia_part, pre)
                pre += nvidia_part
            vc = m.venture.grant(amount - nvidia_part)  # what venture investors have left this month
            amount = nvidia_part + vc
            if vc > 0:
                self.sell_to_outside_investors(nc, vc, pre)
            nc.last_raise = m.month
            m.events.log("equity_raise", [nc.name] + (["Nvidia"] if nvidia_part > 1e-6 else []), amount)

    def mark(self) -> None:
        """Every stake marked to its issuer's valuation (never below zero); the change is the holder's income."""
        if not self.n:
            return
        m = self.economy
        entity = m.entity
        valuation = np.array([max(getattr(entity[i], "valuation", 0.0), 0.0) for i in self.column("issuer").tolist()])
        value = self.column("value")
        new = self.column("share") * valuation
        m.ledger.book_all(self.column("holder"), new - value, ["stake_revaluation"] * self.n)
        value[:] = new
