"""The used-GPU market: appraisal, the used-GPU price that marks every loan's collateral, and sales to outside
buyers (distressed sellers, lenders liquidating seized GPUs).

* **Appraisal** (:func:`appraise`): the present value of a GPU's expected rental margin over its remaining life, at
  the expected utilisation and the investment-grade cost of capital, capped at the replacement cost of the same
  performance new.
* **Price**: appraisal less a liquidity discount, less a fire-sale discount that rises with forced sales relative to
  market depth and decays with a half-life. Outside buyers absorb what is sold at that price. The price marks every
  loan's collateral, so one seller's fire sale tightens every other borrower's covenant.
"""

from __future__ import annotations

import math

import numpy as np

from ..technology import BN, HOURS_PER_MONTH


def appraise(expected_path: np.ndarray, perf: np.ndarray, running_cost: np.ndarray, remaining_life: np.ndarray,
             utilisation: float, annual_rate: float, replacement_cost: np.ndarray) -> np.ndarray:
    """Appraised value of one used GPU per generation, US$: the present value of its expected rental
    margin (expected H100e price x performance - running cost, when positive) over its remaining life,
    at the expected utilisation, capped at the replacement cost of the same performance new.

    ``expected_path`` is the expected spot price for months 1..H ahead."""
    horizon = len(expected_path)
    months = np.arange(1, horizon + 1)
    discount = (1.0 + annual_rate / 12.0) ** -months
    margin = np.maximum(np.outer(perf, expected_path) - running_cost[:, None], 0.0) * HOURS_PER_MONTH * utilisation
    alive = months[None, :] <= remaining_life[:, None]
    value = (margin * alive * discount).sum(axis=1)
    return np.minimum(value, replacement_cost)


class UsedGpuMarket:
    """Used-GPU prices by generation (US$ per GPU), the fire-sale pressure behind them, and sales to outside buyers."""

    def __init__(self, economy):
        params = economy.p
        self.economy = economy
        self.liquidity_discount = params["markets.liquidity_discount"]
        self.impact = params["markets.price_impact"]
        self.depth_share = params["markets.market_depth"]
        self.decay = 0.5 ** (1.0 / params["markets.impact_half_life"])
        self.pressure = 0.0  # log discount from forced sales
        self.appraisal = np.zeros(0)
        self.prices = np.zeros(0)
        self.appraisal_per_gpu = np.zeros(len(economy.gens))

    # --- prices --------------------------------------------------------------------------------------
    def discount_factor(self) -> float:
        return (1.0 - self.liquidity_discount) * math.exp(-self.pressure)

    def mark(self, appraisal: np.ndarray) -> np.ndarray:
        self.appraisal = appraisal
        self.prices = appraisal * self.discount_factor()
        return self.prices

    def reappraise(self) -> None:
        """Appraise every generation (:func:`appraise`: unreleased ones at zero) on the market's expected price path
        and the newest Nvidia generation's list price, and mark the used-GPU prices."""
        m = self.economy
        p = m.p
        life = p["technology.physical_life_months"]
        remaining = np.maximum(0, life - (m.month - m.release))
        path = m.expectations.price_path(m.horizons[:life])
        newest = m.newest_nvidia_gen
        new_price_per_h100e = m.nvidia.list_price(newest) / m.gens[newest].perf
        replacement = m.perf * new_price_per_h100e
        unreleased = m.release > m.month
        appraisal = appraise(path, m.perf, m.running_cost + m.facility_cost, remaining,
                             m.spot.expected_utilisation, m.sofr + p["lenders.spread_ig"], replacement)
        appraisal[unreleased] = 0.0
        self.appraisal_per_gpu = appraisal
        self.mark(appraisal)

    def absorb_forced_sales(self, volume_h100e: float, installed_h100e: float) -> None:
        """Forced sales of ``volume_h100e`` push the discount up, immediately re-marking every price."""
        depth = max(self.depth_share * installed_h100e, 1.0)
        self.pressure += self.impact * volume_h100e / depth
        self.prices = self.appraisal * self.discount_factor()

    def decay_pressure(self) -> None:
        self.pressure *= self.decay

    def collateral_index(self) -> float:
        """Market value per H100e of the installed base (a collateral price index)."""
        fleet = self.economy.fleet
        h = fleet.installed_h100e
        if h <= 0:
            return 0.0
        value = float((fleet.view("count") * self.prices[fleet.view("gen")]).sum())
        return value / h

    # --- sales ---------------------------------------------------------------------------------------
    def sell_cohort(self, seller: int, row: int, units: float, forced: bool) -> float:
        """Sell ``units`` GPUs of a cohort to outside buyers at the used-GPU price; forced sales move it."""
        m = self.economy
        fleet = m.fleet
        g = fleet.gen[row]
        price = self.prices[g]
        proceeds = units * price / BN
        book = fleet.take_out(row, units, scrapped=False)
        led = m.ledger
        led.pay(led.sector("used_gpu_buyers"), seller, proceeds, "used_gpu_sale", gpus=units)
        led.book(seller, proceeds - book, "gain_on_gpu_sales")
        if forced:
            m.flow["fire_sale_volume"] += proceeds
            m.flow["fire_sale_units"] += units
            self.absorb_forced_sales(units * m.perf[g], fleet.installed_h100e)
            m.events.log("fire_sale", [m.entity[seller].name], proceeds, units=units, detail=m.gens[g].name)
        return proceeds

    def sell_for_cash(self, seller: int, rows, amount: float, forced: bool = True) -> float:
        """Sell GPUs from ``rows`` to outside buyers (least efficient first) until ``amount`` US$bn is raised or they
        run out; returns what was raised. ``forced`` sales move the used-GPU price (:meth:`sell_cohort`)."""
        m = self.economy
        fleet = m.fleet
        raised = 0.0
        rows = sorted(rows, key=lambda r: m.perf[fleet.gen[r]])
        for r in rows:
            if raised >= amount:
                break
            price = self.prices[fleet.gen[r]]
            if price <= 0 or fleet.count[r] <= 0:
                continue
            units = min(fleet.count[r], (amount - raised) * BN / price)
            raised += self.sell_cohort(seller, r, units, forced=forced)
        return raised
