"""gpucredit: an agent-based model of the AI-chip credit economy (a stylized research model, not a
forecast or investment advice)."""

from .ledger import AccountingError
from .model import GPUEconomy
from .parameters import PARAMETERS, ParameterError
from .scenarios import ScenarioError, load_scenario, shipped_scenarios

__all__ = ["GPUEconomy", "AccountingError", "ParameterError", "ScenarioError", "PARAMETERS", "load_scenario",
           "shipped_scenarios"]
