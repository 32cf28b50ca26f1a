"""The AI-chip credit economy as a Mesa model: it builds the economy and runs the month, nothing else.

``GPUEconomy.step()`` advances one month through these phases, in order (docs/ODD.md section 3); each delegates to
the object that owns the mechanism:

1. ``open_month``              calendar, SOFR; power capacity commissioned; GPUs installed go live
2. ``earn_ai_revenue``         end users pay AI revenue; developers and hyperscalers set compute budgets
                               (:mod:`.demand`)
3. ``fund_developers``         labs and start-ups raise equity, Nvidia may join labs (:mod:`.finance.equity`)
4. ``sign_compute_contracts``  the term-contract market (:mod:`.markets.term`)
5. ``trade_chips``             the primary chip market: orders, allocation, delivery, financed with loan draws
                               (:mod:`.markets.chips`)
6. ``clear_compute_market``    the spot market (:mod:`.markets.compute`), contract payments (:mod:`.contracts.register`),
                               backstops (:mod:`.finance.circular`), running costs
7. ``service_debt``            interest and amortisation; missed payments open breaches (neoclouds' decision rules);
                               data-centre construction and its loans (:mod:`.finance.datacentres`)
8. ``mark_and_enforce``        used-GPU prices (:mod:`.markets.used_gpus`), lenders' liquidations, marks, covenants,
                               cures and defaults (:mod:`.credit`)
9. ``settle_equity``           valuations, neocloud rounds, payouts, circular-financing agreements, stake marks,
                               month-end accounts of chipmakers and hyperscalers
10. ``age_the_economy``        contract expiries, failures, loans repaid, depreciation, scrapping (:mod:`.aging`),
                               lender capital, chip capacity and prices
11. ``form_expectations``      rule switching, sentiment (:mod:`.expectations`)
12. ``check_accounts``         balance sheets, cash flows and GPUs, or the run stops (:mod:`.accounts`)
13. ``record``                 the monthly series (:mod:`.reporting.series`) and balance-sheet snapshots
"""

from __future__ import annotations

from collections import defaultdict

import mesa
import numpy as np

from . import accounts, aging
from .calendar import month_label, newest_generation, rival_share, sofr_at
from .contracts.register import ContractRegister
from .credit.covenants import Covenants
from .credit.default import liquidate_seized
from .credit.loans import LoanRegister
from .demand import AIRevenue
from .events import EventLog
from .expectations import Expectations, form_expectations, full_cost_of_new_capacity
from .finance.circular import CircularFinance
from .finance.datacentres import DataCentres
from .finance.equity import EquityRegister
from .finance.tax import CorporateTax
from .finance.venture import VentureSupply
from .ledger import Ledger
from .markets.chips import ChipMarket
from .markets.compute import SpotMarket
from .markets.term import TermMarket
from .markets.used_gpus import UsedGpuMarket
from .parameters import resolve
from .population import build_population
from .roster import lead_neocloud_name
from .reporting.series import SeriesCollector, SeriesRecorder
from .scenarios import load_scenario
from .shocks import ShockSchedule
from .technology import HOURS_PER_MONTH, Fleet, build_roadmap

__all__ = ["GPUEconomy", "month_label"]

RECORD_MODES = ("full", "series")


