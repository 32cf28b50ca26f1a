"""The ``gpucredit`` command line.

::

    gpucredit run --scenario baseline --seed 7 --out results/baseline [--months 60]
                  [--set lenders.max_ltv=0.6 ...] [--network-months 2024-06,2025-12]
    gpucredit scenarios                      # shipped scenarios and what they change
    gpucredit params [--format table|json]   # every parameter (default, range, unit, meaning, source) and the
                                             # constraints across parameters
    gpucredit columns [--format table|json]  # the data dictionary of timeseries.parquet/.csv
    gpucredit calibration [--seeds N] [--months M]
    gpucredit bench [--vs REF] [--sizes 1,3,10,30,100] [--engine] [--study-runs N]

    gpucredit replicate --scenario baseline --seeds 20 --out DIR          # Monte Carlo replicates
    gpucredit sweep --spec experiments/studies/phase_ltv_cadence.toml --out DIR
    gpucredit sweep --vary lenders.max_ltv=0.5:0.9 --design sobol --samples 64 --out DIR
    gpucredit sensitivity DIR                                              # Sobol / Morris indices
    gpucredit compare --scenarios baseline,no_circular_financing --seeds 20 --out DIR
    gpucredit correction DIR                                               # turning point and depth of the bust
    gpucredit query DIR "SELECT avg(crisis) FROM runs"                     # DuckDB: runs, timeseries, firms, plan
    gpucredit report --scenarios baseline,tight_credit --seeds 5 --out DIR # report.html, report.pdf, tables, figures
    gpucredit report --spec experiments/report/specs/full.toml --out DIR [--facts FILE]
    gpucredit facts [--only 1,3] [--seeds N] [--months M] [--out DIR] [--jobs J]   # stylized facts: CI and verdict

Bad input (unknown scenario or parameter, a value out of range, a malformed scenario file, an output directory
gpucredit did not write, an unreachable scheduler, ...) prints one line ``gpucredit: error: ...`` to stderr and
exits with status 2 without creating anything; a run whose accounts do not close exits with status 3 and leaves
nothing behind; a file-system failure (a full disk) prints one line and exits with status 1, leaving no partial
file. Ctrl-C (SIGINT) and SIGTERM stop any command with one line and status 130 or 143; a study's worker
processes stop with it. gpucredit is a stylized research model: not a forecast or investment advice.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
from typing import Sequence

from gpucredit.sim.inputs import InputError, count, months as month_count, path_text
from gpucredit.sim.ledger import AccountingError
from gpucredit.sim.reporting.columns import SERIES
from gpucredit.sim.parameters import CONSTRAINTS, PARAMETERS, ParameterError, parse_assignment
from gpucredit.sim.scenarios import ScenarioError, load_scenario, shipped_scenarios

PROG = "gpucredit"
DISCLAIMER = "Stylized research model: not a forecast or investment advice."
EXIT_IO = 1
EXIT_INPUT = 2
EXIT_RUN = 3


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports errors as a single line (no usage dump) and exits with status 2."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        raise UsageError(message)


def _fail(message: str, status: int) -> int:
    message = " ".join(str(message).split())  # always one line
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


# ====================================================================================================
# run
# ====================================================================================================
def cmd_run(args: argparse.Namespace) -> int:
    """Validate everything, run the model, write the results directory and print a short summary."""
    from gpucredit.experiments.run import execute_run, prepare_run, summarize, timeseries  # matplotlib etc. only when needed

    try:
        overrides: dict = {}
        for text in args.set or []:
            name, value = parse_assignment(text)
            overrides[name] = value
        run = prepare_run(args.scenario, args.seed, args.out, months=args.months, overrides=overrides,
                          network_months=args.network_months, overwrite=args.overwrite)
    except (ParameterError, ScenarioError, ValueError) as exc:
        return _fail(exc, EXIT_INPUT)

    try:
        out = execute_run(run)
    except (AccountingError, FloatingPointError) as exc:
        kind = "accounts do not close" if isinstance(exc, AccountingError) else "numerical failure"
        return _fail(f"run stopped ({kind}), no results written: {exc}", EXIT_RUN)
    except ValueError as exc:  # the output directory was taken while the run was writing
        return _fail(exc, EXIT_INPUT)
    except OSError as exc:
        return _fail(f"cannot write results to {args.out}, nothing written: {_os_reason(exc)}", EXIT_IO)

    df = timeseries(run.model)
    networks = len(run.network_months)
    print(f"Results: {out}  (timeseries.parquet/.csv, events.csv, balance_sheets.parquet, "
          f"{networks} network snapshot{'s' if networks != 1 else ''}, manifest.json)")
    print(f"Figures: {out / 'figures'}  (panel.png/.pdf and five single figures)")
    print(f"Scenario {run.scenario.name}, seed {run.seed}, {len(df)} month{'' if len(df) == 1 else 's'} "
          f"({df['date'].iloc[0]} to {df['date'].iloc[-1]})")
    for line in summarize(df):
        print(line)
    print(DISCLAIMER)
    return 0


def _os_reason(exc: OSError) -> str:
    """An operating-system error in a few words, e.g. ``No space left on device (errno 28)``."""
    if exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__


def _month_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# ====================================================================================================
# information
# ====================================================================================================
def cmd_scenarios(args: argparse.Namespace) -> int:
    """One line per shipped scenario: its name and description."""
    names = shipped_scenarios()
    width = max((len(n) for n in names), default=0)
    for name in names:
        try:
            description = load_scenario(name).description
        except ScenarioError as exc:
            description = f"(cannot be loaded: {exc})"
        print(f"{name:<{width}}  {description}")
    return 0


def _table(rows: list[list[str]], header: list[str], wrap_last: int = 0) -> str:
    """Left-aligned columns; the last column wrapped to ``wrap_last`` characters (0 = no wrapping)."""
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header) - 1)]
    indent = sum(widths) + 2 * len(widths)
    lines = []
    for k, row in enumerate([header] + rows):
        lead = "".join(f"{str(cell):<{w}}  " for cell, w in zip(row[:-1], widths))
        last = str(row[-1])
        chunks = textwrap.wrap(last, wrap_last) if wrap_last and last else [last]
        lines.append(lead + chunks[0])
        lines += [" " * indent + chunk for chunk in chunks[1:]]
        if k == 0:
            lines.append("-" * (indent + max(len(header[-1]), min(wrap_last or 60, 60))))
    return "\n".join(lines)


def _fmt_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cmd_params(args: argparse.Namespace) -> int:
    """Every parameter: default, allowed range or choices, unit, description and source."""
    if args.format == "json":
        print(json.dumps({"parameters": [p.as_dict() for p in PARAMETERS],
                          "constraints": [c.as_dict() for c in CONSTRAINTS]}, indent=2))
        return 0
    rows = []
    for p in PARAMETERS:
        allowed = ("{" + ", ".join(_fmt_value(c) for c in p.choices) + "}" if p.choices is not None
                   else f"[{_fmt_value(p.min)}, {_fmt_value(p.max)}]")
        rows.append([p.name, _fmt_value(p.default), allowed, p.unit, f"{p.description} [{p.source}]"])
    print(_table(rows, ["name", "default", "allowed", "unit", "description [source]"], wrap_last=70))
    print("\nConstraints across parameters (a parameter set breaking one is refused):\n")
    print(_table([[c.name, c.expression(), c.description] for c in CONSTRAINTS], ["constraint", "requires", "why"],
                 wrap_last=70))
    return 0


def cmd_columns(args: argparse.Namespace) -> int:
    """The data dictionary: every column of timeseries.parquet/.csv with its unit and meaning."""
    if args.format == "json":
        print(json.dumps([{"name": n, "unit": u, "description": d} for n, u, d in SERIES], indent=2))
        return 0
    rows = [["date", "YYYY-MM", "Month simulated (first column of the time series)"]]
    rows += [[n, u, d] for n, u, d in SERIES]
    print(_table(rows, ["name", "unit", "description"], wrap_last=80))
    return 0


# ====================================================================================================
# calibration and bench (modules maintained separately, imported only when asked for)
# ====================================================================================================
def _delegate(module: str):
    def command(args: argparse.Namespace) -> int:
        try:
            target = __import__(f"gpucredit.experiments.{module}", fromlist=["main"]).main
        except (ImportError, AttributeError) as exc:
            return _fail(f"'{module}' is not available: experiments.{module}.main cannot be imported ({exc})", EXIT_INPUT)
        status = target(args)
        return status if isinstance(status, int) else 0

    command.__doc__ = f"Run experiments.{module}.main(args)."
    return command


# ====================================================================================================
# studies: replicate, sweep, compare, sensitivity, query
# ====================================================================================================
def _fixed(args: argparse.Namespace) -> dict:
    fixed: dict = {}
    for text in args.set or []:
        name, value = parse_assignment(text)
        fixed[name] = value
    return fixed


def _execute_study(spec, args: argparse.Namespace):
    """Run a validated study with the command line's execution options; print the closing summary."""
    from gpucredit.experiments.engine import run_study

    try:
        result = run_study(spec, args.out, workers=args.workers, executor=args.executor, scheduler=args.scheduler,
                           progress=not args.no_progress, allow_version_mix=getattr(args, "allow_version_mix", False))
    except KeyboardInterrupt as exc:
        raise _resumable(exc, args.out) from None
    except OSError as exc:
        raise StudyIOError(f"cannot write the study in {args.out}: {_os_reason(exc)}; finished runs are stored, "
                           f"run the same command again to resume") from None
    for line in result.summary_lines():
        print(line)
    if result.failed:
        print(f"{result.failed} run(s) failed; see: {PROG} query {args.out} "
              f"\"SELECT run_id, error FROM runs WHERE status = 'failed'\"")
    return result


