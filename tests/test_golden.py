"""Bit-for-bit regression guard: the outputs of a few scenario-seed pairs, hashed.

Every monthly series, every event and every balance-sheet snapshot of each case below is serialised exactly
(floats by their shortest round-trip repr) and hashed. A change to the code that moves any output by even the
last bit fails this test, naming the case and the part that moved (and, for the series, the first column and
month). A change meant to alter behaviour re-pins the hashes in its own commit, stating why::

    python -m tests.test_golden --update

To state how far such a change moves the outputs, save the series before it and compare after::

    python -m tests.test_golden --save /tmp/before.json      # on the commit before the change
    python -m tests.test_golden --compare /tmp/before.json   # after: largest and median relative differences
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

PINNED = Path(__file__).with_name("golden_hashes.json")

CASES = {  # name -> (scenario, seed, parameter overrides); all paths below default, breach, cure and seize
    "baseline_seed0_120m": ("baseline", 0, {"run.months": 120}),
    "demand_disappointment_seed1_120m": ("demand_disappointment", 1, {"run.months": 120}),
    "rate_shock_seed2_72m": ("rate_shock", 2, {"run.months": 72}),
    "lease_expiry_wave_seed5_60m": ("lease_expiry_wave", 5, {"run.months": 60}),
    "large_population_seed4_48m": ("baseline", 4, {"run.months": 48, "population.small_neoclouds": 40,
                                                   "population.extra_lenders": 6, "population.startups": 3000}),
}


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, default=float, separators=(",", ":")).encode()


def outputs(scenario: str, seed: int, overrides: dict) -> dict:
    """The outputs of one run: series (column -> values by month), events and balance-sheet rows."""
    from gpucredit.sim import GPUEconomy

    model = GPUEconomy(scenario, rng=seed, **overrides)
    while model.running:
        model.step()
    series = {k: [float(x) for x in v] for k, v in model.datacollector.model_vars.items()}
    return {"series": series, "events": list(model.events), "balance_sheets": list(model.balance_sheet_rows)}


def digests(out: dict) -> dict[str, str]:
    return {part: hashlib.sha256(_canonical(value)).hexdigest() for part, value in out.items()}


def _first_difference(series: dict, pinned_series_digest: dict[str, str]) -> str:
    for name, values in series.items():
        if hashlib.sha256(_canonical(values)).hexdigest() != pinned_series_digest.get(name):
            return name
    return "?"


def pinned() -> dict:
    return json.loads(PINNED.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_are_bit_identical_to_the_pinned_hashes(case):
    scenario, seed, overrides = CASES[case]
    out = outputs(scenario, seed, overrides)
    expected = pinned()[case]
    got = digests(out)
    moved = [part for part in got if got[part] != expected[part]]
    if "series" in moved:
        column = _first_difference(out["series"], expected["series_columns"])
        moved[moved.index("series")] = f"series (first column that moved: {column})"
    assert not moved, f"{case}: outputs moved: {', '.join(moved)}"


def test_a_lean_run_records_the_same_series_and_nothing_else():
    """Studies run the model with ``record="series"``: the stored series must be bit-identical to a full run's."""
    from gpucredit.sim import GPUEconomy

    scenario, seed, overrides = CASES["rate_shock_seed2_72m"]
    lean = GPUEconomy(scenario, rng=seed, record="series", **overrides)
    while lean.running:
        lean.step()
    series = {k: [float(x) for x in v] for k, v in lean.datacollector.model_vars.items()}
    assert hashlib.sha256(_canonical(series)).hexdigest() == pinned()["rate_shock_seed2_72m"]["series"]
    assert lean.events == [] and lean.balance_sheet_rows == []


def update() -> None:
    table = {}
    for case, (scenario, seed, overrides) in sorted(CASES.items()):
        out = outputs(scenario, seed, overrides)
        table[case] = digests(out)
        table[case]["series_columns"] = {k: hashlib.sha256(_canonical(v)).hexdigest() for k, v in out["series"].items()}
        print(f"{case}: {table[case]['series'][:12]} {table[case]['events'][:12]} {table[case]['balance_sheets'][:12]}")
    PINNED.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


def save(path: str) -> None:
    json.dump({case: outputs(*CASES[case])["series"] for case in sorted(CASES)}, open(path, "w"))


def compare(path: str) -> None:
    """Print, for each case, how many series values moved, the largest relative difference (and where) and the
    median relative differences of a few headline series."""
    import numpy as np

    before = json.load(open(path))
    for case in sorted(CASES):
        now = outputs(*CASES[case])["series"]
        old = before[case]
        moved, total, worst = 0, 0, (0.0, "", -1)
        new = [name for name in now if name not in old]  # columns added since the save: nothing to compare with
        for name, values in now.items():
            if name in new:
                continue
            a, b = np.array(old[name]), np.array(values)
            rel = np.abs(b - a) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
            moved += int((a != b).sum())
            total += len(a)
            if len(rel) and rel.max() > worst[0]:
                worst = (float(rel.max()), name, int(rel.argmax()))
        medians = {k: float(np.median(np.abs(np.array(now[k]) - np.array(old[k])) / np.maximum(np.abs(old[k]), 1e-12)))
                   for k in ("spot_price_h100e", "nvidia_revenue", "neocloud_debt", "systemic_risk")}
        print(f"{case}: {moved}/{total} values moved; largest relative difference {worst[0]:.3g} ({worst[1]}, month "
              f"{worst[2]}); medians " + ", ".join(f"{k} {v:.2g}" for k, v in medians.items())
              + (f"; new columns: {', '.join(new)}" if new else ""))


if __name__ == "__main__":
    if "--update" in sys.argv:
        update()
    elif "--save" in sys.argv:
        save(sys.argv[sys.argv.index("--save") + 1])
    elif "--compare" in sys.argv:
        compare(sys.argv[sys.argv.index("--compare") + 1])
