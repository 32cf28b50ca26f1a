"""Scenario comparison: paired differences of outcomes over common seeds, with the right test for each outcome.

Every scenario runs with the same replicate seeds (common random numbers), so the design is *paired*: seed s
under scenario S is compared with seed s under the reference scenario (the first one listed). Every statistic
below is a paired one, computed on the per-seed differences d_s = outcome(S, s) - outcome(reference, s):

* ``diff_mean`` with ``diff_ci_low``/``diff_ci_high``: the mean difference and its ``conf_level`` Student-t
  interval (scipy.stats.t); ``diff_median``: the median difference;
* ``cohens_dz``: the paired effect size d_z = mean(d) / SD(d) (Cohen 1988, ch. 2.3.5; Lakens 2013, Front.
  Psychol. 4:863). The pooled-SD d of two independent groups does not describe a paired design;
* ``test`` and ``p_value``: the test used for that row (two-sided), chosen by the kind of outcome:

  - **0/1 outcomes** (unit ``0/1``, e.g. ``crisis``): the exact McNemar test, a binomial test of the discordant
    pairs (seeds where exactly one of the two scenarios has the event) against p = 1/2
    (scipy.stats.binomtest); a t-test on 0/1 data is not valid in small samples;
  - **skewed or mostly-zero outcomes** (more than half of the paired values are zero, or the differences have
    a sample skewness above 1 in absolute value, e.g. defaults and losses): the Wilcoxon signed-rank test
    (scipy.stats.wilcoxon; zero differences dropped, Wilcoxon's convention);
  - **other outcomes**: the paired t-test (scipy.stats.ttest_rel).

* ``p_adjusted``: the p-values of all rows of the table adjusted together for multiple testing with Holm's
  step-down method by default (statsmodels.stats.multitest.multipletests; Holm 1979, Scand. J. Statist. 6:65),
  which controls the family-wise error rate over every outcome x scenario tested. ``correction`` names the
  method on every row.

The table is long: one row per outcome x compared scenario, with the outcome's ``unit`` from the data
dictionary (:data:`gpucredit.experiments.outcomes.OUTCOMES`). Seeds where either run failed or the outcome is
undefined (e.g. the month of the first default in a run without one) are left out of that row; ``n_pairs``
says how many pairs remain. :func:`scenario_summary` gives each scenario's own distribution over seeds.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .store import STATUS_OK, StudyStore
from .study import StudySpec

TEST_T, TEST_WILCOXON, TEST_MCNEMAR = "paired t", "Wilcoxon signed-rank", "McNemar exact"
TEST_NONE = "none (fewer than 2 pairs)"
MOSTLY_ZERO_SHARE = 0.5   # more than this share of paired values at zero: a rank test
SKEW_LIMIT = 1.0          # |sample skewness of the differences| above this: a rank test
COLUMNS = ["outcome", "unit", "scenario", "reference", "n_pairs", "reference_mean", "mean", "reference_median",
           "median", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_median", "cohens_dz", "test", "p_value",
           "p_adjusted", "correction", "n", "sd", "p05", "p95"]


# ====================================================================================================
# the statistics of one pair of samples
# ====================================================================================================
def mean_difference_interval(diff: np.ndarray, conf_level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of the paired differences and its Student-t confidence interval."""
    from scipy import stats

    n = diff.size
    mean = float(diff.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(diff))
    if sem == 0:  # all differences equal: a degenerate interval at the mean
        return mean, mean, mean
    low, high = stats.t.interval(conf_level, n - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def cohens_dz(diff: np.ndarray) -> float:
    """Paired effect size d_z: mean difference over the standard deviation of the differences (ddof 1).
    0 when every difference is 0; +-inf when every difference is the same non-zero number; NaN below 2 pairs."""
    if diff.size < 2:
        return math.nan
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if sd > 0:
        return mean / sd
    return 0.0 if mean == 0 else math.copysign(math.inf, mean)


def mcnemar_exact(reference: np.ndarray, other: np.ndarray) -> float:
    """Two-sided exact McNemar p-value of paired 0/1 outcomes: a binomial test of the discordant pairs, b
    (event only under ``other``) out of b + c, against p = 1/2. 1.0 when there is no discordant pair."""
    from scipy import stats

    b = int(np.sum((other == 1) & (reference == 0)))
    c = int(np.sum((other == 0) & (reference == 1)))
    return float(stats.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0


def choose_test(reference: np.ndarray, other: np.ndarray, binary: bool) -> str:
    """The test for one row: McNemar for 0/1 outcomes, Wilcoxon for skewed or mostly-zero ones, else paired t."""
    from scipy import stats

    if reference.size < 2:
        return TEST_NONE
    if binary:
        return TEST_MCNEMAR
    values = np.concatenate([reference, other])
    diff = other - reference
    zero_share = float(np.mean(values == 0))
    skew = float(stats.skew(diff)) if diff.size >= 3 and np.ptp(diff) > 0 else 0.0
    return TEST_WILCOXON if zero_share > MOSTLY_ZERO_SHARE or abs(skew) > SKEW_LIMIT else TEST_T


def paired_p_value(reference: np.ndarray, other: np.ndarray, test: str) -> float:
    """Two-sided p-value of ``test`` for paired samples (NaN when no test applies)."""
    from scipy import stats

    diff = other - reference
    if test == TEST_MCNEMAR:
        return mcnemar_exact(reference, other)
    if test == TEST_NONE:
        return math.nan
    if not np.any(diff != 0):
        return 1.0  # no difference at all: nothing to test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if test == TEST_WILCOXON:
            return float(stats.wilcoxon(other, reference).pvalue)
        if np.ptp(diff) == 0:
            return 0.0  # the same non-zero difference on every seed: t is infinite
        return float(stats.ttest_rel(other, reference).pvalue)


def paired_comparison(reference, other, binary: bool = False, conf_level: float = 0.95) -> dict:
    """Every paired statistic of one outcome under one scenario against the reference (finite pairs only).

    ``reference`` and ``other`` are the outcome on the same seeds, in the same order. Returns ``n_pairs``,
    ``diff_mean``, ``diff_ci_low``, ``diff_ci_high``, ``diff_median``, ``cohens_dz``, ``test`` and ``p_value``.
    """
    ref, oth = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    keep = np.isfinite(ref) & np.isfinite(oth)
    ref, oth = ref[keep], oth[keep]
    diff = oth - ref
    mean, low, high = mean_difference_interval(diff, conf_level)
    test = choose_test(ref, oth, binary)
    return {"n_pairs": int(diff.size), "diff_mean": mean, "diff_ci_low": low, "diff_ci_high": high,
            "diff_median": float(np.median(diff)) if diff.size else math.nan, "cohens_dz": cohens_dz(diff),
            "test": test, "p_value": paired_p_value(ref, oth, test)}


def adjust_p_values(p_values, method: str = "holm") -> np.ndarray:
    """Multiple-testing adjustment of a family of p-values (statsmodels ``multipletests``); NaNs stay NaN and
    are not counted in the family."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, math.nan)
    tested = np.isfinite(p)
    if tested.any():
        adjusted[tested] = multipletests(p[tested], method=method)[1]
    return adjusted


# ====================================================================================================
# a stored study
# ====================================================================================================
def _paired_data(directory: str | Path) -> tuple[StudySpec, dict[str, str], pd.DataFrame, list[str]]:
    """The study's specification, outcome units, paired data (one row per point x replicate x scenario) and
    the outcome names."""
    store = StudyStore(directory)
    manifest = store.manifest()
    spec = StudySpec.from_dict(manifest["spec"])
    units = {o["name"]: o.get("unit", "") for o in manifest.get("outcomes", [])}
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK]
    names = [n for n in units if n in ok.columns]
    data = store.plan()[["run_id", "scenario", "point", "replicate"]].merge(ok[["run_id", *names]], on="run_id",
                                                                            how="left")
    return spec, units, data, names


def scenario_summary(directory: str | Path, outcomes: list[str] | None = None) -> pd.DataFrame:
    """Each scenario's distribution of each outcome over its successful seeds, long format: ``outcome``,
    ``unit``, ``scenario``, ``n``, ``mean``, ``sd``, ``p05``, ``median``, ``p95`` (NaN where undefined)."""
    spec, units, data, names = _paired_data(directory)
    rows = []
    for outcome in outcomes or names:
        for scenario in spec.scenarios:
            x = data.loc[data["scenario"] == scenario, outcome].to_numpy(float)
            rows.append({"outcome": outcome, "unit": units.get(outcome, ""), "scenario": scenario,
                         **_distribution(x[np.isfinite(x)])})
    return pd.DataFrame(rows)


def _distribution(x: np.ndarray) -> dict:
    n = int(x.size)
    return {"n": n, "mean": float(x.mean()) if n else math.nan, "sd": float(x.std(ddof=1)) if n > 1 else math.nan,
            "p05": float(np.percentile(x, 5)) if n else math.nan, "median": float(np.median(x)) if n else math.nan,
            "p95": float(np.percentile(x, 95)) if n else math.nan}


def comparison_table(directory: str | Path, outcomes: list[str] | None = None, conf_level: float = 0.95,
                     correction: str = "holm") -> pd.DataFrame:
    """Paired comparison of every scenario with the reference (the study's first scenario), long format.

    One row per outcome x compared scenario; columns :data:`COLUMNS`: the outcome and its unit, the scenario
    and the reference, ``n_pairs``, both scenarios' means and medians over the paired seeds, the paired
    statistics of :func:`paired_comparison`, ``p_adjusted`` (``correction`` over every row, a method name of
    statsmodels' ``multipletests``; Holm by default) and, for the scenario alone, ``n``, ``sd``, ``p05``, ``p95``
    over all its successful seeds.
    """
    spec, units, data, names = _paired_data(directory)
    reference = spec.scenarios[0]
    rows = []
    for outcome in outcomes or names:
        wide = data.pivot_table(index=["point", "replicate"], columns="scenario", values=outcome,
                                aggfunc="first", dropna=False)
        ref = wide[reference].to_numpy(float) if reference in wide else np.array([])
        binary = units.get(outcome) == "0/1"
        for scenario in spec.scenarios[1:]:
            x = wide[scenario].to_numpy(float) if scenario in wide and ref.size else np.full(ref.size, math.nan)
            pair = np.isfinite(x) & np.isfinite(ref)
            own = _distribution(x[np.isfinite(x)])
            row = {"outcome": outcome, "unit": units.get(outcome, ""), "scenario": scenario, "reference": reference,
                   "reference_mean": _mean(ref[pair]), "mean": _mean(x[pair]),
                   "reference_median": _median(ref[pair]), "median": _median(x[pair]),
                   **paired_comparison(ref, x, binary, conf_level),
                   "n": own["n"], "sd": own["sd"], "p05": own["p05"], "p95": own["p95"]}
            rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["p_adjusted"] = adjust_p_values(table["p_value"], correction) if len(table) else []
    table["correction"] = correction
    return table


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def format_table(table: pd.DataFrame, conf_level: float = 0.95) -> str:
    """The comparison as printed text: one row per outcome x scenario, every cell filled ("n/a" where a
    statistic is undefined, e.g. a test with fewer than two pairs), units in their own column."""
    def num(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        return f"{value:.4g}"

    def p(value) -> str:
        return "n/a" if not np.isfinite(value) else ("<0.0001" if value < 1e-4 else f"{value:.4f}")

    pct = f"{conf_level:.0%}"
    shown = pd.DataFrame({
        "outcome": table["outcome"], "unit": table["unit"], "scenario": table["scenario"], "pairs": table["n_pairs"],
        "reference mean": table["reference_mean"].map(num), "scenario mean": table["mean"].map(num),
        "mean diff": table["diff_mean"].map(num),
        f"{pct} CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(table["diff_ci_low"], table["diff_ci_high"])],
        "d_z": table["cohens_dz"].map(num), "test": table["test"], "p": table["p_value"].map(p),
        f"p ({table['correction'].iloc[0] if len(table) else 'holm'})": table["p_adjusted"].map(p)})
    return fixed_width(shown, left=("outcome", "unit", "scenario", "test"))


def fixed_width(frame: pd.DataFrame, left: tuple[str, ...] = ()) -> str:
    """A table as text: a header, a rule and one line per row; the ``left`` columns (words) aligned left, the
    others (numbers) right."""
    cells = [[str(c) for c in frame.columns]] + [[str(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(row[k]) for row in cells) for k in range(len(frame.columns))]

    def line(row: list[str]) -> str:
        return "  ".join(v.ljust(w) if c in left else v.rjust(w) for v, w, c in zip(row, widths, frame.columns)).rstrip()

    return "\n".join([line(cells[0]), "-" * (sum(widths) + 2 * (len(widths) - 1))] + [line(r) for r in cells[1:]])


def method_note(table: pd.DataFrame, conf_level: float = 0.95) -> str:
    """One paragraph stating how the table was computed (for the command line and reports)."""
    method = table["correction"].iloc[0] if len(table) else "holm"
    tested = int(np.isfinite(table["p_value"]).sum()) if len(table) else 0
    reference = table["reference"].iloc[0] if len(table) else "the first scenario"
    return (f"Differences are paired over seeds against '{reference}' (scenario minus reference). CI: {conf_level:.0%} "
            f"Student-t interval of the mean paired difference (for 0/1 outcomes a large-sample approximation, "
            f"degenerate when no pair differs); d_z: mean difference / SD of differences. Tests "
            f"(two-sided): McNemar exact for 0/1 outcomes, Wilcoxon signed-rank where more than half the values "
            f"are zero or the differences are skewed (|skewness| > {SKEW_LIMIT:g}), paired t otherwise. p-values "
            f"adjusted for {tested} tests with the {method.capitalize()} method (family-wise error rate).")


# ====================================================================================================
# figure
# ====================================================================================================
def box_plots(directory: str | Path, outcomes: list[str], path: Path) -> Path:
    """One panel per outcome: the distribution over seeds under each scenario, the outcome's unit on the axis
    (drawn off-screen in the project style, see :func:`gpucredit.experiments.figures.project_style`)."""
    from .figures import new_figure, project_style, save_figure

    store = StudyStore(directory)
    manifest = store.manifest()
    spec = StudySpec.from_dict(manifest["spec"])
    units = {o["name"]: o.get("unit", "") for o in manifest.get("outcomes", [])}
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK]
    ncols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    with project_style():
        fig = new_figure(figsize=(2.4 * ncols, 0.18 * len(spec.scenarios) * nrows + 1.1 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        _draw_boxes(axes, ok, spec, outcomes, units)
        save_figure(fig, path)
    return path


def _draw_boxes(axes, ok: pd.DataFrame, spec: StudySpec, outcomes: list[str], units: dict[str, str]) -> None:
    """Horizontal box plots (box: quartiles, line: median, triangle: mean, whiskers: 1.5 x IQR) per outcome."""
    from matplotlib.ticker import MaxNLocator

    from .figures import outcome_label

    for ax, outcome in zip(axes.flat, outcomes):
        series = [ok.loc[ok["scenario"] == s, outcome].dropna().to_numpy(float) for s in spec.scenarios]
        ax.boxplot(series, orientation="horizontal", widths=0.6, showmeans=True)
        ax.set_yticks(range(1, len(spec.scenarios) + 1), spec.scenarios)
        ax.invert_yaxis()
        ax.set_xlabel(outcome_label(outcome, units.get(outcome, "")))
        ax.xaxis.set_major_locator(MaxNLocator(4))
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
