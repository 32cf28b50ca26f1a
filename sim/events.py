"""The event log: one row per event (default, seizure, fire sale, covenant breach, equity raise, ...)."""

from __future__ import annotations

EVENT_COLUMNS = ("date", "event", "agents", "amount_bn", "units", "detail")


class EventLog(list):
    """The rows of ``events.csv`` (a list of dicts with :data:`EVENT_COLUMNS`), dated by the month being
    simulated (``date``, set by the model when a month opens)."""

    def __init__(self, date: str):
        super().__init__()
        self.date = date

    def log(self, event: str, agents: list[str], amount: float, units: float = 0.0, detail: str = "") -> None:
        """Record ``event`` between ``agents`` (names), of ``amount`` US$bn and ``units`` (GPUs, H100e, ...)."""
        self.append({"date": self.date, "event": event, "agents": ";".join(agents),
                     "amount_bn": float(amount), "units": float(units), "detail": detail})