class GPUEconomy(mesa.Model):
    """Agent-based model of the AI-chip credit economy (stylized research model, not a forecast).

    Parameters
    ----------
    scenario : name of a shipped scenario (``gpucredit scenarios``) or path to a scenario TOML file
    rng : seed of the model's random generator (every random draw comes from ``self.rng``)
    record : ``"full"`` (default) keeps the monthly series, the event log and balance-sheet snapshots;
        ``"series"`` keeps the monthly series only, what a study stores (the series are identical: nothing the model
        decides reads the event log or the snapshots)
    **overrides : any parameter of ``gpucredit params`` by its dotted name (``**{"lenders.max_ltv": 0.5}``)
        or with ``__`` for the dot (``lenders__max_ltv=0.5``)
    """

    def __init__(self, scenario: str = "baseline", rng: int | None = None, record: str = "full", **overrides):
        if record not in RECORD_MODES:
            raise ValueError(f"record: must be one of {', '.join(RECORD_MODES)} (got {record!r})")
        spec = load_scenario(scenario)
        super().__init__(rng=rng)
        self.scenario_name = spec.name
        self.p = resolve(overrides, spec.parameters)
        self.overrides = dict(overrides)
        self.seed = rng
        self.record_mode = record
        p = self.p
        self.n_months = p["run.months"]
        self.month = -1
        self.date = "2022-12"
        self.horizons = np.arange(1, 241, dtype=float)
        self._build_technology()
        self._next_id = 0
        self.ledger = Ledger()
        self.fleet = Fleet(self.perf, self.facility_kw)
        self.entity: dict[int, mesa.Agent] = {}
        self.events = EventLog(self.date, keep=record == "full")
        self.balance_sheet_rows: list[dict] = []
        self.closing_sheets = None  # the month's balance sheets, as checked (accounts.check_accounts)
        self._open_tallies()
        self.sofr = sofr_at(p, 0)
        self.expectations = Expectations(p, p["markets.initial_spot_price"])
        self.expectations.sentiment = p["expectations.initial_sentiment"]
        self.demand = AIRevenue(self)
        self.newest_nvidia_gen = newest_generation(self.gens, "nvidia", self.month)
        self.newest_rival_gen = newest_generation(self.gens, "rival", self.month)
        self.contracts = ContractRegister(self)
        self.loans = LoanRegister(self)
        self.covenants = Covenants(self)
        self.equity = EquityRegister(self)
        self.venture = VentureSupply(self)
        self.circular = CircularFinance(self)
        self.taxes = CorporateTax(self)
        self._lenders_ranked, self._lenders_ranked_month = [], -1
        build_population(self, spec.roster)
        self.datacentres = DataCentres(self)  # marks the neoclouds that build
        lead = lead_neocloud_name(spec.roster)  # followed by name: NaN metrics after it exits, never another firm
        self.lead_neocloud = next((nc for nc in self.neoclouds if nc.name == lead), None)
        self.shocks = ShockSchedule(self, spec.shocks)
        self.spot = SpotMarket(self, p["markets.initial_spot_price"])
        self.term = TermMarket(self, p["markets.initial_spot_price"])
        self.used_gpus = UsedGpuMarket(self)
        self.series = SeriesRecorder()
        self.contracts.refresh_books()
        self.refresh_capacity()
        # forecasters start out anchored to the full cost of new capacity, not to the opening spot price
        self.expectations.fundamental_price = full_cost_of_new_capacity(self, 0)
        self.expectations.anchor(self.fundamental_price)
        self.chips = ChipMarket(self, [self.nvidia, self.rival])
        self.chips.seed()
        self.used_gpus.reappraise()
        for loan in self.loans.values():
            self.loans.mark(loan)
        self.current: dict[str, float] = {}
        self.datacollector = SeriesCollector(self.generations_released())

    def _build_technology(self) -> None:
        """The roadmap and each generation's performance, power, running and data-centre cost per GPU-hour."""
        p = self.p
        self.gens = build_roadmap(p, self.n_months + 24)
        self.perf = np.array([g.perf for g in self.gens])
        self.facility_kw = np.array([g.chip_kw * p["technology.facility_overhead"] for g in self.gens])
        self.running_cost = np.array([g.running_cost(p["technology.facility_overhead"], p["technology.electricity_price"],
                                                     p["technology.maintenance_cost"]) for g in self.gens])
        # data-centre cost per GPU-hour (leased powered capacity)
        self.facility_cost = self.facility_kw / 1000.0 * p["neoclouds.power_cost"] * 1e6 / HOURS_PER_MONTH
        self.release = np.array([g.release for g in self.gens])
        self.negative_margin_months = np.zeros(len(self.gens), dtype=int)

    def _open_tallies(self) -> None:
        """This month's flow tallies for the series, and payments by recipient."""
        self.flow = defaultdict(float)
        self.customer_payments: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))  # revenue by customer
        self.nvidia_flows_to: dict[int, float] = defaultdict(float)  # equity, backstop, rent-back money by firm

    # ================================================================================================
    # read-only calendar and queries
    # ================================================================================================
    @property
    def sentiment(self) -> float:
        """The market's sentiment index (-1..1), :mod:`.expectations`."""
        return self.expectations.sentiment

    @property
    def fundamental_price(self) -> float:
        """The full cost of new capacity per H100e-hour (the forecasters' anchor), set when expectations are formed."""
        return self.expectations.fundamental_price

    @property
    def spot_price(self) -> float:
        return self.spot.price

    def rival_share(self) -> float:
        return rival_share(self.p, self.month)

    def generations_released(self) -> list[str]:
        """Names of the generations released by the end of the run (each has its own price series)."""
        return [g.name for g in self.gens if g.release < self.n_months]

    def gen_index(self, name: str) -> int:
        return next(i for i, g in enumerate(self.gens) if g.name == name)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def new_ids(self, k: int) -> np.ndarray:
        """``k`` new ids at once: those ``k`` calls of :meth:`new_id` would give, in the same order."""
        first = self._next_id + 1
        self._next_id += k
        return np.arange(first, first + k, dtype=np.int64)

    def lenders_by_capital(self) -> list:
        """Live lenders, largest capital first (ties by entity id), as at the first call this month."""
        if self._lenders_ranked_month != self.month:
            self._lenders_ranked = sorted((l for l in self.lenders if l.alive), key=lambda l: (-l.capital(), l.eid))
            self._lenders_ranked_month = self.month
        return self._lenders_ranked

    def datacentre_capex(self, g: int, units: float) -> float:
        """Construction cost of the powered shell for ``units`` GPUs, US$bn (80 months of lease cost)."""
        return units * self.facility_kw[g] / 1000.0 * self.p["neoclouds.power_cost"] * 80.0 * 1e-3

    def refresh_capacity(self, when_read: bool = False) -> None:
        """Each owner's live, installing and power capacity (:meth:`~.technology.Fleet.refresh`), or, ``when_read``,
        as of now but worked out when next read (:meth:`~.technology.Fleet.refresh_when_read`)."""
        refresh = self.fleet.refresh_when_read if when_read else self.fleet.refresh
        refresh(self.month, len(self.ledger.names) + 1)

    # ================================================================================================
    # the month
    # ================================================================================================
    def step(self) -> None:
        self.open_month()
        self.earn_ai_revenue()
        self.fund_developers()
        self.sign_compute_contracts()
        self.trade_chips()
        self.clear_compute_market()
        self.service_debt()
        self.mark_and_enforce()
        self.settle_equity()
        self.age_the_economy()
        self.form_expectations()
        self.check_accounts()
        self.record()
        if self.month + 1 >= self.n_months:
            self.running = False

    # ---- 1 ------------------------------------------------------------------------------------------
    def open_month(self) -> None:
        self.month = self.steps - 1
        self.date = self.events.date = month_label(self.month)
        self.ledger.start_step(self.month, self.date)
        self._cash_start = self.ledger.agent_cash_total()
        self.sofr = sofr_at(self.p, self.month, self.shocks.rate_shift)
        self._open_tallies()
        self.chips.open_month()
        self.contracts.open_month()
        self.newest_nvidia_gen = newest_generation(self.gens, "nvidia", self.month)
        self.newest_rival_gen = newest_generation(self.gens, "rival", self.month)
        for agent in [self.nvidia, self.rival] + self.lenders + self.hyperscalers + self.neoclouds:
            agent.open_month()
        self.refresh_capacity()  # GPUs whose installation is done serve compute from this month
        self.rival.capacity = self.nvidia.capacity * self.rival_share() / max(1e-9, 1.0 - self.rival_share())
        self.shocks.apply()  # the scenario's shocks dated this month

    # ---- 2 ------------------------------------------------------------------------------------------
    def earn_ai_revenue(self) -> None:
        self.demand.pay_buyers()

    # ---- 3 ------------------------------------------------------------------------------------------
    def fund_developers(self) -> None:
        self.venture.open_month(self.demand.revenue)
        self.equity.fund_labs()
        self.startups.raise_rounds()

    # ---- 4 ------------------------------------------------------------------------------------------
    def sign_compute_contracts(self) -> None:
        self.term.clear()

    # ---- 5 ------------------------------------------------------------------------------------------
    def trade_chips(self) -> None:
        """Buyers plan and place orders net of what they have on order; chipmakers allocate and deliver."""
        self.used_gpus.reappraise()
        self.chips.tally()
        for buyer in self.neoclouds + self.hyperscalers:
            buyer.plan_orders()
        self.chips.take_orders()
        self.chips.allocate()
        self.refresh_capacity()

    # ---- 6 ------------------------------------------------------------------------------------------
    def clear_compute_market(self) -> None:
        self.spot.clear()
        self.contracts.collect_payments()
        self.circular.pay_backstops()
        self.spot.pay_running_costs()

    # ---- 7 ------------------------------------------------------------------------------------------
    def service_debt(self) -> None:
        for nc in list(self.neoclouds):
            nc.service_debt()
        self.datacentres.advance()

    # ---- 8 ------------------------------------------------------------------------------------------
    def mark_and_enforce(self) -> None:
        self.used_gpus.reappraise()
        liquidate_seized(self)
        self.covenants.enforce()
        self.used_gpus.decay_pressure()

    # ---- 9 ------------------------------------------------------------------------------------------
    def settle_equity(self) -> None:
        self.taxes.collect()  # last month's corporate tax
        for nc in self.neoclouds:
            nc.record_revenue()
            nc.value_firm()
        for lab in self.labs:
            lab.value_firm()
        self.equity.fund_neoclouds()
        for nc in self.neoclouds:
            nc.pay_out_surplus()
        self.circular.sign_agreements()
        self.equity.mark()
        for agent in [self.nvidia, self.rival] + self.hyperscalers:
            agent.close_month()

    # ---- 10 -----------------------------------------------------------------------------------------
    def age_the_economy(self) -> None:
        aging.age(self)

    # ---- 11 -----------------------------------------------------------------------------------------
    def form_expectations(self) -> None:
        form_expectations(self)

    # ---- 12 -----------------------------------------------------------------------------------------
    def check_accounts(self) -> None:
        self.closing_sheets = accounts.check_accounts(self, self._cash_start)  # reused by the record: no stock changes

    # ---- 13 -----------------------------------------------------------------------------------------
    def record(self) -> None:
        self.taxes.assess()  # the month's taxable profits, known once its books are complete
        self.current = self.series.record(self, self.closing_sheets)
        self.chips.close_month()
        self.venture.close_month()
        self.datacollector.collect(self)
        interval = self.p["run.balance_sheet_interval"]
        if self.record_mode == "full" and (self.month % interval == interval - 1 or self.month == self.n_months - 1):
            self.balance_sheet_rows.extend(accounts.snapshot_balance_sheets(self, self.closing_sheets))
