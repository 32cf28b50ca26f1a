"""The report's results sections: baseline dynamics, the network, counterfactuals, phase diagram, sensitivity,
stylized facts and observed facts. Each returns a :class:`~.document.Section` and draws its figures."""

from __future__ import annotations

import pandas as pd

from . import charts
from .document import Figure, Paragraph, Section, Table, num, pct, pval
from .network import AFTER_MONTHS, network_figure, summary
from .paper import (BASELINE_SERIES, COMPARED_SERIES, KEY_OUTCOMES, OUTCOME_UNITS, UNITS, Evidence)
from .results import bands, quantiles
from ..sensitivity import flag_summary


def dynamics_section(ev: Evidence) -> Section:
    s = Section("baseline", "Baseline dynamics")
    n = len(ev.frames)
    panels = [(title, UNITS[name], {ev.reference: bands(ev.main, name, ev.reference)}) for name, title in BASELINE_SERIES]
    stem = charts.band_panels(panels, ev.figures, "baseline_bands")
    s.add(Paragraph(f"Monte Carlo median (line), 25-75% (dark) and 5-95% (light) bands over the {n} runs of the "
                    f"{ev.reference} scenario. Nothing is scheduled: booms, defaults and corrections emerge from the "
                    f"agents' rules and differ from seed to seed."),
          Figure(stem, f"{ev.reference}: median and 5-95% band over {n} seeds of six monthly series (units on the "
                       f"axes; debt entering default is a monthly flow).", charts.PAGE_SHARE))
    rows, raw = [], []
    for name, unit, description in _outcomes():
        median, low, high = quantiles(list(ev.main.outcome(ev.reference, name)))
        rows.append([name, unit, num(median), num(low), num(high)])
        raw.append({"outcome": name, "unit": unit, "median": median, "p05": low, "p95": high})
    s.add(Table("baseline_outcomes", f"Outcomes of the {ev.reference} scenario over {n} seeds: median and 5th and 95th "
                                     f"percentiles (definitions in Appendix B).",
                ["outcome", "unit", "median", "5%", "95%"], rows, pd.DataFrame(raw), align="llrrr"))
    return s


def _outcomes():
    from ..outcomes import OUTCOMES
    return OUTCOMES


def network_section(ev: Evidence) -> Section:
    s = Section("network", "The financial network")
    months = list(ev.networks)
    if not months:
        return s.add(Paragraph("No network snapshot: the reference scenario has no successful run."))
    peak, after = months[0], months[-1]
    titles = {peak: f"{peak}: peak of GPU-backed lending", after: f"{after}: after the correction"}
    if peak == after:
        titles = {peak: f"{peak}: peak of GPU-backed lending (the run's last month: no correction yet)"}
    stem = network_figure(ev.networks, titles, ev.figures, "network")
    s.add(Paragraph(f"The claims between agents in run seed {ev.network_seed} of {ev.reference} (its first replicate), "
                    f"in the month its GPU-backed lending peaks ({peak}) and {AFTER_MONTHS} months later ({after}, or "
                    f"the last month). Edges point from the holder of a claim to the party that owes it (chip sales "
                    f"from the chipmaker to the buyer)."),
          Figure(stem, f"Financial network of {ev.reference}, seed {ev.network_seed}, at "
                       f"{peak if peak == after else peak + ' and ' + after}. Columns: "
                       f"lenders, neoclouds, hyperscalers, AI developers (labs and the start-up population), chipmakers; line colour: type of claim; line width grows with "
                       f"the square root of its value (US$bn); dot size with the square root of total assets; open dots: "
                       f"neoclouds that have exited; the five largest neoclouds are named.",
                 charts.PAGE_SHARE))
    rows, raw = [], []
    for month, graph in ev.networks.items():
        t = summary(graph)
        risk = float(ev.frames[0].loc[month, "systemic_risk"]) if ev.frames else float("nan")
        rows.append([month, str(t["nodes"]), num(t["loan"]), num(t["equity_stake"]), num(t["compute"] + t["rent_back"]),
                     num(t["chip_sale"]), num(risk, 2)])
        raw.append({"month": month, **t, "debtrank": risk})
    s.add(Table("network", f"The network of {ev.reference}, seed {ev.network_seed}: live agents, claims by type (US$bn; "
                           f"compute: remaining contract value; chip sales: last 12 months) and DebtRank (Battiston et "
                           f"al. 2012; distress after a 20% fall in GPU values, 0-1).",
                ["month", "agents", "loans", "equity stakes", "compute contracts", "chip sales", "DebtRank"], rows,
                pd.DataFrame(raw), align="lrrrrrr"))
    return s


