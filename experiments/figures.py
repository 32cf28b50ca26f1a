"""The standard figures of a gpucredit run.

:func:`standard_panel` turns a run's monthly time series (``timeseries.parquet``: a ``date`` column
``YYYY-MM`` and the columns of :data:`gpucredit.sim.reporting.columns.SERIES`) into five figures, each saved as PNG (150 dpi) and
PDF, plus a combined ``panel.png``/``panel.pdf`` holding all five:

=====================  ==========================================================================================
file                   content
=====================  ==========================================================================================
``prices``             H100 spot rental price (US$/GPU-hour), spot and new-contract price per H100e-hour
                       (US$/H100e-hour); used H100 price (US$ thousand per GPU) on the right axis
``credit``             GPU-backed lending and neocloud debt (US$bn); neocloud average LTV at market and mean
                       origination LTV offered by lenders (%) on the right axis
``nvidia``             Nvidia data-centre revenue annualised (monthly x 12, US$bn/year); market capitalisation
                       (US$tn) and circular revenue share (%) on two right axes
``defaults``           defaults per month (bars, right axis); debt entering default, lender losses and fire-sale
                       proceeds (US$bn/month)
``ai_revenue_capex``   end-user AI revenue and AI capex annualised (x 12) and Sequoia's revenue gap
                       (US$bn/year)
=====================  ==========================================================================================

Every figure carries a footer saying that gpucredit is a stylized research model, not a forecast.

Figures are drawn with matplotlib's object-oriented API only (:func:`new_figure`: a :class:`~matplotlib.figure.Figure`
on its own Agg canvas, written with ``fig.savefig``), never through pyplot or ``matplotlib.use``: this module works
without a display, and importing or calling it (or :mod:`gpucredit.experiments.run`, the command line, the study
figures) leaves the caller's backend alone, so a Jupyter notebook keeps its inline plots. PDFs embed TrueType
(Type 42) fonts (:data:`FONT_RC`, set locally with ``matplotlib.rc_context``), not Type 3 fonts.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

FOOTER = "gpucredit \u2014 stylized research model, not a forecast"
DPI = 150

# one colour per role, the same in every figure (colour-blind-safe "tab10" subset)
C = {
    "blue": "#1f77b4", "orange": "#ff7f0e", "green": "#2ca02c", "red": "#d62728",
    "purple": "#9467bd", "grey": "#7f7f7f", "brown": "#8c564b",
}

PANELS = ("prices", "credit", "nvidia", "defaults", "ai_revenue_capex")

#: rcParams of every figure gpucredit writes, applied with ``matplotlib.rc_context`` around drawing and saving (never
#: globally): PDF and PostScript files embed TrueType (Type 42) fonts, which journals and vector editors accept, rather
#: than Type 3 fonts
FONT_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}


def new_figure(**kwargs) -> Figure:
    """A :class:`~matplotlib.figure.Figure` (``kwargs`` as for its constructor: ``figsize``, ``layout``, ...) on its
    own Agg canvas, outside pyplot: creating, drawing and saving it neither selects a backend nor registers the
    figure with pyplot (nothing to close; it is freed with its last reference)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _dates(df: pd.DataFrame) -> pd.DatetimeIndex:
    """Month-start timestamps from the ``date`` column (``YYYY-MM``)."""
    return pd.DatetimeIndex(pd.to_datetime(df["date"].astype(str) + "-01", format="%Y-%m-%d"))


def _esc(text: str) -> str:
    """Escape dollar signs so that matplotlib does not read ``US$ ... US$`` as mathematics."""
    return text.replace("$", r"\$")


def _line(ax: Axes, x, y, label: str, color: str, under: bool = False, **kw):
    """A line; with fewer than three points also markers, so very short runs remain visible. ``under`` draws a
    wide, pale line that stays visible beneath a dashed line drawn on top of it (series that often coincide)."""
    marker = "o" if len(x) < 3 else None
    style = {"lw": 4.0, "alpha": 0.4, "solid_capstyle": "butt"} if under else {"lw": 1.6}
    (handle,) = ax.plot(x, y, label=_esc(label), color=color, marker=marker, ms=4, **style, **kw)
    return handle


def _thousands(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"))


def _finish(ax: Axes, title: str, handles, ncol: int = 2) -> None:
    """Title, grid, date axis and one legend for all twin axes."""
    ax.set_title(_esc(title), fontsize=10, loc="left")
    ax.grid(True, color="#dddddd", lw=0.6)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    # below the plot, so that it never hides data
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=7.5, frameon=False,
              ncol=ncol)


