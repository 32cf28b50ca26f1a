"""Security of the study tools: ``gpucredit query`` runs one read-only statement over the study's own views and
nothing else, and the Dask cluster a study starts is private to the process that started it.

The SQL attacks are the ones reported against ``gpucredit query`` (issue 13): reading system files, writing
files with COPY, ATTACH, several statements, overwriting the study's own ``runs.parquet``, installing or loading
an extension, and SET to undo the restrictions. Each must be refused with one line on stderr and exit status 2,
leaving every file as it was.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gpucredit.experiments.cli import main as cli
from gpucredit.experiments.engine import run_study
from gpucredit.experiments.store import QueryError, StudyStore, connect, query
from gpucredit.experiments.study import StudySpec, make_factor, validate

PI = math.pi


def ishigami_study(samples: int = 4, name: str = "secure") -> StudySpec:
    """A study of the Ishigami test function: the same sampling, execution and storage path as the economy,
    in milliseconds per run."""
    return validate(StudySpec(name=name, model="ishigami", design="lhs", samples=samples, seed=3,
                              factors=[make_factor("ishigami", f"x{i}", -PI, PI) for i in (1, 2, 3)]))


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """(base, study): a study in ``base/sweep[1]`` (a directory name with glob characters) and, next to it, a
    copy in ``base/sweep1`` (the name the glob ``sweep[1]`` matches) whose stored series all read y = -999."""
    base = tmp_path_factory.mktemp("security")
    study = base / "sweep[1]"
    assert run_study(ishigami_study(), study, workers=1, progress=False).failed == 0
    decoy = base / "sweep1"
    shutil.copytree(study, decoy)
    for path in (decoy / "timeseries").glob("*.parquet"):
        table = pd.read_parquet(path)
        table["y"] = -999.0
        table.to_parquet(path, index=False)
    return base, study


@pytest.fixture
def victim(studies, tmp_path):
    """A fresh copy of ``studies`` for a test that attacks it (an attack that succeeds must not spoil the next)."""
    base = tmp_path / "copy"
    shutil.copytree(studies[0], base)
    return base, base / "sweep[1]"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ====================================================================================================
# gpucredit query: what still works
# ====================================================================================================
def test_ordinary_queries_still_work(studies, capsys):
    _, study = studies
    status, out, err = run_cli(capsys, "query", str(study), "SELECT count(*) AS n FROM runs", "--format", "csv")
    assert (status, out.split(), err) == (0, ["n", "4"], "")
    joined = query(study, "WITH peaks AS (SELECT run_id, max(y) AS y_max FROM timeseries GROUP BY run_id) "
                          "SELECT r.run_id, r.y, p.y_max FROM runs r JOIN peaks p USING (run_id) ORDER BY r.run_id")
    assert len(joined) == 4 and (joined["y"] == joined["y_max"]).all()
    assert list(query(study, "DESCRIBE runs")["column_name"][:2]) == ["run_id", "status"]
    assert sorted(query(study, "SHOW TABLES")["name"]) == ["plan", "runs", "timeseries"]
    assert len(query(study, "SUMMARIZE plan")) == len(query(study, "SELECT * FROM plan").columns)
    assert query(study, "FROM plan SELECT count(*) AS n; -- a trailing comment")["n"].item() == 4


def test_a_study_directory_with_glob_characters_reads_its_own_series(studies):
    """``sweep[1]/timeseries/*.parquet`` read as a glob matches ``sweep1``'s files: the view must read the
    study's own files, whatever characters its path holds."""
    _, study = studies
    by_sql = query(study, "SELECT run_id, y FROM timeseries ORDER BY run_id")
    on_disk = pd.concat([pq.read_table(p).to_pandas() for p in sorted((study / "timeseries").glob("*.parquet"))])
    pd.testing.assert_frame_equal(by_sql, on_disk[["run_id", "y"]].sort_values("run_id").reset_index(drop=True))
    assert (by_sql["y"] != -999.0).all()


# ====================================================================================================
# gpucredit query: what is refused
# ====================================================================================================
ATTACKS = {
    "read /etc/passwd with read_csv": "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
    "read /etc/passwd with read_text": "SELECT content FROM read_text('/etc/passwd')",
    "read /etc/passwd by name": "SELECT * FROM '/etc/passwd'",
    "list a directory": "SELECT * FROM glob('/etc/*')",
    "read the decoy study's file": "SELECT * FROM read_parquet('{base}/sweep1/timeseries/*.parquet')",
    "read a remote file": "SELECT * FROM 'https://example.com/data.parquet'",
    "COPY to a file": "COPY runs TO '{base}/leak.csv'",
    "overwrite the study's runs.parquet": "COPY (SELECT 1 AS run_id) TO '{study}/runs.parquet' (FORMAT parquet)",
    "EXPORT DATABASE": "EXPORT DATABASE '{base}/dump'",
    "ATTACH a database file": "ATTACH '{base}/evil.duckdb' AS evil",
    "two statements": "SELECT 1; SELECT 2",
    "a SELECT hiding a COPY": "SELECT 1 AS x; COPY runs TO '{base}/leak2.csv'",
    "INSTALL an extension": "INSTALL httpfs",
    "FORCE INSTALL an extension": "FORCE INSTALL httpfs",
    "LOAD an extension": "LOAD httpfs",
    "UPDATE EXTENSIONS": "UPDATE EXTENSIONS",
    "SET to unlock file access": "SET enable_external_access = true",
    "SET to unlock the configuration": "SET lock_configuration = false",
    "RESET the configuration": "RESET enable_external_access",
    "CREATE TABLE": "CREATE TABLE loot AS SELECT * FROM runs",
    "INSERT": "INSERT INTO runs SELECT * FROM runs",
    "CALL": "CALL pragma_version()",
    "PRAGMA": "PRAGMA database_list",
    "no statement": "-- nothing",
}


@pytest.mark.parametrize("sql_id", list(ATTACKS))
def test_query_refuses_everything_but_one_read_only_statement(victim, capsys, sql_id):
    base, study = victim
    sql = ATTACKS[sql_id]
    before = snapshot(base)
    status, out, err = run_cli(capsys, "query", str(study), sql.format(base=base, study=study))
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    # refused by gpucredit or DuckDB's sealed configuration, not failing by chance (INSTALL also fails offline);
    # a file read by name is not even looked up once file access is off: DuckDB reports an unknown table
    assert err.startswith("gpucredit: error: SQL refused:" if "by name" not in sql_id else
                          "gpucredit: error: SQL error: Catalog Error: Table with name /etc/passwd does not exist")
    assert "root:" not in err  # nothing of /etc/passwd leaks through the message
    assert snapshot(base) == before  # no file written, replaced or added anywhere


def test_the_connection_is_sealed_and_locked(studies):
    """The Python API's connection too: its settings cannot be changed back, no file outside the study is
    readable, and the caller's DataFrames are not visible to SQL."""
    import duckdb

    _, study = studies
    private = pd.DataFrame({"password": ["hunter2"]})  # noqa: F841 (DuckDB would find it by its name)
    con = connect(study)
    try:
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
                                    "'lock_configuration', 'autoload_known_extensions', "
                                    "'autoinstall_known_extensions')").fetchall())
        assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                            "autoload_known_extensions": "false", "autoinstall_known_extensions": "false"}
        for statement in ("SET enable_external_access = true", "SET lock_configuration = false",
                          "SET allowed_paths = ['/etc/passwd']", "SELECT * FROM private",
                          "SELECT * FROM read_csv('/etc/passwd')"):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
    finally:
        con.close()
    with pytest.raises(QueryError, match="exactly one statement"):
        query(study, "SELECT 1; SELECT 2")
    assert StudyStore(study).runs_path.is_file()
