"""Neoclouds: GPU cloud providers (CoreWeave, Crusoe, Lambda, Nebius, Fluidstack and a population of
small ones) that buy GPUs largely with debt secured by the GPUs and their customer contracts.

Decision rules, each month:

* **Contracts first.** A neocloud offers term capacity when the contract price covers the full cost of a
  new H100e-hour at its hurdle rate: its uncommitted capacity plus what it can still add (fleet growth,
  power and financing limits). Lenders lend cheaper against investment-grade (IG) contracts.
* **Investment.** It orders GPUs to honour signed contracts, and speculatively when the net present value
  of a new GPU, under its own price expectations (its weight on extrapolation is its own), beats its cost:
  within power capacity (leased with a lead time; the leaders build part of theirs with construction debt),
  chip allocation and financing.
* **Financing.** Each delivery is paid with a draw on a GPU-backed delayed-draw term loan (up to the lender's
  current LTV of the GPUs' appraised value) and cash; equity is raised from VCs and Nvidia when sentiment
  allows and cash is short, or in a growth round once its valuation has doubled since its last round.
* **Distress.** It services debt monthly; a payment it cannot make, or a breach of the LTV covenant, opens a
  cure period during which it pays down with cash or sells GPUs (adding to forced sales); the lender may
  waive; an uncured breach is a default (handled by the lender: seizure, liquidation, write-downs).
"""

from __future__ import annotations

from collections import deque

import mesa
import numpy as np

from .investment import fundamental_price, gpu_npvs, roster_key, this_months_appraisals, used_gpu_values
from .lender import units_funded


