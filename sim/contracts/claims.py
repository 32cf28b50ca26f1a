"""Two-sided contracts: each one names the party that holds it as an asset and the party that owes it,
so it appears on two balance sheets by construction.

* :class:`ChipOrder`: a chipmaker owes H100e of its output, the buyer owes the list price at delivery; the
  buyer's deposit is its asset (chip deposits) and the chipmaker's liability (customer advances) until it is
  applied to the deliveries or forfeited. Chip orders are rows of a columnar order book; this class is a view of
  one row.
* :class:`Loan`: a GPU-backed delayed-draw term loan facility (lender holds, borrower owes), secured by the
  fleet cohorts pledged to it and the compute contracts assigned to it, with an LTV covenant, a cure
  period and possible waivers. Loans are rows of a columnar register; this class is a view of one row.
* :class:`ComputeContract`: a take-or-pay compute contract (provider holds the receivable, customer owes
  the payments); part of it is prepaid at signing (a prepaid asset of the customer and a deferred-revenue
  liability of the provider, released month by month). Rent-backs are compute contracts whose customer is
  the chipmaker; start-ups' contracts are contracts whose customer is the start-up population, with the start-up's
  slot. Compute contracts are rows of a columnar register; this class is a view of one row.
* :class:`EquityStake`: a holder's share of an issuer's equity, marked to the issuer's valuation (a view of one row
  of the columnar equity register).
* :class:`Backstop`: a guarantor's commitment to buy the beneficiary's unsold capacity up to a cap (a view of one
  row of the columnar backstop table).

The registers that hold these claims and settle them are :mod:`gpucredit.sim.contracts.register` (compute contracts),
:mod:`gpucredit.sim.credit.loans` (loans), :mod:`gpucredit.sim.markets.chips` (chip orders),
:mod:`gpucredit.sim.finance.equity` (stakes) and :mod:`gpucredit.sim.finance.circular` (backstops).
"""

from __future__ import annotations

from ..table import column_property


def deposit_with(deposit, open_h100e, h100e):
    """The deposit (US$bn) that goes with ``h100e`` of an order with ``open_h100e`` H100e still to deliver and
    ``deposit`` US$bn still held: its share of what is open (all of it for the rest of the order)."""
    if open_h100e <= 0:
        return 0.0
    return deposit * min(1.0, h100e / open_h100e)


def _row_by_id(table, claim_id: int, what: str) -> int:
    """The row of claim ``claim_id`` in ``table`` (ids increase in the order claims are added, and rows keep that
    order)."""
    ids = table.column("id")
    row = int(ids.searchsorted(claim_id))
    if row >= len(ids) or ids[row] != claim_id:
        raise LookupError(f"{what} {claim_id} has left its register")
    return row


class _RowView:
    """A claim seen as an object: a view of its row (found by its id) in a register that is a
    :class:`~gpucredit.sim.table.Table`. Two views are equal, and hash alike, when they are of the same claim."""

    __slots__ = ("_table", "id", "_row")
    what = "claim"

    def __init__(self, register, row: int):
        self._table = register
        self.id = int(register.column("id")[row])
        self._row = row  # where it was last found

    @property
    def row(self) -> int:
        """Its row in the register now (rows move when claims leave the register): where it was last found if it is
        still there, else looked up by id."""
        table, row = self._table, self._row
        if row < table.n and table._columns["id"][row] == self.id:
            return row
        self._row = row = _row_by_id(table, self.id, self.what)
        return row

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._table is self._table and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


class ChipOrder(_RowView):
    """An order for ``h100e`` of a chipmaker's output, placed in ``month``: one row of the chip order book
    (:class:`gpucredit.sim.markets.chips.OrderBook`), seen as an object. It is filled from the chipmaker's
    production (its generation mix at the time) once ``nvidia.order_lead_months`` have passed, in allocations
    over one or more months, at the list price of the delivery month. The ``deposit`` paid at the order is
    applied to the deliveries pro rata; orders are non-cancellable, so a buyer that cannot pay for its
    allocation, or defaults, forfeits that part of its deposit. A filled or cancelled order stays readable until the
    book drops it, at the end of its chipmaker's allocation (or of the buyer's default)."""

    __slots__ = ()
    what = "chip order"

    buyer = column_property("buyer", "entity id of the buyer", int)
    seller = column_property("seller", "entity id of the chipmaker", int)
    h100e = column_property("h100e", "H100e still to deliver", float)
    month = column_property("month", "month placed (month index; before 0: placed before January 2023)", int)
    deposit = column_property("deposit", "US$bn of deposit still held by the chipmaker", float)

    def apply_deposit(self, h100e: float) -> float:
        """The deposit (US$bn) that goes with ``h100e`` of this order, delivered or cancelled."""
        return float(deposit_with(self.deposit, self.h100e, h100e))

    def __repr__(self) -> str:
        return (f"ChipOrder(id={self.id}, buyer={self.buyer}, seller={self.seller}, h100e={self.h100e:.1f}, "
                f"month={self.month}, deposit={self.deposit:.6f})")


