"""What every stylized-fact experiment shares: the model columns it reads, the result row, the verdict rule, the
bootstrap over seeds and access to a stored study's runs.

The verdict rule (docs/ODD.md, section 10.1): a fact with an expected direction ``holds`` only when the 95%
confidence interval of its statistic lies entirely on the expected side of the reference value (0 for a
difference or a correlation, 1 for an amplification ratio), ``fails`` when it lies entirely on the opposite side,
and is ``inconclusive`` otherwise. A two-sided claim ("depends on how agents react") holds when the interval
excludes the reference value and is otherwise inconclusive. With fewer than :data:`MIN_SEEDS` seeds (or seed pairs) a
statistic is always inconclusive: a bootstrap over a handful of seeds does not give a 95% interval. Nothing is
forced: the verdict is read off the runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

# ---- model output columns the facts read (`gpucredit columns`); one place to follow renames ------------------------
USED_GPU_PRICE = "secondary_price_h100"        # US$/GPU, used-market price of an H100
EQUITY_VALUE = "nvidia_market_cap"             # US$bn, the one equity value reported in every month of every run
LENDER_LEVERAGE = "lender_leverage"            # ratio, lenders' assets over investors' equity
ORIGINATION_LTV = "origination_ltv"            # fraction, mean origination LTV offered
SENTIMENT = "sentiment"                        # index -1..1, the cycle
GPU_LENDING = "gpu_backed_lending"             # US$bn, GPU-backed loans outstanding
LENDER_LOSSES = "lender_losses"                # US$bn/month, lenders' credit losses
DEBT_IN_DEFAULT = "debt_in_default"            # US$bn/month, principal of loans defaulting
DEFAULTS = "defaults_count"                    # count/month, neocloud defaults
FLEET_GAP = "book_minus_market_gpus"           # US$bn, book minus market value of all installed GPUs
SPREAD_NON_IG = "avg_spread_non_ig"            # fraction/year, spread on new non-investment-grade lending
SPREAD_IG = "avg_spread_ig"                    # fraction/year, spread on new lending backed by IG contracts
# ---- per-run outcomes (experiments/outcomes.py) -------------------------------------------------------------------
CRISIS = "crisis"
PEAK_VENDOR_REVENUE = "peak_nvidia_revenue_12m"
VENDOR_DRAWDOWN = "market_cap_drawdown"
MAX_LTV = "lenders.max_ltv"

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "fails", "inconclusive", "not run"
CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 4000
MIN_SEEDS = 5  # below this many seeds (or seed pairs) no statistic gets a verdict other than inconclusive
BOOTSTRAP_SEED = 20261126  # the bootstrap's own generator: the same table every time from the same runs


@dataclass
class FactRow:
    """One statistic of one fact: value, 95% confidence interval, runs (or seed pairs) used and the verdict."""

    fact: int
    label: str             # what is measured, with its unit
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    verdict: str = NOT_RUN
    expected: str = ""     # the expected direction, e.g. "> 0"
    method: str = ""       # how the interval is computed
    note: str = ""         # more numbers, or why it was not run

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    number: int
    text: str
    source: str


CLAIMS = {c.number: c for c in (
    Claim(1, "Higher permitted leverage gives fatter-tailed, more clustered GPU-price and equity returns",
          "Thurner, Farmer and Geanakoplos (2012)"),
    Claim(2, "Lender leverage and loan-to-value are procyclical", "Adrian and Shin (2010); Geanakoplos (2009)"),
    Claim(3, "Fire sales amplify: final losses over the initial shock exceed 1, and depend on how agents react",
          "Bookstaber, Paddrik and Tivnan (2018); Cont and Schaanning (2017)"),
    Claim(4, "A critical leverage above which default cascades appear", "Caccioli, Shrestha, Moore and Farmer (2014)"),
    Claim(5, "Capital overhang: the firms that invested most in the boom cut hardest in the bust; vendor-financed "
             "entrants fail first", "the telecom bust of 2001 (vendor financing by Lucent, Nortel, Cisco)"),
    Claim(6, "Collateral channel: a default lowers rivals' collateral values and raises their borrowing costs",
          "Benmelech and Bergman (2011)"),
    Claim(7, "Circular financing inflates the vendor's boom revenue and deepens its drawdown in the bust",
          "tested against the scenario no_circular_financing"),
)}


def verdict(low: float, high: float, expected: int, reference: float = 0.0, n: int | None = None) -> str:
    """``holds`` / ``fails`` / ``inconclusive`` from a confidence interval [low, high] and the expected direction
    (+1: above ``reference``, -1: below it, 0: different from it, either way); inconclusive when ``n`` (seeds or
    seed pairs behind the interval) is below :data:`MIN_SEEDS`."""
    if not (math.isfinite(low) and math.isfinite(high)) or (n is not None and n < MIN_SEEDS):
        return INCONCLUSIVE
    above, below = low > reference, high < reference
    if expected == 0:
        return HOLDS if above or below else INCONCLUSIVE
    if (above and expected > 0) or (below and expected < 0):
        return HOLDS
    if (below and expected > 0) or (above and expected < 0):
        return FAILS
    return INCONCLUSIVE


def bootstrap(samples: tuple[np.ndarray, ...], statistic: Callable[..., float],
              draws: int = BOOTSTRAP_DRAWS) -> tuple[float, float, float]:
    """(estimate, low, high): the statistic of the seeds and its 95% percentile-bootstrap interval, resampling seeds
    (the rows of every array in ``samples`` together, so paired values stay paired). NaN interval under 2 seeds."""
    arrays = [np.asarray(a, dtype=float) for a in samples]
    n = len(arrays[0])
    if n == 0:
        return math.nan, math.nan, math.nan
    estimate = float(statistic(*arrays))
    if n < 2:
        return estimate, math.nan, math.nan
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, n, size=(draws, n))
    values = np.array([statistic(*(a[p] for a in arrays)) for p in picks], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return estimate, math.nan, math.nan
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return estimate, float(low), float(high)


def directional_row(fact: int, label: str, values, expected: int, statistic=np.mean, reference: float = 0.0,
                    note: str = "") -> FactRow:
    """A row whose statistic is the mean (or ``statistic``) of one value per seed, with a bootstrap interval."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    name = getattr(statistic, "__name__", "statistic")
    sign = {1: ">", -1: "<", 0: "!="}[expected]
    if x.size == 0:
        return FactRow(fact, label, n=0, verdict=INCONCLUSIVE, expected=f"{sign} {reference:g}",
                       note=(note + "; " if note else "") + "no run gave a finite value")
    value, low, high = bootstrap((x,), statistic)
    return FactRow(fact, label, value, low, high, int(x.size), verdict(low, high, expected, reference, int(x.size)),
                   f"{sign} {reference:g}", f"{name} over seeds, 95% percentile bootstrap ({BOOTSTRAP_DRAWS} draws)",
                   note)


