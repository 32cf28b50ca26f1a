"""Model vs calibration targets (MODEL.md section 11): the median over seeds of each statistic, the
target, the relative error and the source. Hand calibration: the table shows where the baseline lands.

Stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gpucredit.sim import GPUEconomy
from gpucredit.sim.calendar import month_label

CAL = "CALIBRATION.md"

# (label, statistic(df) -> float, target, source)
def _mean(col, start, end):
    return lambda df: float(df.loc[start:end, col].mean())


def _sum(col, year):
    return lambda df: float(df.loc[f"{year}-01":f"{year}-12", col].sum())


def _at(col, date):
    return lambda df: float(df.loc[date, col])


def _max(col, start, end):
    return lambda df: float(df.loc[start:end, col].max())


TARGETS = (
    ("H100 rental peak 2023-mid 2024 (US$/GPU-h)", _max("h100_rental_price", "2023-01", "2024-06"), 8.0, f"{CAL}: Latent Space, FT"),
    ("H100 rental Oct-Dec 2024 (US$/GPU-h)", _mean("h100_rental_price", "2024-10", "2024-12"), 2.0, f"{CAL}: FT, Latent Space"),
    ("H100 rental 2025-26 (US$/GPU-h)", _mean("h100_rental_price", "2025-01", "2026-12"), 2.5, f"{CAL}: SemiAnalysis, Silicon Data"),
    ("GPU-backed lending Nov 2024 (US$bn)", _at("gpu_backed_lending", "2024-11"), 11.0, f"{CAL}: Financial Times"),
    ("GPU-backed lending Jul 2025 (US$bn)", _at("gpu_backed_lending", "2025-07"), 20.0, f"{CAL}: The Information"),
    ("Lead neocloud revenue 2023 (US$bn)", _sum("lead_neocloud_revenue", 2023), 0.229, f"{CAL}: CoreWeave S-1"),
    ("Lead neocloud revenue 2024 (US$bn)", _sum("lead_neocloud_revenue", 2024), 1.92, f"{CAL}: CoreWeave S-1"),
    ("Lead neocloud revenue 2025 (US$bn)", _sum("lead_neocloud_revenue", 2025), 5.13, f"{CAL}: CoreWeave 10-K"),
    ("Lead neocloud debt end-2024 (US$bn)", _at("lead_neocloud_debt", "2024-12"), 8.0, f"{CAL}: CoreWeave 10-K"),
    ("Lead neocloud debt end-2025 (US$bn)", _at("lead_neocloud_debt", "2025-12"), 21.4, f"{CAL}: CoreWeave 10-K"),
    ("Lead neocloud valuation May 2024 (US$bn)", _at("lead_neocloud_valuation", "2024-05"), 19.0, f"{CAL}: FT, Reuters"),
    ("Lead neocloud top customer share 2024", _at("lead_neocloud_top_customer_share", "2024-12"), 0.62, f"{CAL}: CoreWeave S-1"),
    ("Nvidia DC revenue 2024 (US$bn)", _sum("nvidia_revenue", 2024), 115.2, f"{CAL}: Nvidia FY25 results"),
    ("Nvidia DC revenue 2025 (US$bn)", _sum("nvidia_revenue", 2025), 193.7, f"{CAL}: Nvidia FY26 results"),
    ("Nvidia gross margin 2024-25", _mean("nvidia_gross_margin", "2024-01", "2025-12"), 0.73, f"{CAL}: Nvidia results (71-75%)"),
    ("Nvidia stake in lead neocloud 2025", _at("nvidia_stake_in_lead", "2025-06"), 0.065, f"{CAL}: filings, Reuters"),
    ("Big-four capex 2023 (US$bn)", _sum("hyperscaler_capex", 2023), 168.0, f"{CAL}: company reports"),
    ("Big-four capex 2024 (US$bn)", _sum("hyperscaler_capex", 2024), 256.0, f"{CAL}: company reports"),
    ("Big-four capex 2025 (US$bn)", _sum("hyperscaler_capex", 2025), 410.0, f"{CAL}: company reports"),
    # Sequoia's "$200bn question" and "$600bn question": revenue implied by the GPU spending (the June-2024
    # figure was built on a forward Nvidia run-rate of ~US$150bn a year; the model's measure is trailing)
    ("Revenue required Sep 2023 (US$bn/yr)", _at("revenue_required", "2023-09"), 200.0, f"{CAL}: Sequoia"),
    ("Revenue required Jun 2024 (US$bn/yr)", _at("revenue_required", "2024-06"), 600.0, f"{CAL}: Sequoia"),
)


def run_seed(seed: int, months: int, scenario: str = "baseline") -> pd.DataFrame:
    model = GPUEconomy(scenario=scenario, rng=seed, **{"run.months": months})
    while model.running:
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    df.index = [month_label(t) for t in range(len(df))]
    return df


def calibration_table(seeds: int = 20, months: int = 36, scenario: str = "baseline") -> pd.DataFrame:
    frames = [run_seed(s, months, scenario) for s in range(seeds)]
    rows = []
    for label, stat, target, source in TARGETS:
        values = []
        for df in frames:
            try:
                values.append(stat(df))
            except KeyError:
                pass
        if not values:
            continue
        model = float(np.median(values))
        rows.append({"target": label, "model_median": model, "p10": float(np.percentile(values, 10)),
                     "p90": float(np.percentile(values, 90)), "target_value": target,
                     "relative_error": (model - target) / abs(target), "source": source})
    return pd.DataFrame(rows)


def main(args) -> int:
    seeds = getattr(args, "seeds", 20) or 20
    months = getattr(args, "months", 36) or 36
    table = calibration_table(seeds, months)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table.to_string(index=False, float_format=lambda x: f"{x:,.3f}"))
    print(f"\nMedian over {seeds} seeds of the baseline, {months} months. "
          "Stylized research model: not a forecast or investment advice.")
    return 0