def _right_axis(ax: Axes, offset: float | None = None, color: str | None = None) -> Axes:
    """A twin y-axis on the right, optionally moved outwards (a third axis) and coloured like its one series."""
    twin = ax.twinx()
    if offset is not None:
        twin.spines["right"].set_position(("axes", offset))
    if color is not None:
        twin.spines["right"].set_color(color)
        twin.tick_params(axis="y", colors=color)
        twin.yaxis.label.set_color(color)
    # keep the left axis' lines above the twin's artists while the legend stays on top
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    return twin


def plot_prices(ax: Axes, df: pd.DataFrame) -> None:
    """GPU rental prices (left, US$/hour) and the used-H100 price (right, US$ thousand per GPU)."""
    x = _dates(df)
    hs = [
        _line(ax, x, df["h100_rental_price"], "H100 spot rental (US$/GPU-hour)", C["blue"], under=True),
        _line(ax, x, df["spot_price_h100e"], "Spot price (US$/H100e-hour)", C["orange"], ls="--"),
        _line(ax, x, df["contract_price_h100e"], "New-contract price (US$/H100e-hour)", C["green"]),
    ]
    ax.set_ylabel(_esc("US$ per hour"))
    ax.set_ylim(bottom=0)
    right = _right_axis(ax, color=C["purple"])
    hs.append(_line(right, x, df["secondary_price_h100"] / 1e3, "Used H100 (US$ thousand/GPU, right)", C["purple"], ls=":"))
    right.set_ylabel(_esc("US$ thousand per GPU"))
    right.set_ylim(bottom=0)
    _finish(ax, "GPU prices (US$/hour; used H100 in US$ thousand per GPU)", hs)


def plot_credit(ax: Axes, df: pd.DataFrame) -> None:
    """GPU-backed lending and neocloud debt (left, US$bn); LTVs (right, %)."""
    x = _dates(df)
    hs = [
        _line(ax, x, df["gpu_backed_lending"], "GPU-backed loans outstanding, all borrowers (US$bn)", C["blue"], under=True),
        _line(ax, x, df["neocloud_debt"], "Neocloud GPU-backed debt (US$bn)", C["orange"], ls="--"),
    ]
    ax.set_ylabel(_esc("US$bn"))
    ax.set_ylim(bottom=0)
    _thousands(ax)
    right = _right_axis(ax)
    hs.append(_line(right, x, df["neocloud_avg_ltv"], "Neocloud average LTV at market (%, right)", C["red"]))
    hs.append(_line(right, x, df["origination_ltv"], "Origination LTV offered (%, right)", C["grey"], ls=":"))
    right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    right.set_ylabel("loan-to-value")
    right.set_ylim(bottom=0)
    _finish(ax, "Credit and leverage (US$bn; LTV in %)", hs)


def plot_nvidia(ax: Axes, df: pd.DataFrame) -> None:
    """Nvidia revenue annualised (left, US$bn/year), market cap (right, US$tn), circular revenue share (outer right, %)."""
    x = _dates(df)
    hs = [_line(ax, x, df["nvidia_revenue"] * 12, "Data-centre revenue x12 (US$bn/year)", C["green"])]
    ax.set_ylabel(_esc("US$bn per year"))
    ax.set_ylim(bottom=0)
    _thousands(ax)
    cap = _right_axis(ax, color=C["blue"])
    hs.append(_line(cap, x, df["nvidia_market_cap"] / 1e3, "Market capitalisation (US$tn, right)", C["blue"], ls="--"))
    cap.set_ylabel(_esc("market cap, US$tn"))
    cap.set_ylim(bottom=0)
    share = _right_axis(ax, offset=1.14, color=C["red"])
    hs.append(_line(share, x, df["circular_revenue_share"], "Circular revenue share (%, outer right)", C["red"], ls=":"))
    share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    share.set_ylabel("circular revenue share")
    share.set_ylim(0, max(0.05, float(df["circular_revenue_share"].max()) * 1.15))
    _finish(ax, "Nvidia (revenue US$bn/yr; market cap US$tn; circular share %)", hs)


