"""The study engine: execute every run of a study through a ``concurrent.futures.Executor`` and store it.

* **Executors.** A local process pool by default (``workers`` processes, default all cores); Dask distributed
  for clusters, an optional extra (``executor="dask"`` starts a local cluster of ``workers`` single-threaded
  worker processes private to this process: TLS, loopback, no HTTP, see :mod:`.dask_cluster`;
  ``scheduler="tls://host:8786"`` joins a running cluster of the user's own, which can run code in this process,
  and whose workers must have gpucredit installed).
  Both are used only through ``submit`` and the futures it returns.
* **Identity and resume.** Each run is named by :func:`gpucredit.experiments.study.run_identity`. Runs already stored in
  the directory are skipped, so a study that was interrupted (Ctrl-C, ``kill -9``, a lost node) completes when
  the same command is run again, with no run lost or duplicated.
* **Failures.** A run that raises is stored with ``status = 'failed'`` and its traceback; the study goes on.
  A worker process that dies takes its runs with it: Dask reschedules them; the process pool is rebuilt and
  its runs resubmitted. A run that kills its worker :data:`MAX_ATTEMPTS` times is stored as failed.
* **Determinism.** A run depends only on its task (model, scenario, parameters, seed, months); results are
  identical whatever the number of workers or the executor.
* **Flat memory.** At most ``2 x workers`` runs are in flight; finished runs go straight to disk, so a
  10,000-run study holds no more results in memory than a 100-run one.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .dask_cluster import INSTALL_HINT
from .dask_cluster import missing_packages as dask_missing
from .outcomes import OUTCOMES
from .simulators import get_simulator, simulate
from gpucredit.sim.inputs import count, path_text, scheduler_address

from .store import (MARKER, STATUS_FAILED, STATUS_OK, StoreError, StudyStore, atomic_write_bytes, atomic_write_text,
                    make_missing_dirs, read_marker, table_bytes, write_marker)
from .study import StudyError, StudySpec, build_plan, code_version, problem_json, seeds

MAX_ATTEMPTS = 3
DISCLAIMER = "Stylized research model: not a forecast or investment advice."


# ====================================================================================================
# the worker side
# ====================================================================================================
def simulate_run(task: dict) -> tuple[dict, tuple[bytes, bytes | None] | None]:
    """Run one simulation (in a worker process) and return its record and, as Parquet bytes, its series and its
    firm panel (None for a model without one).

    Never raises for a failing model: the record then has ``status = 'failed'`` and the traceback in ``error``.
    """
    started = time.perf_counter()
    record = _base_record(task, STATUS_OK)
    payload = None
    try:
        if task["code"] != code_version():
            raise RuntimeError(f"this worker runs gpucredit code version {code_version()}, the study expects "
                               f"{task['code']}; install the same version on every worker")
        table, outcomes, firms = simulate(task["model"], task["scenario"], task["overrides"], task["seed"],
                                          task["months"])
        record.update(outcomes)
        record["duration_s"] = time.perf_counter() - started
        record["error"] = None
        table.insert(0, "run_id", task["run_id"])
        if firms is not None:
            firms.insert(0, "run_id", task["run_id"])
        payload = (table_bytes(table, record), None if firms is None else table_bytes(firms, record))
    except Exception:  # a failing run is data: store it and go on
        record["status"] = STATUS_FAILED
        record["error"] = traceback.format_exc()
        record["duration_s"] = time.perf_counter() - started
    return record, payload


# ====================================================================================================
# executors
# ====================================================================================================
def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _process_context():
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["gpucredit.experiments.engine", "gpucredit.sim.model"])
        return ctx
    return multiprocessing.get_context("spawn")


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_INTERVAL_S = 0.5


def _init_worker(driver_pid: int) -> None:
    """Set up a pool worker so that it never outlives the study's driver.

    * Ctrl-C goes to the driver only: the driver stops the pool itself (a worker interrupted while holding the
      pool's task-queue lock would otherwise deadlock the pool's shutdown).
    * On Linux the kernel kills the worker when its parent (the forkserver, which exits as soon as the driver is
      gone, even after ``kill -9``) dies: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``.
    * A watchdog thread checks twice a second that the parent and the driver are still there and ends the worker
      if not (for systems without prctl, and for a parent that died before prctl was called)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_driver, args=(driver_pid, parent), name="gpucredit-watchdog",
                     daemon=True).start()


