"""Global sensitivity analysis of a stored study (SALib), with the warnings a reader needs.

* **Sobol** studies (Saltelli sampling, ``calc_second_order=False``): first-order (S1) and total-order (ST)
  indices with bootstrap confidence intervals, per outcome (Saltelli et al. 2010, Comput. Phys. Commun. 181:259).
* **Morris** studies (elementary effects): mu* (mean absolute effect), its confidence interval and sigma
  (spread, a sign of interactions or non-linearity) per outcome (Campolongo, Cariboni and Saltelli 2007).
* **Latin-hypercube** studies (given samples): the first-order index S1 by RBD-FAST with bootstrap intervals
  (SALib ``rbd_fast``; Tarantola, Gatelli and Mara 2006, Reliab. Eng. Syst. Saf. 91:717; Plischke 2010,
  Reliab. Eng. Syst. Saf. 95:354). (SALib's moment-independent ``delta`` was tried and left out: in SALib 1.6 it
  took 150 s for 300 points and three parameters, and its estimates were still noisy at that size.)

**Replicates.** The outcome of a design point is the mean over its replicates (seeds; shared across points,
common random numbers), so the indices describe the parameters' effect on the *expected* outcome, and seed noise
is not read as a parameter effect. ``seed_noise_share`` reports how much of the variance of the point means the
seeds still contribute: the mean within-point variance over seeds divided by the number of replicates, over the
variance of the point means. With one replicate per point it cannot be measured (NaN, and a note says so).

**Flags.** Every row carries a ``flag``: ``ok``, or the reasons its index should not be read at face value:
an estimate outside [0, 1] (first- and total-order indices lie in [0, 1]; an estimate outside means the sample is too
small), a confidence interval wider than the index itself (the index is not distinguished from zero, or not
estimated to within its own size), or seed noise above :data:`NOISE_LIMIT` of the variance. :func:`flag_indices`
computes them for any table of indices.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .store import STATUS_OK, StudyStore
from .study import StudyError, StudySpec, design_matrix

DESIGNS = ("sobol", "morris", "lhs")
NOISE_LIMIT = 0.2
#: the indices of each design and the column of their confidence half-width
INDICES = {"sobol": (("S1", "S1_conf"), ("ST", "ST_conf")), "lhs": (("S1", "S1_conf"),),
           "morris": (("mu_star", "mu_star_conf"),)}
BOUNDED = {"S1", "ST"}  # indices that lie in [0, 1]


# ====================================================================================================
# outcomes per design point
# ====================================================================================================
def point_outcomes(store: StudyStore, outcomes: list[str]) -> pd.DataFrame:
    """Mean outcome over replicates of each design point (index: point), from the run table."""
    return _replicate_table(store, outcomes).groupby("point")[outcomes].mean().reindex(_points(store))


def seed_noise_share(store: StudyStore, outcomes: list[str]) -> dict[str, float]:
    """Per outcome: the share of the variance of the point means due to seeds, mean over points of
    var(replicates) / n_replicates over var(point means); NaN with fewer than two replicates per point."""
    data = _replicate_table(store, outcomes)
    shares = {}
    for outcome in outcomes:
        g = data.groupby("point")[outcome]
        counts = g.count()
        means = g.mean()
        within = (g.var(ddof=1) / counts)[counts >= 2]
        between = float(means.var(ddof=1)) if means.notna().sum() > 1 else math.nan
        shares[outcome] = (float(within.mean()) / between if len(within) and between > 0 else
                           (math.nan if not len(within) else 0.0))
    return shares


def _replicate_table(store: StudyStore, outcomes: list[str]) -> pd.DataFrame:
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK][["run_id", *outcomes]]
    return store.plan()[["point", "replicate", "run_id"]].merge(ok, on="run_id", how="left")


def _short_points(store: StudyStore, replicates: int) -> int:
    """Design points with at least one but fewer than ``replicates`` successful runs."""
    runs = store.runs()
    succeeded = set(runs.loc[runs["status"] == STATUS_OK, "run_id"])
    plan = store.plan()
    counts = plan.assign(ok=plan["run_id"].isin(succeeded)).groupby("point")["ok"].sum()
    return int(((counts > 0) & (counts < replicates)).sum())


def _points(store: StudyStore) -> range:
    return range(int(store.plan()["point"].max()) + 1)


# ====================================================================================================
# analysis
# ====================================================================================================
def analyse(directory: str | Path, outcomes: list[str] | None = None, conf_level: float = 0.95
            ) -> tuple[pd.DataFrame, list[str]]:
    """Sensitivity indices of a Sobol, Morris or Latin-hypercube (RBD-FAST) study: (a tidy table, notes).

    The table has one row per outcome x parameter: the design's indices and their confidence half-widths
    (:data:`INDICES`), ``seed_noise_share`` and ``flag`` (see the module docstring). Raises :class:`StudyError`.
    """
    store, spec, manifest, outcomes = _open(directory, outcomes)
    Y = point_outcomes(store, outcomes)
    if len(Y) and Y.notna().any(axis=1).sum() == 0:
        raise StudyError(f"'{directory}' has no successful run yet; run or resume the study first")
    X = design_matrix(spec)
    if len(X) != len(Y):
        raise StudyError(f"the stored plan has {len(Y)} points but the design has {len(X)}; the study is damaged")
    noise = seed_noise_share(store, outcomes)
    notes, rows = [], []
    if spec.replicates < 2:
        notes.append("one replicate (seed) per design point: seed noise cannot be told apart from parameter "
                     "effects; use replicates >= 2 (indices are computed on the mean over replicates)")
    seed = int(manifest.get("design_seed", 0)) % (2**32)
    for outcome in outcomes:
        y = Y[outcome].to_numpy(float)
        reason = _unusable(y)
        if reason:
            notes.append(f"{outcome}: skipped, {reason}")
            continue
        try:
            for row in _indices(spec, manifest["problem"], X, y, conf_level, seed):
                rows.append({"outcome": outcome, **row, "seed_noise_share": noise[outcome]})
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
            notes.append(f"{outcome}: skipped, SALib could not estimate the indices ({exc})")
    missing = int(Y.isna().all(axis=1).sum())
    if missing:
        notes.append(f"{missing} design point(s) have no successful run")
    short = _short_points(store, spec.replicates)
    if short:
        notes.append(f"{short} design point(s) have fewer than {spec.replicates} successful replicates; their mean "
                     f"is over the replicates that succeeded")
    table = pd.DataFrame(rows)
    if len(table):
        table["flag"] = flag_indices(table, spec.design)
    return table, notes


def _open(directory, outcomes):
    store = StudyStore(directory)
    try:
        manifest = store.manifest()
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    spec = StudySpec.from_dict(manifest["spec"])
    if spec.design not in DESIGNS:
        raise StudyError(f"'{directory}' is a {spec.design} study; sensitivity indices need a sobol, morris or lhs "
                         f"design")
    run_columns = manifest.get("run_columns", [])
    available = [c for c in (m["name"] for m in manifest.get("outcomes", [])) if c in run_columns]
    outcomes = outcomes or available
    unknown = [o for o in outcomes if o not in available]
    if unknown:
        raise StudyError(f"unknown outcome(s) {unknown}; expected some of {', '.join(available)}")
    return store, spec, manifest, outcomes


def _unusable(y: np.ndarray) -> str:
    bad = int(np.isnan(y).sum())
    if bad:
        return (f"{bad} of {len(y)} design points have no successful run (failed runs, an undefined outcome such as "
                f"no default, or the study is unfinished)")
    if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        return f"it does not vary across the study (constant {y[0]:g})"
    return ""


def _indices(spec: StudySpec, problem: dict, X: np.ndarray, y: np.ndarray, conf_level: float, seed: int
             ) -> list[dict]:
    """SALib's indices of one outcome, one dict per parameter."""
    from SALib.analyze import morris, rbd_fast, sobol

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.design == "sobol":
            res = sobol.analyze(problem, y, calc_second_order=False, conf_level=conf_level, seed=seed)
        elif spec.design == "morris":
            res = morris.analyze(problem, X, y, conf_level=conf_level, num_levels=spec.levels, seed=seed)
        else:
            res = rbd_fast.analyze(problem, X, y, conf_level=conf_level, seed=seed)
    keys = [k for pair in INDICES[spec.design] for k in pair] + (["sigma", "mu"] if spec.design == "morris" else [])
    return [{"parameter": name, **{k: float(res[k][i]) for k in keys}} for i, name in enumerate(problem["names"])]


