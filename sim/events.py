"""The event log: one row per event (default, seizure, fire sale, covenant breach, equity raise, ...)."""

from __future__ import annotations

EVENT_COLUMNS = ("date", "event", "agents", "amount_bn", "units", "detail")


class EventLog(list):
    """The rows of ``events.csv`` (a list of dicts with :data:`EVENT_COLUMNS`), dated by the month being
    simulated (``date``, set by the model when a month opens). A log that does not ``keep`` its rows (a study's lean
    runs, which store only the series) records nothing."""

    def __init__(self, date: str, keep: bool = True):
        super().__init__()
        self.date = date
        self.keep = keep

    def log(self, event: str, agents: list[str], amount: float, units: float = 0.0, detail: str = "") -> None:
        """Record ``event`` between ``agents`` (names), of ``amount`` US$bn and ``units`` (GPUs, H100e, ...)."""
        if not self.keep:
            return
        self.append({"date": self.date, "event": event, "agents": ";".join(agents),
                     "amount_bn": float(amount), "units": float(units), "detail": detail})
