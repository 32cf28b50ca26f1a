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
        .gpucredit.json         marker: gpucredit wrote this directory, and the list of the files it wrote

A new directory appears atomically: everything is written into a hidden temporary directory next to ``out_dir``
(``.<name>.XXXXXXXX.gpucredit-run``, an unpredictable name created exclusively) that is renamed to ``out_dir``
only once the run has succeeded. If anything fails, the temporary directory is removed and nothing is left
behind; one left by a run that was killed (``kill -9``) is removed by the next run to the same ``out_dir``.

No run deletes or overwrites a file it did not write. ``out_dir`` must be new or empty, or hold the results of
an earlier run (its marker says so) *and* the caller must ask to replace them (``overwrite=True``,
``gpucredit run --overwrite``); even then only the files the marker lists are replaced or removed, and any other
file in the directory is left as it is.

All inputs are validated before anything touches the disk (:func:`prepare_run`), so a caller can tell bad input
(:class:`sim.ParameterError`, :class:`sim.ScenarioError`, :class:`ValueError`) from a failure of the run itself
(:class:`sim.AccountingError`). This module never prints; :mod:`gpucredit.experiments.cli` does.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import glob
import json
import numbers
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import networkx as nx
import numpy as np
import pandas as pd

from gpucredit.sim.calendar import month_label
from gpucredit.sim.inputs import path_text
from gpucredit.sim.events import EVENT_COLUMNS
from gpucredit.sim.model import GPUEconomy
from gpucredit.sim.reporting.network import build_network
from gpucredit.sim.reporting.columns import series_names
from gpucredit.sim.parameters import BY_NAME, canonical_name, resolve
from gpucredit.sim.scenarios import Scenario, load_scenario

from .figures import standard_panel
from .store import MARKER, fsync_directory, make_missing_dirs, read_marker, write_marker

DISCLAIMER = "Stylized research model: not a forecast or investment advice."
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("mesa", "numpy", "networkx", "pandas", "pyarrow", "matplotlib")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
TMP_DIR_SUFFIX = ".gpucredit-run"
LOCK = ".gpucredit.lock"
ABANDONED_AFTER_S = 60.0  # a temporary directory without a lock file, older than this, belongs to a killed run


class OutputError(ValueError):
    """The output directory cannot take the results: one line, exit status 2, nothing written."""


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
    overwrite: bool = False


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


def _out_dir(out_dir, overwrite: bool = False) -> Path:
    """The results directory, if it may take a run's results (see the module docstring); else :class:`OutputError`."""
    path = Path(path_text(out_dir, "--out")).expanduser().resolve()
    if not path.name:
        raise OutputError(f"--out '{out_dir}' must name a directory below the file-system root")
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"--out '{out_dir}' exists and is not a directory")
        _may_replace(path, out_dir, overwrite)
    return path


def _may_replace(path: Path, out_dir, overwrite: bool) -> dict | None:
    """Check that the existing directory ``path`` is empty, or holds earlier run results that ``overwrite``
    allows to replace; return its marker (None if empty)."""
    if not any(path.iterdir()):
        return None
    marker = read_marker(path)
    if marker is None:
        raise OutputError(f"--out '{out_dir}' exists, is not empty and was not written by gpucredit (no {MARKER}); "
                          f"choose a new or empty directory")
    if marker.get("kind") != "run":
        raise OutputError(f"--out '{out_dir}' holds a gpucredit {marker.get('kind')}, not the results of a run; "
                          f"choose another directory")
    if not overwrite:
        raise OutputError(f"--out '{out_dir}' holds the results of an earlier run; add --overwrite to replace them "
                          f"(only the files gpucredit wrote there are replaced)")
    return marker


