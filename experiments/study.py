"""A study: which simulations to run. Its specification, validation, experimental design and run plan.

A study varies some parameters of one model over declared ranges, under one or more scenarios, with several
random replicates per design point. It is written as a TOML file (``gpucredit sweep --spec study.toml``) or built
from the command line (``--vary NAME=LO:HI``)::

    name = "phase_ltv_cadence"
    description = "Crisis probability over max LTV x generation cadence"
    scenario = "baseline"        # or: scenarios = ["baseline", "no_circular_financing"]
    design = "grid"              # replicate | grid | lhs | sobol | morris
    samples = 8                  # grid: levels per factor; lhs: points; sobol: base sample N (a power of 2),
                                 # giving N (d + 2) points; morris: trajectories, giving r (d + 1) points
    replicates = 4               # seeds per design point
    months = 120                 # default: the scenario's run.months
    seed = 2026                  # root seed of the design and of every replicate seed
    levels = 4                   # morris only: grid levels

    [vary]                       # parameter = [low, high], names and bounds as in `gpucredit params`
    "lenders.max_ltv" = [0.5, 0.9]
    "technology.cadence_months" = [6, 24]

    [set]                        # parameters fixed for the whole study
    "population.startups" = 1000

Seeds: ``numpy.random.SeedSequence(seed)`` spawns two children, the first seeds the design sampler, the second
spawns one child per replicate; replicate r runs with the same seed at every design point (common random
numbers, which sharpen comparisons between points). Integer parameters are sampled on [low - 0.5, high + 0.5]
and rounded, so every integer level gets the same share of the sample.

A run's identity (``run_id``) is a hash of the model, the scenario (name and file contents), the parameter
values set, the seed, the months and the code version (:func:`code_version`), so a study re-run in the same
directory skips every run already stored, and a changed model never reuses stale results.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gpucredit.sim.inputs import InputError, toml_file
from gpucredit.sim.parameters import ParameterError

from .simulators import get_simulator

DESIGNS = ("replicate", "grid", "lhs", "sobol", "morris")
SPEC_KEYS = ("name", "description", "model", "scenario", "scenarios", "design", "samples", "replicates", "months",
             "seed", "levels", "vary", "set")
MAX_RUNS = 10_000_000
REPO = Path(__file__).resolve().parent.parent


class StudyError(ValueError):
    """Bad study specification: reported as one line naming the field and what is allowed."""


@dataclass(frozen=True)
class Factor:
    """A varied parameter and its range."""

    name: str
    low: float
    high: float
    integer: bool = False


@dataclass
class StudySpec:
    name: str = "study"
    description: str = ""
    model: str = "gpucredit"
    scenarios: list[str] = field(default_factory=lambda: ["baseline"])
    design: str = "replicate"
    factors: list[Factor] = field(default_factory=list)
    samples: int = 0
    replicates: int = 1
    months: int | None = None
    seed: int = 0
    levels: int = 4
    fixed: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------------
    def as_dict(self) -> dict:
        """The specification as plain data (stored in study.json and compared on resume)."""
        data = asdict(self)
        data["factors"] = [asdict(f) for f in self.factors]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "StudySpec":
        data = dict(data)
        data["factors"] = [Factor(**f) for f in data.get("factors", [])]
        return cls(**data)

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]

    def problem(self) -> dict:
        """The SALib problem: names and sampling bounds (integers widened by half a unit each side)."""
        bounds = [[f.low - 0.5, f.high + 0.5] if f.integer else [f.low, f.high] for f in self.factors]
        return {"num_vars": len(self.factors), "names": self.factor_names, "bounds": bounds}


# ====================================================================================================
# validation
# ====================================================================================================
def _positive_int(value: Any, field_name: str, low: int = 1, high: int = MAX_RUNS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise StudyError(f"study field '{field_name}': {value!r} is not an integer; expected an integer in [{low}, {high}]")
    try:
        number = float(value)
    except ValueError:
        raise StudyError(f"study field '{field_name}': {value!r} is not an integer; expected an integer in [{low}, {high}]") from None
    if not math.isfinite(number) or number != int(number):
        raise StudyError(f"study field '{field_name}': {value!r} is not an integer; expected an integer in [{low}, {high}]")
    if not low <= number <= high:
        raise StudyError(f"study field '{field_name}': {int(number)} is out of range; expected an integer in [{low}, {high}]")
    return int(number)


def make_factor(model: str, name: str, low: Any, high: Any) -> Factor:
    """Validate one varied parameter against its declaration (name, numeric kind, declared bounds)."""
    simulator = get_simulator(model)
    try:
        param = simulator.parameter(name)
    except ParameterError as exc:
        raise StudyError(f"vary: {exc}") from None
    if param.choices is not None or param.kind is bool:
        raise StudyError(f"vary: parameter '{param.name}' takes {param.allowed()}; only numeric parameters can be "
                         f"varied over a range")
    bounds = []
    for label, value in (("low", low), ("high", high)):
        try:
            bounds.append(param.coerce(value))
        except ParameterError as exc:
            raise StudyError(f"vary: {label} bound of {exc}") from None
    lo, hi = bounds
    if not lo < hi:
        raise StudyError(f"vary: parameter '{param.name}': low bound {lo:g} must be below high bound {hi:g}")
    return Factor(param.name, float(lo), float(hi), param.kind is int)


def parse_vary(text: str, model: str = "gpucredit") -> Factor:
    """``NAME=LO:HI`` from the command line."""
    if "=" not in text or ":" not in text.split("=", 1)[1]:
        raise StudyError(f"--vary expects NAME=LO:HI (e.g. lenders.max_ltv=0.5:0.9), got '{text}'")
    name, bounds = text.split("=", 1)
    low, high = bounds.split(":", 1)
    return make_factor(model, name.strip(), low.strip(), high.strip())


def validate(spec: StudySpec) -> StudySpec:
    """Check every field of a specification; return it with names made canonical. Raises :class:`StudyError`."""
    try:
        simulator = get_simulator(spec.model)
    except ValueError as exc:
        raise StudyError(f"study field 'model': {exc}") from None
    if spec.design not in DESIGNS:
        raise StudyError(f"study field 'design': '{spec.design}' is not a design; expected one of {', '.join(DESIGNS)}")
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise StudyError("study field 'name': expected a non-empty string")
    spec.replicates = _positive_int(spec.replicates, "replicates")
    spec.seed = _positive_int(spec.seed, "seed", 0, 2**63 - 1)
    spec.levels = _positive_int(spec.levels, "levels", 2, 1000)
    if spec.months is not None:
        spec.months = _positive_int(spec.months, "months", 1, 600)
    if isinstance(spec.scenarios, str) or not spec.scenarios:
        raise StudyError("study field 'scenarios': expected a non-empty list of scenario names")
    if len(set(spec.scenarios)) != len(spec.scenarios):
        raise StudyError(f"study field 'scenarios': {spec.scenarios} lists a scenario twice")
    if simulator.uses_scenarios:
        from gpucredit.sim.scenarios import ScenarioError, load_scenario
        for scenario in spec.scenarios:
            try:
                load_scenario(scenario)
            except ScenarioError as exc:
                raise StudyError(f"study field 'scenarios': {exc}") from None
    # factors: re-validate (a spec read back from a file may carry stale bounds)
    spec.factors = [make_factor(spec.model, f.name, f.low, f.high) for f in spec.factors]
    names = spec.factor_names
    if len(set(names)) != len(names):
        raise StudyError(f"vary: a parameter is varied twice ({', '.join(names)})")
    fixed = {}
    for name, value in spec.fixed.items():
        try:
            param = simulator.parameter(name)
            fixed[param.name] = param.coerce(value)
        except ParameterError as exc:
            raise StudyError(f"set: {exc}") from None
    clash = sorted(set(fixed) & set(names))
    if clash:
        raise StudyError(f"set: {', '.join(clash)} is both varied and fixed")
    if "run.months" in fixed or "run.months" in names:
        raise StudyError("the number of months is the study field 'months', not a parameter to set or vary")
    spec.fixed = fixed
    # design-specific rules
    if spec.design == "replicate":
        if spec.factors:
            raise StudyError("design 'replicate' varies no parameter; use grid, lhs, sobol or morris with --vary")
        spec.samples = 0
    else:
        if not spec.factors:
            raise StudyError(f"design '{spec.design}' needs at least one varied parameter (--vary NAME=LO:HI or [vary])")
        low = 2 if spec.design == "grid" else 1
        spec.samples = _positive_int(spec.samples, "samples", low)
        if spec.design == "sobol" and spec.samples & (spec.samples - 1):
            raise StudyError(f"study field 'samples': {spec.samples} is not a power of 2; Sobol sequences need "
                             f"N = 2^k (e.g. 64, 128, 256)")
        if spec.design in ("sobol", "morris") and len(spec.scenarios) != 1:
            raise StudyError(f"design '{spec.design}' analyses one scenario; got {len(spec.scenarios)}")
        if spec.design == "morris" and len(spec.factors) < 2:
            raise StudyError("design 'morris' needs at least two varied parameters")
    # joint constraints of the fixed values (e.g. markup_min <= markup_max) under each scenario
    for scenario in spec.scenarios:
        try:
            simulator.resolve(scenario, dict(spec.fixed))
        except ParameterError as exc:
            raise StudyError(f"set: {exc}") from None
    n_runs = len(spec.scenarios) * n_points(spec) * spec.replicates
    if n_runs > MAX_RUNS:
        raise StudyError(f"the study has {n_runs:,} runs; at most {MAX_RUNS:,} are allowed")
    return spec


def n_points(spec: StudySpec) -> int:
    """Design points per scenario."""
    d = len(spec.factors)
    if spec.design == "replicate":
        return 1
    if spec.design == "grid":
        return int(np.prod([len(_grid_levels(f, spec.samples)) for f in spec.factors]))
    if spec.design == "lhs":
        return spec.samples
    if spec.design == "sobol":
        return spec.samples * (d + 2)
    return spec.samples * (d + 1)  # morris


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study specification file (TOML)."""
    path = Path(path)
    try:
        data = tomllib.loads(toml_file(path, "--spec"))
    except InputError as exc:
        raise StudyError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"study file {path}: malformed TOML ({exc})") from None
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise StudyError(f"study file {path}: unknown field(s) {unknown}; allowed: {', '.join(SPEC_KEYS)}")
    if "scenario" in data and "scenarios" in data:
        raise StudyError(f"study file {path}: give either 'scenario' or 'scenarios', not both")
    scenarios = data.get("scenarios", [data.get("scenario", "baseline")])
    if isinstance(scenarios, str) or not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
        raise StudyError(f"study file {path}: 'scenarios' must be a list of scenario names")
    model = str(data.get("model", "gpucredit"))
    vary = data.get("vary", {})
    fixed = data.get("set", {})
    for key, table in (("vary", vary), ("set", fixed)):
        if not isinstance(table, dict):
            raise StudyError(f"study file {path}: [{key}] must be a table of parameter names")
    try:
        factors = []
        for name, bounds in vary.items():
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise StudyError(f"vary: parameter '{name}': expected [low, high], got {bounds!r}")
            factors.append(make_factor(model, name, bounds[0], bounds[1]))
        spec = StudySpec(name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
                         model=model, scenarios=list(scenarios), design=str(data.get("design", "replicate")),
                         factors=factors, samples=data.get("samples", 0), replicates=data.get("replicates", 1),
                         months=data.get("months"), seed=data.get("seed", 0), levels=data.get("levels", 4),
                         fixed=dict(fixed))
        return validate(spec)
    except StudyError as exc:
        raise StudyError(f"study file {path}: {exc}") from None


