"""``gpucredit facts``: run the fact studies that are missing through the study engine (stored runs are reused),
evaluate each fact and write the table.

::

    DIR/studies/<study>/                          the study stores (gpucredit.experiments.store), reused next time;
                                                  <study>-<seeds>seeds-<months>m/ with other --seeds or --months
    DIR/facts.csv                                 one row per statistic: fact, label, value, ci_low, ci_high, n,
                                                  verdict, expected, method, note
    DIR/facts.md                                  the same as a markdown table, with each fact's verdict
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pandas as pd

from ..study import REPO, StudyError, StudySpec, load_spec, validate
from .common import CLAIMS, FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, FactRow, StoredStudy, not_run
from .market import critical_leverage, procyclicality, tails_and_clustering
from .shocks import collateral_channel, fire_sales
from .vendor import capital_overhang, circular_financing

STUDY_DIR = REPO / "experiments" / "studies"
FACT_STUDIES: dict[int, tuple[str, ...]] = {
    1: ("fact1_leverage_tails",),
    2: ("fact2_procyclical",),
    3: ("fact3_fire_sales", "fact3_strict_lenders", "fact3_forbearing_lenders"),
    4: ("fact4_critical_leverage",),
    5: ("fact5_overhang",),
    6: ("fact6_collateral",),
    7: ("fact7_circular",),
}
FACTS = tuple(FACT_STUDIES)


class FactsError(ValueError):
    """Bad input to ``gpucredit facts``: one line naming the field and what is allowed (exit status 2)."""


def parse_only(text: str | None) -> tuple[int, ...]:
    """``--only 1,3``: the facts to evaluate (all when None)."""
    if text is None:
        return FACTS
    chosen = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) not in FACT_STUDIES:
            raise FactsError(f"--only: {part!r} is not a fact number; expected comma-separated numbers from "
                             f"{FACTS[0]} to {FACTS[-1]} (e.g. --only 2,4,6)")
        chosen.append(int(part))
    return tuple(sorted(set(chosen)))


# ====================================================================================================
# evaluation
# ====================================================================================================
def evaluate_fact(number: int, studies: dict[str, StoredStudy]) -> list[FactRow]:
    """The rows of one fact from the stored studies it needs (by study name); ``not run`` if one is missing."""
    missing = [name for name in FACT_STUDIES[number][:1] if name not in studies]
    if missing:
        return [not_run(number, f"needs the study {missing[0]} (gpucredit facts --only {number})")]
    get = studies.get
    evaluate = {1: lambda: tails_and_clustering(get("fact1_leverage_tails")),
                2: lambda: procyclicality(get("fact2_procyclical")),
                3: lambda: fire_sales(get("fact3_fire_sales"), get("fact3_strict_lenders"),
                                      get("fact3_forbearing_lenders")),
                4: lambda: critical_leverage(get("fact4_critical_leverage")),
                5: lambda: capital_overhang(get("fact5_overhang")),
                6: lambda: collateral_channel(get("fact6_collateral")),
                7: lambda: circular_financing(get("fact7_circular"))}
    return evaluate[number]()


def evaluate(studies: dict[str, StoredStudy], only: tuple[int, ...] = FACTS) -> list[FactRow]:
    """Every chosen fact's rows, in fact order."""
    return [row for number in only for row in evaluate_fact(number, studies)]


def fact_verdict(rows: list[FactRow]) -> str:
    """A fact's verdict from its rows: ``holds`` when every statistic that was run holds, ``fails`` when any fails,
    ``not run`` when none was run, else ``inconclusive``."""
    run = [r.verdict for r in rows if r.verdict != NOT_RUN]
    if not run:
        return NOT_RUN
    if FAILS in run:
        return FAILS
    return HOLDS if all(v == HOLDS for v in run) else INCONCLUSIVE


# ====================================================================================================
# the studies
# ====================================================================================================
def fact_specs(only: tuple[int, ...], seeds: int | None = None, months: int | None = None) -> list[StudySpec]:
    """The shipped study files of the chosen facts, with the seeds and months replaced when given."""
    specs = []
    for number in only:
        for name in FACT_STUDIES[number]:
            spec = load_spec(STUDY_DIR / f"{name}.toml")
            changed = replace(spec, replicates=spec.replicates if seeds is None else seeds,
                              months=spec.months if months is None else months)
            try:
                specs.append(validate(changed))
            except StudyError as exc:
                raise FactsError(str(exc).replace("'replicates'", "'replicates' (--seeds)")) from None
    return specs


