"""The report's figures, each saved as ``figures/<stem>.svg`` (inlined in the HTML), ``.pdf`` (vector, in the PDF;
TrueType fonts) and ``.png`` (200 dpi, for slides).

Drawn off-screen with :func:`gpucredit.experiments.figures.new_figure` and its colours and font settings; time axes
carry calendar dates and every value axis its unit.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from ..figures import C, FONT_RC, new_figure

PNG_DPI = 200
MAX_BANDS = 4  # panels with more scenarios than this show medians only
PALETTE = [C["blue"], C["red"], C["green"], C["orange"], C["purple"], C["brown"], C["grey"], "#17becf", "#bcbd22",
           "#e377c2", "#393b79", "#637939"]
RC = {**FONT_RC, "font.size": 8.5, "axes.titlesize": 9, "axes.titleweight": "bold", "axes.labelsize": 8,
      "xtick.labelsize": 7.5, "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "svg.fonttype": "path"}


def save(fig, directory: Path, stem: str) -> str:
    """Write ``stem`` as SVG, PDF and PNG into ``directory``; returns the stem."""
    directory.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(RC):
        fig.savefig(directory / f"{stem}.svg")
        fig.savefig(directory / f"{stem}.pdf")
        fig.savefig(directory / f"{stem}.png", dpi=PNG_DPI)
    return stem


def _dates(labels) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Series(labels), format="%Y-%m")


def date_axis(ax) -> None:
    """Calendar dates on the time axis: at most seven ticks (years, or months within a year), labelled concisely
    (a year at each January, month names between)."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    ax.grid(alpha=0.25)


def band(ax, table: pd.DataFrame, colour: str, label: str, inner: bool = True) -> None:
    """Median line with the 5-95% band (and the 25-75% band when ``inner``) of a :func:`results.bands` table."""
    x = _dates(table["date"])
    ax.fill_between(x, table["p05"], table["p95"], color=colour, alpha=0.15, lw=0)
    if inner:
        ax.fill_between(x, table["p25"], table["p75"], color=colour, alpha=0.3, lw=0)
    ax.plot(x, table["p50"], color=colour, lw=1.4, label=label)


def band_panels(panels: list[tuple[str, str, dict[str, pd.DataFrame]]], directory: Path, stem: str,
                ncols: int = 2) -> str:
    """One panel per series: ``(title, y label with unit, {scenario: bands table})``; the median and bands of each
    scenario in its own colour."""
    nrows = math.ceil(len(panels) / ncols)
    with matplotlib.rc_context(RC):
        fig = new_figure(figsize=(7.2, 2.3 * nrows + 0.5), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, (title, ylabel, tables) in zip(axes, panels):
            for k, (scenario, table) in enumerate(tables.items()):
                colour = PALETTE[k % len(PALETTE)]
                if len(tables) > MAX_BANDS:  # many scenarios: medians only, bands would hide each other
                    ax.plot(_dates(table["date"]), table["p50"], color=colour, lw=1.2, label=scenario)
                else:
                    band(ax, table, colour, scenario, inner=len(tables) == 1)
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            date_axis(ax)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        if len(labels) > 1:
            fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), frameon=False)
        return save(fig, directory, stem)


def differences(table: pd.DataFrame, outcomes: list[tuple[str, str, str]], reference: str, directory: Path,
                stem: str) -> str:
    """Paired differences from the reference: mean and confidence interval per scenario, one panel per outcome
    ``(name, title, unit)``; a filled marker where the Holm-adjusted p-value is below 0.05."""
    ncols = 2
    nrows = math.ceil(len(outcomes) / ncols)
    scenarios = [s for s in dict.fromkeys(table["scenario"]) if s != reference]
    with matplotlib.rc_context(RC):
        fig = new_figure(figsize=(7.2, (0.22 * len(scenarios) + 0.9) * nrows + 0.3), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        y = np.arange(len(scenarios))
        for ax, (name, title, unit) in zip(axes, outcomes):
            rows = table[(table["outcome"] == name)].set_index("scenario").reindex(scenarios)
            mean, low, high = (rows[c].to_numpy(float) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            err = np.vstack([mean - low, high - mean])
            significant = rows["p_holm"].to_numpy(float) < 0.05
            ax.errorbar(mean, y, xerr=np.where(np.isfinite(err), err, 0), fmt="none", ecolor=C["grey"], lw=1)
            ax.scatter(mean[significant], y[significant], color=C["red"], s=16, zorder=3)
            ax.scatter(mean[~significant], y[~significant], facecolor="white", edgecolor=C["red"], s=16, zorder=3)
            ax.axvline(0, color="black", lw=0.7)
            ax.set_yticks(y, scenarios)
            ax.set_ylim(len(scenarios) - 0.4, -0.6)  # first scenario on top, half a row of margin
            ax.set_title(title)
            ax.set_xlabel(f"difference from {reference} ({unit})")
            ax.grid(axis="x", alpha=0.25)
        for ax in axes[len(outcomes):]:
            ax.set_visible(False)
        return save(fig, directory, stem)


def heatmap(table: pd.DataFrame, label: str, directory: Path, stem: str, unit_range: bool) -> str:
    """A phase diagram: the mean outcome in each cell of a two-parameter grid (rows: first parameter)."""
    with matplotlib.rc_context(RC):
        fig = new_figure(figsize=(5.2, 4.0), layout="constrained")
        ax = fig.subplots()
        values = table.to_numpy(float)
        mesh = ax.imshow(values, origin="lower", aspect="auto", cmap="magma_r",
                         vmin=0.0 if unit_range else None, vmax=1.0 if unit_range else None)
        ax.set_yticks(range(len(table.index)), [f"{v:g}" for v in table.index])
        ax.set_xticks(range(len(table.columns)), [f"{v:g}" for v in table.columns])
        ax.set_ylabel(str(table.index.name))
        ax.set_xlabel(str(table.columns.name))
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if mesh.norm(value) > 0.6 else "black")
        fig.colorbar(mesh, ax=ax, label=label)
        return save(fig, directory, stem)


def sobol_bars(table: pd.DataFrame, outcomes: list[str], directory: Path, stem: str) -> str:
    """First-order (S1) and total-order (ST) Sobol indices with their confidence intervals, one panel per outcome."""
    params = list(dict.fromkeys(table["parameter"]))
    ncols = min(2, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    y = np.arange(len(params))
    with matplotlib.rc_context(RC):
        fig = new_figure(figsize=(7.2, (0.25 * len(params) + 0.9) * nrows + 0.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, outcome in zip(axes, outcomes):
            sub = table[table["outcome"] == outcome].set_index("parameter").reindex(params)
            ax.barh(y - 0.2, sub["S1"], 0.4, xerr=sub["S1_conf"], label="S1 (first order)", color=C["blue"])
            ax.barh(y + 0.2, sub["ST"], 0.4, xerr=sub["ST_conf"], label="ST (total order)", color=C["orange"])
            ax.set_yticks(y, params)
            ax.invert_yaxis()
            ax.set_xlim(-0.1, 1.1)
            ax.set_xlabel("Sobol index (share of variance)")
            ax.set_title(outcome)
            ax.grid(axis="x", alpha=0.25)
        for ax in axes[len(outcomes):]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
        return save(fig, directory, stem)
