"""The report's text: title, abstract with this study's headline numbers, and the sections of the body.

Every number in the text is computed from the :class:`Evidence` gathered from the stored studies; the figures are
drawn here (into ``figures/``) as the sections that show them are written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from gpucredit.sim.calendar import month_label
from gpucredit.sim.reporting.columns import SERIES
from gpucredit.sim.scenarios import load_scenario

from ..outcomes import CRISIS_DEFAULT_SHARE, CRISIS_MIN_DEFAULTED_BN, OUTCOMES
from .document import Bullets, Paragraph, Section, Table, num, pct, pval
from .results import StudyData, bands
from .spec import ReportSpec
from .stylized import FactResult

DISCLAIMER = "gpucredit is a stylized research model, not a forecast or investment advice."
UNITS = {name: unit for name, unit, _ in SERIES}
OUTCOME_UNITS = {name: unit for name, unit, _ in OUTCOMES}
BASELINE_SERIES = (("rental_price_h100", "H100 rental price"), ("secondary_price_h100", "Used H100 price"),
                   ("gpu_backed_lending", "GPU-backed lending outstanding"), ("nvidia_market_cap", "Nvidia market cap"),
                   ("debt_in_default", "Debt entering default"), ("circular_revenue_share", "Circular revenue share"))
COMPARED_SERIES = (("rental_price_h100", "H100 rental price"), ("gpu_backed_lending", "GPU-backed lending"),
                   ("nvidia_market_cap", "Nvidia market cap"), ("debt_in_default", "Debt entering default"))
KEY_OUTCOMES = (("peak_gpu_backed_lending", "Peak GPU-backed lending"), ("spot_price_drawdown", "Spot price drawdown"),
                ("market_cap_drawdown", "Nvidia market-cap drawdown"),
                ("peak_nvidia_revenue_12m", "Peak Nvidia revenue (12 months)"),
                ("max_default_share_12m", "Largest 12-month default share"), ("crisis", "Credit crisis"))


@dataclass
class Evidence:
    """Everything the report states, gathered from the stored studies."""

    spec: ReportSpec
    root: Path
    main: StudyData
    others: list[StudyData]
    comparison: pd.DataFrame
    frames: list[pd.DataFrame]                 # monthly series of the reference scenario's runs
    calibration: pd.DataFrame
    outside: list[str]                         # calibration targets outside the horizon
    stylized: list[FactResult]
    networks: dict[str, nx.MultiDiGraph]
    network_seed: int
    facts: pd.DataFrame | None = None
    sensitivity: dict[str, tuple[pd.DataFrame, list[str]]] = field(default_factory=dict)
    phases: dict[str, pd.DataFrame] = field(default_factory=dict)
    command: str = ""
    figures: Path | None = None                # where figures are drawn (set by the renderer)

    @property
    def reference(self) -> str:
        return self.spec.reference

    def horizon(self) -> tuple[str, str, int]:
        n = len(self.frames[0]) if self.frames else (self.main.spec.months or 0)
        return month_label(0), month_label(max(n - 1, 0)), n


# ====================================================================================================
# title and abstract
# ====================================================================================================
def _peak(ev: Evidence, series: str) -> tuple[float, str, float, float]:
    """Median over runs of the series' peak, the month where the median path peaks, and the 90% band of the peak."""
    peaks = [float(df[series].max()) for df in ev.frames]
    path = bands(ev.main, series, ev.reference)
    month = path["date"].iloc[int(np.argmax(path["p50"].to_numpy(float)))] if len(path) else "-"
    return float(np.median(peaks)), month, float(np.percentile(peaks, 5)), float(np.percentile(peaks, 95))


