"""Figures of a stored study: phase diagrams of a two-parameter grid and Monte Carlo bands of replicates.

Both read the store through SQL aggregates (:func:`gpucredit.experiments.store.connect`), so a study of any size is drawn
without loading its runs into memory. Both draw off-screen (:func:`gpucredit.experiments.figures.new_figure`), so the
caller's matplotlib backend is left alone, and write PDFs with TrueType fonts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .store import STATUS_OK, StudyStore, connect
from .study import StudySpec

NOTE = "Stylized research model: not a forecast or investment advice."
BAND_SERIES = (("h100_rental_price", "H100 rental price (US$/GPU-hour)"),
               ("gpu_backed_lending", "GPU-backed lending (US$bn)"),
               ("nvidia_market_cap", "Nvidia market cap (US$bn)"),
               ("debt_in_default", "Debt in default (US$bn/month)"))


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
    """Heat map of ``outcome`` (mean over replicates) over a two-parameter grid; saved under figures/."""
    import matplotlib

    from .figures import FONT_RC, new_figure

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    table = phase_table(directory, outcome)
    path = store.figures_dir / f"phase_{outcome}.png"
    with matplotlib.rc_context(FONT_RC):
        fig = new_figure(figsize=(6.4, 5.0))
        _draw_phase(fig, fig.subplots(), table, outcome, label, spec.replicates)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130)
        fig.savefig(path.with_suffix(".pdf"))
    return path


def _draw_phase(fig, ax, table: pd.DataFrame, outcome: str, label: str | None, replicates: int) -> None:
    vmin, vmax = (0.0, 1.0) if outcome == "crisis" else (None, None)
    mesh = ax.imshow(table.to_numpy(float), origin="lower", aspect="auto", cmap="magma_r", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(table.index)), [f"{v:g}" for v in table.index], fontsize=8)
    ax.set_xticks(range(len(table.columns)), [f"{v:g}" for v in table.columns], fontsize=8)
    ax.set_ylabel(table.index.name)
    ax.set_xlabel(table.columns.name)
    for (i, j), value in np.ndenumerate(table.to_numpy(float)):
        if np.isfinite(value):  # light text on the dark end of the colour map
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if mesh.norm(value) > 0.6 else "black")
    name = label or ("crisis probability" if outcome == "crisis" else outcome)
    fig.colorbar(mesh, ax=ax, label=name)
    ax.set_title(f"{name}: mean over {replicates} seeds per cell\n{NOTE}", fontsize=9)
    fig.tight_layout()


def band_table(con, series: str, scenario: str | None = None) -> pd.DataFrame:
    """Per month: 5th, 25th, 50th, 75th and 95th percentiles of ``series`` over a study's runs, from a connection
    made by :func:`gpucredit.experiments.store.connect`."""
    where = "WHERE r.scenario = ?" if scenario else ""
    params = [scenario] if scenario else []
    return con.execute(
        f"SELECT t.date, quantile_cont(t.{series}, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q "
        f"FROM timeseries t JOIN runs r USING (run_id) {where} GROUP BY t.date ORDER BY t.date", params).df()


def monte_carlo_bands(directory: str | Path) -> Path:
    """Median and 50%/90% bands over the runs of each scenario for a few key series; saved under figures/."""
    import matplotlib

    from .figures import FONT_RC, new_figure

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    path = store.figures_dir / "bands.png"
    con = connect(directory)  # one connection for every series and scenario
    try:
        with matplotlib.rc_context(FONT_RC):
            fig = new_figure(figsize=(11, 7))
            _draw_bands(fig, fig.subplots(2, 2, squeeze=False), con, spec)
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=130)
            fig.savefig(path.with_suffix(".pdf"))
    finally:
        con.close()
    return path


def _draw_bands(fig, axes, con, spec: StudySpec) -> None:
    import matplotlib

    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (series, title) in zip(axes.flat, BAND_SERIES):
        for k, scenario in enumerate(spec.scenarios):
            table = band_table(con, series, scenario)
            if table.empty:
                continue
            q = np.vstack(table["q"].to_numpy())
            x = pd.to_datetime(table["date"], format="%Y-%m")
            colour = colours[k % len(colours)]
            ax.fill_between(x, q[:, 0], q[:, 4], color=colour, alpha=0.15, lw=0)
            ax.fill_between(x, q[:, 1], q[:, 3], color=colour, alpha=0.3, lw=0)
            ax.plot(x, q[:, 2], color=colour, lw=1.5, label=scenario)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Median, 50% and 90% bands over {spec.replicates} seeds. {NOTE}", fontsize=9)
    fig.tight_layout()
