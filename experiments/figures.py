"""The standard figures of gpucredit, and the one figure style of the project.

Style
-----
Every figure the project draws (this module, :mod:`~gpucredit.experiments.study_figures`,
:mod:`~gpucredit.experiments.compare`, :mod:`~gpucredit.experiments.sensitivity`) is drawn inside
:func:`project_style`, which applies the style file ``experiments/gpucredit.mplstyle`` (package data): 7-pt type
sized for a single journal column (3.5 in), never bold, fonts embedded in PDF and PostScript as TrueType
(Type 42), the Okabe-Ito colour-blind-safe palette, light grid. Each agent type has one colour in every figure
(:data:`AGENT_COLOURS`). Figures are saved by :func:`save_figure` as vector PDF and 300-dpi PNG. Nothing is
written on a figure unless asked for: no title, no watermark (``title=`` and ``disclaimer=True`` add them).

Figures are drawn with matplotlib's object-oriented API only (:func:`new_figure`: a Figure on its own Agg canvas),
never through pyplot or ``matplotlib.use``, and the style is applied with ``matplotlib.style.context``: importing
or calling this module leaves the caller's backend and rcParams alone, so a notebook keeps its inline plots.

The standard panel
------------------
:func:`standard_panel` turns monthly time series (a ``date`` column ``YYYY-MM`` and the columns of the data
dictionary :data:`gpucredit.sim.reporting.columns.SERIES`) into six figures and a combined ``panel``. One run is
drawn as lines; several runs (rows with a ``run_id`` or ``seed`` column taking more than one value) as the median
over runs and its 5-95% band. Axis labels carry the units of the data dictionary (:func:`display_unit`).

=====================  ==========================================================================================
file                   content
=====================  ==========================================================================================
``prices``             spot, new-contract and fundamental price of an H100e-hour; used H100 price (right axis)
``credit``             GPU-backed loans outstanding and the lead neocloud's share; average and origination LTV
``nvidia``             Nvidia data-centre revenue annualised; market capitalisation (right axis)
``circularity``        circular revenue share, round-trip ratio, Nvidia's stake in the lead neocloud
``defaults``           debt entering default, lender losses, fire-sale proceeds; defaults per month (right axis)
``ai_revenue_capex``   end-user AI revenue and AI capex annualised, Sequoia's revenue gap
=====================  ==========================================================================================

(GPU-backed lending equals neocloud debt, neoclouds being the only GPU-backed borrowers; earlier versions plotted
the pair as two series. The data dictionary keeps both columns. Each generation's own rent, ``rental_price_<gen>``,
moves apart from the price index as generations are imperfect substitutes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from gpucredit.sim.reporting.columns import SERIES

STYLE_FILE = Path(__file__).with_name("gpucredit.mplstyle")
DISCLAIMER = "gpucredit \u2014 stylized research model, not a forecast"
FOOTER = DISCLAIMER  # the previous name
FORMATS = ("png", "pdf")
PNG_DPI = 300
DPI = PNG_DPI
BAND = (5, 95)  # percentiles of the band drawn over runs
SINGLE_COLUMN = (3.5, 2.7)  # inches
DOUBLE_COLUMN = (7.2, 7.6)

#: one colour per agent type (Okabe-Ito), the same in every figure; the compute market's prices and economy-wide
#: totals are black, the used-GPU market grey
AGENT_COLOURS = {"nvidia": "#009E73", "neoclouds": "#E69F00", "hyperscalers": "#0072B2", "lenders": "#D55E00",
                 "labs": "#CC79A7", "startups": "#56B4E9", "market": "#000000", "used_gpus": "#888888"}

#: the same palette by colour name, for figures that are not about agent types (the report's charts and network)
C = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#D55E00", "purple": "#CC79A7",
     "grey": "#888888", "brown": "#8C564B", "sky": "#56B4E9"}

#: rcParams that matter to journals, kept for callers of the previous API: the style file sets them too
FONT_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}

UNITS = {name: unit for name, unit, _ in SERIES}

#: how a unit of the data dictionary reads on an axis after scaling the values by a factor
_DISPLAY = {("US$bn/month", 12): "US$bn/year, monthly x 12", ("US$/GPU", 1e-3): "US$ thousand/GPU",
            ("fraction", 100): "%", ("fraction/year", 100): "% per year"}

PANELS = ("prices", "credit", "nvidia", "circularity", "defaults", "ai_revenue_capex")


# ====================================================================================================
# style, figures and files
# ====================================================================================================
def project_style():
    """Context manager applying the project's style file (and nothing else) while a figure is drawn and saved."""
    import matplotlib.style  # (a submodule; importing it neither selects a backend nor changes rcParams)

    return matplotlib.style.context(str(STYLE_FILE))


