"""The study engine: execute every run of a study through a ``concurrent.futures.Executor`` and store it.

* **Executors.** A local process pool by default (``workers`` processes, default all cores); Dask distributed
  for clusters (``executor="dask"`` starts a LocalCluster of ``workers`` single-threaded worker processes;
  ``scheduler="tcp://host:8786"`` joins a running cluster, whose workers must have gpucredit installed).
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
import sys
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

from .outcomes import OUTCOMES
from .simulators import get_simulator, simulate
from .store import (STATUS_FAILED, STATUS_OK, StoreError, StudyStore, atomic_write_bytes, atomic_write_text,
                    table_bytes)
from .study import StudyError, StudySpec, build_plan, code_version, problem_json, seeds

MAX_ATTEMPTS = 3
DISCLAIMER = "Stylized research model: not a forecast or investment advice."


# ====================================================================================================
# the worker side
# ====================================================================================================
def simulate_run(task: dict) -> tuple[dict, bytes | None]:
    """Run one simulation (in a worker process) and return its record and its series as Parquet bytes.

    Never raises for a failing model: the record then has ``status = 'failed'`` and the traceback in ``error``.
    """
    started = time.perf_counter()
    record = _base_record(task, STATUS_OK)
    payload = None
    try:
        if task["code"] != code_version():
            raise RuntimeError(f"this worker runs gpucredit code version {code_version()}, the study expects "
                               f"{task['code']}; install the same version on every worker")
        table, outcomes = simulate(task["model"], task["scenario"], task["overrides"], task["seed"], task["months"])
        record.update(outcomes)
        record["duration_s"] = time.perf_counter() - started
        record["error"] = None
        table.insert(0, "run_id", task["run_id"])
        payload = table_bytes(table, record)
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


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the driver, which stops submitting and lets running runs finish: a worker
    interrupted while holding the pool's task-queue lock would otherwise deadlock the pool's shutdown."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class ExecutorHandle:
    """An executor plus what it takes to rebuild or close it."""

    kind: str
    workers: int
    scheduler: str | None = None
    executor: Executor | None = None
    client: Any = None
    cluster: Any = None

    def start(self) -> "ExecutorHandle":
        if self.kind == "process":
            self.executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=_process_context(),
                                                initializer=_ignore_interrupts)
        else:
            import logging

            from distributed import Client, LocalCluster
            if self.scheduler:
                self.client = Client(self.scheduler, timeout="30s")
            else:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            # pure=False: identical arguments must never collapse into one task
            self.executor = self.client.get_executor(pure=False)
        return self

    @property
    def slots(self) -> int:
        if self.client is not None:
            return max(1, sum(self.client.nthreads().values()))
        return self.workers

    def restart(self) -> None:
        if self.kind == "process":
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.start()

    def close(self, cancel: bool = False) -> None:
        if self.executor is not None:
            if self.kind == "process":
                self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
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


def open_study(spec: StudySpec, out_dir: str | Path, allow_version_mix: bool = False
               ) -> tuple[StudyStore, pd.DataFrame, list[str]]:
    """Create the study directory, or check that an existing one holds the same study made with the same package
    versions (:func:`result_versions`; ``allow_version_mix`` accepts others and records them in the manifest's
    ``version_history``). Returns the store, the plan and notes for the user. Raises :class:`StudyError` before
    writing anything if the directory is taken or the versions differ."""
    root = Path(out_dir).expanduser()
    store = StudyStore(root)
    notes: list[str] = []
    plan = build_plan(spec)
    if root.exists() and not root.is_dir():
        raise StudyError(f"--out '{out_dir}' exists and is not a directory")
    if store.exists():
        try:
            old = store.manifest()
        except StoreError as exc:
            raise StudyError(str(exc)) from None
        if old.get("spec") != spec.as_dict():
            diff = [k for k in spec.as_dict() if old.get("spec", {}).get(k) != spec.as_dict()[k]]
            raise StudyError(f"--out '{out_dir}' holds a different study (it differs in: {', '.join(diff) or 'format'}); "
                             f"resume it with the same specification or choose another --out")
        mix = _version_mix(old)
        if mix and not allow_version_mix:
            raise StudyError(f"--out '{out_dir}' holds runs made with other package versions ({', '.join(mix)}); "
                             f"rerun with the same versions, choose another --out, or pass --allow-version-mix")
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
    else:
        if root.exists() and any(root.iterdir()):
            raise StudyError(f"--out '{out_dir}' exists, is not empty and holds no gpucredit study; choose an empty "
                             f"or new directory")
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(store.manifest_path, _json(_manifest(spec, plan)))
    atomic_write_bytes(store.plan_path, plan.to_parquet(index=False))
    return store, plan, notes


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
    if executor not in ("process", "dask"):
        raise StudyError(f"--executor '{executor}' is not an executor; expected process or dask")
    if scheduler and executor != "dask":
        raise StudyError("--scheduler joins a Dask cluster; use it with --executor dask")
    workers = default_workers() if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise StudyError(f"--workers {workers!r}: expected an integer >= 1")
    store, plan, notes = open_study(spec, out_dir, allow_version_mix)
    for note in notes:
        (on_note or (lambda text: print(f"note: {text}", file=sys.stderr)))(note)

    with store.lock():  # one process per study at a time
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

    def finish(record: dict, payload: bytes | None) -> None:
        store.save(record, payload)
        counts["executed"] += 1
        counts["failed"] += record["status"] == STATUS_FAILED
        bar.update(1)
        bar.set_postfix(failed=counts["failed"])

    handle.start()
    cancelled = True
    try:
        window = 2 * handle.slots
        while queue or in_flight:
            broken = False
            while queue and len(in_flight) < window and not broken:
                run_id = queue.popleft()
                try:
                    in_flight[handle.executor.submit(simulate_run, make_task(run_id))] = run_id
                except BrokenProcessPool:  # the pool broke since the last batch finished
                    queue.appendleft(run_id)
                    broken = True
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED) if in_flight else (set(), set())
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