def _outcome_summary(runs, outcomes: list[str]) -> str:
    ok = runs[runs["status"] == "ok"]
    rows = []
    for name in outcomes:
        values = ok[name].dropna()
        if values.empty:
            rows.append([name, "0", "-", "-", "-", "-"])
            continue
        rows.append([name, str(len(values))] + [f"{v:,.4g}" for v in
                    (values.mean(), values.quantile(0.05), values.median(), values.quantile(0.95))])
    return _table(rows, ["outcome", "n", "mean", "p05", "median", "p95"])


def _write_table(path, table) -> None:
    """A CSV table written atomically (a full disk leaves the previous file, never a part of the new one)."""
    from gpucredit.experiments.store import atomic_write_text

    atomic_write_text(path, table.to_csv(index=False))


def _study_errors():
    from gpucredit.experiments.study import StudyError
    from gpucredit.experiments.store import StoreError
    return (ParameterError, ScenarioError, StudyError, StoreError, ValueError)


def cmd_replicate(args: argparse.Namespace) -> int:
    """Monte Carlo replicates of one scenario: seeds spawned from --seed with numpy's SeedSequence."""
    from gpucredit.experiments.outcomes import OUTCOME_NAMES
    from gpucredit.experiments.study import StudySpec, validate

    try:
        spec = validate(StudySpec(name="replicate", scenarios=[args.scenario], design="replicate",
                                  replicates=args.seeds, months=args.months, seed=args.seed, fixed=_fixed(args)))
        result = _execute_study(spec, args)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    print(_outcome_summary(result.runs, list(OUTCOME_NAMES)))
    if (result.runs["status"] == "ok").any():
        from gpucredit.experiments.study_figures import monte_carlo_bands, scenario_panel
        print(f"Figure: {monte_carlo_bands(args.out)}")
        print(f"Figures: {scenario_panel(args.out)[-1].parent}  (the standard panel: median and 5-95% band over seeds)")
    print(DISCLAIMER)
    return 0


