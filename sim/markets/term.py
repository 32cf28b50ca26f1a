"""The term-contract market: labs and hyperscalers ask for term capacity, neoclouds and hyperscalers offer it, and
contracts are signed at the contract price, part prepaid.

* **Price.** Expected average spot price over the term x (1 + a term premium rising with sentiment), at most
  ``markets.contract_price_cap`` x the fundamental price (:func:`contract_price`).
* **Matching.** Hyperscalers' overflow requests first, then live labs in a random order; each buyer signs with its
  ``contracts.max_providers`` largest willing providers, pro rata to their offers (labs from neoclouds and
  hyperscalers, hyperscalers from neoclouds). Start-ups looking for a contract are matched to neoclouds at random,
  weighted by what is left of their offers.
* **Forward sales.** A neocloud sells what it has idle from this month and the rest forward, starting
  ``contracts.lead_months`` from now (the time to build the capacity); hyperscalers serve from their fleets at once.
"""

from __future__ import annotations

import math

import numpy as np

from ..technology import H



def contract_price(expected_path: np.ndarray, sentiment: float, term_premium: float,
                   term_premium_sentiment: float, fundamental: float = math.inf, cap: float = math.inf) -> float:
    """Contract price per H100e-hour = expected average spot over the term x (1 + term premium), the
    premium rising with sentiment (buyers pay up to lock in scarce capacity in a boom), but at most ``cap``
    x the ``fundamental`` price: no term buyer pays more than capacity built for it would cost."""
    premium = term_premium + term_premium_sentiment * sentiment
    return min(float(np.mean(expected_path)) * max(0.2, 1.0 + premium), cap * fundamental)


def draw_weighted(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """``k`` indices of ``weights`` (positive and finite) drawn with probabilities ``weights / weights.sum()``, with
    replacement: ``rng.choice(len(weights), size=k, p=weights / weights.sum())``'s draw, index for index and leaving the
    generator in the same state (its inverse-CDF draw: one uniform per index, searched in the normalised cumulative
    probabilities), without its checks of the probabilities (most of its ~30 us a call)."""
    cdf = (weights / weights.sum()).cumsum()
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(k), side="right")


class TermMarket:
    """The contract market's state: this month's contract price."""

    def __init__(self, economy, initial_price: float):
        self.economy = economy
        self.price = initial_price  # US$/H100e-hour of a new contract

    def post_price(self) -> float:
        """This month's contract price (:func:`contract_price` on the market's expected spot path over the term)."""
        m = self.economy
        p = m.p
        path = m.expectations.price_path(m.horizons[:p["contracts.term_months"]])
        self.price = contract_price(path, m.sentiment, p["markets.term_premium"], p["markets.term_premium_sentiment"],
                                    m.fundamental_price, p["markets.contract_price_cap"])
        return self.price

    def clear(self) -> None:
        """Buyers post the term capacity they want; providers offer; demand is filled pro rata to the remaining
        offers; contracts are signed at the contract price and part-prepaid."""
        m = self.economy
        p = m.p
        price = self.post_price()
        neo_offers = {nc.eid: nc.contract_offer(price) for nc in m.neoclouds}
        hyp_offers = {h.eid: h.contract_offer() for h in m.hyperscalers}
        requests = [(h, h.overflow_demand(), False) for h in m.hyperscalers]
        for k in (m.rng.permutation(len(m.labs)) if m.labs else []):
            lab = m.labs[k]
            if lab.alive:
                requests.append((lab, lab.contract_demand(price), True))
        for buyer, want, from_hyperscalers_too in requests:
            if want < p["contracts.min_request_h100e"]:
                continue
            sources = [neo_offers, hyp_offers] if from_hyperscalers_too else [neo_offers]
            self.match(buyer, want, price, sources, neo_offers)
        self.match_startups(price, neo_offers)
        m.contracts.refresh_books()

    def match(self, buyer, want: float, price: float, sources: list[dict], neo_offers: dict) -> None:
        """``buyer`` contracts with its few largest willing providers, pro rata to their offers (taken from ``sources``,
        dicts of provider eid -> H100e offered, reduced by what it signs)."""
        p = self.economy.p
        offers = sorted([(v, k, src) for src in sources for k, v in src.items() if v > 0 and k != buyer.eid],
                        key=lambda o: (-o[0], o[1]))[:p["contracts.max_providers"]]
        total = sum([v for v, _, _ in offers])
        if total <= 0:
            return
        take = 1.0 if want >= total else want / total
        grade = "ig" if buyer.grade == "ig" else "non_ig"
        kind = "overflow" if buyer in self.economy.hyperscalers else "compute"
        for v, k, src in offers:
            if v * take >= p["contracts.min_deal_h100e"] and self.sign_with_lead(buyer, k, v * take, price, grade, kind,
                                                                               src is neo_offers):
                src[k] -= v * take

    def sign_with_lead(self, buyer, provider_eid: int, qty: float, price: float, grade: str, kind: str,
                       from_neocloud: bool) -> bool:
        """A neocloud sells what it has idle from this month and the rest forward, starting
        ``contracts.lead_months`` from now (the time to build the capacity): it orders the GPUs ahead of the
        start and is paid once the capacity is live. Hyperscalers serve from their fleets at once."""
        m = self.economy
        register = m.contracts
        lead = m.p["contracts.lead_months"]
        smallest = m.p["contracts.min_deal_h100e"]
        if not from_neocloud or lead == 0:
            return register.sign(buyer, provider_eid, qty, price, grade, kind) is not None
        idle = max(0.0, m.fleet.capacity_by_owner[provider_eid] - register.signed_by_provider[provider_eid])
        now = min(qty, idle)
        signed = False
        if now >= smallest:
            signed = register.sign(buyer, provider_eid, now, price, grade, kind) is not None
            register.signed_by_provider[provider_eid] += now  # this month's later deals see it taken (rebuilt with the books)
        else:
            now = 0.0
        if qty - now >= smallest:
            signed |= register.sign(buyer, provider_eid, qty - now, price, grade, kind, start=m.month + lead) is not None
        return signed

    def match_startups(self, price: float, offers: dict[int, float]) -> None:
        """Start-ups looking for a contract each sign with one neocloud drawn at random, weighted by what is left of
        the offers; all are filled in the same proportion when offers fall short; a start-up that cannot pay the
        prepayment out of ``contracts.max_prepay_cash_share`` of its cash signs nothing."""
        m = self.economy
        s = m.startups
        if s.n == 0:
            return
        idx, want = s.contract_seekers(price)
        pool = {k: v for k, v in offers.items() if v > 0}
        total_offer = sum(pool.values())
        wanted = want.sum()
        if len(idx) == 0 or total_offer <= 0 or wanted <= 0:
            return
        # all filled when offers cover what is wanted (not min(1, offer / wanted): that overflows when little is wanted)
        fill = 1.0 if total_offer >= wanted else total_offer / wanted
        providers = np.array(list(pool.keys()))
        weights = np.array(list(pool.values()))
        chosen = providers[draw_weighted(m.rng, weights, len(idx))]
        term = m.contracts.terms(len(idx))
        qty = want * fill
        monthly = qty * price * H
        prepay = m.p["contracts.prepay_share"] * monthly * term
        ok = (prepay <= m.p["contracts.max_prepay_cash_share"] * np.maximum(s.cash[idx], 0.0)) & (qty > 1.0)
        m.contracts.sign_startups(idx[ok], chosen[ok], qty[ok], price, term[ok], prepay[ok])