STATUSES = ("performing", "breach", "default", "repaid")  # a loan's status, stored as its index


def _loan_column(name: str, doc: str, convert=None, encode=None) -> property:
    """A term of a loan, read and written in its row (:func:`column_property`); a write also tells the register, which
    drops what it has cached about the loan's parties. Read through the register's memoryview of the column
    (``_cells``), which gives the plain Python number ``float``, ``int`` or ``bool`` would make of the stored value;
    ``convert`` other than those (a label) is applied to it."""
    column = column_property(name, doc, convert, encode)
    label = None if convert in (float, int, bool) else convert

    def read(self):
        value = self._table._cells[name][self.row]
        return label(value) if label else value

    def write(self, value) -> None:
        column.fset(self, value)
        self._table.written(self.row)

    return property(read, write, doc=doc)


def monthly_rate(sofr: float, spread_sum: float, drawn: float) -> float:
    """A loan's rate per month: SOFR plus its blended spread (``spread_sum`` over ``drawn``, as :attr:`Loan.spread`;
    worked out here again as a loan's rate is asked for every month)."""
    return (sofr + (spread_sum / drawn if drawn > 0 else 0.0)) / 12.0


def amortisation(principal: float, maturity: int, month: int) -> float:
    """The principal due in ``month``, US$bn: what is outstanding over the months left to ``maturity``, at least one."""
    remaining = max(1, maturity - month)
    return principal / remaining


class Loan:
    """A GPU-backed delayed-draw term loan facility: one row of the loan register (:mod:`gpucredit.sim.credit.loans`),
    seen as an object. Its parties, start, maturity, last draw month and covenant are fixed when it is opened; its
    principal, draws, spread, status, breach and waiver months, arrears and collateral marks change during its life.
    Loans never leave the register, so a loan's row never moves; two views of the same loan are equal."""

    __slots__ = ("_table", "row", "id")

    def __init__(self, register, row: int):
        self._table = register
        self.row = row
        self.id = int(register.column("id")[row])

    # the parties are read-only: a loan changes hands only when the register sells a failed fund's book
    lender = property(_loan_column("lender", "", int).fget, doc="entity id of the lender (it holds the loan)")
    borrower = property(_loan_column("borrower", "", int).fget, doc="entity id of the borrower (it owes the loan)")
    start = _loan_column("start", "month opened", int)
    maturity = _loan_column("maturity", "month index at which the facility is fully repaid", int)
    draw_until = _loan_column("draw_until", "last month draws are allowed (delayed-draw period)", int)
    principal = _loan_column("principal", "US$bn outstanding", float)
    drawn = _loan_column("drawn", "US$bn drawn in total", float)
    spread_sum = _loan_column("spread_sum", "sum of spread x draw (US$bn), for the blended spread", float)
    covenant_ltv = _loan_column("covenant_ltv", "maximum loan-to-value before a breach (fraction)", float)
    status = _loan_column("status", "performing | breach | default | repaid", lambda v: STATUSES[v], STATUSES.index)
    breach_since = _loan_column("breach_since", "month the breach opened (-1: none yet)", int)
    waived_until = _loan_column("waived_until", "last month of the latest waiver (-1: none)", int)
    waivers = _loan_column("waivers", "number of waivers granted", int)
    cure_tried = _loan_column("cure_tried", "last month the borrower tried to cure (-1: never)", int)
    missed = _loan_column("missed", "payments missed while in breach, US$bn", float)
    collateral_value = _loan_column("collateral_value", "collateral at the last mark, US$bn", float)
    gpu_value = _loan_column("gpu_value", "pledged GPUs at the last mark, US$bn", float)

    @property
    def spread(self) -> float:
        """The draw-weighted spread over SOFR (0 before the first draw)."""
        return self.spread_sum / self.drawn if self.drawn > 0 else 0.0

    @property
    def ltv(self) -> float:
        """Loan-to-value at the last mark (0 with nothing outstanding; ``LoanRegister.ltvs`` for many loans)."""
        if self.principal <= 0:
            return 0.0
        return self.principal / max(self.collateral_value, 1e-12)

    def monthly_rate(self, sofr: float) -> float:
        """SOFR plus the blended spread, per month (:func:`monthly_rate`)."""
        return monthly_rate(sofr, self.spread_sum, self.drawn)

    def amortisation(self, month: int) -> float:
        """The principal due in ``month``, US$bn (:func:`amortisation`)."""
        return amortisation(self.principal, self.maturity, month)

    def __eq__(self, other) -> bool:
        return isinstance(other, Loan) and other.id == self.id and other._table is self._table

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return (f"Loan(id={self.id}, lender={self.lender}, borrower={self.borrower}, start={self.start}, "
                f"maturity={self.maturity}, draw_until={self.draw_until}, principal={self.principal:.6f}, "
                f"drawn={self.drawn:.6f}, {self.status}, collateral_value={self.collateral_value:.6f})")


