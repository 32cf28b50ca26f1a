"""Named agents and their state in January 2023 (approximate, from public reporting; sources in experiments/data/calibration_targets.toml).

Scenario files can rename or remove named agents with a ``[roster]`` table::

    [roster]
    remove = ["Fluidstack"]
    rename = { CoreWeave = "Neocloud A" }

GPU counts are (A100, H100) at the start; power in MW; cash in US$bn.
"""

from __future__ import annotations

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


def apply_roster(roster: dict | None):
    """Return (hyperscalers, neoclouds, lenders, labs) after a scenario's removals and renames."""
    roster = roster or {}
    remove = set(roster.get("remove", []))
    rename = dict(roster.get("rename", {}))
    known = {row[0] for group in (HYPERSCALERS, NEOCLOUDS, LENDERS, LABS) for row in group}
    unknown = (remove | set(rename)) - known
    if unknown:
        raise ValueError(f"roster: unknown agent(s) {sorted(unknown)}; named agents are {sorted(known)}")

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
