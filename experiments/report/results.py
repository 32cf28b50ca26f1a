"""The numbers of a report, read from its stored studies: runs, monthly series, bands, comparisons, calibration.

Every statistic is computed here from the study stores (``DIR/studies/<name>/``, see
:mod:`gpucredit.experiments.store`); nothing in the report's text is typed in by hand.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..calibration import load_targets
from ..compare import comparison_table, scenario_summary
from ..store import STATUS_OK, StudyStore, connect
from ..study import StudySpec
from ..study_figures import band_table
from .facts import Fact

BAND = (5, 95)  # percentiles of the Monte Carlo band


@dataclass
class StudyData:
    """A stored study as the report reads it."""

    spec: StudySpec
    directory: Path
    manifest: dict
    plan: pd.DataFrame
    runs: pd.DataFrame

    @classmethod
    def open(cls, directory: Path) -> "StudyData":
        store = StudyStore(directory)
        manifest = store.manifest()
        return cls(StudySpec.from_dict(manifest["spec"]), Path(directory), manifest, store.plan(), store.runs())

    @cached_property
    def sql(self):
        """A DuckDB connection with the study's views (runs, timeseries, plan), opened once."""
        return connect(self.directory)

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == STATUS_OK]

    def run_ids(self, scenario: str) -> list[str]:
        """Successful runs of ``scenario`` in replicate order."""
        plan = self.plan[self.plan["scenario"] == scenario].sort_values("replicate")
        ok = set(self.ok["run_id"])
        return [r for r in dict.fromkeys(plan["run_id"]) if r in ok]

    def series(self, scenario: str, columns: list[str] | None = None) -> list[pd.DataFrame]:
        """The monthly series of every successful run of ``scenario``, indexed by ``date`` (YYYY-MM)."""
        store = StudyStore(self.directory)
        frames = []
        for run_id in self.run_ids(scenario):
            df = pd.read_parquet(store.series_path(run_id), columns=None if columns is None else ["date", *columns])
            frames.append(df.drop(columns=["run_id"], errors="ignore").set_index("date"))
        return frames

    def outcome(self, scenario: str, name: str) -> np.ndarray:
        values = self.ok.loc[self.ok["scenario"] == scenario, name].to_numpy(float)
        return values[np.isfinite(values)]


def bands(study: StudyData, series: str, scenario: str) -> pd.DataFrame:
    """Per month: ``date`` and the 5th, 25th, 50th, 75th and 95th percentiles of ``series`` over the runs."""
    table = band_table(study.sql, series, scenario)
    q = np.vstack(table["q"].to_numpy()) if len(table) else np.zeros((0, 5))
    return pd.DataFrame({"date": table["date"], "p05": q[:, 0], "p25": q[:, 1], "p50": q[:, 2], "p75": q[:, 3],
                         "p95": q[:, 4]})


def comparisons(study: StudyData) -> pd.DataFrame:
    """The paired comparison of every scenario with the reference (:func:`gpucredit.experiments.compare.comparison_table`:
    the test suited to each outcome, the paired effect size d_z, p-values adjusted over every row with Holm's
    method), with one row per outcome for the reference scenario's own distribution (its paired statistics NaN).
    Columns ``cohens_d`` (= d_z, the paired effect size) and ``p_holm`` (= ``p_adjusted``) name them for the report."""
    table = comparison_table(study.directory)
    table["cohens_d"] = table["cohens_dz"]
    table["p_holm"] = table["p_adjusted"]
    summary = scenario_summary(study.directory)
    reference = summary[summary["scenario"] == study.spec.scenarios[0]]
    others = summary[summary["scenario"] != study.spec.scenarios[0]].set_index(["outcome", "scenario"])
    key = list(zip(table["outcome"], table["scenario"]))
    for column in ("p05", "p95", "median", "mean", "n"):  # each scenario's own distribution
        table[column] = [others[column].get(k, float("nan")) for k in key]
    out = pd.concat([reference, table], ignore_index=True)
    order = {name: i for i, name in enumerate(dict.fromkeys(out["outcome"]))}
    return out.sort_values(by="outcome", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """(median, 5th percentile, 95th percentile) of finite values; NaNs if there are none."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    return float(np.median(v)), float(np.percentile(v, BAND[0])), float(np.percentile(v, BAND[1]))


_NOTES_FILE = re.compile(r"\b[A-Z]+\.md(\s+s\d+(\.\d+)*)?:?\s*")


def clean_source(source: str) -> str:
    """A source without the name of the internal notes file it was copied from (what remains names the
    publication); a source that was only such a file is a design choice of the model."""
    text = _NOTES_FILE.sub("", str(source)).strip(" ;,")
    return text or "model design"


def _covers(statistic, df: pd.DataFrame) -> bool:
    """Whether a run's months cover a target's statistic. A statistic over months the run does not reach either
    fails (a missing month) or ignores the data (a sum over no month is 0): it is the same with every value
    raised by one."""
    try:
        return statistic(df) != statistic(df + 1.0)
    except (KeyError, IndexError):
        return False


def calibration(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, list[str]]:
    """Model against target for every calibration target of :mod:`gpucredit.experiments.calibration` that the
    horizon covers: median, 90% band over seeds, relative error of the median, sources (cited, and their keys in
    ``source_keys``, space-separated). Also returns the labels of targets outside the horizon."""
    from ..sources import cite

    rows, outside = [], []
    for t in load_targets():
        label = f"{t.label} ({t.unit})"
        covered = bool(frames) and _covers(t.compute, frames[0])
        median, low, high = quantiles([t.compute(df) for df in frames] if covered else [])
        if not math.isfinite(median):
            outside.append(label)
            continue
        rows.append({"target": label, "model_median": median, "model_p05": low, "model_p95": high,
                     "target_value": t.value, "relative_error": (median - t.value) / abs(t.value),
                     "source": clean_source(cite(t.sources)), "source_keys": " ".join(t.sources)})
    return pd.DataFrame(rows), outside


def fact_table(facts: list[Fact], frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Each observed fact against the model column at its month: median and 90% band over seeds."""
    rows = []
    for fact in facts:
        values = [float(df.loc[fact.date, fact.column]) for df in frames if fact.date in df.index]
        median, low, high = quantiles(values)
        rel = (median - fact.value) / abs(fact.value) if fact.value != 0 and math.isfinite(median) else math.nan
        rows.append({"fact": fact.name, "date": fact.date, "column": fact.column, "unit": fact.unit,
                     "observed": fact.value, "model_median": median, "model_p05": low, "model_p95": high,
                     "relative_error": rel, "source": fact.source})
    return pd.DataFrame(rows)


def sha256_files(root: Path, under: str = "studies") -> pd.DataFrame:
    """``path`` (relative to ``root``) and ``sha256`` of every stored result file below ``root/under``."""
    rows = []
    for path in sorted((root / under).rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            rows.append({"path": str(path.relative_to(root)), "bytes": path.stat().st_size, "sha256": digest})
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"])
