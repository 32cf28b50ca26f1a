"""The AI-chip credit economy as a Mesa model.

``GPUEconomy.step()`` advances one month through these phases, in order:

1. ``open_month``              calendar, SOFR, caches; power capacity commissioned
2. ``earn_ai_revenue``         end users pay AI revenue (S-curve adoption with persistent shocks);
                               developers and hyperscalers set compute budgets
3. ``fund_developers``         labs and start-ups raise equity (Nvidia may join labs); start-ups enter
4. ``sign_compute_contracts``  buyers seek term capacity, providers offer, contracts signed and prepaid
5. ``trade_chips``             neoclouds and hyperscalers order; chipmakers allocate, deliver, are paid;
                               deliveries are financed with GPU-backed loan draws
6. ``clear_compute_market``    spot clearing (merit order), contract, spot, backstop and rent-back payments,
                               running and data-centre costs
7. ``service_debt``            interest and amortisation; missed payments open breaches
8. ``mark_and_enforce``        appraisal and used-GPU prices, collateral marks, covenants, waivers, cures,
                               defaults, seizures and fire sales (repeated while fire sales trip covenants)
9. ``settle_equity``           valuations, neocloud equity raises (Nvidia joins), backstops and rent-backs,
                               stake marks, chipmakers' and hyperscalers' month-end accounts
10. ``age_the_economy``        contract expiries, developer failures, depreciation, scrapping, lender capital,
                               chip capacity and prices
11. ``form_expectations``      rule switching, sentiment
12. ``check_accounts``         balance sheets, cash flows and GPUs, or the run stops
13. ``record``                 the monthly series (``datacollector``) and balance-sheet snapshots
"""

from __future__ import annotations

import math
from collections import defaultdict, deque

import mesa
import numpy as np

from gpucredit.agents.ai_developer import Lab, StartupPopulation
from gpucredit.agents.chipmaker import Chipmaker
from gpucredit.agents.hyperscaler import Hyperscaler
from gpucredit.agents.lender import Lender
from gpucredit.agents.neocloud import Neocloud, optimism_draws
from . import markets, network
from .contracts import ActiveContracts, Backstop, ChipOrder, ComputeContract, EquityStake, Loan, totals_by_party
from .expectations import Expectations, fundamental_price
from .ledger import AccountingError, Ledger
from .outputs import SERIES
from .parameters import resolve
from .roster import apply_roster
from .scenarios import load_scenario
from .technology import BN, HOURS_PER_MONTH, Fleet, build_roadmap

H = HOURS_PER_MONTH / BN  # US$bn per (US$/hour x H100e) per month
MAX_PROVIDERS_PER_DEAL = 4  # a lab or hyperscaler signs with at most this many providers a month


def month_label(t: int) -> str:
    return f"{2023 + t // 12}-{t % 12 + 1:02d}"


def year_of(t: int) -> float:
    return 2023 + t / 12.0


