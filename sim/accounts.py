"""The accounts: every entity's balance sheet from the stocks, the month-end checks that stop a run whose accounts do
not close, and the balance-sheet snapshots.

Every balance sheet must balance (assets - liabilities = book equity accumulated from the ledger's entries); agent
cash must change by the net flow from the outside sectors; GPUs must be conserved (produced = held + scrapped + sold
to outside buyers) and the installed base must equal its running total. A violation raises
:class:`~gpucredit.sim.ledger.AccountingError` naming the agent, the step and the amounts.
"""

from __future__ import annotations

import numpy as np

from .ledger import AccountingError
from .technology import BN

ASSETS = ("cash", "gpus_book", "loans_receivable", "equity_stakes", "prepaid_compute", "chip_deposits")
LIABILITIES = ("loans_payable", "deferred_revenue", "customer_advances", "bonds")
SNAPSHOT_COLUMNS = ("cash", "gpus_book", "gpus_market", "gpu_count", "loans_receivable", "equity_stakes", "prepaid_compute",
                    "chip_deposits", "assets", "loans_payable", "deferred_revenue", "customer_advances", "bonds",
                    "liabilities", "equity")


def balance_sheets(economy) -> dict[str, np.ndarray]:
    """Every entity's balance sheet (US$bn), from the stocks; equity is from the ledger's entries."""
    m = economy
    led, fleet = m.ledger, m.fleet
    n = len(led.names)
    out = {k: np.zeros(n) for k in ("cash", "gpus_book", "gpus_market", "gpu_count", "loans_receivable", "equity_stakes",
                                    "prepaid_compute", "chip_deposits", "loans_payable", "deferred_revenue",
                                    "customer_advances", "bonds")}
    out["cash"][:] = led.cash
    cnt, own = fleet.view("count"), fleet.view("owner")
    out["gpus_book"] += np.bincount(own, weights=fleet.view("book"), minlength=n)
    out["gpus_market"] += gpus_market_value(m)
    out["gpu_count"] += np.bincount(own, weights=cnt, minlength=n)
    # claims summed by party with np.bincount, in list order (the same totals as a loop over them)
    loans = [loan for loan in m.loans.values() if loan.status != "default"]
    principal = np.array([loan.principal for loan in loans], dtype=float)
    out["loans_receivable"] += np.bincount(np.array([loan.lender for loan in loans], dtype=int), weights=principal, minlength=n)
    out["loans_payable"] += np.bincount(np.array([loan.borrower for loan in loans], dtype=int), weights=principal, minlength=n)
    stakes = m.equity.stakes
    out["equity_stakes"] += np.bincount(np.array([st.holder for st in stakes], dtype=int),
                                        weights=np.array([st.value for st in stakes], dtype=float), minlength=n)
    customer, provider, prepaid = m.contracts.active().columns("customer", "provider", "prepaid")
    out["prepaid_compute"] += np.bincount(customer, weights=prepaid, minlength=n)
    out["deferred_revenue"] += np.bincount(provider, weights=prepaid, minlength=n)
    orders = m.chips.orders()
    deposits = np.array([o.deposit for o in orders], dtype=float)
    out["chip_deposits"] += np.bincount(np.array([o.buyer for o in orders], dtype=int), weights=deposits, minlength=n)
    out["customer_advances"] += np.bincount(np.array([o.seller for o in orders], dtype=int), weights=deposits, minlength=n)
    for h in m.hyperscalers:
        out["bonds"][h.eid] = h.bonds
    out["assets"] = sum(out[k] for k in ASSETS)  # 0 + cash + ...: the same additions, in the same order
    out["liabilities"] = sum(out[k] for k in LIABILITIES)
    out["equity"] = np.array(led.equity)
    return out


def gpus_market_value(economy) -> np.ndarray:
    """Market value of every entity's GPUs at used-GPU prices, US$bn."""
    m = economy
    fleet = m.fleet
    value = fleet.view("count") * m.used_gpus.prices[fleet.view("gen")] / BN
    return np.bincount(fleet.view("owner"), weights=value, minlength=len(m.ledger.names))


