"""Global sensitivity analysis of a stored study (SALib).

* **Sobol** studies (Saltelli sampling, ``calc_second_order=False``): first-order (S1) and total-order (ST)
  indices with bootstrap confidence intervals, per outcome (Saltelli et al. 2010).
* **Morris** studies (elementary effects): mu* (mean absolute effect), its confidence interval and sigma
  (spread, a sign of interactions or non-linearity) per outcome (Campolongo, Cariboni and Saltelli 2007).

The outcome of a design point is the mean over its replicates (replicates share seeds across points, common
random numbers). Every design point needs at least one successful run; an outcome that does not vary (e.g. no
default in any run) has no indices and is reported as such.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .store import STATUS_OK, StudyStore
from .study import StudyError, StudySpec, design_matrix


def point_outcomes(store: StudyStore, outcomes: list[str]) -> pd.DataFrame:
    """Mean outcome over replicates of each design point (index: point), from the run table."""
    plan = store.plan()
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK][["run_id", *outcomes]]
    merged = plan[["point", "run_id"]].merge(ok, on="run_id", how="left")
    means = merged.groupby("point")[outcomes].mean()
    return means.reindex(range(int(plan["point"].max()) + 1))


def analyse(directory: str | Path, outcomes: list[str] | None = None, conf_level: float = 0.95
            ) -> tuple[pd.DataFrame, list[str]]:
    """Sensitivity indices of a Sobol or Morris study: (a tidy table, notes). Raises :class:`StudyError`."""
    from SALib.analyze import morris, sobol

    store = StudyStore(directory)
    try:
        manifest = store.manifest()
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    spec = StudySpec.from_dict(manifest["spec"])
    if spec.design not in ("sobol", "morris"):
        raise StudyError(f"'{directory}' is a {spec.design} study; sensitivity indices need a sobol or morris design")
    run_columns = manifest.get("run_columns", [])
    available = [c for c in (m["name"] for m in manifest.get("outcomes", [])) if c in run_columns]
    outcomes = outcomes or available
    unknown = [o for o in outcomes if o not in available]
    if unknown:
        raise StudyError(f"unknown outcome(s) {unknown}; expected some of {', '.join(available)}")
    Y = point_outcomes(store, outcomes)
    missing = Y.index[Y.isna().all(axis=1)]
    if len(Y) and Y.notna().any(axis=1).sum() == 0:
        raise StudyError(f"'{directory}' has no successful run yet; run or resume the study first")
    problem = manifest["problem"]
    X = design_matrix(spec)
    if len(X) != len(Y):
        raise StudyError(f"the stored plan has {len(Y)} points but the design has {len(X)}; the study is damaged")
    notes, rows = [], []
    seed = int(manifest.get("design_seed", 0)) % (2**32)
    for outcome in outcomes:
        y = Y[outcome].to_numpy(float)
        bad = int(np.isnan(y).sum())
        if bad:
            notes.append(f"{outcome}: skipped, {bad} of {len(y)} design points have no successful run "
                         f"(failed runs, an undefined outcome such as no default, or the study is unfinished)")
            continue
        if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
            notes.append(f"{outcome}: skipped, it does not vary across the study (constant {y[0]:g})")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if spec.design == "sobol":
                res = sobol.analyze(problem, y, calc_second_order=False, conf_level=conf_level, seed=seed)
                for k, name in enumerate(problem["names"]):
                    rows.append({"outcome": outcome, "parameter": name, "S1": res["S1"][k], "S1_conf": res["S1_conf"][k],
                                 "ST": res["ST"][k], "ST_conf": res["ST_conf"][k]})
            else:
                res = morris.analyze(problem, X, y, conf_level=conf_level, num_levels=spec.levels, seed=seed)
                for k, name in enumerate(problem["names"]):
                    rows.append({"outcome": outcome, "parameter": name, "mu_star": res["mu_star"][k],
                                 "mu_star_conf": res["mu_star_conf"][k], "sigma": res["sigma"][k],
                                 "mu": res["mu"][k]})
    if len(missing):
        notes.append(f"{len(missing)} design point(s) have no successful run")
    return pd.DataFrame(rows), notes


def bar_chart(table: pd.DataFrame, design: str, path: Path, title: str = "") -> Path:
    """One panel per outcome: S1 and ST (Sobol) or mu* (Morris) per parameter, with confidence intervals (drawn
    off-screen, see :func:`gpucredit.experiments.figures.new_figure`; the caller's matplotlib backend is left alone)."""
    import matplotlib

    from .figures import FONT_RC, new_figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    params = list(dict.fromkeys(table["parameter"]))
    ncols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    with matplotlib.rc_context(FONT_RC):
        fig = new_figure(figsize=(4.6 * ncols, 0.32 * len(params) * nrows + 1.6 * nrows + 0.6))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        _draw_bars(fig, axes, table, design, outcomes, params, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130)
    return path


def _draw_bars(fig, axes, table: pd.DataFrame, design: str, outcomes: list[str], params: list[str], title: str
               ) -> None:
    y = np.arange(len(params))
    for ax, outcome in zip(axes.flat, outcomes):
        sub = table[table["outcome"] == outcome].set_index("parameter").reindex(params)
        if design == "sobol":
            ax.barh(y - 0.2, sub["S1"], 0.4, xerr=sub["S1_conf"], label="S1 (first order)", color="#4c72b0")
            ax.barh(y + 0.2, sub["ST"], 0.4, xerr=sub["ST_conf"], label="ST (total)", color="#dd8452")
            # indices lie in [0, 1]; estimates or intervals beyond it mean the sample is too small for this outcome
            ax.set_xlim(-0.1, 1.1)
            if (sub[["S1", "ST"]].to_numpy(float) > 1.1).any() or (sub["ST_conf"].to_numpy(float) > 0.5).any():
                ax.set_title(f"{outcome}\n(not converged: increase N)", fontsize=9, color="#a33")
            ax.set_xlabel("Sobol index")
        else:
            ax.barh(y, sub["mu_star"], 0.6, xerr=sub["mu_star_conf"], label="mu*", color="#4c72b0")
            ax.plot(sub["sigma"], y, "o", color="#c44e52", label="sigma")
            ax.set_xlabel("elementary effect (outcome units)")
        ax.set_yticks(y, params, fontsize=8)
        ax.invert_yaxis()
        if not ax.get_title():
            ax.set_title(outcome, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="lower right")
    fig.suptitle((title + ". " if title else "") + "Stylized research model: not a forecast or investment advice.",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