def plot_defaults(ax: Axes, df: pd.DataFrame) -> None:
    """Monthly defaults (bars, right axis) and the money at stake (left, US$bn/month)."""
    x = _dates(df)
    right = _right_axis(ax)
    bars = right.bar(x, df["defaults_count"], width=25, color=C["grey"], alpha=0.6, label="Defaults (count/month, right)")
    right.set_ylabel("defaults per month")
    right.set_ylim(0, max(1.0, float(df["defaults_count"].max()) * 1.25))
    right.yaxis.get_major_locator().set_params(integer=True)
    hs = [
        _line(ax, x, df["debt_in_default"], "Debt entering default (US$bn/month)", C["red"]),
        _line(ax, x, df["lender_losses"], "Lender losses (US$bn/month)", C["brown"], ls="--"),
        _line(ax, x, df["fire_sale_volume"], "Fire-sale proceeds (US$bn/month)", C["orange"], ls=":"),
        bars,
    ]
    ax.set_ylabel(_esc("US$bn per month"))
    money = df[["debt_in_default", "lender_losses", "fire_sale_volume"]]
    top, low = float(money.max().max()), float(money.min().min())  # losses can be negative (recoveries > principal)
    ax.set_ylim(min(0.0, low * 1.15), max(top * 1.15, 0.1))
    ax.axhline(0, color="black", lw=0.7)
    _finish(ax, "Defaults and losses (US$bn/month; defaults as count)", hs)


def plot_ai_revenue_capex(ax: Axes, df: pd.DataFrame) -> None:
    """End-user AI revenue and AI capex annualised, and the revenue gap (all US$bn/year)."""
    x = _dates(df)
    hs = [
        _line(ax, x, df["ai_revenue"] * 12, "End-user AI revenue x12 (US$bn/year)", C["green"]),
        _line(ax, x, df["ai_capex"] * 12, "AI capex x12 (US$bn/year)", C["blue"], ls="--"),
        _line(ax, x, df["revenue_gap"], "Revenue gap: 4 x GPU spend \u2212 AI revenue (US$bn/year)", C["red"], ls=":"),
    ]
    ax.axhline(0, color="black", lw=0.7)
    ax.set_ylabel(_esc("US$bn per year"))
    _thousands(ax)
    _finish(ax, "AI revenue vs capex (US$bn/year, annualised)", hs)


PLOTTERS = {
    "prices": plot_prices,
    "credit": plot_credit,
    "nvidia": plot_nvidia,
    "defaults": plot_defaults,
    "ai_revenue_capex": plot_ai_revenue_capex,
}


def _draw(ax: Axes, stem: str, df: pd.DataFrame) -> None:
    """Draw panel ``stem`` on ``ax``, the x-axis spanning the run with half a month to spare on each side."""
    PLOTTERS[stem](ax, df)
    x = _dates(df)
    ax.set_xlim(x[0] - pd.Timedelta(days=16), x[-1] + pd.Timedelta(days=16))


def _footer(fig, title: str | None) -> None:
    fig.text(0.995, 0.005, FOOTER, ha="right", va="bottom", fontsize=6.5, color="#666666")
    if title:
        fig.text(0.005, 0.005, title, ha="left", va="bottom", fontsize=6.5, color="#666666")


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=DPI)
    fig.savefig(paths[1])
    return paths


def standard_panel(df: pd.DataFrame, out_dir, title: str | None = None) -> list[Path]:
    """Draw the five standard figures of a run into ``out_dir`` (created if needed).

    ``df`` is a run's time series: a ``date`` column (``YYYY-MM``) and the :data:`gpucredit.sim.reporting.columns.SERIES` columns,
    one row per month. Writes ``prices``, ``credit``, ``nvidia``, ``defaults`` and ``ai_revenue_capex`` as
    ``.png`` (150 dpi) and ``.pdf``, and ``panel.png``/``panel.pdf`` with all five. ``title`` (e.g. the scenario
    and seed) is printed small in the bottom-left corner. Returns the written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = df.reset_index(drop=True)
    written: list[Path] = []
    with matplotlib.rc_context({"font.size": 8.5, "axes.titleweight": "bold", **FONT_RC}):
        for stem in PANELS:
            fig = new_figure(figsize=(8.0, 4.6), layout="constrained")
            ax = fig.subplots()
            fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))  # room for the footer
            _draw(ax, stem, df)
            _footer(fig, title)
            written += _save(fig, out_dir, stem)

        fig = new_figure(figsize=(15.0, 13.5), layout="constrained")
        axes = fig.subplots(3, 2)
        fig.get_layout_engine().set(h_pad=0.1, w_pad=0.1, rect=(0, 0.015, 1, 0.985))
        for ax, stem in zip(axes.flat, PANELS):
            _draw(ax, stem, df)
        axes.flat[-1].set_visible(False)
        heading = "gpucredit run" + (f": {title}" if title else "")
        fig.suptitle(heading, fontsize=12, fontweight="bold")
        _footer(fig, title)
        written += _save(fig, out_dir, "panel")
    return written
