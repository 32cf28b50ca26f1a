"""The correction table of a stored study (``gpucredit correction DIR``): when the boom turns and how deep and long
the fall is, per scenario, and how each counterfactual moves it against the reference scenario.

For each correction outcome (:data:`CORRECTION_OUTCOMES`, defined in :mod:`gpucredit.experiments.outcomes`) and each
scenario: the median over seeds and the 90% band (5th to 95th percentile); for each scenario after the first, the
paired difference from the first (the reference, same seeds: common random numbers) with the statistics of
:func:`gpucredit.experiments.compare.paired_comparison` (mean difference with its 95% Student-t interval, median
difference, the test chosen for the outcome) and p-values adjusted over the table's rows by Holm's method. Months
(``correction_month``) are shown as ``YYYY-MM``, their differences in months.

A study stored before these outcomes existed still has its monthly series: the outcomes are then recomputed from
them (``timeseries/<run_id>.parquet``), and the table says so.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .compare import adjust_p_values, fixed_width, paired_comparison
from .outcomes import OUTCOMES, correction
from .store import STATUS_OK, StoreError, StudyStore
from .study import StudySpec

CORRECTION_OUTCOMES = ("correction_month", "correction_depth_revenue", "correction_months_to_trough",
                       "first_correction_month", "ai_revenue_growth_after_peak", "ai_capex_drawdown",
                       "market_cap_drawdown")
MONTH_OUTCOMES = ("correction_month", "first_correction_month")  # months since 2023-01: shown as YYYY-MM
UNITS = {name: unit for name, unit, _ in OUTCOMES}
BAND = (5.0, 95.0)  # the 90% band over seeds, percentiles
COLUMNS = ["outcome", "unit", "scenario", "n", "median", "band_low", "band_high", "reference", "n_pairs", "diff_mean",
           "diff_ci_low", "diff_ci_high", "diff_median", "test", "p_value", "p_adjusted"]


def correction_outcomes(directory: str | Path) -> tuple[StudySpec, pd.DataFrame, list[str]]:
    """The study's specification, one row per successful run (scenario, point, replicate and the correction
    outcomes) and notes: outcomes missing from the run table (a study stored before they existed) are recomputed
    from the stored series."""
    store = StudyStore(directory)
    spec = StudySpec.from_dict(store.manifest()["spec"])
    runs = store.runs()
    ok = runs[runs["status"] == STATUS_OK].copy()
    notes = []
    missing = [name for name in CORRECTION_OUTCOMES if name not in ok.columns]
    if missing:
        recomputed = [correction(_series(store, run_id)) for run_id in ok["run_id"]]
        for name in missing:
            ok[name] = [r.get(name, math.nan) for r in recomputed]
        if len(ok):
            notes.append(f"{', '.join(missing)} recomputed from the stored series (the study was stored before they "
                         f"were outcomes)")
    data = store.plan()[["run_id", "scenario", "point", "replicate"]].merge(ok[["run_id", *CORRECTION_OUTCOMES]],
                                                                            on="run_id", how="inner")
    return spec, data, notes


def _series(store: StudyStore, run_id: str) -> pd.DataFrame:
    path = store.series_path(run_id)
    if not path.is_file():
        raise StoreError(f"'{store.root}': run {run_id} has no stored series ({path}); the correction outcomes cannot "
                         f"be recomputed: run the study again into a new --out")
    return pd.read_parquet(path, columns=["nvidia_revenue", "ai_capex", "ai_revenue"])


def correction_table(directory: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per correction outcome x scenario (columns :data:`COLUMNS`): the scenario's median and 90% band over
    its seeds and, for every scenario but the reference (the study's first), the paired difference from it."""
    spec, data, notes = correction_outcomes(directory)
    reference = spec.scenarios[0]
    rows = []
    for outcome in CORRECTION_OUTCOMES:
        wide = data.pivot_table(index=["point", "replicate"], columns="scenario", values=outcome, aggfunc="first",
                                dropna=False)
        ref = wide[reference].to_numpy(float) if reference in wide else np.array([])
        for scenario in spec.scenarios:
            x = wide[scenario].to_numpy(float) if scenario in wide else np.array([])
            row = {"outcome": outcome, "unit": UNITS[outcome], "scenario": scenario, **_band(x)}
            if scenario != reference and ref.size and x.size:
                row.update({"reference": reference, **paired_comparison(ref, x, UNITS[outcome] == "0/1")})
            rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["p_adjusted"] = adjust_p_values(table["p_value"]) if len(table) else []
    notes += censored(spec, data)
    if len(spec.scenarios) < 2:
        notes.append("one scenario: no paired differences (list a reference scenario first and counterfactuals after)")
    return table, notes


