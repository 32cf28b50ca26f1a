"""The financial network and its metrics.

The network is a networkx ``MultiDiGraph`` whose nodes are the agents (start-ups as one node) and whose
edges are typed and weighted (US$bn). Every edge points from the party that holds the claim to the party
that owes it, except chip sales, which point from the chipmaker to the buyer:

=================  =================================  ======================================================
type               direction                          weight
=================  =================================  ======================================================
``loan``           lender -> borrower                 principal outstanding (``collateral``: market value)
``equity_stake``   holder -> issuer                   market value (``share``: fraction owned)
``compute``        provider -> customer               remaining contract value (``qty`` in H100e)
``rent_back``      neocloud -> Nvidia                 remaining contract value
``backstop``       beneficiary -> guarantor           remaining cap
``chip_sale``      chipmaker -> buyer                 purchases over the last 12 months
``chip_order``     buyer -> chipmaker                 open orders at today's list price (``deposit``: US$bn paid)
=================  =================================  ======================================================

Metrics (precise definitions; also in ``docs/ODD.md``):

* **circular revenue share** = Nvidia chip revenue over the last 12 months paid by firms that, in the month
  of purchase, Nvidia financed (held equity in, backstopped or rented back from), divided by all Nvidia chip
  revenue over the same 12 months;
* **round-trip ratio** = sum over financed firms f of min(chip purchases by f, Nvidia money to f) divided by
  the sum of Nvidia money to f (equity investments, backstop and rent-back payments), all over 12 months;
* **HHI** of Nvidia's customers (12-month revenue shares), of lending by lender, of each neocloud's customers;
* **systemic risk (DebtRank)**, Battiston et al. (2012): each neocloud first loses the equity equivalent of a
  20% fall in its GPUs' market value; distress h in [0, 1] propagates through exposures
  ``W[i, j] = min(1, exposure of i to j / equity of i)`` (each node passes on only its new distress); the
  reported value is the exposure-weighted average final distress of all nodes.
"""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import numpy as np

from .technology import BN

SHOCK = 0.2


def exposures(model) -> list[tuple[int, int, str, float, dict]]:
    """All claims in the economy as (holder, obligor, type, US$bn, attributes)."""
    m = model
    out = []
    for loan in m.loans.values():
        if loan.status not in ("default", "repaid") and loan.principal > 0:
            out.append((loan.lender, loan.borrower, "loan", loan.principal,
                        {"collateral": loan.collateral_value, "ltv": loan.ltv, "status": loan.status}))
    for st in m.stakes:
        out.append((st.holder, st.issuer, "equity_stake", st.value, {"share": st.share}))
    for c in m.contracts:
        if c.active:
            kind = "rent_back" if c.kind == "rent_back" else "compute"
            out.append((c.provider, c.customer, kind, c.remaining_value(m.month), {"qty": c.qty, "grade": c.grade}))
    s = m.startups
    if s.n:
        has = s.alive & (s.provider >= 0)
        value = np.bincount(s.provider[has], weights=s.qty[has] * s.price[has] * 730 / BN * np.maximum(s.end[has] - m.month, 0),
                            minlength=len(m.ledger.names))
        qty = np.bincount(s.provider[has], weights=s.qty[has], minlength=len(m.ledger.names))
        for eid in np.flatnonzero(value > 0):
            out.append((int(eid), s.eid, "compute", float(value[eid]), {"qty": float(qty[eid]), "grade": "non_ig"}))
    for b in m.backstops:
        if b.start <= m.month < b.end and b.cap > b.paid:
            out.append((b.beneficiary, b.guarantor, "backstop", b.cap - b.paid, {}))
    return out


