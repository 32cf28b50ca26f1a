"""What a study can run: the gpucredit economy, and analytic test functions for checking the analysis.

A simulator maps (scenario, parameter values, seed, months) to a table with one row per period and, from it,
the scalar outcomes of :mod:`gpucredit.experiments.outcomes`; the economy also returns its firm-level histories
(:mod:`gpucredit.sim.reporting.firms`: one row per neocloud and month), which a study stores beside the series. The study engine (:mod:`gpucredit.experiments.engine`) only ever calls
:func:`simulate`, so a study of the Ishigami function goes through exactly the same sampling, execution, storage
and analysis path as a study of the economy: that is how the test suite checks Sobol indices against their
analytic values.

* ``gpucredit`` -- :class:`gpucredit.sim.GPUEconomy`; parameters are those of ``gpucredit params``.
* ``ishigami``  -- y = sin x1 + a sin^2 x2 + b x3^4 sin x1 (a = 7, b = 0.1), x_i in [-pi, pi]; analytic
  first-order indices (0.3139, 0.4424, 0) and total-order indices (0.5576, 0.4424, 0.2437)
  (Ishigami and Homma 1990; Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*, p. 179).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from gpucredit.sim.parameters import BY_NAME, Parameter, ParameterError, canonical_name

from .outcomes import OUTCOME_NAMES, run_outcomes


@dataclass(frozen=True)
class Simulator:
    name: str
    description: str
    outcomes: tuple[str, ...]
    parameter: Callable[[str], Parameter]      # name -> declaration (raises ParameterError if unknown)
    resolve: Callable[[str, dict], dict]       # (scenario, overrides) -> every parameter value used
    run: Callable[[str, dict, int, int | None], tuple[pd.DataFrame, pd.DataFrame | None]]  # (series, firm panel)
    summarise: Callable[[pd.DataFrame], dict[str, float]]
    uses_scenarios: bool = True


# ====================================================================================================
# gpucredit
# ====================================================================================================
def _gpucredit_parameter(name: str) -> Parameter:
    return BY_NAME[canonical_name(name)]


def _gpucredit_resolve(scenario: str, overrides: dict) -> dict:
    from gpucredit.sim.parameters import resolve
    from gpucredit.sim.scenarios import load_scenario

    spec = load_scenario(scenario)
    values = resolve(overrides, spec.parameters)
    return {"parameters": values, "roster": spec.roster}


def _gpucredit_run(scenario: str, overrides: dict, seed: int, months: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The monthly series and the firm panel of one run (the panel only reads the economy after each month)."""
    from gpucredit.sim.model import GPUEconomy
    from gpucredit.sim.reporting.firms import FirmPanel

    from .run import timeseries

    kwargs = dict(overrides)
    if months is not None:
        kwargs["run.months"] = months
    model = GPUEconomy(scenario=scenario, rng=seed, record="series", **kwargs)  # a study stores the series only
    panel = FirmPanel()
    while model.running:
        model.step()
        panel.observe(model)
    return timeseries(model), firm_frame(panel.columns)


def firm_frame(columns: dict[str, list]) -> pd.DataFrame:
    """The firm panel as a compact table: small integer types for months and flags, the firm name categorical."""
    frame = pd.DataFrame(columns)
    frame["month"] = frame["month"].astype("int16")
    for name in ("named", "nvidia_backstop", "nvidia_rent_back", "failed"):
        frame[name] = frame[name].astype("int8")
    frame["firm"] = frame["firm"].astype("category")
    return frame


GPUCREDIT = Simulator(
    name="gpucredit",
    description="The AI-chip credit economy (gpucredit.sim.GPUEconomy)",
    outcomes=OUTCOME_NAMES,
    parameter=_gpucredit_parameter,
    resolve=_gpucredit_resolve,
    run=_gpucredit_run,
    summarise=run_outcomes,
)


# ====================================================================================================
# Ishigami
# ====================================================================================================
ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1
_ISHIGAMI_PARAMS = {f"x{i}": Parameter(f"x{i}", 0.0, -math.pi, math.pi, "", f"Ishigami input x{i}") for i in (1, 2, 3)}


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total-order Sobol indices of the Ishigami function."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / var, np.array([v1 + v13, v2, v13]) / var


def _ishigami_parameter(name: str) -> Parameter:
    if name not in _ISHIGAMI_PARAMS:
        raise ParameterError(f"unknown parameter '{name}'; the ishigami test function takes x1, x2, x3")
    return _ISHIGAMI_PARAMS[name]


def _ishigami_resolve(scenario: str, overrides: dict) -> dict:
    values = {name: p.default for name, p in _ISHIGAMI_PARAMS.items()}
    for name, value in overrides.items():
        values[name] = _ishigami_parameter(name).coerce(value)
    return {"parameters": values}


def _ishigami_run(scenario: str, overrides: dict, seed: int, months: int | None) -> pd.DataFrame:
    x = _ishigami_resolve(scenario, overrides)["parameters"]
    y = (math.sin(x["x1"]) + ISHIGAMI_A * math.sin(x["x2"]) ** 2
         + ISHIGAMI_B * x["x3"] ** 4 * math.sin(x["x1"]))
    return pd.DataFrame({"date": ["-"], "y": [y]}), None


ISHIGAMI = Simulator(
    name="ishigami",
    description="Ishigami test function with known Sobol indices (for checking the sensitivity pipeline)",
    outcomes=("y",),
    parameter=_ishigami_parameter,
    resolve=_ishigami_resolve,
    run=_ishigami_run,
    summarise=lambda df: {"y": float(df["y"].iloc[0])},
    uses_scenarios=False,
)

SIMULATORS: dict[str, Simulator] = {s.name: s for s in (GPUCREDIT, ISHIGAMI)}


def get_simulator(name: str) -> Simulator:
    if name not in SIMULATORS:
        raise ValueError(f"unknown model '{name}'; expected one of {', '.join(SIMULATORS)}")
    return SIMULATORS[name]


def simulate(model: str, scenario: str, overrides: dict[str, Any], seed: int, months: int | None
             ) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame | None]:
    """Run one simulation and summarise it: (per-period table, scalar outcomes, firm panel or None)."""
    simulator = get_simulator(model)
    table, firms = simulator.run(scenario, overrides, seed, months)
    return table, simulator.summarise(table), firms