def _largest_effect(ev: Evidence) -> str:
    """The counterfactual effect on a headline outcome with the largest |d_z| (paired effect size), among the significant ones
    (Holm-adjusted p < 0.05) if there are any."""
    table = ev.comparison[(ev.comparison["scenario"] != ev.reference) & ev.comparison["cohens_d"].notna()]
    table = table[table["outcome"].isin([k for k, _ in KEY_OUTCOMES])]
    if table.empty:
        return "No counterfactual scenario was compared with the reference."
    significant = table[table["p_holm"] < 0.05]
    lead = ("The largest significant counterfactual effect on a headline outcome (Holm-adjusted p < 0.05) is"
            if len(significant) else
            "No counterfactual difference in a headline outcome is significant after Holm adjustment at 5%; the "
            "largest standardised one is")
    pool = significant if len(significant) else table
    row = pool.loc[pool["cohens_d"].abs().idxmax()]
    unit = OUTCOME_UNITS.get(row["outcome"], "")
    return (f"{lead} that of {row['scenario']} on {row['outcome']}: a paired mean difference of "
            f"{num(row['diff_mean'])} ({unit}; 95% CI {num(row['diff_ci_low'])} to {num(row['diff_ci_high'])}; "
            f"paired effect size d_z {num(row['cohens_d'], 2)}; Holm-adjusted p {pval(row['p_holm'])}).")


def abstract(ev: Evidence) -> str:
    first, last, months = ev.horizon()
    n = len(ev.frames)
    price, price_month, _, _ = _peak(ev, "rental_price_h100")
    lending, lending_month, low, high = _peak(ev, "gpu_backed_lending")
    drawdown = float(np.median(ev.main.outcome(ev.reference, "spot_price_drawdown")))
    crises = int(ev.main.outcome(ev.reference, "crisis").sum())
    calib = (f" Over the {len(ev.calibration)} calibration targets the horizon covers, the median absolute relative "
             f"error of the model's median is {pct(ev.calibration['relative_error'].abs().median(), 0)}."
             if len(ev.calibration) else "")
    return (f"We simulate {len(ev.main.spec.scenarios)} scenario(s) of gpucredit, an agent-based model of the "
            f"AI-chip credit economy, over {months} months ({first} to {last}) with {ev.main.spec.replicates} common "
            f"seeds each. In the {ev.reference} scenario ({n} runs), the H100 rental price peaks at a median "
            f"US${num(price)}/GPU-hour (the median path peaks in {price_month}), GPU-backed lending peaks at a "
            f"median US${num(lending)}bn (90% band US${num(low)}bn to US${num(high)}bn; median path peak "
            f"{lending_month}), and the spot price of compute falls by a median {pct(drawdown, 0)} from peak to "
            f"trough. Runs with a credit crisis: {crises} of {n} (at least {CRISIS_DEFAULT_SHARE:.0%} of GPU-backed "
            f"debt, and at least US${CRISIS_MIN_DEFAULTED_BN:g}bn, defaulting within 12 months). {_largest_effect(ev)}{calib}")


# ====================================================================================================
# the model and the study
# ====================================================================================================
def odd_purpose(odd: Path) -> str:
    """The purpose paragraph of docs/ODD.md, as plain text (markdown emphasis and code marks removed)."""
    if not odd.is_file():
        return ("gpucredit is an agent-based model of the AI-chip credit economy since 2023: a chipmaker sells "
                "data-centre GPUs to hyperscalers and GPU cloud providers (neoclouds), which borrow against the GPUs "
                "and their customer contracts; the chipmaker also invests in its customers.")
    text = odd.read_text(encoding="utf-8")
    match = re.search(r"\*\*Purpose\.\*\*(.*?)\n\n", text, re.S)
    paragraph = match.group(1) if match else ""
    return " ".join(re.sub(r"[*`]", "", paragraph).split())


def model_section(ev: Evidence, odd: Path) -> Section:
    s = Section("model", "The model in brief")
    s.add(Paragraph(odd_purpose(odd)),
          Paragraph("Each month runs 13 phases in a fixed order: the month opens (rates, deliveries), end users pay AI "
                    "revenue, developers raise funding, compute contracts are signed, chips are traded and GPU-backed "
                    "loans originated, the spot market for compute clears, debt is serviced, collateral is marked and "
                    "covenants enforced (defaults, seizures and fire sales), equity is valued, the economy ages "
                    "(depreciation, scrapping), expectations are formed, the accounts are checked and the series "
                    "recorded. The full description follows the ODD protocol (Grimm et al. 2020) in docs/ODD.md; "
                    "Appendix A lists every parameter with its default, range, unit and source."),
          Paragraph(f"Money is in US$ billions, prices of compute in US$ per GPU-hour or per H100-equivalent hour, "
                    f"dates are months (YYYY-MM). A run has a credit crisis when, within some 12-month window, loans "
                    f"worth at least {CRISIS_DEFAULT_SHARE:.0%} of the GPU-backed debt outstanding at its start, "
                    f"and at least US${CRISIS_MIN_DEFAULTED_BN:g}bn, default; Appendix B defines every outcome."))
    return s