def build_network(model) -> nx.MultiDiGraph:
    """The financial network at the current month."""
    m = model
    g = nx.MultiDiGraph(date=m.date)
    bs = m.balance_sheets()
    for eid, agent in m.entity.items():
        if eid == m.startups.eid or getattr(agent, "alive", True):
            g.add_node(agent.name, type=type(agent).__name__, equity=float(bs["equity"][eid]), assets=float(bs["assets"][eid]))
    name = m.ledger.names
    for holder, obligor, kind, value, attrs in exposures(m):
        g.add_edge(name[holder], name[obligor], type=kind, weight=float(value),
                   **{k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in attrs.items()})
    sales = m.chip_sales_12m()
    for buyer, value in sales.items():
        if value > 0:
            g.add_edge(m.nvidia.name, name[buyer], type="chip_sale", weight=float(value))
    for chip in (m.nvidia, m.rival):
        open_h100e: dict[int, float] = defaultdict(float)
        deposits: dict[int, float] = defaultdict(float)
        for o in m.order_book[chip.eid]:
            open_h100e[o.buyer] += o.h100e
            deposits[o.buyer] += o.deposit
        for buyer, h100e in open_h100e.items():
            if name[buyer] in g:
                g.add_edge(name[buyer], chip.name, type="chip_order", weight=float(m.order_value(chip, h100e)),
                           h100e=float(h100e), deposit=float(deposits[buyer]))
    return g


def hhi(values) -> float:
    v = np.asarray([x for x in values if x > 0], dtype=float)
    if v.size == 0 or v.sum() <= 0:
        return 0.0
    s = v / v.sum()
    return float((s**2).sum())


def financed_by_nvidia(model) -> set[int]:
    m = model
    nv = m.nvidia.eid
    firms = {s.issuer for s in m.stakes if s.holder == nv}
    firms |= {b.beneficiary for b in m.backstops if b.start <= m.month < b.end}
    firms |= {c.provider for c in m.contracts if c.active and c.kind == "rent_back"}
    return firms


