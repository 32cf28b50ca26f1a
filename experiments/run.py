"""One reproducible run of gpucredit, written to a results directory.

:func:`run_scenario` builds :class:`gpucredit.sim.GPUEconomy` for a scenario, seed and parameter overrides, simulates
every month and writes the results directory::

    out_dir/
        timeseries.parquet      one row per month: ``date`` (YYYY-MM), then every series of ``gpucredit columns``
        timeseries.csv          the same table as CSV
        events.csv              the event log: date, event, agents (``;``-separated), amount_bn, units, detail
        balance_sheets.parquet  agent balance sheets every ``run.balance_sheet_interval`` months and at the end
        network_YYYY-MM.graphml the financial network (:func:`gpucredit.sim.reporting.network.build_network`) at chosen month ends
        manifest.json           what was run: scenario, seed, every parameter value used, overrides, package
                                versions, git commit, timing
        figures/                the standard figures (:func:`gpucredit.experiments.figures.standard_panel`)

The directory appears atomically: everything is written into a hidden temporary directory next to
``out_dir`` (``.<name>.tmp-XXXX``) that is renamed to ``out_dir`` only once the run has succeeded; an existing
``out_dir`` is replaced only then. If anything fails, the temporary directory is removed and nothing is left
behind.

All inputs are validated before anything touches the disk (:func:`prepare_run`), so a caller can tell bad input
(:class:`sim.ParameterError`, :class:`sim.ScenarioError`, :class:`ValueError`) from a failure of the run itself
(:class:`sim.AccountingError`). This module never prints; :mod:`gpucredit.experiments.cli` does.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import json
import numbers
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import networkx as nx
import numpy as np
import pandas as pd

from gpucredit.sim.calendar import month_label
from gpucredit.sim.events import EVENT_COLUMNS
from gpucredit.sim.model import GPUEconomy
from gpucredit.sim.reporting.network import build_network
from gpucredit.sim.reporting.columns import SERIES_NAMES
from gpucredit.sim.parameters import BY_NAME, canonical_name, resolve
from gpucredit.sim.scenarios import Scenario, load_scenario

from .figures import standard_panel

DISCLAIMER = "Stylized research model: not a forecast or investment advice."
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("mesa", "numpy", "networkx", "pandas", "pyarrow", "matplotlib")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class PreparedRun:
    """A validated run, ready to execute: the model is built but no month has been simulated and nothing has
    been written to disk."""

    scenario: Scenario
    seed: int
    out_dir: Path
    months: int
    overrides: dict[str, Any]
    network_months: list[str]
    model: GPUEconomy


# ====================================================================================================
# validation
# ====================================================================================================
def month_index(label: str) -> int:
    """Months since January 2023 of a ``YYYY-MM`` label (``2023-01`` -> 0); :class:`ValueError` if malformed."""
    match = _MONTH.match(str(label).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"network month '{label}' is not a month; expected YYYY-MM")
    return (int(match.group(1)) - 2023) * 12 + int(match.group(2)) - 1


def default_network_months(n_months: int) -> list[str]:
    """Every December of the run, plus its final month."""
    picks = [t for t in range(n_months) if t % 12 == 11] + [n_months - 1]
    return [month_label(t) for t in sorted(set(picks))]


def _network_months(requested: Iterable[str] | str | None, n_months: int) -> list[str]:
    if requested is None:
        return default_network_months(n_months)
    if isinstance(requested, str):
        requested = [s for s in requested.split(",") if s.strip()]
    first, last = month_label(0), month_label(n_months - 1)
    picks = set()
    for label in requested:
        t = month_index(label)
        if not 0 <= t < n_months:
            raise ValueError(f"network month '{label}' is outside the run; expected YYYY-MM from {first} to {last}")
        picks.add(t)
    return [month_label(t) for t in sorted(picks)]


def _out_dir(out_dir) -> Path:
    path = Path(out_dir).expanduser().resolve()
    if not path.name:
        raise ValueError(f"output directory '{out_dir}' must name a directory below the file-system root")
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"output directory '{out_dir}' exists and is not a directory")
        if any(path.iterdir()) and not (path / "manifest.json").is_file():
            # never replace a directory that is not a previous gpucredit result (e.g. --out ~)
            raise ValueError(f"output directory '{out_dir}' exists, is not empty and holds no gpucredit results "
                             "(no manifest.json); choose a new or empty directory")
    return path


def prepare_run(scenario: str | Scenario, seed: int, out_dir, months: int | None = None,
                overrides: dict[str, Any] | None = None,
                network_months: Iterable[str] | str | None = None) -> PreparedRun:
    """Validate every input and build the model, without touching the disk.

    Raises :class:`sim.ScenarioError` (unknown scenario, malformed scenario file), :class:`sim.ParameterError`
    (unknown parameter, value not numeric or out of its range, ``months`` outside ``run.months``' range) or
    :class:`ValueError` (bad seed, network month or output directory; roster errors).
    """
    try:
        spec = load_scenario(scenario)
    except OSError as exc:  # e.g. a path to a directory or an unreadable file
        raise ValueError(f"scenario file '{scenario}' cannot be read: {exc.strerror or exc}") from None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed {seed!r} is not allowed; expected a non-negative integer")
    given = {canonical_name(k): v for k, v in (overrides or {}).items()}
    layer = dict(given)
    if months is not None:
        layer["run.months"] = BY_NAME["run.months"].coerce(months)
    params = resolve(layer, spec.parameters)
    n_months = params["run.months"]
    picks = _network_months(network_months, n_months)
    path = _out_dir(out_dir)
    model = GPUEconomy(spec, rng=int(seed), **layer)
    return PreparedRun(spec, int(seed), path, n_months, given, picks, model)


# ====================================================================================================
# the run
# ====================================================================================================
def run_scenario(scenario: str | Scenario, seed: int, out_dir, months: int | None = None,
                 overrides: dict[str, Any] | None = None,
                 network_months: Iterable[str] | str | None = None) -> Path:
    """Run ``scenario`` with ``seed`` and write the results directory ``out_dir`` (see the module docstring).

    ``months`` overrides ``run.months``; ``overrides`` maps parameter names (``gpucredit params``) to values;
    ``network_months`` lists the ``YYYY-MM`` month ends at which the financial network is saved (default: every
    December and the final month). Returns the absolute path of the results directory.
    """
    return execute_run(prepare_run(scenario, seed, out_dir, months, overrides, network_months))


def execute_run(run: PreparedRun) -> Path:
    """Simulate a :class:`PreparedRun` and move its results into place atomically; return the results path.

    A prepared run holds a freshly built model and can be executed once."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    git = git_state()
    out_dir = run.out_dir
    created = _make_parents(out_dir.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    except BaseException:
        _remove_dirs(created)
        raise
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; results get the usual permissions
        model = run.model
        wanted = set(run.network_months)
        while model.running and model.month + 1 < model.n_months:
            model.step()
            if model.date in wanted:  # model.date is the month just simulated
                write_network(network_snapshot(model, run), tmp / f"network_{model.date}.graphml")
        df = timeseries(model)
        df.to_parquet(tmp / "timeseries.parquet", index=False)
        df.to_csv(tmp / "timeseries.csv", index=False)
        pd.DataFrame(model.events, columns=list(EVENT_COLUMNS)).to_csv(tmp / "events.csv", index=False)
        balance = pd.DataFrame(model.balance_sheet_rows)
        if balance.empty:
            balance = pd.DataFrame(columns=["date", "agent", "type", "alive"])
        balance.to_parquet(tmp / "balance_sheets.parquet", index=False)
        standard_panel(df, tmp / "figures")  # untitled: the scenario and seed are in manifest.json
        finished = datetime.now(timezone.utc)
        manifest = build_manifest(run, git, started, finished, time.perf_counter() - clock,
                                  files=sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(created)
        raise
    return out_dir


def timeseries(model: GPUEconomy) -> pd.DataFrame:
    """The monthly series of a run: ``date`` (YYYY-MM) then every :data:`gpucredit.sim.reporting.columns.SERIES` column."""
    df = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    df = df[list(SERIES_NAMES)].astype(float)
    df.insert(0, "date", [month_label(t) for t in range(len(df))])
    return df


def summarize(df: pd.DataFrame) -> list[str]:
    """A few lines on a run's time series: peak H100 rental price, peak GPU-backed lending, defaults and losses."""
    if df.empty:
        return ["No months simulated."]

    def bn(x: float) -> str:
        text = f"US${x:,.{2 if abs(x) < 10 else 1}f}bn".replace("US$-", "-US$")
        return "US$0bn" if text in ("US$0.00bn", "-US$0.00bn") else text

    i = int(df["h100_rental_price"].to_numpy().argmax())
    j = int(df["gpu_backed_lending"].to_numpy().argmax())
    last = df.iloc[-1]
    n_defaults = int(round(df["defaults_count"].sum()))
    return [
        f"Peak H100 rental price: US${df['h100_rental_price'].iloc[i]:,.2f}/GPU-hour in {df['date'].iloc[i]} "
        f"(US${last['h100_rental_price']:,.2f} in {last['date']})",
        f"Peak GPU-backed lending: {bn(df['gpu_backed_lending'].iloc[j])} in {df['date'].iloc[j]} "
        f"({bn(last['gpu_backed_lending'])} in {last['date']})",
        f"Defaults: {n_defaults} neocloud default{'' if n_defaults == 1 else 's'} "
        f"({bn(df['debt_in_default'].sum())} of debt), lender losses {bn(df['lender_losses'].sum())}; "
        f"{int(last['neoclouds_alive'])} neoclouds operating in {last['date']}",
    ]


# ====================================================================================================
# the network
# ====================================================================================================
def network_snapshot(model: GPUEconomy, run: PreparedRun | None = None) -> nx.MultiDiGraph:
    """The financial network now (:func:`gpucredit.sim.reporting.network.build_network`), with GraphML-safe attribute values."""
    graph = build_network(model)
    graph.graph["scenario"] = model.scenario_name
    graph.graph["seed"] = -1 if model.seed is None else int(model.seed)
    return graphml_ready(graph)


def _graphml_value(value: Any) -> str | int | float | bool | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    return str(value)


def _graphml_attrs(attrs: dict) -> dict:
    clean = {str(k): _graphml_value(v) for k, v in attrs.items()}
    return {k: v for k, v in clean.items() if v is not None}


def graphml_ready(graph: nx.Graph) -> nx.Graph:
    """A copy of ``graph`` whose node names are strings and whose attribute values are str, int, float or bool
    (numpy scalars converted, ``None`` dropped, anything else turned into its string)."""
    out = graph.__class__()
    out.graph.update(_graphml_attrs(graph.graph))
    for node, attrs in graph.nodes(data=True):
        out.add_node(str(node), **_graphml_attrs(attrs))
    if graph.is_multigraph():
        for u, v, key, attrs in graph.edges(keys=True, data=True):
            out.add_edge(str(u), str(v), key=str(key), **_graphml_attrs(attrs))
    else:
        for u, v, attrs in graph.edges(data=True):
            out.add_edge(str(u), str(v), **_graphml_attrs(attrs))
    return out


def write_network(graph: nx.Graph, path: Path) -> None:
    nx.write_graphml(graph, path, infer_numeric_types=True)


# ====================================================================================================
# the manifest
# ====================================================================================================
def package_versions() -> dict[str, str]:
    """Versions of Python, gpucredit and the packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in ("gpucredit",) + PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state() -> dict[str, Any]:
    """The repository's commit and whether tracked files differ from it (``unknown``/``None`` outside git)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit or "unknown", "dirty": None if status is None else bool(status)}


def build_manifest(run: PreparedRun, git: dict, started: datetime, finished: datetime, wall: float,
                   files: list[str]) -> dict[str, Any]:
    """Everything needed to reproduce and cite a run."""
    model = run.model
    return {
        "model": "gpucredit",
        "disclaimer": DISCLAIMER,
        "scenario": {
            "name": run.scenario.name,
            "description": run.scenario.description,
            "file": run.scenario.path,
            "parameters": run.scenario.parameters,
            "roster": run.scenario.roster,
        },
        "seed": run.seed,
        "months": run.months,
        "first_month": month_label(0),
        "last_month": month_label(run.months - 1),
        "months_simulated": model.month + 1,
        "overrides": run.overrides,
        "parameters": dict(model.p),
        "network_months": run.network_months,
        "files": files + ["manifest.json"],
        "versions": package_versions(),
        "git": git,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


# ====================================================================================================
# the file system
# ====================================================================================================
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parents(path: Path) -> list[Path]:
    """Create ``path`` and its missing ancestors; return those created, deepest first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        p.mkdir()
    return missing


def _remove_dirs(paths: list[Path]) -> None:
    for p in paths:  # deepest first; stop quietly at anything not empty
        try:
            p.rmdir()
        except OSError:
            return


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename ``tmp`` to ``out_dir``, replacing an existing ``out_dir`` only once the new one is in place."""
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
