"""The study engine: identical results whatever the executor, resume after kill -9, failures stored, Dask with
a worker killed, DuckDB views, Sobol indices of the Ishigami function, spec validation and the outcomes."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpucredit.experiments.cli import main as cli
from gpucredit.experiments.engine import run_study
from gpucredit.experiments.outcomes import OUTCOME_NAMES, credit_crisis, drawdown, max_window_default_share, run_outcomes
from gpucredit.experiments.simulators import ishigami_indices
from gpucredit.experiments.store import StudyStore, load_runs, query
from gpucredit.experiments.study import StudyError, StudySpec, build_plan, load_spec, make_factor, parse_vary, seeds, validate

REPO = Path(__file__).resolve().parent.parent
PI = math.pi


def small_study(months=12, samples=3, replicates=2, name="small") -> StudySpec:
    return validate(StudySpec(name=name, design="lhs", samples=samples, replicates=replicates, months=months, seed=5,
                              factors=[make_factor("gpucredit", "lenders.max_ltv", 0.5, 0.9),
                                       make_factor("gpucredit", "technology.cadence_months", 6, 24)],
                              fixed={"population.startups": 300}))


def stored(directory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(run table without the timing column, every stored time series) of a study."""
    runs = load_runs(directory).drop(columns=["duration_s"])
    series = query(directory, "SELECT * FROM timeseries ORDER BY run_id, date")
    return runs, series


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small study run on one worker: the reference every other execution must reproduce."""
    out = tmp_path_factory.mktemp("studies") / "one_worker"
    result = run_study(small_study(), out, workers=1, progress=False)
    assert result.executed == 6 and result.failed == 0
    return out


# ====================================================================================================
# determinism across executors
# ====================================================================================================
def test_two_workers_store_the_same_results_as_one(reference, tmp_path):
    result = run_study(small_study(), tmp_path / "two", workers=2, progress=False)
    assert result.executed == 6
    runs_1, series_1 = stored(reference)
    runs_2, series_2 = stored(tmp_path / "two")
    pd.testing.assert_frame_equal(runs_1, runs_2)
    pd.testing.assert_frame_equal(series_1, series_2)
    assert len(series_1) == 6 * 12 and series_1["run_id"].nunique() == 6
    firms = "SELECT * FROM firms ORDER BY run_id, month, firm"  # the firm panels too
    firms_1, firms_2 = query(reference, firms), query(tmp_path / "two", firms)
    pd.testing.assert_frame_equal(firms_1, firms_2)
    assert firms_1["run_id"].nunique() == 6 and set(firms_1.groupby("run_id")["month"].max()) == {11}
    # the seeds are spawned from the root seed and recorded
    manifest = json.loads((reference / "study.json").read_text())
    assert manifest["replicate_seeds"] == seeds(small_study())[1]
    assert sorted(runs_1["seed"].unique()) == sorted(manifest["replicate_seeds"])


def test_dask_local_cluster_stores_the_same_results(reference, tmp_path):
    pytest.importorskip("distributed")  # the optional 'dask' extra
    result = run_study(small_study(), tmp_path / "dask", workers=2, executor="dask", progress=False)
    assert result.executed == 6 and result.failed == 0
    for a, b in zip(stored(reference), stored(tmp_path / "dask")):
        pd.testing.assert_frame_equal(a, b)


def test_rerunning_a_finished_study_runs_nothing_and_a_different_study_is_refused(reference):
    result = run_study(small_study(), reference, workers=1, progress=False)
    assert (result.executed, result.stored_before, result.planned) == (0, 6, 6)
    with pytest.raises(StudyError, match="different study"):
        run_study(small_study(samples=4), reference, workers=1, progress=False)


# ====================================================================================================
# interruption and failures
# ====================================================================================================
def _journal_lines(directory: Path) -> int:
    path = directory / "runs.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def test_study_killed_with_sigkill_resumes_with_no_run_lost_or_duplicated(tmp_path):
    out = tmp_path / "killed"
    spec_file = tmp_path / "study.toml"
    spec_file.write_text('name = "kill"\ndesign = "grid"\nsamples = 4\nreplicates = 2\nmonths = 24\nseed = 3\n'
                         '[vary]\n"lenders.max_ltv" = [0.5, 0.8]\n"markets.price_impact" = [0.5, 3.0]\n'
                         '[set]\n"population.startups" = 300\n')
    command = [sys.executable, "-m", "gpucredit.experiments.cli", "sweep", "--spec", str(spec_file), "--out", str(out),
               "--workers", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _journal_lines(out) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes, mid-study
    proc.wait()
    done_at_kill = _journal_lines(out)
    assert 5 <= done_at_kill < 32, "the study must be killed part-way through"
    assert not (out / "runs.parquet").exists()

    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "32 runs planned" in resumed.stdout
    runs = load_runs(out)
    plan = StudyStore(out).plan()
    assert len(runs) == 32 and runs["run_id"].is_unique and set(runs["run_id"]) == set(plan["run_id"])
    assert (runs["status"] == "ok").all()
    journal = [json.loads(line)["run_id"] for line in (out / "runs.jsonl").read_text().splitlines() if line.strip()]
    assert len(journal) == len(set(journal)) == 32
    assert sorted(p.stem for p in (out / "timeseries").glob("*.parquet")) == sorted(runs["run_id"])
    assert not list(out.rglob(".*.tmp"))
    # the interrupted study stores exactly what an uninterrupted one does
    clean = tmp_path / "clean"
    assert cli(["sweep", "--spec", str(spec_file), "--out", str(clean), "--workers", "2", "--no-progress"]) == 0
    for a, b in zip(stored(out), stored(clean)):
        pd.testing.assert_frame_equal(a, b)


def test_a_failing_run_is_stored_with_its_traceback_and_the_study_goes_on(tmp_path, capsys):
    # markup_min above the default markup_max (4.4) is invalid for that run only: the model refuses it
    status = cli(["sweep", "--vary", "nvidia.markup_min=3.0:5.0", "--samples", "3", "--months", "6",
                  "--set", "population.startups=200", "--out", str(tmp_path / "f"), "--workers", "2", "--no-progress"])
    assert status == 0
    out = capsys.readouterr().out
    assert "1 failed" in out and "3 runs planned" in out
    runs = load_runs(tmp_path / "f")
    failed = runs[runs["status"] == "failed"]
    assert list(failed["nvidia.markup_min"]) == [5.0]
    assert "Traceback" in failed["error"].iloc[0] and "markup_max" in failed["error"].iloc[0]
    assert failed[list(OUTCOME_NAMES)].isna().all(axis=None)
    ok = runs[runs["status"] == "ok"]
    assert len(ok) == 2 and ok["error"].isna().all() and ok["peak_spot_price"].notna().all()
    assert not (tmp_path / "f" / "timeseries" / f"{failed['run_id'].iloc[0]}.parquet").exists()
    # a resumed study does not retry a stored failure
    assert run_study(validate(StudySpec(name="sweep", design="grid", samples=3, months=6,
                                        factors=[parse_vary("nvidia.markup_min=3.0:5.0")],
                                        fixed={"population.startups": 200})),
                     tmp_path / "f", workers=1, progress=False).executed == 0


def test_dask_worker_killed_mid_study_loses_no_run(reference, tmp_path):
    pytest.importorskip("distributed")  # the optional 'dask' extra
    from distributed import Client, LocalCluster

    spec = small_study(months=36, samples=5, replicates=3, name="dask_kill")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        out = tmp_path / "dask_kill"
        box = {}
        thread = threading.Thread(target=lambda: box.update(result=run_study(
            spec, out, executor="dask", scheduler=cluster.scheduler_address, progress=False)))
        thread.start()
        deadline = time.time() + 120
        while _journal_lines(out) < 3 and time.time() < deadline:
            time.sleep(0.02)
        done_at_kill = _journal_lines(out)
        os.kill(pids[0], signal.SIGKILL)
        thread.join(timeout=300)
    assert done_at_kill < 15, "the worker must be killed before the study ends"
    result = box["result"]
    assert result.planned == 15 and result.failed == 0
    runs = load_runs(out)
    assert len(runs) == 15 and runs["run_id"].is_unique and (runs["status"] == "ok").all()
    # the same runs on a process pool give the same results
    check = run_study(spec, tmp_path / "check", workers=2, progress=False)
    assert check.failed == 0
    for a, b in zip(stored(out), stored(tmp_path / "check")):
        pd.testing.assert_frame_equal(a, b)


# ====================================================================================================
# SQL
# ====================================================================================================
def test_duckdb_views_runs_and_timeseries(reference, capsys):
    runs = query(reference, "SELECT * FROM runs")
    spec = small_study()
    assert list(runs.columns) == (["run_id", "status", "scenario", "seed", *spec.factor_names, *OUTCOME_NAMES,
                                   "duration_s", "error"])
    joined = query(reference, 'SELECT r."lenders.max_ltv" AS ltv, max(t.gpu_backed_lending) AS peak '
                              "FROM timeseries t JOIN runs r USING (run_id) GROUP BY r.run_id, ltv ORDER BY r.run_id")
    assert len(joined) == 6
    # the peak outcome equals the peak of the stored series
    by_sql = query(reference, "SELECT run_id, max(gpu_backed_lending) AS peak FROM timeseries GROUP BY run_id")
    merged = by_sql.merge(runs[["run_id", "peak_gpu_backed_lending"]], on="run_id")
    np.testing.assert_allclose(merged["peak"], merged["peak_gpu_backed_lending"])
    assert cli(["query", str(reference), "SELECT count(*) AS n FROM timeseries", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 72}]
    assert cli(["query", str(reference), "SELECT run_id, seed FROM runs", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "run_id,seed"
    assert cli(["query", str(reference), "SELECT nonsense FROM runs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SQL error" in err


# ====================================================================================================
# sensitivity analysis through the engine
# ====================================================================================================
def _ishigami_spec(design: str, samples: int) -> StudySpec:
    return validate(StudySpec(name=f"ishigami_{design}", model="ishigami", design=design, samples=samples, seed=11,
                              factors=[make_factor("ishigami", f"x{i}", -PI, PI) for i in (1, 2, 3)]))


def test_sobol_indices_of_the_ishigami_function_match_the_analytic_values(tmp_path, capsys):
    out = tmp_path / "ishigami"
    result = run_study(_ishigami_spec("sobol", 512), out, workers=2, progress=False)
    assert result.planned == 512 * 5 and result.failed == 0
    assert cli(["sensitivity", str(out)]) == 0
    assert "S1" in capsys.readouterr().out
    table = pd.read_csv(out / "sensitivity_sobol.csv").set_index("parameter")
    s1, st = ishigami_indices()
    np.testing.assert_allclose(table.loc[["x1", "x2", "x3"], "S1"], s1, atol=0.06)
    np.testing.assert_allclose(table.loc[["x1", "x2", "x3"], "ST"], st, atol=0.06)
    assert (table["S1_conf"] > 0).all() and (table["ST_conf"] > 0).all()
    assert (out / "figures" / "sensitivity_sobol.png").stat().st_size > 10_000


def test_morris_screening_ranks_the_ishigami_inputs(tmp_path):
    from gpucredit.experiments.sensitivity import analyse

    out = tmp_path / "morris"
    run_study(_ishigami_spec("morris", 40), out, workers=1, progress=False)
    table, _ = analyse(out)
    mu_star = table.set_index("parameter")["mu_star"]
    sigma = table.set_index("parameter")["sigma"]
    assert (mu_star > 0).all()
    assert sigma["x3"] > 0 and sigma["x1"] > 0  # x1 and x3 interact (the b x3^4 sin x1 term)


# ====================================================================================================
# validation of study specifications
# ====================================================================================================
@pytest.mark.parametrize("args, message", [
    (["--vary", "lenders.no_such=0.1:0.2"], "unknown parameter 'lenders.no_such'"),
    (["--vary", "lenders.max_ltv=0.05:0.9"], "lenders.max_ltv"),
    (["--vary", "lenders.max_ltv=0.9:0.5"], "must be below"),
    (["--vary", "lenders.max_ltv=abc:0.5"], "not numeric"),
    (["--vary", "lenders.max_ltv"], "NAME=LO:HI"),
    (["--vary", "nvidia.investee_preference=0:1", "--design", "sobol", "--samples", "10"], "power of 2"),
    (["--vary", "lenders.max_ltv=0.5:0.9", "--scenario", "no_such_scenario"], "unknown scenario"),
    (["--vary", "lenders.max_ltv=0.5:0.9", "--set", "lenders.max_ltv=0.6"], "both varied and fixed"),
    (["--vary", "lenders.max_ltv=0.5:0.9", "--months", "0"], "months"),
])
def test_bad_study_input_is_one_line_naming_the_field_and_nothing_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert cli(["sweep", *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_out_of_range_bounds_name_the_declared_range():
    with pytest.raises(StudyError, match=r"expected a number in \[0.1, 0.95\]"):
        parse_vary("lenders.max_ltv=0.5:0.99")


def test_study_file_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('design = "sobol"\nsamples = 64\nnonsense = 1\n')
    with pytest.raises(StudyError, match="unknown field"):
        load_spec(bad)
    bad.write_text('design = "grid"\nsamples = 3\n[vary]\n"lenders.max_ltv" = [0.5]\n')
    with pytest.raises(StudyError, match=r"expected \[low, high\]"):
        load_spec(bad)
    bad.write_text('design = "grid"\nsamples = [')
    with pytest.raises(StudyError, match="malformed TOML"):
        load_spec(bad)
    for shipped in (REPO / "experiments" / "studies").glob("*.toml"):
        assert load_spec(shipped).name == shipped.stem


def test_replicate_seeds_extend_and_integer_levels_are_rounded():
    spec = small_study(replicates=3)
    more = small_study(replicates=5)
    assert seeds(more)[1][:3] == seeds(spec)[1] and len(set(seeds(more)[1])) == 5
    plan = build_plan(spec)
    assert pd.api.types.is_integer_dtype(plan["technology.cadence_months"])
    assert plan["technology.cadence_months"].between(6, 24).all()


# ====================================================================================================
# outcome definitions
# ====================================================================================================
def test_drawdown_and_twelve_month_default_share():
    assert drawdown(np.array([1.0, 2.0, 1.0, 3.0, 0.75])) == pytest.approx(0.75)
    assert drawdown(np.array([1.0, 2.0, 3.0])) == 0.0
    debt = np.full(36, 10.0)
    defaulted = np.zeros(36)
    defaulted[[20, 25, 35]] = 0.6  # 1.2bn within one 12-month window: 12% of the 10bn outstanding
    assert max_window_default_share(defaulted, debt) == pytest.approx(0.12)
    defaulted[25] = 0.0
    assert max_window_default_share(defaulted, debt) == pytest.approx(0.06)


def test_run_outcomes_flag_a_crisis_only_above_the_threshold(baseline_24):
    from gpucredit.experiments.run import timeseries

    df = timeseries(baseline_24)
    calm = run_outcomes(df)
    assert set(calm) == set(OUTCOME_NAMES) and calm["peak_spot_price"] == df["spot_price_h100e"].max()
    stressed = df.copy()
    stressed.loc[18, "debt_in_default"] = 0.2 * stressed.loc[17, "gpu_backed_lending"]
    stressed.loc[18, "defaults_count"] = 1
    out = run_outcomes(stressed)
    assert out["crisis"] == 1.0 and out["first_default_month"] == 18.0 and out["max_default_share_12m"] >= 0.2
    assert calm["crisis"] == credit_crisis(df["debt_in_default"].to_numpy(), df["gpu_backed_lending"].to_numpy())


def test_the_crisis_flag_ignores_defaults_too_small_to_matter():
    """A default of 20% of a US$2bn market (US$0.4bn) is not a credit crisis; the same share of a US$20bn market
    (US$4bn) is; and US$1bn defaulting is a crisis only where it is at least 10% of the debt."""
    defaulted = np.zeros(36)
    defaulted[18] = 0.4
    assert max_window_default_share(defaulted, np.full(36, 2.0)) == pytest.approx(0.2)  # the share is unchanged ...
    assert not credit_crisis(defaulted, np.full(36, 2.0))  # ... but US$0.4bn is below the US$1bn floor
    assert credit_crisis(defaulted * 10, np.full(36, 20.0))
    defaulted[18] = 1.0
    assert credit_crisis(defaulted, np.full(36, 10.0)) and not credit_crisis(defaulted, np.full(36, 10.5))
    assert credit_crisis(defaulted * 0.4, np.full(36, 2.0), floor_bn=0.0)  # without the floor it would count


def test_a_study_directory_is_run_by_one_process_at_a_time(reference):
    import fcntl

    from gpucredit.experiments.store import StoreError

    with open(reference / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another gpucredit process would
        with pytest.raises(StoreError, match="another process"):
            run_study(small_study(), reference, workers=1, progress=False)
        fcntl.flock(fh, fcntl.LOCK_UN)


def test_compare_pairs_scenarios_over_the_same_seeds(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert cli(["compare", "--scenarios", "baseline,no_circular_financing", "--seeds", "3", "--months", "24",
                "--set", "population.startups=300", "--out", str(out), "--no-progress"]) == 0
    assert "paired over seeds against 'baseline'" in capsys.readouterr().out
    table = pd.read_csv(out / "comparison.csv").set_index(["outcome", "scenario"])
    runs = load_runs(out)
    # both scenarios ran with the same three seeds
    seeds_by = runs.groupby("scenario")["seed"].apply(sorted)
    assert seeds_by["baseline"] == seeds_by["no_circular_financing"] and len(seeds_by["baseline"]) == 3
    # without Nvidia's stakes, backstops and rent-backs there is no circular revenue
    row = table.loc[("peak_circular_revenue_share", "no_circular_financing")]
    assert row["mean"] == 0 and row["n_pairs"] == 3
    base = runs[runs["scenario"] == "baseline"]["peak_circular_revenue_share"].mean()
    assert row["diff_mean"] == pytest.approx(-base)
    assert row["diff_ci_low"] <= row["diff_mean"] <= row["diff_ci_high"]
    assert (out / "figures" / "compare.png").exists() and (out / "figures" / "bands.png").exists()


def test_a_killed_pool_worker_is_replaced_and_its_runs_resubmitted(reference, tmp_path):
    import psutil

    spec = small_study(months=36, samples=5, replicates=3, name="pool_kill")
    out = tmp_path / "pool_kill"
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=run_study(spec, out, workers=2, progress=False)))
    thread.start()
    deadline = time.time() + 120
    while _journal_lines(out) < 3 and time.time() < deadline:
        time.sleep(0.02)
    done_at_kill = _journal_lines(out)
    # pool workers are forked by the forkserver process (not the resource tracker, not the forkserver itself)
    forkservers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    workers = [w for server in forkservers for w in server.children()]
    assert workers
    workers[0].kill()
    thread.join(timeout=300)
    assert done_at_kill < 15, "the worker must be killed before the study ends"
    result = box["result"]
    assert result.retried >= 1 and result.failed == 0 and result.planned == 15
    runs = load_runs(out)
    assert len(runs) == 15 and runs["run_id"].is_unique and (runs["status"] == "ok").all()
