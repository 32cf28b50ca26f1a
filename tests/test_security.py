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
    assert sorted(query(study, "SHOW TABLES")["name"]) == ["firms", "plan", "runs", "timeseries"]
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
    "write a log file from a SELECT": "SELECT * FROM enable_logging(storage = 'file', storage_path = '{base}/log')",
}
# Attacks that DuckDB itself stops, with its own message; every other one gpucredit refuses ("SQL refused: ...")
DUCKDB_STOPS = {
    # with file access off, a quoted file name is not even looked up: it is an unknown table
    "read /etc/passwd by name": "SQL error: Catalog Error: Table with name /etc/passwd does not exist",
    # a table function that would change the configuration: the configuration is locked
    "write a log file from a SELECT": 'SQL error: Invalid Input Error: Cannot change configuration option '
                                      '"enable_logging" - the configuration has been locked',
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
    # refused on purpose, not failing by chance (INSTALL, for one, also fails offline)
    assert err.startswith("gpucredit: error: " + DUCKDB_STOPS.get(sql_id, "SQL refused:"))
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


# ====================================================================================================
# --executor dask: a private cluster
# ====================================================================================================
def _listening_ports(pids: set[int]) -> dict[int, str]:
    """Port -> address of every socket listening in the processes ``pids``."""
    import psutil

    return {c.laddr.port: c.laddr.ip for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def _answers_http(port: int) -> bool:
    """Whether something on 127.0.0.1:``port`` answers a plain HTTP request."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        try:
            return sock.recv(16).startswith(b"HTTP/")
        except OSError:  # reset: a TLS server drops a plaintext peer
            return False


def _probe(cluster) -> dict:
    """What an outsider on this machine can reach of ``cluster`` while it runs."""
    import psutil
    from distributed import Client
    from distributed.security import Security

    me = psutil.Process()
    ports = _listening_ports({me.pid} | {p.pid for p in me.children(recursive=True)})
    info = cluster.scheduler_info
    tls = {cluster.scheduler_address} | set(info["workers"]) | {w["nanny"] for w in info["workers"].values()}
    refused = {}
    port = cluster.scheduler_address.rsplit(":", 1)[1]
    for label, address, security in (("plain tcp", f"tcp://127.0.0.1:{port}", None),
                                     ("TLS with another key", cluster.scheduler_address, Security.temporary())):
        try:
            Client(address, timeout="5s", security=security).close()
            refused[label] = False
        except Exception:  # noqa: BLE001 (any failure to connect is what we want)
            refused[label] = True
    return {"ports": ports, "tls_addresses": tls, "refused": refused,
            "http": {p: _answers_http(p) for p in ports}}


def test_the_local_dask_cluster_of_a_study_is_private(tmp_path, monkeypatch):
    """The cluster ``--executor dask`` starts accepts only this process's TLS client, listens on 127.0.0.1 only
    and serves no HTTP; the study it runs stores the same results as the process pool."""
    pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    pytest.importorskip("psutil")
    from gpucredit.experiments import dask_cluster
    from gpucredit.experiments.store import load_runs

    seen = {}
    start = dask_cluster.start_private_cluster

    def start_and_probe(workers):
        client, cluster = start(workers)
        seen.update(_probe(cluster))
        return client, cluster

    monkeypatch.setattr(dask_cluster, "start_private_cluster", start_and_probe)
    assert run_study(ishigami_study(), tmp_path / "dask", workers=2, executor="dask", progress=False).failed == 0
    assert seen["refused"] == {"plain tcp": True, "TLS with another key": True}
    assert all(address.startswith("tls://127.0.0.1:") for address in seen["tls_addresses"])
    # scheduler, 2 nannies, 2 workers: every listening socket is one of them (no HTTP server), on loopback
    assert len(seen["tls_addresses"]) == 5
    assert set(seen["ports"]) == {int(a.rsplit(":", 1)[1]) for a in seen["tls_addresses"]}
    assert set(seen["ports"].values()) == {"127.0.0.1"}
    assert not any(seen["http"].values())
    run_study(ishigami_study(), tmp_path / "pool", workers=1, progress=False)
    columns = ["run_id", "status", "x1", "x2", "x3", "y"]
    pd.testing.assert_frame_equal(load_runs(tmp_path / "dask")[columns], load_runs(tmp_path / "pool")[columns])


def test_executor_dask_without_dask_installed_says_how_to_install_it(tmp_path):
    """Without the optional extra, ``--executor dask`` is refused with one line naming it, before anything is
    written; the default process executor is unaffected. (Dask is hidden from a fresh interpreter.)"""
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "study"
    code = textwrap.dedent(f"""
        import sys
        sys.modules["distributed"] = None  # as if the 'dask' extra were not installed
        from gpucredit.experiments.cli import main
        argv = ["sweep", "--vary", "lenders.max_ltv=0.5:0.9", "--design", "grid", "--samples", "2", "--months", "6",
                "--no-progress", "--workers", "1", "--out", {str(out)!r}]
        status = main(argv + ["--executor", "dask"])
        print("exists after dask:", __import__("os").path.exists({str(out)!r}))
        sys.exit(status)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("gpucredit: error: --executor dask needs the optional package(s) distributed")
    assert line.endswith("not installed: pip install 'gpucredit[dask]'")
    assert "exists after dask: False" in result.stdout