def new_figure(**kwargs) -> Figure:
    """A :class:`~matplotlib.figure.Figure` (``kwargs`` as for its constructor: ``figsize``, ``layout``, ...) on its
    own Agg canvas, outside pyplot: creating, drawing and saving it neither selects a backend nor registers the
    figure with pyplot (nothing to close; it is freed with its last reference)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save ``fig`` next to ``path`` in each format (vector PDF/SVG, PNG at :data:`PNG_DPI`); returns the paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fig.savefig(target, dpi=PNG_DPI if fmt == "png" else None)
        written.append(target)
    return written


def display_unit(unit: str, scale: float = 1.0) -> str:
    """The unit of a data-dictionary column as shown on an axis after multiplying its values by ``scale``."""
    return _DISPLAY.get((unit, scale), unit) if scale != 1 else unit


def axis_label(quantity: str, unit: str, scale: float = 1.0) -> str:
    """``quantity (unit)``, dollar signs escaped so that matplotlib does not read them as mathematics."""
    return _esc(f"{quantity} ({display_unit(unit, scale)})")


def outcome_label(name: str, unit: str) -> str:
    """Axis label of a study outcome: its name in words and its unit."""
    return _esc(f"{name.replace('_', ' ')} ({unit})" if unit else name.replace("_", " "))


def _esc(text: str) -> str:
    return text.replace("$", r"\$")


# ====================================================================================================
# one run or many: medians and bands
# ====================================================================================================
@dataclass
class PanelData:
    """Monthly series of one run, or of several runs summarised as median and 5-95% band per month."""

    frame: pd.DataFrame

    def __post_init__(self):
        key = next((k for k in ("run_id", "seed") if k in self.frame.columns), None)
        self.runs = int(self.frame[key].nunique()) if key else 1
        self.dates = sorted(self.frame["date"].astype(str).unique())
        self.x = pd.DatetimeIndex(pd.to_datetime([d + "-01" for d in self.dates], format="%Y-%m-%d"))
        self._groups = self.frame.groupby(self.frame["date"].astype(str)) if self.runs > 1 else None

    def series(self, column: str, scale: float = 1.0, statistic: str = "median"):
        """(middle, low, high) arrays over months; low/high are None for one run."""
        if self._groups is None:
            return self.frame[column].to_numpy(float) * scale, None, None
        g = self._groups[column]
        middle = (g.mean() if statistic == "mean" else g.median()).reindex(self.dates).to_numpy(float) * scale
        low = g.quantile(BAND[0] / 100).reindex(self.dates).to_numpy(float) * scale
        high = g.quantile(BAND[1] / 100).reindex(self.dates).to_numpy(float) * scale
        return middle, low, high


def _line(ax: Axes, data: PanelData, column: str, label: str, owner: str, scale: float = 1.0, ls: str = "-"):
    """One series coloured by its agent type: a line (median over runs with its 5-95% band when several)."""
    middle, low, high = data.series(column, scale)
    colour = AGENT_COLOURS[owner]
    if low is not None:
        ax.fill_between(data.x, low, high, color=colour, alpha=0.18, lw=0)
    marker = "o" if len(data.x) < 3 else None
    (handle,) = ax.plot(data.x, middle, color=colour, ls=ls, marker=marker, label=_esc(label))
    return handle


def _right_axis(ax: Axes) -> Axes:
    """A twin y-axis on the right, drawn beneath the left axis' lines."""
    twin = ax.twinx()
    twin.grid(False)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    return twin


def _thousands(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"))


def date_axis(ax: Axes, x: pd.DatetimeIndex) -> None:
    """Readable dates: years (YYYY) for runs of three years or more, months (YYYY-MM) for shorter ones."""
    months = len(x)
    if months >= 36:
        step = max(1, int(np.ceil(months / 12 / 6)))
        ax.xaxis.set_major_locator(mdates.YearLocator(step))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, int(np.ceil(months / 4)))))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_xlim(x[0] - pd.Timedelta(days=16), x[-1] + pd.Timedelta(days=16))


