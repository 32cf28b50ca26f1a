"""The calendar and the exogenous paths: month labels, SOFR, the rival chipmakers' share, the newest generations.

Month ``t`` is the number of months since January 2023 (``t = 0`` is 2023-01).
"""

from __future__ import annotations

# SOFR knots (month, rate): NY Fed effective SOFR, January 2023 to May 2026; from month 41 (June 2026)
# ``rates.sofr_long_run``, linear in between.
SOFR_KNOTS = ((0, 0.043), (7, 0.053), (20, 0.0533), (23, 0.046), (24, 0.0429), (35, 0.037))
SOFR_LONG_RUN_FROM = 41


def month_label(t: int) -> str:
    """``YYYY-MM`` of month ``t``."""
    return f"{2023 + t // 12}-{t % 12 + 1:02d}"


def year_of(t: int) -> float:
    """Month ``t`` as a fractional calendar year (2023.0 = January 2023)."""
    return 2023 + t / 12.0


def sofr_at(p, t: int, shift: float = 0.0) -> float:
    """Exogenous SOFR path: calibrated 2023-2026 (NY Fed), then ``rates.sofr_long_run``, plus any shock from
    ``rates.shock_year`` on (``rates.shock_size``) and ``shift`` (a scenario's dated rate moves); never below zero."""
    points = list(SOFR_KNOTS) + [(SOFR_LONG_RUN_FROM, p["rates.sofr_long_run"])]
    if t >= points[-1][0]:
        base = points[-1][1]
    else:
        base = points[0][1]
        for (t0, r0), (t1, r1) in zip(points, points[1:]):
            if t0 <= t < t1:
                base = r0 + (r1 - r0) * (t - t0) / (t1 - t0)
                break
    if year_of(t) >= p["rates.shock_year"]:
        base += p["rates.shock_size"]
    return max(0.0, base + shift)


def rival_share(p, month: int) -> float:
    """Share of new capacity that is AMD and custom silicon: linear from ``rival.share_start`` (2023) to
    ``rival.share_end`` (``rival.share_end_year``)."""
    t = year_of(max(month, 0))
    span = max(p["rival.share_end_year"] - 2023.0, 1e-9)
    w = min(1.0, max(0.0, (t - 2023.0) / span))
    return p["rival.share_start"] + w * (p["rival.share_end"] - p["rival.share_start"])


def newest_generation(gens, vendor: str, month: int) -> int:
    """Index of ``vendor``'s most recently released generation by ``month`` (-1 if none)."""
    out = [i for i, g in enumerate(gens) if g.vendor == vendor and g.release <= max(month, 0)]
    return max(out, key=lambda i: gens[i].release) if out else -1
