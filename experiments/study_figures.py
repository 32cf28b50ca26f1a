"""Figures of a stored study: phase diagrams of a two-parameter grid, Monte Carlo bands over seeds, and the
standard panel of :mod:`gpucredit.experiments.figures` over a scenario's seeds.

All read the store through SQL (:func:`gpucredit.experiments.store.connect`), so a study of any size is drawn
without loading its runs into memory. All are drawn off-screen in the project style
(:func:`gpucredit.experiments.figures.project_style`) and saved as vector PDF and 300-dpi PNG. Axes name study
variables in words with their units (:func:`variable_label`: the parameter schema's description and unit, or the
outcome dictionary's), never by raw names. Bands over seeds are the median and the 5-95% range.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from gpucredit.sim.reporting.columns import SERIES

from .store import STATUS_OK, StudyStore, connect
from .study import StudySpec

BAND_SERIES = ("rental_price_h100", "gpu_backed_lending", "nvidia_market_cap", "debt_in_default")
SERIES_WORDS = {"rental_price_h100": "H100 rental price", "gpu_backed_lending": "GPU-backed loans outstanding",
                "nvidia_market_cap": "Nvidia market capitalisation", "debt_in_default": "Debt entering default"}
OUTCOME_WORDS = {"crisis": "Probability of a credit crisis"}


def variable_label(name: str, model: str = "gpucredit", width: int = 38) -> str:
    """A study variable in words with its unit, wrapped to ``width`` characters: a parameter's description and
    unit from the parameter schema (``gpucredit params``), an outcome's from the outcome dictionary, a series'
    from the data dictionary; the name itself only for variables none of them declares."""
    from .figures import _esc
    from .outcomes import OUTCOMES
    from .simulators import get_simulator

    outcomes = {n: (u, d) for n, u, d in OUTCOMES}
    series = {n: u for n, u, _ in SERIES}
    if name in outcomes:
        unit = outcomes[name][0]
        words, unit = (OUTCOME_WORDS[name], "share of seeds") if name in OUTCOME_WORDS else (
            name.replace("_", " ").capitalize(), unit)
    elif name in series:
        words, unit = SERIES_WORDS.get(name, name.replace("_", " ").capitalize()), series[name]
    else:
        try:
            param = get_simulator(model).parameter(name)
        except (ValueError, KeyError):
            return name
        words, unit = _short(param.description or name), param.unit
    return _esc(textwrap.fill(f"{words} ({unit})" if unit else words, width, break_on_hyphens=False))


def _short(description: str) -> str:
    """The first clause of a parameter description (up to a colon, semicolon or opening parenthesis)."""
    for mark in (":", ";", " ("):
        description = description.split(mark)[0]
    return description.strip()


# ====================================================================================================
# phase diagram
# ====================================================================================================
def phase_table(directory: str | Path, outcome: str) -> pd.DataFrame:
    """Mean of ``outcome`` over replicates for each cell of a two-parameter grid (rows: first parameter)."""
    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    a, b = spec.factor_names
    plan = store.plan()
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK][["run_id", outcome]]
    data = plan[["run_id", a, b]].merge(ok, on="run_id", how="inner")
    return data.pivot_table(index=a, columns=b, values=outcome, aggfunc="mean")


def phase_diagram(directory: str | Path, outcome: str, label: str | None = None) -> Path:
    """Heat map of ``outcome`` (mean over replicates) over a two-parameter grid; saved under figures/ as PNG
    and PDF. Returns the PNG's path."""
    from .figures import new_figure, project_style, save_figure

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    table = phase_table(directory, outcome)
    path = store.figures_dir / f"phase_{outcome}.png"
    with project_style():
        fig = new_figure(figsize=(3.5, 3.0), layout="constrained")
        _draw_phase(fig, fig.subplots(), table, outcome, label, spec)
        save_figure(fig, path)
    return path


