"""Default resolution, in named steps, and the failure of customers (labs and start-ups).

A neocloud defaults when a breach is not cured by the end of its cure period (:mod:`.covenants`), or when, unlevered,
it cannot pay its bills. :func:`resolve_default` then runs:

1. :func:`seize_collateral`  -- each lender takes the GPUs pledged to it; the lead lender (largest claim) the
   unencumbered ones; an unlevered firm's GPUs are sold to outside buyers;
2. :func:`assign_contracts`  -- contracts go with the GPUs to the contract's own lender (or the lead lender) with
   their prepayments; with no lender they are terminated;
3. :func:`distribute_cash`   -- its data centres go to their construction lender, who keeps what it is owed of their
   recovery value (:meth:`~gpucredit.sim.finance.datacentres.DataCentres.realise`); then cash goes to the lenders pro
   rata to their claims; a cash hole is an unpaid bill;
4. :func:`write_off_loans`   -- the facilities are in default, the debt extinguished;
5. :func:`apply_absolute_priority` -- no lender keeps more than it is owed: the excess goes to the other lenders,
   then the unpaid suppliers, then the shareholders;
6. :func:`book_losses`       -- each lender's credit loss is its claim less what it recovered;
7. :func:`schedule_liquidation` -- seized GPUs a lender needs for the contracts it took over are kept (and leased
   out); the rest are sold over ``lenders.liquidation_months`` (:func:`liquidate_seized`, each month in phase 8);
8. :func:`cancel_chip_orders`, :func:`write_down_stakes` and :func:`exit_market` -- open orders cancelled, the
   shareholders wiped out, backstops ended, the firm leaves.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..contracts.register import groups
from .loans import running_sum
from ..technology import BN



def resolve_default(economy, nc) -> None:
    """Default of neocloud ``nc``: lenders seize the GPUs (pledged ones by their own lender, the rest and any cash pro
    rata to principal) and the contracts; shareholders are wiped out; the firm exits. Seized GPUs serving assigned
    contracts are held and leased out, the rest sold over ``lenders.liquidation_months``."""
    m = economy
    rows = m.loans.rows_of(nc.eid, excluding=("default", "repaid"))
    rows = rows[m.loans.column("principal")[rows] > 0]  # its open facilities with principal outstanding, oldest first
    loans = m.loans.views(rows)
    principal = running_sum(m.loans.column("principal")[rows].tolist())
    lenders_share = claims_by_lender(m.loans, rows, principal)  # an unlevered firm out of cash: none
    lead = max(lenders_share, key=lenders_share.get) if lenders_share else None
    seized_units, seized_rows, recovery = seize_collateral(m, nc, lenders_share, lead)
    assumed = assign_contracts(m, nc, lenders_share, lead)
    m.datacentres.realise(nc)  # the construction lender is paid out of the data centres first: its security
    unpaid_bills = distribute_cash(m, nc, lenders_share, recovery)
    write_off_loans(m, nc, loans)
    apply_absolute_priority(m, nc, {k: principal * v for k, v in lenders_share.items()}, recovery, unpaid_bills,
                            seized_rows)
    total_loss = book_losses(m, lenders_share, principal, recovery)
    schedule_liquidation(m, lenders_share, seized_rows)
    cancel_chip_orders(m, nc)
    write_down_stakes(m, nc)
    exit_market(m, nc)
    m.flow["defaults_count"] += 1
    m.flow["debt_in_default"] += principal
    m.flow["gpus_seized"] += seized_units
    m.flow["lender_losses"] += total_loss
    lender_names = [m.entity[k].name for k in lenders_share]
    m.events.log("default", [nc.name] + lender_names, principal,
                 detail=f"loss {total_loss:.3f}; prepaid compute assumed {sum(assumed.values()):.3f}")
    if seized_units:
        m.events.log("seizure", lender_names + [nc.name], sum(recovery.values()), units=seized_units)
    m.contracts.refresh_books()
    m.refresh_capacity()
    nc.remove()


def claims_by_lender(register, rows, principal: float) -> dict[int, float]:
    """Each lender's share of the defaulted ``principal`` (US$bn) of facilities ``rows``, the lenders in the order of
    their first facility."""
    if not len(rows):
        return {}
    by_lender = defaultdict(float)
    for lender, owed in zip(register.column("lender")[rows].tolist(), register.column("principal")[rows].tolist()):
        by_lender[lender] += owed  # one by one, in the facilities' order
    return {k: v / principal for k, v in by_lender.items()}


def seize_collateral(economy, nc, lenders_share: dict, lead) -> tuple[float, dict, dict]:
    """Each cohort goes to the lender it is pledged to (the lead lender if unencumbered) at market value, which becomes
    the lender's cost; with no lender it is sold to outside buyers. Returns the GPUs seized, the rows each lender
    seized and each lender's recovery so far (US$bn)."""
    m = economy
    led, fleet = m.ledger, m.fleet
    seized_units = 0.0
    seized_rows = defaultdict(list)
    recovery = defaultdict(float)  # seized GPUs at market and cash, by lender
    rows = fleet.rows_of(nc.eid)
    if lead is None:  # no lender: every cohort is sold
        for r in rows:
            m.used_gpus.sell_cohort(nc.eid, r, fleet.count[r], forced=True)
        return seized_units, seized_rows, recovery
    # each cohort's GPUs, book value and used-GPU price read at once (as numpy floats, as read one by one: seizing a
    # cohort changes no other's)
    counts, books, prices = fleet.count[rows], fleet.book[rows], m.used_gpus.prices[fleet.gen[rows]]
    for k, (r, lid) in enumerate(zip(rows.tolist(), fleet.pledged[rows].tolist())):
        new_owner = lead  # an unencumbered cohort, or one pledged to a loan of another borrower
        if lid >= 0 and lid in m.loans:
            lender = m.loans.lender_of(lid)
            new_owner = lender if lender in lenders_share else lead
        value = counts[k] * prices[k] / BN
        led.book(nc.eid, -books[k], "gpus_seized")
        led.book(new_owner, value, "gpus_seized")
        led.move_gpus(nc.eid, new_owner, counts[k], "gpus_seized")
        fleet.transfer(r, new_owner)
        fleet.book[r] = value
        fleet.cost[r] = value  # fair value becomes the lender's cost; the physical age is unchanged
        fleet.pledged[r] = -1
        seized_units += counts[k]
        seized_rows[new_owner].append(r)
        recovery[new_owner] += value
    return seized_units, seized_rows, recovery