def _sweep_spec(args: argparse.Namespace):
    from gpucredit.experiments.study import StudyError, StudySpec, load_spec, parse_vary, validate

    if args.spec:
        given = [flag for flag, value in (("--vary", args.vary), ("--design", args.design), ("--samples", args.samples),
                                          ("--replicates", args.replicates), ("--months", args.months),
                                          ("--seed", args.seed), ("--set", args.set), ("--scenario", args.scenario))
                 if value]
        if given:
            raise StudyError(f"--spec defines the study; do not combine it with {', '.join(given)}")
        return load_spec(args.spec)
    if not args.vary:
        raise StudyError("sweep needs --spec FILE or at least one --vary NAME=LO:HI")
    factors = [parse_vary(text) for text in args.vary]
    return validate(StudySpec(name="sweep", scenarios=[args.scenario or "baseline"], design=args.design or "grid",
                              factors=factors, samples=args.samples or 5, replicates=args.replicates or 1,
                              months=args.months, seed=args.seed or 0, fixed=_fixed(args)))


def cmd_sweep(args: argparse.Namespace) -> int:
    """A study over parameter ranges (grid, Latin hypercube, Sobol or Morris design)."""
    try:
        spec = _sweep_spec(args)
        result = _execute_study(spec, args)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    from gpucredit.experiments.simulators import get_simulator
    print(_outcome_summary(result.runs, list(get_simulator(spec.model).outcomes)))
    if spec.design == "grid" and len(spec.factors) == 2 and spec.model == "gpucredit" and (result.runs["status"] == "ok").any():
        from gpucredit.experiments.study_figures import phase_diagram
        for outcome in ("crisis", "max_default_share_12m", "market_cap_drawdown"):
            print(f"Figure: {phase_diagram(args.out, outcome)}")
    if spec.design in ("sobol", "morris", "lhs"):
        print(f"Sensitivity indices: {PROG} sensitivity {args.out}")
    print(DISCLAIMER)
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Sobol (S1, ST), Morris (mu*, sigma) or Latin-hypercube (RBD-FAST S1) indices of a stored study; prints a
    table with a flag per row, writes CSV and a chart."""
    from gpucredit.experiments.sensitivity import analyse, bar_chart, flag_summary, format_table
    from gpucredit.experiments.store import StudyStore

    outcomes = [o.strip() for o in args.outcomes.split(",") if o.strip()] if args.outcomes else None
    try:
        table, notes = analyse(args.directory, outcomes)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if table.empty:
        return _fail("no outcome could be analysed (see the notes above)", EXIT_RUN)
    store = StudyStore(args.directory)
    design = store.manifest()["spec"]["design"]
    print(format_table(table))
    print(flag_summary(table))
    csv = store.root / f"sensitivity_{design}.csv"
    _write_table(csv, table)
    figure = bar_chart(table, design, store.figures_dir / f"sensitivity_{design}.png")
    print(f"Table: {csv}\nFigure: {figure}")
    print(DISCLAIMER)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Scenarios side by side over the same seeds: distributions, paired differences, effect sizes, CIs."""
    from gpucredit.experiments.compare import box_plots, comparison_table, format_table, method_note
    from gpucredit.experiments.outcomes import OUTCOME_NAMES
    from gpucredit.experiments.study import StudyError, StudySpec, load_spec, validate

    try:
        if args.spec:
            if args.scenarios or args.seeds:
                raise StudyError("--spec defines the study; do not combine it with --scenarios or --seeds")
            spec = load_spec(args.spec)
            if spec.design != "replicate":
                raise StudyError(f"compare needs a study of scenarios (design 'replicate'), not '{spec.design}'")
        else:
            scenarios = [s.strip() for s in (args.scenarios or "").split(",") if s.strip()]
            if len(scenarios) < 2:
                raise StudyError("--scenarios needs at least two comma-separated scenario names")
            spec = validate(StudySpec(name="compare", scenarios=scenarios, design="replicate",
                                      replicates=args.seeds or 20, months=args.months, seed=args.seed,
                                      fixed=_fixed(args)))
        result = _execute_study(spec, args)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    table = comparison_table(args.out)
    from gpucredit.experiments.store import StudyStore
    store = StudyStore(args.out)
    csv = store.root / "comparison.csv"
    _write_table(csv, table)
    print(format_table(table))
    print(f"{method_note(table)} Table: {csv}")
    if (result.runs["status"] == "ok").any():
        from gpucredit.experiments.study_figures import monte_carlo_bands
        print(f"Figure: {box_plots(args.out, list(OUTCOME_NAMES), store.figures_dir / 'compare.png')}")
        print(f"Figure: {monte_carlo_bands(args.out)}")
    print(DISCLAIMER)
    return 0


