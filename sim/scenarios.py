"""Scenario files: TOML under ``experiments/scenarios/``, each differing from baseline only in the parameters
it names.

A scenario file has a ``name``, a one-line ``description``, a ``[parameters]`` table of dotted parameter
names (validated against :mod:`gpucredit.sim.parameters`) and optionally a ``[roster]`` table renaming or removing
named agents (see :mod:`gpucredit.sim.roster`), and ``[[shocks]]`` tables of dated shocks (see :mod:`gpucredit.sim.shocks`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .inputs import InputError, toml_file
from .parameters import ParameterError, resolve
from .shocks import ShockError, parse_shocks
from .roster import RosterError, validate_roster

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"


class ScenarioError(InputError):
    """Unknown scenario or malformed scenario file."""


@dataclass
class Scenario:
    name: str
    description: str
    parameters: dict = field(default_factory=dict)
    roster: dict = field(default_factory=dict)
    path: str = ""
    shocks: tuple = ()


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name, or a scenario file by path; validate every parameter."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    name_or_path = str(name_or_path)
    if name_or_path in shipped_scenarios():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    elif name_or_path.endswith(".toml"):
        path = Path(name_or_path)
    else:
        raise ScenarioError(f"unknown scenario '{name_or_path}'; shipped scenarios: {', '.join(shipped_scenarios())} "
                            f"(or a path to a .toml file)")
    try:
        data = tomllib.loads(toml_file(path, "scenario file"))
    except InputError as exc:
        raise ScenarioError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path}: malformed TOML ({exc})") from None
    unknown = set(data) - {"name", "description", "parameters", "roster", "shocks"}
    if unknown:
        raise ScenarioError(f"scenario file {path}: unknown key(s) {sorted(unknown)}; allowed: name, description, parameters, roster, shocks")
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise ScenarioError(f"scenario file {path}: [parameters] must be a table of name = value")
    try:
        resolve(params)
    except ParameterError as exc:
        raise ScenarioError(f"scenario file {path}: {exc}") from None
    roster = data.get("roster", {})
    try:
        validate_roster(roster)
    except RosterError as exc:
        raise ScenarioError(f"scenario file {path}: {exc}") from None
    try:
        shocks = parse_shocks(data.get("shocks", []), f"scenario file {path}")
    except ShockError as exc:
        raise ScenarioError(str(exc)) from None
    return Scenario(str(data.get("name", path.stem)), str(data.get("description", "")), dict(params), dict(roster), str(path),
                    shocks)
