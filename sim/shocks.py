"""Dated shocks: "what if" events a scenario file schedules, each with a date, a kind and a size; the model's own
behaviour does the rest.

In a scenario file, each shock is one ``[[shocks]]`` table::

    [[shocks]]
    date = "2026-03"                 # YYYY-MM, within the run
    kind = "used_gpu_price_drop"
    size = 0.3                       # outside buyers' bid for used GPUs falls by 30%, then recovers

Kinds (all applied at the start of their month, phase 1):

* ``used_gpu_price_drop`` -- ``size`` in (0, 1): the used-GPU quote, and with it every bid, falls by that share at once;
  the discount decays with ``markets.impact_half_life`` (:meth:`gpucredit.sim.markets.used_gpus.UsedGpuMarket.shock`).
* ``firm_default`` -- ``firm``: the named neocloud (its name after the scenario's renames) defaults: the usual
  resolution (seizure, absolute priority, liquidation, write-downs, exit; :mod:`gpucredit.sim.credit.default`).
* ``lab_failure`` -- ``firm``: the named AI lab fails and defaults on its contracts.
* ``credit_freeze`` -- ``size`` in (0, 1] and ``months`` in [1, 240]: for that many months credit investors commit nothing new
  to GPU lending and redeem ``size`` of the funds' idle cash each month.
* ``rate_move`` -- ``size`` in [-0.1, 0.2] (fraction/year): SOFR moves by that much from the date on (never below 0).
* ``demand_disappointment`` -- ``size`` in (0, 1): end-user AI revenue falls by that share from the date on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .calendar import month_label, sofr_at

KINDS = {  # kind -> fields it takes besides date and kind
    "used_gpu_price_drop": ("size",),
    "firm_default": ("firm",),
    "lab_failure": ("firm",),
    "credit_freeze": ("size", "months"),
    "rate_move": ("size",),
    "demand_disappointment": ("size",),
}
SIZE_RANGES = {  # kind -> (low, high, low included, high included, what the size is)
    "used_gpu_price_drop": (0.0, 1.0, False, False, "share of used-GPU prices lost"),
    "credit_freeze": (0.0, 1.0, False, True, "share of idle fund cash redeemed a month"),
    "rate_move": (-0.1, 0.2, True, True, "change in SOFR, fraction/year"),
    "demand_disappointment": (0.0, 1.0, False, False, "share of end-user AI revenue lost"),
}
MAX_MONTHS = 240


class ShockError(ValueError):
    """A malformed dated shock."""


@dataclass(frozen=True)
class Shock:
    month: int  # months since January 2023
    kind: str
    size: float = 0.0
    firm: str = ""
    months: int = 0


def parse_month(text) -> int:
    """Months since January 2023 of a ``YYYY-MM`` date."""
    if not isinstance(text, str) or len(text) != 7 or text[4] != "-" or not (text[:4].isdigit() and text[5:].isdigit()):
        raise ValueError
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12:
        raise ValueError
    return (year - 2023) * 12 + month - 1


def parse_shocks(entries, where: str) -> tuple[Shock, ...]:
    """The ``[[shocks]]`` tables of a scenario file, validated field by field (``where`` names the file)."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ShockError(f"{where}: shocks must be [[shocks]] tables")
    shocks = []
    for i, entry in enumerate(entries):
        field = f"{where}: shocks[{i}]"
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ShockError(f"{field}.kind: {kind!r} is not a shock; allowed: {', '.join(KINDS)}")
        allowed = {"date", "kind"} | set(KINDS[kind])
        extra = set(entry) - allowed
        if extra:
            raise ShockError(f"{field}: unknown field(s) {sorted(extra)} for kind {kind}; allowed: {', '.join(sorted(allowed))}")
        try:
            month = parse_month(entry.get("date"))
        except ValueError:
            raise ShockError(f"{field}.date: {entry.get('date')!r} is not a date YYYY-MM from 2023-01") from None
        if not 0 <= month < MAX_MONTHS:
            raise ShockError(f"{field}.date: {entry['date']} is outside 2023-01..{month_label(MAX_MONTHS - 1)}")
        values = {}
        if "size" in KINDS[kind]:
            size = entry.get("size")
            lo, hi, lo_in, hi_in, what = SIZE_RANGES[kind]
            ok = isinstance(size, (int, float)) and not isinstance(size, bool) and math.isfinite(size) and \
                (lo <= size if lo_in else lo < size) and (size <= hi if hi_in else size < hi)
            if not ok:
                interval = f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
                raise ShockError(f"{field}.size: {size!r} out of range; {kind} takes a {what} in {interval}")
            values["size"] = float(size)
        if "firm" in KINDS[kind]:
            firm = entry.get("firm")
            if not isinstance(firm, str) or not firm.strip():
                raise ShockError(f"{field}.firm: {kind} needs the name of a firm (a non-empty string)")
            values["firm"] = firm
        if "months" in KINDS[kind]:
            months = entry.get("months")
            if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= MAX_MONTHS:
                raise ShockError(f"{field}.months: {months!r} out of range; an integer in [1, {MAX_MONTHS}]")
            values["months"] = months
        shocks.append(Shock(month, kind, **values))
    return tuple(sorted(shocks, key=lambda s: s.month))


class ShockSchedule:
    """The economy's dated shocks (``economy.shocks``), applied at the start of their month, and their lasting state:
    the SOFR shift, the AI-revenue level and the months of a credit freeze left."""

    def __init__(self, economy, shocks: tuple[Shock, ...]):
        self.economy = economy
        self.shocks = shocks
        self.rate_shift = 0.0  # added to SOFR, fraction/year
        self.demand_factor = 1.0  # multiplies end-user AI revenue
        self.freeze_until = -1  # credit investors commit nothing and redeem until this month (exclusive)
        self.freeze_redemption = 0.0
        self.check_firms()

    def check_firms(self) -> None:
        """Every named firm exists in this economy (after the scenario's renames)."""
        m = self.economy
        for s in self.shocks:
            group = m.neoclouds if s.kind == "firm_default" else m.labs if s.kind == "lab_failure" else None
            if group is not None and s.firm not in {a.name for a in group}:
                names = ", ".join(a.name for a in group)
                raise ShockError(f"shock {s.kind} on {month_label(s.month)}: firm {s.firm!r} is not one of: {names}")

    def frozen(self) -> bool:
        return self.economy.month < self.freeze_until

    def apply(self) -> None:
        """The shocks dated this month."""
        m = self.economy
        for s in self.shocks:
            if s.month != m.month:
                continue
            if s.kind == "used_gpu_price_drop":
                m.used_gpus.shock(-math.log1p(-s.size))
            elif s.kind == "firm_default":
                from .credit.default import resolve_default
                nc = next((n for n in m.neoclouds if n.name == s.firm), None)
                if nc is not None:  # it may have exited already
                    resolve_default(m, nc)
            elif s.kind == "lab_failure":
                from .credit.default import fail_lab
                lab = next(l for l in m.labs if l.name == s.firm)
                fail_lab(m, lab)
            elif s.kind == "credit_freeze":
                self.freeze_until = max(self.freeze_until, m.month + s.months)
                self.freeze_redemption = s.size
            elif s.kind == "rate_move":
                self.rate_shift += s.size
                m.sofr = sofr_at(m.p, m.month, self.rate_shift)
            elif s.kind == "demand_disappointment":
                self.demand_factor *= 1.0 - s.size
            m.events.log("shock", [s.firm] if s.firm else [], s.size, detail=s.kind)
