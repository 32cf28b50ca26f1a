"""The command line: outputs a researcher needs, and bad input refused in one line with nothing left behind."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gpucredit.sim.reporting.columns import SERIES_NAMES

ROOT = Path(__file__).resolve().parent.parent


def gpucredit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gpucredit.experiments.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_run_writes_every_output(tmp_path):
    out = tmp_path / "baseline"
    result = gpucredit("run", "--scenario", "baseline", "--seed", "7", "--out", str(out), "--months", "24",
                       "--set", "lenders.max_ltv=0.6")
    assert result.returncode == 0, result.stderr
    assert "not a forecast" in result.stdout
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns) == ["date", *SERIES_NAMES]
    assert ts["date"].iloc[0] == "2023-01" and ts["date"].iloc[-1] == "2024-12"
    pd.testing.assert_frame_equal(ts, pd.read_csv(out / "timeseries.csv"), check_dtype=False, atol=1e-9)
    events = pd.read_csv(out / "events.csv")
    assert {"date", "event", "agents", "amount_bn"} <= set(events.columns)
    assert "generation_launch" in set(events["event"])
    sheets = pd.read_parquet(out / "balance_sheets.parquet")
    assert (abs(sheets["assets"] - sheets["liabilities"] - sheets["equity"]) < 1e-6).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["parameters"]["lenders.max_ltv"] == 0.6
    assert "mesa" in json.dumps(manifest["versions"]).lower()
    assert list(out.glob("network_*.graphml"))
    for name in ("panel", "prices", "credit", "nvidia", "defaults", "ai_revenue_capex"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (out / "figures" / f"{name}.pdf").exists()


@pytest.mark.parametrize("args, field", [
    (["--set", "lenders.max_ltv=2"], "lenders.max_ltv"),
    (["--set", "lenders.max_ltv=abc"], "lenders.max_ltv"),
    (["--set", "no.such_parameter=1"], "no.such_parameter"),
    (["--scenario", "no_such_scenario"], "no_such_scenario"),
    (["--months", "0"], "months"),
])
def test_bad_input_is_one_line_nonzero_and_leaves_nothing(tmp_path, args, field):
    out = tmp_path / "never"
    base = ["run", "--scenario", "baseline", "--seed", "1", "--out", str(out)]
    if "--scenario" in args:
        base = ["run", "--seed", "1", "--out", str(out)]
    result = gpucredit(*base, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_malformed_scenario_file_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[parameters\n")
    result = gpucredit("run", "--scenario", str(bad), "--seed", "1", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "malformed" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_params_json_is_the_schema():
    result = gpucredit("params", "--format", "json")
    schema = json.loads(result.stdout)
    params = schema["parameters"]
    names = {p["name"] for p in params}
    assert "lenders.max_ltv" in names and "technology.cadence_months" in names
    for p in params:
        assert {"name", "default", "unit", "description", "source"} <= set(p)
        assert ("choices" in p) or ({"min", "max"} <= set(p))
    # the constraints a sampler must respect, each over declared parameters, as sum(coefficient x value) <= bound
    markup = next(c for c in schema["constraints"] if c["expression"] == "nvidia.markup_min <= nvidia.markup_max")
    assert markup["coefficients"] == {"nvidia.markup_min": 1.0, "nvidia.markup_max": -1.0} and markup["bound"] == 0.0
    for c in schema["constraints"]:
        assert set(c["parameters"]) <= names and c["description"] and set(c["coefficients"]) == set(c["parameters"])
    assert "nvidia.markup_min <= nvidia.markup_max" in gpucredit("params").stdout


def test_conflicting_parameters_are_refused_in_one_line_naming_them(tmp_path):
    out = tmp_path / "never"
    result = gpucredit("run", "--seed", "1", "--out", str(out), "--set", "nvidia.markup_min=4.8",
                       "--set", "nvidia.markup_max=4.5")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert "nvidia.markup_min = 4.8" in line and "nvidia.markup_max = 4.5" in line
    assert not out.exists()


def test_scenarios_and_columns_are_listed():
    scen = gpucredit("scenarios").stdout
    assert "no_circular_financing" in scen and "rival_chips" in scen
    cols = json.loads(gpucredit("columns", "--format", "json").stdout)
    assert {c["name"] for c in cols} == set(SERIES_NAMES)


def test_odd_parameter_and_column_tables_are_current():
    result = subprocess.run([sys.executable, "docs/generate_tables.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