def _legend(ax: Axes, handles, ncol: int = 2) -> None:
    """One legend for all twin axes, below the plot so that it never hides data."""
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=ncol, columnspacing=1.0)


# ====================================================================================================
# the six panels
# ====================================================================================================
def plot_prices(ax: Axes, data: PanelData) -> None:
    """Prices of an H100e-hour (left) and the used-H100 price (right)."""
    hs = [_line(ax, data, "spot_price_h100e", "Spot", "market"),
          _line(ax, data, "contract_price_h100e", "New contract", "market", ls="--"),
          _line(ax, data, "fundamental_price_h100e", "Full cost of new capacity", "market", ls=":")]
    ax.set_ylabel(axis_label("price", UNITS["spot_price_h100e"]))
    ax.set_ylim(bottom=0)
    right = _right_axis(ax)
    hs.append(_line(right, data, "secondary_price_h100", "Used H100 (right)", "used_gpus", scale=1e-3, ls="-."))
    right.set_ylabel(axis_label("used H100", UNITS["secondary_price_h100"], 1e-3))
    right.set_ylim(bottom=0)
    _legend(ax, hs)


def plot_credit(ax: Axes, data: PanelData) -> None:
    """GPU-backed loans outstanding and the lead neocloud's (left); loan-to-value ratios (right)."""
    hs = [_line(ax, data, "gpu_backed_lending", "GPU-backed loans", "lenders"),
          _line(ax, data, "lead_neocloud_debt", "of which lead neocloud", "neoclouds", ls="--")]
    ax.set_ylabel(axis_label("outstanding", UNITS["gpu_backed_lending"]))
    ax.set_ylim(bottom=0)
    _thousands(ax)
    right = _right_axis(ax)
    hs.append(_line(right, data, "neocloud_avg_ltv", "Average LTV at market (right)", "neoclouds", scale=100, ls=":"))
    hs.append(_line(right, data, "origination_ltv", "Origination LTV (right)", "lenders", scale=100, ls="-."))
    right.set_ylabel(axis_label("loan-to-value", UNITS["neocloud_avg_ltv"], 100))
    right.set_ylim(bottom=0)
    _legend(ax, hs)


def plot_nvidia(ax: Axes, data: PanelData) -> None:
    """Nvidia data-centre revenue annualised (left) and market capitalisation (right)."""
    hs = [_line(ax, data, "nvidia_revenue", "Data-centre revenue", "nvidia", scale=12)]
    ax.set_ylabel(axis_label("revenue", UNITS["nvidia_revenue"], 12))
    ax.set_ylim(bottom=0)
    _thousands(ax)
    right = _right_axis(ax)
    hs.append(_line(right, data, "nvidia_market_cap", "Market capitalisation (right)", "nvidia", ls="--"))
    right.set_ylabel(axis_label("market cap", UNITS["nvidia_market_cap"]))
    right.set_ylim(bottom=0)
    _thousands(right)
    _legend(ax, hs)


def plot_circularity(ax: Axes, data: PanelData) -> None:
    """How much of Nvidia's revenue and financing goes round in a circle, and its stake in the lead neocloud."""
    hs = [_line(ax, data, "circular_revenue_share", "Revenue from financed customers", "nvidia", scale=100),
          _line(ax, data, "round_trip_ratio", "Financing returned as chip purchases", "nvidia", scale=100, ls="--"),
          _line(ax, data, "nvidia_stake_in_lead", "Nvidia's stake in lead neocloud", "nvidia", scale=100, ls=":")]
    ax.set_ylabel(axis_label("share", UNITS["circular_revenue_share"], 100))
    ax.set_ylim(bottom=0)
    _legend(ax, hs, ncol=1)


