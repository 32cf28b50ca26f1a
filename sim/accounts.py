"""The accounts: every entity's balance sheet from the stocks, the month-end checks that stop a run whose accounts do
not close, and the balance-sheet snapshots.

The checks, in order (:func:`check_accounts`): the month's transaction-flow matrix closes (each party's payments sum
to the change in its cash, outside sectors included; non-cash transfers net to zero); every party holds the GPUs its
transactions gave it, so GPUs are conserved (produced = held + scrapped + sold to outside buyers) and the installed
base equals its running total; every balance sheet balances (assets - liabilities = book equity accumulated from the
ledger's entries); agent cash changes by the net flow from the outside sectors. A violation raises
:class:`~gpucredit.sim.ledger.AccountingError` naming the party, the step and the amounts.
"""

from __future__ import annotations

import math

import numpy as np

from .ledger import AccountingError
from .technology import BN

ASSETS = ("cash", "gpus_book", "loans_receivable", "equity_stakes", "prepaid_compute", "chip_deposits", "datacentres")
LIABILITIES = ("loans_payable", "deferred_revenue", "customer_advances", "bonds", "bank_facility", "construction_debt")
SNAPSHOT_COLUMNS = ("cash", "gpus_book", "gpus_market", "gpu_count", "loans_receivable", "equity_stakes", "prepaid_compute",
                    "chip_deposits", "datacentres", "assets", "loans_payable", "deferred_revenue", "customer_advances",
                    "bonds", "bank_facility", "construction_debt", "liabilities", "equity")


def balance_sheets(economy) -> dict[str, np.ndarray]:
    """Every entity's balance sheet (US$bn), from the stocks; equity is from the ledger's entries."""
    m = economy
    led, fleet = m.ledger, m.fleet
    n = len(led.names)
    out = {"cash": np.array(led.cash)}
    out["cash"][np.array(led.is_sector)] = 0.0  # an outside sector's cash is its net payments, not a balance sheet
    cnt, own = fleet.view("count"), fleet.view("owner")
    out["gpus_book"] = by_party(own, fleet.view("book"), n)
    out["gpus_market"] = by_party(None, gpus_market_value(m), n)
    out["gpu_count"] = by_party(own, cnt, n)
    lender, borrower, principal = m.loans.columns_of("lender", "borrower", "principal", excluding=("default",))
    out["loans_receivable"] = by_party(lender, principal, n)
    out["loans_payable"] = by_party(borrower, principal, n)
    out["equity_stakes"] = by_party(m.equity.column("holder"), m.equity.column("value"), n)
    customer, provider, prepaid = m.contracts.active().columns("customer", "provider", "prepaid")
    out["prepaid_compute"] = by_party(customer, prepaid, n)
    out["deferred_revenue"] = by_party(provider, prepaid, n)
    book = m.chips.order_book  # open chip orders, chipmaker by chipmaker
    rows = book.rows_by_seller()
    buyer, seller, deposit = (book.column(k)[rows] for k in ("buyer", "seller", "deposit"))
    out["chip_deposits"] = by_party(buyer, deposit, n)
    out["customer_advances"] = by_party(seller, deposit, n)
    out["bonds"] = np.zeros(n)
    out["bonds"][[h.eid for h in m.hyperscalers]] = [h.bonds for h in m.hyperscalers]
    out["bank_facility"] = np.zeros(n)
    out["bank_facility"][[lender.eid for lender in m.lenders]] = [lender.borrowings for lender in m.lenders]
    builds = m.datacentres.builds  # owned and under construction, at book value; the loans behind them
    owners = [build.owner for build in builds]
    out["datacentres"] = by_party(owners, [build.book for build in builds], n)
    out["construction_debt"] = by_party(owners, [build.debt for build in builds], n)
    out["assets"] = sum(out[k] for k in ASSETS)  # 0 + cash + ...: the same additions, in the same order
    out["liabilities"] = sum(out[k] for k in LIABILITIES)
    out["equity"] = np.array(led.equity)
    return out


def by_party(parties, amounts, n: int) -> np.ndarray:
    """``amounts`` (US$bn) summed by party for all ``n`` entities, as floats, in the order given: np.bincount adds them
    one by one, so each total is what a loop over them gives. ``parties`` None: ``amounts`` is already by party."""
    if parties is not None and len(parties):  # (a fresh float array: bincount's sums start from 0.0)
        return np.bincount(np.asarray(parties, dtype=int), weights=np.asarray(amounts, dtype=float), minlength=n)
    total = np.zeros(n)
    if parties is None:
        total += amounts
    return total