def prepare_run(scenario: str | Scenario, seed: int, out_dir, months: int | None = None,
                overrides: dict[str, Any] | None = None,
                network_months: Iterable[str] | str | None = None, overwrite: bool = False) -> PreparedRun:
    """Validate every input and build the model, without touching the disk.

    Raises :class:`sim.ScenarioError` (unknown scenario, malformed scenario file), :class:`sim.ParameterError`
    (unknown parameter, value not numeric or out of its range, ``months`` outside ``run.months``' range) or
    :class:`ValueError` (bad seed, network month or output directory; roster errors).
    """
    spec = load_scenario(scenario)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed {seed!r} is not allowed; expected a non-negative integer")
    given = {canonical_name(k): v for k, v in (overrides or {}).items()}
    layer = dict(given)
    if months is not None:
        layer["run.months"] = BY_NAME["run.months"].coerce(months)
    params = resolve(layer, spec.parameters)
    n_months = params["run.months"]
    picks = _network_months(network_months, n_months)
    path = _out_dir(out_dir, overwrite)
    model = GPUEconomy(spec, rng=int(seed), **layer)
    return PreparedRun(spec, int(seed), path, n_months, given, picks, model, bool(overwrite))


# ====================================================================================================
# the run
# ====================================================================================================
def run_scenario(scenario: str | Scenario, seed: int, out_dir, months: int | None = None,
                 overrides: dict[str, Any] | None = None,
                 network_months: Iterable[str] | str | None = None, overwrite: bool = False) -> Path:
    """Run ``scenario`` with ``seed`` and write the results directory ``out_dir`` (see the module docstring).

    ``months`` overrides ``run.months``; ``overrides`` maps parameter names (``gpucredit params``) to values;
    ``network_months`` lists the ``YYYY-MM`` month ends at which the financial network is saved (default: every
    December and the final month); ``overwrite`` allows replacing the results of an earlier run in ``out_dir``.
    Returns the absolute path of the results directory.
    """
    return execute_run(prepare_run(scenario, seed, out_dir, months, overrides, network_months, overwrite))


