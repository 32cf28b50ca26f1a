"""Venture and public equity for private AI firms: a finite allotment each month.

Each month, once end-user AI revenue is known (phase 3), investors allot
``venture.revenue_multiple`` x annualised AI revenue x max(0, 1 + ``venture.sentiment`` x sentiment) / 12 to private AI
firms, less what they hold back after losses: the outside equity lost in a lab's failure or a neocloud's default is
held back evenly over the next ``venture.loss_memory_months``. Labs' rounds draw on it first (pro rata to what they
ask when it falls short), then start-ups' rounds, then neoclouds' (phase 9) out of what is left; what is not raised in
a month lapses. Nvidia's own stakes are not part of it.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class VentureSupply:
    """The month's venture allotment (``economy.venture``), what is left of it and investors' recent losses."""

    def __init__(self, economy):
        self.economy = economy
        memory = economy.p["venture.loss_memory_months"]
        self.losses: deque = deque([0.0] * memory, maxlen=memory)  # outside equity lost, by month, US$bn
        self.lost_this_month = 0.0
        self.allotted = 0.0  # this month's allotment after losses held back, US$bn
        self.available = 0.0  # what is left of it
        self.raised = 0.0  # raised from it this month

    def open_month(self, ai_revenue: float) -> None:
        """This month's allotment, from this month's end-user AI revenue (US$bn/month) and sentiment."""
        m, p = self.economy, self.economy.p
        appetite = max(0.0, 1.0 + p["venture.sentiment"] * m.sentiment)
        held_back = sum(self.losses) / len(self.losses)
        self.allotted = self.available = max(0.0, p["venture.revenue_multiple"] * ai_revenue * appetite - held_back)
        self.raised = 0.0

    def ration(self, asks: np.ndarray) -> np.ndarray:
        """What each of several rounds asking ``asks`` US$bn raises: all of it while the allotment lasts, the same share
        of each ask when it falls short."""
        asks = np.maximum(np.asarray(asks, dtype=float), 0.0)
        total = float(asks.sum())
        if total <= 0.0:
            return np.zeros_like(asks)
        granted = asks * min(1.0, self.available / total)
        self.available = max(0.0, self.available - float(granted.sum()))
        self.raised += float(granted.sum())
        return granted

    def grant(self, ask: float) -> float:
        """What one round asking ``ask`` US$bn raises (:meth:`ration`)."""
        return float(self.ration(np.array([ask]))[0])

    def record_loss(self, amount: float) -> None:
        """Outside investors lost ``amount`` US$bn of equity in a failure or a default."""
        self.lost_this_month += max(0.0, amount)

    def close_month(self) -> None:
        self.losses.append(self.lost_this_month)
        self.lost_this_month = 0.0