KINDS = ("compute", "overflow", "rent_back")  # a contract's kind, stored as its index


class ComputeContract(_RowView):
    """A take-or-pay compute contract: one row of the contract register (:mod:`.register`), seen as an object. Its
    terms (customer, the start-up ``slot`` if the customer is the start-up population, H100e, price, start, end,
    grade, kind) are fixed once it is signed; the provider, the loan it is assigned to, the unreleased prepayment and
    whether it is active change during its life. A contract that ended stays readable until the register drops it, when
    the next month opens."""

    __slots__ = ()
    what = "compute contract"  # (rows move when ended contracts leave, at the start of a month)

    customer = column_property("customer", "entity id of the customer", int)
    slot = column_property("slot", "the start-up's slot if the customer is the start-up population, else -1", int)
    provider = column_property("provider", "entity id of the provider", int)
    qty = column_property("qty", "H100e committed (full-time equivalents: qty x 730 H100e-hours a month)")
    price = column_property("price", "US$ per H100e-hour")
    start = column_property("start", "first month served", int)
    end = column_property("end", "first month no longer covered", int)
    grade = column_property("ig", '"ig" or "non_ig"', lambda v: "ig" if v else "non_ig", lambda g: g == "ig")
    kind = column_property("kind", "compute | overflow | rent_back", lambda v: KINDS[v], KINDS.index)
    prepaid = column_property("prepaid", "unreleased prepayment, US$bn (customer asset, provider liability)")
    loan = column_property("loan", "id of the loan it is assigned to as collateral (-1: none)", int)
    active = column_property("active", "whether it is still in force", bool)

    def monthly_value(self) -> float:
        """US$bn per month."""
        return self.qty * self.price * 730.0 / 1e9

    def remaining_value(self, month: int) -> float:
        """US$bn still to be paid (all of it for a forward contract that has not started)."""
        return self.monthly_value() * max(0, self.end - max(self.start, month))

    def __repr__(self) -> str:
        return (f"ComputeContract(id={self.id}, customer={self.customer}, slot={self.slot}, provider={self.provider}, "
                f"qty={self.qty:.1f}, price={self.price:.3f}, start={self.start}, end={self.end}, {self.grade}, "
                f"{self.kind}, prepaid={self.prepaid:.6f}, loan={self.loan}, active={self.active})")


class EquityStake(_RowView):
    """A holder's share of an issuer's equity, marked to the issuer's valuation: one row of the equity register
    (:class:`gpucredit.sim.finance.equity.EquityRegister`, one row per holder and issuer), seen as an object. A stake
    written off (its issuer defaulted) leaves the register."""

    __slots__ = ()
    what = "equity stake"

    holder = column_property("holder", "entity id of the holder", int)
    issuer = column_property("issuer", "entity id of the issuer", int)
    share = column_property("share", "fraction of the issuer's equity held (diluted by later rounds)", float)
    cost = column_property("cost", "US$bn paid", float)
    value = column_property("value", "US$bn, marked to the issuer's valuation", float)
    since = column_property("since", "month of the first investment", int)

    def __repr__(self) -> str:
        return (f"EquityStake(holder={self.holder}, issuer={self.issuer}, share={self.share:.6f}, cost={self.cost:.6f}, "
                f"value={self.value:.6f}, since={self.since})")


def backstop_monthly_cap(cap: float, paid: float, end: int, month: int) -> float:
    """The most a backstop pays in ``month`` (US$bn): what is left of its ``cap`` spread evenly over the months to its
    ``end``."""
    remaining_months = max(1, end - month)
    return max(0.0, cap - paid) / remaining_months


class Backstop(_RowView):
    """A guarantor's commitment to buy the beneficiary's unsold capacity up to a cap, from ``start`` to ``end``: one
    row of the backstop table (:class:`gpucredit.sim.finance.circular.Backstops`), seen as an object."""

    __slots__ = ()
    what = "backstop"

    guarantor = column_property("guarantor", "entity id of the guarantor (Nvidia)", int)
    beneficiary = column_property("beneficiary", "entity id of the beneficiary (a neocloud)", int)
    cap = column_property("cap", "US$bn it pays at most in all", float)
    start = column_property("start", "first month in force", int)
    end = column_property("end", "first month no longer in force (the beneficiary's exit ends it)", int)
    paid = column_property("paid", "US$bn paid so far", float)

    def monthly_cap(self, month: int) -> float:
        return backstop_monthly_cap(self.cap, self.paid, self.end, month)

    def __repr__(self) -> str:
        return (f"Backstop(guarantor={self.guarantor}, beneficiary={self.beneficiary}, cap={self.cap:.3f}, "
                f"start={self.start}, end={self.end}, paid={self.paid:.6f})")
