"""`gpucredit report`: a tiny report (2 scenarios, 2 seeds, 24 months) read the way a researcher would read it.

One report is built for the module (about 20-40 s on a shared machine) and then checked: every section is in the
HTML, the page references nothing outside itself, the PDF has pages and embeds TrueType fonts only, tables exist
as booktabs LaTeX and CSV, the headline numbers of the abstract are the stored runs' numbers, and a second call
runs nothing and only renders. Bad input is refused with one line and exit status 2, writing nothing.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gpucredit.experiments.cli import main
from gpucredit.experiments.report.facts import load_facts
from gpucredit.experiments.report.spec import ReportError, from_file

ARGS = ["report", "--scenarios", "baseline,no_circular_financing", "--seeds", "2", "--months", "24",
        "--no-progress", "--workers", "2"]
SECTIONS = ("model", "study", "calibration", "baseline", "network", "counterfactuals", "facts", "observed",
            "parameters", "outcomes", "reproducibility")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The tiny report, with a facts file; returns (directory, stdout and stderr of the call)."""
    root = tmp_path_factory.mktemp("report")
    facts = root.parent / "facts.csv"
    facts.write_text("name,value,date,source,column\n"
                     "GPU-backed lending outstanding,11.0,2024-11,Financial Times,gpu_backed_lending\n")
    out = root / "r"
    done = subprocess.run([sys.executable, "-m", "gpucredit.experiments.cli", *ARGS, "--out", str(out),
                           "--facts", str(facts)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, done.stdout + done.stderr


def test_the_html_has_every_section_and_is_self_contained(report):
    out, printed = report
    assert f"Report: {out / 'report.pdf'}" in printed
    page = (out / "report.html").read_text()
    for key in SECTIONS:
        assert f'<section id="{key}">' in page, key
    # no asset from elsewhere: every src= or href= is an anchor in the page or inline data (a raster inside an SVG),
    # no @import, no stylesheet link, no script
    assert not re.search(r'(src|href)\s*=\s*"(?!#|data:)', page)
    assert "@import" not in page and "<link" not in page and "<script" not in page and "url(http" not in page
    assert page.count("<svg") >= 4  # figures inline
    # the disclaimer is on the title page, once
    assert page.count("stylized research model, not a forecast or investment advice") == 1


def test_the_pdf_has_pages_and_embeds_truetype_fonts(report):
    from pypdf import PdfReader

    pdf = PdfReader(report[0] / "report.pdf")
    assert len(pdf.pages) >= 8
    fonts = {}
    for page in pdf.pages:
        for font in (page.get("/Resources", {}).get("/Font") or {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is not None:
                    d = descriptor.get_object()
                    fonts[str(d["/FontName"])] = [k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in d]
    assert fonts, "no font found in the PDF"
    assert all(files == ["/FontFile2"] for files in fonts.values()), fonts  # embedded, TrueType
    text = "".join(page.extract_text() for page in pdf.pages[:2])
    assert "Abstract" in text and "Calibration" in text


def test_tables_are_booktabs_and_csv_and_figures_vector(report):
    out = report[0]
    for stem in ("calibration", "counterfactuals", "parameters", "sha256", "observed_facts"):
        tex = (out / "tables" / f"{stem}.tex").read_text()
        assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and r"\caption{" in tex
        assert len(pd.read_csv(out / "tables" / f"{stem}.csv")) > 0
    for stem in ("baseline_bands", "counterfactual_differences", "network"):
        for ext in ("svg", "pdf", "png"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000


def test_headline_numbers_are_the_stored_runs(report):
    """The abstract's peak lending is the median over the stored baseline runs of their peak (not typed in)."""
    out = report[0]
    runs = pd.read_parquet(out / "studies" / "main" / "runs.parquet")
    peaks = runs.loc[runs["scenario"] == "baseline", "peak_gpu_backed_lending"].to_numpy(float)
    page = (out / "report.html").read_text()
    assert f"GPU-backed lending peaks at a median US${np.median(peaks):,.3g}bn" in page
    facts = pd.read_csv(out / "tables" / "observed_facts.csv")
    assert facts.loc[0, "observed"] == 11.0 and np.isfinite(facts.loc[0, "model_median"])
    hashes = pd.read_csv(out / "tables" / "sha256.csv")
    assert len(hashes) == len(list((out / "studies").rglob("*.parquet"))) + 2  # + study.json, runs.jsonl


def test_a_second_call_reuses_the_stored_runs(report, capsys):
    out = report[0]
    before = (out / "studies" / "main" / "runs.jsonl").read_text()
    assert main([*ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "4 already stored, 0 executed now" in printed.err
    assert (out / "studies" / "main" / "runs.jsonl").read_text() == before  # no run appended
    assert "Observed facts" not in (out / "report.html").read_text()  # rendered again, now without --facts


@pytest.mark.parametrize("argv, message", [
    (["--scenarios", "baseline,nope"], "nope"),
    (["--scenarios", "baseline", "--seeds", "0"], "--seeds"),
    (["--scenarios", "baseline", "--months", "700"], "--months"),
    (["--scenarios", "baseline", "--facts", "FACTS"], "field 'date'"),
    (["--spec", "x.toml", "--scenarios", "baseline"], "do not combine"),
    ([], "needs --spec FILE or --scenarios"),
    (["--scenarios", "baseline", "--workers", "0"], "--workers: 0"),
    (["--scenarios", "baseline", "--scheduler", "tcp://localhost:8786"], "--executor dask"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, argv, message):
    facts = tmp_path / "facts.csv"
    facts.write_text("name,value,date,source,column\nlending,11,2024-13,FT,gpu_backed_lending\n")
    out = tmp_path / "out"
    argv = [str(facts) if a == "FACTS" else a for a in argv]
    assert main(["report", *argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("gpucredit: error:") and message in err, err
    assert not out.exists()


def test_a_directory_that_is_not_a_report_is_left_alone(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("my thesis")
    assert main(["report", "--scenarios", "baseline", "--seeds", "1", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "holds no gpucredit report" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_facts_files_are_validated_field_by_field(tmp_path):
    good = tmp_path / "facts.toml"
    good.write_text('[[fact]]\nname = "lending"\nvalue = 20.0\ndate = "2025-07"\nsource = "The Information"\n'
                    'column = "gpu_backed_lending"\n')
    assert load_facts(good, 120)[0].unit == "US$bn"
    with pytest.raises(ReportError, match="outside|not a simulated month"):
        load_facts(good, 24)  # 2025-07 is after a 24-month horizon
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value,date,source,column\nx,abc,2024-01,FT,gpu_backed_lending\n")
    with pytest.raises(ReportError, match=r"line 2: field 'value'"):
        load_facts(bad, 24)
    bad.write_text("name,value,date,source,column\nx,1,2024-01,FT,no_such_column\n")
    with pytest.raises(ReportError, match=r"field 'column'"):
        load_facts(bad, 24)


def test_report_files_name_their_studies_and_are_checked(tmp_path):
    """The shipped full report names the shipped studies; a report file with an unknown field, or whose main study is
    not a study of scenarios, is refused with a message naming the field."""
    from gpucredit.experiments.report.spec import SHIPPED_STUDIES

    full = from_file(SHIPPED_STUDIES.parent / "report" / "specs" / "full.toml")
    assert full.main.name == "counterfactuals" and full.main.replicates == 50 and full.reference == "baseline"
    assert [s.design for s in full.studies] == ["grid", "sobol"]
    assert from_file(SHIPPED_STUDIES.parent / "report" / "specs" / "full.toml", seeds=3).main.replicates == 3
    bad = tmp_path / "r.toml"
    bad.write_text('main = "counterfactuals"\nseeds = 3\n')
    with pytest.raises(ReportError, match=r"unknown field\(s\) \['seeds'\]"):
        from_file(bad)
    bad.write_text('main = "phase_ltv_cadence"\n')
    with pytest.raises(ReportError, match="field 'main'.*design 'replicate'"):
        from_file(bad)


def test_sources_in_the_report_name_publications():
    from gpucredit.sim.parameters import PARAMETERS

    sources = {p.source for p in PARAMETERS}
    assert all(s.strip() for s in sources) and not any(s.lower().endswith(".md") for s in sources)


# ====================================================================================================
# every figure of the report is legible at one journal column (3.5 in)
# ====================================================================================================
def _known_units() -> set[str]:
    from gpucredit.experiments.outcomes import OUTCOMES
    from gpucredit.experiments.report.charts import POINTS
    from gpucredit.sim.parameters import PARAMETERS
    from gpucredit.sim.reporting.columns import SERIES

    return ({u for _, u, _ in SERIES} | {u for _, u, _ in OUTCOMES} | {p.unit for p in PARAMETERS if p.unit}
            | set(POINTS.values()) | {"share of variance", "share of runs", "share of seeds"})


def _unit_of(label: str) -> str:
    """The unit an axis label names: the whole label (a panel whose title says what) or its last parentheses."""
    text = " ".join(label.replace("\\$", "$").split())
    inner = re.findall(r"\(([^()]*)\)$", text)
    return inner[-1] if inner else text


def _is_number(text: str) -> bool:
    try:
        float(text.replace("\u2212", "-").replace(",", ""))
        return True
    except ValueError:
        return False


def _tick_labels(axis) -> list:
    """The tick labels an axis draws: those of ticks inside its view limits."""
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    return [t.label1 for t in axis.get_major_ticks()
            if low - span <= t.get_loc() <= high + span and t.label1.get_visible() and t.label1.get_text()]


def _drawn_texts(fig) -> list:
    """The texts a figure shows: titles, axis and tick labels, annotations, legends, figure texts."""
    texts = list(fig.texts) + [t for legend in fig.legends for t in (*legend.get_texts(), legend.get_title())]
    for ax in fig.axes:
        if ax.get_visible():
            texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts,
                      *_tick_labels(ax.xaxis), *_tick_labels(ax.yaxis)]
            if ax.get_legend():
                texts += ax.get_legend().get_texts()
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _legibility_problems(name: str, fig) -> list[str]:
    """Crowded, clipped, tiny or unit-less text in a drawn figure."""
    import matplotlib.dates as mdates

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.padded(1)
    problems = [] if abs(fig.get_figwidth() - 3.5) < 1e-9 else [f"{name}: {fig.get_figwidth()} in wide, not 3.5"]
    units = _known_units()
    for text in _drawn_texts(fig):
        if text.get_fontsize() < 5.5:
            problems.append(f"{name}: {text.get_text()!r} at {text.get_fontsize()} pt")
        box = text.get_window_extent(renderer)
        if not (page.contains(box.x0, box.y0) and page.contains(box.x1, box.y1)):
            problems.append(f"{name}: {text.get_text()!r} leaves the figure")
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        notes = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible() and t.get_text().strip()]
        problems += [f"{name}: labels {ax.texts[i].get_text()!r} and {ax.texts[j].get_text()!r} overlap"
                     for i in range(len(notes)) for j in range(i + 1, len(notes)) if notes[i].overlaps(notes[j])]
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            ticks = _tick_labels(axis)
            point = fig.dpi / 72  # pixels in a typographic point: neighbouring labels keep 2 pt apart
            boxes = sorted((t.get_window_extent(renderer).padded(point) for t in ticks), key=lambda b: (b.x0, b.y0))
            problems += [f"{name}: tick labels {ticks[0].get_text()!r}... less than 2 pt apart"
                         for a, b in zip(boxes, boxes[1:]) if a.overlaps(b)]
            dates = isinstance(axis.get_major_formatter(), (mdates.DateFormatter, mdates.ConciseDateFormatter))
            if ticks and not dates and all(_is_number(t.get_text()) for t in ticks) and _unit_of(label) not in units:
                problems.append(f"{name}: value axis labelled {label!r}, no unit")
    return problems


def _synthetic_figures(tmp_path, monkeypatch) -> dict:
    """Every kind of report figure drawn from made-up data with the awkward cases: long scenario names, shares
    that differ by thousandths, values in the tens of thousands, a crowded network."""
    import networkx as nx

    from gpucredit.experiments.report import charts, network
    from gpucredit.experiments.report.paper import KEY_OUTCOMES, OUTCOME_UNITS

    drawn = {}
    for module in (charts, network):
        monkeypatch.setattr(module, "save", lambda fig, directory, stem: drawn.setdefault(stem, fig) and stem)
    dates = [f"{2023 + m // 12}-{m % 12 + 1:02d}" for m in range(120)]
    path = np.linspace(0, 1, 120)

    def bands(scale):
        mid = scale * (1 + np.sin(6 * path))
        return pd.DataFrame({"date": dates, "p05": 0.5 * mid, "p25": 0.8 * mid, "p50": mid, "p75": 1.2 * mid,
                             "p95": 1.6 * mid})

    scenarios = ["baseline", "no_circular_financing", "tight_credit"]
    charts.band_panels([(t, u, {"baseline": bands(s)}) for t, u, s in (
        ("H100 rental price", "US$/GPU-hour", 8), ("Used H100 price", "US$/GPU", 40_000),
        ("GPU-backed lending outstanding", "US$bn", 100), ("Nvidia market cap", "US$bn", 60_000),
        ("Debt entering default", "US$bn/month", 4), ("Circular revenue share", "fraction", 0.25))], tmp_path, "bands")
    for months in (12, 24, 36):  # short horizons label months or years, never crowded
        short = bands(8).iloc[:months]
        charts.band_panels([("H100 rental price", "US$/GPU-hour", {"baseline": short}),
                            ("GPU-backed lending", "US$bn", {"baseline": short})], tmp_path, f"bands_{months}")
    charts.band_panels([(t, u, {sc: bands(s) for sc in scenarios}) for t, u, s in (
        ("H100 rental price", "US$/GPU-hour", 8), ("GPU-backed lending", "US$bn", 100),
        ("Nvidia market cap", "US$bn", 60_000), ("Debt entering default", "US$bn/month", 4))], tmp_path, "paths")
    # the demo report's paired differences (mean, 95% CI) whose tick labels once ran together
    shares = {"no_circular_financing": (-0.00189, -0.00779, 0.00402), "tight_credit": (-9.08e-4, -0.00633, 0.00451)}
    money = {"no_circular_financing": (-285.0, -892.0, 323.0), "tight_credit": (-445.0, -1002.0, 111.0)}
    table = pd.DataFrame([{"outcome": name, "scenario": sc, "p_holm": 0.2, **dict(zip(
        ("diff_mean", "diff_ci_low", "diff_ci_high"), (shares if OUTCOME_UNITS[name] in ("fraction", "0/1") else money)[sc]))}
        for name, _ in KEY_OUTCOMES for sc in scenarios[1:]])
    charts.differences(table, [(n, t, OUTCOME_UNITS[n]) for n, t in KEY_OUTCOMES], "baseline", tmp_path, "forest")
    grid = pd.DataFrame(np.linspace(0, 1, 30).reshape(5, 6), index=pd.Index([0.3, 0.4, 0.5, 0.6, 0.7],
                        name="lenders.max_ltv"), columns=pd.Index([6, 12, 18, 24, 30, 36], name="technology.cadence_months"))
    charts.heatmap(grid, "crisis probability (share of runs)", tmp_path, "phase", True)
    params = ["lenders.max_ltv", "technology.accounting_life_months", "nvidia.launch_markup", "rates.shock_size"]
    outcomes = ["peak_gpu_backed_lending", "market_cap_drawdown", "max_default_share_12m", "spot_price_drawdown"]
    sobol = pd.DataFrame([{"outcome": o, "parameter": q, "S1": 0.1 * k, "S1_conf": 0.05, "ST": 0.15 * k,
                           "ST_conf": 0.08} for o in outcomes for k, q in enumerate(params)])
    charts.sobol_bars(sobol, outcomes, tmp_path, "sobol", {"peak_gpu_backed_lending": "Peak GPU-backed lending (US$bn)"})
    graph = nx.MultiDiGraph()
    agents = {"Lender": ["Blackstone", "Pimco", "Apollo", "BlackRock", "Macquarie", "Carlyle", "Upper90", "Magnetar"],
              "Neocloud": ["CoreWeave", "Lambda", "Nebius", "Crusoe"] + [f"Small neocloud {k}" for k in range(1, 22)],
              "Hyperscaler": ["Microsoft", "Google", "Amazon", "Meta", "Oracle"],
              "Lab": ["OpenAI", "Anthropic", "xAI", "AI start-ups", "Mistral"], "Chipmaker": ["Nvidia", "AMD and custom silicon"]}
    for kind, names in agents.items():
        for k, agent in enumerate(names):  # a small neocloud among the five largest, as in the demo report
            graph.add_node(agent, type=kind, assets=100.0 - k + (60 if agent == "Small neocloud 20" else 0))
    graph.add_node("Small neocloud 14", assets=0.0)  # exited: a counterparty without a type
    names = list(graph.nodes)
    for k, (u, v) in enumerate(zip(names, names[7:] + names[:7])):
        graph.add_edge(u, v, type=("loan", "compute", "chip_sale")[k % 3], weight=float(k + 1))
    network.network_figure({"2032-09": graph, "2032-12": graph}, {"2032-09": "2032-09: peak of GPU-backed lending",
                                                                   "2032-12": "2032-12: after the correction"},
                           tmp_path, "network")
    return drawn


def test_every_report_figure_is_legible_at_one_journal_column(tmp_path, monkeypatch):
    """3.5 in wide; tick labels at least 2 pt apart (the forest plot's thousandths once ran into each other); nothing
    cut off at the figure's edge; no text under 5.5 pt; every numeric axis names its unit."""
    from gpucredit.experiments.report.charts import style

    drawn = _synthetic_figures(tmp_path, monkeypatch)
    assert set(drawn) == {"bands", "bands_12", "bands_24", "bands_36", "paths", "forest", "phase", "sobol", "network"}
    with style():  # the type sizes the report saves them with
        problems = [p for name, fig in drawn.items() for p in _legibility_problems(name, fig)]
    assert not problems, "\n".join(problems)


# ====================================================================================================
# calibration sources: original articles and filings, with their addresses
# ====================================================================================================
def test_every_calibration_source_is_an_original_with_an_address():
    """Publisher, title, date and an https address for every source; an address that is only the publisher's
    site or a list of filings says so, and a headline not recorded is not dressed up as one."""
    from gpucredit.experiments.sources import URL_SCOPES, load_sources, reference

    sources = load_sources()
    assert len(sources) >= 20
    for key, s in sources.items():
        assert s["publisher"].strip() and s["date"].strip() and s["url"].startswith("https://"), key
        assert s["title"].strip().lower() not in ("press", "report", "") and len(s["title"]) > 12, key
        assert s["url_scope"] in URL_SCOPES and isinstance(s["title_exact"], bool), key
        if s["url_scope"] == "site":  # a bare site: no path was guessed
            assert s["url"].rstrip("/").count("/") <= 3, key
        text = reference(key)
        assert s["url"] in text and (("\u201c" + s["title"] + "\u201d") in text) == s["title_exact"], key
        assert ("Publisher's site" in text) == (s["url_scope"] == "site"), key


def test_calibration_help_lists_every_target_source_with_its_address(capsys):
    from gpucredit.experiments.sources import _data, load_sources

    with pytest.raises(SystemExit):
        main(["calibration", "--help"])
    text = capsys.readouterr().out
    cited = {k for t in _data()["target"] for k in t["sources"]}
    assert all(load_sources()[k]["url"] in text for k in cited)
    assert "(default 48" in text and all(t["label"] in text for t in _data()["target"])


def test_the_report_numbers_calibration_sources_and_lists_them(report):
    """The calibration table cites [n]; a second table gives each number's publisher, title, date and address,
    in the PDF's tables and in the HTML."""
    out = report[0]
    table = pd.read_csv(out / "tables" / "calibration.csv")
    refs = pd.read_csv(out / "tables" / "calibration_sources.csv")
    cited = {k for keys in table["source_keys"] for k in keys.split()}
    assert set(refs["key"]) == cited and list(refs["number"]) == list(range(1, len(refs) + 1))
    page = (out / "report.html").read_text()
    for r in refs.itertuples():
        assert html.escape(r.reference.split(". ")[-1].split(": ")[-1]) in page  # the address
    assert f"[{len(refs)}]" in page
