"""The report's figures, each saved as ``figures/<stem>.svg`` (inlined in the HTML), ``.pdf`` (vector, in the PDF;
TrueType fonts) and ``.png`` (200 dpi, for slides).

Every figure is drawn in the project style (:func:`gpucredit.experiments.figures.project_style`: 7-pt type,
6.5-pt tick labels) at the width of a single journal column, :data:`WIDTH` = 3.5 in, and placed in the report at
that printed size (:data:`PAGE_SHARE` of the text width), so what the report shows is what a journal column
prints. Panels are stacked rather than squeezed side by side; value axes carry at most five ticks with thousands
separators, time axes at most four calendar years; long names are wrapped; every value axis names its unit.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..figures import C, new_figure, project_style

PNG_DPI = 200
MAX_BANDS = 4  # panels with more scenarios than this show medians only
WIDTH = 3.5  # inches: one journal column
TEXT_WIDTH = 6.54  # inches: the report's text width (A4, 2.2 cm margins)
PAGE_SHARE = round(WIDTH / TEXT_WIDTH, 3)  # share of the text width at which a figure prints at its own size
PALETTE = [C["blue"], C["red"], C["green"], C["orange"], C["purple"], C["brown"], C["grey"], "#17becf", "#bcbd22",
           "#e377c2", "#393b79", "#637939"]
#: on top of the project style: text as paths in SVG (the HTML inlines the figures and carries no font)
RC = {"svg.fonttype": "path", "axes.titlelocation": "center"}
#: units whose differences read better in percentage points (a share of 0.034 is 3.4 points)
POINTS = {"fraction": "percentage points", "0/1": "percentage points"}


def style():
    """Context manager: the project style plus the report's few settings (:data:`RC`)."""
    from contextlib import ExitStack

    stack = ExitStack()
    stack.enter_context(project_style())
    stack.enter_context(matplotlib.rc_context(RC))
    return stack


def save(fig, directory: Path, stem: str) -> str:
    """Write ``stem`` as SVG, PDF and PNG into ``directory``; returns the stem."""
    directory.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(directory / f"{stem}.svg")
        fig.savefig(directory / f"{stem}.pdf")
        fig.savefig(directory / f"{stem}.png", dpi=PNG_DPI)
    return stem


def esc(text: str) -> str:
    """Text shown as written: dollar signs escaped so that matplotlib does not read them as mathematics."""
    return str(text).replace("$", r"\$")


def tick_text(value: float, _pos=None) -> str:
    """A tick label: thousands separators from 1,000, at most three significant digits below, a true minus sign."""
    if value == 0:
        return "0"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return text.replace("-", "\u2212")


def value_axis(axis, nbins: int = 4) -> None:
    """At most ``nbins`` + 1 round ticks on a value axis, labelled by :func:`tick_text`."""
    axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(tick_text))


def wrap(name: str, width: int = 14) -> str:
    """A long name on several lines, broken after underscores or spaces (a scenario name stays recognisable)."""
    line, lines = "", []
    for part in re.findall(r"[^_ ]+[_ ]*", name) or [name]:
        if line and len(line) + len(part.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += part
    return "\n".join(lines + [line.rstrip()])


def _dates(labels) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Series(labels), format="%Y-%m")


