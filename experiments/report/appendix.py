"""The report's appendices: every parameter (from the parameter schema), every outcome's definition, and what it
takes to reproduce the report (commit, package versions, seeds, commands, a sha256 of every stored result file)."""

from __future__ import annotations

from importlib import metadata

import pandas as pd

from gpucredit.sim.parameters import PARAMETERS

from ..outcomes import OUTCOMES
from ..run import git_state
from .document import Bullets, Paragraph, Section, Table
from .paper import Evidence
from .results import clean_source, sha256_files


def _value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parameter_section() -> Section:
    s = Section("parameters", "Parameters", appendix=True)
    rows, raw = [], []
    for p in PARAMETERS:
        allowed = ("{" + ", ".join(_value(c) for c in p.choices) + "}" if p.choices is not None
                   else f"[{_value(p.min)}, {_value(p.max)}]")
        rows.append([p.name, _value(p.default), allowed, p.unit, p.description, clean_source(p.source)])
        raw.append(p.as_dict())
    s.add(Paragraph(f"All {len(PARAMETERS)} parameters of the model with their defaults (the baseline), allowed "
                    f"ranges, units, meaning and source, generated from the parameter schema "
                    f"(gpucredit.sim.parameters; also `gpucredit params`). Scenarios change some of them (see the scenario table of section 2)."),
          Table("parameters", "Parameters: default, allowed range, unit, description and source.",
                ["parameter", "default", "allowed", "unit", "description", "source"], rows, pd.DataFrame(raw),
                align="lrllll", small=True, widths=("auto", "auto", "auto", "0.7fr", "1.7fr", "1.7fr")))
    return s


def outcome_section() -> Section:
    s = Section("outcomes", "Outcome definitions", appendix=True)
    rows = [[name, unit, text] for name, unit, text in OUTCOMES]
    s.add(Table("outcome_definitions", "Scalar outcomes of a run, computed from its monthly series "
                                       "(gpucredit.experiments.outcomes).",
                ["outcome", "unit", "definition"], rows, pd.DataFrame(rows, columns=["outcome", "unit", "definition"]),
                align="lll", small=True, widths=("auto", "auto", "1fr")))
    return s


def _study_command(ev: Evidence, spec) -> str:
    out = f"{ev.root}/studies/{spec.name}"
    path = ev.spec.files.get(spec.name)
    if spec.design == "replicate" and path is None:
        months = f" --months {spec.months}" if spec.months else ""
        verb = (f"compare --scenarios {','.join(spec.scenarios)}" if len(spec.scenarios) > 1
                else f"replicate --scenario {spec.scenarios[0]}")
        return f"gpucredit {verb} --seeds {spec.replicates} --seed {spec.seed}{months} --out {out}"
    verb = "compare" if spec.design == "replicate" else "sweep"
    return f"gpucredit {verb} --spec {path} --out {out}   (same runs, same run ids)"


def reproducibility_section(ev: Evidence) -> Section:
    s = Section("reproducibility", "Reproducibility", appendix=True)
    manifest = ev.main.manifest
    git = manifest.get("git", {})
    dirty = {True: " (with uncommitted changes)", False: "", None: ""}.get(git.get("dirty"), "")
    versions = dict(manifest.get("versions", {}))
    for name in ("typst", "scipy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    now = git_state()
    rendered = {True: " (with uncommitted changes)"}.get(now.get("dirty"), "")
    s.add(Paragraph(f"The main study's runs were started at git commit {git.get('commit', 'unknown')}{dirty}; this "
                    f"report was rendered at commit {now.get('commit', 'unknown')}{rendered}. Model code version "
                    f"{manifest.get('code_version')} (a hash of the model's source: a run's identity includes it, so "
                    f"stored runs are reused only by the same code). Every random draw comes from the model's "
                    f"generator, seeded per run."),
          Paragraph("Package versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."),
          Paragraph("Commands. The report:"), Bullets([ev.command or "gpucredit report (called from Python)"]),
          Paragraph("Each study on its own (writes the same runs):"),
          Bullets([_study_command(ev, study.spec) for study in [ev.main, *ev.others]]))
    rows, raw = [], []
    for study in [ev.main, *ev.others]:
        seeds = study.manifest.get("replicate_seeds", [])
        rows.append([study.spec.name, str(study.spec.seed), str(study.manifest.get("design_seed", "")),
                     ", ".join(str(x) for x in seeds)])
        raw.append({"study": study.spec.name, "root_seed": study.spec.seed,
                    "design_seed": study.manifest.get("design_seed"), "replicate_seeds": " ".join(map(str, seeds))})
    s.add(Table("seeds", "Seeds: each study's root seed, the seed of its design sampler and the model seed of each "
                         "replicate (spawned with numpy's SeedSequence).",
                ["study", "root seed", "design seed", "replicate seeds"], rows, pd.DataFrame(raw), align="lrrl",
                small=True, widths=("auto", "auto", "auto", "1fr")))
    hashes = sha256_files(ev.root)
    s.add(Table("sha256", f"SHA-256 of every stored result file ({len(hashes)} files; paths below studies/, sizes in "
                          f"bytes).",
                ["file", "bytes", "sha256"],
                [[r.path.removeprefix("studies/"), str(r.bytes), r.sha256] for r in hashes.itertuples()], hashes,
                align="lrl", small=True,
                mono=True, widths=("1fr", "auto", "auto")))
    return s
