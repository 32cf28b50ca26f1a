"""The financial network at the boom's peak and after the correction, for one run of the reference scenario.

A study stores monthly series only, so the run is simulated again (same scenario, parameters, seed and months: the
model is deterministic given its seed) up to the later of the two months, and the network
(:func:`gpucredit.sim.reporting.network.build_network`) is taken at the end of each. The re-simulated series are
checked against the stored ones, so the pictures belong to the run the report's statistics describe. Snapshots
are kept as GraphML in ``DIR/networks/<run_id>_<YYYY-MM>.graphml`` and reused.

* **Peak**: the month in which that run's GPU-backed lending outstanding is highest.
* **After the correction**: :data:`AFTER_MONTHS` months later, or the run's last month if that comes first.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from ..figures import C, new_figure
from ..run import month_index
from .charts import WIDTH, save, style, wrap

AFTER_MONTHS = 24
EDGE_COLOURS = {"loan": C["red"], "equity_stake": C["purple"], "compute": C["blue"], "rent_back": C["brown"],
                "backstop": C["brown"], "chip_sale": C["green"], "chip_order": C["grey"]}
LAYERS = {"Lender": 0, "Neocloud": 1, "Hyperscaler": 2, "Lab": 3, "StartupPopulation": 3, "Chipmaker": 4}
LAYER_NAMES = ("lenders", "neoclouds", "hyper-\nscalers", "AI\ndevelopers", "chipmakers")
EXITED = 1  # column of agents that appear only as counterparties (they have exited: defaulted neoclouds)
NEOCLOUD_LABELS = 5  # the largest neoclouds are named; every other agent is


def snapshot_months(series: pd.DataFrame) -> tuple[str, str]:
    """(peak month, after-correction month) of one run's series indexed by YYYY-MM."""
    lending = series["gpu_backed_lending"].to_numpy(float)
    peak = int(np.argmax(lending))
    after = min(peak + AFTER_MONTHS, len(lending) - 1)
    return series.index[peak], series.index[after]


def snapshots(scenario: str, seed: int, months: int | None, fixed: dict, run_id: str, wanted: list[str],
              stored: pd.DataFrame, cache: Path) -> dict[str, nx.MultiDiGraph]:
    """The networks at the ends of the ``wanted`` months (YYYY-MM) of a run, from the cache or simulated again."""
    from ..run import graphml_ready, network_snapshot, timeseries, write_network

    paths = {m: cache / f"{run_id}_{m}.graphml" for m in wanted}
    if all(p.is_file() for p in paths.values()):
        return {m: nx.read_graphml(p, force_multigraph=True) for m, p in paths.items()}
    from gpucredit.sim.model import GPUEconomy

    kwargs = dict(fixed)
    if months is not None:
        kwargs["run.months"] = months
    model = GPUEconomy(scenario=scenario, rng=seed, record="series", **kwargs)
    last = max(month_index(m) for m in wanted)
    graphs = {}
    while model.running and model.month < last:
        model.step()
        if model.date in paths:
            graphs[model.date] = graphml_ready(network_snapshot(model))
    again = timeseries(model).set_index("date")["gpu_backed_lending"]
    if not np.allclose(again.to_numpy(float), stored["gpu_backed_lending"].loc[again.index].to_numpy(float),
                       rtol=1e-12, atol=0.0):
        raise RuntimeError(f"run {run_id} simulated again differs from the stored run; the study was made by "
                           f"other code: run the report into a new directory")
    cache.mkdir(parents=True, exist_ok=True)
    for m, graph in graphs.items():
        write_network(graph, paths[m])
    return graphs


def summary(graph: nx.MultiDiGraph) -> dict[str, float]:
    """Totals of a network snapshot: live nodes and the value of each kind of claim (US$bn)."""
    totals = {kind: 0.0 for kind in EDGE_COLOURS}
    for _, _, data in graph.edges(data=True):
        kind = data.get("type", "")
        totals[kind] = totals.get(kind, 0.0) + float(data.get("weight", 0.0))
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), **totals}


def _positions(graph: nx.MultiDiGraph) -> dict:
    """Nodes in four columns by type (lenders, neoclouds, customers, chipmakers), largest at the top."""
    columns: dict[int, list] = {}
    for node, kind in graph.nodes(data="type"):
        columns.setdefault(LAYERS.get(kind, EXITED), []).append(node)
    pos = {}
    for x, nodes in columns.items():
        nodes.sort(key=lambda n: -float(graph.nodes[n].get("assets", 0.0)))
        for k, node in enumerate(nodes):
            pos[node] = (x, 1.0 - (k + 0.5) / max(len(nodes), 1))
    return pos