def assign_contracts(economy, nc, lenders_share: dict, lead) -> dict[int, float]:
    """Contracts go with the GPUs to the lender of the loan they secure (or the lead lender), with their unreleased
    prepayments: the prepaid compute the lenders must now serve is booked against their equity but is not a credit
    loss (they take the contracts' remaining payments too). With no lender, contracts are terminated. The same rule
    for every customer, start-ups included. Returns the prepaid compute each lender assumed (US$bn)."""
    m = economy
    led = m.ledger
    register = m.contracts
    rows = register.rows_of(provider=nc.eid)
    assumed = defaultdict(float)
    if not len(rows):
        return assumed
    if lead is None:
        register.terminate(rows, "provider_exit")
        return assumed
    ids, lenders = m.loans.columns_of("id", "lender", borrower=nc.eid)
    loan_lender = {i: k for i, k in zip(ids.tolist(), lenders.tolist()) if k in lenders_share}
    new_providers = np.array([loan_lender.get(loan, lead) for loan in register.column("loan")[rows].tolist()], dtype=np.int64)
    prepaid = register.column("prepaid")[rows]
    order, by_lender = groups(new_providers)
    prepaid_sorted = prepaid[order]
    for lender, first, last in by_lender:
        amount = float(prepaid_sorted[first:last].sum())
        led.book(nc.eid, amount, "contracts_assigned")
        led.book(lender, -amount, "contracts_assigned")
        assumed[lender] += amount
    register.reassign(rows, new_providers)
    return assumed


def distribute_cash(economy, nc, lenders_share: dict, recovery: dict) -> float:
    """The firm's cash goes to its lenders pro rata to their claims (to its shareholders if it has none); a negative
    balance is unpaid bills, absorbed by its suppliers. Returns the unpaid bills (US$bn)."""
    m = economy
    led = m.ledger
    cash = led.cash[nc.eid]
    unpaid_bills = max(0.0, -cash)
    if cash < 0:  # unpaid bills: suppliers absorb the loss
        led.pay(led.sector("utilities_and_data_centres"), nc.eid, -cash, "trade_credit_loss")
    elif cash > 0:
        if lenders_share:
            for lid_eid, share in lenders_share.items():
                led.pay(nc.eid, lid_eid, cash * share, "recovery")
                recovery[lid_eid] += cash * share
        else:
            led.pay(nc.eid, led.sector("venture_and_public_equity"), cash, "payout")
    return unpaid_bills


def write_off_loans(economy, nc, loans: list) -> None:
    """The facilities are in default: the borrower's debt is extinguished, the lenders' loans written off (their
    recoveries are booked as the seized assets and cash came in)."""
    m = economy
    led = m.ledger
    for l in loans:
        led.book(nc.eid, l.principal, "debt_extinguished")
        led.book(l.lender, -l.principal, "loan_default")
    m.loans.write_off(loans)