def cmd_correction(args: argparse.Namespace) -> int:
    """The correction table of a stored study: when the boom turns and how far it falls, per scenario, with paired
    differences from the first scenario (experiments/studies/correction.toml is the shipped study)."""
    from gpucredit.experiments.correction import correction_table, format_table, method_note
    from gpucredit.experiments.store import StudyStore

    try:
        table, notes = correction_table(args.directory)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    csv = StudyStore(args.directory).root / "correction.csv"
    _write_table(csv, table)
    print(format_table(table))
    print(f"{method_note(table)} Table: {csv}")
    print(DISCLAIMER)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """One read-only SQL statement (DuckDB) over a stored study: views runs, timeseries, firms and plan. Anything else
    (several statements, COPY, ATTACH, SET, INSTALL, reading a file, ...) is refused with one line, status 2."""
    import duckdb

    from gpucredit.experiments.store import query

    try:
        frame = query(args.directory, args.sql)
    except duckdb.Error as exc:
        return _fail(f"SQL error: {exc}", EXIT_INPUT)
    except _study_errors() as exc:
        return _fail(exc, EXIT_INPUT)
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(frame.to_json(orient="records", indent=1, date_format="iso"))
    else:
        with __import__("pandas").option_context("display.width", 250, "display.max_rows", 500,
                                                 "display.max_columns", 50):
            print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """A paper-ready report (HTML and PDF) of a study: runs what is missing, then renders."""
    from gpucredit.experiments.report import ReportError, build_report, from_file, from_flags

    try:
        if args.spec and args.scenarios:
            raise ReportError("--spec defines the report's studies; do not combine it with --scenarios")
        if not args.spec and not args.scenarios:
            raise ReportError("report needs --spec FILE or --scenarios a,b,c (the first is the reference)")
        spec = (from_file(args.spec, args.seeds, args.months) if args.spec
                else from_flags(args.scenarios, args.seeds, args.months, args.seed))
        if args.facts:
            from pathlib import Path
            spec.facts = Path(args.facts)
        import shlex
        command = shlex.join([PROG, *args.argv])
        root = build_report(spec, args.out, workers=args.workers, progress=not args.no_progress, command=command,
                            executor=args.executor, scheduler=args.scheduler)
    except (*_study_errors(), ReportError) as exc:
        return _fail(exc, EXIT_INPUT)
    except KeyboardInterrupt as exc:
        raise _resumable(exc, f"{args.out}/studies") from None
    print(f"Report: {root / 'report.pdf'}")
    print(f"        {root / 'report.html'}  (tables/ and figures/ beside them)")
    print(DISCLAIMER)
    return 0