def study_directory(root: Path, spec: StudySpec) -> Path:
    """Where a fact study is stored: ``studies/<name>`` as shipped (where a report naming the study finds it), or
    ``studies/<name>-<seeds>seeds-<months>m`` with other seeds or months (another study, stored beside it)."""
    shipped = load_spec(STUDY_DIR / f"{spec.name}.toml")
    if (spec.replicates, spec.months) == (shipped.replicates, shipped.months):
        return root / "studies" / spec.name
    return root / "studies" / f"{spec.name}-{spec.replicates}seeds-{spec.months}m"


def check_out(out: str | Path) -> Path:
    """The output directory: new, empty, or one that holds earlier fact studies (they are reused)."""
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise FactsError(f"--out '{out}' exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not (root / "studies").is_dir():
        raise FactsError(f"--out '{out}' exists, is not empty and holds no gpucredit fact studies (no studies/); "
                         f"choose a new or empty directory")
    return root


def run_facts(only: tuple[int, ...], out: str | Path, seeds: int | None = None, months: int | None = None,
              workers: int | None = 1, progress: bool = True,
              log: Callable[[str], None] | None = None) -> list[FactRow]:
    """Validate, run the chosen facts' missing runs, evaluate them and write ``facts.csv`` and ``facts.md``."""
    from ..engine import run_study

    log = log or (lambda text: print(text, file=sys.stderr))
    specs = fact_specs(only, seeds, months)
    root = check_out(out)
    studies = {}
    for spec in specs:
        directory = study_directory(root, spec)
        result = run_study(spec, directory, workers=workers, progress=progress,
                           on_note=lambda text: log(f"note: {text}"))
        for line in result.summary_lines():
            log(line)
        studies[spec.name] = StoredStudy.open(directory)
    rows = evaluate(studies, only)
    write_outputs(rows, root)
    return rows


# ====================================================================================================
# the table
# ====================================================================================================
def _num(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:,.4g}"


def _interval(row: FactRow) -> str:
    return "" if not (math.isfinite(row.ci_low) and math.isfinite(row.ci_high)) else \
        f"[{_num(row.ci_low)}, {_num(row.ci_high)}]"


def table_frame(rows: list[FactRow]) -> pd.DataFrame:
    return pd.DataFrame([r.as_dict() for r in rows])


def format_table(rows: list[FactRow]) -> str:
    """The terminal table: fact, statistic, value, 95% CI, n, verdict; then each fact's verdict."""
    body = [[str(r.fact), r.label, _num(r.value), _interval(r), str(r.n), r.verdict] for r in rows]
    header = ["fact", "statistic", "value", "95% CI", "n", "verdict"]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    widths[1] = min(widths[1], 100)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join((c if len(c) <= w else c[:w - 3] + "...").ljust(w) for c, w in zip(line, widths))
              for line in body]
    lines.append("")
    for number in dict.fromkeys(r.fact for r in rows):
        mine = [r for r in rows if r.fact == number]
        lines.append(f"Fact {number}: {fact_verdict(mine)} -- {CLAIMS[number].text} ({CLAIMS[number].source})")
    return "\n".join(lines)


def markdown(rows: list[FactRow]) -> str:
    """The table as markdown, each fact's verdict and the notes (method, further numbers, reasons)."""
    lines = ["| fact | statistic | value | 95% CI | n | expected | verdict |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.fact} | {r.label} | {_num(r.value)} | {_interval(r)} | {r.n} | {r.expected} | {r.verdict} |"
              for r in rows]
    lines += ["", "| fact | claim | source | verdict |", "|---|---|---|---|"]
    for number in dict.fromkeys(r.fact for r in rows):
        c = CLAIMS[number]
        lines.append(f"| {number} | {c.text} | {c.source} | {fact_verdict([r for r in rows if r.fact == number])} |")
    lines += ["", "Notes:", ""]
    lines += [f"* {r.fact}, {r.label}: {'; '.join(x for x in (r.method, r.note) if x)}" for r in rows]
    return "\n".join(lines) + "\n"


def write_outputs(rows: list[FactRow], root: Path) -> None:
    """facts.csv and facts.md, each written atomically (a failure leaves the previous file, never part of one)."""
    from ..store import atomic_write_text, make_missing_dirs

    make_missing_dirs(root)
    atomic_write_text(root / "facts.csv", table_frame(rows).to_csv(index=False))
    atomic_write_text(root / "facts.md", markdown(rows))


__all__ = ["FACTS", "FACT_STUDIES", "FactsError", "parse_only", "evaluate", "evaluate_fact", "fact_verdict",
           "run_facts", "format_table", "markdown"]
