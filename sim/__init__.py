"""gpucredit's engine: an agent-based model of the AI-chip credit economy (a stylized research model, not a
forecast or investment advice).

The public names below are imported lazily (PEP 562), so that importing one module of the engine (say
``gpucredit.sim.parameters`` for the command line's help, or ``gpucredit.sim.expectations`` from an agent's
decision rule) does not import the whole model, Mesa included.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "GPUEconomy": "model",
    "AccountingError": "ledger",
    "ParameterError": "parameters",
    "PARAMETERS": "parameters",
    "ScenarioError": "scenarios",
    "load_scenario": "scenarios",
    "shipped_scenarios": "scenarios",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