def apply_absolute_priority(economy, nc, owed: dict[int, float], recovery: dict[int, float], unpaid_bills: float,
                            seized_rows: dict[int, list[int]]) -> None:
    """No lender keeps more than it is owed. A lender whose seizure (its pledged GPUs, or the unencumbered ones
    and cash that went to it) is worth more than its claim pays the excess over, in cash: first to the other
    lenders, pro rata to what they are still short, then to the suppliers whose ``unpaid_bills`` (US$bn) they
    absorbed, then to the shareholders of the defaulted firm, pro rata to their stakes (the unheld rest to
    outside equity). The contracts a lender takes over count as worth the prepaid compute it assumes with them
    (their remaining payments against the hours still owed). A lender without the cash sells seized GPUs
    (the least efficient first) to raise it, and pays the whole excess even if it was overdrawn before the
    default (its overdraft is its own, not the owners' surplus): so no lender books a negative loss, a gain on
    a default. ``recovery`` is updated in place."""
    m = economy
    led = m.ledger
    surplus = {k: recovery[k] - owed[k] for k in owed if recovery[k] > owed[k]}
    for k, excess in surplus.items():
        if led.cash[k] < excess:  # the owners' surplus, not the lender's claim: not a fire sale
            m.used_gpus.sell_for_cash(k, seized_rows.get(k, []), excess - max(led.cash[k], 0.0), forced=False)
    short = {k: owed[k] - recovery[k] for k in owed if recovery[k] < owed[k]}
    total_surplus, total_short = sum(surplus.values()), sum(short.values())
    if total_surplus <= 1e-12:  # nothing worth passing on (rounding)
        recovery.update({k: owed[k] for k in surplus})
        return
    to_lenders = min(total_surplus, total_short)
    to_suppliers = min(total_surplus - to_lenders, unpaid_bills)
    to_owners = total_surplus - to_lenders - to_suppliers
    owners = [(st.holder, st.share) for st in m.equity.stakes_in(nc.eid)]
    outside = max(0.0, 1.0 - m.equity.held_share(nc.eid))
    for k, x in surplus.items():
        part = x / total_surplus
        for j, gap in short.items():
            amount = part * to_lenders * gap / total_short
            led.pay(k, j, amount, "recovery")
            recovery[j] += amount
        led.pay(k, led.sector("utilities_and_data_centres"), part * to_suppliers, "recovery")
        for holder, share in owners:
            led.pay(k, holder, part * to_owners * share, "recovery")
        led.pay(k, led.sector("venture_and_public_equity"), part * to_owners * outside, "recovery")
        recovery[k] = owed[k]  # it keeps what it is owed, no more
    if to_owners > 1e-9:
        m.events.log("default_surplus", [nc.name] + [m.entity[h].name for h, _ in owners], to_owners)


def book_losses(economy, lenders_share: dict, principal: float, recovery: dict) -> float:
    """Each lender's credit loss: its claim less the GPUs and cash it recovered, never negative (absolute priority
    leaves no lender more than its claim; the floor removes rounding). Returns the total (US$bn)."""
    m = economy
    total_loss = 0.0
    for lender_eid, share in lenders_share.items():
        loss = max(0.0, principal * share - recovery[lender_eid])  # never a gain (absolute priority caps recoveries)
        lender = m.entity[lender_eid]
        lender.losses += loss
        lender.realised_losses += loss
        total_loss += loss
    return total_loss


def schedule_liquidation(economy, lenders_share: dict, seized_rows: dict) -> None:
    """A lender keeps the seized GPUs it needs to serve the contracts it now provides (those already serving compute
    first, the most efficient first) and sells the rest over ``lenders.liquidation_months``."""
    m = economy
    fleet = m.fleet
    for lender_eid in lenders_share:
        needed = m.contracts.capacity_owed_by(lender_eid)
        rows = sorted(seized_rows.get(lender_eid, []), key=lambda r: (fleet.live_from[r] > m.month, -m.perf[fleet.gen[r]]))
        for r in rows:
            cap = fleet.count[r] * m.perf[fleet.gen[r]]
            if needed >= cap:
                needed -= cap
                continue
            if needed > 0:
                keep_units = needed / m.perf[fleet.gen[r]]
                r = fleet.split(r, fleet.count[r] - keep_units)
                needed = 0.0
            fleet.liquidate[r] = m.p["lenders.liquidation_months"]


