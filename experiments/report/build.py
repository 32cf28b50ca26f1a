"""Build a report: run what is missing through the study engine, gather the evidence, write HTML, PDF, tables
and figures.

::

    DIR/
        report.html        self-contained (inline CSS and SVG figures): opens offline
        report.pdf         Typst-compiled, vector figures, embedded TrueType fonts
        report.typ         the Typst source of report.pdf
        tables/*.tex|csv   every table as booktabs LaTeX and as CSV (raw numbers)
        figures/*.svg|pdf|png
        studies/<name>/    the study stores (gpucredit.experiments.store): reused by the next call
        networks/*.graphml network snapshots (reused)

Inputs are validated before anything is written. The report's files are rendered into a hidden directory inside
``DIR`` and moved into place at the end, so a failed rendering leaves the previous report (if any) untouched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from ..engine import run_study
from ..simulators import get_simulator
from ..study import REPO
from .document import Document
from .facts import load_facts
from .spec import ReportError, ReportSpec

OUTPUTS = ("report.html", "report.pdf", "report.typ")
FOLDERS = ("figures", "tables")


def horizon_months(spec: ReportSpec) -> int:
    """Months the main study simulates (its ``months``, else the reference scenario's ``run.months``)."""
    if spec.main.months is not None:
        return spec.main.months
    resolved = get_simulator(spec.main.model).resolve(spec.reference, dict(spec.main.fixed))
    return int(resolved["parameters"]["run.months"])


def check_out(out: str | Path) -> Path:
    """The report directory: new, empty, or one that holds an earlier report (its studies are reused)."""
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise ReportError(f"--out '{out}' exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not (root / "studies").is_dir():
        raise ReportError(f"--out '{out}' exists, is not empty and holds no gpucredit report (no studies/); choose a "
                          f"new or empty directory")
    return root


def run_studies(spec: ReportSpec, root: Path, log: Callable[[str], None], **execution) -> None:
    """Every study of the report, each in ``root/studies/<name>``; runs already stored are not run again.
    ``execution``: the study engine's options (workers, executor, scheduler, progress)."""
    for study in spec.all_studies():
        result = run_study(study, root / "studies" / study.name, on_note=lambda text: log(f"note: {text}"),
                           **execution)
        for line in result.summary_lines():
            log(line)
        if result.failed:
            log(f"note: {result.failed} run(s) of {study.name} failed; the report uses the successful runs")


def gather(spec: ReportSpec, root: Path, facts, command: str):
    """Read every statistic the report states from the stored studies."""
    from ..sensitivity import analyse
    from ..study_figures import phase_table
    from . import network as net
    from .paper import Evidence
    from .results import StudyData, calibration, comparisons, fact_table
    from .stylized import evaluate

    main = StudyData.open(root / "studies" / spec.main.name)
    others = [StudyData.open(root / "studies" / s.name) for s in spec.studies]
    frames = main.series(spec.reference)
    if not frames:
        raise RuntimeError(f"no run of the reference scenario {spec.reference} succeeded; nothing to report "
                           f"(see: gpucredit query {root / 'studies' / spec.main.name} \"SELECT error FROM runs\")")
    comparison = comparisons(main)
    table, outside = calibration(frames)
    run_id = main.run_ids(spec.reference)[0]
    seed = int(main.plan.loc[main.plan["run_id"] == run_id, "seed"].iloc[0])
    months = list(dict.fromkeys(net.snapshot_months(frames[0])))
    graphs = net.snapshots(spec.reference, seed, spec.main.months, dict(spec.main.fixed), run_id, months, frames[0],
                           root / "networks")
    ev = Evidence(spec, root, main, others, comparison, frames, table, outside,
                  evaluate(main, others), graphs, seed,
                  facts=fact_table(facts, frames) if facts else None, command=command)
    for study in others:
        if study.spec.design in ("sobol", "morris"):
            ev.sensitivity[study.spec.name] = analyse(study.directory)
        elif study.spec.design == "grid" and len(study.spec.factors) == 2:
            ev.phases[study.spec.name] = phase_table(study.directory, "crisis")
    return ev


def compose(ev) -> Document:
    """The document: title page, body sections, appendices."""
    from . import appendix, sections
    from .paper import DISCLAIMER, abstract, calibration_section, model_section, study_section

    first, last, months = ev.horizon()
    doc = Document(ev.spec.title, f"A gpucredit report: {len(ev.main.spec.scenarios)} scenario(s), "
                                  f"{ev.main.spec.replicates} seeds, {first} to {last}", abstract(ev), DISCLAIMER)
    body = [model_section(ev, REPO / "docs" / "ODD.md"), study_section(ev), calibration_section(ev),
            sections.dynamics_section(ev), sections.network_section(ev), sections.counterfactual_section(ev),
            sections.phase_section(ev), sections.sensitivity_section(ev), sections.stylized_section(ev),
            sections.observed_section(ev), appendix.parameter_section(), appendix.outcome_section(),
            appendix.reproducibility_section(ev)]
    doc.sections = [s for s in body if s is not None]
    return doc


def _move_into_place(tmp: Path, root: Path) -> None:
    for name in FOLDERS:
        if (root / name).exists():
            shutil.rmtree(root / name)
        os.replace(tmp / name, root / name)
    for name in OUTPUTS:
        os.replace(tmp / name, root / name)


def render(ev, root: Path) -> None:
    """Compose the document into a hidden directory of ``root`` and move the finished files into place."""
    from .html import render_html
    from .pdf import compile_pdf, render_typst
    from .tables import write_tables

    tmp = Path(tempfile.mkdtemp(prefix=".render-", dir=root))
    try:
        ev.figures = tmp / "figures"
        doc = compose(ev)
        write_tables(doc.tables(), tmp / "tables")
        (tmp / "report.html").write_text(render_html(doc, ev.figures), encoding="utf-8")
        (tmp / "report.typ").write_text(render_typst(doc), encoding="utf-8")
        (tmp / "report.pdf").write_bytes(compile_pdf(tmp / "report.typ", tmp))
        _move_into_place(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        ev.figures = root / "figures"


def build_report(spec: ReportSpec, out: str | Path, workers: int | None = None, progress: bool = True,
                 command: str = "", log: Callable[[str], None] | None = None, executor: str = "process",
                 scheduler: str | None = None) -> Path:
    """Validate, run what is missing, and write the report into ``out``; returns the report directory.

    ``workers``, ``executor`` and ``scheduler`` are the study engine's (:func:`gpucredit.experiments.engine.run_study`).
    Raises :class:`ReportError` for bad input (before anything is written)."""
    log = log or (lambda text: print(text, file=sys.stderr))
    root = check_out(out)
    facts = load_facts(spec.facts, horizon_months(spec)) if spec.facts else None
    run_studies(spec, root, log, workers=workers, executor=executor, scheduler=scheduler, progress=progress)
    log("Writing the report (figures, tables, HTML, PDF) ...")
    render(gather(spec, root, facts, command), root)
    return root
