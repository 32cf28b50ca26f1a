"""The compute spot market: contracts are served first, the rest of the capacity serving compute is offered on spot,
and buyers' price-elastic demand clears against it.

* **Contracts first.** Each provider serves its take-or-pay contracts with its most efficient GPUs (merit order by
  running cost per H100e); a provider whose fleet falls short buys the shortfall on spot (``compute_cover``).
* **Two-tier supply.** Uncommitted capacity is offered at its running cost; hyperscalers offer theirs only at or
  above a reservation price (``hyperscalers.reservation_markup`` x the fundamental price); their own workloads buy in
  the same pool. Capacity nobody buys, a hyperscaler's withheld capacity included, stands idle (``idle_h100e``): it
  earns nothing (except under a backstop) and pays no power.
* **Demand.** Labs, hyperscalers and start-ups want ``b / (p_ref x 730 h) x (p / p_ref)^-elasticity`` H100e for a
  compute budget ``b``, less what their contracts cover (:func:`spot_demand`).
* **Clearing.** The price that clears the market (a bisection on the log price), then a posted price that moves
  ``markets.price_adjustment`` of the way to it; trades go through a spot exchange whose cash is zero after
  settlement; capacity is used in merit order.
* **Generations as imperfect substitutes.** The clearing price is the market's price index per H100e-hour. Buyers
  spread their compute over the generations with a constant elasticity of substitution
  (``markets.generation_substitution``), so each generation's rent per H100e clears its own market: a generation in
  short supply (a new one ramping, an old one mostly retired) rents above the index, an abundant one below it
  (:func:`generation_premia`). Spot sellers are paid by their generation's rent, so the H100's and the H200's rents
  can move by different percentages.
* **Running costs** follow what runs: power and operations for active GPUs; data-centre leases.
"""

from __future__ import annotations

import bisect
import math
import sys

import numpy as np

from ..ledger import AccountingError
from ..technology import BN, H, HOURS_PER_MONTH

# The exchange pays each seller its pro-rata share of what it received; the shares add up to the whole only up to
# float rounding (a few 1e-16 of it per seller), so what is left must be small relative to the amount settled
# (an absolute US$1 would stop a large economy on rounding alone).
SETTLEMENT_TOLERANCE = 1e-9


def reference_demand(budgets: np.ndarray, reference_price: float) -> np.ndarray:
    """H100e each buyer wants in total at the reference price: ``b / (p_ref x 730 h)`` for a compute budget
    ``b`` (US$bn/month). It does not depend on the price, so a clearing search computes it once."""
    return budgets * BN / (reference_price * HOURS_PER_MONTH)


def spot_demand(price: float, budgets: np.ndarray, contracted: np.ndarray, elasticity: float,
                reference_price: float, at_reference: np.ndarray | None = None) -> np.ndarray:
    """Each buyer's spot demand in H100e at ``price`` (US$/H100e-hour).

    A buyer with compute budget ``b`` (US$bn/month) wants ``b / (p_ref x 730 h) x (p / p_ref)^-elasticity``
    H100e in total; what its take-or-pay contracts already cover is not bought on spot. ``at_reference`` is
    :func:`reference_demand` of ``budgets``, when already computed.
    """
    if at_reference is None:
        at_reference = reference_demand(budgets, reference_price)
    total = at_reference * (price / reference_price) ** (-elasticity)
    return np.maximum(total - contracted, 0.0)


