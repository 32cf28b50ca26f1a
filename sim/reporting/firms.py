"""Firm-level histories of the neoclouds: one row per neocloud per month it operates, and one in the month it fails.

:class:`FirmPanel` reads the economy after each month (it is not one of the model's phases and changes nothing), so
the same run with and without it gives identical outputs. It is what a study stores per run for stylized fact 5
(capital overhang, docs/ODD.md section 10.1): how much each firm invested in the boom, how hard it cut in the bust,
whether Nvidia financed it and when it failed.

Columns (:data:`FIRM_COLUMNS`, with units):

* ``month``            months since 2023-01 (0 = January 2023)
* ``firm``             the neocloud's name (named firms of the roster and ``Small neocloud k``)
* ``named``            1 for a firm of the roster, 0 for a generated small neocloud
* ``size``             its opening size relative to a named firm (1 for named firms)
* ``gpu_capex``        US$bn/month, list-price value of the new GPUs delivered to it in the month
* ``new_h100e``        H100e/month, the same deliveries in H100-equivalents
* ``h100e``            H100e, the GPUs it owns at month end (live and being installed)
* ``gpu_debt``         US$bn, principal it owes on its GPU-backed facilities at month end
* ``nvidia_stake``     fraction, Nvidia's share of its equity at month end
* ``nvidia_backstop``  0/1, it is the beneficiary of Nvidia's capacity backstop in force this month
* ``nvidia_rent_back`` 0/1, Nvidia rents compute back from it under an active contract
* ``failed``           0/1, 1 in the month it defaulted and left the market (its last row; its GPUs were seized)
"""

from __future__ import annotations

import numpy as np

FIRM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("month", "months since 2023-01", "Month of the row (0 = January 2023)"),
    ("firm", "name", "The neocloud"),
    ("named", "0/1", "1 for a firm of the roster, 0 for a generated small neocloud"),
    ("size", "ratio", "Opening size relative to a named firm (1 for named firms)"),
    ("gpu_capex", "US$bn/month", "List-price value of the new GPUs delivered to it in the month"),
    ("new_h100e", "H100e/month", "New GPUs delivered to it in the month, in H100-equivalents"),
    ("h100e", "H100e", "GPUs it owns at month end (live and being installed), in H100-equivalents"),
    ("gpu_debt", "US$bn", "Principal it owes on its GPU-backed facilities at month end"),
    ("nvidia_stake", "fraction", "Nvidia's share of its equity at month end"),
    ("nvidia_backstop", "0/1", "1 if it is the beneficiary of Nvidia's capacity backstop in force this month"),
    ("nvidia_rent_back", "0/1", "1 if Nvidia rents compute back from it under an active contract"),
    ("failed", "0/1", "1 in the month it defaulted and left the market (its last row)"),
)
FIRM_COLUMN_NAMES = tuple(name for name, _, _ in FIRM_COLUMNS)


class FirmPanel:
    """Collects the firm-level rows of one run: call :meth:`observe` after every month, read :attr:`columns`."""

    def __init__(self):
        self.columns: dict[str, list] = {name: [] for name in FIRM_COLUMN_NAMES}
        self._defunct_seen = 0

    def observe(self, economy) -> None:
        """Append this month's row of every operating neocloud and of every neocloud that failed in the month."""
        m = economy
        n_owners = len(m.ledger.names)
        fleet = m.fleet
        owner, gen, count = fleet.view("owner"), fleet.view("gen"), fleet.view("count")
        h100e = count * m.perf[gen]
        new = fleet.view("vintage") == m.month
        capex = np.bincount(owner[new], weights=fleet.view("cost")[new], minlength=n_owners)
        delivered = np.bincount(owner[new], weights=h100e[new], minlength=n_owners)
        held = np.bincount(owner, weights=h100e, minlength=n_owners)
        backstopped = m.circular.backstops.beneficiaries(m.month)
        rent_back = m.contracts.rent_back_providers_active()
        failed = m.defunct[self._defunct_seen:]
        self._defunct_seen = len(m.defunct)
        for nc, has_failed in [(nc, 0) for nc in m.neoclouds] + [(nc, 1) for nc in failed]:
            eid = nc.eid
            row = (m.month, nc.name, int(nc.named), float(nc.size), float(capex[eid]), float(delivered[eid]),
                   float(held[eid]), float(m.loans.debt_of(eid)), float(m.equity.share_of(m.nvidia.eid, eid)),
                   int(eid in backstopped), int(eid in rent_back), has_failed)
            for name, value in zip(FIRM_COLUMN_NAMES, row):
                self.columns[name].append(value)