def gpus_market_value(economy) -> np.ndarray:
    """Market value of every entity's GPUs at used-GPU prices, US$bn."""
    m = economy
    fleet = m.fleet
    value = fleet.view("count") * m.used_gpus.prices[fleet.view("gen")] / BN
    return np.bincount(fleet.view("owner"), weights=value, minlength=len(m.ledger.names))


def check_accounts(economy, cash_at_open: float) -> dict[str, np.ndarray]:
    """Stop the run if the month's accounts do not close (``cash_at_open``: agent cash when the month opened), in this
    order: the transaction-flow matrix (:func:`check_flow_matrix`), GPUs (:func:`check_gpus`), balance sheets
    (:func:`check_balance_sheets`), agent cash against the outside sectors, start-up cash, finite balances. Returns the
    balance sheets checked (:func:`balance_sheets`), the month's closing ones once nothing changes the stocks."""
    m = economy
    led = m.ledger
    check_flow_matrix(m)
    check_gpus(m)
    sheets = check_balance_sheets(m)
    change = led.agent_cash_total() - cash_at_open
    from_sectors = -sum(c - c0 for c, c0, sector in zip(led.cash, led.cash_open, led.is_sector) if sector)
    if abs(change - from_sectors) > 1e-7 * max(1.0, abs(cash_at_open)):
        raise AccountingError(f"step {m.month} ({m.date}): agent cash changed by {change:.9f} but the net flow "
                              f"from outside sectors is {from_sectors:.9f} (US$bn)")
    s = m.startups
    if s.n and abs(float(s.cash.sum()) - led.cash[s.eid]) > 1e-7 * max(1.0, abs(led.cash[s.eid])):
        raise AccountingError(f"step {m.month} ({m.date}): start-up cash {float(s.cash.sum()):.9f} differs from "
                              f"the ledger's {led.cash[s.eid]:.9f} (US$bn)")
    if not np.isfinite(led.cash).all() or not np.isfinite(led.equity).all():
        raise AccountingError(f"step {m.month} ({m.date}): non-finite cash or equity")
    return sheets


def check_flow_matrix(economy) -> None:
    """The month's transaction-flow matrix closes (Godley and Lavoie 2007, ch. 2), outside sectors included:

    * every column (payment kind) sums to zero: each entry is a payment from one party to another (the ledger keeps
      the flows by payer and payee), so what one party pays another receives, by construction;
    * every row (party) sums to the change in its cash: no cash moves outside the ledger (tolerance 1e-9 of the
      party's gross flows and opening cash, at least US$1bn);
    * every non-cash transfer (a prepayment earned, capitalised interest, a forfeited deposit, debt written off) nets
      to zero across the parties: no income is booked on one side only, or twice (tolerance 1e-9 of its gross
      entries, at least US$1bn)."""
    m = economy
    led = m.ledger
    rows, gross = led.flows_by_party()
    change = np.asarray(led.cash) - np.asarray(led.cash_open)
    bad = (np.abs(change - rows) > 1e-9 * np.maximum(1.0, gross + np.abs(led.cash_open))).nonzero()[0]
    if len(bad):
        i = int(bad[0])
        raise AccountingError(f"step {m.month} ({m.date}): cash of {led.party(i)} changed by {change[i]:.9f} but its "
                              f"payments this month net to {rows[i]:.9f} US$bn: {change[i] - rows[i]:.9f} US$bn moved "
                              f"outside the ledger")
    for transfer, column in led.transfers.items():
        total = math.fsum(column.values())
        if abs(total) > 1e-9 * max(1.0, math.fsum(map(abs, column.values()))):
            net = np.zeros(len(led.names))
            net[list(column)] = list(column.values())
            raise AccountingError(f"step {m.month} ({m.date}): non-cash entries '{transfer}' do not net to zero across "
                                  f"the parties: {total:+.9f} US$bn ({_largest(led, net)}): booked on one side only, or "
                                  f"counted twice")


def _largest(ledger, net: np.ndarray, k: int = 3) -> str:
    """The ``k`` parties with the largest entries, for a message."""
    top = np.argsort(-np.abs(net), kind="stable")[:k]
    return ", ".join(f"{ledger.party(int(i))} {net[i]:+.9f}" for i in top if net[i] != 0.0)


def check_balance_sheets(economy) -> dict[str, np.ndarray]:
    """Every agent's assets minus liabilities equal its book equity accumulated from the ledger's entries. Returns the
    balance sheets checked."""
    m = economy
    led = m.ledger
    bs = balance_sheets(m)
    agents = ~np.asarray(led.is_sector)
    gap = (bs["assets"] - bs["liabilities"] - bs["equity"]) * agents
    scale = 1e-7 * max(1.0, float(np.abs(bs["assets"]).max()))
    bad = (np.abs(gap) > scale).nonzero()[0]
    if len(bad):
        i = int(bad[0])
        raise AccountingError(
            f"step {m.month} ({m.date}): balance sheet of {led.party(i)} does not balance: assets "
            f"{bs['assets'][i]:.9f} - liabilities {bs['liabilities'][i]:.9f} = {bs['assets'][i] - bs['liabilities'][i]:.9f}"
            f" but book equity is {bs['equity'][i]:.9f} (US$bn)")
    return bs


