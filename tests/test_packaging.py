"""Packaging and import hygiene: every module imports alone, the ``agents`` import name stays free for the AI-agents
SDK, a non-editable install ships every subpackage, the command line answers without Mesa or matplotlib, and
gpucredit's figures leave the caller's matplotlib backend (a notebook's inline plots) alone and embed TrueType fonts.

Everything heavy runs in subprocesses, so this file's own interpreter state never decides an outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("sim", "agents", "experiments")  # installed as gpucredit.sim, gpucredit.agents, gpucredit.experiments
TIMEOUT = 120


def _env(**extra) -> dict[str, str]:
    """The current environment without PYTHONPATH (gpucredit is found through its installation, as a researcher's
    would be, and the repository's top-level ``agents/`` is not importable as ``agents``) nor MPLBACKEND."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    env.update(extra)
    return env


def _python(code: str, cwd: Path | None = None, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=_env(**env), timeout=TIMEOUT)


def _last_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _walk(top: str):
    """(directory relative to ROOT, its *.py file names) for ``top`` and every directory below it."""
    for dirpath, dirnames, filenames in os.walk(ROOT / top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        yield Path(dirpath).relative_to(ROOT), sorted(f for f in filenames if f.endswith(".py"))


def discover_modules() -> list[str]:
    """Every module of gpucredit.sim, gpucredit.agents and gpucredit.experiments, subpackages included, found on
    disk (not from a list that could fall behind)."""
    modules = []
    for top in TOP:
        for rel, files in _walk(top):
            for name in files:
                parts = rel.parts if name == "__init__.py" else (*rel.parts, name[:-3])
                modules.append(".".join(("gpucredit", *parts)))
    return sorted(modules)


def package_dirs() -> dict[str, Path]:
    """gpucredit.<dotted path> -> directory, for every directory under sim/, agents/, experiments/ holding an
    __init__.py."""
    return {".".join(("gpucredit", *rel.parts)): ROOT / rel
            for top in TOP for rel, files in _walk(top) if "__init__.py" in files}


# ====================================================================================================
# 1. every module imports alone (no import cycle)
# ====================================================================================================
# Importing gpucredit's dependencies (Mesa, pandas, ...) costs about 1.5 s of CPU per interpreter, ~60 CPU-seconds
# for all modules. On Linux the test therefore starts one interpreter that imports those third-party packages (never
# a gpucredit module) and forks a child per module: each child imports its module with no other gpucredit module
# loaded, exactly as `python -c "import gpucredit.x.y"` would, in a few milliseconds. Elsewhere (no fork) it runs
# one `python -c` per module on a small thread pool.
FORK_SERVER = r"""
import importlib, json, os, sys, traceback, warnings
warnings.simplefilter("ignore")  # e.g. "fork() in a multi-threaded process" DeprecationWarnings
for dep in ("numpy", "pandas", "networkx", "scipy", "mesa", "matplotlib", "matplotlib.figure", "matplotlib.dates",
            "matplotlib.ticker", "matplotlib.backends.backend_agg", "pyarrow", "duckdb"):
    try:
        importlib.import_module(dep)
    except ImportError:
        pass  # the child imports what it needs
loaded = sorted(m for m in sys.modules if m.startswith("gpucredit."))
assert not loaded, f"a dependency imported gpucredit modules: {loaded}"
results = {}
for module in json.loads(sys.argv[1]):
    read, write = os.pipe()
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: import one module, report a traceback through the pipe, leave without cleanup
        os.close(read)
        status = 0
        try:
            importlib.import_module(module)
        except BaseException:
            os.write(write, traceback.format_exc()[-4000:].encode())
            status = 1
        os.close(write)
        os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        results[module] = report or f"child exited with status {os.waitstatus_to_exitcode(status)}"
print(json.dumps(results))
"""


def _import_alone_forked(modules: list[str]) -> dict[str, str]:
    result = subprocess.run([sys.executable, "-c", FORK_SERVER, json.dumps(modules)], capture_output=True, text=True,
                            cwd=ROOT, env=_env(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"),
                            timeout=TIMEOUT)
    return _last_json(result)


def _import_alone_subprocesses(modules: list[str]) -> dict[str, str]:
    def one(module: str) -> tuple[str, subprocess.CompletedProcess]:
        return module, subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                                      cwd=ROOT, env=_env(), timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        done = list(pool.map(one, modules))
    return {m: r.stderr[-4000:] for m, r in done if r.returncode != 0}


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = discover_modules()
    assert {"gpucredit.sim.model", "gpucredit.agents.neocloud", "gpucredit.experiments.cli"} <= set(modules)
    fork = sys.platform.startswith("linux") and hasattr(os, "fork")
    failures = (_import_alone_forked if fork else _import_alone_subprocesses)(modules)
    assert not failures, "modules that do not import alone:\n" + "\n".join(f"--- {m}\n{tb}" for m, tb in failures.items())


# ====================================================================================================
# 2. the AI-agents SDK's import name `agents` is left free
# ====================================================================================================
def test_a_top_level_agents_package_does_not_clash(tmp_path):
    fake = tmp_path / "agents"
    fake.mkdir()
    (fake / "__init__.py").write_text('MARKER = "sdk"\n')
    result = _python("""
        import json, sys
        import agents
        before = (agents.MARKER, agents.__file__)
        from gpucredit.sim import GPUEconomy
        m = GPUEconomy(rng=1, **{"run.months": 3})
        while m.running:
            m.step()
        import gpucredit.agents
        print(json.dumps({"before": before, "after": getattr(sys.modules["agents"], "MARKER", None),
                          "same": sys.modules["agents"] is agents, "ours": gpucredit.agents.__file__,
                          "month": m.month}))
    """, cwd=tmp_path)
    out = _last_json(result)
    assert out["before"] == ["sdk", str(fake / "__init__.py")]
    assert out["after"] == "sdk" and out["same"]
    assert Path(out["ours"]) == ROOT / "agents" / "__init__.py"
    assert out["month"] == 2  # three months simulated: 0, 1, 2


# ====================================================================================================
# 3. a non-editable install ships every subpackage
# ====================================================================================================
def _mapped_dir(package: str, mapping: dict) -> Path:
    """The directory ``package`` is installed from under [tool.setuptools] package-dir."""
    prefixes = [k for k in mapping if package == k or package.startswith(k + ".")]
    assert prefixes, f"{package}: no package-dir entry covers it"
    key = max(prefixes, key=len)
    rest = package[len(key):].lstrip(".").split(".") if package != key else []
    return ROOT / mapping[key] / Path(*rest)


def test_pyproject_lists_every_package_and_maps_its_directory():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapping, package_data = set(config["packages"]), config["package-dir"], config["package-data"]
    on_disk = package_dirs()
    data = listed - set(on_disk)  # directories of data files only (scenarios, studies, templates, ...)
    assert set(on_disk) <= listed, f"missing from [tool.setuptools] packages: {sorted(set(on_disk) - listed)}"
    for package, directory in on_disk.items():
        assert _mapped_dir(package, mapping).resolve() == directory.resolve(), (
            f"{package}: package-dir maps it to {_mapped_dir(package, mapping)}, but it lives in {directory}")
    for package in data:  # a data package: a directory without modules whose files its package-data globs ship
        directory = _mapped_dir(package, mapping)
        assert directory.is_dir() and not list(directory.glob("*.py")), f"{package}: listed but not a package on disk"
        globs = package_data.get(package, [])
        assert any(f for g in globs for f in directory.glob(g)), f"{package}: its package-data ships no file"
    # every data file beside the code is shipped: each file under experiments/ that is not Python is matched
    shipped = {f.resolve() for package, globs in package_data.items() for g in globs
               for f in _mapped_dir(package, mapping).glob(g)}
    unshipped = [str(f.relative_to(ROOT)) for f in (ROOT / "experiments").rglob("*")
                 if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts
                 and f.resolve() not in shipped]
    assert not unshipped, f"data files no [tool.setuptools.package-data] glob ships: {unshipped}"
    # a directory of modules without an __init__.py would be left out of the packages above, and of the wheel
    stray = [str(rel) for top in TOP for rel, files in _walk(top) if files and "__init__.py" not in files]
    assert not stray, f"directories with Python modules but no __init__.py: {stray}"


# ====================================================================================================
# 4. the command line answers without Mesa or matplotlib
# ====================================================================================================
HEAVY = ("mesa", "matplotlib")


def _heavy_loaded() -> str:
    return f"sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})"


def test_help_and_importing_the_cli_load_neither_mesa_nor_matplotlib():
    result = _python(f"""
        import contextlib, io, json, runpy, sys
        sys.argv = ["gpucredit", "--help"]
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            try:
                runpy.run_module("gpucredit.experiments.cli", run_name="__main__", alter_sys=True)
                code = None
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({{"code": code, "usage": "usage: gpucredit" in text.getvalue(), "heavy": {_heavy_loaded()}}}))
    """)
    out = _last_json(result)
    assert out == {"code": 0, "usage": True, "heavy": []}
    out = _last_json(_python(f"""
        import json, sys
        import gpucredit.experiments.cli
        print(json.dumps({_heavy_loaded()}))
    """))
    assert out == []


# ====================================================================================================
# 5, 6. figures leave the backend alone and embed TrueType fonts
# ====================================================================================================
@pytest.fixture(scope="module")
def run_in_svg_session(tmp_path_factory):
    """A session whose backend is "svg" (as a notebook's would be its inline backend) imports the command line and
    the run and figure helpers, then writes a 6-month run with its figures; returns what it observed."""
    out = tmp_path_factory.mktemp("packaging") / "run"
    result = _python(f"""
        import json, sys
        import matplotlib
        matplotlib.rcParams["backend"] = "svg"
        import gpucredit.experiments.cli, gpucredit.experiments.run, gpucredit.experiments.figures
        import gpucredit.experiments.compare, gpucredit.experiments.sensitivity, gpucredit.experiments.study_figures
        seen = {{"after_import": matplotlib.get_backend()}}
        from gpucredit.experiments.run import run_scenario
        out = run_scenario("baseline", 1, {str(out)!r}, months=6)
        seen.update(after_run=matplotlib.get_backend(), pyplot="matplotlib.pyplot" in sys.modules,
                    pdf_fonttype=matplotlib.rcParams["pdf.fonttype"], out=str(out))
        print(json.dumps(seen))
    """)
    return _last_json(result)


def test_importing_and_writing_figures_keep_the_callers_backend(run_in_svg_session):
    seen = run_in_svg_session
    assert seen["after_import"] == "svg"
    assert seen["after_run"] == "svg"
    assert seen["pyplot"] is False
    assert seen["pdf_fonttype"] == 3  # matplotlib's default: gpucredit set Type 42 only while drawing its figures
    assert (Path(seen["out"]) / "figures" / "panel.png").is_file()


def test_pdf_figures_embed_truetype_not_type3_fonts(run_in_svg_session):
    pdfs = sorted((Path(run_in_svg_session["out"]) / "figures").glob("*.pdf"))
    assert {p.stem for p in pdfs} >= {"panel", "prices", "credit", "nvidia", "defaults", "ai_revenue_capex"}
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert b"/Subtype /Type3" not in data, f"{pdf.name} has Type 3 fonts"
        assert b"/FontFile2" in data or b"/Type0" in data, f"{pdf.name} embeds no TrueType font"