def check_accounts(economy, cash_at_open: float) -> None:
    """Stop the run if any balance sheet does not balance, agent cash does not reconcile with the outside sectors
    (``cash_at_open``: agent cash when the month opened), or GPUs are not conserved."""
    m = economy
    led = m.ledger
    bs = balance_sheets(m)
    agents = ~np.asarray(led.is_sector)
    gap = (bs["assets"] - bs["liabilities"] - bs["equity"]) * agents
    scale = 1e-7 * max(1.0, float(np.abs(bs["assets"]).max()))
    bad = np.flatnonzero(np.abs(gap) > scale)
    if len(bad):
        i = int(bad[0])
        raise AccountingError(
            f"step {m.month} ({m.date}): balance sheet of {led.names[i]} does not balance: assets "
            f"{bs['assets'][i]:.9f} - liabilities {bs['liabilities'][i]:.9f} = {bs['assets'][i] - bs['liabilities'][i]:.9f}"
            f" but book equity is {bs['equity'][i]:.9f} (US$bn)")
    change = led.agent_cash_total() - cash_at_open
    if abs(change - led.sector_net_flow) > 1e-7 * max(1.0, abs(cash_at_open)):
        raise AccountingError(f"step {m.month} ({m.date}): agent cash changed by {change:.9f} but the net flow "
                              f"from outside sectors is {led.sector_net_flow:.9f} (US$bn)")
    s = m.startups
    if s.n and abs(float(s.cash.sum()) - led.cash[s.eid]) > 1e-7 * max(1.0, abs(led.cash[s.eid])):
        raise AccountingError(f"step {m.month} ({m.date}): start-up cash {float(s.cash.sum()):.9f} differs from "
                              f"the ledger's {led.cash[s.eid]:.9f} (US$bn)")
    check_gpus(m)
    if not np.all(np.isfinite(led.cash)) or not np.all(np.isfinite(led.equity)):
        raise AccountingError(f"step {m.month} ({m.date}): non-finite cash or equity")


def check_gpus(economy) -> None:
    """GPU conservation and the installed base against its running total (which is then reset: no drift)."""
    m = economy
    fleet = m.fleet
    held = float(fleet.view("count").sum())
    if abs(fleet.produced - held - fleet.scrapped - fleet.sold_outside) > 1e-6 * max(1.0, fleet.produced):
        raise AccountingError(f"step {m.month} ({m.date}): GPUs not conserved: produced {fleet.produced:.3f} != held "
                              f"{held:.3f} + scrapped {fleet.scrapped:.3f} + sold to outside buyers {fleet.sold_outside:.3f}")
    installed = float((fleet.view("count") * m.perf[fleet.view("gen")]).sum())
    # the running total's rounding is relative to the largest base it was kept on this month (the last check's plus
    # the deliveries since), which may have been scrapped by now
    peak = fleet.installed_checked + (fleet.produced - fleet.produced_checked) * float(m.perf.max())
    if abs(installed - fleet.installed_h100e) > 1e-6 * max(1.0, installed, peak):
        raise AccountingError(f"step {m.month} ({m.date}): installed base {installed:.3f} H100e differs from its running "
                              f"total {fleet.installed_h100e:.3f}")
    fleet.installed_h100e = fleet.installed_checked = installed  # no drift from rounding
    fleet.produced_checked = fleet.produced


def snapshot_balance_sheets(economy) -> list[dict]:
    """One row per agent (not the outside sectors or the spot exchange) with its balance sheet now."""
    m = economy
    bs = {k: v.tolist() for k, v in balance_sheets(m).items()}  # Python floats
    rows = []
    for eid, name in enumerate(m.ledger.names):
        if m.ledger.is_sector[eid] or eid == m.spot.exchange:
            continue
        agent = m.entity.get(eid)
        row = {"date": m.date, "agent": name, "type": type(agent).__name__ if agent else "Entity",
               "alive": agent is m.startups or bool(getattr(agent, "alive", True))}
        for k in SNAPSHOT_COLUMNS:
            row[k] = bs[k][eid]
        rows.append(row)
    return rows
