"""Speed benchmark (prints figures; never a timed test).

``gpucredit bench``                  the baseline run and a large economy (200 neoclouds, 50 lenders, 10,000
                                     start-ups), each 120 months, in-process;
``gpucredit bench --engine``         also the study engine: runs per second on 1 and 2 workers and the speed-up,
                                     the engine's overhead per run against the bare model run, and the driver's
                                     peak memory for a 100-run and a 10,000-run study (flat memory);
``gpucredit bench --study-runs N``   also the wall time of an N-run baseline study on all cores.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpucredit.sim import GPUEconomy


def time_run(repeats: int = 3, **kwargs) -> tuple[float, int]:
    best = float("inf")
    agent_steps = 0
    for r in range(repeats):
        start = time.perf_counter()
        model = GPUEconomy(rng=r, **kwargs)
        while model.running:
            model.step()
        best = min(best, time.perf_counter() - start)
        n_agents = (len(model.neoclouds) + len(model.defunct) + len(model.lenders) + len(model.hyperscalers)
                    + len(model.labs) + 2 + model.startups.n)
        agent_steps = n_agents * model.steps
    return best, agent_steps


def _baseline_study(runs: int, name: str):
    from .study import StudySpec, validate
    return validate(StudySpec(name=name, design="replicate", replicates=runs, seed=99))


def _timed_study(runs: int, workers: int, name: str) -> float:
    from .engine import run_study
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_study(_baseline_study(runs, name), Path(tmp) / "study", workers=workers, progress=False)
        wall = time.perf_counter() - start
        assert result.failed == 0, result.runs["error"].dropna().iloc[0]
    return wall


def engine_figures(runs: int = 16) -> None:
    """Runs/s on 1 and 2 workers, overhead against the bare model, and fixed start-up cost."""
    from .simulators import simulate
    from .study import seeds

    replicate_seeds = seeds(_baseline_study(runs, "bare"))[1]
    start = time.perf_counter()
    for seed in replicate_seeds:
        simulate("gpucredit", "baseline", {}, seed, None)
    bare = (time.perf_counter() - start) / runs
    print(f"bare model run (outcomes included, in-process): {bare:.3f} s per run")

    per_run = {}
    for workers in (1, 2):
        fixed = _timed_study(1, workers, f"startup{workers}")
        wall = _timed_study(runs, workers, f"bench{workers}")
        per_run[workers] = (wall - fixed) / (runs - 1)
        print(f"engine, {workers} worker{'s' if workers > 1 else ''}: {runs} runs in {wall:.1f} s "
              f"({runs / wall:.2f} runs/s; {1 / per_run[workers]:.2f} runs/s after a start-up of {fixed:.1f} s)")
    print(f"2-worker speed-up: {per_run[1] / per_run[2]:.2f}x (steady state)")
    print(f"engine overhead per run against the bare run (1 worker, steady state): "
          f"{(per_run[1] - bare) / bare:+.1%}")

    for n in (100, 10_000):
        code = ("import math, resource, tempfile, pathlib\n"
                "from gpucredit.experiments.study import StudySpec, validate, make_factor\n"
                "from gpucredit.experiments.engine import run_study\n"
                "if __name__ == '__main__':\n"
                f"    spec = validate(StudySpec(name='mem', model='ishigami', design='lhs', samples={n}, seed=1,\n"
                "        factors=[make_factor('ishigami', f'x{i}', -math.pi, math.pi) for i in (1, 2, 3)]))\n"
                "    with tempfile.TemporaryDirectory() as tmp:\n"
                "        r = run_study(spec, pathlib.Path(tmp) / 's', workers=2, progress=False)\n"
                "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, r.wall_s)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        print(f"driver peak memory, {n:,}-run study (Ishigami test function, 2 workers): {int(out[0]) / 1024:.0f} MB "
              f"({float(out[1]):.1f} s)")


def main(args=None) -> int:
    repeats = getattr(args, "repeats", 3) or 3
    cases = {
        "baseline (120 months)": {},
        "large economy (120 months: 200 neoclouds, 50 lenders, 10,000 start-ups)": {
            "population.small_neoclouds": 195, "population.extra_lenders": 42, "population.startups": 10_000},
    }
    for label, kwargs in cases.items():
        seconds, agent_steps = time_run(repeats, **kwargs)
        print(f"{label}: {seconds:.2f} s per run (best of {repeats}), {agent_steps / seconds:,.0f} agent-steps/s")
    if getattr(args, "engine", False):
        engine_figures()
    n = getattr(args, "study_runs", 0) or 0
    if n:
        from .engine import default_workers
        wall = _timed_study(n, default_workers(), "bench_study")
        print(f"{n:,}-run baseline study (120 months each) on {default_workers()} workers: {wall:,.0f} s "
              f"({n / wall:.2f} runs/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
