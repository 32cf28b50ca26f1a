"""Corporate income tax: every profitable firm pays it, in arrears, on its taxable profit net of losses carried forward.

* **Taxpayers**: the chipmakers, neoclouds, AI labs and hyperscalers (their AI business: their core cash flow is
  modelled after tax). Credit funds are pass-through vehicles: their investors are taxed, not the fund, so lenders pay
  none. The start-up population is not taxed (a simplification: as a population it spends its funding rounds on
  compute, and its members' cash is tracked one by one outside the ledger's single account).
* **Taxable profit** of a month: the firm's book income of every kind (revenue, costs, interest, depreciation,
  scrapping, gains and losses on GPUs, defaults), less what is not taxed (``UNTAXED``): capital received or paid out
  (funding rounds, equity investments, payouts), the hyperscalers' core cash flow and unrealised revaluations of
  equity stakes.
* **Losses carried forward**: a loss adds to the firm's carried-forward losses, which later profits use up before any
  tax is due (no time limit, as for US federal losses since 2018).
* **Payment**: ``tax.corporate_rate`` of the profit left is assessed at the end of the month (phase 13) and paid to
  the government the next month (phase 9), as far as the firm's cash goes; the rest stays due. A firm that exits owes
  nothing more.
"""

from __future__ import annotations

from collections import defaultdict

from ..ledger import KINDS

TAXPAYERS = ("chipmaker", "hyperscaler", "neocloud", "lab")
# entries outside the tax base: capital (funding rounds, equity investments received, payouts), the hyperscalers'
# non-AI cash flow (after tax already), unrealised marks on stakes, and the tax itself
UNTAXED = frozenset({k for k, kind in KINDS.items() if "capital" in (kind.payer_books, kind.payee_books)}
                    | {"core_cash_flow", "stake_revaluation", "stake_writedown", "corporate_tax"})


class CorporateTax:
    """Each taxpayer's carried-forward losses and tax due (``economy.taxes``)."""

    def __init__(self, economy):
        self.economy = economy
        self.losses_carried: dict[int, float] = defaultdict(float)  # US$bn
        self.due: dict[int, float] = defaultdict(float)  # assessed, not yet paid, US$bn
        self.paid = 0.0  # this month, all firms, US$bn
        self._taxpayer: list[bool] = []  # by entity id: its role is one of TAXPAYERS

    def taxpayers(self, roles: list[str]) -> list[bool]:
        """Whether each entity (by id) pays corporate tax, its role being one of ``TAXPAYERS`` (worked out again only
        when entities were added: an entity's role never changes)."""
        if len(self._taxpayer) != len(roles):
            self._taxpayer = [role in TAXPAYERS for role in roles]
        return self._taxpayer

    def taxable_income(self) -> dict[int, float]:
        """This month's taxable profit (+) or loss (-) of every taxpayer with income, US$bn."""
        led = self.economy.ledger
        income: dict[int, float] = defaultdict(float)
        taxpayer = self.taxpayers(led.roles)
        for item, by_entity in led.income.items():
            if item in UNTAXED:
                continue
            for eid, amount in by_entity.items():
                if taxpayer[eid]:
                    income[eid] += amount
        return income

    def assess(self) -> None:
        """At the month's end: the profit of each taxpayer above its carried-forward losses is taxed at
        ``tax.corporate_rate``; a loss is carried forward."""
        rate = self.economy.p["tax.corporate_rate"]
        for eid, profit in self.taxable_income().items():
            carried = self.losses_carried[eid]
            if profit <= 0.0:
                self.losses_carried[eid] = carried - profit
                continue
            used = min(carried, profit)
            self.losses_carried[eid] = carried - used
            self.due[eid] += rate * (profit - used)

    def collect(self) -> None:
        """Each live taxpayer pays what it owes, as far as its cash goes; a firm that has exited owes nothing."""
        m = self.economy
        led = m.ledger
        government = led.sector("government")
        self.paid = 0.0
        for eid in [e for e, owed in self.due.items() if owed > 0.0]:
            if not getattr(m.entity.get(eid), "alive", True):
                self.due[eid] = 0.0
                continue
            amount = min(self.due[eid], max(0.0, led.cash[eid]))
            if amount > 0.0:
                led.pay(eid, government, amount, "corporate_tax")
                self.due[eid] -= amount
                self.paid += amount
