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
* **round-trip ratio** = sum over financed firms f of (Nvidia money to f) x (f's cash paid to Nvidia / all of f's
  cash outlays) divided by the sum of Nvidia money to f (equity investments, backstop and rent-back payments), all
  over 12 months: money is fungible, so a dollar Nvidia puts in comes back in the proportion the firm spends on
  Nvidia's chips (1 only for a firm that spends on nothing else, 0 for one that buys none);
* **HHI** of Nvidia's customers (12-month revenue shares), of lending by lender, of each neocloud's customers;
* **systemic risk (DebtRank)**, Battiston et al. (2012): each neocloud first loses the equity equivalent of a
  20% fall in its GPUs' market value; distress h in [0, 1] propagates through exposures
  ``W[i, j] = min(1, exposure of i to j / equity of i)`` (each node passes on only its new distress); the
  reported value is the exposure-weighted average final distress of all nodes.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from ..accounts import balance_sheets, gpus_market_value
from ..contracts.claims import KINDS, STATUSES
from ..contracts.register import groups
from ..technology import BN

SHOCK = 0.2
DENSE_PAIRS = 1 << 20  # at most this many possible (holder, obligor) pairs: sum claims by pair without sorting them


def exposures(model) -> list[tuple[int, int, str, float, dict]]:
    """All claims in the economy as (holder, obligor, type, US$bn, attributes)."""
    m = model
    out = []
    loans = m.loans
    rows = loans.outstanding_rows()
    for lender, borrower, principal, collateral, ltv, status in zip(
            *(loans.column(name)[rows].tolist() for name in ("lender", "borrower", "principal", "collateral_value")),
            loans.ltvs(rows).tolist(), loans.column("status")[rows].tolist()):
        out.append((lender, borrower, "loan", principal, {"collateral": collateral, "ltv": ltv, "status": STATUSES[status]}))
    for st in m.equity:
        out.append((st.holder, st.issuer, "equity_stake", st.value, {"share": st.share}))
    out.extend(contract_edges(m))
    for b in m.circular.live():
        out.append((b.beneficiary, b.guarantor, "backstop", b.cap - b.paid, {}))
    return out


def contract_edges(model) -> list[tuple[int, int, str, float, dict]]:
    """Compute contracts as claims, one per provider, customer and kind (rent-back or compute): remaining value
    (US$bn), H100e and grade."""
    m = model
    c = m.contracts
    rows = c.active_rows()
    if not len(rows):
        return []
    n = len(m.ledger.names)
    provider, customer, qty, price = (c.column(k)[rows] for k in ("provider", "customer", "qty", "price"))
    start, end, kind, ig = (c.column(k)[rows] for k in ("start", "end", "kind", "ig"))
    value = qty * price * 730.0 / BN * np.maximum(0, end - np.maximum(start, m.month))
    rent_back = kind == KINDS.index("rent_back")
    key = (provider * n + customer) * 2 + rent_back
    order, by_key = groups(key)
    value, qty, ig = value[order], qty[order], ig[order]
    out = []
    for k, first, last in by_key:
        pair, is_rent_back = divmod(k, 2)
        out.append((pair // n, pair % n, "rent_back" if is_rent_back else "compute", float(value[first:last].sum()),
                    {"qty": float(qty[first:last].sum()), "grade": "ig" if ig[first:last].all() else "non_ig"}))
    return out


def build_network(model) -> nx.MultiDiGraph:
    """The financial network at the current month."""
    m = model
    g = nx.MultiDiGraph(date=m.date)
    bs = balance_sheets(m)
    for eid, agent in m.entity.items():
        if eid == m.startups.eid or getattr(agent, "alive", True):
            g.add_node(agent.name, type=type(agent).__name__, equity=float(bs["equity"][eid]), assets=float(bs["assets"][eid]))
    name = m.ledger.names
    for holder, obligor, kind, value, attrs in exposures(m):
        g.add_edge(name[holder], name[obligor], type=kind, weight=float(value),
                   **{k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in attrs.items()})
    sales = m.chips.sales_12m()
    for buyer, value in sales.items():
        if value > 0:
            g.add_edge(m.nvidia.name, name[buyer], type="chip_sale", weight=float(value))
    book = m.chips.order_book
    for chip in m.chips.chipmakers:  # its open orders by buyer, buyers in the order of their oldest order
        buyers, open_h100e, deposits, _ = book.by_buyer(book.rows_of(chip.eid), deposits=True)
        for buyer, h100e, deposit in zip(buyers, open_h100e, deposits):
            if name[buyer] in g:
                g.add_edge(name[buyer], chip.name, type="chip_order", weight=float(m.chips.order_value(chip, h100e)),
                           h100e=float(h100e), deposit=float(deposit))
    return g


def hhi(values) -> float:
    v = np.asarray([x for x in values if x > 0], dtype=float)
    if v.size == 0 or v.sum() <= 0:
        return 0.0
    s = v / v.sum()
    return float((s**2).sum())