def plot_defaults(ax: Axes, data: PanelData) -> None:
    """Money entering default, lost and fire-sold each month (left); defaults per month (bars, right)."""
    right = _right_axis(ax)
    counts, _, _ = data.series("defaults_count", statistic="mean")
    bars = right.bar(data.x, counts, width=25, color="#bbbbbb",
                     label="Defaults (right)" + (", mean over runs" if data.runs > 1 else ""))
    right.set_ylabel(axis_label("defaults", UNITS["defaults_count"]))
    right.set_ylim(0, max(1.0, float(np.nanmax(counts)) * 1.25) if len(counts) else 1.0)
    right.yaxis.get_major_locator().set_params(integer=True)
    hs = [_line(ax, data, "debt_in_default", "Debt entering default", "neoclouds"),
          _line(ax, data, "lender_losses", "Lender losses", "lenders", ls="--"),
          _line(ax, data, "fire_sale_volume", "Fire-sale proceeds", "market", ls=":"), bars]
    ax.set_ylabel(axis_label("amount", UNITS["debt_in_default"]))
    ax.axhline(0, color="black", lw=0.5)
    _legend(ax, hs)


def plot_ai_revenue_capex(ax: Axes, data: PanelData) -> None:
    """End-user AI revenue and AI capex annualised, and Sequoia's revenue gap (all US$bn/year)."""
    hs = [_line(ax, data, "ai_revenue", "End-user AI revenue", "labs", scale=12),
          _line(ax, data, "ai_capex", "AI capex", "hyperscalers", scale=12, ls="--"),
          _line(ax, data, "revenue_gap", "Revenue gap: 4 x GPU spend \u2212 AI revenue", "market", ls=":")]
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(_esc(f"flow ({display_unit(UNITS['ai_revenue'], 12)}; gap {UNITS['revenue_gap']})"))
    _thousands(ax)
    _legend(ax, hs, ncol=1)


PLOTTERS = {"prices": plot_prices, "credit": plot_credit, "nvidia": plot_nvidia, "circularity": plot_circularity,
            "defaults": plot_defaults, "ai_revenue_capex": plot_ai_revenue_capex}
PANEL_NAMES = {"prices": "GPU compute prices", "credit": "Credit and leverage", "nvidia": "Nvidia",
               "circularity": "Circular financing", "defaults": "Defaults and losses",
               "ai_revenue_capex": "AI revenue and capex"}


def draw_panel(ax: Axes, stem: str, data: PanelData | pd.DataFrame) -> None:
    """Draw panel ``stem`` (one of :data:`PANELS`) on ``ax`` from a run's or several runs' series."""
    data = data if isinstance(data, PanelData) else PanelData(data.reset_index(drop=True))
    PLOTTERS[stem](ax, data)
    date_axis(ax, data.x)


def _annotate(fig: Figure, title: str | None, disclaimer: bool, runs: int) -> None:
    if title:
        fig.suptitle(_esc(title))
    if disclaimer:
        fig.get_layout_engine().set(rect=(0, 0.035, 1, 0.965))  # room for the footer below the legend
        band = f"; median and {BAND[0]}-{BAND[1]}% band over {runs} runs" if runs > 1 else ""
        fig.text(0.995, 0.002, DISCLAIMER + band, ha="right", va="bottom", fontsize=5.5, color="#666666")


def standard_panel(df: pd.DataFrame, out_dir, title: str | None = None, disclaimer: bool = False,
                   formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Draw the six standard figures and the combined ``panel`` into ``out_dir`` (created if needed).

    ``df``: monthly series, a ``date`` column (``YYYY-MM``) and the data-dictionary columns; with a ``run_id`` or
    ``seed`` column holding several runs, each figure shows the median over runs and its 5-95% band. Single
    figures are one journal column wide (3.5 in), the panel two (7.2 in). ``title`` is drawn above each figure
    and ``disclaimer`` adds a small footer only when asked for. Writes each figure in ``formats`` (PNG at 300 dpi,
    vector PDF); returns the written paths.
    """
    out_dir = Path(out_dir)
    data = PanelData(df.reset_index(drop=True))
    written: list[Path] = []
    with project_style():
        for stem in PANELS:
            fig = new_figure(figsize=SINGLE_COLUMN, layout="constrained")
            draw_panel(fig.subplots(), stem, data)
            _annotate(fig, title, disclaimer, data.runs)
            written += save_figure(fig, out_dir / stem, formats)
        fig = new_figure(figsize=DOUBLE_COLUMN, layout="constrained")
        axes = fig.subplots(3, 2)
        for letter, ax, stem in zip("abcdef", axes.flat, PANELS):
            draw_panel(ax, stem, data)
            ax.set_title(f"({letter}) {PANEL_NAMES[stem]}")
        _annotate(fig, title, disclaimer, data.runs)
        written += save_figure(fig, out_dir / "panel", formats)
    return written
