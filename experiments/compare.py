"""Scenario comparison: outcome distributions side by side, with differences, effect sizes and confidence intervals.

Every scenario runs with the same replicate seeds (common random numbers), so the difference of an outcome
between scenario S and the reference scenario (the first one listed) is measured pairwise, seed by seed:

* ``diff_mean``   mean over seeds of (outcome under S - outcome under the reference);
* ``diff_ci_low``, ``diff_ci_high``: the ``conf_level`` Student-t interval of that mean (paired);
* ``cohens_d``    the mean difference over the pooled standard deviation of the two scenarios' outcomes;
* ``p_value``     the paired t-test of a zero mean difference (two-sided).

Seeds where either run failed or the outcome is undefined (e.g. the month of the first default in a run without
one) are left out of that comparison; ``n_pairs`` says how many remain.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .store import STATUS_OK, StudyStore
from .study import StudySpec


def comparison_table(directory: str | Path, outcomes: list[str] | None = None, conf_level: float = 0.95
                     ) -> pd.DataFrame:
    from scipy import stats

    store = StudyStore(directory)
    manifest = store.manifest()
    spec = StudySpec.from_dict(manifest["spec"])
    names = [o["name"] for o in manifest.get("outcomes", [])]
    outcomes = outcomes or names
    plan = store.plan()
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK]
    data = plan[["run_id", "scenario", "point", "replicate"]].merge(ok[["run_id", *outcomes]], on="run_id", how="left")
    reference = spec.scenarios[0]
    rows = []
    for outcome in outcomes:
        wide = data.pivot_table(index=["point", "replicate"], columns="scenario", values=outcome, aggfunc="first",
                                dropna=False)
        ref = wide[reference] if reference in wide else pd.Series(dtype=float)
        for scenario in spec.scenarios:
            x = wide[scenario].to_numpy(float) if scenario in wide else np.array([])
            valid = x[np.isfinite(x)]
            row = {"outcome": outcome, "scenario": scenario, "n": int(valid.size),
                   "mean": _stat(np.mean, valid), "sd": _stat(lambda v: np.std(v, ddof=1), valid, 2),
                   "p05": _stat(lambda v: np.percentile(v, 5), valid), "median": _stat(np.median, valid),
                   "p95": _stat(lambda v: np.percentile(v, 95), valid)}
            if scenario != reference and len(ref):
                r = ref.to_numpy(float)
                pair = np.isfinite(x) & np.isfinite(r)
                diff = x[pair] - r[pair]
                n = int(diff.size)
                row["n_pairs"] = n
                row["diff_mean"] = float(diff.mean()) if n else math.nan
                if n >= 2:
                    se = diff.std(ddof=1) / math.sqrt(n)
                    half = float(stats.t.ppf(0.5 + conf_level / 2, n - 1) * se)
                    row["diff_ci_low"], row["diff_ci_high"] = row["diff_mean"] - half, row["diff_mean"] + half
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        row["p_value"] = float(stats.ttest_1samp(diff, 0.0).pvalue) if se > 0 else (
                            1.0 if row["diff_mean"] == 0 else 0.0)
                    pooled = math.sqrt((np.var(x[pair], ddof=1) + np.var(r[pair], ddof=1)) / 2)
                    row["cohens_d"] = row["diff_mean"] / pooled if pooled > 0 else (0.0 if row["diff_mean"] == 0 else math.nan)
            rows.append(row)
    columns = ["outcome", "scenario", "n", "mean", "sd", "p05", "median", "p95", "n_pairs", "diff_mean",
               "diff_ci_low", "diff_ci_high", "cohens_d", "p_value"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _stat(fn, values: np.ndarray, minimum: int = 1) -> float:
    return float(fn(values)) if values.size >= minimum else math.nan


def box_plots(directory: str | Path, outcomes: list[str], path: Path) -> Path:
    """One panel per outcome: the distribution over seeds under each scenario (drawn off-screen, see
    :func:`gpucredit.experiments.figures.new_figure`; the caller's matplotlib backend is left alone)."""
    import matplotlib

    from .figures import FONT_RC, new_figure

    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK]
    ncols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    with matplotlib.rc_context(FONT_RC):
        fig = new_figure(figsize=(4.8 * ncols, 0.35 * len(spec.scenarios) * nrows + 1.8 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        _draw_boxes(fig, axes, ok, spec, outcomes)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130)
    return path


def _draw_boxes(fig, axes, ok: pd.DataFrame, spec: StudySpec, outcomes: list[str]) -> None:
    for ax, outcome in zip(axes.flat, outcomes):
        series = [ok.loc[ok["scenario"] == s, outcome].dropna().to_numpy(float) for s in spec.scenarios]
        # (matplotlib's boxplot reads every rcParam; if no backend has been chosen at all, that makes matplotlib
        # resolve its default backend, as importing pyplot would; a backend already chosen, e.g. inline, is kept)
        ax.boxplot(series, orientation="horizontal", widths=0.6, showmeans=True)
        ax.set_yticks(range(1, len(spec.scenarios) + 1), spec.scenarios, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(outcome, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
    fig.suptitle(f"Outcomes by scenario ({spec.replicates} seeds each). "
                 "Stylized research model: not a forecast or investment advice.", fontsize=9)
    fig.tight_layout()