def _process_gone(pid: int) -> bool:
    """True if process ``pid`` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _watch_driver(driver_pid: int, parent: int) -> None:
    while True:
        if os.getppid() != parent or _process_gone(driver_pid):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(WATCH_INTERVAL_S)


POLL_S = 0.2  # how often the driver looks for Ctrl-C or SIGTERM while it waits for runs
STALL_S = 5.0  # how long a dead pool worker may go unnoticed by its pool before the driver rebuilds the pool


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM reached the driver of a study; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)


class _DeferredSignals:
    """While the driver feeds the executor, SIGINT and SIGTERM only set a flag that :meth:`check` turns into
    :class:`StudyInterrupted` at a safe point of the loop. An exception raised by a signal at an arbitrary
    instruction could leave a future's lock held (inside ``concurrent.futures.wait``), and the executor's
    shutdown would then wait for ever. Only the main thread can install handlers; elsewhere this does nothing."""

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "_DeferredSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._note)
        return self

    def _note(self, signum, frame) -> None:
        self.signum = self.signum or signum

    def check(self) -> None:
        if self.signum is not None:
            raise StudyInterrupted(self.signum)

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()


def _pool_workers(executor: ProcessPoolExecutor) -> list:
    """The pool's worker processes (none once it is shut down)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _stop_pool(executor: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes at once (their runs are abandoned and re-run on resume), then shut the
    pool down without waiting.

    A worker killed half-way through sending its result (a run's time series goes through the result pipe as a
    length header, then the bytes) leaves the pool's manager thread waiting for the rest of the message; the
    driver holds its own copy of the pipe's write end, so the wait never ends, and the interpreter, which joins
    that thread when it exits, would hang after printing its last line. The driver never writes to that pipe, so
    its end is closed here: once the killed workers' ends are gone too, the manager reads end-of-file, marks the
    pool broken and stops."""
    results = getattr(executor, "_result_queue", None)  # read first: shutdown() forgets it
    terminate = getattr(executor, "kill_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
    else:
        for process in _pool_workers(executor):
            try:
                process.kill()
            except (OSError, ValueError, AttributeError):
                pass
    executor.shutdown(wait=False, cancel_futures=True)
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()


@dataclass
class ExecutorHandle:
    """An executor plus what it takes to rebuild or close it."""

    kind: str
    workers: int
    scheduler: str | None = None
    executor: Executor | None = None
    client: Any = None
    cluster: Any = None
    dead_since: float | None = field(default=None, repr=False)  # when stalled() first saw a dead worker

    def start(self) -> "ExecutorHandle":
        self.dead_since = None
        if self.kind == "process":
            self.executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=_process_context(),
                                                initializer=_init_worker, initargs=(os.getpid(),))
        else:
            from .dask_cluster import start_private_cluster

            if self.scheduler:  # the user's own cluster: it runs code as the user (see the README)
                from distributed import Client
                self.client = Client(self.scheduler, timeout="30s")
            else:  # TLS on 127.0.0.1 with a key only this process holds, no HTTP endpoint
                self.client, self.cluster = start_private_cluster(self.workers)
            # pure=False: identical arguments must never collapse into one task
            self.executor = self.client.get_executor(pure=False)
        return self

    @property
    def slots(self) -> int:
        if self.client is not None:
            return max(1, sum(self.client.nthreads().values()))
        return self.workers

    def stalled(self) -> bool:
        """True once a worker of the process pool has been dead for :data:`STALL_S` without the pool noticing.

        A worker killed half-way through sending a result (by the out-of-memory killer, say) leaves the pool's
        manager thread reading a message that never ends, so the pool never reports the death: the runs in flight
        would neither finish nor fail, and the study would wait for ever. The driver then treats the pool as
        broken. (The pool itself notices an ordinary death within milliseconds.)"""
        if self.kind != "process" or self.executor is None:
            return False
        if not any(_process_gone(process.pid) for process in _pool_workers(self.executor)):
            self.dead_since = None
            return False
        if self.dead_since is None:
            self.dead_since = time.monotonic()
        return time.monotonic() - self.dead_since >= STALL_S

    def restart(self) -> None:
        if self.kind == "process":
            _stop_pool(self.executor)  # a broken pool's workers are gone already; a stalled one's are killed
            self.start()

    def close(self, cancel: bool = False) -> None:
        if self.executor is not None:
            if self.kind == "process":
                if cancel:
                    _stop_pool(self.executor)
                else:
                    self.executor.shutdown(wait=True)
            else:  # Dask's ClientExecutor cancels its futures when not waiting
                self.executor.shutdown(wait=not cancel)
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# ====================================================================================================
# running a study
# ====================================================================================================
@dataclass
class StudyResult:
    directory: Path
    planned: int = 0          # distinct runs in the plan
    stored_before: int = 0    # already stored when this execution started
    executed: int = 0         # simulated by this execution
    failed: int = 0           # failed runs in the run table (all executions)
    retried: int = 0          # resubmissions after a worker died
    wall_s: float = 0.0
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary_lines(self) -> list[str]:
        rate = self.executed / self.wall_s if self.wall_s > 0 else 0.0
        return [f"Study {self.directory}: {self.planned} runs planned, {self.stored_before} already stored, "
                f"{self.executed} executed now in {self.wall_s:,.1f} s ({rate:,.2f} runs/s), "
                f"{self.failed} failed" + (f", {self.retried} resubmitted after a worker died" if self.retried else "")]


def run_columns(spec: StudySpec) -> list[str]:
    outcomes = list(get_simulator(spec.model).outcomes)
    return ["run_id", "status", "scenario", "seed", *spec.factor_names, *outcomes, "duration_s", "error"]


#: every package a study's results depend on (simulation, storage, analysis, figures), recorded in its manifest
RESULT_PACKAGES = ("gpucredit", "mesa", "numpy", "pandas", "scipy", "networkx", "SALib", "statsmodels", "duckdb",
                   "pyarrow", "matplotlib", "distributed")


def result_versions() -> dict[str, str]:
    """Versions of Python and of every package in :data:`RESULT_PACKAGES` ("not installed" if absent)."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _version_mix(old: dict) -> list[str]:
    """``name old -> new`` for every recorded package whose version differs from the running one."""
    now = result_versions()
    before = old.get("versions", {})
    return [f"{name} {before.get(name, 'unrecorded')} -> {now[name]}" for name in now if before.get(name) != now[name]]