# ====================================================================================================
# seeds and design
# ====================================================================================================
def _int63(seq: np.random.SeedSequence) -> int:
    hi, lo = seq.generate_state(2, dtype=np.uint32)
    return int((int(hi) << 32 | int(lo)) >> 1)


def seeds(spec: StudySpec) -> tuple[int, list[int]]:
    """(design sampler seed, one model seed per replicate), all spawned from ``spec.seed``."""
    design_seq, replicate_seq = np.random.SeedSequence(spec.seed).spawn(2)
    return _int63(design_seq), [_int63(child) for child in replicate_seq.spawn(spec.replicates)]


def _grid_levels(factor: Factor, n: int) -> np.ndarray:
    levels = np.linspace(factor.low, factor.high, n)
    if factor.integer:
        levels = np.unique(np.rint(levels))
    return levels


def problem_json(spec: StudySpec) -> dict | None:
    """The SALib problem of a study with varied parameters (None for replicates)."""
    return spec.problem() if spec.factors else None


def design_matrix(spec: StudySpec) -> np.ndarray:
    """The sampled parameter values: one row per design point, one column per factor (unrounded)."""
    if spec.design == "replicate":
        return np.zeros((1, 0))
    if spec.design == "grid":
        grids = [_grid_levels(f, spec.samples) for f in spec.factors]
        return np.array(list(itertools.product(*grids)), dtype=float)
    from SALib.sample import latin, morris, sobol

    design_seed, _ = seeds(spec)
    problem = spec.problem()
    if spec.design == "lhs":
        return latin.sample(problem, spec.samples, seed=design_seed)
    if spec.design == "sobol":
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib's note on skip_values; N is validated as a power of 2
            return sobol.sample(problem, spec.samples, calc_second_order=False, seed=design_seed)
    return morris.sample(problem, spec.samples, num_levels=spec.levels, seed=design_seed)


