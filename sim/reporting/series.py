"""The monthly series (:data:`~gpucredit.sim.reporting.columns.SERIES`, the data dictionary) computed from the
economy each month by :class:`SeriesRecorder`, side-effect free on the economy; it keeps the short histories the
trailing-12-month series need.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque

import mesa
import numpy as np

from ..accounts import balance_sheets
from ..credit.loans import running_sum
from ..finance.circular import financed_by_nvidia
from ..technology import BN
from .columns import SERIES, generation_column, series_names
from .network import debtrank, hhi


# a neocloud's operating profit before depreciation: its revenue less cost of cover, running costs, leases and overheads
NEOCLOUD_REVENUE_ITEMS = ("compute_contract", "compute_spot", "backstop", "rent_back")
NEOCLOUD_OPERATING_COST_ITEMS = ("compute_cover", "power_and_operations", "data_centre_lease", "operating_expense")
EBITDA_ITEMS = NEOCLOUD_REVENUE_ITEMS + NEOCLOUD_OPERATING_COST_ITEMS


class SeriesRecorder:
    """Computes the monthly series (:meth:`record`) and keeps the histories the trailing series need (24 months)."""

    def __init__(self):
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=24))
        self.last_spread: dict[str, float] = {}  # the average spread on new lending by grade, when there last was some
        self._gens = None  # (roadmap, each generation's rent and used-price columns): named once per roadmap

    def generation_columns(self, economy) -> list[tuple[str, str]]:
        """Each generation's rent and used-price columns (:func:`~.columns.generation_column`), named once per roadmap."""
        m = economy
        if self._gens is None or self._gens[0] is not m.gens:
            self._gens = (m.gens, [(generation_column("rental_price_", g.name), generation_column("secondary_price_", g.name))
                                   for g in m.gens])
        return self._gens[1]

    def record(self, economy, sheets: dict | None = None) -> dict[str, float]:
        """Every column of the data dictionary (:data:`SERIES`) for the current month; ``sheets``: the month's closing
        balance sheets if the checks have built them (:func:`~gpucredit.sim.accounts.check_accounts`; else built here)."""
        m = economy
        if sheets is None:
            sheets = balance_sheets(m)
        fleet, flow = m.fleet, m.flow
        nv = m.nvidia
        price = m.spot.price
        rents = m.spot.rents().tolist()
        out: dict[str, float] = {}
        out["spot_price_h100e"] = price
        out["clearing_price_h100e"] = m.spot.clearing_price
        out["contract_price_h100e"] = m.term.price
        out["fundamental_price_h100e"] = m.fundamental_price
        used_prices, released = m.used_gpus.prices.tolist(), (m.release <= m.month).tolist()
        for g, (rent_column, used_column) in enumerate(self.generation_columns(m)):
            out[rent_column] = rents[g]
            out[used_column] = used_prices[g] if released[g] else 0.0
        out["fire_sale_discount"] = m.used_gpus.discount()
        cnt = fleet.view("count")
        h100e = cnt * fleet.view("h100e_per_gpu")  # by cohort (its generation's performance, kept on the cohort)
        out["installed_h100e"] = float(h100e.sum())
        out["installing_h100e"] = float((h100e * ~fleet.live_rows(m.month)).sum())
        out["installed_gpus"] = float(cnt.sum())
        out["utilization"] = m.spot.utilisation
        out["idle_h100e"] = m.spot.idle_h100e
        out["nvidia_revenue"] = nv.revenue
        out["nvidia_gross_margin"] = 1.0 - nv.cogs / nv.revenue if nv.revenue > 0 else 0.0
        out["nvidia_earnings"] = nv.earnings
        out["nvidia_market_cap"] = nv.market_cap
        out["nvidia_stake_value"] = m.equity.value_held_by(nv.eid)
        out["nvidia_capacity"] = nv.capacity
        out["nvidia_markup"] = nv.markup
        out["nvidia_order_backlog"] = m.chips.backlog(nv.eid)
        out["nvidia_order_wait"] = out["nvidia_order_backlog"] / nv.supply_h100e if nv.supply_h100e > 0 else 0.0
        out["chip_orders"] = flow["chip_orders"]
        out["chip_orders_cancelled"] = flow["chip_orders_cancelled"]
        out["chip_deposits"] = m.chips.deposits_held()

        self._circularity(m, out)
        self._credit(m, out, sheets)
        self._fundamental(m, out, sheets)
        values = list(map(float, out.values()))
        if not all(map(math.isfinite, values)):
            k, v = next((k, v) for k, v in out.items() if not math.isfinite(v))
            raise FloatingPointError(f"step {m.month} ({m.date}): series '{k}' is not finite ({v})")
        out = dict(zip(out, values))
        out.update(self.lead_neocloud(m))  # NaN once it has exited (or if a scenario removes it)
        return out

    @staticmethod
    def lead_neocloud(m) -> dict[str, float]:
        """The credit metrics an analyst reads for the lead neocloud (CoreWeave unless a scenario renames it), fixed
        by name: monthly revenue, EBITDA and interest expense (US$bn/month, interest capitalised included), all its debt (GPU-backed and construction loans),
        its backlog (remaining value of its contracts as provider) and its valuation (US$bn). NaN after it exits."""
        nc = m.lead_neocloud
        names = ("lead_neocloud_revenue", "lead_neocloud_ebitda", "lead_neocloud_interest_expense", "lead_neocloud_debt",
                 "lead_neocloud_backlog", "lead_neocloud_valuation", "lead_neocloud_top_customer_share", "nvidia_stake_in_lead")
        if nc is None or not nc.alive:
            return dict.fromkeys(names, math.nan)
        led, eid = m.ledger, nc.eid
        revenue = led.income_of(eid, *NEOCLOUD_REVENUE_ITEMS)
        costs = led.income_of(eid, *NEOCLOUD_OPERATING_COST_ITEMS)
        backlog = m.contracts.remaining_value(m.contracts.rows_of(provider=eid))
        interest = -led.income_of(eid, "interest", "construction_interest", "construction_interest_capitalised")
        debt = m.loans.debt_of(eid) + m.datacentres.debt_of(eid)  # GPU-backed and construction loans
        values = (revenue, revenue + costs, interest, debt,
                  float(backlog.sum()), nc.valuation, nc.top_customer_share(), m.equity.share_of(m.nvidia.eid, eid))
        return {k: float(v) for k, v in zip(names, values)}

    def _circularity(self, m, out: dict) -> None:
        """Nvidia's circular financing: circular revenue share, round-trip ratio, customer concentration."""
        hist = self.history
        financed = financed_by_nvidia(m)
        hist["nvidia_sales"].append(sum(m.chips.sales.values()))
        hist["nvidia_financed_sales"].append(sum(v for k, v in m.chips.sales.items() if k in financed))
        hist["nvidia_flows_to"].append(dict(m.nvidia_flows_to))
        sales12 = sum(list(hist["nvidia_sales"])[-12:])
        out["circular_revenue_share"] = sum(list(hist["nvidia_financed_sales"])[-12:]) / sales12 if sales12 > 0 else 0.0
        purchases = m.chips.sales_12m()
        out["round_trip_ratio"] = self._round_trip(m, financed)
        out["nvidia_customer_hhi"] = hhi(purchases.values())


    def _round_trip(self, m, financed: set[int]) -> float:
        """Round-trip ratio: of the money Nvidia put into the firms it finances over the last 12 months, the share that
        came back to Nvidia, money being fungible: each firm's Nvidia money times the share of all its cash outlays that
        went to Nvidia (chip payments and deposits), summed over firms, over all the Nvidia money."""
        hist = self.history
        paid, to_nvidia = m.ledger.paid_by_party(m.nvidia.eid)
        hist["financed_outlays"].append({f: (float(paid[f]), float(to_nvidia[f])) for f in financed})
        money = defaultdict(float)
        for month in list(hist["nvidia_flows_to"])[-12:]:
            for firm, amount in month.items():
                money[firm] += amount
        total_money = sum(money.values())
        if total_money <= 0:
            return 0.0
        # the outlays of the firms Nvidia put money into (no other firm's are read), each added up month by month
        outlays, back = dict.fromkeys(money, 0.0), dict.fromkeys(money, 0.0)
        for month in list(hist["financed_outlays"])[-12:]:
            for firm in money:
                entry = month.get(firm)
                if entry is not None:
                    outlays[firm] += entry[0]
                    back[firm] += entry[1]
        returned = sum(amount * min(1.0, back[f] / outlays[f]) for f, amount in money.items() if outlays[f] > 0)
        return returned / total_money

    def _lenders(self, m, out: dict, sheets: dict) -> None:
        """Lenders' own leverage and funding, the spreads on the month's new lending by grade, provisions (``sheets``: the
        month's closing balance sheets: the GPUs at book by party)."""
        lenders = [l for l in m.lenders if l.alive]
        led = m.ledger
        book = {l.eid: l.book() for l in lenders}
        gpus = sheets["gpus_book"]
        assets = sum(max(led.cash[l.eid], 0.0) + book[l.eid] + gpus[l.eid] for l in lenders)
        equity = sum(led.equity[l.eid] for l in lenders)
        out["lender_leverage"] = assets / equity if equity > 0 else 0.0
        out["lender_borrowings"] = sum(l.borrowings for l in lenders)
        out["lender_uncalled"] = sum(l.uncalled for l in lenders)
        flow, last = m.flow, self.last_spread
        for grade in ("ig", "non_ig"):  # carried forward in months without new lending of that grade
            amount = flow[f"new_lending_{grade}"]
            if amount > 1e-12:
                last[grade] = flow[f"new_lending_{grade}_spread"] / amount
            out[f"avg_spread_{grade}"] = last.get(grade, m.p[f"lenders.spread_{grade}"])
        principal, collateral = m.loans.columns_of("principal", "collateral_value", excluding=("default", "repaid"))
        shortfall = principal - collateral  # loan by loan, never below 0, added up in the order opened
        out["loan_provisions"] = running_sum(np.where(shortfall > 0.0, shortfall, 0.0).tolist())

    @staticmethod
    def _neocloud_loans(register, rows: np.ndarray, neoclouds: list[int], sofr: float) -> tuple[float, float, float]:
        """Over the open loans ``rows`` of ``neoclouds`` (in register order): principal (US$bn), principal x LTV (capped
        at 5) and the month's interest due (US$bn/month), each added up loan by loan (a running sum from 0, as
        ``np.bincount`` adds)."""
        is_neocloud = np.zeros(int(register.column("borrower").max(initial=0)) + 1, dtype=bool)
        is_neocloud[[eid for eid in neoclouds if eid < len(is_neocloud)]] = True
        rows = rows[is_neocloud[register.column("borrower")[rows]]]
        if not len(rows):
            return 0, 0, 0
        principal = register.column("principal")[rows]
        ltv = register.ltvs(rows)
        terms = (principal, principal * np.where(5.0 < ltv, 5.0, ltv), principal * register.monthly_rates(rows, sofr))
        one = np.zeros(len(rows), dtype=np.int64)
        return tuple(np.bincount(one, weights=x).item() for x in terms)

    def _credit(self, m, out: dict, sheets: dict) -> None:
        """Neoclouds and GPU-backed credit (``sheets``: as for :meth:`_lenders`)."""
        led, flow = m.ledger, m.flow
        neo = m.neoclouds
        out["neocloud_revenue"] = sum(nc.revenue for nc in neo)
        loans = m.loans.outstanding_rows()
        debt, weighted_ltv, interest = self._neocloud_loans(m.loans, loans, [nc.eid for nc in neo], m.sofr)
        out["neocloud_debt"] = debt
        out["neocloud_avg_ltv"] = weighted_ltv / debt if debt > 0 else 0.0
        ebitda = sum(led.incomes_of([nc.eid for nc in neo], *EBITDA_ITEMS))
        # capped at +-100 (a vanishing interest bill, e.g. 1e-320 US$bn in a fuzzed draw, made the ratio infinite)
        out["neocloud_interest_coverage"] = max(-100.0, min(ebitda / interest, 100.0)) if interest > 1e-12 else 0.0
        out["construction_debt"], out["datacentre_mw_building"], out["datacentre_mw_owned"] = m.datacentres.totals()
        lending, by_lender = 0, defaultdict(float)
        for lender, principal in zip(m.loans.column("lender")[loans].tolist(), m.loans.column("principal")[loans].tolist()):
            lending += principal
            by_lender[lender] += principal
        out["gpu_backed_lending"] = lending
        out["lender_exposure_hhi"] = hhi(by_lender.values())
        live_lenders = [l for l in m.lenders]
        out["origination_ltv"] = float(np.mean([l.origination_ltv() for l in live_lenders])) if live_lenders else 0.0
        out["defaults_count"] = flow["defaults_count"]
        out["lab_failures"] = flow["lab_failures"]
        out["venture_allotment"] = m.venture.allotted
        out["venture_raised"] = m.venture.raised
        out["debt_in_default"] = flow["debt_in_default"]
        out["gpus_seized"] = flow["gpus_seized"]
        out["fire_sale_volume"] = flow["fire_sale_volume"]
        out["used_gpus_resold"] = flow["used_gpus_resold"]
        out["lender_losses"] = flow["lender_losses"] + flow["liquidation_losses"]
        self._lenders(m, out, sheets)
        out["covenant_breaches"] = flow["covenant_breaches"]
        out["covenant_waivers"] = flow["waivers"]
        out["lender_failures"] = flow["lender_failures"]


    def _fundamental(self, m, out: dict, sheets: dict) -> None:
        """AI revenue against the spending it must justify; sentiment; rates; book against market; the lead neocloud;
        populations; systemic risk."""
        fleet, hist, flow = m.fleet, self.history, m.flow
        neo = m.neoclouds
        cnt, gen, sec = fleet.view("count"), fleet.view("gen"), m.used_gpus.prices
        ai_history = m.expectations.ai_revenue_history
        ai = list(ai_history)[-1] if ai_history else 0.0
        out["ai_revenue"] = ai
        out["ai_potential_revenue"] = m.demand.potential
        out["ai_adoption"] = m.demand.adoption
        out["ai_compute_in_use"] = m.spot.in_use_h100e
        out["ai_market_size"] = m.demand.market_size
        out["expected_market_size"] = m.expectations.belief.expected_size()
        out["ai_capex"] = flow["ai_capex"]
        big_four = [h for h in m.hyperscalers if h.name != "Oracle"]
        out["hyperscaler_capex"] = sum(h.capex for h in big_four) + m.p["hyperscalers.non_ai_capex"]
        out["hyperscaler_net_debt"] = sum(h.bonds - m.ledger.cash[h.eid] for h in m.hyperscalers)
        out["corporate_tax"] = m.taxes.paid
        hist["gpu_spending"].append(flow["gpu_purchases"])
        gpu3 = sum(list(hist["gpu_spending"])[-3:]) / min(3, len(hist["gpu_spending"]))
        ai3 = sum(list(ai_history)[-3:]) / min(3, len(ai_history))
        out["revenue_required"] = 4.0 * 12.0 * gpu3
        out["revenue_gap"] = out["revenue_required"] - 12.0 * ai3
        out["sentiment"] = m.sentiment
        out["extrapolator_share"] = float(m.expectations.shares[1])
        out["sofr"] = m.sofr
        book = float(fleet.view("book").sum())
        market = float((cnt * sec[gen]).sum()) / BN
        out["book_minus_market_gpus"] = book - market

        out["backstop_paid"] = flow["backstop_paid"]
        out["neoclouds_alive"] = len(neo)
        out["startups_alive"] = int(m.startups.alive.sum()) if m.startups.n else 0
        out["startup_failures"] = flow["startup_failures"]
        out["systemic_risk"] = debtrank(m, sheets=sheets)


class SeriesCollector(mesa.DataCollector):
    """Mesa's DataCollector of the monthly series: one model reporter per column of :data:`SERIES` (and of the price
    series of the roadmap's ``generations`` after the default roadmap's, :func:`~.columns.series_names`), the column's value
    this month (``economy.current``, 0.0 if absent). :meth:`collect` appends those values to ``model_vars`` directly:
    what calling each reporter would append (floats, which Mesa's deepcopy returns as they are), without the calls."""

    def __init__(self, generations=()):
        names = series_names(generations)
        super().__init__(model_reporters={name: (lambda m, n=name: m.current.get(n, 0.0)) for name in names})

    def collect(self, model) -> None:
        self._collection_steps.append(model.time)
        current = model.current
        for name, values in self.model_vars.items():
            values.append(current.get(name, 0.0))
