"""Model vs calibration targets: the median over seeds of each statistic, the observed value, the relative
error and the original source. Hand calibration: the table shows where the baseline lands.

The targets, the facts behind the default parameters and their sources (publisher, title, date, address) live in
``experiments/data/calibration_targets.toml`` (package data), read by :func:`load_targets`, :func:`load_facts`
and :func:`load_sources`; nothing here lists a target by hand.

Stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from gpucredit.sim import GPUEconomy
from gpucredit.sim.calendar import month_label
from gpucredit.sim.reporting.columns import SERIES

from .sources import TARGETS_FILE, _data, cite, load_sources, number_sources, reference  # noqa: F401 (re-exported)
STATISTICS = ("max", "mean", "sum", "at")


class CalibrationDataError(ValueError):
    """The targets file is malformed: one line naming the entry and field."""


@dataclass(frozen=True)
class Target:
    """One observed statistic of a monthly series, with the sources it comes from."""

    label: str
    series: str
    statistic: str
    value: float
    unit: str
    sources: tuple[str, ...]
    start: str = ""
    end: str = ""
    year: int = 0
    month: str = ""

    def compute(self, df: pd.DataFrame) -> float:
        """The statistic of one run's series (index: month labels YYYY-MM); KeyError if the run is too short."""
        column = df[self.series]
        if self.statistic == "at":
            return float(column.loc[self.month])
        if self.statistic == "sum":
            window = column.loc[f"{self.year}-01":f"{self.year}-12"]
            if len(window) < 12:
                raise KeyError(f"{self.year}-12")
            return float(window.sum())
        window = column.loc[self.start:self.end]
        if not len(window) or window.index[-1] != self.end:
            raise KeyError(self.end)
        return float(window.max() if self.statistic == "max" else window.mean())


def load_facts() -> list[dict]:
    """The facts behind default parameters: ``fact``, ``date``, ``sources`` (keys of :func:`load_sources`)."""
    return list(_data().get("fact", []))


def load_targets() -> list[Target]:
    """The calibration targets, validated (known series, statistic, sources). Raises :class:`CalibrationDataError`."""
    sources, columns = load_sources(), {name for name, _, _ in SERIES}
    targets = []
    for k, entry in enumerate(_data().get("target", [])):
        where = f"{TARGETS_FILE}: target {k + 1} ({entry.get('label', '?')})"
        if entry.get("series") not in columns:
            raise CalibrationDataError(f"{where}: field 'series' {entry.get('series')!r} is not a column of the data dictionary")
        if entry.get("statistic") not in STATISTICS:
            raise CalibrationDataError(f"{where}: field 'statistic' must be one of {', '.join(STATISTICS)}")
        unknown = [s for s in entry.get("sources", []) if s not in sources]
        if unknown:
            raise CalibrationDataError(f"{where}: field 'sources' names unknown source(s) {unknown}")
        fields = {f: entry[f] for f in ("start", "end", "year", "month") if f in entry}
        targets.append(Target(entry["label"], entry["series"], entry["statistic"], float(entry["value"]),
                              entry.get("unit", ""), tuple(entry.get("sources", [])), **fields))
    return targets


def numbered_sources(targets: list[Target]) -> dict[str, int]:
    """The sources of ``targets`` numbered 1, 2, ... in order of first citation."""
    return number_sources([t.sources for t in targets])


def _legacy_targets() -> tuple[tuple[str, Callable[[pd.DataFrame], float], float, str], ...]:
    """(label with unit, statistic(df), value, source) per target: the shape earlier versions exposed."""
    return tuple((f"{t.label} ({t.unit})", t.compute, t.value, cite(t.sources)) for t in load_targets())


def __getattr__(name: str):
    if name == "TARGETS":  # kept for callers of the previous API; built from the targets file
        return _legacy_targets()
    raise AttributeError(name)


def run_seed(seed: int, months: int, scenario: str = "baseline") -> pd.DataFrame:
    """The monthly series of one run, indexed by month (YYYY-MM)."""
    model = GPUEconomy(scenario=scenario, rng=seed, **{"run.months": months})
    while model.running:
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    df.index = [month_label(t) for t in range(len(df))]
    return df


def calibration_table(seeds: int = 20, months: int = 48, scenario: str = "baseline") -> pd.DataFrame:
    """Per target the run covers: the median over ``seeds`` seeds, the 10th and 90th percentiles, the observed
    value, the relative error of the median, the unit, the sources cited (publisher, title, date) and their keys
    (``source_keys``)."""
    frames = [run_seed(s, months, scenario) for s in range(seeds)]
    rows = []
    for target in load_targets():
        values = []
        for df in frames:
            try:
                values.append(target.compute(df))
            except KeyError:
                pass
        if not values:
            continue
        model = float(np.median(values))
        rows.append({"target": target.label, "unit": target.unit, "model_median": model,
                     "p10": float(np.percentile(values, 10)), "p90": float(np.percentile(values, 90)),
                     "target_value": target.value, "relative_error": (model - target.value) / abs(target.value),
                     "source": cite(target.sources), "source_keys": target.sources})
    return pd.DataFrame(rows)


def main(args) -> int:
    """``gpucredit calibration``: print the table; bad input is one line on stderr and exit status 2."""
    import sys

    seeds = getattr(args, "seeds", None)
    months = getattr(args, "months", None)
    seeds = 20 if seeds is None else seeds
    months = 48 if months is None else months  # to 2026-12: every target's window
    for name, value, high in (("--seeds", seeds, 1000), ("--months", months, 600)):
        if not 1 <= value <= high:
            print(f"gpucredit: error: {name} {value} is out of range; expected an integer in [1, {high}]", file=sys.stderr)
            return 2
    try:
        load_targets()
    except (CalibrationDataError, tomllib.TOMLDecodeError, KeyError) as exc:
        print(f"gpucredit: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    table = calibration_table(seeds, months)
    numbers = numbered_sources(load_targets())
    table["sources"] = [" ".join(f"[{numbers[k]}]" for k in keys) for keys in table.pop("source_keys")]
    table = table.drop(columns="source")  # the full references follow the table
    with pd.option_context("display.width", 250, "display.max_colwidth", 70):
        print(table.to_string(index=False, float_format=lambda x: f"{x:,.3f}"))
    print("\nSources:")
    for key, n in numbers.items():
        print(f"  [{n}] {reference(key)}")
    print(f"\nMedian over {seeds} seeds of the baseline, {months} months; p10/p90: 10th and 90th percentiles over "
          f"seeds. Targets and sources: gpucredit/experiments/{TARGETS_FILE}. "
          "Stylized research model: not a forecast or investment advice.")
    return 0
