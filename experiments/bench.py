"""Speed benchmark (prints figures; never a timed test): the baseline run and a large economy
(200 neoclouds, 50 lenders, 10,000 start-ups), each 120 months, in-process."""

from __future__ import annotations

import time

from sim import GPUEconomy


def time_run(repeats: int = 3, **kwargs) -> tuple[float, int]:
    best = float("inf")
    agent_steps = 0
    for r in range(repeats):
        start = time.perf_counter()
        model = GPUEconomy(rng=r, **kwargs)
        while model.running:
            model.step()
        best = min(best, time.perf_counter() - start)
        n_agents = (len(model.neoclouds) + len(model.defunct) + len(model.lenders) + len(model.hyperscalers)
                    + len(model.labs) + 2 + model.startups.n)
        agent_steps = n_agents * model.steps
    return best, agent_steps


def main(args=None) -> int:
    repeats = getattr(args, "repeats", 3) or 3
    cases = {
        "baseline (120 months)": {},
        "large economy (120 months: 200 neoclouds, 50 lenders, 10,000 start-ups)": {
            "population.small_neoclouds": 195, "population.extra_lenders": 42, "population.startups": 10_000},
    }
    for label, kwargs in cases.items():
        seconds, agent_steps = time_run(repeats, **kwargs)
        print(f"{label}: {seconds:.2f} s per run (best of {repeats}), {agent_steps / seconds:,.0f} agent-steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