class GPUEconomy(mesa.Model):
    """Agent-based model of the AI-chip credit economy (stylized research model, not a forecast).

    Parameters
    ----------
    scenario : name of a shipped scenario (``gpucredit scenarios``) or path to a scenario TOML file
    rng : seed of the model's random generator (every random draw comes from ``self.rng``)
    **overrides : any parameter of ``gpucredit params`` by its dotted name (``**{"lenders.max_ltv": 0.5}``)
        or with ``__`` for the dot (``lenders__max_ltv=0.5``)
    """

    def __init__(self, scenario: str = "baseline", rng: int | None = None, **overrides):
        spec = load_scenario(scenario)
        super().__init__(rng=rng)
        self.scenario_name = spec.name
        self.p = resolve(overrides, spec.parameters)
        self.overrides = dict(overrides)
        self.seed = rng
        p = self.p
        self.n_months = p["run.months"]
        self.month = -1
        self.date = "2022-12"
        self.horizons = np.arange(1, 241, dtype=float)
        self.gens = build_roadmap(p, self.n_months + 24)
        self.perf = np.array([g.perf for g in self.gens])
        self.facility_kw = np.array([g.chip_kw * p["technology.facility_overhead"] for g in self.gens])
        self.running_cost = np.array([g.running_cost(p["technology.facility_overhead"], p["technology.electricity_price"],
                                                     p["technology.maintenance_cost"]) for g in self.gens])
        # data-centre cost per GPU-hour (leased powered capacity)
        self.facility_cost = self.facility_kw / 1000.0 * p["neoclouds.power_cost"] * 1e6 / HOURS_PER_MONTH
        self.release = np.array([g.release for g in self.gens])
        self.negative_margin_months = np.zeros(len(self.gens), dtype=int)

        self.ledger = Ledger()
        self.fleet = Fleet()
        self.entity: dict[int, mesa.Agent] = {}
        self.loans: dict[int, Loan] = {}
        self.exposures: dict[tuple[int, int], float] = {}  # (lender, borrower) -> principal outstanding, cached
        self.contracts: list[ComputeContract] = []
        self.active_contracts = ActiveContracts()  # their columns: ``self.active_contracts.of(self.contracts).columns(...)``
        self.stakes: list[EquityStake] = []
        self.backstops: list[Backstop] = []
        self.events: list[dict] = []
        self.balance_sheet_rows: list[dict] = []
        self._next_id = 0

        self.spot_price = p["markets.initial_spot_price"]
        self.clearing_price = self.spot_price
        self.contract_price_now = self.spot_price
        self.fundamental_price = self.spot_price
        self.expectations = Expectations(p, self.spot_price)
        self.sentiment = p["expectations.initial_sentiment"]
        self.expectations.sentiment = self.sentiment
        self.secondary = markets.SecondaryMarket(p)
        self.sofr = self.sofr_at(0)
        self.expected_utilisation = 0.8
        self.collateral_return_6m = 0.0
        self.ai_shock = 0.0
        self.ai_revenue_annual = p["demand.initial_ai_revenue"]
        self.produced = 0.0
        self.scrapped = 0.0
        self.sold_outside = 0.0
        self._installed_h100e = 0.0  # running total of the installed base, kept by every addition and removal
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=24))

        self._newest_nvidia = self._newest("nvidia")
        self._newest_rival = self._newest("rival")
        self.flow = defaultdict(float)
        self.nvidia_flows_to = defaultdict(float)
        self._recorded_month = -99
        self._build_agents(spec.roster)
        self.exchange = self.ledger.register("spot exchange")
        self._refresh_books()
        self._refresh_capacity()
        # forecasters start out anchored to the full cost of new capacity, not to the opening spot price
        self.fundamental_price = self.full_cost_of_new_capacity(0)
        self.expectations.anchor(self.fundamental_price)
        self.order_book: dict[int, list[ChipOrder]] = {self.nvidia.eid: [], self.rival.eid: []}
        self._tally_order_book()
        self.seed_order_book()
        self.appraisal_per_gpu = np.zeros(len(self.gens))
        self._mark_secondary()
        for loan in self.loans.values():
            self.mark_loan(loan)
        self.current: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, n=name: m.current.get(n, 0.0)) for name, _, _ in SERIES}
        )

    # ================================================================================================
    # set-up
    # ================================================================================================
    def _build_agents(self, roster) -> None:
        p, led, rng = self.p, self.ledger, self.rng
        hyperscalers, neoclouds, lenders, labs = apply_roster(roster)
        scale = p["population.scale"]
        h100 = self.gen_index("H100")
        a100 = self.gen_index("A100")

        self.nvidia = Chipmaker(self, "Nvidia", "nvidia", led.register("Nvidia", cash=15.0), p["nvidia.initial_capacity"])
        self.rival = Chipmaker(self, "AMD and custom silicon", "rival", led.register("AMD and custom silicon", cash=5.0), 0.0)
        self.rival.capacity = self.nvidia.capacity * self.rival_share() / (1.0 - self.rival_share())
        for c in (self.nvidia, self.rival):
            self.entity[c.eid] = c

        self.lenders: list[Lender] = []
        self._lenders_ranked: list[Lender] = []
        self._lenders_ranked_month = -1
        for name, size in lenders:
            self._add_lender(name, p["lenders.fund_capital"] * size)
        for k in range(p["population.extra_lenders"]):
            self._add_lender(f"Credit fund {k + 1}", p["lenders.fund_capital"] * float(rng.lognormal(-0.5, 0.5)))

        self.hyperscalers: list[Hyperscaler] = []
        for name, weight, n_a100, n_h100 in hyperscalers:
            cash = 3.0 * p["hyperscalers.core_cash_flow"] * weight
            h = Hyperscaler(self, name, led.register(name, cash=cash), weight)
            self.entity[h.eid] = h
            self.hyperscalers.append(h)
            self._initial_gpus(h.eid, a100, n_a100)
            self._initial_gpus(h.eid, h100, n_h100)

        self.neoclouds: list[Neocloud] = []
        self.defunct: list[Neocloud] = []
        lender_by_name = {l.name: l for l in self.lenders}
        optimism = optimism_draws(rng, len(neoclouds) + p["population.small_neoclouds"])
        for k, (name, n_a100, n_h100, mw, cash, lender_name, _entry) in enumerate(neoclouds):
            lender = lender_by_name.get(lender_name) if lender_name else None
            self._add_neocloud(name, n_a100, n_h100, mw, cash, lender, optimism[k], 1.0, True)
        for k in range(p["population.small_neoclouds"]):
            size = float(rng.lognormal(-1.3, 0.7)) * scale
            lender = self.lenders[int(rng.integers(len(self.lenders)))] if self.lenders else None
            self._add_neocloud(f"Small neocloud {k + 1}", 4000 * size, 500 * size, 8.0 * size, 0.03 * size,
                               lender, optimism[len(neoclouds) + k], size, False)

        self.labs: list[Lab] = []
        for name, weight, cash in labs:
            lab = Lab(self, name, led.register(name, cash=cash), weight)
            self.entity[lab.eid] = lab
            self.labs.append(lab)

        n_startups = p["population.startups"]
        self.startups = StartupPopulation(self, led.register("AI start-ups", cash=0.0), n_startups, scale)
        self.entity[self.startups.eid] = self.startups

    def _add_lender(self, name: str, capital: float) -> None:
        lender = Lender(self, name, self.ledger.register(name, cash=capital))
        self.entity[lender.eid] = lender
        self.lenders.append(lender)

    def _add_neocloud(self, name, n_a100, n_h100, mw, cash, lender, optimism, size, named) -> None:
        led = self.ledger
        if lender is None and self.lenders:
            lender = max(self.lenders, key=lambda l: l.capital())
        eid = led.register(name, cash=cash)
        nc = Neocloud(self, name, eid, mw, lender.eid if lender else -1, float(optimism), size, named)
        self.entity[eid] = nc
        self.neoclouds.append(nc)
        self._initial_gpus(eid, self.gen_index("A100"), n_a100)
        self._initial_gpus(eid, self.gen_index("H100"), n_h100)

    def _initial_gpus(self, eid: int, g: int, count: float) -> None:
        """GPUs held at the start, bought at launch price at the generation's release (or 3 months before
        the start), with book value net of straight-line depreciation; the owner's equity rises by it."""
        if count <= 0:
            return
        gen = self.gens[g]
        vintage = min(gen.release + 6, -1)
        cost = count * gen.launch_price * 0.9 / BN
        life = self.p["technology.accounting_life_months"]
        book = cost * max(0.0, 1.0 - (-vintage) / life)
        i = self.fleet.add(eid, g, vintage, count, cost)
        self.fleet.book[i] = book
        self.ledger.equity[eid] += book
        self.produced += count
        self._installed_h100e += count * gen.perf

    def lenders_by_capital(self) -> list[Lender]:
        """Live lenders, largest capital first (ties by entity id), as at the first call this month."""
        if self._lenders_ranked_month != self.month:
            self._lenders_ranked = sorted((l for l in self.lenders if l.alive), key=lambda l: (-l.capital(), l.eid))
            self._lenders_ranked_month = self.month
        return self._lenders_ranked

    def gen_index(self, name: str) -> int:
        return next(i for i, g in enumerate(self.gens) if g.name == name)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ================================================================================================
    # environment
    # ================================================================================================
    def sofr_at(self, t: int) -> float:
        """Exogenous SOFR path: calibrated 2023-2026 (NY Fed), then ``rates.sofr_long_run``, plus any shock."""
        points = [(0, 0.043), (7, 0.053), (20, 0.0533), (23, 0.046), (24, 0.0429), (35, 0.037), (41, self.p["rates.sofr_long_run"])]
        if t >= points[-1][0]:
            base = points[-1][1]
        else:
            base = points[0][1]
            for (t0, r0), (t1, r1) in zip(points, points[1:]):
                if t0 <= t < t1:
                    base = r0 + (r1 - r0) * (t - t0) / (t1 - t0)
                    break
        if year_of(t) >= self.p["rates.shock_year"]:
            base += self.p["rates.shock_size"]
        return max(0.0, base)

    def rival_share(self) -> float:
        p = self.p
        t = year_of(max(self.month, 0))
        span = max(p["rival.share_end_year"] - 2023.0, 1e-9)
        w = min(1.0, max(0.0, (t - 2023.0) / span))
        return p["rival.share_start"] + w * (p["rival.share_end"] - p["rival.share_start"])

    def _newest(self, vendor: str) -> int:
        out = [i for i, g in enumerate(self.gens) if g.vendor == vendor and g.release <= max(self.month, 0)]
        return max(out, key=lambda i: self.gens[i].release) if out else -1

    @property
    def newest_nvidia_gen(self) -> int:
        return self._newest_nvidia

    @property
    def newest_rival_gen(self) -> int:
        return self._newest_rival

    def datacentre_capex(self, g: int, units: float) -> float:
        """Construction cost of the powered shell for ``units`` GPUs, US$bn (80 months of lease cost)."""
        return units * self.facility_kw[g] / 1000.0 * self.p["neoclouds.power_cost"] * 80.0 * 1e-3

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
        self.date = month_label(self.month)
        self.ledger.start_step()
        self._cash_start = self.ledger.agent_cash_total()
        self.sofr = self.sofr_at(self.month)
        self.flow = defaultdict(float)  # this month's tallies for the series
        self.chip_sales: dict[int, float] = defaultdict(float)  # Nvidia revenue by buyer
        self.customer_payments: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self.nvidia_flows_to: dict[int, float] = defaultdict(float)  # equity, backstop, rent-back money by firm
        self._newest_nvidia = self._newest("nvidia")
        self._newest_rival = self._newest("rival")
        for c in (self.nvidia, self.rival):
            c.open_month()
        for l in self.lenders:
            l.new_month()
        for h in self.hyperscalers:
            h.capex = 0.0
        for nc in self.neoclouds:
            nc.commission_power()
        self._refresh_capacity()  # GPUs whose installation is done serve compute from this month
        self.rival.capacity = self.nvidia.capacity * self.rival_share() / max(1e-9, 1.0 - self.rival_share())

    # ---- 2 ------------------------------------------------------------------------------------------
    def ai_revenue_now(self) -> float:
        """End-user AI revenue, US$bn per month: logistic adoption (slowing after
        ``demand.slowdown_year`` by ``demand.slowdown_factor``) scaled to the January 2023 level, with a
        persistent AR(1) shock in logs."""
        p = self.p
        rate = p["demand.adoption_rate"]
        t = year_of(self.month)
        t_slow = p["demand.slowdown_year"]
        eff_t = t if t <= t_slow else t_slow + (t - t_slow) * p["demand.slowdown_factor"]
        mid = p["demand.adoption_midpoint"]
        logistic = 1.0 / (1.0 + math.exp(-rate * (eff_t - mid)))
        logistic0 = 1.0 / (1.0 + math.exp(-rate * (2023.0 - mid)))
        level = p["demand.initial_ai_revenue"] + (p["demand.ai_revenue_max"] - p["demand.initial_ai_revenue"]) * (
            logistic - logistic0) / (1.0 - logistic0)
        self.ai_shock = p["demand.shock_persistence"] * self.ai_shock + p["demand.shock_volatility"] * float(self.rng.standard_normal())
        return level * math.exp(self.ai_shock) / 12.0

    def earn_ai_revenue(self) -> None:
        p = self.p
        total = self.ai_revenue_now()
        labs_total = total * p["demand.lab_share"]
        startups_total = min(total * p["demand.startup_share"] * p["population.scale"], total - labs_total)
        hyperscaler_total = max(0.0, total - labs_total - startups_total)
        live_labs = [l for l in self.labs if l.alive]
        for lab in live_labs:
            lab.earn(labs_total / max(sum(l.weight for l in live_labs), 1e-9))
        self.startups.earn(startups_total if self.startups.n else 0.0)
        weights = sum(h.weight for h in self.hyperscalers)
        for h in self.hyperscalers:
            share = hyperscaler_total * h.weight / weights
            self.ledger.pay(self.ledger.sector("end_users"), h.eid, share, "ai_revenue")
            h.set_budget(share)
        for lab in live_labs:
            lab.set_budget()
        self.startups.set_budgets()

    # ---- 3 ------------------------------------------------------------------------------------------
    def fund_developers(self) -> None:
        led = self.ledger
        for lab in self.labs:
            if not lab.alive:
                continue
            lab.value_firm()
            size = lab.wants_round()
            if size <= 0:
                continue
            lab.last_round = self.month
            nvidia_part = min(0.1 * size, self.nvidia.strategic_budget)
            vc_part = size - nvidia_part
            led.pay(led.sector("venture_and_public_equity"), lab.eid, vc_part, "funding_round")
            if nvidia_part > 1e-6 and lab.valuation > 0:
                self.invest(self.nvidia, lab, nvidia_part, lab.valuation)
            self.log("equity_raise", [lab.name] + (["Nvidia"] if nvidia_part > 1e-6 else []), size)
        self.startups.raise_rounds()

    def invest(self, investor: Chipmaker, issuer, amount: float, pre_money: float) -> None:
        """``investor`` buys new shares of ``issuer`` for ``amount`` at ``pre_money`` valuation."""
        post = pre_money + amount
        share = amount / post
        for s in self.stakes:
            if s.issuer == issuer.eid:
                s.share *= pre_money / post
        stake = next((s for s in self.stakes if s.issuer == issuer.eid and s.holder == investor.eid), None)
        if stake is None:
            stake = EquityStake(investor.eid, issuer.eid, 0.0, 0.0, 0.0, self.month)
            self.stakes.append(stake)
        stake.share += share
        stake.cost += amount
        stake.value += amount
        investor.strategic_budget = max(0.0, investor.strategic_budget - amount)
        investor.invested += amount
        self.ledger.pay(investor.eid, issuer.eid, amount, "equity_investment")
        self.flow["nvidia_investment"] += amount
        self.nvidia_flows_to[issuer.eid] += amount

    # ---- 4 ------------------------------------------------------------------------------------------
    def sign_compute_contracts(self) -> None:
        """Buyers post the term capacity they want; providers offer; demand is filled pro rata to the
        remaining offers; contracts are signed at the contract price and part-prepaid."""
        p = self.p
        term = p["contracts.term_months"]
        path = self.expectations.price_path(self.horizons[:term])
        price = markets.contract_price(path, self.sentiment, p["markets.term_premium"], p["markets.term_premium_sentiment"],
                                       self.fundamental_price, p["markets.contract_price_cap"])
        self.contract_price_now = price
        neo_offers = {nc.eid: nc.contract_offer(price) for nc in self.neoclouds}
        hyp_offers = {h.eid: h.contract_offer() for h in self.hyperscalers}

        requests = [(h, h.overflow_demand(), False) for h in self.hyperscalers]
        for k in (self.rng.permutation(len(self.labs)) if self.labs else []):
            lab = self.labs[k]
            if lab.alive:
                requests.append((lab, lab.contract_demand(price), True))
        for buyer, want, from_hyperscalers_too in requests:
            if want < 100:
                continue
            sources = [neo_offers, hyp_offers] if from_hyperscalers_too else [neo_offers]
            # a buyer contracts with its few largest willing providers, pro rata to their offers
            offers = sorted(((v, k, src) for src in sources for k, v in src.items() if v > 0 and k != buyer.eid),
                            key=lambda o: (-o[0], o[1]))[:MAX_PROVIDERS_PER_DEAL]
            total = sum(v for v, _, _ in offers)
            if total <= 0:
                continue
            take = 1.0 if want >= total else want / total
            grade = "ig" if buyer.grade == "ig" else "non_ig"
            kind = "overflow" if isinstance(buyer, Hyperscaler) else "compute"
            for v, k, src in offers:
                if v * take >= 50 and self._sign_with_lead(buyer, k, v * take, price, grade, kind, src is neo_offers):
                    src[k] -= v * take
        self._sign_startup_contracts(price, neo_offers)
        self._refresh_books()

    def _sign_with_lead(self, buyer, provider_eid: int, qty: float, price: float, grade: str, kind: str,
                        from_neocloud: bool) -> bool:
        """A neocloud sells what it has idle from this month and the rest forward, starting
        ``contracts.lead_months`` from now (the time to build the capacity): it orders the GPUs ahead of the
        start and is paid once the capacity is live. Hyperscalers serve from their fleets at once."""
        lead = self.p["contracts.lead_months"]
        if not from_neocloud or lead == 0:
            return self.sign_contract(buyer, provider_eid, qty, price, grade, kind) is not None
        idle = max(0.0, self.capacity_by_owner[provider_eid] - self.signed_by_provider[provider_eid])
        now = min(qty, idle)
        signed = False
        if now >= 50:
            signed = self.sign_contract(buyer, provider_eid, now, price, grade, kind) is not None
            self.signed_by_provider[provider_eid] += now  # this month's later deals see it taken (rebuilt by _refresh_books)
        else:
            now = 0.0
        if qty - now >= 50:
            signed |= self.sign_contract(buyer, provider_eid, qty - now, price, grade, kind, start=self.month + lead) is not None
        return signed

    def contract_term(self) -> int:
        p = self.p
        spread = p["contracts.term_spread"]
        return max(1, p["contracts.term_months"] + (int(self.rng.integers(-spread, spread + 1)) if spread else 0))

    def contract_terms(self, k: int) -> np.ndarray:
        """``k`` terms drawn as by ``k`` calls of :meth:`contract_term` (the generator yields the same numbers
        for one draw of ``k`` integers as for ``k`` draws of one)."""
        p = self.p
        spread = p["contracts.term_spread"]
        if not spread:
            return np.full(k, p["contracts.term_months"])
        return np.maximum(1, p["contracts.term_months"] + self.rng.integers(-spread, spread + 1, size=k))

    def sign_contract(self, customer, provider_eid: int, qty: float, price: float, grade: str, kind: str,
                      term: int | None = None, prepay_share: float | None = None, start: int | None = None) -> ComputeContract | None:
        """Sign a take-or-pay contract for ``term`` months from ``start`` (this month unless it is a forward
        contract for capacity still to be built); the prepayment is paid at signing."""
        p = self.p
        term = term or self.contract_term()
        start = self.month if start is None else start
        prepay_share = p["contracts.prepay_share"] if prepay_share is None else prepay_share
        c = ComputeContract(self.new_id(), customer.eid, provider_eid, qty, price, start, start + term, grade, kind)
        prepay = prepay_share * c.monthly_value() * term
        cash = self.ledger.cash[customer.eid]
        if prepay > 0.5 * max(cash, 0.0):  # cannot afford the prepayment: smaller contract
            shrink = 0.5 * max(cash, 0.0) / prepay
            if shrink * qty < 50:
                return None
            c.qty *= shrink
            prepay *= shrink
        self.ledger.pay(customer.eid, provider_eid, prepay, "contract_prepayment")
        c.prepaid = prepay
        provider = self.entity[provider_eid]
        if isinstance(provider, Neocloud) and provider.loan_ids:
            open_loans = [i for i in provider.loan_ids if self.loans[i].status != "default"]
            c.loan = open_loans[-1] if open_loans else -1
        self.contracts.append(c)
        return c

    def _sign_startup_contracts(self, price: float, offers: dict[int, float]) -> None:
        s = self.startups
        if s.n == 0:
            return
        idx, want = s.contract_seekers(price)
        pool = {k: v for k, v in offers.items() if v > 0}
        total_offer = sum(pool.values())
        if len(idx) == 0 or total_offer <= 0 or want.sum() <= 0:
            return
        fill = min(1.0, total_offer / want.sum())
        providers = np.array(list(pool.keys()))
        weights = np.array(list(pool.values()))
        chosen = providers[self.rng.choice(len(providers), size=len(idx), p=weights / weights.sum())]
        term = self.contract_terms(len(idx))
        qty = want * fill
        monthly = qty * price * H
        prepay = self.p["contracts.prepay_share"] * monthly * term
        ok = (prepay <= 0.5 * np.maximum(s.cash[idx], 0.0)) & (qty > 1.0)
        idx, chosen, term, qty, prepay = idx[ok], chosen[ok], term[ok], qty[ok], prepay[ok]
        s.provider[idx] = chosen
        s.qty[idx] = qty
        s.price[idx] = price
        s.end[idx] = self.month + term
        s.prepaid[idx] = prepay
        s.release[idx] = prepay / term
        s.cash[idx] -= prepay
        for prov in np.unique(chosen):
            self.ledger.pay(s.eid, int(prov), float(prepay[chosen == prov].sum()), "contract_prepayment")

    # ---- 5 ------------------------------------------------------------------------------------------
    def trade_chips(self) -> None:
        """The primary chip market. Buyers plan and place orders (in H100e, a deposit paid with each) net of
        what they already have on order; each chipmaker then allocates this month's output among the orders
        due (placed at least ``nvidia.order_lead_months`` ago), pro rata to what is still owed (or with the
        investee preference), and ships its current generation mix, paid at the delivery month's list price
        less the deposit. Output that no order claims is not produced."""
        self._mark_secondary()
        self._tally_order_book()
        for nc in self.neoclouds:
            nc.plan_orders()
        for h in self.hyperscalers:
            h.plan_orders()
        gens = self.gens
        for nc in self.neoclouds:
            if nc.planned_units > 0:
                self.place_order(nc.eid, self.nvidia, nc.planned_units * gens[nc.wanted_gen].perf)
        for h in self.hyperscalers:
            for chip in (self.nvidia, self.rival):
                want = sum(u * gens[g].perf for g, u in h.planned.items() if gens[g].vendor == chip.vendor)
                if want > 0:
                    self.place_order(h.eid, chip, want)
        lead = self.p["nvidia.order_lead_months"]
        invested = {s.issuer for s in self.stakes if s.holder == self.nvidia.eid}
        for chip in (self.nvidia, self.rival):
            supply = chip.supply(self.month)
            book = self.order_book[chip.eid]
            chip.backlog_h100e = sum(o.h100e for o in book)
            due: dict[int, list[ChipOrder]] = {}  # each buyer's orders due, oldest first
            for o in book:
                if o.month + lead <= self.month and o.h100e > 0:
                    due.setdefault(o.buyer, []).append(o)
            buyers = list(due)
            requested = np.array([sum(o.h100e for o in due[b]) for b in buyers])
            supply_h100e = sum(units * gens[g].perf for g, units in supply.items())
            chip.requested = float(requested.sum()) if buyers else 0.0
            chip.supply_h100e = supply_h100e
            if not buyers or not supply:
                continue
            pref = self.p["nvidia.investee_preference"] if chip is self.nvidia else 0.0
            weights = np.array([1.0 + pref * (b in invested) for b in buyers])
            alloc = markets.allocate_chips(requested, weights, supply_h100e)
            mix = {g: units * gens[g].perf / supply_h100e for g, units in supply.items()}
            shipped = 0.0
            for b, got in zip(buyers, alloc):
                if got > 1e-9:
                    shipped += self.deliver(due[b], chip, float(got), mix)
            self.order_book[chip.eid] = [o for o in book if o.h100e > 1e-9]
            self.flow[f"{chip.vendor}_allocation_ratio"] = float(shipped / max(chip.requested, 1e-9))
        self._refresh_capacity()

    def _tally_order_book(self) -> None:
        """What each buyer has on order (H100e, in all and by chipmaker) and its deposits, recounted from the
        order book each month and kept current by every order, delivery and cancellation."""
        self.on_order: dict[int, float] = defaultdict(float)
        self.on_order_from: dict[tuple[int, int], float] = defaultdict(float)
        self.deposits_paid: dict[int, float] = defaultdict(float)
        for book in self.order_book.values():
            for o in book:
                self._order_changed(o, o.h100e, o.deposit)

    def _order_changed(self, order: ChipOrder, h100e: float, deposit: float) -> None:
        self.on_order[order.buyer] += h100e
        self.on_order_from[(order.buyer, order.seller)] += h100e
        self.deposits_paid[order.buyer] += deposit

    def order_value(self, chip: Chipmaker, h100e: float) -> float:
        """US$bn that ``h100e`` of ``chip``'s output costs at today's list price of its newest generation."""
        g = self.newest_nvidia_gen if chip is self.nvidia else self.newest_rival_gen
        return h100e / self.gens[g].perf * chip.list_price(g) / BN if g >= 0 else 0.0

    def place_order(self, buyer: int, chip: Chipmaker, h100e: float, deposit_share: float | None = None,
                    month: int | None = None) -> ChipOrder:
        """An order for ``h100e`` of ``chip``'s output placed in ``month`` (default: this month), with a deposit
        of ``nvidia.deposit_share`` of its value at today's list price (a hyperscaler issues bonds for it if need be)."""
        share = self.p["nvidia.deposit_share"] if deposit_share is None else deposit_share
        value = self.order_value(chip, h100e)
        deposit = share * value
        buyer_agent = self.entity[buyer]
        if deposit > 0:
            if isinstance(buyer_agent, Hyperscaler):
                buyer_agent.ensure_cash(deposit)
            deposit = min(deposit, max(0.0, self.ledger.cash[buyer]))
            self.ledger.pay(buyer, chip.eid, deposit, "chip_deposit")
        order = ChipOrder(self.new_id(), buyer, chip.eid, h100e, self.month if month is None else month, deposit)
        self.order_book[chip.eid].append(order)
        self._order_changed(order, h100e, deposit)
        self.flow["chip_orders"] += value
        return order

    def deliver(self, orders: list[ChipOrder], chip: Chipmaker, h100e: float, mix: dict[int, float]) -> float:
        """Ship one buyer ``h100e`` of its due ``orders`` (oldest first) as the chipmaker's generation mix; the
        buyer pays what it can (a neocloud with loan draws, its deposits and cash). The part it cannot pay for is
        cancelled and that share of its deposits forfeited to the chipmaker; an order filled with deposit to
        spare (prices per H100e fall) gets the rest back. A buyer takes the same share of every generation's lot.
        Returns the H100e shipped."""
        buyer_id = orders[0].buyer
        buyer = self.entity[buyer_id]
        lots = [(g, h100e * share / self.gens[g].perf, chip.list_price(g)) for g, share in mix.items()
                if h100e * share / self.gens[g].perf > 1e-6]  # (generation, GPUs, list price)
        h100e = sum(units * self.gens[g].perf for g, units, _ in lots)
        value = sum(units * price for _, units, price in lots) / BN
        if h100e <= 0:
            return 0.0
        deposit, left, filled = 0.0, h100e, []
        for o in orders:
            if left <= 1e-12:
                break
            x = min(o.h100e, left)
            d = min(o.apply_deposit(x), value * x / h100e)  # never more than the GPUs it pays for
            o.h100e -= x
            o.deposit -= d
            self._order_changed(o, -x, -d)
            deposit += d
            left -= x
            filled.append(o)
        taken = buyer.take_delivery(chip, [(g, units, price, deposit * units * price / BN / value if value > 0 else 0.0)
                                           for g, units, price in lots])  # the deposit applied pro rata to value
        shipped, applied = taken * h100e, taken * deposit
        if shipped < h100e * (1.0 - 1e-9):
            self.cancel_order(filled[-1], chip, h100e - shipped, forfeit=deposit - applied, reason="unpaid_allocation")
        for o in filled:
            if o.h100e <= 1e-9 and o.deposit > 0:
                self.ledger.pay(chip.eid, buyer_id, o.deposit, "chip_deposit")
                self._order_changed(o, 0.0, -o.deposit)
                o.deposit = 0.0
        return shipped

    def cancel_order(self, order: ChipOrder, chip: Chipmaker, h100e: float, forfeit: float | None = None,
                     reason: str = "buyer_default") -> None:
        """Cancel ``h100e`` of an order; the buyer forfeits the deposit that goes with it (by default its share
        of what is still open), booked as a loss to the buyer and income to the chipmaker."""
        if forfeit is None:
            forfeit = order.apply_deposit(h100e)
            h100e = min(h100e, order.h100e)
            order.deposit -= forfeit
            order.h100e -= h100e
            self._order_changed(order, -h100e, -forfeit)
        if forfeit > 0:
            self.ledger.book(order.buyer, -forfeit, "forfeited_deposit")
            self.ledger.book(chip.eid, forfeit, "forfeited_deposit")
        self.flow["chip_orders_cancelled"] += h100e
        self.log("chip_order_cancelled", [self.entity[order.buyer].name, chip.name], forfeit, units=h100e, detail=reason)

    def seed_order_book(self) -> None:
        """The backlog at the start: ``nvidia.order_lead_months`` months of each chipmaker's output on order,
        placed before January 2023 (without deposits), split among its buyers in proportion to their fleets
        of its chips (the rival's among the hyperscalers)."""
        lead = self.p["nvidia.order_lead_months"]
        for chip in (self.nvidia, self.rival):
            buyers = [h.eid for h in self.hyperscalers] + ([nc.eid for nc in self.neoclouds] if chip is self.nvidia else [])
            weights = np.array([self.capacity_by_owner[b] for b in buyers]) if chip is self.nvidia else \
                np.array([h.weight for h in self.hyperscalers])
            if not buyers or weights.sum() <= 0:
                continue
            supply = sum(units * self.gens[g].perf for g, units in chip.supply(0).items())
            for k in range(lead, 0, -1):
                for b, w in zip(buyers, weights / weights.sum()):
                    if w * supply > 1e-6:
                        self.place_order(b, chip, w * supply, deposit_share=0.0, month=-k)
        self.flow = defaultdict(float)  # pre-history orders are not this month's

    def on_order_cost(self, buyer: int) -> float:
        """Value of what ``buyer`` has on order at today's list prices, less its deposits, US$bn."""
        nvidia, rival = self.nvidia, self.rival
        return (self.order_value(nvidia, self.on_order_from.get((buyer, nvidia.eid), 0.0))
                + self.order_value(rival, self.on_order_from.get((buyer, rival.eid), 0.0))) - self.deposits_paid[buyer]

    def buy_gpus(self, owner: int, chip: Chipmaker, g: int, units: float, unit_price: float, pledged: int = -1,
                 prepaid: float = 0.0) -> None:
        """A delivery: the buyer pays the list price less ``prepaid`` (its deposit, US$bn, now applied: an asset
        of the buyer and a liability of the chipmaker turned into GPUs and revenue)."""
        if units <= 0:
            return
        cost = units * unit_price / BN
        led = self.ledger
        prepaid = min(prepaid, cost)
        led.pay(owner, chip.eid, cost - prepaid, "chip_sale")
        led.book(chip.eid, prepaid, "chip_sale")
        cogs = units * chip.unit_cost(g) / BN
        led.pay(chip.eid, led.sector("foundry_and_suppliers"), cogs, "cost_of_goods")
        self.fleet.add(owner, g, self.month, units, cost, pledged, live_from=self.month + self.p["technology.deploy_months"])
        self.produced += units
        self._installed_h100e += units * self.perf[g]
        chip.revenue += cost
        chip.cogs += cogs
        self.flow["gpu_purchases"] += cost
        self.flow["ai_capex"] += cost + self.datacentre_capex(g, units)
        if chip is self.nvidia:
            self.chip_sales[owner] += cost

    # ---- 6 ------------------------------------------------------------------------------------------
    def clear_compute_market(self) -> None:
        p, led, fleet = self.p, self.ledger, self.fleet
        n = fleet.n
        owner, gen, count = fleet.view("owner"), fleet.view("gen"), fleet.view("count")
        h100e = count * self.perf[gen] * self.live_rows()  # GPUs still being installed serve nothing
        # contracts are served first, by each provider's most efficient GPUs: rows by owner, then by running cost
        # per H100e (ties in their fleet order), sorted on one small-integer key (the rank of the generation's cost)
        committed = self.contracted_by_provider
        cost_rank = np.unique(self.running_cost / self.perf, return_inverse=True)[1]
        key = owner * len(cost_rank) + cost_rank[gen]
        order = np.argsort(key.astype(np.uint16) if n and key.max() < 2**16 else key, kind="stable")  # 16 bits: radix sort
        cap_sorted = h100e[order]
        own_sorted = owner[order]
        cum = np.cumsum(cap_sorted)
        group_start_cum = np.zeros(n)
        if n:
            starts = np.concatenate(([0], np.flatnonzero(np.diff(own_sorted)) + 1))  # each owner's first row
            before = np.concatenate(([0.0], cum[:-1]))
            group_offsets = before[starts]
            is_start = np.zeros(n, dtype=bool)
            is_start[starts] = True
            group_id = np.cumsum(is_start) - 1
            group_start_cum = group_offsets[group_id]
        within = cum - group_start_cum
        need = committed[own_sorted] if n else np.zeros(0)
        used_sorted = np.clip(need - (within - cap_sorted), 0.0, cap_sorted)
        used_contract = np.zeros(n)
        used_contract[order] = used_sorted
        free = h100e - used_contract
        shortfall = np.maximum(committed - np.bincount(owner, weights=h100e, minlength=len(committed)), 0.0)
        # spot supply by generation, in two tiers: other owners offer uncommitted capacity at its running cost;
        # hyperscalers rent out theirs only at or above their reservation price (below it they keep the
        # capacity for internal training and R&D, because every hour rented out must be replaced at full cost)
        n_gen = len(self.gens)
        is_hyperscaler = np.zeros(len(self.ledger.names), dtype=bool)
        is_hyperscaler[[h.eid for h in self.hyperscalers]] = True
        hyp_row = is_hyperscaler[owner]
        gen_cost = self.running_cost / self.perf
        reservation = p["hyperscalers.reservation_markup"] * self.fundamental_price
        available = np.concatenate([np.bincount(gen, weights=free * ~hyp_row, minlength=n_gen),
                                    np.bincount(gen, weights=free * hyp_row, minlength=n_gen)])
        tier_cost = np.concatenate([gen_cost, np.maximum(gen_cost, reservation)])
        # buyers
        labs = [l for l in self.labs if l.alive]
        s = self.startups
        budgets = np.concatenate([[l.budget for l in labs], [h.budget for h in self.hyperscalers], s.budget])
        contracted = np.concatenate([[self.contracted_by_customer.get(l.eid, 0.0) for l in labs],
                                     [self.contracted_by_customer.get(h.eid, 0.0) for h in self.hyperscalers],
                                     s.contracted()])
        fixed = float(shortfall.sum())
        el, ref = p["demand.price_elasticity"], p["demand.reference_price"]
        at_reference = markets.reference_demand(budgets, ref)

        curve = markets.SpotDemandCurve(at_reference, contracted, el, ref)

        def excess(price):
            """Excess demand at ``price``; where it is so close to zero that rounding could decide its sign,
            summed buyer by buyer (so the search takes the same path as with that sum throughout)."""
            supply = markets.spot_supply(price, available, tier_cost)
            demand, error = curve.total(price)
            if abs(demand + fixed - supply) > error:
                return demand + fixed - supply
            return markets.spot_demand(price, budgets, contracted, el, ref, at_reference).sum() + fixed - supply

        lo, hi = math.log(0.01), math.log(500.0)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if excess(math.exp(mid)) > 0:
                lo = mid
            else:
                hi = mid
        self.clearing_price = math.exp(0.5 * (lo + hi))
        price = markets.posted_price(self.spot_price, self.clearing_price, p["markets.price_adjustment"])
        self.spot_price = price
        demand_each = markets.spot_demand(price, budgets, contracted, el, ref, at_reference)
        demand = demand_each.sum() + fixed
        supply = markets.spot_supply(price, available, tier_cost)
        traded = min(demand, supply)
        fill_buyers = traded / demand if demand > 0 else 0.0
        tier_fill = markets.fill_merit_order(traded, available, tier_cost, price)
        sold = free * np.where(hyp_row, tier_fill[n_gen + gen], tier_fill[gen])
        internal = free * hyp_row * (self.running_cost[gen] / self.perf[gen] <= reservation) - sold * hyp_row
        active = used_contract + sold + np.maximum(internal, 0.0)  # hyperscalers run withheld capacity internally
        self.utilisation = float(active.sum() / max(h100e.sum(), 1e-9))
        self.utilisation_by_gen = np.divide(np.bincount(gen, weights=active, minlength=n_gen),
                                            np.maximum(np.bincount(gen, weights=h100e, minlength=n_gen), 1e-9))
        self.expected_utilisation = 0.8 * self.expected_utilisation + 0.2 * min(0.95, max(0.3, self.utilisation))
        self.cohort_active = active
        # spot payments through the exchange
        bought = demand_each * fill_buyers
        spend = bought * price * H
        n_l, n_h = len(labs), len(self.hyperscalers)
        for k, lab in enumerate(labs):
            amount = min(spend[k], max(led.cash[lab.eid], 0.0))
            led.pay(lab.eid, self.exchange, amount, "compute_spot")
            spend[k] = amount
        for k, h in enumerate(self.hyperscalers):
            h.ensure_cash(spend[n_l + k])
            led.pay(h.eid, self.exchange, spend[n_l + k], "compute_spot")
        s_spend = np.minimum(spend[n_l + n_h:], np.maximum(s.cash, 0.0))
        s.cash -= s_spend
        led.pay(s.eid, self.exchange, float(s_spend.sum()), "compute_spot")
        for eid, short in enumerate(shortfall):
            if short > 0:
                amount = short * fill_buyers * price * H
                led.pay(eid, self.exchange, amount, "compute_cover")
        received = led.cash[self.exchange]
        seller_units = np.bincount(owner, weights=sold, minlength=len(led.names))
        total_units = seller_units.sum()
        if total_units > 0:
            for eid in np.flatnonzero(seller_units > 0):
                amount = received * seller_units[eid] / total_units
                led.pay(self.exchange, int(eid), amount, "compute_spot")
                self.customer_payments[int(eid)][-1] += amount
        leftover = led.cash[self.exchange]
        if abs(leftover) > 1e-9:  # no seller (all capacity committed): refund buyers pro rata is not needed,
            raise AccountingError(f"step {self.month} ({self.date}): spot exchange left with {leftover:.9f} US$bn")
        self._pay_contracts()
        self._pay_backstops()
        self._pay_running_costs(owner, gen, active, count)

    def _pay_contracts(self) -> None:
        """Each take-or-pay contract's monthly value is due, less the prepayment released this month. A customer
        that can pay all its contracts pays them in one transfer per provider; one that cannot pays them in
        turn and fails on the first it cannot meet."""
        led = self.ledger
        active = self.active_contracts.of(self.contracts)
        live = active.live
        if live:
            customer, provider, qty, price, start, end, kind = active.columns(
                "customer", "provider", "qty", "price", "start", "end", "kind")
            prepaid, = active.columns("prepaid")
            serving = start <= self.month  # a forward contract is neither served nor paid before it starts
            release = np.where(serving, prepaid / np.maximum(1, end - self.month), 0.0)
            due = np.where(serving, np.maximum(0.0, qty * price * H - release), 0.0)
            n = len(led.names)
            total_due = np.bincount(customer, weights=due, minlength=n)
            short = []
            for eid in np.flatnonzero(np.bincount(customer[serving], minlength=n)).tolist():  # customers being served
                agent = self.entity.get(eid)
                if isinstance(agent, Hyperscaler):
                    agent.ensure_cash(float(total_due[eid]))
                if led.cash[eid] < total_due[eid]:
                    short.append(eid)
            paying = serving & ~np.isin(customer, short) if short else serving
            releasing = np.flatnonzero(paying & (release != 0.0))
            for i, r in zip(releasing.tolist(), release[releasing].tolist()):
                live[i].prepaid -= r
            # one transfer per customer, provider and kind of contract (in increasing order of the key)
            rent_back = kind == "rent_back"
            key = (customer * n + provider) * 2 + rent_back
            keys = np.flatnonzero(np.bincount(key[paying]))
            paid = np.bincount(key[paying], weights=due[paying])[keys].tolist()
            released = np.bincount(key[paying], weights=release[paying])[keys].tolist()
            for k, amount, rel in zip(keys.tolist(), paid, released):
                pair, is_rent_back = divmod(k, 2)
                self._settle_contract_payment(pair // n, pair % n, "rent_back" if is_rent_back else "compute_contract",
                                              amount, rel)
            for eid in short:  # short of cash: contract by contract, failing on the first it cannot meet
                agent = self.entity.get(eid)
                for i in np.flatnonzero(serving & (customer == eid)).tolist():
                    c = live[i]
                    if not c.active:
                        continue
                    paid_now = min(float(due[i]), max(led.cash[eid], 0.0))
                    c.prepaid -= float(release[i])
                    self._settle_contract_payment(eid, c.provider, c.payment_kind,
                                                  paid_now, float(release[i]))
                    if due[i] - paid_now > 1e-9:
                        self.fail_customer(agent)
        s = self.startups
        if s.n:
            has = s.alive & (s.provider >= 0)
            value = np.where(has, s.qty * s.price * H, 0.0)
            due = np.where(has, np.maximum(value - s.release, 0.0), 0.0)
            paid = np.minimum(due, np.maximum(s.cash, 0.0))
            s.cash -= paid
            release = np.where(has, s.release, 0.0)
            s.prepaid -= release
            provs = np.where(has, s.provider, 0)
            by_prov = np.bincount(provs, weights=paid, minlength=len(led.names))
            rel_prov = np.bincount(provs, weights=release, minlength=len(led.names))
            led.book(s.eid, -float(release.sum()), "compute_contract")
            for eid in np.flatnonzero((by_prov > 0) | (rel_prov > 0)):
                led.pay(s.eid, int(eid), float(by_prov[eid]), "compute_contract")
                led.book(int(eid), float(rel_prov[eid]), "compute_contract")
                self.customer_payments[int(eid)][s.eid] += float(by_prov[eid] + rel_prov[eid])
            failing = has & (due - paid > 1e-12)
            if failing.any():
                self.fail_startups(np.flatnonzero(failing))

    def _settle_contract_payment(self, customer: int, provider: int, kind: str, paid: float, release: float) -> None:
        led = self.ledger
        led.pay(customer, provider, paid, kind)
        led.book(customer, -release, kind)
        led.book(provider, release, kind)
        self.customer_payments[provider][customer] += paid + release
        if customer == self.nvidia.eid:
            self.nvidia_flows_to[provider] += paid + release
            self.flow["rent_back_paid"] += paid + release

    def _pay_backstops(self) -> None:
        """Nvidia buys its beneficiary's unsold capacity at the spot price, up to the monthly cap."""
        led = self.ledger
        for b in self.backstops:
            if not (b.start <= self.month < b.end) or b.paid >= b.cap:
                continue
            rows = self.fleet.rows_of(b.beneficiary)
            live = self.live_rows()[rows]
            idle = float(((self.fleet.count[rows] * self.perf[self.fleet.gen[rows]] - self.cohort_active[rows]) * live).sum())
            value = min(max(idle, 0.0) * self.spot_price * H, b.monthly_cap(self.month), max(led.cash[b.guarantor], 0.0))
            if value > 1e-9:
                led.pay(b.guarantor, b.beneficiary, value, "backstop")
                b.paid += value
                self.flow["backstop_paid"] += value
                self.nvidia_flows_to[b.beneficiary] += value
                self.customer_payments[b.beneficiary][b.guarantor] += value
                self.log("backstop_draw", [self.entity[b.guarantor].name, self.entity[b.beneficiary].name], value)

    def _pay_running_costs(self, owner, gen, active, count) -> None:
        """Power and operations for active GPUs; data-centre leases (neoclouds: leased MW, others: per GPU)."""
        led = self.ledger
        util_sector = led.sector("utilities_and_data_centres")
        running = np.bincount(owner, weights=active / self.perf[gen] * self.running_cost[gen] * H, minlength=len(led.names))
        facility = np.bincount(owner, weights=count * self.facility_cost[gen] * H, minlength=len(led.names))
        neo = {nc.eid for nc in self.neoclouds}
        for eid in np.flatnonzero(running > 0):
            led.pay(int(eid), util_sector, float(running[eid]), "power_and_operations")
        for nc in self.neoclouds:
            lease = nc.power_mw * self.p["neoclouds.power_cost"] * 1e-3
            led.pay(nc.eid, util_sector, lease, "data_centre_lease")
            overhead = self.p["neoclouds.overhead"] * nc.size
            led.pay(nc.eid, led.sector("staff_and_services"), overhead, "operating_expense")
        for eid in np.flatnonzero(facility > 0):
            if int(eid) not in neo:
                led.pay(int(eid), util_sector, float(facility[eid]), "data_centre_lease")

    # ---- 7 ------------------------------------------------------------------------------------------
    def service_debt(self) -> None:
        for nc in list(self.neoclouds):
            nc.service_debt()

    def loan_changed(self, loan: Loan) -> None:
        """A facility's principal or status changed: its lender's cached exposure to the borrower is stale."""
        self.exposures.pop((loan.lender, loan.borrower), None)

    def pay_principal(self, loan: Loan, amount: float) -> None:
        if amount <= 0:
            return
        amount = min(amount, loan.principal)
        self.ledger.pay(loan.borrower, loan.lender, amount, "principal")
        loan.principal -= amount
        self.loan_changed(loan)

    def capitalise_interest(self, loan: Loan, amount: float) -> None:
        """Unpaid interest is added to the loan: an expense of the borrower, income of the lender."""
        if amount <= 0:
            return
        loan.principal += amount
        self.loan_changed(loan)
        self.ledger.book(loan.borrower, -amount, "interest")
        self.ledger.book(loan.lender, amount, "interest")

    def open_loan(self, lender: Lender, borrower: Neocloud, covenant: float) -> Loan:
        p = self.p
        loan = Loan(self.new_id(), lender.eid, borrower.eid, self.month, self.month + p["lenders.maturity_months"],
                    self.month + 24, covenant_ltv=covenant)
        self.loans[loan.id] = loan
        lender.loans.append(loan)
        borrower.loan_ids.append(loan.id)
        for c in self.contracts:  # existing unassigned contracts become collateral of the new facility
            if c.active and c.provider == borrower.eid and c.loan < 0:
                c.loan = loan.id
        return loan

    # ---- 8 ------------------------------------------------------------------------------------------
    def _mark_secondary(self) -> None:
        p = self.p
        life = p["technology.physical_life_months"]
        remaining = np.maximum(0, life - (self.month - self.release))
        path = self.expectations.price_path(self.horizons[:life])
        newest = self.newest_nvidia_gen
        new_price_per_h100e = self.nvidia.list_price(newest) / self.gens[newest].perf
        replacement = self.perf * new_price_per_h100e
        unreleased = self.release > self.month
        appraisal = markets.appraise(path, self.perf, self.running_cost + self.facility_cost, remaining,
                                     self.expected_utilisation, self.sofr + p["lenders.spread_ig"], replacement)
        appraisal[unreleased] = 0.0
        self.appraisal_per_gpu = appraisal
        self.secondary.mark(appraisal)

    def mark_loan(self, loan: Loan) -> None:
        rows = np.flatnonzero(self.fleet.view("pledged") == loan.id)
        gpu_value = float((self.fleet.count[rows] * self.secondary.prices[self.fleet.gen[rows]]).sum()) / BN
        contracts = sum(c.remaining_value(self.month) for c in self.contracts if c.active and c.loan == loan.id)
        loan.gpu_value = gpu_value
        loan.collateral_value = gpu_value + 0.25 * contracts

    def mark_all_loans(self) -> None:
        """Every open loan's collateral at market: its pledged GPUs plus a quarter of the remaining value of the
        contracts assigned to it."""
        fleet, month = self.fleet, self.month
        open_loans = [loan for loan in self.loans.values() if loan.status not in ("default", "repaid")]
        ids = np.fromiter((loan.id for loan in open_loans), dtype=np.int64, count=len(open_loans))  # increasing (issue order)

        def sum_by_loan(loan_ids: np.ndarray, values: np.ndarray) -> list[float]:
            """``values`` summed by the open loan they belong to (in the order given), one total per open loan."""
            k = np.minimum(np.searchsorted(ids, loan_ids), max(len(ids) - 1, 0))
            mine = ids[k] == loan_ids if len(ids) else np.zeros(len(loan_ids), dtype=bool)
            return np.bincount(k[mine], weights=values[mine], minlength=len(ids)).tolist()

        pledged = fleet.view("pledged")
        mask = pledged >= 0
        value = fleet.view("count")[mask] * self.secondary.prices[fleet.view("gen")[mask]] / BN
        gpus_by_loan = sum_by_loan(pledged[mask], value)
        active = self.active_contracts.of(self.contracts)
        loan, qty, price, start, end = active.columns("loan", "qty", "price", "start", "end")
        assigned = (loan >= 0) & (end > month)
        remaining = qty[assigned] * price[assigned] * H * (end[assigned] - np.maximum(start[assigned], month))  # remaining value, US$bn
        contracts_by_loan = sum_by_loan(loan[assigned], remaining)
        for loan, gpu_value, contracts in zip(open_loans, gpus_by_loan, contracts_by_loan):
            loan.gpu_value = gpu_value
            loan.collateral_value = gpu_value + 0.25 * contracts

    def open_breach(self, loan: Loan, reason: str, amount: float) -> None:
        """A covenant breach or missed payment: the lender waives it or a cure period starts."""
        if loan.status != "performing" or loan.waived_until >= self.month:
            return
        lender = self.entity[loan.lender]
        borrower = self.entity[loan.borrower]
        if lender.decide_on_breach(loan) == "waive":
            loan.waived_until = self.month + self.p["lenders.waiver_months"]
            loan.waivers += 1
            loan.missed = 0.0  # forbearance: arrears are capitalised
            self.flow["waivers"] += 1
            self.log("covenant_waiver", [lender.name, borrower.name], loan.principal, detail=reason)
            return
        loan.status = "breach"
        loan.breach_since = self.month
        self.flow["covenant_breaches"] += 1
        self.log("covenant_breach", [lender.name, borrower.name], loan.principal, detail=f"{reason}; LTV {loan.ltv:.2f}")

    def mark_and_enforce(self) -> None:
        self._mark_secondary()
        for lender in self.lenders:
            lender.liquidate()
        for _round in range(4):
            self.mark_all_loans()
            marks_current = True  # until a cure or a default sells or seizes collateral
            defaults_before = self.flow["defaults_count"]
            breaches_before = self.flow["covenant_breaches"]
            for loan in list(self.loans.values()):
                if loan.status == "performing" and loan.waived_until < self.month and loan.ltv > loan.covenant_ltv:
                    self.open_breach(loan, "LTV covenant", loan.principal)
            for nc in list(self.neoclouds):
                for lid in list(nc.loan_ids):
                    loan = self.loans[lid]
                    if loan.status != "breach" or not nc.alive or loan.cure_tried == self.month:
                        continue
                    loan.cure_tried = self.month
                    marks_current = False
                    if nc.try_to_cure(loan):
                        loan.status = "performing"
                        self.log("breach_cured", [self.entity[loan.lender].name, nc.name], loan.principal)
                    elif self.month - loan.breach_since >= self.p["lenders.cure_months"]:
                        self.default(nc)
                        break
            if self.flow["defaults_count"] == defaults_before and self.flow["covenant_breaches"] == breaches_before:
                break
        if not marks_current:  # cures and defaults since the last marks sold or seized collateral
            self.mark_all_loans()
        self.secondary.decay_pressure()

    def sell_gpus_for_cash(self, seller: int, rows, amount: float, forced: bool = True) -> float:
        """Sell GPUs from ``rows`` to outside buyers (least efficient first) until ``amount`` US$bn is raised or they
        run out; returns what was raised. ``forced`` sales move the used-GPU price (:meth:`sell_cohort`)."""
        raised = 0.0
        rows = sorted(rows, key=lambda r: self.perf[self.fleet.gen[r]])
        for r in rows:
            if raised >= amount:
                break
            price = self.secondary.prices[self.fleet.gen[r]]
            if price <= 0 or self.fleet.count[r] <= 0:
                continue
            units = min(self.fleet.count[r], (amount - raised) * BN / price)
            raised += self.sell_cohort(seller, r, units, forced=forced)
        return raised

    def sell_cohort(self, seller: int, row: int, units: float, forced: bool) -> float:
        """Sell ``units`` GPUs of a cohort to outside buyers at the used-GPU price; forced sales move it."""
        g = self.fleet.gen[row]
        price = self.secondary.prices[g]
        proceeds = units * price / BN
        book = self.fleet.remove(row, units)
        led = self.ledger
        led.pay(led.sector("used_gpu_buyers"), seller, proceeds, "used_gpu_sale")
        led.book(seller, proceeds - book, "gain_on_gpu_sales")
        self.sold_outside += units
        self._installed_h100e -= units * self.perf[g]
        if forced:
            self.flow["fire_sale_volume"] += proceeds
            self.flow["fire_sale_units"] += units
            self.secondary.absorb_forced_sales(units * self.perf[g], self.installed_h100e())
            self.log("fire_sale", [self.entity[seller].name], proceeds, units=units, detail=self.gens[g].name)
        return proceeds

    def _apply_absolute_priority(self, nc: Neocloud, owed: dict[int, float], recovery: dict[int, float],
                                 unpaid_bills: float, seized_rows: dict[int, list[int]]) -> None:
        """No lender keeps more than it is owed. A lender whose seizure (its pledged GPUs, or the unencumbered ones
        and cash that went to it) is worth more than its claim pays the excess over, in cash: first to the other
        lenders, pro rata to what they are still short, then to the suppliers whose ``unpaid_bills`` (US$bn) they
        absorbed, then to the shareholders of the defaulted firm, pro rata to their stakes (the unheld rest to
        outside equity). The contracts a lender takes over count as worth the prepaid compute it assumes with them
        (their remaining payments against the hours still owed). A lender without the cash sells seized GPUs
        (the least efficient first) to raise it. ``recovery`` is updated in place."""
        led = self.ledger
        surplus = {}
        for k in owed:
            if recovery[k] > owed[k]:
                if led.cash[k] < recovery[k] - owed[k]:  # the owners' surplus, not the lender's claim: not a fire sale
                    self.sell_gpus_for_cash(k, seized_rows.get(k, []), recovery[k] - owed[k] - max(led.cash[k], 0.0),
                                            forced=False)
                surplus[k] = min(recovery[k] - owed[k], max(led.cash[k], 0.0))
        short = {k: owed[k] - recovery[k] for k in owed if recovery[k] < owed[k]}
        total_surplus, total_short = sum(surplus.values()), sum(short.values())
        if total_surplus <= 1e-12:
            return
        to_lenders = min(total_surplus, total_short)
        to_suppliers = min(total_surplus - to_lenders, unpaid_bills)
        to_owners = total_surplus - to_lenders - to_suppliers
        owners = [(st.holder, st.share) for st in self.stakes if st.issuer == nc.eid]
        outside = max(0.0, 1.0 - sum(share for _, share in owners))
        for k, x in surplus.items():
            part = x / total_surplus
            for j, gap in short.items():
                amount = part * to_lenders * gap / total_short
                led.pay(k, j, amount, "recovery")
                recovery[j] += amount
            led.pay(k, led.sector("utilities_and_data_centres"), part * to_suppliers, "recovery")
            for holder, share in owners:
                led.pay(k, holder, part * to_owners * share, "recovery")
            led.pay(k, led.sector("venture_and_public_equity"), part * to_owners * outside, "recovery")
            recovery[k] -= x
        if to_owners > 1e-9:
            self.log("default_surplus", [nc.name] + [self.entity[h].name for h, _ in owners], to_owners)

    def installed_h100e(self) -> float:
        """The installed base in H100e (all owners): a running total (the ledger check recounts the GPUs)."""
        return self._installed_h100e

    def default(self, nc: Neocloud) -> None:
        """Default: lenders seize the GPUs (pledged ones by their own lender, the rest and any cash pro rata
        to principal) and the contracts; shareholders are wiped out; the firm exits. Seized GPUs serving
        assigned contracts are held and leased out, the rest sold over ``lenders.liquidation_months``."""
        led, fleet = self.ledger, self.fleet
        loans = [self.loans[i] for i in nc.loan_ids if self.loans[i].status not in ("default", "repaid") and self.loans[i].principal > 0]
        principal = sum(l.principal for l in loans)
        if not loans:  # an unlevered firm out of cash: suppliers absorb the hole, GPUs are sold
            lenders_share = {}
        else:
            by_lender = defaultdict(float)
            for l in loans:
                by_lender[l.lender] += l.principal
            lenders_share = {k: v / principal for k, v in by_lender.items()}
        lead = max(lenders_share, key=lenders_share.get) if lenders_share else None
        prices = self.secondary.prices
        seized_units = 0.0
        seized_rows = defaultdict(list)
        recovery = defaultdict(float)  # seized GPUs at market and cash, by lender
        # prepaid compute the lenders must now serve: booked against their equity, but not a credit loss (they take
        # the contracts' remaining payments too, and earn the prepayments back as they serve them)
        assumed = defaultdict(float)
        for r in fleet.rows_of(nc.eid):
            lid = fleet.pledged[r]
            new_owner = self.loans[lid].lender if lid >= 0 and lid in self.loans and self.loans[lid].lender in lenders_share else lead
            if new_owner is None:
                self.sell_cohort(nc.eid, r, fleet.count[r], forced=True)
                continue
            value = fleet.count[r] * prices[fleet.gen[r]] / BN
            led.book(nc.eid, -fleet.book[r], "gpus_seized")
            led.book(new_owner, value, "gpus_seized")
            fleet.owner[r] = new_owner
            fleet.book[r] = value
            fleet.cost[r] = value  # fair value becomes the lender's cost; the physical age is unchanged
            fleet.pledged[r] = -1
            seized_units += fleet.count[r]
            seized_rows[new_owner].append(r)
            recovery[new_owner] += value
        # contracts go with the GPUs to the lead lender (or the contract's own lender)
        for c in self.contracts:
            if c.active and c.provider == nc.eid:
                new_provider = self.loans[c.loan].lender if c.loan in self.loans and self.loans[c.loan].lender in lenders_share else lead
                if new_provider is None:
                    self._terminate_contract(c, "provider_exit")
                    continue
                led.book(nc.eid, c.prepaid, "contracts_assigned")
                led.book(new_provider, -c.prepaid, "contracts_assigned")
                assumed[new_provider] += c.prepaid
                c.provider = new_provider
                c.loan = -1
        s = self.startups
        moved = s.alive & (s.provider == nc.eid)
        if moved.any():
            pre = float(s.prepaid[moved].sum())
            if lead is None:
                s.provider[moved] = -1
                s.qty[moved] = 0.0
                led.book(s.eid, -pre, "contracts_terminated")
                led.book(nc.eid, pre, "contracts_terminated")
                s.prepaid[moved] = 0.0
                s.release[moved] = 0.0
            else:
                s.provider[moved] = lead
                led.book(nc.eid, pre, "contracts_assigned")
                led.book(lead, -pre, "contracts_assigned")
                assumed[lead] += pre
        cash = led.cash[nc.eid]
        unpaid_bills = max(0.0, -cash)
        if cash < 0:  # unpaid bills: suppliers absorb the loss
            led.pay(led.sector("utilities_and_data_centres"), nc.eid, -cash, "trade_credit_loss")
        elif cash > 0:
            if lenders_share:
                for lid_eid, share in lenders_share.items():
                    led.pay(nc.eid, lid_eid, cash * share, "recovery")
                    recovery[lid_eid] += cash * share
            else:
                led.pay(nc.eid, led.sector("venture_and_public_equity"), cash, "payout")
        total_loss = 0.0
        for l in loans:
            led.book(nc.eid, l.principal, "debt_extinguished")
            led.book(l.lender, -l.principal, "loan_default")
            l.status = "default"
            self.loan_changed(l)
        self._apply_absolute_priority(nc, {k: principal * v for k, v in lenders_share.items()}, recovery, unpaid_bills,
                                      seized_rows)
        for lender_eid, share in lenders_share.items():
            loss = principal * share - recovery[lender_eid]
            lender = self.entity[lender_eid]
            lender.losses += loss
            lender.realised_losses += loss
            total_loss += loss
            needed = sum(c.qty for c in self.contracts if c.active and c.provider == lender_eid)
            needed += float(s.qty[s.alive & (s.provider == lender_eid)].sum()) if s.n else 0.0
            # it keeps GPUs already serving compute first, the most efficient first
            rows = sorted(seized_rows.get(lender_eid, []), key=lambda r: (fleet.live_from[r] > self.month, -self.perf[fleet.gen[r]]))
            for r in rows:
                cap = fleet.count[r] * self.perf[fleet.gen[r]]
                if needed >= cap:
                    needed -= cap
                    continue
                if needed > 0:
                    keep_units = needed / self.perf[fleet.gen[r]]
                    r = fleet.split(r, fleet.count[r] - keep_units)
                    needed = 0.0
                fleet.liquidate[r] = self.p["lenders.liquidation_months"]
        # its open chip orders are cancelled and the deposits forfeited
        for chip in (self.nvidia, self.rival):
            for o in self.order_book[chip.eid]:
                if o.buyer == nc.eid:
                    self.cancel_order(o, chip, o.h100e)
            self.order_book[chip.eid] = [o for o in self.order_book[chip.eid] if o.h100e > 1e-9]
        # shareholders are wiped out
        for st in [s_ for s_ in self.stakes if s_.issuer == nc.eid]:
            led.book(st.holder, -st.value, "stake_writedown")
            self.flow["stake_writedowns"] += st.value
            self.log("stake_writedown", [self.entity[st.holder].name, nc.name], st.value)
            self.stakes.remove(st)
        for b in self.backstops:
            if b.beneficiary == nc.eid:
                b.end = self.month
        nc.alive = False
        self.neoclouds.remove(nc)
        self.defunct.append(nc)
        self.flow["defaults_count"] += 1
        self.flow["debt_in_default"] += principal
        self.flow["gpus_seized"] += seized_units
        self.flow["lender_losses"] += total_loss
        lender_names = [self.entity[k].name for k in lenders_share]
        self.log("default", [nc.name] + lender_names, principal,
                 detail=f"loss {total_loss:.3f}; prepaid compute assumed {sum(assumed.values()):.3f}")
        if seized_units:
            self.log("seizure", lender_names + [nc.name], sum(recovery.values()), units=seized_units)
        self._refresh_books()
        self._refresh_capacity()
        nc.remove()

    # ---- 9 ------------------------------------------------------------------------------------------
    def settle_equity(self) -> None:
        p, led = self.p, self.ledger
        for nc in self.neoclouds:
            nc.record_revenue()
            nc.value_firm()
        for lab in self.labs:
            lab.value_firm()
        customers = {eid for eid in self.chip_sales_12m()}
        for nc in self.neoclouds:
            if self.sentiment < p["neoclouds.raise_threshold"] or self.month - nc.last_raise < 6 or nc.valuation <= 0:
                continue
            need = nc.equity_need()
            need = max(need, nc.growth_round(need))
            if need <= 1e-4:
                continue
            amount = min(need, 0.3 * nc.valuation)
            nc.last_round_valuation = nc.valuation
            nvidia_part = 0.0
            if nc.eid in customers and self.nvidia.strategic_budget > 0:
                nvidia_part = min(0.4 * amount, self.nvidia.strategic_budget)
            pre = nc.valuation
            if nvidia_part > 1e-6:
                self.invest(self.nvidia, nc, nvidia_part, pre)
                pre += nvidia_part
            vc = amount - nvidia_part
            if vc > 0:
                for st in self.stakes:
                    if st.issuer == nc.eid:
                        st.share *= pre / (pre + vc)
                led.pay(led.sector("venture_and_public_equity"), nc.eid, vc, "funding_round")
            nc.last_raise = self.month
            self.log("equity_raise", [nc.name] + (["Nvidia"] if nvidia_part > 1e-6 else []), amount)
        for nc in self.neoclouds:
            nc.pay_out_surplus()
        self._sign_nvidia_agreements()
        for st in self.stakes:  # marks
            issuer = self.entity[st.issuer]
            new = st.share * max(getattr(issuer, "valuation", 0.0), 0.0)
            led.book(st.holder, new - st.value, "stake_revaluation")
            st.value = new
        for chip in (self.nvidia, self.rival):
            chip.close_month()
        for h in self.hyperscalers:
            h.close_month()

    def _sign_nvidia_agreements(self) -> None:
        """The capacity backstop (with Nvidia's largest investee among neoclouds, from
        ``nvidia.backstop_start_year``) and rent-backs (with its two largest neocloud investees)."""
        p = self.p
        nv = self.nvidia
        alive = {nc.eid: nc for nc in self.neoclouds}
        held = sorted((s for s in self.stakes if s.holder == nv.eid and s.issuer in alive), key=lambda s: -s.value)
        if p["nvidia.backstop_cap"] > 0 and not self.backstops and year_of(self.month) >= p["nvidia.backstop_start_year"] and held:
            end = int(round((p["nvidia.backstop_end_year"] - 2023.0) * 12))
            if end > self.month:
                target = alive[held[0].issuer]
                self.backstops.append(Backstop(nv.eid, target.eid, p["nvidia.backstop_cap"], self.month, end))
                self.log("backstop_signed", ["Nvidia", target.name], p["nvidia.backstop_cap"])
        if p["nvidia.rentback_total"] > 0:
            signed = False
            have = {c.provider for c in self.contracts if c.kind == "rent_back"}
            for st in held[:2]:
                if st.issuer in have or len(have) >= 2:
                    continue
                months = p["nvidia.rentback_months"]
                qty = p["nvidia.rentback_total"] / (months * self.contract_price_now * H)
                c = self.sign_contract(nv, st.issuer, qty, self.contract_price_now, "ig", "rent_back", term=months, prepay_share=0.0)
                if c is not None:
                    have.add(st.issuer)
                    signed = True
                    self.log("rent_back_signed", ["Nvidia", alive[st.issuer].name], p["nvidia.rentback_total"])
            if signed:
                self._refresh_books()

    # ---- 10 -----------------------------------------------------------------------------------------
    def _terminate_contract(self, c: ComputeContract, reason: str) -> None:
        """End a contract early: the provider keeps any unreleased prepayment."""
        if c.prepaid:
            self.ledger.book(c.customer, -c.prepaid, "contracts_terminated")
            self.ledger.book(c.provider, c.prepaid, "contracts_terminated")
            c.prepaid = 0.0
        c.active = False
        self.log("contract_default" if reason != "expiry" else "contract_expiry",
                 [self.entity[c.customer].name, self.entity[c.provider].name], c.remaining_value(self.month),
                 units=c.qty, detail=reason)

    def fail_customer(self, customer) -> None:
        """A lab that cannot pay its contracts defaults on all of them and exits."""
        if isinstance(customer, Lab) and customer.alive:
            customer.alive = False
            for c in self.contracts:
                if c.active and c.customer == customer.eid:
                    self._terminate_contract(c, "customer_failure")
            cash = self.ledger.cash[customer.eid]
            if cash > 0:
                self.ledger.pay(customer.eid, self.ledger.sector("venture_and_public_equity"), cash, "payout")
            self.log("developer_failure", [customer.name], 0.0)

    def fail_startups(self, idx: np.ndarray) -> None:
        """Start-ups out of cash default on their contracts (providers keep the prepayments) and exit."""
        s = self.startups
        led = self.ledger
        provs = s.provider[idx]
        pre = s.prepaid[idx]
        for prov in np.unique(provs[provs >= 0]):
            amount = float(pre[provs == prov].sum())
            led.book(s.eid, -amount, "contracts_terminated")
            led.book(int(prov), amount, "contracts_terminated")
            self.log("contract_default", ["AI start-ups", self.entity[int(prov)].name],
                     float((s.qty[idx][provs == prov] * s.price[idx][provs == prov]).sum() * H), units=int((provs == prov).sum()),
                     detail="start-up failures")
        leftover = s.cash[idx]
        led.pay(s.eid, led.sector("venture_and_public_equity"), float(np.maximum(leftover, 0).sum()), "payout")
        s.cash[idx] = 0.0
        s.alive[idx] = False
        s.provider[idx] = -1
        s.qty[idx] = 0.0
        s.prepaid[idx] = 0.0
        s.release[idx] = 0.0
        s.failures += len(idx)
        self.flow["startup_failures"] += len(idx)

    def age_the_economy(self) -> None:
        p, led, fleet = self.p, self.ledger, self.fleet
        # contract expiries: the capacity returns to the spot market
        month = self.month
        for c in [c for c in self.contracts if c.active and c.end <= month + 1]:
            if c.prepaid:
                led.book(c.customer, -c.prepaid, c.payment_kind)
                led.book(c.provider, c.prepaid, c.payment_kind)
                c.prepaid = 0.0
            c.active = False
            self.flow["contracts_expired_h100e"] += c.qty
            self.log("contract_expiry", [self.entity[c.customer].name, self.entity[c.provider].name], 0.0, units=c.qty)
        self.contracts = [c for c in self.contracts if c.active]
        s = self.startups
        if s.n:
            ending = (s.provider >= 0) & (s.end <= self.month + 1)
            if ending.any():
                rest = s.prepaid[ending]
                provs = s.provider[ending]
                led.book(s.eid, -float(rest.sum()), "compute_contract")
                for prov in np.unique(provs):
                    led.book(int(prov), float(rest[provs == prov].sum()), "compute_contract")
                    self.log("contract_expiry", ["AI start-ups", self.entity[int(prov)].name], 0.0,
                             units=float(s.qty[ending][provs == prov].sum()))
                self.flow["contracts_expired_h100e"] += float(s.qty[ending].sum())
                s.provider[ending] = -1
                s.qty[ending] = 0.0
                s.prepaid[ending] = 0.0
                s.release[ending] = 0.0
            broke = s.alive & (s.unpaid | ((s.cash <= 0) & (s.revenue * (1 - 0.25) < 1e-6)))
            if broke.any():
                self.fail_startups(np.flatnonzero(broke))
        for lab in self.labs:
            if lab.alive and led.cash[lab.eid] < 0:
                self.fail_customer(lab)
        for nc in list(self.neoclouds):  # an unlevered neocloud that cannot pay its bills exits too
            if led.cash[nc.eid] < 0 and not any(self.loans[i].status in ("performing", "breach") and self.loans[i].principal > 0
                                                for i in nc.loan_ids):
                self.default(nc)
        # loans repaid
        for loan in self.loans.values():
            if loan.status == "performing" and loan.principal <= 1e-9 and self.month >= loan.draw_until:
                loan.status = "repaid"
        # depreciation (straight line on historical cost)
        life = p["technology.accounting_life_months"]
        n = fleet.n
        dep = np.minimum(fleet.book[:n], fleet.cost[:n] / life)
        fleet.book[:n] -= dep
        by_owner = np.bincount(fleet.owner[:n], weights=dep, minlength=len(led.names))
        for eid in np.flatnonzero(by_owner > 0):
            led.book(int(eid), -float(by_owner[eid]), "depreciation")
        self.flow["depreciation"] = float(dep.sum())
        # scrapping: generations unprofitable to run for months on end, or past their physical life
        margin_negative = self.spot_price * self.perf < self.running_cost
        self.negative_margin_months = np.where(margin_negative, self.negative_margin_months + 1, 0)
        old = (self.month - fleet.vintage[:n]) > p["technology.physical_life_months"]
        dead_gen = self.negative_margin_months >= p["technology.scrap_margin_months"]
        scrap_rows = np.flatnonzero((fleet.count[:n] > 0) & (old | dead_gen[fleet.gen[:n]]))
        for r in scrap_rows:
            units = fleet.count[r]
            owner = int(fleet.owner[r])
            self._installed_h100e -= units * self.perf[fleet.gen[r]]
            book = fleet.remove(r, units)
            led.book(owner, -book, "scrapping")
            self.scrapped += units
            self.flow["gpus_scrapped"] += units
        if len(scrap_rows):
            self.log("scrapping", sorted({self.entity[int(fleet.owner[r])].name for r in scrap_rows}), 0.0,
                     units=float(self.flow["gpus_scrapped"]))
        fleet.compact()
        self.lender_capital_total = sum(l.capital() for l in self.lenders)
        for lender in self.lenders:
            lender.raise_capital()
        for chip in (self.nvidia, self.rival):
            chip.respond_to_orders()
        for g, gen in enumerate(self.gens):
            if gen.release == self.month:
                self.log("generation_launch", [gen.vendor], gen.launch_price, detail=gen.name)
        self._refresh_books()
        self._refresh_capacity()

    # ---- 11 -----------------------------------------------------------------------------------------
    def full_cost_of_new_capacity(self, month: int) -> float:
        """The full cost of an H100e-hour on the chips Nvidia is shipping in ``month`` (its production mix: a
        new generation sets the price only as its output ramps up), at the investment-grade cost of capital:
        the fundamental price."""
        p = self.p
        mix = self.nvidia.production_mix(month)
        h100e = sum(share * self.gens[g].perf for g, share in mix.items())
        per_h100e = lambda cost: sum(share * cost(g) for g, share in mix.items()) / h100e
        return fundamental_price(per_h100e(self.nvidia.list_price), per_h100e(lambda g: self.running_cost[g]),
                                 per_h100e(lambda g: self.facility_cost[g]), self.sofr + p["lenders.spread_ig"],
                                 p["technology.accounting_life_months"])

    def form_expectations(self) -> None:
        fundamental = self.full_cost_of_new_capacity(self.month)
        self.fundamental_price = fundamental
        self.expectations.observe_price(self.spot_price, fundamental)
        hist = self.history
        ai = self.ledger_income_total("ai_revenue")
        hist["ai_revenue"].append(ai)
        ai_hist = list(hist["ai_revenue"])
        if len(ai_hist) >= 15:
            fundamental_growth = sum(ai_hist[-3:]) / max(sum(ai_hist[-15:-12]), 1e-9) - 1.0
        else:
            fundamental_growth = (ai_hist[-1] / max(ai_hist[0], 1e-9)) ** (12.0 / max(len(ai_hist) - 1, 1)) - 1.0 if len(ai_hist) > 1 else 1.0
        # extrapolators read the latest quarter's AI-revenue growth, annualised (news of the boom, not its capex)
        momentum = (sum(ai_hist[-3:]) / max(sum(ai_hist[-6:-3]), 1e-9)) ** 4 - 1.0 if len(ai_hist) >= 6 else fundamental_growth
        self.sentiment = self.expectations.update_sentiment(min(fundamental_growth, 5.0), min(max(momentum, -0.9), 5.0))
        base = self._collateral_index()
        hist["collateral_index"].append(base)
        ci = list(hist["collateral_index"])
        self.collateral_return_6m = (ci[-1] / ci[-7] - 1.0) if len(ci) >= 7 and ci[-7] > 0 else 0.0

    def _collateral_index(self) -> float:
        """Market value per H100e of the installed base (a collateral price index)."""
        h = self.installed_h100e()
        if h <= 0:
            return 0.0
        value = float((self.fleet.view("count") * self.secondary.prices[self.fleet.view("gen")]).sum())
        return value / h

    def ledger_income_total(self, item: str) -> float:
        return sum(v for (eid, it), v in self.ledger.income.items() if it == item and v > 0)

    # ---- 12 -----------------------------------------------------------------------------------------
    def balance_sheets(self) -> dict[str, np.ndarray]:
        """Every entity's balance sheet (US$bn), from the stocks; equity is from the ledger's entries."""
        led, fleet = self.ledger, self.fleet
        n = len(led.names)
        out = {k: np.zeros(n) for k in ("cash", "gpus_book", "gpus_market", "gpu_count", "loans_receivable", "equity_stakes",
                                        "prepaid_compute", "chip_deposits", "loans_payable", "deferred_revenue",
                                        "customer_advances", "bonds")}
        out["cash"][:] = led.cash
        cnt, own = fleet.view("count"), fleet.view("owner")
        out["gpus_book"] += np.bincount(own, weights=fleet.view("book"), minlength=n)
        out["gpus_market"] += self.gpus_market_value()
        out["gpu_count"] += np.bincount(own, weights=cnt, minlength=n)
        # claims summed by party with np.bincount, in list order (the same totals as a loop over them)
        loans = [loan for loan in self.loans.values() if loan.status != "default"]
        principal = np.array([loan.principal for loan in loans], dtype=float)
        out["loans_receivable"] += np.bincount(np.array([loan.lender for loan in loans], dtype=int), weights=principal, minlength=n)
        out["loans_payable"] += np.bincount(np.array([loan.borrower for loan in loans], dtype=int), weights=principal, minlength=n)
        out["equity_stakes"] += np.bincount(np.array([st.holder for st in self.stakes], dtype=int),
                                            weights=np.array([st.value for st in self.stakes], dtype=float), minlength=n)
        customer, provider, prepaid = self.active_contracts.of(self.contracts).columns("customer", "provider", "prepaid")
        out["prepaid_compute"] += np.bincount(customer, weights=prepaid, minlength=n)
        out["deferred_revenue"] += np.bincount(provider, weights=prepaid, minlength=n)
        s = self.startups
        if s.n:
            has = s.provider >= 0
            out["prepaid_compute"][s.eid] += float(s.prepaid[has].sum())
            out["deferred_revenue"] += np.bincount(s.provider[has], weights=s.prepaid[has], minlength=n)
        orders = [o for book in self.order_book.values() for o in book]
        deposits = np.array([o.deposit for o in orders], dtype=float)
        out["chip_deposits"] += np.bincount(np.array([o.buyer for o in orders], dtype=int), weights=deposits, minlength=n)
        out["customer_advances"] += np.bincount(np.array([o.seller for o in orders], dtype=int), weights=deposits, minlength=n)
        for h in self.hyperscalers:
            out["bonds"][h.eid] = h.bonds
        out["assets"] = (out["cash"] + out["gpus_book"] + out["loans_receivable"] + out["equity_stakes"] + out["prepaid_compute"]
                         + out["chip_deposits"])
        out["liabilities"] = out["loans_payable"] + out["deferred_revenue"] + out["customer_advances"] + out["bonds"]
        out["equity"] = np.array(led.equity)
        return out

    def gpus_market_value(self) -> np.ndarray:
        """Market value of every entity's GPUs at used-GPU prices, US$bn."""
        fleet = self.fleet
        value = fleet.view("count") * self.secondary.prices[fleet.view("gen")] / BN
        return np.bincount(fleet.view("owner"), weights=value, minlength=len(self.ledger.names))

    def check_accounts(self) -> None:
        """Stop the run if any balance sheet does not balance, agent cash does not reconcile with the
        outside sectors, or GPUs are not conserved."""
        led = self.ledger
        bs = self.balance_sheets()
        agents = ~np.asarray(led.is_sector)
        gap = (bs["assets"] - bs["liabilities"] - bs["equity"]) * agents
        scale = 1e-7 * max(1.0, float(np.abs(bs["assets"]).max()))
        bad = np.flatnonzero(np.abs(gap) > scale)
        if len(bad):
            i = int(bad[0])
            raise AccountingError(
                f"step {self.month} ({self.date}): balance sheet of {led.names[i]} does not balance: assets "
                f"{bs['assets'][i]:.9f} - liabilities {bs['liabilities'][i]:.9f} = {bs['assets'][i] - bs['liabilities'][i]:.9f}"
                f" but book equity is {bs['equity'][i]:.9f} (US$bn)")
        change = led.agent_cash_total() - self._cash_start
        if abs(change - led.sector_net_flow) > 1e-7 * max(1.0, abs(self._cash_start)):
            raise AccountingError(f"step {self.month} ({self.date}): agent cash changed by {change:.9f} but the net flow "
                                  f"from outside sectors is {led.sector_net_flow:.9f} (US$bn)")
        s = self.startups
        if s.n and abs(float(s.cash.sum()) - led.cash[s.eid]) > 1e-7 * max(1.0, abs(led.cash[s.eid])):
            raise AccountingError(f"step {self.month} ({self.date}): start-up cash {float(s.cash.sum()):.9f} differs from "
                                  f"the ledger's {led.cash[s.eid]:.9f} (US$bn)")
        held = float(self.fleet.view("count").sum())
        if abs(self.produced - held - self.scrapped - self.sold_outside) > 1e-6 * max(1.0, self.produced):
            raise AccountingError(f"step {self.month} ({self.date}): GPUs not conserved: produced {self.produced:.3f} != held "
                                  f"{held:.3f} + scrapped {self.scrapped:.3f} + sold to outside buyers {self.sold_outside:.3f}")
        installed = float((self.fleet.view("count") * self.perf[self.fleet.view("gen")]).sum())
        if abs(installed - self._installed_h100e) > 1e-6 * max(1.0, installed):
            raise AccountingError(f"step {self.month} ({self.date}): installed base {installed:.3f} H100e differs from its running "
                                  f"total {self._installed_h100e:.3f}")
        self._installed_h100e = installed  # no drift from rounding
        if not np.all(np.isfinite(led.cash)) or not np.all(np.isfinite(led.equity)):
            raise AccountingError(f"step {self.month} ({self.date}): non-finite cash or equity")

    # ---- caches -------------------------------------------------------------------------------------
    def _refresh_books(self) -> None:
        """Each party's contracted H100e, backlog and monthly contract payments, from the active contracts."""
        n = len(self.ledger.names) + 1
        month = self.month
        active = self.active_contracts.of(self.contracts)
        provider, customer, qty, price, start, end, grade = active.columns("provider", "customer", "qty", "price", "start", "end", "grade")
        ig = grade == "ig"
        started = start <= month
        monthly = qty * price * H  # c.monthly_value(), US$bn
        # capacity served and used now (started contracts) and capacity signed (including forward starts)
        self.contracted_by_provider = np.bincount(provider[started], weights=qty[started], minlength=n)
        self.signed_by_provider = np.bincount(provider, weights=qty, minlength=n)
        self.contracted_by_customer = totals_by_party(customer[started], qty[started], n)
        self.signed_by_customer = totals_by_party(customer, qty, n)
        self.ig_contracted_by_provider = totals_by_party(provider[ig], qty[ig], n)
        self.contract_payments_by_customer = totals_by_party(customer, monthly, n)
        self.backlog_by_provider = totals_by_party(provider, monthly * np.maximum(0, end - np.maximum(start, month)), n)
        soon = start <= month + self.p["neoclouds.install_months"]
        due_soon = np.bincount(provider[soon], weights=qty[soon], minlength=n)
        s = self.startups
        if s.n:
            has = s.alive & (s.provider >= 0)
            provider_of, qty_of = s.provider[has], s.qty[has]
            by_provider = np.bincount(provider_of, weights=qty_of, minlength=n)[:n]
            self.contracted_by_provider += by_provider
            self.signed_by_provider += by_provider
            due_soon += by_provider
            backlog = np.bincount(provider_of, weights=qty_of * s.price[has] * H * np.maximum(s.end[has] - self.month, 0), minlength=n)
            backlog_by_eid = backlog.tolist()
            for eid in np.flatnonzero(backlog > 0).tolist():
                self.backlog_by_provider[eid] = self.backlog_by_provider.get(eid, 0.0) + backlog_by_eid[eid]
        self.contracted_next_by_provider = {i: v for i, v in enumerate(due_soon.tolist()) if v > 0}

    def live_rows(self) -> np.ndarray:
        """Which cohorts serve compute this month (delivered ``technology.deploy_months`` ago or more)."""
        return self.fleet.view("live_from") <= self.month

    def _refresh_capacity(self) -> None:
        """Each owner's capacity serving compute (H100e), capacity still being installed, and power drawn (MW: GPUs
        being installed occupy their racks too)."""
        n = len(self.ledger.names) + 1
        fleet = self.fleet
        own, g, cnt = fleet.view("owner"), fleet.view("gen"), fleet.view("count")
        h100e = cnt * self.perf[g]
        live = self.live_rows()
        self.capacity_by_owner = np.bincount(own, weights=h100e * live, minlength=n)
        self.installing_by_owner = np.bincount(own, weights=h100e * ~live, minlength=n)
        self.power_by_owner = np.bincount(own, weights=cnt * self.facility_kw[g] / 1000.0, minlength=n)

    def chip_sales_12m(self) -> dict[int, float]:
        """Nvidia chip sales by buyer over the last 12 months, the current month included."""
        months = list(self.history["chip_sales"])
        if self._recorded_month != self.month:
            months = months[-11:] + [self.chip_sales]
        totals: dict[int, float] = defaultdict(float)
        for month in months[-12:]:
            for k, v in month.items():
                totals[k] += v
        return totals

    # ---- events -------------------------------------------------------------------------------------
    def log(self, event: str, agents: list[str], amount: float, units: float = 0.0, detail: str = "") -> None:
        self.events.append({"date": self.date, "event": event, "agents": ";".join(agents),
                            "amount_bn": float(amount), "units": float(units), "detail": detail})

    # ---- 13 -----------------------------------------------------------------------------------------
    def record(self) -> None:
        self.current = network.monthly_series(self)
        self.history["chip_sales"].append(dict(self.chip_sales))
        self._recorded_month = self.month
        self.datacollector.collect(self)
        if self.month % self.p["run.balance_sheet_interval"] == self.p["run.balance_sheet_interval"] - 1 or self.month == self.n_months - 1:
            self.snapshot_balance_sheets()

    def snapshot_balance_sheets(self) -> None:
        bs = {k: v.tolist() for k, v in self.balance_sheets().items()}  # Python floats
        for eid, name in enumerate(self.ledger.names):
            if self.ledger.is_sector[eid] or eid == self.exchange:
                continue
            agent = self.entity.get(eid)
            row = {"date": self.date, "agent": name, "type": type(agent).__name__ if agent else "Entity",
                   "alive": agent is self.startups or bool(getattr(agent, "alive", True))}
            for k in ("cash", "gpus_book", "gpus_market", "gpu_count", "loans_receivable", "equity_stakes", "prepaid_compute",
                      "chip_deposits", "assets", "loans_payable", "deferred_revenue", "customer_advances", "bonds", "liabilities",
                      "equity"):
                row[k] = bs[k][eid]
            self.balance_sheet_rows.append(row)