def claims(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The claims of :func:`exposures` as arrays (holder, obligor, US$bn), in the same order."""
    m = model
    month = m.month
    loans = [l for l in m.loans.values() if l.status not in ("default", "repaid") and l.principal > 0]
    holder = [l.lender for l in loans] + [st.holder for st in m.stakes]
    obligor = [l.borrower for l in loans] + [st.issuer for st in m.stakes]
    value = [l.principal for l in loans] + [st.value for st in m.stakes]
    parts_h, parts_o, parts_v = [np.array(holder, dtype=int)], [np.array(obligor, dtype=int)], [np.array(value, dtype=float)]
    provider, customer, qty, price, start, end = m.active_contracts.of(m.contracts).columns("provider", "customer", "qty", "price", "start", "end")
    if len(provider):
        parts_h.append(provider)
        parts_o.append(customer)
        parts_v.append(qty * price * 730.0 / 1e9 * np.maximum(0, end - np.maximum(start, month)))  # remaining value
    s = m.startups
    if s.n:
        has = s.alive & (s.provider >= 0)
        startup_value = np.bincount(s.provider[has], weights=s.qty[has] * s.price[has] * 730 / BN * np.maximum(s.end[has] - month, 0),
                                    minlength=len(m.ledger.names))
        providers = np.flatnonzero(startup_value > 0)
        parts_h.append(providers)
        parts_o.append(np.full(len(providers), s.eid))
        parts_v.append(startup_value[providers])
    backstops = [(b.beneficiary, b.guarantor, b.cap - b.paid) for b in m.backstops if b.start <= month < b.end and b.cap > b.paid]
    if backstops:
        parts_h.append(np.array([b for b, _, _ in backstops], dtype=int))
        parts_o.append(np.array([g for _, g, _ in backstops], dtype=int))
        parts_v.append(np.array([v for _, _, v in backstops], dtype=float))
    return np.concatenate(parts_h), np.concatenate(parts_o), np.concatenate(parts_v)


def debtrank(model, shock: float = SHOCK) -> float:
    m = model
    holder, obligor, value = claims(m)
    if not len(value):
        return 0.0
    neoclouds = np.array([nc.eid for nc in m.neoclouds], dtype=int)
    nodes = np.flatnonzero(np.bincount(np.concatenate([holder, obligor, neoclouds]).astype(int)))  # in increasing order
    n = len(nodes)
    exposure = np.zeros((n, n))
    np.add.at(exposure, (np.searchsorted(nodes, holder), np.searchsorted(nodes, obligor)), value)
    equity = np.maximum(np.asarray(m.ledger.equity)[nodes], 1e-6)
    w = np.minimum(1.0, exposure / equity[:, None])
    h = np.zeros(n)
    k = np.searchsorted(nodes, neoclouds)
    h[k] = np.minimum(1.0, shock * m.gpus_market_value()[neoclouds] / equity[k])
    delta = h.copy()
    for _ in range(100):
        new = np.minimum(1.0, h + w @ delta)
        delta = new - h
        h = new
        if delta.max() < 1e-9:
            break
    size = exposure.sum(axis=0) + exposure.sum(axis=1)
    if size.sum() <= 0:
        return 0.0
    return float((h * size).sum() / size.sum())


def monthly_series(model) -> dict[str, float]:
    """Every column of the data dictionary (:mod:`gpucredit.sim.outputs`) for the current month."""
    m = model
    led, fleet, hist, flow = m.ledger, m.fleet, m.history, m.flow
    nv = m.nvidia
    h100, a100, b200 = m.gen_index("H100"), m.gen_index("A100"), m.gen_index("B200")
    price = m.spot_price
    out: dict[str, float] = {}
    out["spot_price_h100e"] = price
    out["clearing_price_h100e"] = m.clearing_price
    out["h100_rental_price"] = price * m.perf[h100]
    out["a100_rental_price"] = price * m.perf[a100]
    out["b200_rental_price"] = price * m.perf[b200] if m.release[b200] <= m.month else 0.0
    out["contract_price_h100e"] = m.contract_price_now
    out["fundamental_price_h100e"] = m.fundamental_price
    sec = m.secondary.prices
    out["secondary_price_h100"] = float(sec[h100])
    out["secondary_price_a100"] = float(sec[a100])
    out["secondary_price_b200"] = float(sec[b200])
    out["fire_sale_discount"] = 1.0 - float(np.exp(-m.secondary.pressure))
    cnt, gen = fleet.view("count"), fleet.view("gen")
    out["installed_h100e"] = float((cnt * m.perf[gen]).sum())
    out["installing_h100e"] = float((cnt * m.perf[gen] * ~m.live_rows()).sum())
    out["installed_gpus"] = float(cnt.sum())
    out["utilization"] = m.utilisation
    out["nvidia_revenue"] = nv.revenue
    out["nvidia_gross_margin"] = 1.0 - nv.cogs / nv.revenue if nv.revenue > 0 else 0.0
    out["nvidia_earnings"] = nv.earnings
    out["nvidia_market_cap"] = nv.market_cap
    out["nvidia_stake_value"] = sum(s.value for s in m.stakes if s.holder == nv.eid)
    out["nvidia_capacity"] = nv.capacity
    out["nvidia_markup"] = nv.markup
    out["nvidia_order_backlog"] = sum(o.h100e for o in m.order_book[nv.eid])
    out["nvidia_order_wait"] = out["nvidia_order_backlog"] / nv.supply_h100e if nv.supply_h100e > 0 else 0.0
    out["chip_orders"] = flow["chip_orders"]
    out["chip_orders_cancelled"] = flow["chip_orders_cancelled"]
    out["chip_deposits"] = sum(o.deposit for book in m.order_book.values() for o in book)

    # circularity
    financed = financed_by_nvidia(m)
    hist["nvidia_sales"].append(sum(m.chip_sales.values()))
    hist["nvidia_financed_sales"].append(sum(v for k, v in m.chip_sales.items() if k in financed))
    hist["nvidia_flows_to"].append(dict(m.nvidia_flows_to))
    sales12 = sum(list(hist["nvidia_sales"])[-12:])
    out["circular_revenue_share"] = sum(list(hist["nvidia_financed_sales"])[-12:]) / sales12 if sales12 > 0 else 0.0
    money = defaultdict(float)
    for month in list(hist["nvidia_flows_to"])[-12:]:
        for k, v in month.items():
            money[k] += v
    purchases = m.chip_sales_12m()
    total_money = sum(money.values())
    out["round_trip_ratio"] = sum(min(purchases.get(k, 0.0), v) for k, v in money.items()) / total_money if total_money > 0 else 0.0
    out["nvidia_customer_hhi"] = hhi(purchases.values())

    # neoclouds and credit
    neo = m.neoclouds
    out["neocloud_revenue"] = sum(nc.revenue for nc in neo)
    loans = [l for l in m.loans.values() if l.status not in ("default", "repaid") and l.principal > 0]
    neo_ids = {nc.eid for nc in neo}
    neo_loans = [l for l in loans if l.borrower in neo_ids]
    debt = sum(l.principal for l in neo_loans)
    out["neocloud_debt"] = debt
    out["neocloud_avg_ltv"] = sum(l.principal * min(l.ltv, 5.0) for l in neo_loans) / debt if debt > 0 else 0.0
    interest = sum(l.principal * l.monthly_rate(m.sofr) for l in neo_loans)
    ebitda = sum(led.income_of(nc.eid, "compute_contract", "compute_spot", "backstop", "rent_back", "compute_cover",
                               "power_and_operations", "data_centre_lease", "operating_expense") for nc in neo)
    out["neocloud_interest_coverage"] = min(ebitda / interest, 100.0) if interest > 0 else 0.0
    out["gpu_backed_lending"] = sum(l.principal for l in loans)
    by_lender = defaultdict(float)
    for l in loans:
        by_lender[l.lender] += l.principal
    out["lender_exposure_hhi"] = hhi(by_lender.values())
    live_lenders = [l for l in m.lenders]
    out["origination_ltv"] = float(np.mean([l.origination_ltv() for l in live_lenders])) if live_lenders else 0.0
    out["defaults_count"] = flow["defaults_count"]
    out["debt_in_default"] = flow["debt_in_default"]
    out["gpus_seized"] = flow["gpus_seized"]
    out["fire_sale_volume"] = flow["fire_sale_volume"]
    out["lender_losses"] = flow["lender_losses"]
    out["covenant_breaches"] = flow["covenant_breaches"]
    out["covenant_waivers"] = flow["waivers"]

    # the fundamental
    ai = list(hist["ai_revenue"])[-1] if hist["ai_revenue"] else 0.0
    out["ai_revenue"] = ai
    out["ai_capex"] = flow["ai_capex"]
    big_four = [h for h in m.hyperscalers if h.name != "Oracle"]
    out["hyperscaler_capex"] = sum(h.capex for h in big_four) + m.p["hyperscalers.non_ai_capex"]
    hist["gpu_spending"].append(flow["gpu_purchases"])
    gpu3 = sum(list(hist["gpu_spending"])[-3:]) / min(3, len(hist["gpu_spending"]))
    ai3 = sum(list(hist["ai_revenue"])[-3:]) / min(3, len(hist["ai_revenue"]))
    out["revenue_required"] = 4.0 * 12.0 * gpu3
    out["revenue_gap"] = out["revenue_required"] - 12.0 * ai3
    out["sentiment"] = m.sentiment
    out["extrapolator_share"] = float(m.expectations.shares[1])
    out["sofr"] = m.sofr
    book = float(fleet.view("book").sum())
    market = float((cnt * sec[gen]).sum()) / BN
    out["book_minus_market_gpus"] = book - market

    lead = next((nc for nc in neo if nc.named), None)
    if lead is not None:
        out["lead_neocloud_revenue"] = lead.revenue
        out["lead_neocloud_debt"] = sum(m.loans[i].principal for i in lead.loan_ids if m.loans[i].status not in ("default", "repaid"))
        out["lead_neocloud_valuation"] = lead.valuation
        out["lead_neocloud_top_customer_share"] = lead.top_customer_share()
        out["nvidia_stake_in_lead"] = sum(s.share for s in m.stakes if s.issuer == lead.eid and s.holder == nv.eid)
    else:
        for k in ("lead_neocloud_revenue", "lead_neocloud_debt", "lead_neocloud_valuation",
                  "lead_neocloud_top_customer_share", "nvidia_stake_in_lead"):
            out[k] = 0.0
    out["backstop_paid"] = flow["backstop_paid"]
    out["neoclouds_alive"] = len(neo)
    out["startups_alive"] = int(m.startups.alive.sum()) if m.startups.n else 0
    out["startup_failures"] = flow["startup_failures"]
    out["systemic_risk"] = debtrank(m)
    for k, v in out.items():
        if not math.isfinite(v):
            raise FloatingPointError(f"step {m.month} ({m.date}): series '{k}' is not finite ({v})")
        out[k] = float(v)
    return out
