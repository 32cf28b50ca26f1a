"""Cross-parameter constraints: the part of the parameter schema that ranges cannot express.

Each parameter has its own declared range (:mod:`.parameters`); some combinations of values inside those ranges
still make no economic sense, or the model's rules silently ignore one of the values (a markup floor above the
ceiling, revenue shares adding up to more than the whole). Each such restriction is declared once here, as a named
linear inequality

    sum(left) <= sum(right) + offset

over the dotted parameter names, with a one-line economic reason. :func:`~.parameters.resolve` checks every
constraint once, when a parameter set is built, and refuses a set that breaks one with a single line naming the
parameters and their values; ``gpucredit params`` lists them (``--format json``: ``coefficients`` and ``bound``
give the same inequality as ``sum(coefficient x value) <= bound``, what a sampler needs to respect them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

TOLERANCE = 1e-9  # relative slack for float rounding (0.7 + 0.3 is not 1.0 in every order of summation)


@dataclass(frozen=True)
class Constraint:
    """``sum(left) <= sum(right) + offset`` over parameter values; ``name`` is a short identifier."""

    name: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    offset: float
    description: str

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.left + self.right

    @property
    def coefficients(self) -> dict[str, float]:
        """The inequality as ``sum(coefficient x value) <= bound``."""
        return {**{n: 1.0 for n in self.left}, **{n: -1.0 for n in self.right}}

    @property
    def bound(self) -> float:
        return self.offset

    def expression(self) -> str:
        """The inequality as a researcher writes it, e.g. ``nvidia.markup_min <= nvidia.markup_max``."""
        rhs = " + ".join(self.right)
        if self.offset:
            rhs = f"{rhs} {'+' if self.offset > 0 else '-'} {abs(self.offset):g}" if rhs else f"{self.offset:g}"
        return f"{' + '.join(self.left)} <= {rhs or '0'}"

    def holds(self, values: Mapping[str, Any]) -> bool:
        lhs = sum(float(values[n]) for n in self.left)
        rhs = sum(float(values[n]) for n in self.right) + self.offset
        return lhs <= rhs + TOLERANCE * max(1.0, abs(lhs), abs(rhs))

    def violation(self, values: Mapping[str, Any]) -> str:
        """What a researcher reads when the constraint is broken: the inequality and the values that break it."""
        given = ", ".join(f"{n} = {_fmt(values[n])}" for n in self.parameters)
        return f"parameters conflict ({self.name}): {self.expression()} is required, got {given}"

    def as_dict(self) -> dict:
        return {"name": self.name, "parameters": list(self.parameters), "expression": self.expression(),
                "coefficients": self.coefficients, "bound": self.bound, "description": self.description}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint("markup_band", ("nvidia.markup_min",), ("nvidia.markup_max",), 0.0,
               "The markup floor (deep glut) must not exceed the ceiling (deep shortage): the markup is kept between "
               "them, and with the floor above the ceiling the floor would be ignored"),
    Constraint("backstop_window", ("nvidia.backstop_start_year",), ("nvidia.backstop_end_year",), 0.0,
               "The capacity backstop must not end before it is signed (nvidia.backstop_cap = 0 switches it off)"),
    Constraint("revenue_shares", ("demand.lab_share", "demand.startup_share"), (), 1.0,
               "Labs and start-ups together earn at most all AI revenue (hyperscalers' AI services earn the rest); "
               "otherwise the start-ups' share would be cut to what the labs leave"),
    Constraint("adoption_ceiling", ("demand.initial_ai_revenue",), ("demand.market_size",), 0.0,
               "AI revenue starts at or below the median market size (adoption rises from one towards the other)"),
    Constraint("depreciation_life", ("technology.accounting_life_months",), ("technology.physical_life_months",), 0.0,
               "GPUs are depreciated over at most their physical life (straight-line depreciation over a longer life "
               "overstates book values and understates the full cost of new capacity)"),
    Constraint("contract_terms", ("contracts.term_spread",), ("contracts.term_months",), -1.0,
               "The shortest contract term, contracts.term_months - contracts.term_spread, is at least one month "
               "(terms are drawn uniformly around the mean; a longer spread would be cut at one month, raising the mean)"),
    Constraint("covenant_above_origination", ("lenders.max_ltv",), ("lenders.max_covenant_ltv",), 0.0,
               "Lenders write LTV covenants no tighter than the LTV they lend at (a loan must not start in breach)"),
)

BY_CONSTRAINT_NAME: dict[str, Constraint] = {c.name: c for c in CONSTRAINTS}


def violations(values: Mapping[str, Any]) -> list[str]:
    """One message per constraint the parameter ``values`` break (none: an admissible set)."""
    return [c.violation(values) for c in CONSTRAINTS if not c.holds(values)]