def censored(spec: StudySpec, data: pd.DataFrame) -> list[str]:
    """A note on the runs whose Nvidia revenue still rises in their last month: their turning point is the horizon
    and their correction, if any, lies beyond it (depth 0, no months to a trough)."""
    if not spec.months or data.empty:
        return []
    last = data["correction_month"] == spec.months - 1
    counts = [f"{scenario} {int(last[data['scenario'] == scenario].sum())} of {int((data['scenario'] == scenario).sum())}"
              for scenario in spec.scenarios if last[data["scenario"] == scenario].any()]
    return [f"runs still booming in their last month (turning point at the horizon, correction not observed): "
            f"{', '.join(counts)}"] if counts else []


def _band(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0, "median": math.nan, "band_low": math.nan, "band_high": math.nan}
    low, high = np.percentile(x, BAND)
    return {"n": int(x.size), "median": float(np.median(x)), "band_low": float(low), "band_high": float(high)}


def _value(outcome: str, x: float) -> str:
    """A level: YYYY-MM for a month, else 3 significant digits."""
    if not math.isfinite(x):
        return "n/a"
    if outcome in MONTH_OUTCOMES:
        from gpucredit.sim.calendar import month_label

        return month_label(int(round(x)))
    return f"{x:.3g}"


def _number(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.3g}"


def _p(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else ("<0.0001" if x < 1e-4 else f"{x:.4f}")


def format_table(table: pd.DataFrame) -> str:
    """The table as text: levels with their 90% band, then the paired difference from the reference (months for a
    month outcome), its 95% interval and the Holm-adjusted p-value."""
    shown = pd.DataFrame({
        "outcome": table["outcome"],
        "unit": [("YYYY-MM" if o in MONTH_OUTCOMES else u) for o, u in zip(table["outcome"], table["unit"])],
        "scenario": table["scenario"], "seeds": table["n"],
        "median": [_value(o, x) for o, x in zip(table["outcome"], table["median"])],
        "90% band": [f"[{_value(o, lo)}, {_value(o, hi)}]" for o, lo, hi in
                     zip(table["outcome"], table["band_low"], table["band_high"])],
        "diff (mean)": [("" if pd.isna(r) else _number(d)) for r, d in zip(table["reference"], table["diff_mean"])],
        "95% CI": [("" if pd.isna(r) else f"[{_number(lo)}, {_number(hi)}]") for r, lo, hi in
                   zip(table["reference"], table["diff_ci_low"], table["diff_ci_high"])],
        "p (Holm)": table["p_adjusted"].map(_p)})
    return fixed_width(shown, left=("outcome", "unit", "scenario"))


def method_note(table: pd.DataFrame) -> str:
    reference = next((r for r in table["reference"] if isinstance(r, str)), None)
    paired = (f"diff: scenario minus '{reference}' on the same seeds, mean with its 95% Student-t interval (months "
              f"for correction_month); p: the paired test of `gpucredit compare` (Wilcoxon signed-rank for skewed "
              f"or mostly-zero differences, paired t otherwise), Holm-adjusted over this table's "
              f"{int(np.isfinite(table['p_value']).sum())} tests. " if reference else "")
    return (f"median and 90% band (5th-95th percentile) over each scenario's seeds; {paired}Definitions: "
            f"docs/ODD.md, section 8.1.")