def _aggregate(graph: nx.MultiDiGraph) -> dict[tuple[str, str, str], float]:
    edges: dict[tuple[str, str, str], float] = {}
    for u, v, d in graph.edges(data=True):
        key = (u, v, d.get("type", ""))
        edges[key] = edges.get(key, 0.0) + float(d.get("weight", 0.0))
    return edges


def _draw(ax, graph: nx.MultiDiGraph, title: str, scale: float) -> None:
    from matplotlib.collections import LineCollection

    pos = _positions(graph)
    by_kind: dict[str, tuple[list, list]] = {}
    for (u, v, kind), weight in sorted(_aggregate(graph).items(), key=lambda e: e[1]):
        if weight > 0 and u in pos and v in pos:
            segments, widths = by_kind.setdefault(kind, ([], []))
            segments.append([pos[u], pos[v]])
            widths.append(0.2 + 2.5 * math.sqrt(weight / scale))
    for kind, (segments, widths) in by_kind.items():
        ax.add_collection(LineCollection(segments, linewidths=widths, colors=EDGE_COLOURS.get(kind, C["grey"]),
                                         alpha=0.55, capstyle="round"))
    assets = {n: float(graph.nodes[n].get("assets", 0.0)) for n in pos}
    biggest = sorted(assets.values(), reverse=True)[:1] or [1.0]
    for node, (x, y) in pos.items():
        exited = not graph.nodes[node].get("type")  # an exited neocloud: an open dot, not named
        ax.scatter([x], [y], s=5 + 80 * math.sqrt(max(assets[node], 0.0) / max(biggest[0], 1e-9)),
                   color="white" if exited else "#333333", edgecolor="#333333" if exited else "white",
                   linewidth=0.5 if exited else 0.4, zorder=3)
    neoclouds = [n for n in pos if graph.nodes[n].get("type") == "Neocloud"]
    named = [n for n in pos if n not in neoclouds and graph.nodes[n].get("type")]
    labelled = named + sorted(neoclouds, key=lambda n: -assets[n])[:NEOCLOUD_LABELS]
    for node in labelled:
        _label(ax, node, pos[node])
    ax.set_xticks(range(len(LAYER_NAMES)), LAYER_NAMES)
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlim(-0.15, len(LAYER_NAMES) - 0.35)
    ax.set_ylim(-0.03, 1.03)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, loc="left")


def _label(ax, node, xy: tuple[float, float]) -> None:
    """The agent's name to the right of its dot, on a light box so that the edges behind it do not hide it: on one
    line up to 18 characters (a column's width), in the last column on lines of up to 8 (the figure ends there)."""
    x, y = xy
    last = x >= len(LAYER_NAMES) - 1
    ax.annotate(wrap(str(node), 8 if last else 18), (x, y), xytext=(4, 0), textcoords="offset points", fontsize=5.5,
                va="center", ha="left", linespacing=0.95, zorder=4,
                bbox={"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})


def network_figure(graphs: dict[str, nx.MultiDiGraph], titles: dict[str, str], directory: Path, stem: str) -> str:
    """The snapshots one above the other, one journal column wide; line width grows with the square root of the
    claim (US$bn), on one scale for both panels; dot size with the square root of the node's total assets."""
    from matplotlib.lines import Line2D

    scale = max([w for g in graphs.values() for w in _aggregate(g).values()] + [1e-9])
    with style():
        fig = new_figure(figsize=(WIDTH, 3.0 * len(graphs) + 0.55), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(graphs), 1, squeeze=False)).ravel()
        for ax, (month, graph) in zip(axes, graphs.items()):
            _draw(ax, graph, titles[month], scale)
        handles = [Line2D([], [], color=c, lw=2, label=k.replace("_", " ")) for k, c in EDGE_COLOURS.items()
                   if k != "backstop"]
        handles.append(Line2D([], [], ls="none", marker="o", markerfacecolor="white", markeredgecolor="#333333",
                              label="exited neocloud"))
        fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False,
                   title=f"claims: line width \u221d \u221a(claim in US\\$bn); widest US\\${scale:,.1f}bn")
        return save(fig, directory, stem)
