"""Double-entry bookkeeping: every payment moves cash from one named party to another.

Parties are *entities*: the model's agents and the named outside sectors (end users, foundry, utilities,
venture and public-equity investors, credit investors, bond investors, outside buyers of used GPUs, ...).
Each payment has a *kind* that says how each side books it:

* ``pnl``: income or expense; it changes the party's book equity (revenue, interest, power, ...);
* ``capital``: contributed capital or distributions; it changes book equity (equity raises, payouts);
* ``swap``: an exchange of cash for another asset or liability whose stock the caller changes
  (a GPU purchase adds GPUs at cost, a loan draw adds a liability, a prepayment a deferred revenue, ...).

Non-cash items (depreciation, revaluations, write-offs, gains and losses on sales) are booked with
:meth:`Ledger.book`. After every step the model checks, for every agent, that assets minus liabilities
equal book equity as accumulated from these entries, that the change in agent cash equals the net flow
with the outside sectors, and that GPUs are conserved; a violation raises :class:`AccountingError`
naming the agent, the step and the amounts.
"""

from __future__ import annotations

import math
from collections import defaultdict

# kind -> (payer's treatment, payee's treatment)
PAYMENT_KINDS: dict[str, tuple[str, str]] = {
    "ai_revenue": ("pnl", "pnl"),
    "core_cash_flow": ("pnl", "pnl"),
    "chip_sale": ("swap", "pnl"),
    "chip_deposit": ("swap", "swap"),
    "cost_of_goods": ("pnl", "pnl"),
    "operating_expense": ("pnl", "pnl"),
    "power_and_operations": ("pnl", "pnl"),
    "data_centre_lease": ("pnl", "pnl"),
    "compute_spot": ("pnl", "pnl"),
    "compute_cover": ("pnl", "pnl"),  # spot capacity a provider buys to serve contracts its own fleet cannot (cost of revenue)
    "compute_contract": ("pnl", "pnl"),
    "contract_prepayment": ("swap", "swap"),
    "backstop": ("pnl", "pnl"),
    "rent_back": ("pnl", "pnl"),
    "interest": ("pnl", "pnl"),
    "principal": ("swap", "swap"),
    "loan_draw": ("swap", "swap"),
    "recovery": ("pnl", "pnl"),
    "trade_credit_loss": ("pnl", "pnl"),
    "equity_investment": ("swap", "capital"),
    "payout": ("capital", "capital"),
    "fund_inflow": ("capital", "capital"),
    "fund_outflow": ("capital", "capital"),
    "bond_issue": ("swap", "swap"),
    "used_gpu_sale": ("swap", "swap"),
    "funding_round": ("capital", "capital"),
    "capital_call": ("capital", "capital"),  # investors pay in committed capital when a fund calls it
    "facility_draw": ("swap", "swap"),  # a fund draws on its bank back-leverage facility
    "facility_repayment": ("swap", "swap"),
    "facility_interest": ("pnl", "pnl"),
}
# kind -> (does it change the payer's book equity, the payee's): everything but a swap does
BOOKS_EQUITY: dict[str, tuple[bool, bool]] = {kind: (payer != "swap", payee != "swap")
                                              for kind, (payer, payee) in PAYMENT_KINDS.items()}

SECTORS = (
    "end_users",
    "foundry_and_suppliers",
    "staff_and_services",
    "utilities_and_data_centres",
    "venture_and_public_equity",
    "credit_investors",
    "bond_investors",
    "banks",  # back-leverage lenders to the credit funds
    "used_gpu_buyers",
    "hyperscaler_core_business",
    "chip_production",  # where new GPUs come from (GPU conservation)
)


class AccountingError(RuntimeError):
    """The accounts do not close: the run stops, naming the agent, the step and the amounts."""


class Ledger:
    def __init__(self):
        self.names: list[str] = []
        self.is_sector: list[bool] = []
        # per entity, as Python lists: payments update them one scalar at a time (numpy scalar indexing is slower)
        self.cash: list[float] = []
        self.equity: list[float] = []  # book equity accumulated from entries
        self.sector_id: dict[str, int] = {}
        self.sector_net_flow = 0.0  # net cash from sectors to agents during the current step
        # item -> {eid: amount this step (+ income, - expense)}, parties in the order of their first entry (int keys
        # hash faster than (eid, item) tuples: a payment books two of these)
        self.income: dict[str, dict[int, float]] = defaultdict(dict)
        for s in SECTORS:
            self.sector_id[s] = self.register(s, sector=True)

    def register(self, name: str, sector: bool = False, cash: float = 0.0, equity: float | None = None) -> int:
        eid = len(self.names)
        self.names.append(name)
        self.is_sector.append(sector)
        self.cash.append(0.0 if sector else float(cash))
        self.equity.append(0.0 if sector else float(cash if equity is None else equity))
        return eid

    def sector(self, name: str) -> int:
        return self.sector_id[name]

    def pay(self, payer: int, payee: int, amount: float, kind: str) -> None:
        """Move ``amount`` US$bn of cash from ``payer`` to ``payee`` and book both sides by ``kind``."""
        amount = float(amount)  # a numpy scalar would make every later sum of these balances slower (same value)
        if not 0.0 < amount < math.inf:  # zero: nothing to do; negative, infinite or NaN: an error
            if amount == 0.0:
                return
            raise AccountingError(f"payment '{kind}' from {self.names[payer]} to {self.names[payee]}: "
                                  f"invalid amount {amount!r}")
        payer_books, payee_books = BOOKS_EQUITY[kind]
        is_sector = self.is_sector
        if is_sector[payer]:
            self.sector_net_flow += amount
        else:
            self.cash[payer] -= amount
            if payer_books:
                self.equity[payer] -= amount
                income = self.income[kind]
                income[payer] = income.get(payer, 0.0) - amount
        if is_sector[payee]:
            self.sector_net_flow -= amount
        else:
            self.cash[payee] += amount
            if payee_books:
                self.equity[payee] += amount
                income = self.income[kind]
                income[payee] = income.get(payee, 0.0) + amount

    def book(self, eid: int, amount: float, item: str) -> None:
        """A non-cash income (+) or expense (-) item; the caller changes the matching stock."""
        if amount == 0.0 or self.is_sector[eid]:
            return
        if not math.isfinite(amount):
            raise AccountingError(f"non-cash item '{item}' for {self.names[eid]}: invalid amount {amount!r}")
        amount = float(amount)  # as in pay()
        self.equity[eid] += amount
        income = self.income[item]
        income[eid] = income.get(eid, 0.0) + amount

    def start_step(self) -> None:
        self.sector_net_flow = 0.0
        self.income = defaultdict(dict)

    def income_of(self, eid: int, *items: str) -> float:
        """This step's net income of ``eid`` from ``items`` (their sum in the order given), US$bn."""
        income = self.income
        return sum([income[item].get(eid, 0.0) if item in income else 0.0 for item in items])

    def income_total(self, item: str) -> float:
        """This month's ``item`` income of all parties (positive entries only, in the order of their first entry), US$bn."""
        income = self.income.get(item)
        return sum(v for v in income.values() if v > 0) if income else 0

    def agent_cash_total(self) -> float:
        return math.fsum(c for c, sector in zip(self.cash, self.is_sector) if not sector)
