"""Scalar outcomes of one run: what a study records about each simulated economy.

Every outcome is computed from the run's monthly series (:data:`gpucredit.sim.reporting.columns.SERIES`) alone, so it can be
recomputed from a stored ``timeseries/<run_id>.parquet``. :data:`OUTCOMES` is the data dictionary (name, unit,
definition); the columns of a study's ``runs`` table follow it, and docs/ODD.md quotes it.

The crisis flag
---------------
A run has a **credit crisis** when, in some window of 12 consecutive months, GPU-backed loans whose principal
is at least :data:`CRISIS_DEFAULT_SHARE` (10%) of the GPU-backed debt outstanding at the start of the window
defaulted (``debt_in_default`` summed over the window over ``gpu_backed_lending`` the month before it starts), and
at least :data:`CRISIS_MIN_DEFAULTED_BN` (US$1bn) of principal defaulted in that window: a small market in which one
small borrower's default is 10% of the debt is not a credit crisis. US$1bn is about a tenth of the GPU-backed lending
outstanding in November 2024 (more than US$11bn, Financial Times) and half of CoreWeave's first delayed-draw term loan
(US$2.3bn, July 2023). This is the model's systemic-risk measure "share of GPU-backed debt defaulting within 12 months" (docs/ODD.md),
turned into a flag. The
continuous version is ``max_default_share_12m``, better suited to sensitivity analysis than the 0/1 flag.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CRISIS_DEFAULT_SHARE = 0.10
CRISIS_WINDOW_MONTHS = 12
FIRST_CORRECTION = 0.20  # a fall of a fifth from a running peak is a correction (the convention for a bear market)
CRISIS_MIN_DEFAULTED_BN = 1.0  # a window is a crisis only if at least this much principal (US$bn) defaulted in it
MIN_DEBT_BN = 0.05  # windows starting with less GPU-backed debt than this (US$bn) do not count as credit markets

OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("peak_spot_price", "US$/H100e-hour", "Highest posted spot price of an H100e-hour over the run"),
    ("trough_spot_price", "US$/H100e-hour", "Lowest posted spot price after the peak month"),
    ("spot_price_drawdown", "fraction", "Largest peak-to-trough fall of the spot price: max over t of 1 - p_t / max(p_s, s <= t)"),
    ("secondary_price_drawdown", "fraction", "Largest peak-to-trough fall of the used-market H100 price (same definition)"),
    ("market_cap_drawdown", "fraction", "Largest peak-to-trough fall of Nvidia's market capitalisation (same definition)"),
    ("peak_gpu_backed_lending", "US$bn", "Highest GPU-backed debt outstanding"),
    ("defaulted_debt_share", "fraction", "Principal of all loans that defaulted over the run / peak GPU-backed debt outstanding"),
    ("max_default_share_12m", "fraction",
     f"Largest 12-month sum of defaulted principal over the GPU-backed debt outstanding the month before the window "
     f"(windows starting with less than US${MIN_DEBT_BN}bn of debt are skipped)"),
    ("first_default_month", "months since 2023-01", "Month of the first neocloud default (0 = January 2023); empty (NaN) if none"),
    ("defaults_total", "count", "Neocloud defaults over the run"),
    ("lender_loss_rate", "fraction", "Lender losses booked at default over the run / peak GPU-backed debt outstanding"),
    ("fire_sale_total", "US$bn", "Proceeds of forced GPU sales over the run"),
    ("peak_circular_revenue_share", "fraction", "Highest share of Nvidia's trailing-12-month revenue paid by customers it finances"),
    ("peak_nvidia_revenue_12m", "US$bn/year", "Highest trailing-12-month Nvidia data-centre revenue"),
    ("correction_month", "months since 2023-01",
     "The boom's turning point: first month at the peak of Nvidia's trailing-12-month data-centre revenue (0 = "
     "January 2023; tables show it as YYYY-MM; the last month of the run if the revenue is still rising then)"),
    ("correction_depth_revenue", "fraction",
     "Fall of Nvidia's trailing-12-month revenue from that peak to its lowest level after it: 1 - trough / peak "
     "(0 if it peaks in the last month)"),
    ("correction_months_to_trough", "months",
     "Months from that peak to the first month at the lowest trailing-12-month Nvidia revenue after it (0 if it peaks "
     "in the last month; at most the months left in the run)"),
    ("first_correction_month", "months since 2023-01",
     f"Month of the running peak from which Nvidia's trailing-12-month revenue first falls by at least "
     f"{FIRST_CORRECTION:.0%} (a correction on the way up counts; empty (NaN) if it never falls that far)"),
    ("ai_revenue_growth_after_peak", "fraction",
     "Growth of trailing-12-month end-user AI revenue over the 12 months after correction_month (positive: end "
     "demand still grows while the vendor's revenue turns; empty (NaN) if fewer than 12 months remain)"),
    ("ai_capex_drawdown", "fraction",
     "Fall of trailing-12-month AI capex (GPU purchases and the data centres they need) from its peak to its lowest "
     "level after it: 1 - trough / peak"),
    ("crisis", "0/1",
     f"1 if in some {CRISIS_WINDOW_MONTHS}-month window loans worth at least {CRISIS_DEFAULT_SHARE:.0%} of the GPU-backed "
     f"debt outstanding at its start, and at least US${CRISIS_MIN_DEFAULTED_BN:g}bn, defaulted (smaller defaults do not "
     f"count; windows starting with less than US${MIN_DEBT_BN}bn of debt are skipped)"),
)
OUTCOME_NAMES = tuple(name for name, _, _ in OUTCOMES)


def drawdown(series: np.ndarray) -> float:
    """Largest peak-to-trough fall, as a fraction of the running peak (0 when the series never falls)."""
    x = np.asarray(series, dtype=float)
    if x.size == 0:
        return math.nan
    peak = np.maximum.accumulate(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        fall = np.where(peak > 0, 1.0 - x / peak, 0.0)
    return float(max(0.0, fall.max()))


def max_window_default_share(defaulted: np.ndarray, outstanding: np.ndarray,
                             window: int = CRISIS_WINDOW_MONTHS, min_debt: float = MIN_DEBT_BN) -> float:
    """Largest share of the debt outstanding before a ``window``-month window that defaulted within it.

    ``defaulted[t]`` is principal defaulting in month t, ``outstanding[t]`` debt at the end of month t. The window
    starting in month t is measured against ``outstanding[t - 1]`` (the first month against its own end stock).
    """
    d = np.asarray(defaulted, dtype=float)
    debt = np.asarray(outstanding, dtype=float)
    n = d.size
    if n == 0:
        return 0.0
    before = np.concatenate(([debt[0] + d[0]], debt[:-1]))  # debt the month before each window starts
    sums = window_sums(d, window)  # sum of d[t : t + window]
    valid = before >= min_debt
    if not valid.any():
        return 0.0
    return float(np.max(sums[valid] / before[valid]))


def window_sums(defaulted: np.ndarray, window: int = CRISIS_WINDOW_MONTHS) -> np.ndarray:
    """Principal defaulting in each ``window``-month window, by its first month (US$bn): ``sum(defaulted[t:t+window])``."""
    d = np.asarray(defaulted, dtype=float)
    return np.convolve(d, np.ones(window), mode="full")[window - 1:window - 1 + d.size]


def credit_crisis(defaulted: np.ndarray, outstanding: np.ndarray, share: float = CRISIS_DEFAULT_SHARE,
                  floor_bn: float = CRISIS_MIN_DEFAULTED_BN, window: int = CRISIS_WINDOW_MONTHS,
                  min_debt: float = MIN_DEBT_BN) -> bool:
    """Whether some ``window``-month window saw defaults of at least ``share`` of the debt outstanding the month before
    it and at least ``floor_bn`` US$bn of principal (windows starting with less than ``min_debt`` US$bn are skipped)."""
    d = np.asarray(defaulted, dtype=float)
    debt = np.asarray(outstanding, dtype=float)
    if d.size == 0:
        return False
    before = np.concatenate(([debt[0] + d[0]], debt[:-1]))
    sums = window_sums(d, window)
    valid = before >= min_debt
    hit = valid & (sums >= floor_bn) & (sums >= share * np.where(valid, before, np.inf))
    return bool(hit.any())


def trailing_12m(monthly: np.ndarray) -> np.ndarray:
    """Trailing-12-month sums of a monthly flow (the first 11 months sum the months so far)."""
    x = np.asarray(monthly, dtype=float)
    return np.convolve(x, np.ones(12), mode="full")[:x.size]


def peak_and_trough(series: np.ndarray) -> tuple[int, int, float]:
    """(peak month, trough month, fall) of a series: the first month at its highest level, the first month at its
    lowest level from the peak on, and the fall between them as a fraction of the peak, 1 - trough / peak (0 for a peak at the end or
    a peak of 0). Unlike :func:`drawdown`, the fall is measured from the global peak: the correction after the boom,
    not the largest dip on the way up."""
    x = np.asarray(series, dtype=float)
    if x.size == 0:
        return 0, 0, math.nan
    peak = int(np.argmax(x))
    trough = peak + int(np.argmin(x[peak:]))
    fall = 1.0 - x[trough] / x[peak] if x[peak] > 0 else 0.0
    return peak, trough, float(max(0.0, fall))


def first_correction(series: np.ndarray, fall: float = None) -> float:
    """The month of the running peak from which ``series`` first falls by at least ``fall`` (default
    :data:`FIRST_CORRECTION`) of it; NaN if it never does."""
    fall = FIRST_CORRECTION if fall is None else fall
    x = np.asarray(series, dtype=float)
    if x.size == 0:
        return math.nan
    running = np.maximum.accumulate(x)
    hit = np.flatnonzero((running > 0) & (x <= (1.0 - fall) * running))
    if not hit.size:
        return math.nan
    return float(np.argmax(x[:hit[0] + 1]))  # the first month at the running peak it fell from


def growth_after(series: np.ndarray, month: int, months: int = 12) -> float:
    """Growth of ``series`` over the ``months`` after ``month`` (NaN if the run ends before, or it starts at 0)."""
    x = np.asarray(series, dtype=float)
    if month + months >= x.size or x[month] <= 0:
        return math.nan
    return float(x[month + months] / x[month] - 1.0)


def correction(df: pd.DataFrame) -> dict[str, float]:
    """The correction outcomes of one run: when Nvidia's trailing-12-month revenue peaks, how far and for how long it
    then falls, and how far trailing-12-month AI capex falls from its own peak."""
    if not len(df):
        return dict.fromkeys(("correction_month", "correction_depth_revenue", "correction_months_to_trough",
                              "first_correction_month", "ai_revenue_growth_after_peak", "ai_capex_drawdown"), math.nan)
    revenue = trailing_12m(df["nvidia_revenue"].to_numpy(float))
    peak, trough, fall = peak_and_trough(revenue)
    return {"correction_month": float(peak), "correction_depth_revenue": fall,
            "correction_months_to_trough": float(trough - peak),
            "first_correction_month": first_correction(revenue),
            "ai_revenue_growth_after_peak": (growth_after(trailing_12m(df["ai_revenue"].to_numpy(float)), peak)
                                             if "ai_revenue" in df else math.nan),
            "ai_capex_drawdown": peak_and_trough(trailing_12m(df["ai_capex"].to_numpy(float)))[2]}


def run_outcomes(df: pd.DataFrame) -> dict[str, float]:
    """Every outcome of :data:`OUTCOMES` for one run's monthly series (a DataFrame in month order)."""
    spot = df["spot_price_h100e"].to_numpy(float)
    lending = df["gpu_backed_lending"].to_numpy(float)
    defaulted = df["debt_in_default"].to_numpy(float)
    defaults = df["defaults_count"].to_numpy(float)
    peak_lending = float(lending.max()) if lending.size else 0.0
    peak_month = int(spot.argmax()) if spot.size else 0
    default_months = np.flatnonzero(defaults > 0)
    revenue_12m = trailing_12m(df["nvidia_revenue"].to_numpy(float))
    share_12m = max_window_default_share(defaulted, lending)

    def per_peak_debt(total: float) -> float:
        return total / peak_lending if peak_lending > 0 else 0.0

    values = {
        "peak_spot_price": float(spot.max()) if spot.size else math.nan,
        "trough_spot_price": float(spot[peak_month:].min()) if spot.size else math.nan,
        "spot_price_drawdown": drawdown(spot),
        "secondary_price_drawdown": drawdown(df["secondary_price_h100"].to_numpy(float)),
        "market_cap_drawdown": drawdown(df["nvidia_market_cap"].to_numpy(float)),
        "peak_gpu_backed_lending": peak_lending,
        "defaulted_debt_share": per_peak_debt(float(defaulted.sum())),
        "max_default_share_12m": share_12m,
        "first_default_month": float(default_months[0]) if default_months.size else math.nan,
        "defaults_total": float(defaults.sum()),
        "lender_loss_rate": per_peak_debt(float(df["lender_losses"].sum())),
        "fire_sale_total": float(df["fire_sale_volume"].sum()),
        "peak_circular_revenue_share": float(df["circular_revenue_share"].max()) if len(df) else math.nan,
        "peak_nvidia_revenue_12m": float(revenue_12m.max()) if len(df) else math.nan,
        "crisis": float(credit_crisis(defaulted, lending)),
        **correction(df),
    }
    return {name: values[name] for name in OUTCOME_NAMES}
