"""Double-entry bookkeeping as a transaction-flow matrix: every payment moves cash from one named party to another.

Parties are *entities*: the model's agents and the outside sectors (end users, the foundry and suppliers, utilities,
venture and public-equity investors, credit investors, bond investors, outside buyers of used GPUs, recyclers, ...).
Each entity has a *role* (``neocloud``, ``lender``, ...; each outside sector is its own role). The outside sectors
are accounted entities like the agents: their cash and GPU positions are kept, so every row (party) and every column
(payment kind) of the month's transaction-flow matrix closes, in the sense of Godley and Lavoie (2007, *Monetary
Economics*, ch. 2): nothing comes from nowhere and nothing goes nowhere.

Each payment kind (:data:`KINDS`) declares

* how each side books it: ``pnl`` (income or expense: it changes book equity), ``capital`` (contributed capital or
  distributions: it changes book equity) or ``swap`` (cash for another asset or liability whose stock the caller
  changes: a loan draw adds a liability, a prepayment a deferred revenue, ...);
* which roles may pay it to which (its *routes*): interest goes from borrowers to lenders, never the other way; a
  payment on a route its kind does not declare is refused on the spot;
* whether it pays for GPUs: the GPUs then move in the same transaction, the other way (a chip sale moves the buyer's
  GPUs from the chipmaker, the cost of goods moves them from the foundry to the chipmaker); such a payment with no
  GPUs is refused, and so are GPUs moving with a payment kind that is not for GPUs.

Non-cash items (depreciation, revaluations, write-offs, releases of prepayments, ...) are booked with
:meth:`Ledger.book` under a declared name (:data:`NONCASH`): a *transfer* between two parties (a prepayment earned,
capitalised interest, a forfeited deposit, debt written off) must net to zero across the parties every month; the
others are one-sided changes in the value of one party's stock. GPUs that change hands without cash (opening fleets,
seizures, scrapping) move with :meth:`Ledger.move_gpus` on declared routes (:data:`GPU_TRANSFERS`).

The month-end checks (:mod:`.accounts`) then compare these flows with the stocks, and a violation raises
:class:`AccountingError` naming the party, the step, the payment kind and the amounts.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass
import numpy as np

from .ledger_flows import PAIR, MonthFlows, plain_list

SECTORS = (
    "end_users",
    "foundry_and_suppliers",  # paid the chipmakers' cost of goods; every GPU (the opening fleets too) comes from it
    "staff_and_services",
    "utilities_and_data_centres",
    "venture_and_public_equity",
    "credit_investors",
    "bond_investors",
    "banks",  # back-leverage lenders to the credit funds; construction lenders to the neoclouds that build
    "used_gpu_buyers",
    "hyperscaler_core_business",
    "recyclers",  # take the GPUs scrapped, for nothing
    "government",  # collects corporate income tax
)
AGENT_ROLES = ("chipmaker", "hyperscaler", "neocloud", "lender", "lab", "startups", "spot_exchange")
ROLES = AGENT_ROLES + SECTORS

# groups of roles named after what they do
GPU_OWNERS = ("hyperscaler", "neocloud", "lender")  # hold and run GPUs (a lender: GPUs it seized)
CHIP_BUYERS = ("hyperscaler", "neocloud")  # order chips from the chipmakers
PROVIDERS = ("hyperscaler", "neocloud", "lender")  # sell compute (a lender: under contracts it took over)
SPOT_BUYERS = ("lab", "startups", "hyperscaler")
CONTRACT_CUSTOMERS = ("lab", "startups", "hyperscaler")
FIRMS_WITH_SHAREHOLDERS = ("chipmaker", "hyperscaler", "neocloud", "lab", "startups")
DEVELOPERS = ("lab", "startups")

_INF = math.inf  # (a module name: read in every payment)

# the number of units in the last place of the ledger's largest balance below which a negative amount is rounding
ROUNDING_ULPS = 16


def _routes(*pairs) -> frozenset:
    """(payer role, payee role) pairs from ``(payers, payees)`` pairs, each a role or a tuple of roles."""
    out = set()
    for payers, payees in pairs:
        for a in (payers,) if isinstance(payers, str) else payers:
            for b in (payees,) if isinstance(payees, str) else payees:
                assert a in ROLES and b in ROLES, (a, b)
                out.add((a, b))
    return frozenset(out)


def routes_text(routes: frozenset) -> str:
    """Routes in words, payers with the same payees together: ``neocloud -> lender; hyperscaler -> bond_investors``."""
    payees: dict[str, set] = defaultdict(set)
    for a, b in routes:
        payees[a].add(b)
    payers: dict[tuple, list] = defaultdict(list)
    for a in sorted(payees, key=ROLES.index):
        payers[tuple(sorted(payees[a], key=ROLES.index))].append(a)
    return "; ".join(f"{', '.join(a)} -> {', '.join(b)}" for b, a in payers.items())


@dataclass(frozen=True)
class Kind:
    """A payment kind: how payer and payee book it, who may pay it to whom, and whether GPUs move with it."""

    payer_books: str  # pnl, capital or swap
    payee_books: str
    routes: frozenset  # (payer role, payee role) pairs
    meaning: str
    for_gpus: bool = False  # a payment for GPUs: they move from payee to payer in the same transaction
    free_gpus: bool = True  # may the GPUs move for no cash (a deposit covers them; worthless old GPUs)


KINDS: dict[str, Kind] = {
    "ai_revenue": Kind("pnl", "pnl", _routes(("end_users", ("hyperscaler",) + DEVELOPERS)), "end users pay for AI services"),
    "core_cash_flow": Kind("pnl", "pnl", _routes(("hyperscaler_core_business", "hyperscaler")),
                           "a hyperscaler's non-AI businesses' operating cash flow"),
    "chip_sale": Kind("swap", "pnl", _routes((CHIP_BUYERS, "chipmaker")),
                      "a delivery of GPUs paid at list price less the deposit applied", for_gpus=True),
    "chip_deposit": Kind("swap", "swap", _routes((CHIP_BUYERS, "chipmaker"), ("chipmaker", CHIP_BUYERS)),
                         "a deposit with a chip order (and its refund when the order is filled with deposit to spare)"),
    "cost_of_goods": Kind("pnl", "pnl", _routes(("chipmaker", "foundry_and_suppliers")),
                          "a chipmaker buys the GPUs it ships from the foundry and suppliers", for_gpus=True, free_gpus=False),
    "operating_expense": Kind("pnl", "pnl", _routes((("chipmaker", "neocloud") + DEVELOPERS, "staff_and_services")),
                              "staff, overheads and services"),
    "power_and_operations": Kind("pnl", "pnl", _routes((GPU_OWNERS, "utilities_and_data_centres")),
                                 "power and operations of the GPUs that ran"),
    "data_centre_lease": Kind("pnl", "pnl", _routes((GPU_OWNERS, "utilities_and_data_centres")),
                              "powered data-centre capacity leased"),
    "compute_spot": Kind("pnl", "pnl", _routes((SPOT_BUYERS, "spot_exchange"), ("spot_exchange", PROVIDERS)),
                         "spot compute, paid through the exchange"),
    "compute_cover": Kind("pnl", "pnl", _routes((PROVIDERS, "spot_exchange")),
                          "spot capacity a provider buys to serve contracts its own fleet cannot (cost of revenue)"),
    "compute_contract": Kind("pnl", "pnl", _routes((CONTRACT_CUSTOMERS, PROVIDERS)), "a term contract's monthly payment"),
    "contract_prepayment": Kind("swap", "swap", _routes((CONTRACT_CUSTOMERS + ("chipmaker",), PROVIDERS)),
                                "a term contract's prepayment at signing"),
    "backstop": Kind("pnl", "pnl", _routes(("chipmaker", "neocloud")), "Nvidia buys a backstopped neocloud's idle capacity"),
    "rent_back": Kind("pnl", "pnl", _routes(("chipmaker", PROVIDERS)), "Nvidia's rent-back contract payment"),
    "interest": Kind("pnl", "pnl", _routes(("neocloud", "lender"), ("hyperscaler", "bond_investors")),
                     "interest from a borrower to its creditor"),
    "principal": Kind("swap", "swap", _routes(("neocloud", "lender"), ("hyperscaler", "bond_investors")),
                      "a borrower repays principal to its creditor"),
    "loan_draw": Kind("swap", "swap", _routes(("lender", "neocloud")), "a neocloud draws on its GPU-backed facility"),
    "recovery": Kind("pnl", "pnl", _routes(("neocloud", "lender"),
                                           ("lender", ("lender", "utilities_and_data_centres", "chipmaker",
                                                       "venture_and_public_equity"))),
                     "a defaulted neocloud's cash to its lenders; a lender's surplus over its claim passed on (absolute "
                     "priority: other lenders, unpaid suppliers, shareholders)"),
    "trade_credit_loss": Kind("pnl", "pnl", _routes(("utilities_and_data_centres", "neocloud")),
                              "suppliers absorb a defaulted neocloud's unpaid bills"),
    "equity_investment": Kind("swap", "capital", _routes(("chipmaker", ("lab", "neocloud"))),
                              "Nvidia buys new shares of a lab or neocloud"),
    "payout": Kind("capital", "capital", _routes((FIRMS_WITH_SHAREHOLDERS, "venture_and_public_equity")),
                   "dividends and buy-backs; a failed firm's last cash to its owners"),
    "fund_inflow": Kind("capital", "capital", _routes(("credit_investors", "lender")), "investors add to a credit fund"),
    "fund_outflow": Kind("capital", "capital", _routes(("lender", "credit_investors")), "investors redeem from a credit fund"),
    "bond_issue": Kind("swap", "swap", _routes(("bond_investors", "hyperscaler")), "a hyperscaler issues bonds"),
    "used_gpu_sale": Kind("swap", "swap", _routes((("used_gpu_buyers", "neocloud"), GPU_OWNERS)),
                          "outside buyers or a neocloud buy used GPUs in the used-GPU market", for_gpus=True),
    "funding_round": Kind("capital", "capital", _routes(("venture_and_public_equity", ("lab", "neocloud", "startups"))),
                          "venture and public equity buy new shares"),
    "capital_call": Kind("capital", "capital", _routes(("credit_investors", "lender")),
                         "a credit fund calls capital its investors committed"),
    "facility_draw": Kind("swap", "swap", _routes(("banks", "lender")), "a credit fund draws on its bank back-leverage facility"),
    "facility_repayment": Kind("swap", "swap", _routes(("lender", "banks")), "a credit fund repays its back-leverage facility"),
    "facility_interest": Kind("pnl", "pnl", _routes(("lender", "banks")), "interest on a credit fund's back-leverage facility"),
    "capacity_investment": Kind("pnl", "pnl", _routes(("chipmaker", "foundry_and_suppliers")),
                                "a chipmaker pays for new output capacity (wafers, packaging, memory booked ahead)"),
    "corporate_tax": Kind("pnl", "pnl", _routes((("chipmaker", "hyperscaler", "neocloud", "lab"), "government")),
                          "corporate income tax on a profitable firm's taxable profit"),
    "loan_portfolio_sale": Kind("swap", "swap", _routes(("lender", "lender")),
                                "a surviving credit fund buys a failed fund's loans at their marks"),
    "construction_draw": Kind("swap", "swap", _routes(("banks", "neocloud")), "a builder draws on its construction loan"),
    "construction_spend": Kind("swap", "pnl", _routes(("neocloud", "utilities_and_data_centres")),
                               "a builder pays for a month's work on its data centre (cash for the asset)"),
    "construction_interest": Kind("pnl", "pnl", _routes(("neocloud", "banks")),
                                  "interest on a finished data centre's construction loan"),
    "construction_repayment": Kind("swap", "swap", _routes(("neocloud", "banks")),
                                   "a builder repays principal of its construction loan (at a default, out of the "
                                   "data centres' sale)"),
    "datacentre_sale": Kind("swap", "swap", _routes(("banks", "neocloud")),
                            "a defaulted builder's construction lender takes its data centres at their recovery value"),
}
_N_ROLES = len(ROLES)
_ROLE_ID = {r: i for i, r in enumerate(ROLES)}


def _books_income(books: bool, roles) -> bool:
    """Whether a side of a payment kind books income: its booking changes book equity (everything but a swap does) and
    the side can be an agent (an outside sector keeps no book equity)."""
    return books and any(r not in SECTORS for r in roles)


# kind -> (does it book the payer's income, the payee's, is it for GPUs, its routes as integer codes payer role id x
# number of roles + payee role id). A kind's income column opens at its first payment of the month: for every kind
# declared, each route that books a side has an agent on that side, so this is when its first entry appears.
_BOOKING: dict[str, tuple[bool, bool, bool, frozenset]] = {
    k: (_books_income(v.payer_books != "swap", {a for a, _ in v.routes}),
        _books_income(v.payee_books != "swap", {b for _, b in v.routes}), v.for_gpus,
        frozenset(_ROLE_ID[a] * _N_ROLES + _ROLE_ID[b] for a, b in v.routes)) for k, v in KINDS.items()}

# non-cash items: name -> the transfer it belongs to (its entries must net to zero across the parties every month), or
# None for a one-sided change in the value of one party's stock
NONCASH: dict[str, str | None] = {
    "compute_contract": "compute_contract",  # prepayment earned: the customer's prepaid compute, the provider's revenue
    "rent_back": "rent_back",
    "interest": "interest",  # unpaid interest capitalised: the borrower's expense, the lender's income
    "forfeited_deposit": "forfeited_deposit",  # the buyer's loss, the chipmaker's income
    "contracts_assigned": "contracts_assigned",  # prepaid compute owed moves from a defaulted provider to its lender
    "contracts_terminated": "contracts_terminated",  # the provider keeps the unreleased prepayment
    "debt_extinguished": "loan_write_off",  # a defaulted borrower's debt is gone ...
    "loan_default": "loan_write_off",  # ... and so is its lender's loan
    "chip_sale": None,  # a deposit applied to a delivery becomes revenue (the buyer's side is a swap for GPUs)
    "depreciation": None,
    "scrapping": None,
    "gain_on_gpu_sales": None,
    "facility_interest_capitalised": None,  # a credit fund's unpaid interest added to its bank facility
    "construction_interest_capitalised": None,  # a builder's unpaid interest added to its construction loan (banks)
    "datacentre_depreciation": None,
    "datacentre_writedown": None,  # a defaulted builder's data centres: book value less what the construction lender paid
    "construction_debt_extinguished": None,  # the construction debt it did not recover (the banks are an outside sector)
    "gpus_seized": None,  # the borrower loses their book value, the lender gains their market value
    "loan_sale_discount": "loan_sale_discount",  # a failed fund's loans sold below principal: its loss, the buyer's gain
    "facility_written_off": None,  # the bank writes off what a failed fund cannot repay (the fund's liability is gone)
    "stake_revaluation": None,
    "stake_writedown": None,
}
# GPUs that change hands without cash: item -> routes
GPU_TRANSFERS: dict[str, frozenset] = {
    "opening_fleet": _routes(("foundry_and_suppliers", CHIP_BUYERS)),  # held at the start, made before it
    "gpus_seized": _routes(("neocloud", "lender")),
    "scrapping": _routes((GPU_OWNERS, "recyclers")),
}


class AccountingError(RuntimeError):
    """The accounts do not close: the run stops, naming the party, the step, the payment kind and the amounts."""


class Ledger(MonthFlows):
    """Cash, book equity and GPU positions of every entity, and the month's flows by kind and entity."""

    def __init__(self):
        self.names: list[str] = []
        self.roles: list[str] = []
        self._role_id: list[int] = []
        self.is_sector: list[bool] = []
        # per entity, as Python lists: payments update them one scalar at a time (numpy scalar indexing is slower)
        self.cash: list[float] = []  # an outside sector's cash is what it has paid in (-) or taken out (+) since the start
        self.equity: list[float] = []  # book equity accumulated from entries (agents only)
        self.gpus: list[float] = []  # GPUs held according to the transactions (the foundry's position: minus all made)
        self.sector_id: dict[str, int] = {}
        self._routes_checked: dict[str, set] = {}  # kind -> payer x PAIR + payee of every pair on its routes paid so far
        self.month, self.date = -1, "opening"
        self.start_step(-1, "opening")
        for s in SECTORS:
            self.sector_id[s] = self.register(s, role=s, sector=True)

    def register(self, name: str, role: str, sector: bool = False, cash: float = 0.0, equity: float | None = None) -> int:
        """A new entity with its ``role`` (one of :data:`ROLES`), opening cash and book equity (US$bn)."""
        if role not in ROLES or sector != (role in SECTORS):
            raise ValueError(f"ledger: role of {name!r} must be one of {', '.join(AGENT_ROLES)} (got {role!r})")
        eid = len(self.names)
        assert eid < PAIR, "too many ledger entities for the pair keys of the flows"
        self.names.append(name)
        self.roles.append(role)
        self._role_id.append(_ROLE_ID[role])
        self.is_sector.append(sector)
        self.cash.append(0.0 if sector else float(cash))
        self.cash_open.append(self.cash[-1])
        self.equity.append(0.0 if sector else float(cash if equity is None else equity))
        self.gpus.append(0.0)
        self._arrays = None  # one more party
        return eid

    def sector(self, name: str) -> int:
        return self.sector_id[name]

    def party(self, eid: int) -> str:
        """``name (role)`` for messages."""
        return f"{self.names[eid]} ({'outside sector' if self.is_sector[eid] else self.roles[eid]})"

    def pay(self, payer: int, payee: int, amount: float, kind: str, gpus: float = 0.0) -> None:
        """Move ``amount`` US$bn of cash from ``payer`` to ``payee`` and book both sides by ``kind``; a payment for GPUs
        moves ``gpus`` GPUs from ``payee`` to ``payer`` with it. The route is checked the first time ``payer`` pays
        ``payee`` this kind (a pair found on the kind's routes is noted: roles never change)."""
        if type(amount) is not float:  # a numpy scalar would make every later sum of these balances slower (same value)
            amount = float(amount)
        if not 0.0 < amount < _INF:  # zero or rounding: no cash moves; negative, infinite or NaN: an error
            amount = self._zero_or_refuse(payer, payee, amount, kind)
            if not gpus:
                return
        column = self._columns.get(kind)  # this month's flows and income of the kind, found with one lookup
        if column is None:  # (not a KeyError caught: raising one costs as much as three payments)
            column = self._open_column(kind)
        flows, payer_income, payee_income, for_gpus, checked = column
        pair = payer * PAIR + payee
        before = flows.get(pair)
        if before is None and pair not in checked:  # the pair's first payment of the kind ever
            self._check_route(payer, payee, amount, kind)
        if gpus or for_gpus:  # the GPUs a payment is for move the other way (only then: one payment in five)
            gpus = float(gpus)
            if not (for_gpus and 0.0 < gpus < _INF and amount != 0.0):  # (a paid delivery passes the checks)
                self._check_gpus_paid_for(payer, payee, amount, kind, gpus)
            held, moved = self.gpus, self.gpu_flows[kind]  # as _move(payee, payer, gpus, kind), inlined
            held[payee] -= gpus
            held[payer] += gpus
            moved[payee] = moved.get(payee, 0.0) - gpus
            moved[payer] = moved.get(payer, 0.0) + gpus
        flows[pair] = amount if before is None else before + amount
        self._arrays = None  # the month's flows as arrays are built again when next asked for
        cash = self.cash
        cash[payer] -= amount
        cash[payee] += amount
        if payer_income is not None and not self.is_sector[payer]:
            self.equity[payer] -= amount
            payer_income[payer] = payer_income.get(payer, 0.0) - amount
        if payee_income is not None and not self.is_sector[payee]:
            self.equity[payee] += amount
            payee_income[payee] = payee_income.get(payee, 0.0) + amount

    def pay_contracts(self, customers, providers, kinds: list[str], paid, released) -> None:
        """A month's contract payments, one per customer, provider and kind, in the order given: ``customers[i]`` pays
        ``providers[i]`` ``paid[i]`` US$bn of ``kinds[i]`` and ``released[i]`` US$bn of its prepayment is earned (the
        non-cash transfer of that name: the customer's expense, the provider's income). The same entries in the same
        order as :meth:`pay` followed by :meth:`book` for the customer and then the provider, group by group, without
        a call for each; a payment or an entry out of the ordinary (zero, a kind's first this month, an outside sector,
        a payment for GPUs) goes through those methods."""
        customers, providers = plain_list(customers, int), plain_list(providers, int)
        paid, released = plain_list(paid, float, float), plain_list(released, float, float)
        cash, equity, is_sector, columns, noncash = self.cash, self.equity, self.is_sector, self._columns, self._noncash
        self._arrays = None  # the month's flows as arrays are built again when next asked for
        last_kind = None  # the kind whose columns were last looked up (again after anything goes through pay or book)
        for customer, provider, kind, amount, release in zip(customers, providers, kinds, paid, released):
            if kind is not last_kind:  # its columns, where each side books income (None: not open or not usual)
                last_kind, column, entries = kind, columns.get(kind), noncash.get(kind)
                if column is not None and (column[1] is None or column[2] is None or column[3]):
                    column = None
                if column is not None:
                    flows, customer_income, provider_income, _, checked = column
                if entries is not None and entries[1] is None:
                    entries = None
                if entries is not None:
                    income, transfer = entries
            usual = not is_sector[customer] and not is_sector[provider]
            if usual and column is not None and 0.0 < amount < _INF:  # pay(customer, provider, amount, kind):
                pair = customer * PAIR + provider
                before = flows.get(pair)
                if before is None:
                    if pair not in checked:
                        self._check_route(customer, provider, amount, kind)
                    flows[pair] = amount
                else:
                    flows[pair] = before + amount
                cash[customer] -= amount
                cash[provider] += amount
                equity[customer] -= amount
                customer_income[customer] = customer_income.get(customer, 0.0) - amount
                equity[provider] += amount
                provider_income[provider] = provider_income.get(provider, 0.0) + amount
            else:
                self.pay(customer, provider, amount, kind)
                last_kind = None
            if release == 0.0:
                continue  # book() enters nothing
            if usual and entries is not None and -_INF < release < _INF:
                # book(customer, -release, kind), book(provider, release, kind):
                equity[customer] += -release
                income[customer] = income.get(customer, 0.0) + -release
                transfer[customer] = transfer.get(customer, 0.0) + -release
                equity[provider] += release
                income[provider] = income.get(provider, 0.0) + release
                transfer[provider] = transfer.get(provider, 0.0) + release
            else:
                self.book(customer, -release, kind)
                self.book(provider, release, kind)
                last_kind = None

    def _open_column(self, kind: str) -> tuple:
        """The month's first payment of ``kind``: its column of the transaction-flow matrix and, for a side that books
        income, its income column (opened now: every route of such a kind has an agent on that side)."""
        if kind not in _BOOKING:
            raise AccountingError(f"step {self.month} ({self.date}): payment kind '{kind}' is not declared "
                                  f"(declared: {', '.join(KINDS)})")
        payer_books, payee_books, for_gpus, _ = _BOOKING[kind]
        income = self.income[kind] if payer_books or payee_books else None
        column = self._columns[kind] = (self.flows[kind], income if payer_books else None, income if payee_books else None,
                                        for_gpus, self._routes_checked.setdefault(kind, set()))
        return column

    def _zero_or_refuse(self, payer: int, payee: int, amount: float, kind: str) -> float:
        """0.0 for a zero amount or a negative one within rounding of the ledger's largest balance (a difference of
        equal quantities computed two ways); anything else stops the run."""
        if amount == 0.0 or -self.rounding <= amount < 0.0:
            return 0.0
        raise AccountingError(f"step {self.month} ({self.date}): payment '{kind}' from {self.party(payer)} to "
                              f"{self.party(payee)}: invalid amount {amount!r} US$bn (must be >= 0 and finite; negatives "
                              f"down to -{self.rounding:.3g} are rounding)")

    def _check_route(self, payer: int, payee: int, amount: float, kind: str) -> None:
        """A pair's first payment of ``kind``: on the kind's routes, the pair is noted as checked (roles never change);
        otherwise the run stops: ``kind`` may not be paid by ``payer``'s role to ``payee``'s."""
        if self._role_id[payer] * _N_ROLES + self._role_id[payee] in _BOOKING[kind][3]:
            self._routes_checked[kind].add(payer * PAIR + payee)
            return
        routes = routes_text(KINDS[kind].routes)
        raise AccountingError(f"step {self.month} ({self.date}): payment '{kind}' of {amount:.9f} US$bn from "
                              f"{self.party(payer)} to {self.party(payee)}: '{kind}' ({KINDS[kind].meaning}) is paid only "
                              f"{routes}")

    def _check_gpus_paid_for(self, payer: int, payee: int, amount: float, kind: str, gpus: float) -> None:
        """A payment for GPUs moves some, nothing else moves any; GPUs move for no cash only where the kind allows."""
        spec = KINDS[kind]
        if not spec.for_gpus:
            raise AccountingError(f"step {self.month} ({self.date}): payment '{kind}' of {amount:.9f} US$bn from "
                                  f"{self.party(payer)} to {self.party(payee)} moves {gpus!r} GPUs, but '{kind}' is not a "
                                  f"payment for GPUs")
        if not 0.0 < gpus < math.inf:
            raise AccountingError(f"step {self.month} ({self.date}): payment '{kind}' of {amount:.9f} US$bn from "
                                  f"{self.party(payer)} to {self.party(payee)} for {gpus!r} GPUs: a payment for GPUs must "
                                  f"move a positive number of them")
        if amount == 0.0 and not spec.free_gpus:
            raise AccountingError(f"step {self.month} ({self.date}): payment '{kind}' of {amount:.9f} US$bn from "
                                  f"{self.party(payer)} to {self.party(payee)} for {gpus:.3f} GPUs: '{kind}' "
                                  f"({spec.meaning}) never moves GPUs for nothing")

    def move_gpus(self, giver: int, taker: int, gpus: float, item: str) -> None:
        """``gpus`` GPUs change hands without cash (:data:`GPU_TRANSFERS`: opening fleets, seizures, scrapping)."""
        gpus = float(gpus)
        if gpus == 0.0:
            return
        routes = GPU_TRANSFERS.get(item)
        if routes is None or (self.roles[giver], self.roles[taker]) not in routes or not 0.0 < gpus < math.inf:
            raise AccountingError(f"step {self.month} ({self.date}): {gpus!r} GPUs moved from {self.party(giver)} to "
                                  f"{self.party(taker)} as '{item}': not a declared transfer of GPUs "
                                  f"({', '.join(sorted(GPU_TRANSFERS))}) on its routes, or not a positive number")
        self._move(giver, taker, gpus, item)

    def _move(self, giver: int, taker: int, gpus: float, item: str) -> None:
        held = self.gpus
        held[giver] -= gpus
        held[taker] += gpus
        moved = self.gpu_flows[item]
        moved[giver] = moved.get(giver, 0.0) - gpus
        moved[taker] = moved.get(taker, 0.0) + gpus

    def book(self, eid: int, amount: float, item: str) -> None:
        """A non-cash income (+) or expense (-) item of a declared name (:data:`NONCASH`); the caller changes the matching
        stock."""
        column = self._noncash.get(item)  # this month's income and transfer entries of the item, found with one lookup
        if column is None and item not in NONCASH:
            raise AccountingError(f"step {self.month} ({self.date}): non-cash item '{item}' of {amount!r} US$bn for "
                                  f"{self.party(eid)} is not declared (declared: {', '.join(NONCASH)})")
        if type(amount) is not float:  # as in pay()
            amount = float(amount)
        if amount == 0.0 or self.is_sector[eid]:
            return
        if not -_INF < amount < _INF:
            raise AccountingError(f"step {self.month} ({self.date}): non-cash item '{item}' for {self.party(eid)}: "
                                  f"invalid amount {amount!r}")
        income, entries = column if column is not None else self._open_noncash(item)  # (None: its first this month)
        self.equity[eid] += amount
        income[eid] = income.get(eid, 0.0) + amount
        if entries is not None:
            entries[eid] = entries.get(eid, 0.0) + amount

    def book_all(self, eids, amounts, items: list[str]) -> None:
        """Non-cash entries: the entries of ``book(eids[i], amounts[i], items[i])`` one after another (the same
        additions in the same order), without a call for each; an entry out of the ordinary (its item's first this
        month, an outside sector, an amount not finite) goes through :meth:`book`."""
        equity, is_sector, noncash = self.equity, self.is_sector, self._noncash
        for eid, amount, item in zip(plain_list(eids, int), plain_list(amounts, float, float), items):
            column = noncash.get(item)
            if column is None or is_sector[eid] or not -_INF < amount < _INF:
                self.book(eid, amount, item)
            elif amount != 0.0:
                income, entries = column
                equity[eid] += amount
                income[eid] = income.get(eid, 0.0) + amount
                if entries is not None:
                    entries[eid] = entries.get(eid, 0.0) + amount

    def _open_noncash(self, item: str) -> tuple[dict, dict | None]:
        """The month's first entry of non-cash ``item``: its income column and, for a transfer, the transfer's entries."""
        transfer = NONCASH[item]
        column = self._noncash[item] = (self.income[item], None if transfer is None else self.transfers[transfer])
        return column

    def start_step(self, month: int, date: str) -> None:
        """A new month: its flows start from zero; the opening cash is kept for the month-end checks."""
        self.month, self.date = month, date
        self.cash_open = list(self.cash)
        scale = max(1.0, max(map(abs, self.cash_open), default=0.0))
        self.rounding = ROUNDING_ULPS * sys.float_info.epsilon * scale
        self.income = defaultdict(dict)  # item -> {eid: this month's income (+) or expense (-)}, book equity's side
        self.flows = defaultdict(dict)  # kind -> {payer x PAIR + payee: this month's payments}: the transaction-flow matrix
        self.transfers = defaultdict(dict)  # non-cash transfer -> {eid: entry}
        self.gpu_flows = defaultdict(dict)  # kind or item -> {eid: GPUs in (+) or out (-)}
        self._columns: dict[str, tuple] = {}  # kind -> its flows, income and booking this month (pay)
        self._noncash: dict[str, tuple] = {}  # item -> its income and transfer entries this month (book)
        self._arrays = None  # the month's flows as arrays (_flow_arrays), once asked for

    def agent_cash_total(self) -> float:
        return math.fsum(c for c, sector in zip(self.cash, self.is_sector) if not sector)