class SpotDemandCurve:
    """Total spot demand of all buyers (the sum of :func:`spot_demand`) as a function of the price, quick to
    evaluate many times in a clearing search, with a bound on its rounding error.

    A buyer with reference demand ``a`` and contracts ``c`` buys ``a f - c`` on spot when the price factor
    ``f = (p / p_ref)^-elasticity`` exceeds ``c / a``, nothing otherwise. With the buyers sorted by that
    threshold, the total at any price is ``f A - C`` (the sums of ``a`` and ``c`` over the buyers still buying),
    found by bisection on the thresholds. It differs from the buyer-by-buyer sum only by rounding, at most
    :meth:`total`'s bound, so a search can rely on its sign wherever it is further than that from zero."""

    def __init__(self, at_reference: np.ndarray, contracted: np.ndarray, elasticity: float, reference_price: float):
        self.elasticity, self.reference_price = elasticity, reference_price
        buying = (at_reference > 0).nonzero()[0]  # the others never buy on spot (as long as their contracts are not negative)
        a, c = at_reference.take(buying), contracted.take(buying)
        threshold = c / a
        order = np.argsort(threshold)
        self.threshold = threshold.take(order)  # searched with ndarray.searchsorted: no list of every buyer's threshold
        # sums over the first k buyers in threshold order (those buying at a factor above all their thresholds), each
        # a cumulative sum written after a leading zero
        self.a_upto, self.c_upto = np.zeros(len(a) + 1), np.zeros(len(a) + 1)
        np.cumsum(a.take(order), out=self.a_upto[1:])
        np.cumsum(c.take(order), out=self.c_upto[1:])
        # (no contracts negative at all, or none among those who never buy)
        exact = contracted.min(initial=0.0) >= 0 or not (contracted[~(at_reference > 0)] < 0).any()
        # rounding of the sorted sums and of the buyer-by-buyer sum: a few units in the last place per buyer
        self.relative_error = 4.0 * (len(contracted) + 8) * sys.float_info.epsilon if exact else math.inf
        self.total_a, self.total_c = float(self.a_upto[-1]), float(self.c_upto[-1])
        self.k = 0  # buyers buying at the last price asked (a bisection's later prices mostly share it)

    def buying(self, f: float) -> int:
        """How many buyers buy at price factor ``f``: the thresholds below it (``threshold.searchsorted(f)``). The count
        at the last price asked when it is still right (the threshold before it below ``f``, the one at it not; in the
        sorted thresholds only that count is), else searched."""
        k, threshold = self.k, self.threshold
        if (k == 0 or threshold.item(k - 1) < f) and (k == len(threshold) or f <= threshold.item(k)):
            return k
        self.k = k = int(threshold.searchsorted(f))
        return k

    def total(self, price: float) -> tuple[float, float]:
        """Total spot demand at ``price`` and a bound on its difference from ``spot_demand(...).sum()``."""
        f = (price / self.reference_price) ** (-self.elasticity)
        k = self.buying(f)  # the first k buyers buy on spot (up to rounding at the threshold)
        return f * self.a_upto.item(k) - self.c_upto.item(k), self.relative_error * (f * self.total_a + self.total_c)


def spot_supply(price: float, available: np.ndarray, cost: np.ndarray) -> float:
    """H100e offered at ``price``: uncommitted capacity whose running cost per H100e-hour is covered."""
    return float(available[cost <= price].sum())


class SpotSupplyCurve:
    """:func:`spot_supply` as a function of the price, quick to evaluate many times in a clearing search: the capacity
    offered changes only where the price crosses a tier's running cost, so the sum for each set of tiers offered is
    taken once (the same sum, number for number)."""

    def __init__(self, available: np.ndarray, cost: np.ndarray):
        self.available, self.cost = available, cost
        self.sorted_cost = np.sort(cost).tolist()
        self.by_tiers: dict[int, float] = {}  # number of tiers offered -> H100e offered

    def total(self, price: float) -> float:
        """H100e offered at ``price``."""
        tiers = bisect.bisect_right(self.sorted_cost, price)  # those whose cost is covered
        offered = self.by_tiers.get(tiers)
        if offered is None:
            offered = self.by_tiers[tiers] = spot_supply(price, self.available, self.cost)
        return offered


def clearing_price(budgets, contracted, available, cost, elasticity, reference_price,
                   low: float = 0.01, high: float = 500.0) -> float:
    """Price at which spot demand equals spot supply (bisection on log price; demand falls and supply
    rises with the price, so the excess-demand function crosses zero once)."""
    at_reference = reference_demand(budgets, reference_price)
    lo, hi = math.log(low), math.log(high)
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        p = math.exp(mid)
        excess = (spot_demand(p, budgets, contracted, elasticity, reference_price, at_reference).sum()
                  - spot_supply(p, available, cost))
        if excess > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def fill_merit_order(quantity: float, available: np.ndarray, cost: np.ndarray, price: float) -> np.ndarray:
    """Share of each generation's uncommitted capacity sold when ``quantity`` H100e are demanded:
    the cheapest capacity per H100e-hour is used first (merit order by efficiency); capacity whose
    running cost exceeds the price is idle; the marginal generation is shared pro rata among owners."""
    fill = np.zeros_like(available)
    remaining = quantity
    capacity, unit_cost = available.tolist(), cost.tolist()
    for g in np.argsort(cost, kind="stable").tolist():
        if unit_cost[g] > price or remaining <= 0 or capacity[g] <= 0:
            continue
        used = min(capacity[g], remaining)
        fill[g] = used / capacity[g]
        remaining -= used
    return fill