def claims(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The claims of :func:`exposures` as arrays (holder, obligor, US$bn), in the same order."""
    m = model
    month = m.month
    rows = m.loans.outstanding_rows()
    stakes = m.equity
    loans = m.loans.column
    parts_h = [loans("lender").take(rows), stakes.column("holder")]  # (joined into new arrays below: only read)
    parts_o = [loans("borrower").take(rows), stakes.column("issuer")]
    parts_v = [loans("principal").take(rows), stakes.column("value")]
    _, (provider, customer, qty, price, start, end) = m.contracts.active_columns("provider", "customer", "qty", "price",
                                                                                "start", "end")
    if len(provider):
        parts_h.append(provider)
        parts_o.append(customer)
        parts_v.append(qty * price * 730.0 / 1e9 * np.maximum(0, end - np.maximum(start, month)))  # remaining value
    backstops = m.circular.backstops
    live = backstops.live_rows(month)  # cap left (US$bn), beneficiary to guarantor
    if len(live):
        parts_h.append(backstops.column("beneficiary").take(live))
        parts_o.append(backstops.column("guarantor").take(live))
        parts_v.append(backstops.column("cap").take(live) - backstops.column("paid").take(live))
    return (np.concatenate(parts_h).astype(int, copy=False), np.concatenate(parts_o).astype(int, copy=False),
            np.concatenate(parts_v).astype(float, copy=False))


def sum_by_pair(pair: np.ndarray, value: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (holder, obligor) pairs of ``n`` nodes (``pair`` = holder x n + obligor) in increasing order, and
    the claims' values summed by pair in claim order (US$bn). Counted straight into the n x n pairs when they are few
    (``DENSE_PAIRS``), without sorting the claims; the same sums either way (each pair's claims added in claim order)."""
    if n * n <= DENSE_PAIRS:
        edges = np.flatnonzero(np.bincount(pair, minlength=n * n))
        return edges, np.bincount(pair, weights=value, minlength=n * n)[edges]
    edges, which = np.unique(pair, return_inverse=True)
    return edges, np.bincount(which, weights=value, minlength=len(edges))


def debtrank(model, shock: float = SHOCK, sheets: dict[str, np.ndarray] | None = None) -> float:
    """DebtRank of the economy (module docstring): the exposure-weighted average final distress of all nodes, in
    [0, 1], after each neocloud loses ``shock`` (a share) of its GPUs' market value. The exposure matrix is kept
    sparse, as an edge list of (holder, obligor) pairs with their summed exposure (US$bn). ``sheets``: the month's
    balance sheets if already built (:func:`~gpucredit.sim.accounts.balance_sheets`: equity and GPUs at market)."""
    m = model
    holder, obligor, value = claims(m)
    if not len(value):
        return 0.0
    neoclouds = np.array([nc.eid for nc in m.neoclouds], dtype=int)
    present = np.bincount(np.concatenate([holder, obligor, neoclouds]).astype(int))
    nodes = present.nonzero()[0]  # in increasing order
    n = len(nodes)
    index = np.zeros(len(present), dtype=np.intp)  # entity id -> its node
    index[nodes] = np.arange(n)
    edges, exposure = sum_by_pair(index[holder] * n + index[obligor], value, n)
    row, col = np.divmod(edges, n)  # holder i, obligor j of each edge
    if sheets is None:
        equity_of, market_value = np.asarray(m.ledger.equity), gpus_market_value(m)
    else:
        equity_of, market_value = sheets["equity"], sheets["gpus_market"]
    equity = np.maximum(equity_of[nodes], 1e-6)
    w = np.minimum(1.0, exposure / equity[row])  # W[i, j]
    h = np.zeros(n)
    k = index[neoclouds]
    h[k] = np.minimum(1.0, shock * market_value[neoclouds] / equity[k])
    return _propagate(h, row, col, w, exposure, n)


def _propagate(h: np.ndarray, row: np.ndarray, col: np.ndarray, w: np.ndarray, exposure: np.ndarray, n: int) -> float:
    """DebtRank's rounds from the initial distress ``h`` of the ``n`` nodes: each node passes its new distress on
    along the edges (holder ``row``, obligor ``col``, weight ``w``) until none changes by 1e-9 (at most 100 rounds);
    the exposure-weighted average final distress."""
    delta = h.copy()
    bincount, minimum, largest = np.bincount, np.minimum, np.maximum.reduce
    for _ in range(100):
        new = minimum(1.0, h + bincount(row, weights=w * delta[col], minlength=n))  # h + W @ delta
        delta = new - h
        h = new
        if largest(delta) < 1e-9:
            break
    size = np.bincount(col, weights=exposure, minlength=n) + np.bincount(row, weights=exposure, minlength=n)
    if size.sum() <= 0:
        return 0.0
    return float((h * size).sum() / size.sum())