def cmd_facts(args: argparse.Namespace) -> int:
    """The stylized facts as experiments: run the missing runs of their studies, print and write the table."""
    from gpucredit.experiments.facts import FactsError, format_table, run_facts
    from gpucredit.experiments.facts.runner import parse_only

    try:
        only = parse_only(args.only)
        jobs = count(args.jobs, "--jobs", 1, 256)
        rows = run_facts(only, args.out, seeds=args.seeds, months=args.months, workers=jobs,
                         progress=not args.no_progress)
    except (*_study_errors(), FactsError) as exc:
        return _fail(exc, EXIT_INPUT)
    except KeyboardInterrupt as exc:
        raise _resumable(exc, f"{args.out}/studies") from None
    print(format_table(rows))
    print(f"Tables: {os.path.join(args.out, 'facts.csv')}, {os.path.join(args.out, 'facts.md')}")
    print(DISCLAIMER)
    return 0


def _execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="study directory (created, or resumed if it holds this study)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--executor", choices=("process", "dask"), default="process",
                        help="process pool (default) or Dask distributed")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="join a running Dask cluster (e.g. tcp://host:8786) instead of starting a LocalCluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--allow-version-mix", action="store_true",
                        help="add runs to a study whose stored runs were made with other package versions")


# ====================================================================================================
# the parser
# ====================================================================================================
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gpucredit: agent-based model of the AI-chip credit economy. " + DISCLAIMER)
    from gpucredit.experiments import __version__
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and write a results directory",
                         description="Run one scenario and write time series, events, balance sheets, network "
                                     "snapshots, a manifest and figures to --out. " + DISCLAIMER)
    run.add_argument("--scenario", default="baseline",
                     help="shipped scenario name (see `gpucredit scenarios`) or path to a scenario .toml file")
    run.add_argument("--seed", type=int, default=7, help="random seed (non-negative integer; default 7)")
    run.add_argument("--out", required=True, help="results directory: new or empty, or an earlier run's with "
                                                   "--overwrite (written only if the run succeeds)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the results of an earlier run in --out (only the files gpucredit wrote there)")
    run.add_argument("--months", type=int, default=None, help="months to simulate from January 2023 (run.months)")
    run.add_argument("--set", action="extend", nargs="+", metavar="NAME=VALUE", default=[],
                     help="override a parameter (see `gpucredit params`); repeatable")
    run.add_argument("--network-months", type=_month_list, default=None, metavar="YYYY-MM[,YYYY-MM...]",
                     help="months at whose end the financial network is saved (default: every December and the "
                          "final month)")
    run.set_defaults(func=cmd_run)

    sc = sub.add_parser("scenarios", help="list the shipped scenarios")
    sc.set_defaults(func=cmd_scenarios)

    pa = sub.add_parser("params", help="list every parameter with default, range, unit, description, source, and the constraints across parameters")
    pa.add_argument("--format", choices=("table", "json"), default="table")
    pa.set_defaults(func=cmd_params)

    co = sub.add_parser("columns", help="the data dictionary of the time series")
    co.add_argument("--format", choices=("table", "json"), default="table")
    co.set_defaults(func=cmd_columns)

    from .sources import target_sources_text

    ca = sub.add_parser("calibration", help="compare simulated and observed calibration targets",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Run the baseline over --seeds seeds and print, for each calibration target, the "
                                    "median over seeds, the 10th and 90th percentiles, the observed value, the "
                                    "relative error of the median and the target's numbered sources, then each "
                                    "source's publisher, title, date and address. Targets and sources: "
                                    "experiments/data/calibration_targets.toml.",
                        epilog=target_sources_text())
    ca.add_argument("--seeds", type=int, default=None, help="number of seeds, 1 to 1000 (default 20)")
    ca.add_argument("--months", type=int, default=None, help="months to simulate from 2023-01, 1 to 600 (default 48: "
                                                             "to 2026-12, every target's window)")
    ca.set_defaults(func=_delegate("calibration"))

    be = sub.add_parser("bench", help="time the model and the study engine",
                        description="Print speed figures: [1] the baseline on the previous code against the current "
                                    "code, side by side; [2] the model against a trivial Mesa model per agent-step; "
                                    "[3] time and memory from 1x to 100x population, with fitted exponents.")
    be.add_argument("--vs", default=None, metavar="REF",
                    help="previous code for [1]: a git ref (checked out in a temporary worktree, removed afterwards) "
                         "or a directory with sim/ in it (default: 8f8512b)")
    be.add_argument("--no-vs", action="store_true", help="skip the comparison with previous code")
    be.add_argument("--repeats", type=int, default=None, metavar="N",
                    help="[1]: repeats, each a fresh interpreter per side, sides interleaved (1-100; default 5)")
    be.add_argument("--seeds", type=int, default=None, metavar="N",
                    help="[1]: seeds per repeat; [2]: runs of each model (1-100; default 3)")
    be.add_argument("--months", type=int, default=None, metavar="M",
                    help="months of every model run (default 120 for [1] and [2], 60 for [3])")
    be.add_argument("--sizes", default=None, metavar="K[,K...]",
                    help="[3]: population multipliers (default 1,3,10,30,100)")
    be.add_argument("--scaling-previous", action="store_true", help="[3]: also run the sizes on the previous code")
    be.add_argument("--engine", action="store_true", help="also time the study engine (1 and 2 workers, overhead)")
    be.add_argument("--study-runs", type=int, default=0, metavar="N",
                    help="also time an N-run baseline study (e.g. 1000) with all cores")
    be.set_defaults(func=_delegate("bench"))

    rp = sub.add_parser("replicate", help="Monte Carlo replicates of one scenario",
                        description="Run --seeds replicates of a scenario (seeds spawned from --seed with numpy's "
                                    "SeedSequence) into a study directory. " + DISCLAIMER)
    rp.add_argument("--scenario", default="baseline")
    rp.add_argument("--seeds", type=int, required=True, help="number of replicates")
    rp.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    rp.add_argument("--months", type=int, default=None)
    rp.add_argument("--set", action="extend", nargs="+", metavar="NAME=VALUE", default=[])
    _execution_options(rp)
    rp.set_defaults(func=cmd_replicate)

    sw = sub.add_parser("sweep", help="a study over parameter ranges (grid, lhs, sobol, morris)",
                        description="Run a study defined by --spec FILE or by --vary options. " + DISCLAIMER)
    sw.add_argument("--spec", default=None, help="study specification (TOML); see experiments/studies/")
    sw.add_argument("--scenario", default=None, help="scenario (default baseline)")
    sw.add_argument("--vary", action="append", default=[], metavar="NAME=LO:HI", help="a varied parameter; repeatable")
    sw.add_argument("--design", choices=("grid", "lhs", "sobol", "morris"), default=None, help="default grid")
    sw.add_argument("--samples", type=int, default=None,
                    help="grid: levels per parameter; lhs: points; sobol: N (a power of 2) for N(d+2) points; "
                         "morris: trajectories (default 5)")
    sw.add_argument("--replicates", type=int, default=None, help="seeds per design point (default 1)")
    sw.add_argument("--months", type=int, default=None)
    sw.add_argument("--seed", type=int, default=None, help="root seed (default 0)")
    sw.add_argument("--set", action="extend", nargs="+", metavar="NAME=VALUE", default=[])
    _execution_options(sw)
    sw.set_defaults(func=cmd_sweep)

    se = sub.add_parser("sensitivity", help="Sobol, Morris or Latin-hypercube (RBD-FAST) indices of a stored study (SALib)")
    se.add_argument("directory")
    se.add_argument("--outcomes", default=None, help="comma-separated outcomes (default: all)")
    se.set_defaults(func=cmd_sensitivity)

    cp = sub.add_parser("compare", help="scenarios side by side over the same seeds",
                        description="Run scenarios over the same seeds and compare their outcomes. " + DISCLAIMER)
    cp.add_argument("--scenarios", default=None, help="comma-separated scenario names; the first is the reference")
    cp.add_argument("--spec", default=None, help="a study file listing scenarios (e.g. experiments/studies/counterfactuals.toml)")
    cp.add_argument("--seeds", type=int, default=None, help="replicates per scenario (default 20)")
    cp.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    cp.add_argument("--months", type=int, default=None)
    cp.add_argument("--set", action="extend", nargs="+", metavar="NAME=VALUE", default=[])
    _execution_options(cp)
    cp.set_defaults(func=cmd_compare)

    co = sub.add_parser("correction", help="when the boom turns and how far it falls, per scenario, from a stored study",
                        description="The correction outcomes of a stored study (e.g. run with gpucredit compare --spec "
                                    "experiments/studies/correction.toml --out DIR): median and 90%% band over seeds "
                                    "per scenario, paired differences from the first scenario. " + DISCLAIMER)
    co.add_argument("directory")
    co.set_defaults(func=cmd_correction)

    rt = sub.add_parser("report", help="a paper-ready report (HTML and PDF) of scenarios over common seeds",
                        description="Run the report's studies (stored runs are reused) and write report.html "
                                    "(self-contained), report.pdf, tables/ (booktabs .tex and .csv) and figures/ "
                                    "into --out. " + DISCLAIMER)
    rt.add_argument("--spec", default=None, help="report file (see experiments/report/specs/) or a study file")
    rt.add_argument("--scenarios", default=None, help="comma-separated scenarios; the first is the reference")
    rt.add_argument("--seeds", type=int, default=None, help="seeds per scenario (default 5 with --scenarios)")
    rt.add_argument("--seed", type=int, default=0, help="root seed with --scenarios (default 0)")
    rt.add_argument("--months", type=int, default=None, help="months from 2023-01 (default: the scenario's, 120)")
    rt.add_argument("--facts", default=None, metavar="FILE",
                    help="observed facts to compare with (CSV or TOML: name, value, date, source, column)")
    _execution_options(rt)
    rt._option_string_actions["--out"].help = ("report directory (created; a directory holding an earlier report is "
                                               "reused: its stored runs are not run again)")
    rt.set_defaults(func=cmd_report)

    fa = sub.add_parser("facts", help="the stylized facts as experiments: statistic, 95%% CI over seeds, verdict",
                        description="Run the fact studies (experiments/studies/fact*.toml; stored runs are reused), "
                                    "then print each fact's statistics with 95% confidence intervals over seeds and "
                                    "a verdict (holds / fails / inconclusive), and write facts.csv and facts.md "
                                    "into --out. " + DISCLAIMER)
    fa.add_argument("--only", default=None, metavar="1,3", help="comma-separated fact numbers (default: all, 1-7)")
    fa.add_argument("--seeds", type=int, default=None, help="seeds per condition (default: the study files', 20)")
    fa.add_argument("--months", type=int, default=None, help="months from 2023-01 (default: the study files', 120)")
    fa.add_argument("--out", default="results/facts", help="directory for the studies and tables (default "
                                                          "results/facts; reused on the next call)")
    fa.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    fa.add_argument("--no-progress", action="store_true", help="no progress bar")
    fa.set_defaults(func=cmd_facts)

    qu = sub.add_parser("query", help="read-only SQL over a stored study (DuckDB views runs, timeseries, firms, plan)")
    qu.add_argument("directory")
    qu.add_argument("sql")
    qu.add_argument("--format", choices=("table", "csv", "json"), default="table")
    qu.set_defaults(func=cmd_query)
    return parser


