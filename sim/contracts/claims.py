"""Two-sided contracts: each one names the party that holds it as an asset and the party that owes it,
so it appears on two balance sheets by construction.

* :class:`ChipOrder`: a chipmaker owes H100e of its output, the buyer owes the list price at delivery; the
  buyer's deposit is its asset (chip deposits) and the chipmaker's liability (customer advances) until it is
  applied to the deliveries or forfeited.
* :class:`Loan`: a GPU-backed delayed-draw term loan facility (lender holds, borrower owes), secured by the
  fleet cohorts pledged to it and the compute contracts assigned to it, with an LTV covenant, a cure
  period and possible waivers.
* :class:`ComputeContract`: a take-or-pay compute contract (provider holds the receivable, customer owes
  the payments); part of it is prepaid at signing (a prepaid asset of the customer and a deferred-revenue
  liability of the provider, released month by month). Rent-backs are compute contracts whose customer is
  the chipmaker.
* :class:`EquityStake`: a holder's share of an issuer's equity, marked to the issuer's valuation.
* :class:`Backstop`: a guarantor's commitment to buy the beneficiary's unsold capacity up to a cap.

Contracts with start-ups are stored as arrays in the start-up population (one per start-up at most). The
registers that hold these claims and settle them are :mod:`gpucredit.sim.contracts.register` (compute contracts),
:mod:`gpucredit.sim.credit.loans` (loans), :mod:`gpucredit.sim.markets.chips` (chip orders),
:mod:`gpucredit.sim.finance.equity` (stakes) and :mod:`gpucredit.sim.finance.circular` (backstops).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ChipOrder:
    """An order for ``h100e`` of a chipmaker's output, placed in ``month``. It is filled from the chipmaker's
    production (its generation mix at the time) once ``nvidia.order_lead_months`` have passed, in allocations
    over one or more months, at the list price of the delivery month. The ``deposit`` paid at the order is
    applied to the deliveries pro rata; orders are non-cancellable, so a buyer that cannot pay for its
    allocation, or defaults, forfeits that part of its deposit."""
    id: int
    buyer: int
    seller: int
    h100e: float  # still to deliver
    month: int  # placed
    deposit: float = 0.0  # US$bn still held by the seller

    def apply_deposit(self, h100e: float) -> float:
        """The deposit (US$bn) that goes with ``h100e`` of this order, delivered or cancelled."""
        if self.h100e <= 0:
            return 0.0
        return self.deposit * min(1.0, h100e / self.h100e)


@dataclass(slots=True)
class Loan:
    id: int
    lender: int
    borrower: int
    start: int
    maturity: int  # month index at which the facility is fully repaid
    draw_until: int  # last month draws are allowed (delayed-draw period)
    principal: float = 0.0  # US$bn outstanding
    drawn: float = 0.0  # US$bn drawn in total
    spread_sum: float = 0.0  # sum of spread x draw, for the blended spread
    covenant_ltv: float = 0.8
    status: str = "performing"  # performing | breach | default | repaid
    breach_since: int = -1
    waived_until: int = -1
    waivers: int = 0
    cure_tried: int = -1  # last month the borrower tried to cure
    missed: float = 0.0  # payments capitalised while in breach, US$bn
    collateral_value: float = 0.0  # last mark, US$bn
    gpu_value: float = 0.0

    @property
    def spread(self) -> float:
        return self.spread_sum / self.drawn if self.drawn > 0 else 0.0

    @property
    def ltv(self) -> float:
        if self.principal <= 0:
            return 0.0
        return self.principal / max(self.collateral_value, 1e-12)

    def monthly_rate(self, sofr: float) -> float:
        return (sofr + self.spread) / 12.0

    def amortisation(self, month: int) -> float:
        remaining = max(1, self.maturity - month)
        return self.principal / remaining


@dataclass(slots=True)
class ComputeContract:
    """Its terms (:data:`SIGNED_TERMS`) are fixed once it is signed; the provider, the loan it is assigned to, the
    unreleased prepayment and whether it is active change during its life."""

    id: int
    customer: int
    provider: int
    qty: float  # H100e committed (full-time equivalents), i.e. qty x 730 H100e-hours per month
    price: float  # US$ per H100e-hour
    start: int
    end: int  # first month no longer covered
    grade: str  # "ig" or "non_ig"
    kind: str = "compute"  # compute | rent_back | overflow
    prepaid: float = 0.0  # unreleased prepayment, US$bn (customer asset, provider liability)
    loan: int = -1  # loan the contract is assigned to as collateral
    active: bool = True

    @property
    def payment_kind(self) -> str:
        """Ledger item its payments and released prepayments are booked under."""
        return "rent_back" if self.kind == "rent_back" else "compute_contract"

    def monthly_value(self) -> float:
        """US$bn per month."""
        return self.qty * self.price * 730.0 / 1e9

    def remaining_value(self, month: int) -> float:
        """US$bn still to be paid (all of it for a forward contract that has not started)."""
        return self.monthly_value() * max(0, self.end - max(self.start, month))


@dataclass(slots=True)
class EquityStake:
    holder: int
    issuer: int
    share: float
    cost: float  # US$bn paid
    value: float = 0.0  # US$bn, marked to the issuer's valuation
    since: int = 0


@dataclass(slots=True)
class Backstop:
    guarantor: int
    beneficiary: int
    cap: float  # US$bn total
    start: int
    end: int
    paid: float = 0.0
    draws: list = field(default_factory=list)

    def monthly_cap(self, month: int) -> float:
        remaining_months = max(1, self.end - month)
        return max(0.0, self.cap - self.paid) / remaining_months