def generation_premia(in_use: np.ndarray, released: np.ndarray, substitution: float, floor_share: float) -> np.ndarray:
    """Each generation's rent per H100e relative to the market's price index, given the H100e of each generation in use
    (``in_use``): with constant-elasticity demand across generations (elasticity of substitution ``substitution``),
    buyers take a generation's H100e-hours in proportion to ``(rent / index)^-substitution``, so the rents that clear
    every generation's market stand in the ratios ``in_use^(-1/substitution)``. Scaled so that their average weighted
    by use is 1 (the index); 0 for generations not yet released; all 1 when nothing is in use. A generation with
    (almost) nothing in use would rent at an unbounded price under such demand: each counts as having at least
    ``floor_share`` of the average generation's use in use (``markets.generation_floor_share``), which bounds a new
    generation's launch premium and an old one's scarcity premium."""
    premia = np.zeros(len(in_use))
    used = in_use[released]  # (the released generations' use, gathered once)
    total = float(used.sum())
    if total <= 0.0 or not len(used):
        premia[released] = 1.0
        return premia
    floor = floor_share * total / len(used)
    raw = np.maximum(used, floor) ** (-1.0 / substitution)
    premia[released] = raw / float((raw * used).sum() / total)
    return premia


def posted_price(previous: float, clearing: float, adjustment: float) -> float:
    """Rental prices are posted and move part of the way to the clearing price each month."""
    return math.exp((1.0 - adjustment) * math.log(previous) + adjustment * math.log(clearing))


