"""The result store of a study: one directory, readable with SQL.

::

    DIR/
        study.json              manifest: the study specification, code version, git state, package versions,
                                root seed, design seed and replicate seeds, the SALib problem, the outcome dictionary
        plan.parquet            every planned run: run_id, scenario, point, replicate, seed, varied parameters
        runs.jsonl              journal: one JSON record per finished run, appended as runs finish
        runs.parquet            the run table, rebuilt from the journal at the end of every execution
        .gpucredit.json         marker: gpucredit wrote this directory (kind "study")
        .lock                   taken by the process executing the study, before it writes anything
        timeseries/<run_id>.parquet
                                one file per successful run (run_id, date, every series), written atomically;
                                its Parquet metadata also carries the run's record, so a run whose journal line
                                was lost (the process killed between the two writes) is recovered, not re-run
        firms/<run_id>.parquet  the run's firm panel (gpucredit.sim.reporting.firms): one row per neocloud and
                                month it operated (and its failure month), written just before its series file;
                                absent in studies stored before gpucredit kept firm panels

The views :func:`connect` creates (DuckDB):

* ``runs``       -- one row per run of the plan: ``run_id``, ``status`` (``ok``/``failed``), ``scenario``, ``seed``,
  one column per varied parameter (dotted names: quote them, ``"lenders.max_ltv"``), one per outcome
  (:data:`gpucredit.experiments.outcomes.OUTCOMES`), ``duration_s`` and ``error`` (the traceback of a failed run).
  ``duration_s`` is the only column that can change from one execution to the next.
* ``timeseries`` -- ``run_id``, ``date`` and every series of ``gpucredit columns``, for every stored run of the plan.
* ``firms``      -- ``run_id`` and the firm panel's columns (``month``, ``firm``, ``gpu_capex``, ``nvidia_stake``,
  ``failed``, ...), for every stored run of the plan that has one.
* ``plan``       -- the design: which run_id each (scenario, point, replicate) uses.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


RECORD_KEY = b"gpucredit.run"
STATUS_OK, STATUS_FAILED = "ok", "failed"
TEXT_COLUMNS = ("run_id", "status", "scenario", "error")


class StoreError(ValueError):
    """A directory that is not a study, or a study whose files are damaged."""


def _clean(value):
    """JSON-safe value (NaN -> None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ====================================================================================================
# files gpucredit writes: temporary names, atomic replacement, the marker
# ====================================================================================================
TMP_SUFFIX = ".gpucredit-tmp"
MARKER = ".gpucredit.json"
_LEGACY_TMP = re.compile(r"^\..+\.\d+\.tmp$")  # temporary files of earlier versions: .<name>.<pid>.tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` so that it holds either its old content or all of ``data``, never a part: the bytes go to a
    new temporary file of an unpredictable name beside it (created exclusively), are flushed to disk, and the file
    is renamed over ``path``. If anything fails (a full disk), the temporary file is removed and the error raised."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; results get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def make_missing_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing ancestors; return those created, deepest first (for undoing after a failure)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
    return missing


def fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temporary_files(folder: Path) -> None:
    """Remove the temporary files an execution that was killed left in ``folder`` (only gpucredit's: the names
    :func:`atomic_write_bytes` gives, and those of earlier versions). Call it only while holding the lock that
    the writers hold, since a running writer owns its temporary file."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
    for tmp in folder.glob(".*.tmp"):
        if _LEGACY_TMP.match(tmp.name) and tmp.is_file():
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_marker(folder: Path) -> dict | None:
    """The marker gpucredit leaves in every directory it writes (None if there is none or it is not gpucredit's)."""
    try:
        marker = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("written_by") == "gpucredit" else None


def write_marker(folder: Path, kind: str, files: list[str] | None = None, **extra) -> None:
    """Mark ``folder`` as written by gpucredit (``kind`` "run" or "study"); ``files`` lists what it wrote there,
    relative to ``folder``: the only files a later ``--overwrite`` may replace or remove."""
    marker = {"written_by": "gpucredit", "kind": kind, **extra}
    if files is not None:
        marker["files"] = sorted(files)
    atomic_write_text(Path(folder) / MARKER, json.dumps(marker, indent=1) + "\n")


def table_bytes(table: pd.DataFrame, record: dict) -> bytes:
    """A run's per-period table as Parquet bytes, with the run's record in the file's metadata."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[RECORD_KEY] = json.dumps({k: _clean(v) for k, v in record.items()}).encode()
    arrow = arrow.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


class StudyStore:
    """Reads and writes one study directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.manifest_path = self.root / "study.json"
        self.plan_path = self.root / "plan.parquet"
        self.journal_path = self.root / "runs.jsonl"
        self.runs_path = self.root / "runs.parquet"
        self.series_dir = self.root / "timeseries"
        self.firms_dir = self.root / "firms"
        self.figures_dir = self.root / "figures"

    # ------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        if not self.exists():
            raise StoreError(f"'{self.root}' is not a gpucredit study directory (no study.json)")
        try:
            return json.loads(self.manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{self.manifest_path}: damaged manifest ({exc})") from None

    def plan(self) -> pd.DataFrame:
        if not self.plan_path.is_file():
            raise StoreError(f"'{self.root}' has no plan.parquet; run the study first")
        return pd.read_parquet(self.plan_path)

    def series_path(self, run_id: str) -> Path:
        return self.series_dir / f"{run_id}.parquet"

    def firms_path(self, run_id: str) -> Path:
        """The firm panel of a run (:mod:`gpucredit.sim.reporting.firms`); studies stored before gpucredit kept
        firm panels have none."""
        return self.firms_dir / f"{run_id}.parquet"

    def prepare(self) -> None:
        """Create the folders; remove temporary files left by an execution that was killed."""
        self.series_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.series_dir, self.firms_dir):
            if folder.is_dir():
                remove_temporary_files(folder)
        # a killed execution may leave the journal's last line unfinished: start the next record on a new line
        if self.journal_path.is_file() and self.journal_path.stat().st_size:
            with open(self.journal_path, "rb+") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")

    def lock(self):
        """Hold an exclusive lock on the study while creating or executing it (released by the OS if the process
        dies), so two processes never write the same study at once. The directory must exist. Raises
        :class:`StoreError` if another process holds the lock."""

        @contextlib.contextmanager
        def held():
            try:
                import fcntl
            except ImportError:  # not POSIX: no lock
                yield
                return
            with open(self.root / ".lock", "a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise StoreError(f"another process is running the study in '{self.root}'; wait for it or stop "
                                     f"it first") from None
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        return held()

    # ------------------------------------------------------------------------------------------------
    def journal_records(self) -> Iterable[dict]:
        """Records of the journal in order; unfinished or damaged lines (a killed write) are skipped."""
        if not self.journal_path.is_file():
            return
        with open(self.journal_path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "run_id" in record and "status" in record:
                    yield record

    def stored_status(self, wanted: set[str]) -> dict[str, str]:
        """Status of every run of ``wanted`` already stored; runs whose series file exists but whose journal
        line is missing are recovered from the file's metadata and journalled again."""
        status: dict[str, str] = {}
        for record in self.journal_records():
            if record["run_id"] in wanted:
                status.setdefault(record["run_id"], record["status"])
        if self.series_dir.is_dir():
            for path in self.series_dir.glob("*.parquet"):
                run_id = path.stem
                if run_id in wanted and run_id not in status:
                    record = self.read_record(path)
                    if record is not None:
                        self.append_journal(record)
                        status[run_id] = record["status"]
        return status

    @staticmethod
    def read_record(path: Path) -> dict | None:
        try:
            meta = pq.read_schema(path).metadata or {}
            return json.loads(meta[RECORD_KEY])
        except Exception:  # damaged file: treat as not stored (it will be re-run and replaced)
            return None

    def append_journal(self, record: dict) -> None:
        """Append one record as one line; if the write fails (a full disk), the journal is cut back to where it
        was, so it never ends in a partial line."""
        line = (json.dumps({k: _clean(v) for k, v in record.items()}) + "\n").encode()
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def save(self, record: dict, payload: bytes | tuple[bytes, bytes | None] | None) -> None:
        """Store one finished run: its firm panel (if any), then its series file (each atomically; the series file
        marks the run as stored), then its journal line. ``payload`` is the series as Parquet bytes, or the pair
        (series, firm panel or None)."""
        series, firms = payload if isinstance(payload, tuple) else (payload, None)
        if firms is not None:
            self.firms_dir.mkdir(exist_ok=True)
            atomic_write_bytes(self.firms_path(record["run_id"]), firms)
        if series is not None:
            atomic_write_bytes(self.series_path(record["run_id"]), series)
        self.append_journal(record)

    # ------------------------------------------------------------------------------------------------
    def run_table(self, plan: pd.DataFrame | None = None, columns: list[str] | None = None,
                  integer_columns: Iterable[str] = ()) -> pd.DataFrame:
        """One row per stored run of the plan, in plan order (the first record of a run wins).

        Built column by column into preallocated arrays while the journal is streamed, so memory grows by a few
        bytes per run, not by a Python record per run."""
        plan = self.plan() if plan is None else plan
        manifest = self.manifest() if (columns is None and self.exists()) else {}
        columns = list(columns or manifest.get("run_columns") or ["run_id", "status"])
        ids = list(dict.fromkeys(plan["run_id"]))
        order = {run_id: k for k, run_id in enumerate(ids)}
        n = len(ids)
        data = {c: (np.full(n, None, dtype=object) if c in TEXT_COLUMNS else
                    np.zeros(n, dtype=np.int64) if c == "seed" else np.full(n, np.nan)) for c in columns}
        seen = np.zeros(n, dtype=bool)
        for record in self.journal_records():
            k = order.get(record["run_id"])
            if k is None or seen[k]:
                continue
            seen[k] = True
            for c in columns:
                value = record.get(c)
                if value is not None:
                    data[c][k] = value
        table = pd.DataFrame({c: data[c][seen] for c in columns})
        for c in columns:
            if c in TEXT_COLUMNS:
                table[c] = table[c].astype("string" if c == "error" else object)
        for c in integer_columns:
            if c in table and table[c].notna().all():
                table[c] = table[c].astype("int64")
        return table

    def write_run_table(self, table: pd.DataFrame) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
        atomic_write_bytes(self.runs_path, sink.getvalue().to_pybytes())

    def runs(self) -> pd.DataFrame:
        """The run table: runs.parquet, or rebuilt from the journal while a study is still running."""
        manifest = self.manifest()
        columns = manifest.get("run_columns")
        if self.runs_path.is_file() and self.runs_path.stat().st_mtime >= self._journal_mtime():
            return pd.read_parquet(self.runs_path)
        integers = [f["name"] for f in manifest.get("spec", {}).get("factors", []) if f.get("integer")]
        return self.run_table(columns=columns, integer_columns=integers)

    def _journal_mtime(self) -> float:
        return self.journal_path.stat().st_mtime if self.journal_path.is_file() else 0.0


# ====================================================================================================
# SQL
# ====================================================================================================
READ_ONLY = "one SELECT (or WITH ... SELECT, DESCRIBE, SHOW, SUMMARIZE) over the views runs, timeseries, firms and plan"
# Settings fixed when the connection opens: no extension is installed or loaded behind the user's back, and no
# stored credentials (DuckDB "secrets") are read.
_CONNECTION_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                      "allow_community_extensions": False, "allow_persistent_secrets": False}


class QueryError(StoreError):
    """SQL that ``gpucredit query`` refuses: anything but one read-only statement over the study's views."""


def connect(root: str | Path):
    """A read-only DuckDB connection with the views ``runs``, ``timeseries`` and ``plan`` of the study in ``root``.

    The connection is sealed once the views exist: it reads no file but the study's own time-series files
    (``enable_external_access = false`` with those files as the only ``allowed_paths``), loads and installs no
    extension, and its configuration is locked (``lock_configuration = true``), so no statement can undo this.
    """
    import duckdb

    store = StudyStore(root)
    runs, plan = store.runs(), store.plan()
    con = duckdb.connect(config=dict(_CONNECTION_CONFIG))
    try:
        _create_table(con, "runs", runs)
        _create_table(con, "plan", plan)
        files = _series_files(store, runs)
        firm_files = _series_files(store, runs, store.firms_dir, store.firms_path)
        _create_timeseries_view(con, files)
        _create_firms_view(con, firm_files)
        _seal(con, files + firm_files)
    except BaseException:
        con.close()
        raise
    return con


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _glob_escaped(path: Path) -> str:
    """``path`` with DuckDB's glob characters (``*``, ``?``, ``[``) matched literally: a study directory named
    ``sweep[1]`` must not read the files of ``sweep1``."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in str(path))


def _create_table(con, name: str, frame: pd.DataFrame) -> None:
    """Copy ``frame`` into the in-memory table ``name`` (the DataFrame itself stays out of SQL's reach)."""
    con.register("_gpucredit_frame", frame)
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _gpucredit_frame")
    finally:
        con.unregister("_gpucredit_frame")


def _series_files(store: StudyStore, runs: pd.DataFrame, folder: Path | None = None, path_of=None) -> list[Path]:
    """The stored time-series files (or, with ``folder`` and ``path_of``, firm-panel files) of the runs in the run
    table, absolute, in file-name order."""
    folder, path_of = folder or store.series_dir, path_of or store.series_path
    if not folder.is_dir():
        return []
    paths = (path_of(run_id).absolute() for run_id in runs["run_id"])
    return sorted((path for path in paths if path.is_file()), key=lambda path: path.name)


def _create_timeseries_view(con, files: list[Path]) -> None:
    if not files:
        con.execute("CREATE VIEW timeseries AS SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS date WHERE false")
        return
    listed = ", ".join(_sql_string(_glob_escaped(path)) for path in files)
    con.execute(f"CREATE VIEW timeseries AS SELECT t.* FROM read_parquet([{listed}], union_by_name = true) AS t "
                "WHERE t.run_id IN (SELECT run_id FROM runs)")


def _create_firms_view(con, files: list[Path]) -> None:
    if not files:
        con.execute("CREATE VIEW firms AS SELECT NULL::VARCHAR AS run_id, NULL::SMALLINT AS month, "
                    "NULL::VARCHAR AS firm WHERE false")
        return
    listed = ", ".join(_sql_string(_glob_escaped(path)) for path in files)
    con.execute(f"CREATE VIEW firms AS SELECT f.* FROM read_parquet([{listed}], union_by_name = true) AS f "
                "WHERE f.run_id IN (SELECT run_id FROM runs)")


def _seal(con, files: list[Path]) -> None:
    """Allow only ``files`` (as written and glob-escaped: DuckDB checks the path it was given), then switch off
    every other file, network and extension access and lock the configuration."""
    allowed = sorted({text for path in files for text in (str(path), _glob_escaped(path))})
    con.execute(f"SET allowed_paths = [{', '.join(_sql_string(text) for text in allowed)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def read_only_statement(con, sql: str):
    """The one read-only statement of ``sql``, as DuckDB's own parser splits and classifies it (DESCRIBE, SHOW
    and SUMMARIZE are SELECT statements to it); :class:`QueryError` for anything else."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
        kinds = [statement.type for statement in statements]
    except duckdb.ParserException as exc:
        raise QueryError(f"SQL error: {str(exc).splitlines()[0]}") from None
    except ValueError:  # a statement type the Python client cannot even name (e.g. UPDATE EXTENSIONS)
        raise QueryError(f"SQL refused: gpucredit query is read-only; the query must be {READ_ONLY}") from None
    if len(statements) != 1:
        raise QueryError(f"SQL refused: exactly one statement is allowed, got {len(statements)}; the query must be "
                         f"{READ_ONLY}")
    if kinds[0] != duckdb.StatementType.SELECT:
        raise QueryError(f"SQL refused: {kinds[0].name.replace('_', ' ')} statements are not allowed (gpucredit "
                         f"query is read-only); the query must be {READ_ONLY}")
    return statements[0]


def query(root: str | Path, sql: str) -> pd.DataFrame:
    """Run one read-only SQL statement over the study in ``root`` (views ``runs``, ``timeseries``, ``plan``) and
    return a DataFrame. Raises :class:`QueryError` for anything else: several statements, statements that write,
    copy, attach, set, install or load, and any read of a file (the study's files are read through the views)."""
    import duckdb

    con = connect(root)
    try:
        statement = read_only_statement(con, sql)
        try:
            return con.execute(statement).df()
        except duckdb.PermissionException as exc:
            raise QueryError(f"SQL refused: {str(exc).splitlines()[0]}; gpucredit query reads only the views runs, "
                             f"timeseries, firms and plan") from None
    finally:
        con.close()


def load_runs(root: str | Path) -> pd.DataFrame:
    """The ``runs`` view as a DataFrame."""
    return StudyStore(root).runs()