def liquidate_seized(economy) -> None:
    """Each lender sells this month's tranche of the seized GPUs it does not need for the contracts it took over (see
    :func:`schedule_liquidation`): an equal share of what is left over the remaining liquidation months, to outside
    buyers at the used-GPU price, a fire sale that depresses it (lenders in their order, cohorts in fleet order)."""
    m = economy
    fleet = m.fleet
    n = fleet.n
    selling = ((fleet.count[:n] > 0) & (fleet.liquidate[:n] > 0)).nonzero()[0]  # mostly none
    if not len(selling):
        return
    owners = fleet.owner[selling]
    sold = False
    for lender in m.lenders:
        rows = selling[owners == lender.eid]
        for row, months_left in zip(rows.tolist(), fleet.liquidate[rows].tolist()):
            m.used_gpus.sell_cohort(lender.eid, row, fleet.count[row] / months_left, forced=True, remark=False)
            fleet.liquidate[row] = months_left - 1
            sold = True
    if sold:  # the used-GPU prices after the tranches: no sale reads them, so one mark after the last is the same
        m.used_gpus.mark()


def cancel_chip_orders(economy, nc) -> None:
    """Its open chip orders are cancelled and the deposits forfeited."""
    economy.chips.cancel_all(nc.eid)


def write_down_stakes(economy, nc) -> None:
    """Its shareholders are wiped out: every stake in it is written off."""
    m = economy
    outside_share = max(0.0, 1.0 - m.equity.held_share(nc.eid))
    m.venture.record_loss(outside_share * max(nc.valuation, 0.0))  # venture investors' equity is lost too
    m.equity.write_off(nc.eid)


def exit_market(economy, nc) -> None:
    """Backstops in its favour end; it leaves the market."""
    m = economy
    m.circular.backstops.end_for(nc.eid, m.month)
    nc.alive = False
    m.neoclouds.remove(nc)
    m.defunct.append(nc)


# --------------------------------------------------------------------------------------------------------------
# customers that fail
# --------------------------------------------------------------------------------------------------------------
def fail_lab(economy, customer) -> None:
    """A lab that cannot pay its contracts defaults on all of them (providers keep the prepayments) and exits."""
    m = economy
    if customer in m.labs and customer.alive:
        customer.alive = False
        outside_share = max(0.0, 1.0 - m.equity.held_share(customer.eid))
        m.venture.record_loss(outside_share * customer.valuation)  # venture investors' equity is lost
        m.flow["lab_failures"] += 1
        m.contracts.terminate(m.contracts.rows_of(customer=customer.eid), "customer_failure")
        cash = m.ledger.cash[customer.eid]
        if cash > 0:
            m.ledger.pay(customer.eid, m.ledger.sector("venture_and_public_equity"), cash, "payout")
        m.events.log("developer_failure", [customer.name], 0.0)


def fail_startups(economy, idx: np.ndarray) -> None:
    """Start-ups out of cash (slots ``idx``) default on their contracts (providers keep the prepayments) and exit."""
    m = economy
    s = m.startups
    led = m.ledger
    register = m.contracts
    failing = np.zeros(s.n, dtype=bool)
    failing[idx] = True
    slot = register.column("slot")  # the active contracts of the failing start-ups, in signing order
    register.terminate((register.column("active") & (slot >= 0) & failing[np.maximum(slot, 0)]).nonzero()[0],
                       "start-up failures")
    leftover = s.cash[idx]
    led.pay(s.eid, led.sector("venture_and_public_equity"), float(np.maximum(leftover, 0).sum()), "payout")
    s.cash[idx] = 0.0
    s.alive[idx] = False
    s.failures += len(idx)
    m.flow["startup_failures"] += len(idx)


def exits_for_want_of_cash(economy) -> None:
    """Month-end failures: start-ups that could not pay their team or are out of cash without revenue, labs with
    negative cash, and unlevered neoclouds that cannot pay their bills."""
    m = economy
    led = m.ledger
    s = m.startups
    if s.n:
        broke = s.alive & (s.unpaid | ((s.cash <= 0) & (s.revenue * (1 - m.p["startups.opex_share"]) < 1e-6)))
        if broke.any():
            fail_startups(m, broke.nonzero()[0])
    for lab in m.labs:
        if lab.alive and led.cash[lab.eid] < 0:
            fail_lab(m, lab)
    with m.contracts.books_deferred():  # the books once after these defaults, not after each
        for nc in list(m.neoclouds):  # an unlevered neocloud that cannot pay its bills exits too
            if led.cash[nc.eid] < 0 and not m.loans.has_open_debt(nc.eid):
                resolve_default(m, nc)