def point_values(spec: StudySpec, row: np.ndarray) -> dict[str, float | int]:
    """A design row as parameter values: integers rounded and clipped into their declared range."""
    values: dict[str, float | int] = {}
    for factor, x in zip(spec.factors, row):
        if factor.integer:
            values[factor.name] = int(min(max(round(float(x)), factor.low), factor.high))
        else:
            values[factor.name] = float(min(max(float(x), factor.low), factor.high))
    return values


# ====================================================================================================
# run identity and the plan
# ====================================================================================================
@lru_cache(maxsize=1)
def code_version() -> str:
    """Fingerprint of the code that shapes results: every source file of sim/ and agents/, the outcome and
    simulator definitions and the package version (so an edit to the model changes every run's identity)."""
    from importlib import metadata

    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("gpucredit").encode())
    except metadata.PackageNotFoundError:
        pass
    files = sorted(list((REPO / "sim").rglob("*.py")) + list((REPO / "agents").rglob("*.py"))
                   + [REPO / "experiments" / "outcomes.py", REPO / "experiments" / "simulators.py"]
                   + list((REPO / "experiments" / "scenarios").glob("*.toml")))
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def _scenario_fingerprint(model: str, scenario: str) -> str:
    if not get_simulator(model).uses_scenarios:
        return ""
    from gpucredit.sim.scenarios import load_scenario

    path = Path(load_scenario(scenario).path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_identity(model: str, scenario: str, overrides: dict, seed: int, months: int | None,
                 code: str | None = None) -> str:
    """The hash that names a run: model, scenario (and its file), parameter values set, seed, months, code."""
    key = {"model": model, "scenario": scenario, "scenario_file": _scenario_fingerprint(model, scenario),
           "overrides": {k: overrides[k] for k in sorted(overrides)}, "seed": int(seed), "months": months,
           "code": code or code_version()}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=float).encode()).hexdigest()[:20]


def build_plan(spec: StudySpec) -> pd.DataFrame:
    """Every run of the study, in a fixed order: ``run_id, scenario, point, replicate, seed`` and one column per
    varied parameter. A run shared by two design points (e.g. integer factors rounding to the same level) appears
    on both rows with the same ``run_id`` and is simulated once."""
    _, replicate_seeds = seeds(spec)
    X = design_matrix(spec)
    points = [point_values(spec, row) for row in X]
    code = code_version()
    rows = []
    for scenario in spec.scenarios:
        for p, values in enumerate(points):
            overrides = {**spec.fixed, **values}
            for r, seed in enumerate(replicate_seeds):
                rows.append({"run_id": run_identity(spec.model, scenario, overrides, seed, spec.months, code),
                             "scenario": scenario, "point": p, "replicate": r, "seed": seed, **values})
    plan = pd.DataFrame(rows)
    plan["seed"] = plan["seed"].astype("int64")
    return plan
