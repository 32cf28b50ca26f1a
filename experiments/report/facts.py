"""Observed facts to set against the model: a researcher's own file, CSV or TOML.

Each fact has five fields::

    name,value,date,source,column
    GPU-backed lending outstanding,11.0,2024-11,Financial Times (Nov 2024),gpu_backed_lending

* ``name``   what the fact is (free text);
* ``value``  the observed number, in the unit of the model column (``gpucredit columns`` lists the units);
* ``date``   the month it refers to, ``YYYY-MM``, inside the simulated horizon;
* ``source`` where it comes from (free text, not empty);
* ``column`` the model output column it compares with (a monthly series of ``gpucredit columns``).

A TOML file holds the same fields as an array of tables ``[[fact]]``. The whole file is checked before anything is
run or written; the first problem is reported as one line naming the row and the field.
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gpucredit.sim.calendar import month_label
from gpucredit.sim.reporting.columns import SERIES

from .spec import ReportError

FIELDS = ("name", "value", "date", "source", "column")
UNITS = {name: unit for name, unit, _ in SERIES}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Fact:
    name: str
    value: float
    date: str
    source: str
    column: str

    @property
    def unit(self) -> str:
        return UNITS[self.column]


def _month_index(text: str) -> int | None:
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return (int(match.group(1)) - 2023) * 12 + int(match.group(2)) - 1


def _fact(row: dict, where: str, months: int) -> Fact:
    """One validated fact; ``where`` names the file and row for the error message."""
    missing = [f for f in FIELDS if str(row.get(f, "") or "").strip() == ""]
    if missing:
        raise ReportError(f"{where}: field '{missing[0]}' is empty; every fact needs {', '.join(FIELDS)}")
    extra = sorted(set(row) - set(FIELDS))
    if extra:
        raise ReportError(f"{where}: unknown field(s) {extra}; allowed: {', '.join(FIELDS)}")
    try:
        value = float(row["value"])
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(row["value"], bool) or not math.isfinite(value):
        raise ReportError(f"{where}: field 'value': {row['value']!r} is not a finite number")
    date = str(row["date"]).strip()
    t = _month_index(date)
    last = month_label(months - 1)
    if t is None or not 0 <= t < months:
        raise ReportError(f"{where}: field 'date': '{date}' is not a simulated month; expected YYYY-MM from 2023-01 "
                          f"to {last}")
    column = str(row["column"]).strip()
    if column not in UNITS:
        raise ReportError(f"{where}: field 'column': '{column}' is not a model output column; see `gpucredit columns`")
    return Fact(str(row["name"]).strip(), value, date, str(row["source"]).strip(), column)


def _rows(path: Path) -> list[dict]:
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ReportError(f"facts file {path}: malformed TOML ({exc})") from None
        rows = data.get("fact")
        if set(data) - {"fact"} or not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ReportError(f"facts file {path}: expected an array of tables [[fact]] with fields {', '.join(FIELDS)}")
        return rows
    if path.suffix.lower() != ".csv":
        raise ReportError(f"facts file {path}: expected a .csv or .toml file")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            if sorted(header) != sorted(FIELDS):
                raise ReportError(f"facts file {path}: header {header} must be the fields {', '.join(FIELDS)}")
            return [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    except UnicodeDecodeError as exc:
        raise ReportError(f"facts file {path}: not UTF-8 text ({exc})") from None


def load_facts(path: str | Path, months: int) -> list[Fact]:
    """Read and validate a facts file against a horizon of ``months`` months from 2023-01."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"--facts: file '{path}' does not exist")
    rows = _rows(path)
    if not rows:
        raise ReportError(f"facts file {path}: no facts in it")
    header_lines = 1 if path.suffix.lower() == ".csv" else 0
    label = "line" if header_lines else "fact"
    return [_fact(row, f"facts file {path}, {label} {k + 1 + header_lines}", months) for k, row in enumerate(rows)]
