"""GPU generations and the installed fleet.

A generation is a chip design with a vendor, a release month, a performance in H100-equivalents (H100e)
per GPU, a chip power and a launch price. Its running cost per GPU-hour (power x electricity price plus
maintenance) is what the compute market compares with the price of an H100e-hour times the chip's
performance: obsolescence comes from that comparison, never from an exogenous value decay.

The fleet is columnar (numpy arrays, one row per cohort = owner x generation x purchase month), so
that markets, depreciation and collateral marks are vectorised and economies of 100,000+ firms remain fast.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

HOURS_PER_MONTH = 730.0
BN = 1e9
H = HOURS_PER_MONTH / BN  # US$bn per (US$/hour x H100e) per month: an H100e at a price for a month


@dataclass(frozen=True)
class Generation:
    name: str
    vendor: str
    release: int  # months since January 2023 (negative = before)
    perf: float  # H100e per GPU
    chip_kw: float
    launch_price: float  # US$ per GPU (list price at launch, including networking share)

    def running_cost(self, facility_overhead: float, electricity_price: float, maintenance: float) -> float:
        """Cash cost of one active GPU-hour, US$."""
        return self.chip_kw * facility_overhead * electricity_price + maintenance


# Default roadmap (vendor specifications, approximate); release as months since Jan 2023. Launch prices are
# what Nvidia bills per GPU including its networking share (press reports 2023-24: H100 $25-40k new, ~$50k all-in
# with networking; B200 $30-50k).
NVIDIA_ROADMAP = (
    Generation("A100", "nvidia", -30, 0.32, 0.40, 20_000.0),
    Generation("H100", "nvidia", -3, 1.00, 0.70, 40_000.0),
    Generation("H200", "nvidia", 15, 1.35, 0.70, 46_000.0),
    Generation("B200", "nvidia", 25, 2.30, 1.00, 54_000.0),
    Generation("B300", "nvidia", 34, 3.00, 1.20, 62_000.0),
    Generation("Rubin", "nvidia", 45, 5.00, 1.60, 80_000.0),
)
RIVAL_ROADMAP = (
    Generation("MI300X", "rival", 11, 1.20, 0.75, 0.0),
    Generation("MI355X", "rival", 30, 2.40, 1.20, 0.0),
)


def build_roadmap(params, months: int) -> list[Generation]:
    """The generations available over the run: the default roadmap, then a new Nvidia generation every
    ``technology.cadence_months`` after Rubin (performance, price and power growing by their multipliers),
    and rival generations on a similar cadence priced at a discount per H100e."""
    t = params["technology.cadence_months"]
    gens = list(NVIDIA_ROADMAP)
    last = gens[-1]
    k = 1
    while last.release + t <= months:
        last = Generation(
            f"Post-Rubin-{k}",
            "nvidia",
            last.release + t,
            last.perf * params["technology.perf_multiplier"],
            last.chip_kw * params["technology.power_multiplier"],
            last.launch_price * params["technology.price_multiplier"],
        )
        gens.append(last)
        k += 1
    nvidia_price_per_h100e = {g.release: g.launch_price / g.perf for g in gens}
    discount = 1.0 - params["rival.price_discount"]
    rivals = list(RIVAL_ROADMAP)
    r = rivals[-1]
    j = 1
    while r.release + 18 <= months:
        r = Generation(f"Rival-{j}", "rival", r.release + 18, r.perf * 1.8, r.chip_kw * 1.2, 0.0)
        rivals.append(r)
        j += 1
    for rg in rivals:
        # priced like the newest Nvidia generation available at its release, per H100e, at a discount
        ref = max((rel for rel in nvidia_price_per_h100e if rel <= rg.release), default=min(nvidia_price_per_h100e))
        price = nvidia_price_per_h100e[ref] * rg.perf * discount
        gens.append(Generation(rg.name, "rival", rg.release, rg.perf, rg.chip_kw, price))
    gens.sort(key=lambda g: (g.release, g.vendor))
    return gens


BY_OWNER = ("capacity_by_owner", "installing_by_owner", "power_by_owner")  # :meth:`Fleet.refresh`'s figures


class Fleet:
    """All GPUs held by agents, as cohorts in parallel arrays.

    Columns: ``owner`` (entity id), ``gen`` (index into the roadmap), ``vintage`` (month bought),
    ``count`` (GPUs), ``cost`` (historical cost, US$bn), ``book`` (net book value, US$bn) and
    ``pledged`` (id of the loan the cohort secures, -1 if unencumbered), ``liquidate`` (months left
    in a lender's liquidation of seized GPUs, 0 if held) and ``live_from`` (first month the GPUs serve compute:
    delivered GPUs are installed, networked and burnt in first). Each cohort also carries its generation's
    ``h100e_per_gpu`` and ``kw_per_gpu`` (from ``perf`` and ``facility_kw``, fixed for the run), so that each owner's
    capacity and power are added up without looking the generation up for every cohort (three times a month).
    """

    COLUMNS = ("owner", "gen", "vintage", "count", "cost", "book", "pledged", "liquidate", "live_from", "h100e_per_gpu",
               "kw_per_gpu")

    def __init__(self, perf: np.ndarray | None = None, facility_kw: np.ndarray | None = None, capacity: int = 256):
        self.perf = perf  # H100e per GPU, by generation
        self.facility_kw = facility_kw  # kW per GPU with the facility overhead, by generation
        # GPU conservation: every GPU produced is held, scrapped or sold to outside buyers
        self.produced = 0.0
        self.scrapped = 0.0
        self.sold_outside = 0.0
        self.installed_h100e = 0.0  # running total of the installed base, kept by every addition and removal
        self.installed_checked = 0.0  # the installed base and GPUs produced at the last month-end check (the scale of
        self.produced_checked = 0.0   # the running total's rounding)
        # by owner (entity id), as of the last :meth:`refresh`
        self.capacity_by_owner = np.zeros(0)  # H100e serving compute
        self.installing_by_owner = np.zeros(0)  # H100e delivered, still being installed
        self.power_by_owner = np.zeros(0)  # MW drawn (GPUs being installed occupy their racks too)
        self._refresh_due = None  # (month, owners) of a refresh deferred until its figures are read
        self.n = 0
        self.owner = np.zeros(capacity, dtype=np.int64)
        self.gen = np.zeros(capacity, dtype=np.int64)
        self.vintage = np.zeros(capacity, dtype=np.int64)
        self.count = np.zeros(capacity)
        self.cost = np.zeros(capacity)
        self.book = np.zeros(capacity)
        self.pledged = np.full(capacity, -1, dtype=np.int64)
        self.liquidate = np.zeros(capacity, dtype=np.int64)  # months left in a lender's liquidation (0 = held)
        self.live_from = np.zeros(capacity, dtype=np.int64)  # first month it serves compute
        self.h100e_per_gpu = np.zeros(capacity)  # perf[gen]
        self.kw_per_gpu = np.zeros(capacity)  # facility_kw[gen]
        # owner -> its cohorts' rows, ascending: indexed when first asked for after a compaction, then kept up to date
        # by every new cohort and change of hands (see :meth:`rows_of`); None until asked for
        self._rows_by_owner: dict[int, list[int]] | None = None

    def _grow(self, need: int) -> None:
        cap = len(self.count)
        if self.n + need <= cap:
            return
        new = max(2 * cap, self.n + need)
        for col in self.COLUMNS:
            arr = getattr(self, col)
            grown = np.full(new, -1 if col == "pledged" else 0, dtype=arr.dtype)
            grown[: self.n] = arr[: self.n]
            setattr(self, col, grown)

    def add(self, owner: int, gen: int, vintage: int, count: float, cost_bn: float, pledged: int = -1,
            live_from: int | None = None) -> int:
        """A new cohort, serving compute from ``live_from`` (default: its vintage)."""
        if self.n >= len(self.count):
            self._grow(1)
        i = self.n
        self.owner[i], self.gen[i], self.vintage[i] = owner, gen, vintage
        self.count[i], self.cost[i], self.book[i], self.pledged[i] = count, cost_bn, cost_bn, pledged
        self.liquidate[i] = 0
        self.live_from[i] = vintage if live_from is None else live_from
        if self.perf is not None:
            self.h100e_per_gpu[i] = self.perf[gen]
        if self.facility_kw is not None:
            self.kw_per_gpu[i] = self.facility_kw[gen]
        self.n += 1
        if self._rows_by_owner is not None:
            self._rows_by_owner.setdefault(int(owner), []).append(i)  # the newest row: the list stays ascending
        return i

    def transfer(self, i: int, new_owner: int) -> None:
        """Cohort ``i`` changes hands (a resale or a seizure): the one way a cohort's owner changes."""
        old = int(self.owner[i])
        self.owner[i] = new_owner
        if self._rows_by_owner is not None:
            self._rows_by_owner[old].remove(i)
            bisect.insort(self._rows_by_owner.setdefault(int(new_owner), []), i)

    def view(self, col: str) -> np.ndarray:
        return getattr(self, col)[: self.n]

    def rows_of(self, owner: int, pledged_to: int | None = None) -> np.ndarray:
        """``owner``'s cohorts with GPUs in them (only those pledged to loan ``pledged_to``, if given; -1: the
        unencumbered ones), in row order. Read from the owner's own rows, not a scan of the whole fleet: with many
        firms each asking for its GPUs, a scan would make a month's time grow with the square of the population."""
        if self._rows_by_owner is None:
            self._index_owners()
        rows = np.array(self._rows_by_owner.get(int(owner), ()), dtype=np.int64)
        held = self.count[rows] > 0
        if pledged_to is not None:
            held &= self.pledged[rows] == pledged_to
        return rows[held]

    def split(self, i: int, count: float) -> int:
        """Split ``count`` GPUs of cohort ``i`` into a new cohort (same owner, pledge and vintage,
        pro-rata cost and book) and return its index."""
        share = count / self.count[i]
        j = self.add(self.owner[i], self.gen[i], self.vintage[i], count, self.cost[i] * share, self.pledged[i],
                     self.live_from[i])
        self.book[j] = self.book[i] * share
        self.count[i] -= count
        self.cost[i] -= self.cost[j]
        self.book[i] -= self.book[j]
        return j

    def remove(self, i: int, count: float) -> float:
        """Take ``count`` GPUs out of cohort ``i`` (sold outside or scrapped); return their book value."""
        held, book_value, cost = self.count[i], self.book[i], self.cost[i]  # (numpy floats, each read once)
        share = min(1.0, count / held) if held > 0 else 0.0
        book = book_value * share
        left = held - held * share
        if left < 1e-9:  # the cohort is empty
            self.count[i] = self.book[i] = self.cost[i] = 0.0
            self.pledged[i] = -1
        else:
            self.count[i] = left
            self.book[i] = book_value - book
            self.cost[i] = cost - cost * share
        return book

    def compact(self) -> None:
        """Drop empty cohorts (keeps arrays short in long runs)."""
        keep = self.count[: self.n] > 0
        if keep.all():
            return
        m = int(keep.sum())
        for col in self.COLUMNS:
            arr = getattr(self, col)
            arr[:m] = arr[: self.n][keep]
        self.n = m
        self._rows_by_owner = None  # the rows are renumbered: indexed again when next asked for

    def _index_owners(self) -> None:
        """Each owner's rows, ascending (the first time they are asked for after :meth:`compact` renumbers them)."""
        owner = self.owner[: self.n]
        # by owner, each owner's rows in row order: a stable sort, by radix on 16 bits when the ids fit (the same order)
        small = self.n and owner.min() >= 0 and owner.max() < 2**16
        rows = np.argsort(owner.astype(np.uint16) if small else owner, kind="stable")
        owners = owner[rows]
        cuts = ((owners[1:] != owners[:-1]).nonzero()[0] + 1).tolist()  # where the next owner's rows begin
        starts, rows = [0] + cuts, rows.tolist()
        firsts = owners[starts].tolist() if self.n else []  # each owner, at its first row
        self._rows_by_owner = {eid: rows[a:b] for eid, a, b in zip(firsts, starts, cuts + [self.n])}

    def by_owner(self, values: np.ndarray, n_owners: int) -> np.ndarray:
        return np.bincount(self.owner[: self.n], weights=values, minlength=n_owners)

    # --- GPUs entering and leaving the economy (GPU conservation) ---------------------------------------
    def produce(self, owner: int, gen: int, vintage: int, count: float, cost_bn: float, pledged: int = -1,
                live_from: int | None = None) -> int:
        """New GPUs from a chipmaker: a new cohort, counted as produced and in the installed base."""
        i = self.add(owner, gen, vintage, count, cost_bn, pledged, live_from)
        self.produced += count
        self.installed_h100e += count * self.perf[gen]
        return i

    def take_out(self, i: int, count: float, scrapped: bool) -> float:
        """``count`` GPUs of cohort ``i`` leave the economy, scrapped or sold to outside buyers; returns their book
        value."""
        self.installed_h100e -= count * self.h100e_per_gpu[i]  # (perf[gen], kept on the cohort)
        book = self.remove(i, count)
        if scrapped:
            self.scrapped += count
        else:
            self.sold_outside += count
        return book

    # --- queries ----------------------------------------------------------------------------------------
    def live_rows(self, month: int) -> np.ndarray:
        """Which cohorts serve compute in ``month`` (delivered ``technology.deploy_months`` ago or more)."""
        return self.view("live_from") <= month

    def refresh(self, month: int, n_owners: int) -> None:
        """Each owner's capacity serving compute (H100e), capacity still being installed, and power drawn (MW:
        GPUs being installed occupy their racks too)."""
        self._refresh_due = None
        own, cnt = self.view("owner"), self.view("count")
        h100e = cnt * self.view("h100e_per_gpu")
        live = self.live_rows(month)
        self.capacity_by_owner = np.bincount(own, weights=h100e * live, minlength=n_owners)
        self.installing_by_owner = np.bincount(own, weights=h100e * ~live, minlength=n_owners)
        self.power_by_owner = np.bincount(own, weights=cnt * self.view("kw_per_gpu") / 1000.0, minlength=n_owners)

    def refresh_when_read(self, month: int, n_owners: int) -> None:
        """:meth:`refresh` as of now, worked out when one of its figures (``BY_OWNER``) is next read rather than at
        once: the month's last refresh (at the end of the ageing), which no rule reads before the next month opens
        with its own. Until then nothing changes the fleet, so a reader (a test, an analyst after a month) gets the
        figures the refresh would have given."""
        self._refresh_due = (month, n_owners)
        for name in BY_OWNER:
            self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        """An owner's figure (``BY_OWNER``) read after :meth:`refresh_when_read`: the refresh, then the figure (only
        called for an attribute not found, so reading a current figure costs nothing more)."""
        due = self.__dict__.get("_refresh_due")
        if due is None or name not in BY_OWNER:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.refresh(*due)
        return self.__dict__[name]
