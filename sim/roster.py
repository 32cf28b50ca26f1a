"""Named agents and their state in January 2023 (approximate, from public reporting; sources in experiments/data/calibration_targets.toml).

Scenario files can rename or remove named agents with a ``[roster]`` table::

    [roster]
    remove = ["Fluidstack"]
    rename = { CoreWeave = "Neocloud A" }

A new name must be a non-empty string that no other agent carries: an agent's name is its identity in the
financial network and the event log, so a rename onto another agent's name would merge the two.

GPU counts are (A100, H100) at the start; power in MW; cash in US$bn.
"""

from __future__ import annotations

import re

from .inputs import InputError, agent_names

HYPERSCALERS = (  # name, weight in core cash flow and AI-services revenue, A100s, H100s
    ("Microsoft", 0.28, 320_000, 45_000),
    ("Google", 0.22, 180_000, 25_000),
    ("Amazon", 0.22, 220_000, 30_000),
    ("Meta", 0.18, 250_000, 35_000),
    ("Oracle", 0.10, 60_000, 10_000),
)

NEOCLOUDS = (  # name, A100s, H100s, power MW, cash, relationship lender, entry month
    ("CoreWeave", 6_000, 1_000, 45.0, 0.25, "Blackstone", 0),
    ("Lambda", 8_000, 1_000, 15.0, 0.10, "Macquarie", 0),
    ("Crusoe", 5_000, 500, 25.0, 0.10, "Upper90", 0),
    ("Nebius", 3_000, 0, 12.0, 0.50, "Pimco", 0),
    ("Fluidstack", 2_000, 0, 5.0, 0.03, "Macquarie", 0),
)

LENDERS = (  # name, size relative to lenders.fund_capital
    ("Blackstone", 2.0),
    ("Magnetar", 0.6),
    ("Pimco", 1.5),
    ("Carlyle", 1.0),
    ("BlackRock", 1.5),
    ("Macquarie", 1.2),
    ("Upper90", 0.3),
    ("Apollo", 1.5),
)

LABS = (  # name, share of lab revenue, cash US$bn
    ("OpenAI", 0.50, 8.0),
    ("Anthropic", 0.25, 1.5),
    ("xAI", 0.15, 0.8),
    ("Mistral", 0.10, 0.2),
)


# agents the population adds besides the roster (sim/population.py, sim/markets/compute.py): their names are taken
RESERVED_NAMES = ("Nvidia", "AMD and custom silicon", "AI start-ups", "spot exchange")
GENERATED_NAMES = re.compile(r"^(Credit fund|Small neocloud) \d+$")


class RosterError(InputError):
    """A [roster] table that removes or renames agents that do not exist, or would give two agents one name."""


def named_agents() -> list[str]:
    """Every agent the roster names, in the order hyperscalers, neoclouds, lenders, labs."""
    return [row[0] for group in (HYPERSCALERS, NEOCLOUDS, LENDERS, LABS) for row in group]


def validate_roster(roster: dict | None) -> tuple[set[str], dict[str, str]]:
    """Check a [roster] table; return (agents removed, renames). Raises :class:`RosterError` with one line."""
    roster = roster or {}
    if not isinstance(roster, dict) or set(roster) - {"remove", "rename"}:
        raise RosterError("[roster] accepts only 'remove' (a list of agent names) and 'rename' (a table old = new)")
    remove, rename = roster.get("remove", []), roster.get("rename", {})
    if not isinstance(remove, list) or not all(isinstance(n, str) for n in remove):
        raise RosterError(f"roster 'remove': {remove!r} is not a list of agent names; expected e.g. [\"Fluidstack\"]")
    if not isinstance(rename, dict):
        raise RosterError(f"roster 'rename': {rename!r} is not a table; expected e.g. {{ CoreWeave = \"Neocloud A\" }}")
    known = named_agents()
    unknown = (set(remove) | set(rename)) - set(known)
    if unknown:
        raise RosterError(f"roster: unknown agent(s) {sorted(unknown)}; named agents are {sorted(known)}")
    both = sorted(set(remove) & set(rename))
    if both:
        raise RosterError(f"roster: {both} both removed and renamed; expected each agent in one of them")
    try:
        final = agent_names([rename.get(n, n) for n in known if n not in remove], "roster 'rename'")
    except InputError as exc:
        raise RosterError(str(exc)) from None
    taken = sorted(n for n in final if n in RESERVED_NAMES or GENERATED_NAMES.match(n))
    if taken:
        raise RosterError(f"roster 'rename': '{taken[0]}' is the name of another agent of the model; expected a "
                          f"name other than {', '.join(RESERVED_NAMES)}, 'Credit fund N' and 'Small neocloud N'")
    return set(remove), dict(rename)


def apply_roster(roster: dict | None):
    """Return (hyperscalers, neoclouds, lenders, labs) after a scenario's removals and renames."""
    remove, rename = validate_roster(roster)

    def keep(group):
        return tuple((rename.get(r[0], r[0]),) + tuple(r[1:]) for r in group if r[0] not in remove)

    lenders = keep(LENDERS)
    lender_names = {r[0] for r in lenders}
    neoclouds = tuple(
        r[:5] + ((rename.get(r[5], r[5]) if r[5] not in remove else None),) + r[6:]
        for r in keep(NEOCLOUDS)
    )
    neoclouds = tuple(r if r[5] in lender_names else r[:5] + (None,) + r[6:] for r in neoclouds)
    return keep(HYPERSCALERS), neoclouds, lenders, keep(LABS)


LEAD_NEOCLOUD = "CoreWeave"  # the firm the lead-neocloud credit metrics follow


def lead_neocloud_name(roster: dict | None) -> str | None:
    """The lead neocloud's name after a scenario's renames (None if the scenario removes it)."""
    roster = roster or {}
    if LEAD_NEOCLOUD in set(roster.get("remove", [])):
        return None
    return dict(roster.get("rename", {})).get(LEAD_NEOCLOUD, LEAD_NEOCLOUD)