def not_run(fact: int, reason: str) -> FactRow:
    return FactRow(fact, CLAIMS[fact].text, verdict=NOT_RUN, note=reason)


# ====================================================================================================
# a stored study, as the facts read it
# ====================================================================================================
@dataclass
class StoredStudy:
    """The successful runs of a stored study (``gpucredit.experiments.store``): plan, run table, monthly series and
    firm panels."""

    directory: Path
    spec: object
    plan: pd.DataFrame
    runs: pd.DataFrame
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, directory: str | Path) -> "StoredStudy":
        from ..store import STATUS_OK, StudyStore
        from ..study import StudySpec

        store = StudyStore(directory)
        runs = store.runs()
        return cls(Path(directory), StudySpec.from_dict(store.manifest()["spec"]), store.plan(),
                   runs[runs["status"] == STATUS_OK])

    @property
    def name(self) -> str:
        return self.spec.name

    def rows(self, scenario: str | None = None, **levels) -> pd.DataFrame:
        """Successful runs of ``scenario`` (every scenario if None) at the design point with these factor levels:
        plan columns (seed, replicate, factors) joined with the run table's outcomes."""
        plan = self.plan if scenario is None else self.plan[self.plan["scenario"] == scenario]
        for name, level in levels.items():
            plan = plan[np.isclose(plan[name].astype(float), float(level))]
        shared = ("scenario", "seed", "replicate", "point", *self.spec.factor_names)
        outcomes = self.runs.drop(columns=[c for c in shared if c in self.runs])
        return plan.merge(outcomes, on="run_id").sort_values("replicate")

    def series(self, run_id: str) -> pd.DataFrame:
        """The monthly series of one run, in month order."""
        if run_id not in self._cache:
            from ..store import StudyStore
            self._cache[run_id] = pd.read_parquet(StudyStore(self.directory).series_path(run_id))
        return self._cache[run_id]

    def firms(self, run_id: str) -> pd.DataFrame | None:
        """The firm panel of one run (:mod:`gpucredit.sim.reporting.firms`), None for a run stored without one."""
        from ..store import StudyStore

        path = StudyStore(self.directory).firms_path(run_id)
        return pd.read_parquet(path) if path.is_file() else None

    def series_by_seed(self, scenario: str, **levels) -> dict[int, pd.DataFrame]:
        """seed -> monthly series of every successful run of ``scenario`` at that design point."""
        return {int(r.seed): self.series(r.run_id) for r in self.rows(scenario, **levels).itertuples()}
