"""Speed benchmark: prints figures (never a timed test).

``gpucredit bench`` prints three figures, each under a header line saying what it measures:

[1] the baseline (120 months) on the previous code against the current code, side by side in one invocation.
    ``--vs REF`` names the previous code: a git ref, checked out in a temporary ``git worktree`` that is
    removed afterwards, or a directory with ``sim/`` in it (default: commit 8f8512b, before the restructure);
    ``--no-vs`` skips the comparison. Each side runs in a fresh interpreter of its own that imports only that
    side's code (``sim`` in the old top-level layout, ``gpucredit.sim`` in the installed one). The sides are
    interleaved over ``--repeats`` repeats (order alternating: P C, C P, ...) so that machine noise hits both
    alike, each repeat running ``--seeds`` seeds. Per side: median and minimum seconds per run, CPU seconds per
    run; the speed-up previous/current with its range over the repeats.
[2] the current baseline and a trivial Mesa model (Boltzmann wealth exchange) in this process, with the same
    number of agent-steps, so that the model's time per agent-step can be read against Mesa's own overhead.
[3] scaling of time and memory with the population (``--sizes``, default x1, x3, x10, x30, x100; ``--months``,
    default 60), each size in a fresh interpreter, and the exponent b of log(y) = a + b log(size) fitted by
    least squares; ``--scaling-previous`` also runs the sizes on the previous code.

``--engine`` adds the study engine (runs/s on 1 and 2 workers, overhead per run against the bare model run, the
driver's peak memory for a 100-run and a 10,000-run study); ``--study-runs N`` the wall time of an N-run
baseline study on all cores. ``--months M`` sets the months of every model run (default 120 for [1] and [2],
60 for [3]).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VS = "8f8512b"
BASELINE_MONTHS = 120
SCALING_MONTHS = 60
DEFAULT_SIZES = (1, 3, 10, 30, 100)
# The named firms of the roster (sim/roster.py), the same before and after the restructure: 5 hyperscalers,
# 5 neoclouds, 8 lenders, 4 AI labs and 2 chipmakers. Generic firms come from the population.* parameters.
NAMED_FIRMS = 24
NAMED_LENDERS = 8
LIMITS = {"repeats": (1, 100), "seeds": (1, 100), "study_runs": (0, 1_000_000)}
RESULT_MARK = "BENCH-RESULT "


class BenchInputError(ValueError):
    """A bad flag: reported as one line, exit status 2."""


class BenchRunError(RuntimeError):
    """A timed run or the set-up of the previous code failed: one line, exit status 3."""


# ====================================================================================================
# options
# ====================================================================================================
@dataclass
class Options:
    vs: str | None  # None: no comparison
    repeats: int
    seeds: int
    months: int | None
    sizes: list[int]
    scaling_previous: bool
    engine: bool
    study_runs: int
    repo: Path | None = None  # the git repository of the current code (for a ref)
    vs_dir: Path | None = None  # when --vs names a directory
    vs_commit: str = ""  # when --vs names a ref: its commit


def _parameter(name: str):
    from gpucredit.sim import PARAMETERS
    for p in PARAMETERS:
        if p.name == name:
            return p
    raise BenchRunError(f"the current code declares no parameter {name}")


def _int_in(flag: str, value, lo: int, hi: int, what: str = "an integer") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise BenchInputError(f"{flag} must be {what} from {lo:,} to {hi:,}, got {value}")
    return value


def max_size() -> int:
    """The largest population multiplier: population.startups reaches its declared maximum there."""
    p = _parameter("population.startups")
    return int(p.max // max(1, p.default))


def _sizes(text: str) -> list[int]:
    hi = max_size()
    message = (f"--sizes must be comma-separated integer population multipliers from 1 to {hi} "
               f"(population.startups reaches its declared max there), got '{text}'")
    try:
        sizes = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise BenchInputError(message) from None
    if not sizes or any(not 1 <= k <= hi for k in sizes):
        raise BenchInputError(message)
    return sorted(set(sizes))


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise BenchRunError(f"git {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def current_root() -> Path:
    """The source tree of the current code (the directory holding sim/, agents/, experiments/)."""
    return Path(__file__).resolve().parent.parent


def parse_options(args) -> Options:
    """Validate every flag before anything is timed; raises BenchInputError with a one-line message."""
    def get(name: str, default):
        value = getattr(args, name, None)
        return default if value is None else value

    months_param = _parameter("run.months")
    months = get("months", None)
    if months is not None:
        months = _int_in("--months", months, int(months_param.min), int(months_param.max))
    opts = Options(
        vs=None if get("no_vs", False) else get("vs", DEFAULT_VS),
        repeats=_int_in("--repeats", get("repeats", 5), *LIMITS["repeats"]),
        seeds=_int_in("--seeds", get("seeds", 3), *LIMITS["seeds"]),
        months=months,
        sizes=_sizes(get("sizes", ",".join(map(str, DEFAULT_SIZES)))),
        scaling_previous=bool(get("scaling_previous", False)),
        engine=bool(get("engine", False)),
        study_runs=_int_in("--study-runs", get("study_runs", 0), *LIMITS["study_runs"],
                           what="a number of runs (0: no study)"),
    )
    if get("no_vs", False) and getattr(args, "vs", None) is not None:
        raise BenchInputError("--vs and --no-vs exclude each other")
    if opts.scaling_previous and opts.vs is None:
        raise BenchInputError("--scaling-previous needs the previous code: drop --no-vs")
    if opts.vs is not None:
        path = Path(opts.vs).expanduser()
        if path.is_dir():
            if not (path / "sim" / "__init__.py").is_file():
                raise BenchInputError(f"--vs {opts.vs}: the directory has no sim/ package (give a git ref or a "
                                      f"source tree with sim/ in it)")
            opts.vs_dir = path.resolve()
            _layout(opts.vs_dir)  # refuses a tree it cannot import
        else:
            top = _git(current_root(), "rev-parse", "--show-toplevel", check=False)
            if top.returncode != 0:
                raise BenchInputError(f"--vs {opts.vs}: the current code at {current_root()} is not in a git "
                                      f"repository, so a ref cannot be checked out; give a directory or --no-vs")
            opts.repo = Path(top.stdout.strip())
            commit = _git(opts.repo, "rev-parse", "--verify", "--quiet", f"{opts.vs}^{{commit}}", check=False)
            if commit.returncode != 0:
                raise BenchInputError(f"--vs {opts.vs}: not a commit of {opts.repo} nor a directory (a shallow "
                                      f"clone may lack it; give a directory, another ref or --no-vs)")
            opts.vs_commit = commit.stdout.strip()
    return opts


# ====================================================================================================
# code under test: how a fresh interpreter imports one side
# ====================================================================================================
def _layout(root: Path) -> dict:
    """How to import the model of the source tree ``root``: the old top-level layout (``sim``) or the installed
    one (``gpucredit.sim``, mapped by pyproject.toml's [tool.setuptools] package-dir)."""
    mapping = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            package_dir = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"]
        except (KeyError, tomllib.TOMLDecodeError):
            package_dir = {}
        mapping = {name: str((root / path).resolve()) for name, path in package_dir.items()
                   if name.startswith("gpucredit.")}
    if "gpucredit.sim" in mapping:
        return {"layout": "mapped", "root": str(root), "packages": mapping}
    if (root / "sim" / "__init__.py").is_file():
        return {"layout": "toplevel", "root": str(root)}
    raise BenchInputError(f"--vs: cannot tell how to import the model of {root} (no sim/ package)")


CURRENT = {"layout": "installed", "root": ""}

# Memory of the running interpreter, bytes: (resident set size now, peak resident set size). On Linux from
# /proc/self/status (VmRSS, VmHWM): getrusage's ru_maxrss is not used there because Linux carries the parent's
# high-water mark across fork and exec into the child, so a child started by a large parent would report the
# parent's peak. Elsewhere ru_maxrss stands for both.
MEMORY = r'''
def _memory():
    import resource, sys
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return peak, peak
'''

# A fresh interpreter (python -P: nothing prepended to sys.path) imports one side's model, runs the given
# parameter sets and prints one JSON line: the model's source file, wall and CPU seconds per run, the resident
# set size after the imports and the peak resident set size at the end.
CHILD = MEMORY + r'''
import importlib.util, json, os, sys, time, types
cfg = json.loads(sys.argv[1])
if cfg["layout"] == "toplevel":
    sys.path.insert(0, cfg["root"])
    from sim import GPUEconomy
else:
    if cfg["layout"] == "mapped":
        packages = cfg["packages"]
        class _Mapped:
            @classmethod
            def find_spec(cls, name, path=None, target=None):
                if name in packages:
                    return importlib.util.spec_from_file_location(
                        name, os.path.join(packages[name], "__init__.py"),
                        submodule_search_locations=[packages[name]])
                return None
        sys.meta_path.insert(0, _Mapped)
        root = types.ModuleType("gpucredit")
        root.__path__ = []
        sys.modules["gpucredit"] = root
    from gpucredit.sim import GPUEconomy
import inspect
source = os.path.realpath(inspect.getsourcefile(GPUEconomy))
rss0 = _memory()[0]
runs = []
for run in cfg["runs"]:
    wall, cpu = time.perf_counter(), time.process_time()
    model = GPUEconomy(scenario="baseline", rng=run["seed"], **run["params"])
    while model.running:
        model.step()
    runs.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "steps": model.steps})
    del model
peak = _memory()[1]
print("BENCH-RESULT " + json.dumps({"source": source, "runs": runs, "rss0": rss0, "peak": peak}), flush=True)
'''


def run_child(side: dict, runs: list[dict], label: str) -> dict:
    """Run ``runs`` (each {"seed", "params"}) in a fresh interpreter importing ``side``'s model."""
    cfg = dict(side, runs=runs)
    with tempfile.TemporaryDirectory(prefix="gpucredit-bench-") as cwd:  # nothing of a source tree on sys.path
        result = subprocess.run([sys.executable, "-P", "-c", CHILD, json.dumps(cfg)], capture_output=True,
                                text=True, cwd=cwd)
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchRunError(f"the {label} run failed (exit {result.returncode}): {tail}")
    return json.loads(lines[-1][len(RESULT_MARK):])


@contextlib.contextmanager
def previous_code(opts: Options):
    """The previous side: a directory used as it is, or a temporary detached worktree of the ref (removed after)."""
    if opts.vs is None:
        yield None
        return
    if opts.vs_dir is not None:
        yield dict(_layout(opts.vs_dir), label=str(opts.vs_dir))
        return
    tmp = Path(tempfile.mkdtemp(prefix="gpucredit-bench-vs-"))
    tree = tmp / "previous"
    try:
        _git(opts.repo, "worktree", "add", "--detach", "--quiet", str(tree), opts.vs_commit)
        yield dict(_layout(tree), label=f"{opts.vs} = {opts.vs_commit[:9]}, temporary worktree")
    finally:
        if tree.exists():
            _git(opts.repo, "worktree", "remove", "--force", str(tree), check=False)
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        _git(opts.repo, "worktree", "prune", check=False)


# ====================================================================================================
# [1] previous against current, side by side
# ====================================================================================================
def _fmt_ratio(x: float) -> str:
    return f"{x:.2f}x"


def _seed_list(n: int) -> str:
    return "seed 0" if n == 1 else f"{n} seeds (0-{n - 1})"


def side_by_side(opts: Options, previous: dict) -> None:
    months = opts.months or BASELINE_MONTHS
    runs = [{"seed": s, "params": {"run.months": months}} for s in range(opts.seeds)]
    sides = {"previous": previous, "current": CURRENT}
    print(f"[1] baseline, {months} months: previous code ({previous['label']}) against current code, "
          f"{opts.repeats} repeat{'s' if opts.repeats > 1 else ''} x {_seed_list(opts.seeds)} per side; each repeat one fresh interpreter per side, order alternating "
          f"(P C, C P, ...); seconds per run include the model's construction, not interpreter start-up or imports")
    walls: dict[str, list[list[float]]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    sources = {}
    for r in range(opts.repeats):
        order = ("previous", "current") if r % 2 == 0 else ("current", "previous")
        for name in order:
            out = run_child(sides[name], runs, f"{name}-code baseline")
            sources[name] = out["source"]
            walls[name].append([run["wall"] for run in out["runs"]])
            cpus[name] += [run["cpu"] for run in out["runs"]]
    for name in sides:
        flat = [w for rep in walls[name] for w in rep]
        print(f"    {name:<8}  median {statistics.median(flat):6.3f} s/run   min {min(flat):6.3f} s/run   "
              f"CPU median {statistics.median(cpus[name]):6.3f} s/run   ({len(flat)} run{'s' if len(flat) > 1 else ''}; "
              f"{sources[name]})")
    if sources["previous"] == sources["current"]:
        print("    note: both sides imported the same source file")
    med = {name: statistics.median([w for rep in walls[name] for w in rep]) for name in sides}
    per_repeat = [sum(p) / sum(c) for p, c in zip(walls["previous"], walls["current"])]
    cpu_ratio = statistics.median(cpus["previous"]) / statistics.median(cpus["current"])
    print(f"    speed-up previous/current: {_fmt_ratio(med['previous'] / med['current'])} (median wall; over the "
          f"{len(per_repeat)} repeat{'s' if len(per_repeat) > 1 else ''} {_fmt_ratio(min(per_repeat))} to "
          f"{_fmt_ratio(max(per_repeat))}); CPU {_fmt_ratio(cpu_ratio)}")


# ====================================================================================================
# [2] the model against a trivial Mesa model, in this process
# ====================================================================================================
def firms(params: dict) -> int:
    """Firms in the economy: the named ones and the generic population (start-ups counted one by one, though
    they live in arrays)."""
    return NAMED_FIRMS + sum(int(params.get(name, _parameter(name).default)) for name in
                             ("population.small_neoclouds", "population.extra_lenders", "population.startups"))


def _mesa_classes():
    import mesa

    class MoneyAgent(mesa.Agent):
        """Boltzmann wealth exchange without space: an agent with wealth gives 1 unit to a random other agent."""

        def __init__(self, model, k: int):
            super().__init__(model)
            self.k = k
            self.wealth = 1

        def step(self):
            if self.wealth > 0:
                j = next(self.model.draws)
                other = self.model.pool[j + (j >= self.k)]
                other.wealth += 1
                self.wealth -= 1

    class WealthModel(mesa.Model):
        """N agents; each step every agent acts once in random order (shuffle_do, the model's seeded
        ``random``); recipients are drawn from the model's ``rng``."""

        def __init__(self, n: int, rng: int):
            super().__init__(rng=rng)
            self.n = n
            self.pool = [MoneyAgent(self, k) for k in range(n)]
            self.draws = iter(())

        def step(self):
            self.draws = iter(self.rng.integers(0, self.n - 1, size=self.n).tolist())
            self.agents.shuffle_do("step")

    return WealthModel


def mesa_reference(opts: Options) -> None:
    import mesa

    from gpucredit.sim import GPUEconomy

    months = opts.months or BASELINE_MONTHS
    n = firms({})
    agent_steps = n * months
    repeats = opts.seeds
    print(f"[2] current baseline ({months} months) and a trivial Mesa {mesa.__version__} model in this process, "
          f"alternating, {repeats} run{'s' if repeats > 1 else ''} each: Boltzmann wealth exchange, {n:,} agents "
          f"x {months} steps = {agent_steps:,} agent-steps, as many as the baseline's firms x months (its "
          f"{_parameter('population.startups').default:,} start-ups counted one by one, though array-backed)")
    WealthModel = _mesa_classes()
    model_s, mesa_s = [], []
    for seed in range(repeats):
        start = time.perf_counter()
        model = GPUEconomy(scenario="baseline", rng=seed, **{"run.months": months})
        while model.running:
            model.step()
        model_s.append(time.perf_counter() - start)
        del model
        start = time.perf_counter()
        toy = WealthModel(n, seed)
        for _ in range(months):
            toy.step()
        mesa_s.append(time.perf_counter() - start)
        assert sum(a.wealth for a in toy.pool) == n  # wealth is conserved
        del toy
    m, t = statistics.median(model_s), statistics.median(mesa_s)
    print(f"    gpucredit  median {m:6.3f} s/run = {m / agent_steps * 1e6:7.2f} us per agent-step "
          f"({agent_steps / m:,.0f} agent-steps/s)")
    print(f"    Mesa toy   median {t:6.3f} s/run = {t / agent_steps * 1e6:7.2f} us per agent-step "
          f"({agent_steps / t:,.0f} agent-steps/s)")
    print(f"    gpucredit takes {m / t:.1f}x the time of Mesa's trivial model per agent-step")


# ====================================================================================================
# [3] scaling with the population
# ====================================================================================================
def population(k: int) -> tuple[dict, list[str]]:
    """Parameters of the population at multiplier k and the clippings made to keep them in range.

    population.small_neoclouds and population.startups are multiplied by k; population.extra_lenders defaults
    to 0 (k x 0 is 0), so the lenders are scaled as a whole instead: 8 named lenders x k = 8 + 8 (k - 1) extra."""
    wanted = {
        "population.small_neoclouds": _parameter("population.small_neoclouds").default * k,
        "population.extra_lenders": _parameter("population.extra_lenders").default * k + NAMED_LENDERS * (k - 1),
        "population.startups": _parameter("population.startups").default * k,
    }
    params, clipped = {}, []
    for name, value in wanted.items():
        top = int(_parameter(name).max)
        params[name] = min(int(value), top)
        if value > top:
            clipped.append(f"x{k} {name} {int(value):,} -> {top:,} (declared max)")
    return params, clipped


def fit_exponent(sizes: list[float], values: list[float]) -> float | None:
    """b of log(y) = a + b log(size), least squares; None without two distinct sizes or with y <= 0."""
    import numpy as np

    if len(set(sizes)) < 2 or any(v <= 0 for v in values):
        return None
    b, _a = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(b)


def _fmt_b(b: float | None) -> str:
    return "n/a" if b is None else f"{b:.2f}"


def scaling(opts: Options, previous: dict | None) -> None:
    months = opts.months or SCALING_MONTHS
    sides = {"current": CURRENT}
    if opts.scaling_previous and previous is not None:
        sides["previous"] = previous
    clipped = [c for k in opts.sizes for c in population(k)[1]]
    print(f"[3] scaling, {months} months, population x{', x'.join(map(str, opts.sizes))} "
          f"({' and '.join(sides)} code): population.small_neoclouds and population.startups x k, lenders x k "
          f"(population.extra_lenders = {NAMED_LENDERS} (k - 1), its default 0 cannot be multiplied), clipped to "
          f"the declared max; one fresh interpreter per size and side, one run (seed 0); memory = peak RSS of the run "
          f"minus the RSS after the interpreter's imports (Linux VmHWM - VmRSS, as getrusage's ru_maxrss carries the "
          f"parent's peak into a child), not tracemalloc")
    results = {name: {} for name in sides}
    for k in opts.sizes:
        params, _ = population(k)
        for name in sides:
            out = run_child(sides[name], [{"seed": 0, "params": dict(params, **{"run.months": months})}],
                            f"{name}-code x{k} population")
            run = out["runs"][0]
            results[name][k] = (run["wall"], run["cpu"], max(0.0, out["peak"] - out["rss0"]) / 2**20)
    header = f"    {'side':<8}  {'size':>5}  {'firms':>8}  {'neoclouds':>9}  {'lenders':>7}  {'start-ups':>9}  " \
             f"{'wall s':>8}  {'CPU s':>8}  {'peak RSS MB':>11}"
    print(header)
    for k in opts.sizes:
        params, _ = population(k)
        for name in sides:
            wall, cpu, mem = results[name][k]
            print(f"    {name:<8}  {'x' + str(k):>5}  {firms(params):>8,}  "
                  f"{5 + params['population.small_neoclouds']:>9,}  "
                  f"{NAMED_LENDERS + params['population.extra_lenders']:>7,}  {params['population.startups']:>9,}  "
                  f"{wall:8.2f}  {cpu:8.2f}  {mem:11.1f}")
    if clipped:
        print(f"    clipped: {'; '.join(clipped)}")
    for name in sides:
        sizes = list(results[name])
        wall, cpu, mem = (list(col) for col in zip(*results[name].values()))
        counts = [firms(population(k)[0]) for k in sizes]
        note = " (n/a: needs two sizes)" if len(sizes) < 2 else (
            " (memory n/a: a size grew no peak RSS past the imports)" if min(mem) <= 0 else "")
        print(f"    {name}: fitted exponent b of log(y) = a + b log(size), size = multiplier x"
              f"{min(sizes)}-x{max(sizes)}: wall time {_fmt_b(fit_exponent(sizes, wall))}, CPU time "
              f"{_fmt_b(fit_exponent(sizes, cpu))}, peak RSS growth {_fmt_b(fit_exponent(sizes, mem))}; "
              f"against the firm count instead: wall {_fmt_b(fit_exponent(counts, wall))}, memory "
              f"{_fmt_b(fit_exponent(counts, mem))}{note}")
    if "previous" in sides:
        ratios = ", ".join(f"x{k} {results['previous'][k][0] / results['current'][k][0]:.2f}x" for k in opts.sizes)
        print(f"    speed-up previous/current by size (wall): {ratios}")


# ====================================================================================================
# [4] the study engine
# ====================================================================================================
def _baseline_study(runs: int, name: str):
    from .study import StudySpec, validate
    return validate(StudySpec(name=name, design="replicate", replicates=runs, seed=99))


def _timed_study(runs: int, workers: int, name: str) -> float:
    from .engine import run_study
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_study(_baseline_study(runs, name), Path(tmp) / "study", workers=workers, progress=False)
        wall = time.perf_counter() - start
        if result.failed:
            raise BenchRunError(f"a study run failed: {result.runs['error'].dropna().iloc[0]}")
    return wall


def engine_figures(runs: int = 16) -> None:
    """Runs/s on 1 and 2 workers, overhead against the bare model, and fixed start-up cost."""
    from .simulators import simulate
    from .study import seeds

    print(f"[4] study engine, baseline {BASELINE_MONTHS} months: {runs} runs bare in this process, then as studies "
          f"on 1 and 2 workers (start-up cost measured with a 1-run study); driver memory of large studies")
    replicate_seeds = seeds(_baseline_study(runs, "bare"))[1]
    start = time.perf_counter()
    for seed in replicate_seeds:
        simulate("gpucredit", "baseline", {}, seed, None)
    bare = (time.perf_counter() - start) / runs
    print(f"    bare model run (outcomes included, in-process): {bare:.3f} s per run")

    per_run = {}
    for workers in (1, 2):
        fixed = _timed_study(1, workers, f"startup{workers}")
        wall = _timed_study(runs, workers, f"bench{workers}")
        per_run[workers] = (wall - fixed) / (runs - 1)
        print(f"    engine, {workers} worker{'s' if workers > 1 else ''}: {runs} runs in {wall:.1f} s "
              f"({runs / wall:.2f} runs/s; {1 / per_run[workers]:.2f} runs/s after a start-up of {fixed:.1f} s)")
    print(f"    2-worker speed-up: {per_run[1] / per_run[2]:.2f}x (steady state)")
    print(f"    engine overhead per run against the bare run (1 worker, steady state): "
          f"{(per_run[1] - bare) / bare:+.1%}")

    for n in (100, 10_000):
        code = (MEMORY + "import math, tempfile, pathlib\n"
                "from gpucredit.experiments.study import StudySpec, validate, make_factor\n"
                "from gpucredit.experiments.engine import run_study\n"
                "if __name__ == '__main__':\n"
                f"    spec = validate(StudySpec(name='mem', model='ishigami', design='lhs', samples={n}, seed=1,\n"
                "        factors=[make_factor('ishigami', f'x{i}', -math.pi, math.pi) for i in (1, 2, 3)]))\n"
                "    with tempfile.TemporaryDirectory() as tmp:\n"
                "        r = run_study(spec, pathlib.Path(tmp) / 's', workers=2, progress=False)\n"
                "    print(_memory()[1], r.wall_s)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:
            raise BenchRunError(f"the {n:,}-run memory study failed: "
                                f"{(out.stderr.strip().splitlines() or ['no output'])[-1]}")
        peak, wall_s = out.stdout.split()[-2:]
        print(f"    driver peak memory, {n:,}-run study (Ishigami test function, 2 workers): {int(peak) / 2**20:.0f} MB "
              f"({float(wall_s):.1f} s)")


def study_figure(n: int) -> None:
    from .engine import default_workers
    workers = default_workers()
    print(f"[5] a baseline study of {n:,} runs ({BASELINE_MONTHS} months each) on {workers} workers, all cores")
    wall = _timed_study(n, workers, "bench_study")
    print(f"    {n:,} runs in {wall:,.1f} s ({n / wall:.2f} runs/s)")


# ====================================================================================================
def main(args=None) -> int:
    from .cli import EXIT_INPUT, EXIT_RUN, _fail

    if args is None:  # python -m gpucredit.experiments.bench [flags]
        from .cli import main as cli_main
        return cli_main(["bench", *sys.argv[1:]])
    try:
        opts = parse_options(args)
    except BenchInputError as exc:
        return _fail(exc, EXIT_INPUT)
    except BenchRunError as exc:
        return _fail(exc, EXIT_RUN)

    import numpy as np
    print(f"gpucredit bench: {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; "
          f"current code {current_root()}; each figure under a header line [n] saying what it measures")
    start = time.perf_counter()
    try:
        with previous_code(opts) as previous:
            if previous is not None:
                side_by_side(opts, previous)
            else:
                print("[1] baseline against the previous code: skipped (--no-vs)")
            sys.stdout.flush()
            mesa_reference(opts)
            sys.stdout.flush()
            scaling(opts, previous)
        if opts.engine:
            sys.stdout.flush()
            engine_figures()
        if opts.study_runs:
            sys.stdout.flush()
            study_figure(opts.study_runs)
    except BenchRunError as exc:
        sys.stdout.flush()
        return _fail(exc, EXIT_RUN)
    print(f"bench done in {time.perf_counter() - start:,.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