def study_section(ev: Evidence) -> Section:
    spec = ev.main.spec
    first, last, months = ev.horizon()
    runs = ev.main.runs
    failed = int((runs["status"] != "ok").sum())
    s = Section("study", "The study")
    s.add(Paragraph(f"The main study runs the scenarios {', '.join(spec.scenarios)} over the same "
                    f"{spec.replicates} seeds (common random numbers, spawned from root seed {spec.seed}), "
                    f"{months} months each ({first} to {last}): {len(runs)} runs, {failed} failed. Differences "
                    f"between scenarios are measured seed by seed against {ev.reference}."))
    extra = [f"{o.spec.name}: {o.spec.description or o.spec.design} ({o.spec.design} design, {len(o.runs)} runs)"
             for o in ev.others]
    if extra:
        s.add(Paragraph("Further studies in this report:"), Bullets(extra))
    else:
        s.add(Paragraph("The report names no phase-diagram (two-parameter grid) or sensitivity (Sobol, Morris) study, "
                        "so it has no phase diagram and no sensitivity indices."))
    rows, raw = [], []
    for scenario in spec.scenarios:
        description = load_scenario(scenario).description
        rows.append([scenario, description])
        raw.append({"scenario": scenario, "description": description})
    s.add(Table("scenarios", "Scenarios of the main study (the first is the reference).", ["scenario", "what it changes"],
                rows, pd.DataFrame(raw), align="ll", widths=("auto", "1fr")))
    return s


def calibration_section(ev: Evidence) -> Section:
    from ..sources import number_sources, reference

    s = Section("calibration", "Calibration")
    n = len(ev.frames)
    s.add(Paragraph(f"The {ev.reference} scenario against public figures of 2023-2025: for each target, the median "
                    f"over {n} runs, the 90% band (5th to 95th percentile over runs), the relative error of the median "
                    f"((model - target) / |target|) and the sources of the target, numbered as in the list below the "
                    f"table. The calibration is by hand; the table shows where the model lands, not a fit."))
    t = ev.calibration
    keys = [k.split() for k in t["source_keys"]] if len(t) else []
    numbers = number_sources(keys)
    rows = [[r.target, num(r.model_median), f"{num(r.model_p05)} to {num(r.model_p95)}", num(r.target_value),
             pct(r.relative_error, 0), ", ".join(f"[{numbers[k]}]" for k in cited)]
            for r, cited in zip(t.itertuples(), keys)]
    s.add(Table("calibration", f"Model ({ev.reference}, {n} runs) against calibration targets; sources in Table "
                               f"\u201cSources of the calibration targets\u201d below.",
                ["target (unit)", "model median", "90% band", "target", "rel. error", "sources"], rows, t,
                align="lrrrrl", widths=("1fr", "auto", "auto", "auto", "auto", "auto")))
    refs = [{"number": n, "key": key, "reference": reference(key)} for key, n in numbers.items()]
    s.add(Table("calibration_sources", "Sources of the calibration targets: publisher, title (a published headline "
                                       "in quotation marks; a description for press reports whose headline is not "
                                       "recorded), date and address.",
                ["#", "source"], [[f"[{r['number']}]", r["reference"]] for r in refs], pd.DataFrame(refs),
                align="ll", small=True, widths=("auto", "1fr")))
    if ev.outside:
        s.add(Paragraph("Targets outside the simulated horizon (not compared): " + "; ".join(ev.outside) + "."))
    return s
