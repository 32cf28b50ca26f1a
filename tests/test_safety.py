"""Data safety, processes and input validation (issue 13): no command deletes a file it did not write, a killed
or interrupted command leaves nothing half-written and no worker running, and bad input is one line, status 2.

Every test uses tiny runs (a few months, 300 start-ups) so the file runs in well under a minute per test."""

import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from gpucredit.experiments import store as store_module
from gpucredit.experiments.cli import main as cli
from gpucredit.experiments.run import LOCK, remove_abandoned
from gpucredit.experiments.store import MARKER, StudyStore, load_runs, query
from gpucredit.sim.inputs import InputError, scheduler_address
from gpucredit.sim.scenarios import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--set", "population.startups=300"]


def gpucredit(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gpucredit.experiments.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def start(*args) -> subprocess.Popen:
    """A gpucredit command in the background, with Ctrl-C delivered as it is on a terminal."""
    return subprocess.Popen([sys.executable, "-m", "gpucredit.experiments.cli", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def wait_for(condition, timeout=120.0, interval=0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if "gpucredit-tmp" in p.name or "gpucredit-run" in p.name]


# ====================================================================================================
# run: never delete what gpucredit did not write
# ====================================================================================================
@pytest.fixture
def quick_figures(monkeypatch):
    """Runs in this process write two small figure files instead of the standard panel (which takes seconds)."""
    import gpucredit.experiments.run as run_module

    def figures(df, folder, title=""):
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("panel.png", "prices.png"):
            (folder / name).write_bytes(b"figure")

    monkeypatch.setattr(run_module, "standard_panel", figures)


def run_in_process(*args) -> int:
    return cli(["run", *args, *SMALL])


def test_run_onto_earlier_results_needs_overwrite_and_keeps_other_files(tmp_path, quick_figures, capsys):
    out = tmp_path / "res"
    assert run_in_process("--months", "3", "--out", str(out)) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "run" and "timeseries.parquet" in marker["files"] and "network_2023-03.graphml" in marker["files"]
    (out / "my_notes.txt").write_text("a researcher's notes")
    (out / "figures" / "my_chart.png").write_bytes(b"not gpucredit's")
    capsys.readouterr()

    assert run_in_process("--months", "4", "--out", str(out)) == 2
    assert "--overwrite" in one_line(capsys.readouterr().err)
    assert pd.read_parquet(out / "timeseries.parquet")["date"].iloc[-1] == "2023-03"  # untouched

    assert run_in_process("--months", "4", "--out", str(out), "--overwrite") == 0
    assert pd.read_parquet(out / "timeseries.parquet")["date"].iloc[-1] == "2023-04"
    assert (out / "my_notes.txt").read_text() == "a researcher's notes"
    assert (out / "figures" / "my_chart.png").read_bytes() == b"not gpucredit's"
    assert not (out / "network_2023-03.graphml").exists()  # the earlier run's file it no longer writes
    assert "network_2023-04.graphml" in json.loads((out / MARKER).read_text())["files"]
    assert not temporaries(tmp_path)


def test_the_cli_refuses_earlier_results_without_overwrite(tmp_path, quick_figures):
    out = tmp_path / "res"
    assert run_in_process("--months", "2", "--out", str(out)) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    result = gpucredit("run", "--months", "2", "--out", str(out), *SMALL)
    assert result.returncode == 2 and "--overwrite" in one_line(result.stderr)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_overwrite_never_replaces_a_file_gpucredit_did_not_write(tmp_path, quick_figures, capsys):
    out = tmp_path / "res"
    assert run_in_process("--months", "2", "--out", str(out)) == 0
    (out / "network_2023-01.graphml").write_text("the researcher's own network file")
    capsys.readouterr()
    assert run_in_process("--months", "2", "--out", str(out), "--overwrite", "--network-months", "2023-01") == 2
    assert "network_2023-01.graphml" in one_line(capsys.readouterr().err)
    assert (out / "network_2023-01.graphml").read_text() == "the researcher's own network file"
    assert not temporaries(tmp_path)


@pytest.mark.parametrize("content", ["manifest", "other"])
def test_run_refuses_a_directory_gpucredit_did_not_write_even_with_overwrite(tmp_path, content):
    out = tmp_path / "mine"
    out.mkdir()
    (out / ("manifest.json" if content == "manifest" else "thesis.tex")).write_text("{}")
    result = gpucredit("run", "--months", "2", "--out", str(out), "--overwrite", *SMALL)
    assert result.returncode == 2 and "not written by gpucredit" in one_line(result.stderr)
    assert [p.name for p in out.iterdir()] == [("manifest.json" if content == "manifest" else "thesis.tex")]


def test_run_refuses_a_study_directory(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    store_module.write_marker(out, "study")  # as `gpucredit replicate/sweep/compare` leave it
    (out / "runs.jsonl").write_text("")
    before = sorted(p.name for p in out.rglob("*"))
    result = gpucredit("run", "--months", "2", "--out", str(out), "--overwrite", *SMALL)
    assert result.returncode == 2 and "study" in one_line(result.stderr)
    assert sorted(p.name for p in out.rglob("*")) == before


# ====================================================================================================
# run: kill -9, Ctrl-C and SIGTERM leave nothing behind
# ====================================================================================================
def _started_writing(tmp_path: Path, name: str):
    return lambda: any(p.name.startswith(f".{name}.") for p in tmp_path.iterdir())


def test_a_run_killed_with_sigkill_leaves_a_temporary_directory_that_the_next_run_removes(tmp_path, quick_figures):
    out = tmp_path / "res"
    proc = start("run", "--months", "120", "--out", str(out), *SMALL)
    assert wait_for(_started_writing(tmp_path, "res"))
    time.sleep(0.5)
    proc.kill()
    proc.communicate()
    left = temporaries(tmp_path)
    assert left and not out.exists()
    assert run_in_process("--months", "2", "--out", str(out)) == 0
    assert not temporaries(tmp_path) and (out / "manifest.json").exists()


def test_a_running_runs_temporary_directory_is_not_removed(tmp_path):
    live = tmp_path / ".res.abcd1234.gpucredit-run"
    live.mkdir()
    with open(live / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the process writing it holds it
        assert remove_abandoned(tmp_path / "res") == [] and live.exists()
    assert remove_abandoned(tmp_path / "res") == [live] and not live.exists()  # its writer is gone
    foreign = tmp_path / ".res.mine"
    foreign.mkdir()
    assert remove_abandoned(tmp_path / "res") == [] and foreign.exists()  # not a name gpucredit gives


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_on_run_is_one_line_and_leaves_nothing(tmp_path, sig, status):
    out = tmp_path / "res"
    proc = start("run", "--months", "120", "--out", str(out), *SMALL)
    assert wait_for(_started_writing(tmp_path, "res"))
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert signal.Signals(sig).name in one_line(err)
    assert not out.exists() and not list(tmp_path.iterdir())


# ====================================================================================================
# studies: the lock comes first; killed drivers leave no workers; resume loses and duplicates nothing
# ====================================================================================================
def test_the_study_lock_is_taken_before_anything_is_written(tmp_path, monkeypatch):
    seen = {}
    original = StudyStore.lock

    def spying_lock(self):
        seen["files at lock"] = sorted(p.name for p in self.root.iterdir())
        return original(self)

    monkeypatch.setattr(StudyStore, "lock", spying_lock)
    assert cli(["replicate", "--seeds", "1", "--months", "2", "--out", str(tmp_path / "s"), "--workers", "1",
                "--no-progress", *SMALL]) == 0
    assert seen["files at lock"] == []


def test_two_different_sweeps_started_at_once_never_mix(tmp_path):
    out = tmp_path / "race"
    base = ["sweep", "--months", "2", "--design", "grid", "--samples", "2", "--workers", "1", "--no-progress",
            "--out", str(out), *SMALL]
    procs = [start(*base, "--vary", "lenders.max_ltv=0.5:0.9"), start(*base, "--vary", "markets.price_impact=0.5:3")]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    statuses = sorted(r[2] for r in results)
    assert statuses == [0, 2], results
    loser = next(r for r in results if r[2] == 2)
    assert "another process" in one_line(loser[1]) or "different study" in one_line(loser[1])
    manifest = json.loads((out / "study.json").read_text())
    plan = StudyStore(out).plan()
    varied = manifest["spec"]["factors"][0]["name"]
    assert varied in plan.columns and len(plan.columns) == 6  # run_id, scenario, point, replicate, seed, one factor
    runs = load_runs(out)
    assert sorted(runs["run_id"]) == sorted(plan["run_id"]) and varied in runs.columns


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


SWEEP = ["sweep", "--months", "12", "--design", "grid", "--samples", "3", "--replicates", "2", "--seed", "3",
         "--vary", "lenders.max_ltv=0.5:0.8", "--vary", "markets.price_impact=0.5:3", "--workers", "2",
         "--no-progress", *SMALL]


def _no_worker_outlives(workers: list[psutil.Process]) -> bool:
    """True if every worker process is gone within 10 s; kills the survivors (so a failure leaks nothing)."""
    gone = wait_for(lambda: not _still_running(workers), timeout=10)
    for p in _still_running(workers):
        p.kill()
    return gone


def _sweep_in_flight(out: Path, stderr: Path) -> subprocess.Popen:
    """A sweep started in the background, once its workers have stored three runs. Its output goes to files, not
    pipes: a worker that outlived the driver would hold a pipe open and hang the test instead of failing it."""
    with open(stderr, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "gpucredit.experiments.cli", *SWEEP, "--out", str(out)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    journal = out / "runs.jsonl"
    assert wait_for(lambda: journal.exists() and journal.read_text().count("\n") >= 3)
    assert len(_descendants(proc.pid)) >= 3  # forkserver and two workers (and the resource tracker)
    return proc


def test_sigkill_of_a_sweeps_driver_stops_its_workers_and_the_resumed_study_equals_an_uninterrupted_one(tmp_path):
    out = tmp_path / "killed"
    proc = _sweep_in_flight(out, tmp_path / "stderr")
    workers = _descendants(proc.pid)
    proc.kill()  # the driver only, as the out-of-memory killer would
    proc.wait()
    assert _no_worker_outlives(workers), "worker processes outlived their driver"
    done = (out / "runs.jsonl").read_text().count("\n")
    assert done < 18, "the study must be killed part-way through"

    assert cli([*SWEEP, "--out", str(out)]) == 0  # resume
    clean = tmp_path / "clean"
    assert cli([*SWEEP, "--out", str(clean)]) == 0
    runs, reference = load_runs(out), load_runs(clean)
    assert len(runs) == 18 and runs["run_id"].is_unique
    journal = [json.loads(line)["run_id"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(journal) == len(set(journal)) == 18  # nothing lost, nothing stored twice
    pd.testing.assert_frame_equal(runs.drop(columns="duration_s"), reference.drop(columns="duration_s"))
    series = "SELECT * FROM timeseries ORDER BY run_id, date"
    pd.testing.assert_frame_equal(query(out, series), query(clean, series))
    assert not temporaries(out)


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_of_a_sweep_is_one_line_and_stops_its_workers(tmp_path, sig, status):
    out = tmp_path / "stopped"
    proc = _sweep_in_flight(out, tmp_path / "stderr")
    workers = _descendants(proc.pid)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == status
    line = one_line((tmp_path / "stderr").read_text())
    assert signal.Signals(sig).name in line and "resume" in line
    assert _no_worker_outlives(workers), "worker processes outlived their driver"
    assert not temporaries(out)


SEND_HALF_A_RESULT = """
import os, struct, sys, time


def send_half_a_result():
    # what a worker killed half-way through returning a run leaves in the result pipe: a length header, no body
    frame = sys._getframe(1)
    while "result_queue" not in frame.f_locals:  # the pool's worker loop, which called the task
        frame = frame.f_back
    frame.f_locals["result_queue"]._writer._send(struct.pack("!i", 1 << 20))
"""

HALF_A_RESULT = SEND_HALF_A_RESULT + """
from concurrent.futures import ProcessPoolExecutor
from gpucredit.experiments.engine import _process_context, _stop_pool


def half_a_result(flag):
    send_half_a_result()
    open(flag, "w").close()
    time.sleep(600)


if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=_process_context())
    pool.submit(half_a_result, sys.argv[1])
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.02)
    time.sleep(0.5)  # the pool's manager thread reads the header and waits for the rest
    _stop_pool(pool)
    print("stopped", flush=True)
"""

HALF_A_RESULT_THEN_DEATH = SEND_HALF_A_RESULT + """
from gpucredit.experiments.engine import ExecutorHandle


def half_a_result_then_death():
    send_half_a_result()
    os._exit(1)


if __name__ == "__main__":
    handle = ExecutorHandle("process", workers=2).start()
    lost = handle.executor.submit(half_a_result_then_death)
    started = time.monotonic()
    while not handle.stalled():
        assert not lost.done(), "the pool noticed the death itself: nothing to test"
        time.sleep(0.2)
    print(f"stalled after {time.monotonic() - started:.0f} s", flush=True)
    handle.restart()
    print(handle.executor.submit(pow, 2, 10).result(timeout=60), flush=True)
    handle.close()
"""


def _pool_script(tmp_path: Path, text: str, *args: str, hung: str) -> str:
    """Run ``text`` as a script in its own process group; its standard output, or the test fails with ``hung`` if it
    has not exited within 90 s (its forkserver and workers are killed with it)."""
    script = tmp_path / "pool_script.py"
    script.write_text(text)
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(hung)
    assert proc.returncode == 0, err
    return out


def test_a_driver_stopping_its_pool_exits_even_when_a_worker_was_killed_half_way_through_sending_a_result(tmp_path):
    """The driver's exit after Ctrl-C or SIGTERM must not wait for ever on the pool's manager thread, which a
    half-sent result leaves waiting for the rest of the message (the CI hang of a SIGTERM'd sweep, made certain)."""
    out = _pool_script(tmp_path, HALF_A_RESULT, str(tmp_path / "sent"),
                       hung="the driver hung at exit after stopping a pool with a half-sent result")
    assert out.strip() == "stopped"


def test_a_pool_whose_manager_missed_a_workers_death_is_noticed_and_rebuilt(tmp_path):
    """A worker dying half-way through sending its result leaves the process pool unaware of the death, with the
    run in flight never finishing nor failing. The driver notices the dead worker (ExecutorHandle.stalled), and a
    rebuilt pool runs again; the study loop then resubmits the lost runs, as for any broken pool."""
    out = _pool_script(tmp_path, HALF_A_RESULT_THEN_DEATH,
                       hung="a pool with a worker that died mid-send was neither noticed nor rebuilt")
    stalled, result = out.split("\n")[:2]
    assert stalled.startswith("stalled after") and result == "1024"


# ====================================================================================================
# a full disk
# ====================================================================================================
@pytest.mark.parametrize("fills_at", ["timeseries", "study.json"])
def test_a_full_disk_during_a_sweep_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch, capsys, fills_at):
    real_fdopen = os.fdopen

    class FullDisk:
        """A file on a disk that fills up half-way through the first write."""

        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        return FullDisk(fh) if fills_at in os.readlink(f"/proc/self/fd/{fd}") else fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    out = tmp_path / "full"
    status = cli(["replicate", "--seeds", "2", "--months", "2", "--out", str(out), "--workers", "1", "--no-progress",
                  *SMALL])
    err = capsys.readouterr().err
    assert status == 1
    assert "No space left on device" in one_line(err)
    assert not temporaries(tmp_path)
    if fills_at == "timeseries":  # the study exists; no run was stored half
        assert not list((out / "timeseries").iterdir()) and not (out / "runs.jsonl").exists()
        monkeypatch.undo()
        assert cli(["replicate", "--seeds", "2", "--months", "2", "--out", str(out), "--workers", "1",
                    "--no-progress", *SMALL]) == 0  # room again: the same command completes the study
        assert len(load_runs(out)) == 2
    else:  # a study that could not write its manifest is not left half-created
        assert not out.exists()


def test_a_full_disk_never_leaves_a_partial_journal_line(tmp_path, monkeypatch):
    store = StudyStore(tmp_path)
    store.append_journal({"run_id": "a", "status": "ok"})
    size = store.journal_path.stat().st_size
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        store.append_journal({"run_id": "b", "status": "ok"})
    monkeypatch.undo()
    assert store.journal_path.stat().st_size == size
    assert [r["run_id"] for r in store.journal_records()] == ["a"]


def test_a_full_disk_during_a_run_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    status = cli(["run", "--months", "2", "--out", str(tmp_path / "res"), *SMALL])
    assert status == 1 and "No space left on device" in one_line(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_temporary_files_have_unpredictable_names(tmp_path):
    names = set()
    real_replace = os.replace

    def spy(src, dst):
        names.add(Path(src).name)
        real_replace(src, dst)

    os.replace = spy
    try:
        for _ in range(3):
            store_module.atomic_write_text(tmp_path / "study.json", "{}")
    finally:
        os.replace = real_replace
    assert len(names) == 3 and all(str(os.getpid()) not in n for n in names)
    assert [p.name for p in tmp_path.iterdir()] == ["study.json"]


# ====================================================================================================
# paths with special characters
# ====================================================================================================
@pytest.mark.parametrize("name", ["study[1]", "a*b?c"])
def test_a_study_directory_with_glob_characters_works(tmp_path, name, capsys):
    out = tmp_path / name
    assert cli(["replicate", "--seeds", "2", "--months", "2", "--out", str(out), "--workers", "1", "--no-progress",
                *SMALL]) == 0
    assert "bands.png" in capsys.readouterr().out
    assert query(out, "SELECT count(DISTINCT run_id) AS n FROM timeseries")["n"].iloc[0] == 2
    assert cli(["query", str(out), "SELECT count(*) AS n FROM timeseries"]) == 0
    assert " 4" in capsys.readouterr().out


# ====================================================================================================
# input validation: one line naming the field, status 2, nothing created
# ====================================================================================================
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, field", [
    (["calibration", "--seeds", "0"], "--seeds"),
    (["calibration", "--seeds", "-1"], "--seeds"),
    (["calibration", "--months", "1000000"], "--months"),
    (["run", "--months", "1000000"], "--months"),
    (["run", "--seed", "-3"], "--seed"),
    (["bench", "--study-runs", "-5"], "--study-runs"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["replicate", "--seeds", "0"], "--seeds"),
    (["replicate", "--seeds", "2", "--workers", "0"], "--workers"),
    (["sweep", "--vary", "lenders.max_ltv=0.5:0.9", "--replicates", "0"], "--replicates"),
    (["sweep", "--vary", "lenders.max_ltv=0.5:0.9", "--months", "1000000"], "--months"),
    (["compare", "--scenarios", "baseline,rate_shock", "--seeds", "-2"], "--seeds"),
    (["replicate", "--seeds", "2", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:PORT"], "--scheduler"),
    (["run", "--out", "line\nbreak"], "--out"),
])
def test_bad_counts_months_and_addresses_are_one_line_and_create_nothing(tmp_path, args, field, capsys):
    args = [a.replace("PORT", str(_closed_port())) for a in args]
    if args[0] in ("run", "replicate", "sweep", "compare") and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert cli(args) == 2
    captured = capsys.readouterr()
    assert field in one_line(captured.err) and not captured.out
    assert not list(tmp_path.iterdir())


def test_an_unreachable_scheduler_is_refused_before_anything_is_created(tmp_path):
    with pytest.raises(InputError, match="no scheduler answers"):
        scheduler_address(f"tcp://127.0.0.1:{_closed_port()}")
    with pytest.raises(InputError, match="not an address"):
        scheduler_address("tcp://nohost")


def _scenario(tmp_path: Path, roster: str) -> Path:
    path = tmp_path / "renamed.toml"
    path.write_text(f'name = "renamed"\n[roster]\n{roster}\n')
    return path


@pytest.mark.parametrize("roster, message", [
    ('rename = { CoreWeave = "Lambda" }', "two agents would be named 'Lambda'"),
    ('rename = { CoreWeave = "" }', "not an agent name"),
    ('rename = { CoreWeave = 3 }', "not an agent name"),
    ('rename = { CoreWeave = "Nvidia" }', "name of another agent"),
    ('rename = { CoreWeave = "Credit fund 1" }', "name of another agent"),
    ('rename = { Nobody = "X" }', "unknown agent"),
    ('remove = "Lambda"', "not a list"),
    ('remove = ["Lambda"]\nrename = { Lambda = "L" }', "both removed and renamed"),
])
def test_a_roster_that_would_merge_agents_is_refused(tmp_path, roster, message, capsys):
    path = _scenario(tmp_path, roster)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(str(path))
    assert cli(["run", "--scenario", str(path), "--months", "2", "--out", str(tmp_path / "out")]) == 2
    assert "roster" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_a_valid_rename_keeps_every_agent_distinct(tmp_path):
    from gpucredit.sim import GPUEconomy

    path = _scenario(tmp_path, 'remove = ["Lambda"]\nrename = { CoreWeave = "Lambda" }')
    model = GPUEconomy(load_scenario(str(path)), rng=1, **{"run.months": 2})
    names = [nc.name for nc in model.neoclouds]
    assert "Lambda" in names and "CoreWeave" not in names and len(names) == len(set(names))


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "too_large", "not_toml"])
def test_a_scenario_file_must_be_a_small_regular_toml_file(tmp_path, kind, capsys):
    path = tmp_path / ("scenario.txt" if kind == "not_toml" else "scenario.toml")
    if kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "too_large":
        path.write_text('name = "big"\n' + "#" * 2_000_000 + "\n")
    else:
        path.write_text('name = "x"\n')
    out = tmp_path / "out"
    if kind == "device":  # in a child process, so that a hang fails the test instead of stopping the suite
        result = gpucredit("run", "--scenario", str(path), "--months", "2", "--out", str(out), timeout=60)
        assert result.returncode == 2 and "not a regular file" in one_line(result.stderr)
    for command in (["run", "--scenario", str(path), "--months", "2"], ["sweep", "--spec", str(path)]):
        assert cli([*command, "--out", str(out)]) == 2
        line = one_line(capsys.readouterr().err)
        assert any(s in line for s in ("regular file", "bytes", "not a .toml file", "unknown scenario")), line
        assert not out.exists()
