"""The failure of a credit fund, in named steps.

A fund fails (:meth:`gpucredit.agents.lender.Lender.failing`, checked at month end after its bank facility is serviced
and its investors have moved money) when its net worth is exhausted (book equity plus the prepaid compute it owes on
contracts taken over at defaults, which those contracts' remaining payments are taken to be worth), or when its bank's margin call has stayed unmet for
``lenders.margin_call_months``. Its bank then enforces its security; :func:`fail_lender` runs:

1. :func:`sell_seized_gpus`   -- the GPUs it seized from defaulted borrowers are sold at once to outside buyers at the
   used-GPU price (forced sales: fire sales with price impact);
2. :func:`hand_over_contracts` -- compute contracts it took over at defaults pass, with their prepayments, to the buyer of
   its loans (who covers them on the spot market until it has GPUs of its own);
3. :func:`sell_loan_book`     -- its open loans (performing or in breach, with their pledged GPUs and assigned contracts)
   are sold to the surviving fund with the most capital at their marks, the lower of principal and collateral value;
   the buyer holds them at principal (the discount is its gain, the failed fund's loss); the borrowers' relationship
   lender becomes the buyer;
4. :func:`settle_with_bank`   -- its cash repays the bank facility; what it cannot repay the bank writes off;
5. :func:`pay_out_investors`  -- what is left goes back to its investors, whose uncalled commitments lapse: they lose
   the rest of their equity;
6. it stops lending and leaves the market (``economy.failed_lenders``); a ``lender_failure`` event and the
   ``lender_failures`` output record it.

With no other fund alive to buy its loans the fund does not fail (it keeps lending nothing while its margin call is
unmet).
"""

from __future__ import annotations

import numpy as np

from .loans import running_sum, sum_of_lower


def fail_lenders(economy) -> None:
    """Every fund that is failing this month fails (in the funds' order)."""
    for lender in list(economy.lenders):
        if lender.failing():
            fail_lender(economy, lender)


def fail_lender(economy, lender) -> bool:
    """``lender`` fails (the steps of the module docstring); returns whether it did (a buyer for its loans exists)."""
    m = economy
    buyer = max((l for l in m.lenders if l is not lender and l.alive), key=lambda l: (l.capital(), -l.eid), default=None)
    if buyer is None:
        return False
    worth = lender.net_worth()
    reason = "net worth exhausted" if worth <= 0 else f"margin call unmet for {lender.unmet_margin_months} months"
    lender.alive = False
    gpus = sell_seized_gpus(m, lender)
    hand_over_contracts(m, lender, buyer)
    principal, paid = sell_loan_book(m, lender, buyer)
    written_off = settle_with_bank(m, lender)
    returned = pay_out_investors(m, lender)
    m.lenders.remove(lender)
    m.failed_lenders.append(lender)
    m.flow["lender_failures"] += 1
    m.events.log("lender_failure", [lender.name, buyer.name], principal,
                 detail=f"{reason}; loans sold at {paid:.3f} for principal {principal:.3f}; seized GPUs sold for "
                        f"{gpus:.3f}; bank wrote off {written_off:.3f}; investors got back {returned:.3f}; net worth "
                        f"at failure {worth:.3f} (US$bn)")
    m.contracts.refresh_books()
    return True


def sell_seized_gpus(economy, lender) -> float:
    """The GPUs it holds (seized at defaults) are sold at once to the used-GPU market (forced); returns the proceeds."""
    m = economy
    return sum([m.used_gpus.sell_cohort(lender.eid, int(r), float(m.fleet.count[r]), forced=True)
                for r in m.fleet.rows_of(lender.eid)])


def hand_over_contracts(economy, lender, buyer) -> None:
    """Contracts it provides (taken over at defaults) pass to ``buyer`` with their unreleased prepayments."""
    m = economy
    register = m.contracts
    rows = register.rows_of(provider=lender.eid)
    if not len(rows):
        return
    prepaid = float(register.column("prepaid")[rows].sum())
    m.ledger.book(lender.eid, prepaid, "contracts_assigned")
    m.ledger.book(buyer.eid, -prepaid, "contracts_assigned")
    register.reassign(rows, np.full(len(rows), buyer.eid, dtype=np.int64))


def sell_loan_book(economy, lender, buyer) -> tuple[float, float]:
    """Its open loans pass to ``buyer``, which pays their marks (the lower of principal and collateral value) in cash
    (funded like a draw: cash, its own facility, its investors' commitments) and books the discount to principal as a
    gain, the failed fund as a loss. Borrowers whose relationship lender it was bank with ``buyer`` from now on.
    Returns the principal and the price, US$bn."""
    m = economy
    led = m.ledger
    loans = m.loans
    rows = loans.rows_of(lender=lender.eid, excluding=("default", "repaid"))
    sold = rows[loans.column("principal")[rows] > 0]  # its open loans with principal outstanding, in its order
    owed, collateral = loans.column("principal")[sold], loans.column("collateral_value")[sold]
    principal = running_sum(owed.tolist())
    price = sum_of_lower(owed.tolist(), np.where(0.0 > collateral, 0.0, collateral).tolist())  # loan by loan, collateral at least 0
    loans.transfer(sold, lender.eid, buyer.eid)
    if price > 0:
        buyer.fund(price)
        led.pay(buyer.eid, lender.eid, price, "loan_portfolio_sale")
    if principal - price > 0:
        led.book(lender.eid, -(principal - price), "loan_sale_discount")
        led.book(buyer.eid, principal - price, "loan_sale_discount")
    for nc in m.neoclouds:
        if nc.relationship_lender == lender.eid:
            nc.relationship_lender = buyer.eid
    return principal, price


def settle_with_bank(economy, lender) -> float:
    """Its cash repays its bank facility; the rest of the facility the bank writes off (the fund's liability is gone).
    Returns what the bank wrote off, US$bn."""
    lender.repay_facility(max(0.0, economy.ledger.cash[lender.eid]))
    written_off = lender.borrowings
    if written_off > 0:
        economy.ledger.book(lender.eid, written_off, "facility_written_off")
        lender.borrowings = 0.0
    lender.margin_call = False
    return written_off


def pay_out_investors(economy, lender) -> float:
    """Its cash left goes to its investors; their uncalled commitments lapse. Returns what they got back, US$bn."""
    led = economy.ledger
    cash = max(0.0, led.cash[lender.eid])
    if cash > 0:
        led.pay(lender.eid, led.sector("credit_investors"), cash, "fund_outflow")
    lender.uncalled = 0.0
    return cash