def check_gpus(economy) -> None:
    """GPUs: every party holds what its transactions gave it (agents in the fleet; the foundry minus all GPUs made,
    outside buyers what they bought, recyclers what was scrapped), so GPUs are conserved across all parties
    (produced = held + scrapped + sold to outside buyers); the installed base equals its running total (which is
    then reset: no drift)."""
    m = economy
    led, fleet = m.ledger, m.fleet
    n = len(led.names)
    # (as float: numpy's bincount of an empty fleet is integer, which would truncate the sectors' counts below)
    held = np.bincount(fleet.view("owner"), weights=fleet.view("count"), minlength=n).astype(float)
    agents_hold = float(held.sum())
    for sector, count in (("foundry_and_suppliers", -fleet.produced), ("used_gpu_buyers", fleet.sold_outside),
                          ("recyclers", fleet.scrapped)):
        held[led.sector(sector)] = count
    position = np.asarray(led.gpus)
    # rounding: relative to what a party holds and to the GPUs it moved this month (a party can trade far more GPUs
    # in a month than it holds at its end)
    gross = [0.0] * n
    for flows in led.gpu_flows.values():
        for i, v in flows.items():
            gross[i] += abs(v)
    moved_gross = np.array(gross)
    bad = (np.abs(position - held) > 1e-6 * np.maximum(1.0, np.abs(held)) + 1e-9 * moved_gross).nonzero()[0]
    if len(bad):
        i = int(bad[np.argsort(np.asarray(led.is_sector)[bad], kind="stable")][0])  # an agent at fault before a sector
        moved = ", ".join(f"{item} {flows[i]:+.3f}" for item, flows in led.gpu_flows.items() if i in flows) or "none"
        raise AccountingError(f"step {m.month} ({m.date}): GPUs of {led.party(i)} not conserved: its transactions leave "
                              f"it {position[i]:.3f} GPUs but it holds {held[i]:.3f} (GPUs moved this month: {moved})")
    led.gpus[:] = held.tolist()  # checked: the positions restart from the holdings (no drift from rounding)
    if abs(fleet.produced - agents_hold - fleet.scrapped - fleet.sold_outside) > 1e-6 * max(1.0, fleet.produced):
        raise AccountingError(f"step {m.month} ({m.date}): GPUs not conserved: produced {fleet.produced:.3f} != held "
                              f"{agents_hold:.3f} + scrapped {fleet.scrapped:.3f} + sold to outside buyers "
                              f"{fleet.sold_outside:.3f}")
    installed = float((fleet.view("count") * fleet.view("h100e_per_gpu")).sum())  # (h100e_per_gpu: perf[gen])
    # the running total's rounding is relative to the largest base it was kept on this month (the last check's plus
    # the deliveries since), which may have been scrapped by now
    peak = fleet.installed_checked + (fleet.produced - fleet.produced_checked) * float(m.perf.max())
    if abs(installed - fleet.installed_h100e) > 1e-6 * max(1.0, installed, peak):
        raise AccountingError(f"step {m.month} ({m.date}): installed base {installed:.3f} H100e differs from its running "
                              f"total {fleet.installed_h100e:.3f}")
    fleet.installed_h100e = fleet.installed_checked = installed  # no drift from rounding
    fleet.produced_checked = fleet.produced


def snapshot_balance_sheets(economy, sheets: dict[str, np.ndarray] | None = None) -> list[dict]:
    """One row per agent (not the outside sectors or the spot exchange) with its balance sheet now: ``sheets``, the
    month's closing balance sheets if the checks have just built them (:func:`check_accounts`), else built here."""
    m = economy
    bs = balance_sheets(m) if sheets is None else sheets
    columns = [bs[k].tolist() for k in SNAPSHOT_COLUMNS]  # Python floats
    rows = []
    for eid, name in enumerate(m.ledger.names):
        if m.ledger.is_sector[eid] or eid == m.spot.exchange:
            continue
        agent = m.entity.get(eid)
        row = {"date": m.date, "agent": name, "type": type(agent).__name__ if agent else "Entity",
               "alive": agent is m.startups or bool(getattr(agent, "alive", True))}
        row.update(zip(SNAPSHOT_COLUMNS, [column[eid] for column in columns]))
        rows.append(row)
    return rows