class Neocloud(mesa.Agent):
    def __init__(self, model, name: str, eid: int, power_mw: float, relationship_lender: int,
                 optimism: float, size: float = 1.0, named: bool = True):
        super().__init__(model)
        self.name = name
        self.eid = eid
        self.power_mw = power_mw  # leased and owned capacity that can host GPUs
        self.owned_mw = 0.0  # of which data centres it built and owns (no lease)
        self.builds = False  # does it build part of its new capacity (one of the leaders, ``datacentres.builders``)
        self.pipeline: list[tuple[int, float]] = []  # leases signed: (month ready, MW)
        self.relationship_lender = relationship_lender
        self.optimism = optimism  # own weight on the extrapolating rule
        self.size = size
        self.named = named
        self.shares: dict[str, float] = {"founders and VCs": 1.0}
        self.valuation = 0.0
        self.revenue = 0.0
        self.revenue_history: deque = deque([0.0] * 12, maxlen=12)
        self.customer_history: deque = deque(maxlen=12)  # revenue by customer eid, month by month
        self.planned_units = 0.0
        self.speculative_h100e = 0.0  # smoothed speculative order, H100e/month
        self.wanted_gen = -1
        self.last_raise = -99
        self.last_round_valuation = 0.0  # pre-money valuation of its last equity round, US$bn
        self.alive = True
        self._syndicate = (None, None, [])  # (month, arranger, lenders): the month's syndicate, as first formed

    def open_month(self) -> None:
        self.commission_power()

    # --- capacity and costs ---------------------------------------------------------------------------
    @property
    def lender(self):
        return self.model.entity.get(self.relationship_lender)

    def capacity(self) -> float:
        """H100e serving compute (its live fleet)."""
        return self.model.fleet.capacity_by_owner[self.eid]

    def installing(self) -> float:
        """H100e delivered but not yet serving compute (``technology.deploy_months``)."""
        return self.model.fleet.installing_by_owner[self.eid]

    def coming(self) -> float:
        """H100e on its way: being installed or still on order."""
        return self.model.fleet.installing_by_owner[self.eid] + self.model.chips.on_order[self.eid]  # installing(), inlined

    def contracted(self) -> float:
        """H100e it has sold on term contracts, including forward contracts that have not started."""
        return self.model.contracts.signed_by_provider[self.eid]

    def unbuilt(self) -> float:
        """H100e it has sold on term contracts but not yet been delivered (some may be on order)."""
        return max(0.0, self.contracted() - self.capacity() - self.installing())

    def power_used(self) -> float:
        return self.model.fleet.power_by_owner[self.eid]

    def power_headroom_mw(self, by_month: int | None = None) -> float:
        """MW free now, or by ``by_month`` counting the power under construction that will be ready by then."""
        coming = 0.0 if by_month is None else sum([mw for t, mw in self.pipeline if t <= by_month])
        if self.builds and by_month is not None:
            coming += self.model.datacentres.ready_by(self.eid, by_month)
        return max(0.0, self.power_mw + coming - self.model.fleet.power_by_owner[self.eid])  # power_used(), inlined

    def hurdle_rate(self) -> float:
        m = self.model
        return m.sofr + m.p["lenders.spread_non_ig"] * m.p["neoclouds.hurdle_spread_share"] + m.p["neoclouds.equity_premium"]

    def full_cost_per_h100e(self, g: int, unit_price: float, utilisation: float) -> float:
        m = self.model
        gen = m.gens[g]
        return fundamental_price(unit_price / gen.perf, m.running_cost[g] / gen.perf, m.facility_cost[g] / gen.perf,
                                 self.hurdle_rate(), m.p["technology.accounting_life_months"], utilisation)

    def npv_per_gpu(self, g: int, unit_price: float) -> float:
        """NPV of a new GPU under this firm's own expectations and hurdle rate (see :func:`gpucredit.agents.investment.gpu_npv`);
        all neoclouds' NPVs are appraised together (:func:`gpucredit.agents.investment.gpu_npvs`), the first time one asks."""
        m = self.model
        hurdle = self.hurdle_rate()
        peers = m.neoclouds
        key = ("neoclouds", g, unit_price, hurdle, roster_key(m))
        appraisals = this_months_appraisals(m)
        npvs = appraisals.get(key)
        if npvs is None:
            values = gpu_npvs(m, g, unit_price, hurdle, [nc.optimism for nc in peers]).tolist()
            npvs = appraisals[key] = {nc.eid: v for nc, v in zip(peers, values)}
        return npvs[self.eid]

    def used_gpu_bid(self) -> tuple[np.ndarray, float, float] | None:
        """Its bid in the used-GPU market this month: what one GPU of each generation is worth to it (US$, see
        :func:`gpucredit.agents.investment.used_gpu_values`, under its own expectations and hurdle rate), the US$bn it
        would spend (``markets.used_budget_share`` of its cash above its buffer and what its chip orders will still
        cost) and the MW of power it has free to run them. None when it is in distress or has nothing to spend."""
        if not self.alive or self.in_distress():
            return None
        m = self.model
        free = m.ledger.cash[self.eid] - self.cash_buffer() - max(0.0, m.chips.on_order_cost(self.eid))
        budget = m.p["markets.used_budget_share"] * free
        power = self.power_headroom_mw()
        if budget <= 0 or power <= 0:
            return None
        hurdle = self.hurdle_rate()
        peers = m.neoclouds
        key = ("used_gpus", hurdle, roster_key(m))
        appraisals = this_months_appraisals(m)
        values = appraisals.get(key)
        if values is None:
            rows = used_gpu_values(m, hurdle, [nc.optimism for nc in peers])
            values = appraisals[key] = {nc.eid: row for nc, row in zip(peers, rows)}
        return values[self.eid], budget, power

    # --- contracts first ------------------------------------------------------------------------------
    def growth_room(self) -> float:
        """H100e a neocloud can add this month: fleet growth limit, on its fleet including what is on its way."""
        m, p, eid = self.model, self.model.p, self.eid
        g = m.newest_nvidia_gen
        coming = m.fleet.installing_by_owner[eid] + m.chips.on_order[eid]  # capacity() and coming(), inlined
        return p["neoclouds.max_growth"] * (m.fleet.capacity_by_owner[eid] + coming) + p["neoclouds.min_order"] * self.size * m.gens[g].perf

    def contract_offer(self, contract_price: float) -> float:
        """H100e of new term capacity offered at ``contract_price``."""
        if self.in_distress():
            return 0.0
        m = self.model
        capacity, contracted = self.capacity(), self.contracted()
        uncommitted = max(0.0, capacity - contracted)
        g = m.newest_nvidia_gen
        unit_price = m.nvidia.list_price(g)
        if contract_price < self.full_cost_per_h100e(g, unit_price, 1.0):
            return m.p["neoclouds.below_cost_offer_share"] * uncommitted
        # what it can add by the start of a forward contract (growth, power and financing, the customer's
        # prepayment paying part of the equity slice), less what it already sold but has not yet built. Growth
        # counts only the months in which it orders for the contract (from neoclouds.install_months before the
        # start) and an order still serves compute by the start (orders take nvidia.order_lead_months, installation
        # technology.deploy_months): capacity it could not order in time would have to be bought on spot.
        lead = m.p["contracts.lead_months"]
        ordering_from = min(lead, m.p["neoclouds.install_months"])  # it orders for a contract this close to the start
        order_months = max(1, ordering_from - m.p["nvidia.order_lead_months"] - m.p["technology.deploy_months"] + 1)
        prepaid = m.p["contracts.prepay_share"] * contract_price * 730.0 * m.p["contracts.term_months"] * m.gens[g].perf * 1e-9
        unbuilt = max(0.0, contracted - capacity - self.coming())  # not yet on its way either
        addable = self.financeable_units(g, unit_price, by_month=m.month + lead, months=order_months, prepaid=prepaid) * m.gens[g].perf
        return uncommitted + max(0.0, addable - unbuilt)

    # --- investment and financing ---------------------------------------------------------------------
    def in_distress(self) -> bool:
        return self.model.loans.in_breach(self.eid)

    def syndicate(self) -> list:
        """The lenders of its facility, in the order it draws on them: its relationship lender (the arranger,
        who sets the advance rate), then the ``lenders.syndicate_size`` - 1 other funds with the most capital.
        No relationship lender, no borrowing. Formed at its first call in a month and kept for the month (the
        ranking is the month's, :meth:`GPUEconomy.lenders_by_capital`); callers do not change the list."""
        m = self.model
        lender = m.entity.get(self.relationship_lender)
        if lender is None or not lender.alive:
            return []
        month, arranger, syndicate = self._syndicate  # formed once a month: the ranking is the month's
        if month == m.month and arranger is lender:
            return syndicate
        size = m.p["lenders.syndicate_size"]
        if size <= 1:
            syndicate = [lender]
        else:
            top = m.lenders_by_capital()[:size]  # the month's ranking, sorted once: the others are among these
            syndicate = [lender] + [l for l in top if l is not lender][:size - 1]
        self._syndicate = (m.month, lender, syndicate)
        return syndicate

    def advance_per_gpu(self, syndicate: list, g: int, unit_price: float) -> float:
        """US$bn its ``syndicate`` lends per new GPU of generation ``g``: the arranger's origination LTV times the
        lower of the price and the GPU's appraised value (nothing without a syndicate)."""
        if not syndicate:
            return 0.0
        return syndicate[0].origination_ltv() * min(unit_price, self.model.used_gpus.appraisal_per_gpu[g]) * 1e-9

    def financeable_units(self, g: int, unit_price: float, by_month: int | None = None, months: int = 1,
                          prepaid: float = 0.0) -> float:
        """GPUs of generation ``g`` it can pay for: the equity slice (price minus what the arranger
        advances against the appraised value) out of cash above its buffer; also bounded by power,
        growth and the syndicate's room. For capacity sold forward: power counted as of ``by_month`` (see
        :meth:`power_headroom_mw`), ``months`` of growth, and ``prepaid`` US$bn per GPU from the customer."""
        m = self.model
        eid, chips, perf = self.eid, m.chips, m.gens[g].perf
        syndicate = self.syndicate()
        advance = self.advance_per_gpu(syndicate, g, unit_price)
        # what it already has on order is paid for first: its loan advances and equity slices are spoken for
        on_order = chips.on_order[eid] / perf
        cash_free = m.ledger.cash[eid] - self.cash_buffer() - max(0.0, chips.on_order_cost(eid) - on_order * advance)
        equity_slice = unit_price * 1e-9 - advance - prepaid
        if equity_slice <= 0:
            units_cash = units_debt = units_funded(syndicate, eid, advance, on_order)
        else:
            units_cash = max(0.0, cash_free) / equity_slice
            units_debt = units_funded(syndicate, eid, advance, on_order, units_cash)
        both = min(units_debt, units_cash)  # GPUs its lenders and its cash both fund; the rest of its cash buys outright
        units_loan_limited = both + max(0.0, cash_free - both * equity_slice) / (unit_price * 1e-9)
        units_power = self.power_headroom_mw(by_month) * 1000.0 / m.facility_kw[g] - on_order
        units_growth = months * self.growth_room() / perf
        return max(0.0, min(units_loan_limited, units_power, units_growth))

    def cash_buffer(self) -> float:
        m = self.model
        debt = m.loans.debt_of(self.eid)
        return m.p["neoclouds.cash_buffer"] * debt + m.p["neoclouds.min_cash"] * self.size

    def plan_orders(self) -> None:
        """GPUs to order this month: enough to honour contracts, plus speculative capacity when a new GPU
        has a positive NPV; power is leased ahead with a lead time."""
        m = self.model
        self.planned_units = 0.0
        if self.in_distress():
            return
        g = m.newest_nvidia_gen
        gen = m.gens[g]
        unit_price = m.nvidia.list_price(g)
        shortfall = max(0.0, self.contracted_next() - self.capacity() - self.coming()) / gen.perf
        npv = self.npv_per_gpu(g, unit_price)
        # Tobin's q: speculative growth rises with q - 1 = NPV / price, up to the fastest growth it can manage,
        # and build-out plans are sticky (a partial adjustment of last month's speculative order, in H100e)
        q_gap = max(0.0, npv / unit_price)
        target = self.growth_room() * min(1.0, q_gap / m.p["neoclouds.q_sensitivity"])
        k = m.p["neoclouds.order_persistence"]
        self.speculative_h100e = k * self.speculative_h100e + (1.0 - k) * target
        speculative = self.speculative_h100e / gen.perf
        desired = shortfall + speculative
        self.planned_units = min(desired, self.financeable_units(g, unit_price))
        self.wanted_gen = g
        # forward contracts and GPUs on order need power too (GPUs being installed already draw theirs)
        unbuilt = max(self.unbuilt(), m.chips.on_order[self.eid]) / gen.perf
        self.plan_power(unbuilt + speculative, g, npv > 0 or unbuilt > 0)

    def contracted_next(self) -> float:
        return self.model.contracts.contracted_next_by_provider.get(self.eid, 0.0)

    def plan_power(self, desired_units: float, g: int, expanding: bool) -> None:
        """New capacity when what it wants to run over the lease lead time exceeds what it has and has coming, at most
        its current capacity (or 5 MW per unit size) at a time. A builder builds part of each block (:meth:`mw_to_build`,
        ready after ``datacentres.build_months``) and leases the rest (``neoclouds.power_lead_months``)."""
        m = self.model
        pipeline = sum([mw for _, mw in self.pipeline])
        if self.builds:
            pipeline += m.datacentres.building_mw(self.eid)
        need_mw = self.power_used() + desired_units * m.facility_kw[g] / 1000.0 * m.p["neoclouds.power_lead_months"]
        if expanding and need_mw > self.power_mw + pipeline:
            block = min(need_mw - self.power_mw - pipeline, max(self.power_mw, 5.0 * self.size))
            built = self.mw_to_build(block) if self.builds else 0.0
            if built > 0:
                m.datacentres.start(self, built)
            self.pipeline.append((m.month + m.p["neoclouds.power_lead_months"], block - built))

    def mw_to_build(self, block: float) -> float:
        """MW of a new ``block`` a builder builds: ``datacentres.build_share`` of it, at most what its cash above its buffer
        can fund the equity part of, after the equity still to come on the projects it has under way."""
        p = self.model.p
        equity_per_mw = (1.0 - p["datacentres.debt_share"]) * p["datacentres.cost_per_mw"]
        free = self.model.ledger.cash[self.eid] - self.cash_buffer() - self.model.datacentres.equity_to_come(self.eid)
        return max(0.0, min(p["datacentres.build_share"] * block, free / equity_per_mw if equity_per_mw > 0 else block))

    def commission_owned(self, mw: float) -> None:
        """A data centre it built is complete: ``mw`` MW it owns can host GPUs from now on."""
        self.power_mw += mw
        self.owned_mw += mw

    def commission_power(self) -> None:
        m = self.model
        ready = [mw for t, mw in self.pipeline if t <= m.month]
        self.power_mw += sum(ready)
        self.pipeline = [(t, mw) for t, mw in self.pipeline if t > m.month]

    def take_delivery(self, chipmaker, lots: list[tuple[int, float, float, float]]) -> float:
        """Pay for one delivery, ``lots`` of (generation, GPUs, list price per GPU, deposit applied in US$bn),
        with draws on its facility, the deposits and cash. The arranger's advance against the GPUs is drawn
        from the syndicate in turn (each lender up to its room); each lender's tranche is secured by its share
        of every lot. If it cannot pay for all of them it takes the same share of every lot, as much as its
        cash, deposits and advances cover. Returns that share (0-1)."""
        m = self.model
        syndicate = self.syndicate()
        eid = self.eid
        have = max(0.0, m.ledger.cash[self.eid])
        cost = sum([units * price for _, units, price, _ in lots]) * 1e-9
        net = cost - sum([lot[3] for lot in lots])  # still to pay, less the deposits applied
        advance = sum([units * self.advance_per_gpu(syndicate, g, price) for g, units, price, _ in lots])
        # its lenders' room: the arranger's, the others' only when it cannot fund the advance alone (else not drawn on)
        rooms = [syndicate[0].lending_room(eid)] if syndicate else []
        if rooms and not rooms[0] >= advance:
            rooms += [lender.lending_room(eid) for lender in syndicate[1:]]
        room = sum(rooms)
        share = 1.0
        if net - min(advance, room) > have + 1e-12:  # cannot pay in full: take fewer GPUs
            full_advance = have / (net - advance) if net > advance else 1.0
            share = min(1.0, full_advance if full_advance * advance <= room else (have + room) / net)
        if share * sum([lot[1] for lot in lots]) <= 1e-9:
            return 0.0
        remaining = min(share * advance, room)
        draws = []
        ig = self.ig_share()
        for lender, lender_room in zip(syndicate, rooms):  # one lender's draw leaves the others' room as it was
            draw = min(remaining, lender_room)
            if draw > 1e-6:
                loan = lender.facility_for(self)
                m.loans.draw(loan, draw, lender.spread(ig, self, draw), ig)
                draws.append((loan.id, draw))
                remaining -= draw
            if remaining <= 1e-6:
                break
        drawn = sum([d for _, d in draws])
        tranches = [(loan_id, draw / drawn) for loan_id, draw in draws] if draws else [(-1, 1.0)]
        m.chips.ship_lots(eid, chipmaker, [(g, share * units * part, price, loan_id, share * prepaid * part)
                                           for g, units, price, prepaid in lots for loan_id, part in tranches])
        return share

    def ig_share(self) -> float:
        """Share of its contracted capacity sold to investment-grade customers."""
        ig = self.model.contracts.ig_contracted_by_provider.get(self.eid, 0.0)
        total = self.contracted()
        return ig / total if total > 0 else 0.0

    # --- distress ----------------------------------------------------------------------------------------
    def service_debt(self) -> None:
        """Interest and amortisation on every facility; what cannot be paid is capitalised and opens a breach."""
        m = self.model
        # its open facilities with principal outstanding, oldest first, with the month's interest and amortisation (one
        # facility's payment leaves the others' terms as they are)
        loans, interests, amortisations = m.loans.dues(self.eid, m.month, m.sofr)
        for loan, interest, amort in zip(loans, interests, amortisations):
            due = interest + amort
            cash = m.ledger.cash[self.eid]
            if cash < due:
                self.sell_unpledged(due - cash)
                cash = m.ledger.cash[self.eid]
            paid_interest = min(interest, max(cash, 0.0))
            m.loans.pay_interest(loan, paid_interest)
            cash -= paid_interest
            paid_principal = min(amort, max(cash, 0.0))
            m.loans.repay(loan, paid_principal)
            missed = due - paid_interest - paid_principal
            if missed > 1e-9:
                # unpaid interest is capitalised (an expense now, a larger loan); unpaid principal stays due
                unpaid_interest = interest - paid_interest
                m.loans.capitalise_interest(loan, unpaid_interest)
                loan.missed += missed
                m.covenants.open_breach(loan, "missed_payment", missed)

    def sell_unpledged(self, amount: float) -> float:
        """Sell unencumbered GPUs (oldest first) to raise ``amount`` US$bn; a forced sale."""
        m = self.model
        return m.used_gpus.sell_for_cash(self.eid, m.fleet.rows_of(self.eid, pledged_to=-1), amount)

    def try_to_cure(self, loan) -> bool:
        """Pay arrears and pay down to the covenant LTV with cash, then by selling pledged GPUs."""
        m = self.model
        cash_free = max(0.0, m.ledger.cash[self.eid] - 0.002 * self.size)
        if loan.missed > 0:
            pay = min(loan.missed, cash_free)
            m.loans.repay(loan, pay)
            loan.missed -= pay
            cash_free -= pay
        target = loan.covenant_ltv * m.p["neoclouds.cure_target"] * loan.collateral_value
        excess = loan.principal - target
        if excess > 0:
            pay = min(excess, cash_free)
            m.loans.repay(loan, pay)
            excess -= pay
        if (excess > 1e-9 or loan.missed > 1e-9) and loan.ltv < 1.0:
            rows = m.fleet.rows_of(self.eid, pledged_to=loan.id)
            need = max(excess / max(1e-9, 1.0 - loan.covenant_ltv * m.p["neoclouds.cure_target"]), loan.missed)
            raised = m.used_gpus.sell_for_cash(self.eid, rows, need)
            pay = min(raised, loan.principal, m.ledger.cash[self.eid])
            m.loans.repay(loan, pay)
            loan.missed = max(0.0, loan.missed - pay)
            m.loans.mark(loan)
        return loan.missed <= 1e-9 and loan.ltv <= loan.covenant_ltv

    def pay_out_surplus(self) -> None:
        """Cash above twice its buffer and the equity slice of its planned build-out goes back to
        its shareholders, ``neoclouds.payout_rate`` of it a month (sponsors want their money back when it is not
        building): neoclouds stay lean, so a downturn bites."""
        m = self.model
        if m.month - self.last_raise < 12:  # a firm raising equity does not hand it back
            return
        g = m.newest_nvidia_gen
        ltv = self.lender.origination_ltv() if self.lender is not None else 0.0
        slice_ = m.nvidia.list_price(g) * 1e-9 * (1.0 - ltv)
        keep = m.p["neoclouds.payout_buffer_multiple"] * self.cash_buffer() + self.build_commitment(g) * slice_
        surplus = m.ledger.cash[self.eid] - keep
        if surplus > 0:
            m.ledger.pay(self.eid, m.ledger.sector("venture_and_public_equity"), m.p["neoclouds.payout_rate"] * surplus, "payout")

    # --- equity ------------------------------------------------------------------------------------------
    def value_firm(self) -> None:
        """Private valuation: a multiple of annualised revenue plus a quarter of the contract backlog,
        scaled by sentiment (no lower than zero)."""
        m = self.model
        annual = 4.0 * sum(list(self.revenue_history)[-3:])
        backlog = m.contracts.backlog_by_provider.get(self.eid, 0.0)
        p = m.p
        self.valuation = max(0.0, p["neoclouds.valuation_multiple"] * (1.0 + p["neoclouds.valuation_sentiment"] * m.sentiment)
                             * (annual + p["neoclouds.backlog_weight"] * backlog))

    def equity_need(self) -> float:
        """Cash it would like to raise: the equity slice of its planned build-out (see :meth:`build_commitment`),
        or a hole in its cash buffer."""
        m = self.model
        g = m.newest_nvidia_gen
        unit_price = m.nvidia.list_price(g) * 1e-9
        ltv = self.lender.origination_ltv() if self.lender is not None else 0.0
        slice_ = unit_price * (1.0 - ltv * 0.8)
        want = self.build_commitment(g) * slice_
        cash_free = max(0.0, m.ledger.cash[self.eid] - self.cash_buffer())
        hole = self.cash_buffer() - m.ledger.cash[self.eid]
        return max(want - cash_free, hole, 0.0)

    def build_commitment(self, g: int) -> float:
        """GPUs of generation ``g`` it plans to buy: those its signed contracts need beyond its fleet (forward
        contracts included) and six months of its smoothed speculative order, whether or not it could finance
        them this month."""
        months = self.model.p["neoclouds.build_plan_months"]
        return max(months * self.planned_units, (self.unbuilt() + months * self.speculative_h100e) / self.model.gens[g].perf)

    def growth_round(self, need: float) -> float:
        """A growth round: once its valuation has doubled since its last round (or it has never raised),
        investors, Nvidia among them, bid to buy in; a firm that is building out then sells
        ``neoclouds.growth_round_share`` of itself, more than it needs right now (a firm with nothing to
        build does not sell shares it would only pay back out). ``need`` is its :meth:`equity_need`."""
        if self.valuation < 2.0 * self.last_round_valuation or need <= 1e-4:
            return 0.0
        return self.model.p["neoclouds.growth_round_share"] * self.valuation

    def record_revenue(self) -> None:
        """Revenue is what it bills: contracts, spot sales, backstop and rent-back payments; spot capacity it buys to
        serve its contracts (``compute_cover``) is a cost of revenue, not netted from it."""
        m = self.model
        self.revenue = m.ledger.income_of(self.eid, "compute_contract", "compute_spot", "backstop", "rent_back")
        self.revenue_history.append(self.revenue)
        self.customer_history.append(dict(m.customer_payments.get(self.eid, {})))

    @property
    def customer_revenue(self) -> dict[int, float]:
        """Trailing 12-month revenue by customer eid (added up when asked for)."""
        totals: dict[int, float] = {}
        for month in self.customer_history:
            for c, v in month.items():
                totals[c] = totals.get(c, 0.0) + v
        return totals

    def top_customer_share(self) -> float:
        revenue = self.customer_revenue
        total = sum(revenue.values())
        if total <= 0:
            return 0.0
        named = {c: v for c, v in revenue.items() if c >= 0}
        return max(named.values(), default=0.0) / total

    def customer_hhi(self) -> float:
        revenue = self.customer_revenue
        total = sum(revenue.values())
        if total <= 0:
            return 0.0
        return float(sum((v / total) ** 2 for v in revenue.values()))


def optimism_draws(rng: np.random.Generator, n: int) -> np.ndarray:
    """Heterogeneous weights on the extrapolating rule (beta-distributed around one half)."""
    return rng.beta(3.0, 3.0, size=n)
