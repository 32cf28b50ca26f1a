"""Statistics a researcher reads off gpucredit's tables and figures: paired comparisons, multiple testing,
sensitivity flags, figure style and units, versions, and a repository that needs nothing outside itself.

Each statistical test checks a case whose answer is known independently (a planted difference, discordant
counts with scipy's exact binomial p, Holm on textbook p-values, the Ishigami function)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gpucredit.experiments.compare import (TEST_MCNEMAR, TEST_T, TEST_WILCOXON, adjust_p_values, cohens_dz,
                                           paired_comparison)
from gpucredit.experiments.sensitivity import flag_indices, seed_noise_share

REPO = Path(__file__).resolve().parent.parent
PI = math.pi


# ====================================================================================================
# paired comparisons
# ====================================================================================================
def test_a_planted_paired_difference_is_found_with_an_interval_that_covers_it():
    rng = np.random.default_rng(1)
    reference = rng.normal(10.0, 3.0, 40)  # large spread between seeds ...
    other = reference + 1.5 + rng.normal(0.0, 0.5, 40)  # ... small spread of the paired difference
    row = paired_comparison(reference, other)
    assert row["test"] == TEST_T and row["n_pairs"] == 40
    assert row["diff_ci_low"] < 1.5 < row["diff_ci_high"]
    assert row["p_value"] < 1e-10
    assert row["p_value"] == pytest.approx(stats.ttest_rel(other, reference).pvalue)
    # d_z uses the SD of the differences (~0.5): about 3; a pooled-SD d (~3) would say about 0.5
    assert row["cohens_dz"] == pytest.approx(np.mean(other - reference) / np.std(other - reference, ddof=1))
    assert row["cohens_dz"] > 2.5
    pooled = np.mean(other - reference) / math.sqrt((np.var(reference, ddof=1) + np.var(other, ddof=1)) / 2)
    assert pooled < 1.0


def test_no_difference_gives_an_interval_around_zero_and_a_large_p():
    rng = np.random.default_rng(2)
    reference = rng.normal(5.0, 1.0, 30)
    other = reference + rng.normal(0.0, 1.0, 30)
    row = paired_comparison(reference, other)
    assert row["diff_ci_low"] < 0 < row["diff_ci_high"] and row["p_value"] > 0.05


def test_binary_outcomes_use_the_exact_mcnemar_test_on_discordant_pairs():
    # 9 seeds with a crisis only under the scenario, 1 only under the reference, 10 concordant
    reference = np.array([0] * 9 + [1] * 1 + [0] * 6 + [1] * 4, dtype=float)
    other = np.array([1] * 9 + [0] * 1 + [0] * 6 + [1] * 4, dtype=float)
    row = paired_comparison(reference, other, binary=True)
    assert row["test"] == TEST_MCNEMAR
    assert row["p_value"] == pytest.approx(stats.binomtest(9, 10, 0.5).pvalue, abs=1e-12)
    assert row["diff_mean"] == pytest.approx(8 / 20)
    # no discordant pair: no evidence of a difference
    assert paired_comparison(reference, reference, binary=True)["p_value"] == 1.0


def test_mostly_zero_outcomes_use_the_wilcoxon_signed_rank_test():
    rng = np.random.default_rng(3)
    reference = np.where(rng.random(30) < 0.8, 0.0, rng.exponential(2.0, 30))
    other = np.where(rng.random(30) < 0.6, 0.0, rng.exponential(4.0, 30))
    row = paired_comparison(reference, other)
    assert row["test"] == TEST_WILCOXON
    assert row["p_value"] == pytest.approx(stats.wilcoxon(other, reference).pvalue)


def test_pairs_with_a_missing_value_are_dropped_and_counted():
    row = paired_comparison([1.0, 2.0, np.nan, 4.0], [2.0, np.nan, 3.0, 5.5])
    assert row["n_pairs"] == 2 and row["diff_mean"] == pytest.approx(1.25)


def test_cohens_dz_edge_cases():
    assert cohens_dz(np.array([0.0, 0.0, 0.0])) == 0.0
    assert cohens_dz(np.array([2.0, 2.0])) == math.inf
    assert math.isnan(cohens_dz(np.array([1.0])))


def test_holm_adjustment_of_known_p_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02, 0.03, 0.06, 0.06
    adjusted = adjust_p_values([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])  # untested rows stay untested and are not counted in the family


# ====================================================================================================
# sensitivity flags and seed noise
# ====================================================================================================
def test_sobol_indices_outside_the_unit_interval_or_with_wide_intervals_are_flagged():
    table = pd.DataFrame({"outcome": ["y"] * 4, "parameter": list("abcd"),
                          "S1": [1.37, 0.30, 0.05, 0.40], "S1_conf": [0.20, 0.05, 0.08, 0.05],
                          "ST": [1.68, 0.45, 0.10, 0.50], "ST_conf": [0.30, 0.05, 0.04, 0.05],
                          "seed_noise_share": [0.01, 0.01, 0.01, 0.35]})
    flags = flag_indices(table, "sobol")
    assert "S1 = 1.37 outside [0, 1]" in flags[0] and "ST = 1.68 outside [0, 1]" in flags[0]
    assert flags[1] == "ok"
    assert "S1 CI" in flags[2] and "wider than the index" in flags[2]
    assert "seed noise 35%" in flags[3]


class _Store:
    """The two tables seed_noise_share reads: 10 design points x 2 replicates."""

    def __init__(self):
        rows = [(p, r, f"{p}-{r}", p + (1.0 if r else -1.0)) for p in range(10) for r in range(2)]
        self.frame = pd.DataFrame(rows, columns=["point", "replicate", "run_id", "y"])

    def plan(self):
        return self.frame[["point", "replicate", "run_id"]]

    def runs(self):
        return self.frame[["run_id", "y"]].assign(status="ok")


def test_seed_noise_share_is_within_point_variance_over_replicates_against_the_variance_of_point_means():
    # each point: values p - 1 and p + 1 -> variance 2, over 2 replicates -> 1; point means 0..9 -> variance 55/6
    assert seed_noise_share(_Store(), ["y"])["y"] == pytest.approx(1.0 / (55 / 6))


def _ishigami_lhs(samples: int):
    from gpucredit.experiments.study import StudySpec, make_factor, validate

    return validate(StudySpec(name="ishigami_lhs", model="ishigami", design="lhs", samples=samples, seed=5,
                              factors=[make_factor("ishigami", f"x{i}", -PI, PI) for i in (1, 2, 3)]))


def test_sensitivity_of_a_latin_hypercube_study_recovers_the_ishigami_first_order_indices(tmp_path, capsys):
    from gpucredit.experiments.cli import main as cli
    from gpucredit.experiments.engine import run_study
    from gpucredit.experiments.simulators import ishigami_indices

    out = tmp_path / "lhs"
    run_study(_ishigami_lhs(300), out, workers=2, progress=False)
    assert cli(["sensitivity", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "S1_conf" in printed and "flag" in printed
    table = pd.read_csv(out / "sensitivity_lhs.csv").set_index("parameter")
    s1, _ = ishigami_indices()
    np.testing.assert_allclose(table.loc[["x1", "x2", "x3"], "S1"], s1, atol=0.1)
    assert table.loc["x2", "flag"] == "ok"
    assert table.loc["x3", "flag"] != "ok"  # S1 of x3 is 0: its estimate is not distinguished from zero
    assert (out / "figures" / "sensitivity_lhs.pdf").exists()


# ====================================================================================================
# the compare table through the command line
# ====================================================================================================
def test_compare_prints_a_long_table_with_units_tests_and_the_correction(tmp_path, capsys):
    from gpucredit.experiments.cli import main as cli
    from gpucredit.experiments.outcomes import OUTCOMES

    out = tmp_path / "cmp"
    assert cli(["compare", "--scenarios", "baseline,tight_credit,rate_shock", "--seeds", "4", "--months", "18",
                "--set", "population.startups=200", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Holm" in printed and "nan" not in printed.lower().replace("n/a", "")
    table = pd.read_csv(out / "comparison.csv")
    assert len(table) == 2 * len(OUTCOMES)  # one row per outcome x compared scenario
    units = {n: u for n, u, _ in OUTCOMES}
    assert (table["unit"] == table["outcome"].map(units)).all()
    assert set(table.loc[table["outcome"] == "crisis", "test"]) == {TEST_MCNEMAR}
    assert (table["correction"] == "holm").all()
    tested = table["p_value"].notna()
    assert (table.loc[tested, "p_adjusted"] >= table.loc[tested, "p_value"] - 1e-15).all()


# ====================================================================================================
# figures
# ====================================================================================================
@pytest.fixture(scope="module")
def three_runs():
    from gpucredit.experiments.run import timeseries
    from gpucredit.sim import GPUEconomy

    frames = []
    for seed in range(3):
        model = GPUEconomy(rng=seed, **{"run.months": 30, "population.startups": 200})
        while model.running:
            model.step()
        frames.append(timeseries(model).assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def _draw(stem: str, frame: pd.DataFrame):
    from gpucredit.experiments.figures import draw_panel, new_figure, project_style

    with project_style():
        fig = new_figure(figsize=(3.5, 2.7))
        ax = fig.subplots()
        draw_panel(ax, stem, frame)
        fig.canvas.draw()
    return fig


def test_every_axis_label_carries_the_units_of_the_series_it_shows(three_runs):
    from gpucredit.experiments.figures import PANELS, UNITS, display_unit

    scale_of = {"nvidia_revenue": 12, "ai_revenue": 12, "ai_capex": 12, "secondary_price_h100": 1e-3}
    for stem in PANELS:
        fig = _draw(stem, three_runs[three_runs["seed"] == 0].drop(columns="seed"))
        for ax in fig.axes:
            label = ax.get_ylabel().replace("\\$", "$")
            assert label, f"{stem}: an axis without a label"
            shown = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
            assert shown or ax.patches, stem
        # the units: every plotted series' unit appears on its panel
        text = " ".join(ax.get_ylabel().replace("\\$", "$") for ax in fig.axes)
        for column, unit in UNITS.items():
            if column in _PANEL_COLUMNS[stem]:
                scale = 100 if unit == "fraction" else scale_of.get(column, 1)
                assert display_unit(unit, scale) in text, (stem, column)


_PANEL_COLUMNS = {
    "prices": {"spot_price_h100e", "contract_price_h100e", "fundamental_price_h100e", "secondary_price_h100"},
    "credit": {"gpu_backed_lending", "lead_neocloud_debt", "neocloud_avg_ltv", "origination_ltv"},
    "nvidia": {"nvidia_revenue", "nvidia_market_cap"},
    "circularity": {"circular_revenue_share", "round_trip_ratio", "nvidia_stake_in_lead"},
    "defaults": {"debt_in_default", "lender_losses", "fire_sale_volume", "defaults_count"},
    "ai_revenue_capex": {"ai_revenue", "ai_capex"},
}


def test_runs_of_three_years_or_more_are_dated_by_year():
    from gpucredit.experiments.figures import date_axis, new_figure

    ax = new_figure().subplots()
    x = pd.date_range("2023-01-01", periods=120, freq="MS")
    ax.plot(x, np.arange(120))
    date_axis(ax, x)
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert all(len(t) == 4 and t.isdigit() for t in ticks) and 3 <= len(ticks) <= 10  # YYYY, every year or two


def test_no_panel_draws_two_identical_series(three_runs):
    from gpucredit.experiments.figures import PANELS

    for stem in PANELS:
        fig = _draw(stem, three_runs[three_runs["seed"] == 1].drop(columns="seed"))
        lines = [np.asarray(line.get_ydata(), float) for ax in fig.axes for line in ax.get_lines()
                 if len(line.get_ydata()) > 2 and np.ptp(line.get_ydata()) > 0]  # (no defaults yet: flat zeros)
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                assert not np.allclose(lines[i], lines[j]), f"{stem}: two identical series"


def test_several_runs_are_drawn_as_median_and_band_without_title_or_watermark(three_runs, tmp_path):
    from gpucredit.experiments.figures import standard_panel

    fig = _draw("prices", three_runs)
    ax = fig.axes[0]
    spot = ax.get_lines()[0].get_ydata()
    median = three_runs.groupby("date")["spot_price_h100e"].median().to_numpy()
    np.testing.assert_allclose(spot, median)
    assert len(ax.collections) >= 1  # the 5-95% band
    assert not fig.texts and fig._suptitle is None
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(len(t) == 7 and t[:4].isdigit() and t[4] == "-" for t in ticks)  # 30 months: YYYY-MM
    written = standard_panel(three_runs, tmp_path / "figs")
    pdf = (tmp_path / "figs" / "prices.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType (Type 42) fonts, no Type 3
    assert b"stylized research model" not in pdf
    assert len(written) == 14


def test_study_variables_are_labelled_in_words_with_units():
    from gpucredit.experiments.study_figures import variable_label

    assert variable_label("lenders.max_ltv") == "Maximum loan-to-value at origination\n(share)"
    assert "crisis" in variable_label("crisis").lower() and "seeds" in variable_label("crisis")
    assert "US\\$bn" in variable_label("peak_gpu_backed_lending")


# ====================================================================================================
# versions, licence, citation, provenance
# ====================================================================================================
def test_the_version_has_one_source_reported_by_the_command_and_the_citation():
    from importlib import metadata

    import gpucredit.experiments as experiments

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert metadata.version("gpucredit") == experiments.__version__ == pyproject
    done = subprocess.run([sys.executable, "-m", "gpucredit.experiments.cli", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"gpucredit {pyproject}"
    import yaml
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == pyproject
    assert cff["title"] and cff["message"] and cff["authors"] and cff["license"] == "MIT"
    assert "MIT License" in (REPO / "LICENSE").read_text()
    assert f"## [{pyproject}]" in (REPO / "CHANGELOG.md").read_text()


def test_a_study_refuses_runs_made_with_other_package_versions_unless_told(tmp_path, capsys):
    from gpucredit.experiments.cli import main as cli

    out = tmp_path / "study"
    args = ["sweep", "--vary", "lenders.max_ltv=0.5:0.9", "--samples", "2", "--months", "3",
            "--set", "population.startups=50", "--out", str(out), "--no-progress", "--workers", "1"]
    assert cli(args) == 0
    manifest = json.loads((out / "study.json").read_text())
    for name in ("python", "gpucredit", "numpy", "pandas", "scipy", "mesa", "networkx", "SALib", "duckdb",
                 "pyarrow", "matplotlib"):
        assert manifest["versions"][name] not in ("", None, "not installed"), name
    manifest["versions"]["numpy"] = "0.0.1"
    (out / "study.json").write_text(json.dumps(manifest))
    before = (out / "study.json").read_text()
    capsys.readouterr()
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "numpy 0.0.1 ->" in err and "--allow-version-mix" in err
    assert (out / "study.json").read_text() == before  # nothing written
    assert cli(args + ["--allow-version-mix"]) == 0
    history = json.loads((out / "study.json").read_text())["version_history"]
    assert history[-1]["numpy"] == "0.0.1"


def test_the_repository_refers_to_nothing_outside_itself():
    names = ["MODEL" + ".md", "CALIBRATION" + ".md", "STYLE" + ".md", "ARCHITECTURE" + ".md", "shared" + "/"]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    offenders = []
    for path in tracked:
        file = REPO / path
        if file.suffix in (".py", ".md", ".toml", ".cff", ".mplstyle", ".txt") and file.is_file():
            text = file.read_text(errors="ignore")
            offenders += [f"{path}: {n}" for n in names if n in text]
    assert not offenders


def test_calibration_targets_and_facts_carry_their_original_sources():
    from gpucredit.experiments.calibration import TARGETS, load_facts, load_sources, load_targets

    sources = load_sources()
    for key, source in sources.items():
        assert source["publisher"] and source["title"] and source["date"], key
        assert source["url"] == "" or source["url"].startswith("https://"), key
    targets = load_targets()
    assert len(targets) >= 20 and all(t.sources and t.unit for t in targets)
    assert all(set(f["sources"]) <= set(sources) for f in load_facts())
    assert len(TARGETS) == len(targets)  # the previous tuple API, built from the file
    frame = pd.DataFrame({"rental_price_h100": [1.0, 3.0, 2.0]}, index=["2023-01", "2023-02", "2023-03"])
    peak = next(t for t in targets if t.series == "rental_price_h100" and t.statistic == "max")
    with pytest.raises(KeyError):  # a run that ends before the window does not count
        peak.compute(frame)


@pytest.mark.parametrize("args, field", [(["--seeds", "0"], "--seeds"), (["--months", "9999"], "--months")])
def test_calibration_refuses_out_of_range_input_in_one_line(capsys, args, field):
    from gpucredit.experiments.cli import main as cli

    assert cli(["calibration", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and field in err and "out of range" in err
