"""The economy's population in January 2023: the named agents of the roster (:mod:`.roster`, after a scenario's
removals and renames) and the generated ones (small neoclouds, generic lenders, the start-up population), with
their opening cash and GPU fleets. Every random draw comes from the model's generator, in a fixed order."""

from __future__ import annotations

from ..agents.labs import Lab
from ..agents.startups import StartupPopulation
from ..agents.chipmaker import Chipmaker
from ..agents.hyperscaler import Hyperscaler
from ..agents.lender import Lender
from ..agents.neocloud import Neocloud, optimism_draws
from .calendar import rival_share
from .roster import apply_roster
from .technology import BN

# opening balance sheets, US$bn (named agents' cash is in the roster)
NVIDIA_OPENING_CASH = 15.0
RIVAL_OPENING_CASH = 5.0
INITIAL_PRICE_SHARE = 0.9  # opening fleets were bought at this share of their generation's launch price


def build_population(economy, roster) -> None:
    """Create every agent of ``economy`` and its opening state (the order of creation fixes the entity ids and the
    order of the random draws)."""
    m = economy
    p, led, rng = m.p, m.ledger, m.rng
    hyperscalers, neoclouds, lenders, labs = apply_roster(roster)
    scale = p["population.scale"]
    h100 = m.gen_index("H100")
    a100 = m.gen_index("A100")

    m.nvidia = Chipmaker(m, "Nvidia", "nvidia", led.register("Nvidia", "chipmaker", cash=NVIDIA_OPENING_CASH), p["nvidia.initial_capacity"])
    m.rival = Chipmaker(m, "AMD and custom silicon", "rival", led.register("AMD and custom silicon", "chipmaker", cash=RIVAL_OPENING_CASH), 0.0)
    share = rival_share(p, m.month)
    m.rival.capacity = m.nvidia.capacity * share / (1.0 - share)
    for c in (m.nvidia, m.rival):
        m.entity[c.eid] = c

    m.lenders = []
    for name, size in lenders:
        add_lender(m, name, p["lenders.fund_capital"] * size)
    for k in range(p["population.extra_lenders"]):
        add_lender(m, f"Credit fund {k + 1}", p["lenders.fund_capital"] * float(rng.lognormal(-0.5, 0.5)))

    m.hyperscalers = []
    for name, weight, n_a100, n_h100 in hyperscalers:
        cash = p["hyperscalers.cash_months"] * p["hyperscalers.core_cash_flow"] * weight
        h = Hyperscaler(m, name, led.register(name, "hyperscaler", cash=cash), weight)
        m.entity[h.eid] = h
        m.hyperscalers.append(h)
        initial_gpus(m, h.eid, a100, n_a100)
        initial_gpus(m, h.eid, h100, n_h100)

    m.neoclouds = []
    m.defunct = []
    m.failed_lenders = []  # credit funds that failed (sim/credit/lender_failure.py)
    lender_by_name = {l.name: l for l in m.lenders}
    optimism = optimism_draws(rng, len(neoclouds) + p["population.small_neoclouds"])
    for k, (name, n_a100, n_h100, mw, cash, lender_name, _entry) in enumerate(neoclouds):
        lender = lender_by_name.get(lender_name) if lender_name else None
        add_neocloud(m, name, n_a100, n_h100, mw, cash, lender, optimism[k], 1.0, True)
    for k in range(p["population.small_neoclouds"]):
        size = float(rng.lognormal(-1.3, 0.7)) * scale
        lender = m.lenders[int(rng.integers(len(m.lenders)))] if m.lenders else None
        add_neocloud(m, f"Small neocloud {k + 1}", 4000 * size, 500 * size, 8.0 * size, 0.03 * size,
                     lender, optimism[len(neoclouds) + k], size, False)

    m.labs = []
    for name, weight, cash in labs:
        lab = Lab(m, name, led.register(name, "lab", cash=cash), weight)
        m.entity[lab.eid] = lab
        m.labs.append(lab)

    m.startups = StartupPopulation(m, led.register("AI start-ups", "startups", cash=0.0), p["population.startups"], scale)
    m.entity[m.startups.eid] = m.startups


def add_lender(economy, name: str, capital: float) -> None:
    m = economy
    lender = Lender(m, name, m.ledger.register(name, "lender", cash=capital))
    m.entity[lender.eid] = lender
    m.lenders.append(lender)


def add_neocloud(economy, name, n_a100, n_h100, mw, cash, lender, optimism, size, named) -> None:
    """A neocloud with its opening fleet; without a relationship lender it banks with the largest one."""
    m = economy
    led = m.ledger
    if lender is None and m.lenders:
        lender = max(m.lenders, key=lambda l: l.capital())
    eid = led.register(name, "neocloud", cash=cash)
    nc = Neocloud(m, name, eid, mw, lender.eid if lender else -1, float(optimism), size, named)
    m.entity[eid] = nc
    m.neoclouds.append(nc)
    initial_gpus(m, eid, m.gen_index("A100"), n_a100)
    initial_gpus(m, eid, m.gen_index("H100"), n_h100)


def initial_gpus(economy, eid: int, g: int, count: float) -> None:
    """GPUs held at the start, bought at ``INITIAL_PRICE_SHARE`` of the launch price at the generation's release plus
    six months (or a month before the start), with book value net of straight-line depreciation; the owner's equity
    rises by it."""
    if count <= 0:
        return
    m = economy
    gen = m.gens[g]
    vintage = min(gen.release + 6, -1)
    cost = count * gen.launch_price * INITIAL_PRICE_SHARE / BN
    life = m.p["technology.accounting_life_months"]
    book = cost * max(0.0, 1.0 - (-vintage) / life)
    i = m.fleet.produce(eid, g, vintage, count, cost)
    m.ledger.move_gpus(m.ledger.sector("foundry_and_suppliers"), eid, count, "opening_fleet")
    m.fleet.book[i] = book
    m.ledger.equity[eid] += book
