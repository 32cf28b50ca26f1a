"""The ``gpucredit`` command line.

::

    gpucredit run --scenario baseline --seed 7 --out results/baseline [--months 60]
                  [--set lenders.max_ltv=0.6 ...] [--network-months 2024-06,2025-12]
    gpucredit scenarios                      # shipped scenarios and what they change
    gpucredit params [--format table|json]   # every parameter: default, range, unit, meaning, source
    gpucredit columns [--format table|json]  # the data dictionary of timeseries.parquet/.csv
    gpucredit calibration [--seeds N] [--months M]
    gpucredit bench

Bad input (unknown scenario or parameter, a value out of range, a malformed scenario file, ...) prints one line
``gpucredit: error: ...`` to stderr and exits with status 2 without creating anything; a run whose accounts do
not close exits with status 3 and leaves nothing behind. gpucredit is a stylized research model: not a forecast or
investment advice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from typing import Sequence

from sim.ledger import AccountingError
from sim.outputs import SERIES
from sim.parameters import PARAMETERS, ParameterError, parse_assignment
from sim.scenarios import ScenarioError, load_scenario, shipped_scenarios

PROG = "gpucredit"
DISCLAIMER = "Stylized research model: not a forecast or investment advice."
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
    from experiments.run import execute_run, prepare_run, summarize, timeseries  # matplotlib etc. only when needed

    try:
        overrides: dict = {}
        for text in args.set or []:
            name, value = parse_assignment(text)
            overrides[name] = value
        run = prepare_run(args.scenario, args.seed, args.out, months=args.months, overrides=overrides,
                          network_months=args.network_months)
    except (ParameterError, ScenarioError, ValueError) as exc:
        return _fail(exc, EXIT_INPUT)

    try:
        out = execute_run(run)
    except (AccountingError, FloatingPointError) as exc:
        kind = "accounts do not close" if isinstance(exc, AccountingError) else "numerical failure"
        return _fail(f"run stopped ({kind}), no results written: {exc}", EXIT_RUN)
    except OSError as exc:
        return _fail(f"cannot write results to {args.out}: {exc}", 1)

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
        print(json.dumps([p.as_dict() for p in PARAMETERS], indent=2))
        return 0
    rows = []
    for p in PARAMETERS:
        allowed = ("{" + ", ".join(_fmt_value(c) for c in p.choices) + "}" if p.choices is not None
                   else f"[{_fmt_value(p.min)}, {_fmt_value(p.max)}]")
        rows.append([p.name, _fmt_value(p.default), allowed, p.unit, f"{p.description} [{p.source}]"])
    print(_table(rows, ["name", "default", "allowed", "unit", "description [source]"], wrap_last=70))
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
            target = __import__(f"experiments.{module}", fromlist=["main"]).main
        except (ImportError, AttributeError) as exc:
            return _fail(f"'{module}' is not available: experiments.{module}.main cannot be imported ({exc})", EXIT_INPUT)
        status = target(args)
        return status if isinstance(status, int) else 0

    command.__doc__ = f"Run experiments.{module}.main(args)."
    return command


# ====================================================================================================
# the parser
# ====================================================================================================
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gpucredit: agent-based model of the AI-chip credit economy. " + DISCLAIMER)
    sub = parser.add_subparsers(dest="command", metavar="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and write a results directory",
                         description="Run one scenario and write time series, events, balance sheets, network "
                                     "snapshots, a manifest and figures to --out. " + DISCLAIMER)
    run.add_argument("--scenario", default="baseline",
                     help="shipped scenario name (see `gpucredit scenarios`) or path to a scenario .toml file")
    run.add_argument("--seed", type=int, default=7, help="random seed (non-negative integer; default 7)")
    run.add_argument("--out", required=True, help="results directory (replaced only if the run succeeds)")
    run.add_argument("--months", type=int, default=None, help="months to simulate from January 2023 (run.months)")
    run.add_argument("--set", action="extend", nargs="+", metavar="NAME=VALUE", default=[],
                     help="override a parameter (see `gpucredit params`); repeatable")
    run.add_argument("--network-months", type=_month_list, default=None, metavar="YYYY-MM[,YYYY-MM...]",
                     help="months at whose end the financial network is saved (default: every December and the "
                          "final month)")
    run.set_defaults(func=cmd_run)

    sc = sub.add_parser("scenarios", help="list the shipped scenarios")
    sc.set_defaults(func=cmd_scenarios)

    pa = sub.add_parser("params", help="list every parameter with default, range, unit, description, source")
    pa.add_argument("--format", choices=("table", "json"), default="table")
    pa.set_defaults(func=cmd_params)

    co = sub.add_parser("columns", help="the data dictionary of the time series")
    co.add_argument("--format", choices=("table", "json"), default="table")
    co.set_defaults(func=cmd_columns)

    ca = sub.add_parser("calibration", help="compare simulated and observed calibration targets")
    ca.add_argument("--seeds", type=int, default=None, help="number of seeds")
    ca.add_argument("--months", type=int, default=None, help="months to simulate")
    ca.set_defaults(func=_delegate("calibration"))

    be = sub.add_parser("bench", help="time the model")
    be.set_defaults(func=_delegate("bench"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpucredit`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _fail(exc, EXIT_INPUT)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `gpucredit params | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
