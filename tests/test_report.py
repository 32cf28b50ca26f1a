"""`gpucredit report`: a tiny report (2 scenarios, 2 seeds, 24 months) read the way a researcher would read it.

One report is built for the module (about 20-40 s on a shared machine) and then checked: every section is in the
HTML, the page references nothing outside itself, the PDF has pages and embeds TrueType fonts only, tables exist
as booktabs LaTeX and CSV, the headline numbers of the abstract are the stored runs' numbers, and a second call
runs nothing and only renders. Bad input is refused with one line and exit status 2, writing nothing.
"""

from __future__ import annotations

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