def date_axis(ax, dates: pd.DatetimeIndex | None = None) -> None:
    """Calendar years on the time axis, at most four of them (2024, 2028, 2032 over a decade); for horizons
    shorter than a year and a half, at most three or four months (``YYYY-MM``: January and July, or quarters)."""
    span = (dates.max() - dates.min()).days / 365.25 if dates is not None and len(dates) > 1 else 10.0
    if span >= 1.5:
        step = next(k for k in (1, 2, 4, 5, 10, 20, 50) if span / k <= 3.2 or k == 50)
        locator, formatter = mdates.YearLocator(step), mdates.DateFormatter("%Y")
    else:
        every = next(k for k in (1, 2, 3, 4, 6, 12) if span * 12 / k <= 3 or k == 12)
        locator = mdates.MonthLocator(bymonth=range(1, 13, every))
        formatter = mdates.DateFormatter("%Y-%m")
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def legend_columns(labels: list[str], width: float = WIDTH) -> int:
    """How many legend entries fit side by side across ``width`` inches at the legend's type size."""
    size = matplotlib.rcParams["legend.fontsize"]
    size = size if isinstance(size, (int, float)) else 6.5
    entry = max(len(s) for s in labels) * 0.55 * size / 72 + 0.45  # text (about 0.55 em a character) and handle
    return max(1, min(len(labels), int((width - 0.1) // entry)))


def band(ax, table: pd.DataFrame, colour: str, label: str, inner: bool = True) -> None:
    """Median line with the 5-95% band (and the 25-75% band when ``inner``) of a :func:`results.bands` table."""
    x = _dates(table["date"])
    ax.fill_between(x, table["p05"], table["p95"], color=colour, alpha=0.15, lw=0)
    if inner:
        ax.fill_between(x, table["p25"], table["p75"], color=colour, alpha=0.3, lw=0)
    ax.plot(x, table["p50"], color=colour, lw=1.1, label=label)


def band_panels(panels: list[tuple[str, str, dict[str, pd.DataFrame]]], directory: Path, stem: str,
                ncols: int = 2) -> str:
    """One panel per series: ``(title, unit, {scenario: bands table})``; the median and bands of each scenario in
    its own colour, the unit on the value axis."""
    nrows = math.ceil(len(panels) / ncols)
    scenarios = list(panels[0][2]) if panels else []
    with style():
        legend_rows = math.ceil(len(scenarios) / legend_columns(scenarios)) if len(scenarios) > 1 else 0
        fig = new_figure(figsize=(WIDTH, 1.5 * nrows + 0.15 * legend_rows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, (title, unit, tables) in zip(axes, panels):
            for k, (scenario, table) in enumerate(tables.items()):
                colour = PALETTE[k % len(PALETTE)]
                if len(tables) > MAX_BANDS:  # many scenarios: medians only, bands would hide each other
                    ax.plot(_dates(table["date"]), table["p50"], color=colour, lw=1.0, label=scenario)
                else:
                    band(ax, table, colour, scenario, inner=len(tables) == 1)
            ax.set_title(esc(title))
            ax.set_ylabel(esc(unit))
            value_axis(ax.yaxis)
            first = next(iter(tables.values()), None)
            date_axis(ax, _dates(first["date"]) if first is not None and len(first) else None)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        if len(scenarios) > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncol=legend_columns(labels), frameon=False)
        return save(fig, directory, stem)


def difference_scale(unit: str) -> tuple[float, str]:
    """(factor, unit) in which a paired difference is shown: shares in percentage points, the rest as they are."""
    return (100.0, POINTS[unit]) if unit in POINTS else (1.0, unit)


def differences(table: pd.DataFrame, outcomes: list[tuple[str, str, str]], reference: str, directory: Path,
                stem: str) -> str:
    """A forest plot of paired differences from the reference: mean and confidence interval per scenario, one
    panel per outcome ``(name, title, unit)`` stacked in one column (units differ); a filled marker where the
    Holm-adjusted p-value is below 0.05. Shares are shown in percentage points."""
    scenarios = [s for s in dict.fromkeys(table["scenario"]) if s != reference]
    names = [wrap(s) for s in scenarios]
    lines = max((n.count("\n") + 1 for n in names), default=1)
    row = max(0.2, 0.11 * lines)  # inches per scenario: room for its wrapped name
    with style():
        fig = new_figure(figsize=(WIDTH, len(outcomes) * (row * len(scenarios) + 0.62)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(outcomes), 1, squeeze=False)).ravel()
        y = np.arange(len(scenarios))
        for ax, (name, title, unit) in zip(axes, outcomes):
            factor, shown = difference_scale(unit)
            rows = table[(table["outcome"] == name)].set_index("scenario").reindex(scenarios)
            mean, low, high = (rows[c].to_numpy(float) * factor for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            err = np.vstack([mean - low, high - mean])
            significant = rows["p_holm"].to_numpy(float) < 0.05
            ax.errorbar(mean, y, xerr=np.where(np.isfinite(err), err, 0), fmt="none", ecolor=C["grey"], lw=1)
            ax.scatter(mean[significant], y[significant], color=C["red"], s=14, zorder=3)
            ax.scatter(mean[~significant], y[~significant], facecolor="white", edgecolor=C["red"], s=14, zorder=3)
            ax.axvline(0, color="black", lw=0.6)
            ax.set_yticks(y, names)
            ax.set_ylim(len(scenarios) - 0.4, -0.6)  # first scenario on top, half a row of margin
            ax.grid(axis="y", visible=False)
            ax.set_title(esc(title), loc="left")
            ax.set_xlabel(esc(f"difference from {reference} ({shown})"))
            value_axis(ax.xaxis, nbins=5)
        return save(fig, directory, stem)


def heatmap(table: pd.DataFrame, label: str, directory: Path, stem: str, unit_range: bool,
            model: str = "gpucredit") -> str:
    """A phase diagram: the mean outcome in each cell of a two-parameter grid (rows: first parameter); the axes
    name each parameter in words with its unit (:func:`gpucredit.experiments.study_figures.variable_label`)."""
    from ..study_figures import variable_label

    with style():
        fig = new_figure(figsize=(WIDTH, 3.0), layout="constrained")
        ax = fig.subplots()
        values = table.to_numpy(float)
        mesh = ax.imshow(values, origin="lower", aspect="auto", cmap="magma_r",
                         vmin=0.0 if unit_range else None, vmax=1.0 if unit_range else None)
        ax.set_yticks(range(len(table.index)), [tick_text(v) for v in table.index])
        ax.set_xticks(range(len(table.columns)), [tick_text(v) for v in table.columns],
                      rotation=90 if len(table.columns) > 6 else 0)
        ax.set_ylabel(variable_label(str(table.index.name), model, width=34))
        ax.set_xlabel(variable_label(str(table.columns.name), model, width=48))
        ax.grid(False)
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value) and values.size <= 64:  # numbers in the cells while they fit
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=5.5,
                        color="white" if mesh.norm(value) > 0.6 else "black")
        fig.colorbar(mesh, ax=ax, label=esc(wrap(label, 24)))
        return save(fig, directory, stem)


def sobol_bars(table: pd.DataFrame, outcomes: list[str], directory: Path, stem: str,
               titles: dict[str, str] | None = None) -> str:
    """First-order (S1) and total-order (ST) Sobol indices with their confidence intervals, one panel per outcome,
    stacked in one column; ``titles`` names outcomes in words (else the outcome dictionary's name and unit)."""
    from ..study_figures import variable_label

    params = list(dict.fromkeys(table["parameter"]))
    y = np.arange(len(params))
    with style():
        fig = new_figure(figsize=(WIDTH, (0.19 * len(params) + 0.6) * len(outcomes) + 0.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(outcomes), 1, squeeze=False)).ravel()
        for ax, outcome in zip(axes, outcomes):
            sub = table[table["outcome"] == outcome].set_index("parameter").reindex(params)
            ax.barh(y - 0.2, sub["S1"], 0.4, xerr=sub["S1_conf"], label="S1 (first order)", color=C["blue"],
                    error_kw={"lw": 0.6})
            ax.barh(y + 0.2, sub["ST"], 0.4, xerr=sub["ST_conf"], label="ST (total order)", color=C["orange"],
                    error_kw={"lw": 0.6})
            ax.set_yticks(y, params)
            ax.invert_yaxis()
            ax.set_xlim(-0.1, 1.1)
            value_axis(ax.xaxis, nbins=5)
            ax.set_xlabel("Sobol index (share of variance)")
            ax.set_title(esc((titles or {}).get(outcome, "")) or variable_label(outcome, width=60), loc="left")
            ax.grid(axis="y", visible=False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
        return save(fig, directory, stem)