def counterfactual_section(ev: Evidence) -> Section:
    s = Section("counterfactuals", "Counterfactuals")
    scenarios = ev.main.spec.scenarios
    if len(scenarios) < 2:
        return s.add(Paragraph("The main study has a single scenario, so there is no counterfactual to compare."))
    panels = [(title, UNITS[name], {sc: bands(ev.main, name, sc) for sc in scenarios}) for name, title in COMPARED_SERIES]
    paths = charts.band_panels(panels, ev.figures, "counterfactual_paths")
    outcomes = [(name, title, OUTCOME_UNITS[name]) for name, title in KEY_OUTCOMES]
    forest = charts.differences(ev.comparison, outcomes, ev.reference, ev.figures, "counterfactual_differences")
    n_tests = int(ev.comparison["p_value"].notna().sum())
    s.add(Paragraph(f"Each scenario runs with the same seeds as {ev.reference}, so its effect is measured seed by seed: "
                    f"the paired mean difference with its 95% Student-t confidence interval, the paired effect size d_z "
                    f"(mean difference over the standard deviation of the differences), and the p-value of the test "
                    f"suited to the outcome (exact McNemar for 0/1 outcomes, Wilcoxon signed-rank for skewed or mostly-"
                    f"zero ones, paired t otherwise) adjusted for the {n_tests} tests of the comparison table (Holm 1979)."),
          Figure(paths, (f"Median over {ev.main.spec.replicates} seeds of four series in each scenario."
                         if len(scenarios) > charts.MAX_BANDS else
                         f"Median and 5-95% band over {ev.main.spec.replicates} seeds of four series in each "
                         f"scenario."), charts.PAGE_SHARE),
          Figure(forest, f"Paired differences from {ev.reference} (mean and 95% CI over seeds; shares in "
                         f"percentage points); filled markers: Holm-adjusted p < 0.05.", charts.PAGE_SHARE))
    table = ev.comparison[ev.comparison["outcome"].isin([k for k, _ in KEY_OUTCOMES])]
    rows = []
    for name, title in KEY_OUTCOMES:
        for k, r in enumerate(table[table["outcome"] == name].itertuples()):
            ref = r.scenario == ev.reference
            rows.append([f"{title} ({OUTCOME_UNITS[name]})" if k == 0 else "", r.scenario, num(r.median), f"{num(r.p05)} to {num(r.p95)}",
                         "" if ref else num(r.diff_mean),
                         "" if ref else f"{num(r.diff_ci_low)} to {num(r.diff_ci_high)}",
                         "" if ref else num(r.cohens_d, 2), "" if ref else pval(r.p_holm)])
    s.add(Table("counterfactuals", f"Headline outcomes by scenario: median and 5-95% range over seeds; paired "
                                   f"difference from {ev.reference} with 95% CI, paired effect size d_z and Holm-adjusted p. Every "
                                   f"outcome is in tables/counterfactuals.csv.",
                ["outcome (unit)", "scenario", "median", "5-95%", "difference", "95% CI", "d_z", "p (Holm)"], rows,
                ev.comparison, align="llrrrrrr", small=True,
                widths=("1.6fr", "auto", "auto", "auto", "auto", "auto", "auto", "auto")))
    return s


def phase_section(ev: Evidence) -> Section | None:
    if not ev.phases:
        return None
    s = Section("phase", "Phase diagram")
    for name, table in ev.phases.items():
        study = next(o for o in ev.others if o.spec.name == name)
        stem = charts.heatmap(table, "crisis probability (share of runs)", ev.figures, f"phase_{name}", True,
                             study.spec.model)
        seeds = f"{study.spec.replicates} seed{'s' if study.spec.replicates != 1 else ''}"
        s.add(Paragraph(f"Study {name}: {study.spec.description.rstrip('.')}. The probability of a credit crisis in "
                        f"each cell is the share of its runs ({seeds}) with a crisis."),
              Figure(stem, f"Crisis probability over {table.index.name} (rows) and {table.columns.name} (columns), "
                           f"{seeds} per cell ({name}).", charts.PAGE_SHARE))
        raw = table.reset_index()
        rows = [[f"{idx:g}"] + [pct(v, 0) for v in row] for idx, row in zip(table.index, table.to_numpy(float))]
        s.add(Table(f"phase_{name}", f"Crisis probability per cell ({name}); rows {table.index.name}, columns "
                                     f"{table.columns.name}.",
                    [str(table.index.name)] + [f"{c:g}" for c in table.columns], rows, raw))
    return s