def _manifest(spec: StudySpec, plan: pd.DataFrame) -> dict:
    from .run import git_state

    design_seed, replicate_seeds = seeds(spec)
    versions = result_versions()
    outcomes = ([{"name": n, "unit": u, "description": d} for n, u, d in OUTCOMES] if spec.model == "gpucredit"
                else [{"name": n, "unit": "", "description": ""} for n in get_simulator(spec.model).outcomes])
    return {
        "kind": "gpucredit study",
        "spec": spec.as_dict(),
        "code_version": code_version(),
        "git": git_state(),
        "versions": versions,
        "root_seed": spec.seed,
        "design_seed": design_seed,
        "replicate_seeds": replicate_seeds,
        "problem": problem_json(spec),
        "runs_planned": int(plan["run_id"].nunique()),
        "run_columns": run_columns(spec),
        "outcomes": outcomes,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
    }


def _check_study_dir(spec: StudySpec, store: StudyStore, out_dir, allow_version_mix: bool = False) -> dict | None:
    """Whether ``--out`` can hold ``spec``: new or empty (None), or a study of the same specification made with the
    same package versions (:func:`result_versions`; ``allow_version_mix`` accepts others) (its manifest). Raises
    :class:`StudyError` otherwise. Reads only; called before and again under the lock."""
    root = store.root
    if root.exists() and not root.is_dir():
        raise StudyError(f"--out '{out_dir}' exists and is not a directory")
    marker = read_marker(root) if root.is_dir() else None
    if marker is not None and marker.get("kind") != "study":
        raise StudyError(f"--out '{out_dir}' holds the results of a gpucredit {marker.get('kind')}, not a study; "
                         f"choose another --out")
    if not store.exists():
        ours = {".lock", MARKER}  # left by a study that was stopped before it wrote its manifest
        if root.is_dir() and any(p.name not in ours for p in root.iterdir()):
            raise StudyError(f"--out '{out_dir}' exists, is not empty and holds no gpucredit study; choose an empty "
                             f"or new directory")
        return None
    try:
        old = store.manifest()
    except StoreError as exc:
        raise StudyError(str(exc)) from None
    if old.get("kind") != "gpucredit study":
        raise StudyError(f"--out '{out_dir}': study.json is not the manifest of a gpucredit study; choose another --out")
    if old.get("spec") != spec.as_dict():
        diff = [k for k in spec.as_dict() if old.get("spec", {}).get(k) != spec.as_dict()[k]]
        raise StudyError(f"--out '{out_dir}' holds a different study (it differs in: {', '.join(diff) or 'format'}); "
                         f"resume it with the same specification or choose another --out")
    mix = _version_mix(old)
    if mix and not allow_version_mix:
        raise StudyError(f"--out '{out_dir}' holds runs made with other package versions ({', '.join(mix)}); "
                         f"rerun with the same versions, choose another --out, or pass --allow-version-mix")
    return old