# ====================================================================================================
# validation common to every command, and signals
# ====================================================================================================
COUNT_FLAGS = {"seeds": 1, "workers": 1, "replicates": 1, "samples": 1, "repeats": 1, "study_runs": 0}


def validate_args(args: argparse.Namespace) -> None:
    """Checks every command shares, done before a command starts: counts (seeds, workers, replicates, samples,
    repeats: positive; study runs: non-negative), months (the declared range of run.months) and paths (no control
    characters). Raises :class:`InputError` naming the flag."""
    for name, low in COUNT_FLAGS.items():
        if getattr(args, name, None) is not None:
            setattr(args, name, count(getattr(args, name), f"--{name.replace('_', '-')}", low))
    if getattr(args, "months", None) is not None:
        args.months = month_count(args.months, "--months")
    if getattr(args, "seed", None) is not None:
        args.seed = count(args.seed, "--seed", 0, 2**63 - 1)
    for name in ("out", "directory", "spec"):
        if getattr(args, name, None) is not None:
            path_text(getattr(args, name), f"--{name}" if name != "directory" else "directory")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the command stops with one line and status 128 + the signal number."""

    def __init__(self, signum: int, detail: str = ""):
        super().__init__(signum, detail)
        self.signum, self.detail = int(signum), detail


def _resumable(exc: KeyboardInterrupt, stored_in) -> Interrupted:
    """A study, report or fact run stopped by a signal: its finished runs are kept in ``stored_in`` and the same command
    resumes it."""
    return Interrupted(getattr(exc, "signum", signal.SIGINT),
                       f"finished runs are stored in {stored_in}; run the same command again to resume")


class StudyIOError(Exception):
    """A study could not write to its directory (e.g. a full disk): one line, exit status 1."""


def _on_sigterm(signum, frame):
    raise Interrupted(signum)


def _interrupted(exc: KeyboardInterrupt) -> int:
    signum = getattr(exc, "signum", signal.SIGINT)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not interrupt the report
        signal.signal(sig, signal.SIG_IGN)
    detail = getattr(exc, "detail", "") or "nothing half-written is left behind"
    lead = "\n" if sys.stderr.isatty() else ""  # after the ^C or the progress bar on a terminal
    print(f"{lead}{PROG}: interrupted by {signal.Signals(signum).name}; {detail}", file=sys.stderr)
    return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpucredit`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        validate_args(args)
    except (UsageError, InputError) as exc:
        return _fail(exc, EXIT_INPUT)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as typed (the report quotes it)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)  # SIGTERM (a cluster scheduler) stops like Ctrl-C
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except StudyIOError as exc:
        return _fail(exc, EXIT_IO)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # e.g. `gpucredit params | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        return _fail(f"{_os_reason(exc)}", EXIT_IO)
    finally:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
