"""`gpucredit bench` on tiny settings: every figure is printed, and bad flags are refused in one line.

Timings are printed, never asserted (a benchmark is a script that prints figures)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def gpucredit(*args):
    return subprocess.run([sys.executable, "-m", "gpucredit.experiments.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _worktrees() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout


def test_bench_prints_every_figure_on_tiny_settings():
    in_git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0
    # the comparison against the repository's own HEAD (a temporary worktree) when this is a git checkout
    vs = ["--vs", "HEAD"] if in_git else ["--no-vs"]
    result = gpucredit("bench", *vs, "--months", "2", "--sizes", "1,2", "--repeats", "1", "--seeds", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("[2] current baseline (2 months) and a trivial Mesa", "us per agent-step",
                     "[3] scaling, 2 months, population x1, x2", "peak RSS MB", "fitted exponent b", "bench done"):
        assert expected in out, out
    assert sum(line.lstrip().startswith("current ") for line in out.splitlines()) >= 2  # one row per size
    if in_git:
        assert "[1] baseline, 2 months: previous code (HEAD" in out
        assert "speed-up previous/current:" in out
        assert "gpucredit-bench-vs-" not in _worktrees()  # the temporary worktree is gone
    else:
        assert "skipped (--no-vs)" in out


@pytest.mark.parametrize("args, flag", [
    (["--study-runs", "-5"], "--study-runs"),
    (["--sizes", "0"], "--sizes"),
    (["--sizes", "1,abc"], "--sizes"),
    (["--repeats", "0"], "--repeats"),
    (["--seeds", "1000"], "--seeds"),
    (["--months", "0"], "--months"),
    (["--repeats", "abc"], "--repeats"),
    (["--vs", "no-such-ref-for-bench"], "--vs"),
    (["--no-vs", "--scaling-previous"], "--scaling-previous"),
])
def test_bench_bad_flags_are_one_line_and_nonzero(args, flag):
    result = gpucredit("bench", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