def _remove_created(created: list[Path]) -> None:
    """Undo :func:`~gpucredit.experiments.store.make_missing_dirs` after a failure: remove gpucredit's own files from the study directory it created,
    then the directories, stopping at the first that is not empty (another process may be using it)."""
    if not created:
        return
    for name in (MARKER, ".lock"):
        try:
            (created[0] / name).unlink()
        except OSError:
            pass
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def open_study(spec: StudySpec, store: StudyStore, plan: pd.DataFrame, out_dir, allow_version_mix: bool = False
               ) -> list[str]:
    """Write the study's marker, manifest and plan, or check that the directory holds the same study made with the
    same package versions (``allow_version_mix`` accepts others and records them in the manifest's
    ``version_history``). Call it holding the study's lock. Returns notes for the user."""
    notes: list[str] = []
    old = _check_study_dir(spec, store, out_dir, allow_version_mix)  # again: another process may have written it
    if old is None:
        write_marker(store.root, "study")
        atomic_write_text(store.manifest_path, _json(_manifest(spec, plan)))
    else:
        mix = _version_mix(old)
        if mix:
            notes.append(f"package versions differ from the stored runs' ({', '.join(mix)}); recorded in study.json")
            old.setdefault("version_history", []).append(old.get("versions", {}))
            old["versions"] = result_versions()
            atomic_write_text(store.manifest_path, _json(old))
        if old.get("code_version") != code_version():
            notes.append(f"the code changed since this study was started (version {old.get('code_version')} -> "
                         f"{code_version()}): runs stored by the old version stay on disk but are not part of the study")
            manifest = _manifest(spec, plan)
            manifest["created"] = old.get("created", manifest["created"])
            if "version_history" in old:
                manifest["version_history"] = old["version_history"]
            atomic_write_text(store.manifest_path, _json(manifest))
    atomic_write_bytes(store.plan_path, plan.to_parquet(index=False))
    return notes


def _execution_options(executor: str, scheduler: str | None, workers: int | None) -> int:
    """Validate how to execute (before anything is created); return the number of workers."""
    if executor not in ("process", "dask"):
        raise StudyError(f"--executor '{executor}' is not an executor; expected process or dask")
    if scheduler and executor != "dask":
        raise StudyError("--scheduler joins a Dask cluster; use it with --executor dask")
    if executor == "dask" and dask_missing():
        raise StudyError(f"--executor dask needs the optional package(s) {', '.join(dask_missing())}, not installed: "
                         f"{INSTALL_HINT}")
    if scheduler:
        scheduler_address(scheduler)
    return default_workers() if workers is None else count(workers, "--workers", 1, 10_000)


def _json(data: dict) -> str:
    import json
    return json.dumps(data, indent=2, default=str) + "\n"


def run_study(spec: StudySpec, out_dir: str | Path, workers: int | None = None, executor: str = "process",
              scheduler: str | None = None, progress: bool = True,
              on_note: Callable[[str], None] | None = None, allow_version_mix: bool = False) -> StudyResult:
    """Execute every run of ``spec`` not yet stored in ``out_dir`` and write the run table.

    ``executor`` is ``"process"`` or ``"dask"``; ``scheduler`` (Dask only) joins an existing cluster;
    ``allow_version_mix`` adds runs to a study stored with other package versions (see :func:`open_study`).
    """
    workers = _execution_options(executor, scheduler, workers)
    store = StudyStore(Path(path_text(out_dir, "--out")).expanduser())
    plan = build_plan(spec)
    _check_study_dir(spec, store, out_dir, allow_version_mix)  # refuse a taken directory before creating anything
    created = make_missing_dirs(store.root)
    held = False
    try:
        with store.lock():  # taken before the first write: two studies started at once on one --out never mix
            held = True
            notes = open_study(spec, store, plan, out_dir, allow_version_mix)
            for note in notes:
                (on_note or (lambda text: print(f"note: {text}", file=sys.stderr)))(note)
            return _execute_study(spec, store, plan, executor, scheduler, workers, progress)
    except BaseException:
        if created and (held or not (store.root / ".lock").exists()) and not store.exists():
            _remove_created(created)  # failed before the study existed: leave nothing behind
        raise