def sensitivity_section(ev: Evidence) -> Section | None:
    if not ev.sensitivity:
        return None
    s = Section("sensitivity", "Global sensitivity")
    for name, (table, notes) in ev.sensitivity.items():
        study = next(o for o in ev.others if o.spec.name == name)
        if table.empty:
            s.add(Paragraph(f"Study {name}: no outcome could be analysed ({'; '.join(notes)})."))
            continue
        if "S1" in table:
            outcomes = [o for o in ("peak_gpu_backed_lending", "market_cap_drawdown", "max_default_share_12m",
                                    "spot_price_drawdown") if o in set(table["outcome"])][:4]
            stem = charts.sobol_bars(table, outcomes, ev.figures, f"sobol_{name}",
                                     {n: f"{t} ({OUTCOME_UNITS[n]})" for n, t in KEY_OUTCOMES})
            s.add(Figure(stem, f"First- and total-order Sobol indices with bootstrap 95% CIs ({name}, N = "
                               f"{study.spec.samples}, {len(study.runs)} runs).", charts.PAGE_SHARE))
            cols = ["S1", "S1_conf", "ST", "ST_conf"]
        else:
            cols = ["mu_star", "mu_star_conf", "sigma", "mu"]
        flags = table["flag"] if "flag" in table else pd.Series("ok", index=table.index)
        rows = [[r["outcome"], r["parameter"]] + [num(r[c], 2) for c in cols] + ["ok" if flags[i] == "ok" else "flagged"]
                for i, r in table.iterrows()]
        s.add(Paragraph(f"Study {name}: {study.spec.description.rstrip('.')}."
                        + (" Not analysed: " + "; ".join(notes) + "." if notes else "")
                        + " " + flag_summary(table) + " The reasons for each flag are in the table's CSV."),
              Table(f"sensitivity_{name}", f"Sensitivity indices of {name} for every outcome that varies; "
                                           f"'flagged': an index outside its range or less precise than its size.",
                    ["outcome", "parameter", *cols, "read"], rows, table, align="ll" + "r" * len(cols) + "l",
                    small=True))
    return s


def stylized_section(ev: Evidence) -> Section:
    s = Section("facts", "Stylized facts")
    run = [f for f in ev.stylized if f.verdict != "not run"]
    skipped = [f"{f.number}" for f in ev.stylized if f.verdict == "not run"]
    s.add(Paragraph(f"Each stylized fact is an experiment with an expected direction, never forced by the code "
                    f"(gpucredit facts; docs/ODD.md, section 10.1). A statistic holds when its 95% confidence "
                    f"interval over seeds lies on the expected side, fails when it lies on the opposite side, and is "
                    f"inconclusive otherwise; a fact holds when all its statistics hold and fails when any fails. "
                    f"{len(run)} of {len(ev.stylized)} could be evaluated from this report's studies; not run: "
                    f"{', '.join(skipped) or 'none'} (the table says what each needs)."))
    rows = [[str(f.number), f.claim, f.source, f.statistic, f.verdict] for f in ev.stylized]
    raw = pd.DataFrame([f.__dict__ for f in ev.stylized])
    s.add(Table("stylized_facts", "Stylized facts: each statistic with its 95% confidence interval, runs or seed "
                                  "pairs (n) and verdict, and the fact's verdict (holds, fails, inconclusive, or not "
                                  "run).",
                ["#", "fact", "reference", "statistics", "verdict"], rows, raw, align="lllll", small=True,
                widths=("auto", "1.5fr", "1fr", "2fr", "auto")))
    return s


def observed_section(ev: Evidence) -> Section | None:
    if ev.facts is None:
        return None
    s = Section("observed", "Model versus observed facts")
    t = ev.facts
    s.add(Paragraph(f"Facts supplied with --facts, each against the model column at its month in the {ev.reference} "
                    f"scenario: median and 90% band over {len(ev.frames)} runs, relative error of the median."))
    rows = [[r.fact, r.date, f"{r.column} ({r.unit})", num(r.observed), num(r.model_median),
             f"{num(r.model_p05)} to {num(r.model_p95)}", pct(r.relative_error, 0), r.source] for r in t.itertuples()]
    s.add(Table("observed_facts", "Observed facts against the model.",
                ["fact", "month", "column (unit)", "observed", "model median", "90% band", "rel. error", "source"],
                rows, t, align="lllrrrrl", small=True,
                widths=("1.2fr", "auto", "1fr", "auto", "auto", "auto", "auto", "1fr")))
    return s