def flag_indices(table: pd.DataFrame, design: str = "sobol", noise_limit: float = NOISE_LIMIT) -> pd.Series:
    """Per row of an index table: ``"ok"`` or the reasons (joined by "; ") the indices should not be read at
    face value: a [0, 1] index estimated outside [0, 1]; a confidence interval (2 x the half-width) wider than
    the index; seed noise above ``noise_limit`` of the variance of the point means."""
    def reasons(row) -> str:
        found = []
        for index, conf in INDICES[design]:
            value, half = float(row[index]), float(row[conf])
            if index in BOUNDED and not 0.0 <= value <= 1.0:
                found.append(f"{index} = {value:.2f} outside [0, 1]")
            if np.isfinite(half) and 2 * half > abs(value):
                found.append(f"{index} CI (+-{half:.2f}) wider than the index")
        noise = row.get("seed_noise_share", math.nan)
        if np.isfinite(noise) and noise > noise_limit:
            found.append(f"seed noise {noise:.0%} of the variance")
        return "; ".join(found) or "ok"

    return table.apply(reasons, axis=1) if len(table) else pd.Series(dtype=str)


def flagged(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of an :func:`analyse` table whose indices are flagged (``flag`` not ``ok``)."""
    return table[table["flag"] != "ok"] if "flag" in table else table.iloc[0:0]


def format_table(table: pd.DataFrame) -> str:
    """The index table as printed text: every cell filled (``n/a`` for an unmeasured seed-noise share)."""
    shown = table.copy()
    for column in shown.columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "n/a" if not np.isfinite(v) else f"{v:.3f}")
    from .compare import fixed_width

    return fixed_width(shown, left=("outcome", "parameter", "flag"))


def flag_summary(table: pd.DataFrame) -> str:
    """One line: how many rows are flagged and what that means."""
    n = len(flagged(table))
    if not n:
        return "No index flagged: every estimate lies in its range and is estimated to within its own size."
    return (f"{n} of {len(table)} rows flagged (column 'flag'): do not read those indices at face value; more "
            f"samples (N) or replicates per point would narrow them.")


# ====================================================================================================
# figure
# ====================================================================================================
def bar_chart(table: pd.DataFrame, design: str, path: Path, title: str = "") -> Path:
    """One panel per outcome: S1 and ST (Sobol), S1 (Latin hypercube) or mu* and sigma (Morris) per
    parameter, with confidence intervals; flagged outcomes are marked in their panel title. Parameters and
    outcomes are named in words with their units. Drawn off-screen in the project style; saved as PNG and PDF.
    ``title`` is drawn above the figure only when given."""
    from .figures import new_figure, project_style, save_figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    params = list(dict.fromkeys(table["parameter"]))
    ncols = min(2, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    with project_style():
        fig = new_figure(figsize=(3.6 * ncols, 0.22 * len(params) * nrows + 0.9 * nrows + 0.4), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        _draw_bars(axes, table, design, outcomes, params)
        if title:
            fig.suptitle(title)
        save_figure(fig, path)
    return path


def _draw_bars(axes, table: pd.DataFrame, design: str, outcomes: list[str], params: list[str]) -> None:
    from .study_figures import variable_label

    y = np.arange(len(params))
    for k, (ax, outcome) in enumerate(zip(axes.flat, outcomes)):
        sub = table[table["outcome"] == outcome].set_index("parameter").reindex(params)
        pairs = INDICES[design]
        width = 0.8 / len(pairs)
        for j, (index, conf) in enumerate(pairs):
            ax.barh(y - 0.4 + width * (j + 0.5), sub[index], width, xerr=sub[conf], label=index.replace("_", " "))
        if design == "morris":
            ax.plot(sub["sigma"], y, "o", label="sigma")
            ax.set_xlabel("elementary effect (outcome units)")
        else:
            ax.set_xlim(-0.1, 1.1)
            ax.set_xlabel("index (share of variance)" if design == "sobol" else "index")
        ax.set_yticks(y, [variable_label(p) for p in params] if k % axes.shape[1] == 0 else [])
        ax.invert_yaxis()
        warn = " \u2014 flagged, see table" if "flag" in sub and (sub["flag"] != "ok").any() else ""
        ax.set_title(variable_label(outcome, width=60) + warn)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right")
