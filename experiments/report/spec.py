"""What a report covers: its main study of scenarios, optional further studies, an optional facts file.

A report specification is a TOML file::

    title = "GPU-backed credit in a stylized AI-chip economy"   # optional
    main = "counterfactuals"        # a study of scenarios (design 'replicate'): a file, or the name of a study
                                    # shipped in experiments/studies/; its first scenario is the reference
    replicates = 50                 # optional: seeds per scenario (overrides the main study's)
    months = 120                    # optional: months from 2023-01 (overrides the main study's)
    studies = ["phase_ltv_cadence", "sobol_key_parameters"]   # optional: a two-parameter grid gives a phase
                                    # diagram, a sobol or morris study gives sensitivity indices
    facts = "facts.csv"             # optional: observed facts to set against the model (see facts.py)

``--spec`` may also name a study file directly (one with a ``design`` or ``scenarios`` field): it is then the
main study. Relative paths in a report file are read from the file's own directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..study import StudyError, StudySpec, load_spec, validate

REPORT_KEYS = ("title", "main", "replicates", "months", "studies", "facts")
SHIPPED_STUDIES = Path(__file__).resolve().parent.parent / "studies"
DEFAULT_TITLE = "Credit, collateral and circular financing in a stylized AI-chip economy"


class ReportError(ValueError):
    """Bad report input: reported as one line naming the field and what is allowed (exit status 2)."""


@dataclass
class ReportSpec:
    """A validated report: the main study, further studies, the facts file and how it was asked for."""

    title: str
    main: StudySpec
    studies: list[StudySpec] = field(default_factory=list)
    facts: Path | None = None
    source: str = "command line"
    files: dict[str, str] = field(default_factory=dict)  # study name -> the file it was read from

    @property
    def reference(self) -> str:
        """The scenario every counterfactual is measured against (the main study's first)."""
        return self.main.scenarios[0]

    def all_studies(self) -> list[StudySpec]:
        return [self.main, *self.studies]


def study_path(name_or_path: str, base: Path) -> Path:
    """A study file: a path (relative to ``base``) or the name of a study shipped in experiments/studies/."""
    for candidate in (base / name_or_path, Path(name_or_path), SHIPPED_STUDIES / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    shipped = ", ".join(sorted(p.stem for p in SHIPPED_STUDIES.glob("*.toml")))
    raise ReportError(f"study '{name_or_path}' is neither a file nor a shipped study; shipped: {shipped}")


def _check_main(spec: StudySpec, where: str) -> StudySpec:
    if spec.design != "replicate":
        raise ReportError(f"{where}: the main study must be a study of scenarios (design 'replicate'), "
                          f"not '{spec.design}'")
    return spec


def _override(spec: StudySpec, seeds: int | None, months: int | None) -> StudySpec:
    """The main study with the number of seeds or months replaced (validated again)."""
    if seeds is None and months is None:
        return spec
    changed = replace(spec, replicates=spec.replicates if seeds is None else seeds,
                      months=spec.months if months is None else months)
    try:
        return validate(changed)
    except StudyError as exc:
        raise ReportError(str(exc).replace("'replicates'", "'replicates' (--seeds)")) from None


def _load_study(path: Path) -> StudySpec:
    try:
        return load_spec(path)
    except StudyError as exc:
        raise ReportError(str(exc)) from None


def _report_file(path: Path, seeds: int | None, months: int | None) -> ReportSpec:
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"report file {path}: malformed TOML ({exc})") from None
    if "design" in data or "scenarios" in data or "scenario" in data:  # a study file: it is the main study
        main = _check_main(_load_study(path), f"study file {path}")
        return ReportSpec(DEFAULT_TITLE, _override(main, seeds, months), source=str(path), files={main.name: str(path)})
    unknown = sorted(set(data) - set(REPORT_KEYS))
    if unknown:
        raise ReportError(f"report file {path}: unknown field(s) {unknown}; allowed: {', '.join(REPORT_KEYS)}")
    if not isinstance(data.get("main"), str):
        raise ReportError(f"report file {path}: field 'main' must name the main study (a file or a shipped study)")
    base = path.parent
    files = {}
    main_path = study_path(data["main"], base)
    main = _check_main(_load_study(main_path), f"report file {path}, field 'main'")
    files[main.name] = str(main_path)
    main = _override(main, data.get("replicates") if seeds is None else seeds,
                     data.get("months") if months is None else months)
    names = data.get("studies", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ReportError(f"report file {path}: field 'studies' must be a list of study files or names")
    studies = []
    for name in names:
        study_file = study_path(name, base)
        studies.append(_load_study(study_file))
        files[studies[-1].name] = str(study_file)
    facts = data.get("facts")
    if facts is not None and not isinstance(facts, str):
        raise ReportError(f"report file {path}: field 'facts' must be a path to a CSV or TOML file")
    title = data.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or not title.strip():
        raise ReportError(f"report file {path}: field 'title' must be a non-empty string")
    return ReportSpec(title.strip(), main, studies, (base / facts) if facts else None, str(path), files)


def _unique_names(spec: ReportSpec) -> ReportSpec:
    names = [s.name for s in spec.all_studies()]
    if len(set(names)) != len(names):
        raise ReportError(f"the report's studies must have distinct names (each is stored under studies/<name>); "
                          f"got {', '.join(names)}")
    return spec


def from_file(path: str | Path, seeds: int | None = None, months: int | None = None) -> ReportSpec:
    """Read a report (or study) file; ``seeds``/``months`` override the main study's."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"--spec: file '{path}' does not exist")
    return _unique_names(_report_file(path, seeds, months))


def from_flags(scenarios: str, seeds: int | None, months: int | None, seed: int = 0) -> ReportSpec:
    """The common case: scenarios (the first is the reference) over ``seeds`` common seeds."""
    names = [s.strip() for s in (scenarios or "").split(",") if s.strip()]
    if not names:
        raise ReportError("--scenarios needs at least one scenario name (comma-separated; the first is the reference)")
    try:
        main = validate(StudySpec(name="main", description="Scenarios over common seeds", scenarios=names,
                                  design="replicate", replicates=5 if seeds is None else seeds, months=months,
                                  seed=seed))
    except StudyError as exc:
        raise ReportError(str(exc).replace("'replicates'", "'replicates' (--seeds)")) from None
    return ReportSpec(DEFAULT_TITLE, main)