class SpotMarket:
    """The spot market's state: the posted and clearing prices, utilisation and the capacity each cohort runs."""

    def __init__(self, economy, initial_price: float):
        self.economy = economy
        self.price = initial_price  # posted spot price, US$/H100e-hour
        self.clearing_price = initial_price
        self.expected_utilisation = 0.8
        self.utilisation = 0.0
        self.idle_h100e = 0.0  # live capacity that ran nothing this month
        self.in_use_h100e = 0.0  # live capacity that ran contracts, spot sales or its owner's workloads this month
        self.premia = np.zeros(0)  # each generation's posted rent per H100e relative to the price index (0 before release)
        self.cohort_active = np.zeros(0)  # H100e each cohort runs this month (contracts, spot, internal use)
        self.exchange = economy.ledger.register("spot exchange", "spot_exchange")  # all spot payments pass through it
        self._cost_rank = None
        self._relative_rents = None  # (the premia posted, relative_rents() of them)

    def cost_rank(self) -> np.ndarray:
        """Each generation's rank by running cost per H100e (equal costs, equal ranks), fixed for the run."""
        if self._cost_rank is None:
            m = self.economy
            self._cost_rank = np.unique(m.running_cost / m.perf, return_inverse=True)[1]
        return self._cost_rank

    # --- contracts first ---------------------------------------------------------------------------------
    def serve_contracts(self, owner: np.ndarray, gen: np.ndarray, h100e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Capacity each cohort uses for its owner's contracts (each provider's most efficient GPUs first, see
        :meth:`merit_fill`), and each owner's shortfall (H100e it must buy on spot to serve them)."""
        m = self.economy
        committed = m.contracts.contracted_by_provider
        used_contract = self.merit_fill(owner, gen, h100e, committed)
        shortfall = np.maximum(committed - np.bincount(owner, weights=h100e, minlength=len(committed)), 0.0)
        return used_contract, shortfall

    def merit_fill(self, owner: np.ndarray, gen: np.ndarray, h100e: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Capacity each cohort uses when each owner needs ``need[owner]`` H100e of its own ``h100e``: its most efficient
        GPUs first (rows by owner, then by running cost per H100e, ties in their fleet order, sorted on one
        small-integer key, the rank of the generation's cost)."""
        n = len(owner)
        cost_rank = self.cost_rank()
        key = owner * len(cost_rank) + cost_rank[gen]
        order = np.argsort(key.astype(np.uint16) if n and key.max() < 2**16 else key, kind="stable")  # 16 bits: radix sort
        cap_sorted = h100e[order]
        own_sorted = owner[order]
        cum = np.cumsum(cap_sorted)
        group_start_cum = np.zeros(n)
        if n:
            starts = np.concatenate(([0], (own_sorted[1:] != own_sorted[:-1]).nonzero()[0] + 1))  # each owner's first row
            before = np.concatenate(([0.0], cum[:-1]))
            rows_each = np.concatenate((starts[1:], [n])) - starts
            group_start_cum = np.repeat(before[starts], rows_each)  # the running total before each owner's first row
        within = cum - group_start_cum
        wanted = need[own_sorted] if n else np.zeros(0)
        used_sorted = np.minimum(np.maximum(wanted - (within - cap_sorted), 0.0), cap_sorted)  # np.clip's values
        used = np.zeros(n)
        used[order] = used_sorted
        return used

    # --- clearing ----------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Clear this month's spot market and settle it; set utilisation and the capacity each cohort runs."""
        m = self.economy
        p, fleet = m.p, m.fleet
        owner, gen, count = fleet.view("owner"), fleet.view("gen"), fleet.view("count")
        # (each cohort's H100e per GPU is its generation's performance, kept on the cohort: no gather by generation)
        h100e = count * fleet.view("h100e_per_gpu") * fleet.live_rows(m.month)  # GPUs being installed serve nothing
        used_contract, shortfall = self.serve_contracts(owner, gen, h100e)
        free = h100e - used_contract
        # spot supply by generation, in two tiers: other owners offer uncommitted capacity at its running cost;
        # hyperscalers rent out theirs only at or above their reservation price (every hour rented out must be
        # replaced at full cost); their own workloads buy in the same pool; capacity nobody buys stands idle
        n_gen = len(m.gens)
        is_hyperscaler = np.zeros(len(m.ledger.names), dtype=bool)
        is_hyperscaler[[h.eid for h in m.hyperscalers]] = True
        hyp_row = is_hyperscaler[owner]
        gen_cost = m.running_cost / m.perf
        reservation = p["hyperscalers.reservation_markup"] * m.fundamental_price
        tier = gen + n_gen * hyp_row  # each cohort's supply tier: its generation, a hyperscaler's in the second half
        available = np.bincount(tier, weights=free, minlength=2 * n_gen)  # (each tier's rows, added in row order)
        tier_cost = np.concatenate([gen_cost, np.maximum(gen_cost, reservation)])
        labs = [l for l in m.labs if l.alive]
        budgets, contracted = self.buyers(labs)
        fixed = float(shortfall.sum())
        el, ref = p["demand.price_elasticity"], p["demand.reference_price"]
        at_reference = reference_demand(budgets, ref)
        self.clearing_price = self.search(budgets, contracted, at_reference, available, tier_cost, fixed)
        price = posted_price(self.price, self.clearing_price, p["markets.price_adjustment"])
        self.price = price
        demand_each = spot_demand(price, budgets, contracted, el, ref, at_reference)
        demand = demand_each.sum() + fixed
        supply = spot_supply(price, available, tier_cost)
        traded = min(demand, supply)
        fill_buyers = traded / demand if demand > 0 else 0.0
        tier_fill = fill_merit_order(traded, available, tier_cost, price)
        sold = free * tier_fill[tier]
        active = used_contract + sold
        self.idle_h100e = float(np.maximum(h100e - active, 0.0).sum())  # by cohort: no negative rounding remainder
        self.in_use_h100e = float(active.sum())
        # (the rows' sum can pass 1 by rounding)
        self.utilisation = min(1.0, self.in_use_h100e / float(max(h100e.sum(), 1e-9)))
        in_use_by_gen = np.bincount(gen, weights=active, minlength=n_gen)
        self.expected_utilisation = 0.8 * self.expected_utilisation + 0.2 * min(0.95, max(0.3, self.utilisation))
        self.cohort_active = active
        self.post_generation_rents(in_use_by_gen, np.bincount(gen, weights=sold, minlength=n_gen))
        self.settle(labs, demand_each * fill_buyers * price * H, shortfall * fill_buyers * price * H, owner, sold * self.premia[gen])

    def post_generation_rents(self, in_use: np.ndarray, sold: np.ndarray) -> None:
        """Each generation's rent relative to the price index (:func:`generation_premia` of what each generation runs),
        posted part of the way from last month's like the index itself (a newly released generation's at once), then
        scaled so that the spot capacity sold earns the index on average (what buyers pay is what sellers receive)."""
        m = self.economy
        released = m.release <= m.month
        target = generation_premia(in_use, released, m.p["markets.generation_substitution"],
                                   m.p["markets.generation_floor_share"])
        previous = self.premia if len(self.premia) == len(target) else np.zeros(len(target))
        adjustment = m.p["markets.price_adjustment"]
        posted = np.where(previous > 0, np.exp((1.0 - adjustment) * np.log(np.where(previous > 0, previous, 1.0))
                                               + adjustment * np.log(np.where(target > 0, target, 1.0))), target)
        posted[~released] = 0.0
        sold_total = sold.sum()
        weights, weight = (sold, sold_total) if sold_total > 0 else (in_use, in_use.sum())
        if weight > 0:
            posted = posted / float((posted * weights).sum() / weight)
        self.premia = posted

    def relative_rents(self) -> np.ndarray:
        """Each generation's rent per H100e relative to the price index: the posted premia, 1 for a generation not yet
        released or before the first clearing (what it would rent at if it were as common as the average one)."""
        n = len(self.economy.gens)
        if len(self.premia) != n:
            return np.ones(n)
        cached = self._relative_rents  # (premia posted, the rents): asked several times a month, posted once
        if cached is None or cached[0] is not self.premia:
            rents = np.where(self.premia > 0, self.premia, 1.0)
            rents.flags.writeable = False  # shared by every caller until the next posting
            cached = self._relative_rents = (self.premia, rents)
        return cached[1]

    def rents(self) -> np.ndarray:
        """Spot rent of one GPU of each generation, US$/GPU-hour (0 before its release)."""
        m = self.economy
        return np.where(m.release <= m.month, self.price * self.relative_rents() * m.perf, 0.0)

    def buyers(self, labs: list) -> tuple[np.ndarray, np.ndarray]:
        """Compute budgets (US$bn/month) and contracted H100e of the spot buyers: live labs, hyperscalers, start-ups."""
        m = self.economy
        books = m.contracts.contracted_by_customer
        s = m.startups
        budgets = np.concatenate([[l.budget for l in labs], [h.budget for h in m.hyperscalers], s.budget])
        contracted = np.concatenate([[books.get(l.eid, 0.0) for l in labs],
                                     [books.get(h.eid, 0.0) for h in m.hyperscalers], s.contracted()])
        return budgets, contracted

    def search(self, budgets, contracted, at_reference, available, tier_cost, fixed: float) -> float:
        """The clearing price: 40 bisections on the log price between US$0.01 and US$500 per H100e-hour."""
        p = self.economy.p
        el, ref = p["demand.price_elasticity"], p["demand.reference_price"]
        curve = SpotDemandCurve(at_reference, contracted, el, ref)
        supply_curve = SpotSupplyCurve(available, tier_cost)

        def excess(price):
            """Excess demand at ``price``; where it is so close to zero that rounding could decide its sign,
            summed buyer by buyer (so the search takes the same path as with that sum throughout)."""
            supply = supply_curve.total(price)
            demand, error = curve.total(price)
            if abs(demand + fixed - supply) > error:
                return demand + fixed - supply
            return spot_demand(price, budgets, contracted, el, ref, at_reference).sum() + fixed - supply

        lo, hi = math.log(0.01), math.log(500.0)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if excess(math.exp(mid)) > 0:
                lo = mid
            else:
                hi = mid
        return math.exp(0.5 * (lo + hi))

    def settle(self, labs: list, spend: np.ndarray, cover: np.ndarray, owner: np.ndarray, sold: np.ndarray) -> None:
        """Spot payments through the exchange: buyers pay for what they bought (``spend``, US$bn, as far as their cash
        goes; hyperscalers issue bonds within their leverage limit), providers pay for the capacity they buy to serve contracts (``cover``), and the
        exchange pays the sellers pro rata to the H100e they sold (``sold``: H100e by cohort, weighted by its generation's
        rent relative to the index)."""
        m = self.economy
        led = m.ledger
        s = m.startups
        n_l, n_h = len(labs), len(m.hyperscalers)
        for k, lab in enumerate(labs):
            amount = min(spend[k], max(led.cash[lab.eid], 0.0))
            led.pay(lab.eid, self.exchange, amount, "compute_spot")
            spend[k] = amount
        for k, h in enumerate(m.hyperscalers):
            spend[n_l + k] = h.ensure_cash(spend[n_l + k], obligation=False)  # within its leverage limit
            led.pay(h.eid, self.exchange, spend[n_l + k], "compute_spot")
        s_spend = np.minimum(spend[n_l + n_h:], np.maximum(s.cash, 0.0))
        s.cash -= s_spend
        led.pay(s.eid, self.exchange, float(s_spend.sum()), "compute_spot")
        cover_each = cover.tolist()
        for eid in (cover > 0).nonzero()[0].tolist():
            led.pay(eid, self.exchange, cover_each[eid], "compute_cover")
        received = led.cash[self.exchange]
        seller_units = np.bincount(owner, weights=sold, minlength=len(led.names))
        total_units = seller_units.sum()
        if total_units > 0 and received > 0:  # (received can be a rounding remainder of last month's settlement)
            sellers = (seller_units > 0).nonzero()[0]
            amounts = received * seller_units[sellers] / total_units  # (each as the scalar product and quotient)
            payments = m.customer_payments
            # each amount stays a numpy float in the revenue by customer: Python's sum() adds plain floats with
            # compensation and numpy floats without, and the neoclouds' customer shares are sums of these
            for eid, amount in zip(sellers.tolist(), amounts):
                led.pay(self.exchange, eid, amount, "compute_spot")
                payments[eid][-1] += amount
        leftover = led.cash[self.exchange]
        if abs(leftover) > SETTLEMENT_TOLERANCE * max(1.0, abs(received)):
            raise AccountingError(f"step {m.month} ({m.date}): spot exchange left with {leftover:.9f} US$bn of the "
                                  f"{received:.9f} US$bn it received")

    # --- running costs -----------------------------------------------------------------------------------
    def pay_running_costs(self) -> None:
        """Power and operations for the GPUs that ran this month; data-centre leases (neoclouds: the MW they lease,
        not the data centres they own, and their overhead; other owners: per GPU)."""
        m = self.economy
        led, fleet = m.ledger, m.fleet
        owner, gen, count = fleet.view("owner"), fleet.view("gen"), fleet.view("count")
        util_sector = led.sector("utilities_and_data_centres")
        gpus_run = self.cohort_active / fleet.view("h100e_per_gpu")  # (its generation's performance, kept on the cohort)
        running = np.bincount(owner, weights=gpus_run * m.running_cost[gen] * H, minlength=len(led.names))
        facility = np.bincount(owner, weights=count * m.facility_cost[gen] * H, minlength=len(led.names))
        neo = {nc.eid for nc in m.neoclouds}
        running_each, facility_each = running.tolist(), facility.tolist()
        for eid in (running > 0).nonzero()[0].tolist():
            led.pay(eid, util_sector, running_each[eid], "power_and_operations")
        power_cost, overhead_per_size = m.p["neoclouds.power_cost"], m.p["neoclouds.overhead"]
        staff = led.sector("staff_and_services")
        for nc in m.neoclouds:
            led.pay(nc.eid, util_sector, (nc.power_mw - nc.owned_mw) * power_cost * 1e-3, "data_centre_lease")
            led.pay(nc.eid, staff, overhead_per_size * nc.size, "operating_expense")
        for eid in (facility > 0).nonzero()[0].tolist():
            if eid not in neo:
                led.pay(eid, util_sector, facility_each[eid], "data_centre_lease")