def _execute_study(spec: StudySpec, store: StudyStore, plan: pd.DataFrame, executor: str, scheduler: str | None,
                   workers: int, progress: bool) -> StudyResult:
    """Run what is not stored yet and write the run table (holding the study's lock)."""
    store.prepare()  # only under the lock: it removes temporary files a running execution may still own
    started = time.perf_counter()
    planned_ids = list(dict.fromkeys(plan["run_id"]))
    stored = store.stored_status(set(planned_ids))
    result = StudyResult(store.root, planned=len(planned_ids), stored_before=len(stored))
    todo = [run_id for run_id in planned_ids if run_id not in stored]

    if todo:
        first_rows = plan.drop_duplicates("run_id").set_index("run_id")
        factor_names = spec.factor_names

        def task(run_id: str) -> dict:
            row = first_rows.loc[run_id]
            values = {name: (int(row[name]) if f.integer else float(row[name]))
                      for name, f in zip(factor_names, spec.factors)}
            return {"run_id": run_id, "model": spec.model, "scenario": row["scenario"], "seed": int(row["seed"]),
                    "overrides": {**spec.fixed, **values}, "values": values, "months": spec.months,
                    "code": code_version()}

        failed_before = sum(1 for s in stored.values() if s == STATUS_FAILED)
        result.executed, result.retried = _execute(todo, task, store, ExecutorHandle(executor, workers, scheduler),
                                                   progress, len(planned_ids), len(stored), failed_before, spec.name)

    table = store.run_table(plan, columns=run_columns(spec),
                            integer_columns=[f.name for f in spec.factors if f.integer])
    store.write_run_table(table)
    result.runs = table
    result.failed = int((table["status"] == STATUS_FAILED).sum()) if len(table) else 0
    result.wall_s = time.perf_counter() - started
    return result


def _execute(todo: list[str], make_task: Callable[[str], dict], store: StudyStore, handle: ExecutorHandle,
             progress: bool, total: int, initial: int, failed: int, name: str) -> tuple[int, int]:
    """Feed the executor a bounded window of runs; store each as it finishes. Returns (executed, resubmitted)."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="run", desc=name, file=sys.stderr, disable=not progress,
               dynamic_ncols=True, smoothing=0.05)
    bar.set_postfix(failed=failed)
    queue = deque(todo)
    attempts: dict[str, int] = {}
    in_flight: dict[Future, str] = {}
    lost: list[tuple[str, BaseException | None]] = []
    counts = {"executed": 0, "failed": failed}
    retried = 0

    def finish(record: dict, payload: tuple[bytes, bytes | None] | None) -> None:
        store.save(record, payload)
        counts["executed"] += 1
        counts["failed"] += record["status"] == STATUS_FAILED
        bar.update(1)
        bar.set_postfix(failed=counts["failed"])

    stop = _DeferredSignals()
    handle.start()
    cancelled = True
    try:
        stop.__enter__()
        window = 2 * handle.slots
        while queue or in_flight:
            stop.check()
            broken = False
            while queue and len(in_flight) < window and not broken:
                run_id = queue.popleft()
                try:
                    in_flight[handle.executor.submit(simulate_run, make_task(run_id))] = run_id
                except BrokenProcessPool:  # the pool broke since the last batch finished
                    queue.appendleft(run_id)
                    broken = True
            done, _ = (wait(list(in_flight), timeout=POLL_S, return_when=FIRST_COMPLETED) if in_flight
                       else (set(), set()))
            for future in done:
                run_id = in_flight.pop(future)
                try:
                    record, payload = future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    lost.append((run_id, exc))
                    continue
                except Exception as exc:  # e.g. distributed.KilledWorker: the run killed its worker repeatedly
                    record, payload = _infrastructure_failure(make_task(run_id), exc), None
                finish(record, payload)
            broken = broken or handle.stalled()
            if broken:  # every run in flight on the broken pool is lost with it: rebuild and resubmit
                lost += [(run_id, None) for run_id in in_flight.values()]
                in_flight.clear()
                handle.restart()
            for run_id, exc in lost:
                attempts[run_id] = attempts.get(run_id, 0) + 1
                if attempts[run_id] < MAX_ATTEMPTS:
                    queue.appendleft(run_id)
                    retried += 1
                else:
                    error = RuntimeError(f"the worker process died {MAX_ATTEMPTS} times while running this run ({exc!r})")
                    finish(_infrastructure_failure(make_task(run_id), error), None)
            lost.clear()
        cancelled = False
    finally:
        stop.__exit__()
        bar.close()
        handle.close(cancel=cancelled)
    return counts["executed"], retried


def _base_record(task: dict, status: str) -> dict[str, Any]:
    """A run's record before it has outcomes: identity, status, scenario, seed and varied parameter values."""
    record: dict[str, Any] = {"run_id": task["run_id"], "status": status, "scenario": task["scenario"],
                              "seed": task["seed"], **task["values"]}
    record.update({name: None for name in get_simulator(task["model"]).outcomes})
    return record


def _infrastructure_failure(task: dict, exc: BaseException) -> dict:
    record = _base_record(task, STATUS_FAILED)
    record["duration_s"] = None
    record["error"] = "".join(traceback.format_exception(exc)).strip() or repr(exc)
    return record