def execute_run(run: PreparedRun) -> Path:
    """Simulate a :class:`PreparedRun` and move its results into place; return the results path.

    A prepared run holds a freshly built model and can be executed once."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    git = git_state()
    out_dir = run.out_dir
    created = make_missing_dirs(out_dir.parent)
    remove_abandoned(out_dir)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=TMP_DIR_SUFFIX, dir=out_dir.parent))
    except BaseException:
        _remove_dirs(created)
        raise
    try:
        with _locked(tmp / LOCK, wait=False):  # tells the next run this directory is in use
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; results get the usual permissions
            files = _write_results(run, tmp, git, started, clock)
            _move_into_place(tmp, out_dir, files, run.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(created)
        raise
    return out_dir


def _write_results(run: PreparedRun, tmp: Path, git: dict, started: datetime, clock: float) -> list[str]:
    """Simulate every month and write all results into ``tmp``, flushed to disk; return the files written."""
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
    files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file() and p.name != LOCK)
    manifest = build_manifest(run, git, started, finished, time.perf_counter() - clock, files=files)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
    files.append("manifest.json")
    for name in files:
        _fsync_file(tmp / name)
    write_marker(tmp, "run", files)
    return files


def timeseries(model: GPUEconomy) -> pd.DataFrame:
    """The monthly series of a run: ``date`` (YYYY-MM) then every :data:`gpucredit.sim.reporting.columns.SERIES` column
    and the price series of generations after the default roadmap (:func:`~gpucredit.sim.reporting.columns.series_names`)."""
    df = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    df = df[list(series_names(model.generations_released()))].astype(float)
    df.insert(0, "date", [month_label(t) for t in range(len(df))])
    return df


def summarize(df: pd.DataFrame) -> list[str]:
    """A few lines on a run's time series: peak H100 rental price, peak GPU-backed lending, defaults and losses."""
    if df.empty:
        return ["No months simulated."]

    def bn(x: float) -> str:
        text = f"US${x:,.{2 if abs(x) < 10 else 1}f}bn".replace("US$-", "-US$")
        return "US$0bn" if text in ("US$0.00bn", "-US$0.00bn") else text

    i = int(df["rental_price_h100"].to_numpy().argmax())
    j = int(df["gpu_backed_lending"].to_numpy().argmax())
    last = df.iloc[-1]
    n_defaults = int(round(df["defaults_count"].sum()))
    return [
        f"Peak H100 rental price: US${df['rental_price_h100'].iloc[i]:,.2f}/GPU-hour in {df['date'].iloc[i]} "
        f"(US${last['rental_price_h100']:,.2f} in {last['date']})",
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


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


class _locked:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block; released by the OS if the
    process dies. With ``wait=False`` a lock held by another process raises :class:`OutputError`."""

    def __init__(self, path: Path, wait: bool = False):
        self.path, self.wait, self.fh = path, wait, None

    def __enter__(self):
        import fcntl

        self.fh = open(self.path, "a")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            self.fh.close()
            raise OutputError(f"another gpucredit process is writing '{self.path.parent}'; wait for it to finish") from None
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()  # closing releases the lock


def _unlocked(lock_file: Path) -> bool:
    """True if no process holds ``lock_file`` (which exists)."""
    import fcntl

    try:
        with open(lock_file, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except (BlockingIOError, OSError):
        return False


def remove_abandoned(out_dir: Path) -> list[Path]:
    """Remove the temporary directories that runs to ``out_dir`` killed while writing left beside it (``kill -9``
    gives a run no chance to clean up): only gpucredit's temporary directories whose lock no process holds."""
    removed = []
    for tmp in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.*{TMP_DIR_SUFFIX}"):
        if not tmp.is_dir() or tmp.is_symlink():
            continue
        lock_file = tmp / LOCK
        if lock_file.is_file():
            abandoned = _unlocked(lock_file)
        else:  # killed between creating the directory and locking it, or a run starting this very moment
            abandoned = time.time() - tmp.stat().st_mtime > ABANDONED_AFTER_S
        if abandoned:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _remove_dirs(paths: list[Path]) -> None:
    for p in paths:  # deepest first; stop quietly at anything not empty
        try:
            p.rmdir()
        except OSError:
            return


def _move_into_place(tmp: Path, out_dir: Path, files: list[str], overwrite: bool) -> None:
    """Put the results written in ``tmp`` at ``out_dir``: by renaming the whole directory if ``out_dir`` is new
    or empty; file by file if it holds an earlier run's results that ``overwrite`` allows to replace."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        try:
            os.rename(tmp, out_dir)  # atomic; replaces an empty directory
        except OSError as exc:
            if out_dir.is_dir() and any(out_dir.iterdir()):
                raise OutputError(f"--out '{out_dir}' was filled by another process while this run was writing; "
                                  f"nothing was replaced") from None
            raise exc
        fsync_directory(out_dir.parent)
        return
    with _locked(out_dir / LOCK, wait=False):
        old = _may_replace(out_dir, out_dir, overwrite) or {"files": []}
        _replace_files(tmp, out_dir, files, old)
    shutil.rmtree(tmp, ignore_errors=True)  # what is left: the lock file and the temporary marker


def _replace_files(tmp: Path, out_dir: Path, files: list[str], old: dict) -> None:
    """Replace an earlier run's results in ``out_dir`` with the new ``files`` from ``tmp``, touching nothing that
    the earlier run's marker does not list."""
    ours = {str(f) for f in old.get("files", []) if isinstance(f, str)}
    foreign = sorted(f for f in files if (out_dir / f).exists() and f not in ours)
    if foreign:
        raise OutputError(f"--out '{out_dir}' has a file '{foreign[0]}' that gpucredit did not write; move it away "
                          f"or choose another directory (nothing was replaced)")
    # the marker lists old and new files while they are swapped, so a run killed here leaves nothing unowned
    write_marker(out_dir, "run", sorted(ours | set(files)), state="replacing")
    for name in files:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, out_dir / name)
    for name in sorted(ours - set(files)):
        target = out_dir / name
        if target.resolve().is_relative_to(out_dir) and (target.is_file() or target.is_symlink()):
            target.unlink()
    for folder in sorted({(out_dir / n).parent for n in ours - set(files)}, key=lambda p: -len(p.parts)):
        if folder != out_dir and folder.is_relative_to(out_dir):
            try:
                folder.rmdir()  # only if empty
            except OSError:
                pass
    write_marker(out_dir, "run", files)
    fsync_directory(out_dir)
