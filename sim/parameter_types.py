"""The parameter's type: a declared model input with its default, range or choices, unit, meaning and source, and the
error a bad value raises. :mod:`.parameters` declares every parameter of the model with these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class ParameterError(ValueError):
    """Bad input: an unknown parameter, a value of the wrong type or outside its declared range."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    min: float | None = None
    max: float | None = None
    unit: str = ""
    description: str = ""
    source: str = "assumption"
    choices: tuple | None = None
    kind: type = float

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in self.choices)
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} in [{_fmt(self.min)}, {_fmt(self.max)}]"

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise :class:`ParameterError`."""
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ParameterError(f"parameter '{self.name}': {value!r} is not allowed; expected {self.allowed()}")
        if self.choices is not None:
            if value in self.choices:
                return value
            raise ParameterError(f"parameter '{self.name}': {value!r} is not allowed; expected {self.allowed()}")
        if isinstance(value, bool):
            raise ParameterError(f"parameter '{self.name}': {value!r} is not numeric; expected {self.allowed()}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter '{self.name}': {value!r} is not numeric; expected {self.allowed()}"
            ) from None
        if not math.isfinite(number):
            raise ParameterError(f"parameter '{self.name}': {value!r} is not finite; expected {self.allowed()}")
        if self.kind is int:
            if number != int(number):
                raise ParameterError(
                    f"parameter '{self.name}': {value!r} is not an integer; expected {self.allowed()}"
                )
            number = int(number)
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise ParameterError(
                f"parameter '{self.name}': {value!r} is out of range; expected {self.allowed()}"
            )
        return number

    def as_dict(self) -> dict:
        entry = {
            "name": self.name,
            "default": self.default,
            "unit": self.unit,
            "description": self.description,
            "source": self.source,
            "type": {float: "float", int: "int", bool: "bool", str: "str"}[self.kind],
        }
        if self.choices is not None:
            entry["choices"] = list(self.choices)
        else:
            entry["min"] = self.min
            entry["max"] = self.max
        return entry


def _fmt(x: float | None) -> str:
    if x is None:
        return "-inf"
    return f"{x:g}"


def _p(name, default, lo, hi, unit, description, source="assumption", kind=float):
    return Parameter(name, kind(default), lo, hi, unit, description, source, None, kind)


def _flag(name, default, description, source="assumption"):
    return Parameter(name, bool(default), None, None, "flag", description, source, (True, False), bool)


def _choice(name, default, choices, description, source="assumption"):
    return Parameter(name, default, None, None, "choice", description, source, tuple(choices), str)