def _draw_phase(fig, ax, table: pd.DataFrame, outcome: str, label: str | None, spec: StudySpec) -> None:
    vmin, vmax = (0.0, 1.0) if outcome == "crisis" else (None, None)
    mesh = ax.imshow(table.to_numpy(float), origin="lower", aspect="auto", cmap="magma_r", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(table.index)), [f"{v:g}" for v in table.index])
    ax.set_xticks(range(len(table.columns)), [f"{v:g}" for v in table.columns])
    ax.set_ylabel(variable_label(table.index.name, spec.model))
    ax.set_xlabel(variable_label(table.columns.name, spec.model))
    ax.grid(False)
    for (i, j), value in np.ndenumerate(table.to_numpy(float)):
        if np.isfinite(value):  # light text on the dark end of the colour map
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=5.5,
                    color="white" if mesh.norm(value) > 0.6 else "black")
    name = label or variable_label(outcome, spec.model, width=30)
    fig.colorbar(mesh, ax=ax, label=f"{name}\nmean over {spec.replicates} seeds per cell")


# ====================================================================================================
# bands over seeds
# ====================================================================================================
def band_table(con, series: str, scenario: str | None = None) -> pd.DataFrame:
    """Per month: 5th, 25th, 50th, 75th and 95th percentiles of ``series`` over a study's runs, from a connection
    made by :func:`gpucredit.experiments.store.connect`."""
    where = "WHERE r.scenario = ?" if scenario else ""
    params = [scenario] if scenario else []
    return con.execute(
        f"SELECT t.date, quantile_cont(t.{series}, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q "
        f"FROM timeseries t JOIN runs r USING (run_id) {where} GROUP BY t.date ORDER BY t.date", params).df()


def monte_carlo_bands(directory: str | Path) -> Path:
    """Median and 5-95% band over the runs of each scenario for four key series (one panel each, the unit of
    the data dictionary on the axis); saved as figures/bands.png and .pdf. Returns the PNG's path."""
    from .figures import new_figure, project_style, save_figure

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    path = store.figures_dir / "bands.png"
    con = connect(directory)  # one connection for every series and scenario
    try:
        with project_style():
            fig = new_figure(figsize=(7.2, 4.6), layout="constrained")
            _draw_bands(fig, fig.subplots(2, 2, squeeze=False), con, spec)
            save_figure(fig, path)
    finally:
        con.close()
    return path


def _draw_bands(fig, axes, con, spec: StudySpec) -> None:
    import matplotlib

    from .figures import _thousands, date_axis

    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, series in zip(axes.flat, BAND_SERIES):
        for k, scenario in enumerate(spec.scenarios):
            table = band_table(con, series, scenario)
            if table.empty:
                continue
            q = np.vstack(table["q"].to_numpy())
            x = pd.DatetimeIndex(pd.to_datetime(table["date"], format="%Y-%m"))
            colour = colours[k % len(colours)]
            ax.fill_between(x, q[:, 0], q[:, 4], color=colour, alpha=0.18, lw=0)
            ax.plot(x, q[:, 2], color=colour, label=scenario)
            date_axis(ax, x)
        ax.set_ylabel(variable_label(series, spec.model, width=30))
        _thousands(ax)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center",
               ncol=min(4, len(spec.scenarios)), title=f"median and 5-95% band over {spec.replicates} seeds")


def scenario_panel(directory: str | Path, scenario: str | None = None, out_dir: str | Path | None = None
                   ) -> list[Path]:
    """The standard panel (:func:`gpucredit.experiments.figures.standard_panel`) of one scenario of a study,
    each series as the median over its seeds and the 5-95% band; written to figures/panel_<scenario>/.
    ``scenario`` defaults to the study's first. Returns the written paths."""
    from .figures import standard_panel

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    scenario = scenario or spec.scenarios[0]
    con = connect(directory)
    try:
        frame = con.execute("SELECT t.* FROM timeseries t JOIN runs r USING (run_id) WHERE r.scenario = ? "
                            "ORDER BY t.run_id, t.date", [scenario]).df()
    finally:
        con.close()
    return standard_panel(frame, Path(out_dir) if out_dir else store.figures_dir / f"panel_{scenario}")
