"""Dated shocks in scenario files: validated like every other input, and each does what it says in its month."""

import math

import numpy as np
import pytest

from gpucredit.sim import GPUEconomy
from gpucredit.sim.scenarios import ScenarioError, load_scenario
from gpucredit.sim.shocks import ShockError


def scenario(tmp_path, shocks: str, name="shocked") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndescription = "test"\n' + shocks)
    return str(path)


def run(path_or_name, months, seed=4):
    m = GPUEconomy(scenario=path_or_name, rng=seed, **{"run.months": months})
    while m.running:
        m.step()
    return m, m.datacollector.get_model_vars_dataframe()


@pytest.mark.parametrize("body, field", [
    ('[[shocks]]\ndate = "2025-13"\nkind = "rate_move"\nsize = 0.01\n', "shocks[0].date"),
    ('[[shocks]]\ndate = "2019-01"\nkind = "rate_move"\nsize = 0.01\n', "shocks[0].date"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "meteor"\nsize = 0.01\n', "shocks[0].kind"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "used_gpu_price_drop"\nsize = 1.0\n', "shocks[0].size"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "rate_move"\nsize = "big"\n', "shocks[0].size"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "credit_freeze"\nsize = 0.5\nmonths = 0\n', "shocks[0].months"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "firm_default"\nfirm = ""\n', "shocks[0].firm"),
    ('[[shocks]]\ndate = "2025-01"\nkind = "rate_move"\nsize = 0.01\nfirm = "CoreWeave"\n', "unknown field"),
])
def test_a_malformed_shock_is_refused_naming_the_field(tmp_path, body, field):
    with pytest.raises(ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]")) as err:
        load_scenario(scenario(tmp_path, body))
    assert "\n" not in str(err.value)


def test_a_shock_on_a_firm_that_does_not_exist_is_refused(tmp_path):
    path = scenario(tmp_path, '[[shocks]]\ndate = "2025-01"\nkind = "lab_failure"\nfirm = "CoreWeave"\n')
    with pytest.raises(ShockError, match="'CoreWeave' is not one of: OpenAI"):
        GPUEconomy(scenario=path, rng=1)


def test_each_shock_does_what_it_says_in_its_month(tmp_path):
    path = scenario(tmp_path, """
[[shocks]]
date = "2024-06"
kind = "used_gpu_price_drop"
size = 0.5

[[shocks]]
date = "2024-09"
kind = "firm_default"
firm = "CoreWeave"

[[shocks]]
date = "2024-10"
kind = "lab_failure"
firm = "Mistral"

[[shocks]]
date = "2024-10"
kind = "rate_move"
size = 0.02

[[shocks]]
date = "2024-11"
kind = "demand_disappointment"
size = 0.4

[[shocks]]
date = "2024-11"
kind = "credit_freeze"
size = 0.5
months = 2
""")
    base_model, base = run("baseline", 26)
    shocked_model, shocked = run(path, 26)
    june, sept, oct_, nov = 17, 20, 21, 22
    pd_ = lambda df, c, t: float(df[c].iloc[t])
    assert np.allclose(base.iloc[:june].to_numpy(float), shocked.iloc[:june].to_numpy(float), equal_nan=True)  # nothing before
    assert pd_(shocked, "secondary_price_h100", june) < 0.75 * pd_(base, "secondary_price_h100", june)
    assert math.isnan(pd_(shocked, "lead_neocloud_debt", sept)) and not math.isnan(pd_(base, "lead_neocloud_debt", sept))
    assert pd_(shocked, "defaults_count", sept) >= 1
    assert pd_(shocked, "lab_failures", oct_) == 1
    assert pd_(shocked, "sofr", oct_) == pytest.approx(pd_(base, "sofr", oct_) + 0.02)
    assert pd_(shocked, "sofr", 25) == pytest.approx(pd_(base, "sofr", 25) + 0.02)  # the move lasts
    assert pd_(shocked, "ai_revenue", nov) < 0.7 * pd_(base, "ai_revenue", nov)
    events = [e for e in shocked_model.events if e["event"] == "shock"]
    assert [e["detail"] for e in events] == ["used_gpu_price_drop", "firm_default", "lab_failure", "rate_move",
                                            "demand_disappointment", "credit_freeze"]


def test_a_credit_freeze_stops_inflows_and_redeems_idle_cash_for_its_months(tmp_path):
    path = scenario(tmp_path, '[[shocks]]\ndate = "2024-03"\nkind = "credit_freeze"\nsize = 0.5\nmonths = 2\n')
    m = GPUEconomy(scenario=path, rng=4, **{"run.months": 18})
    flows = []
    while m.running:
        m.step()
        outflows = sum(m.ledger.income.get("fund_outflow", {}).values())
        flows.append((sum(l.uncalled for l in m.lenders), outflows))
    march = 14
    # investors withdraw half their commitments each month of the freeze and take idle cash out of the funds
    assert flows[march][0] < 0.6 * flows[march - 1][0] and flows[march + 1][0] < 0.6 * flows[march][0]
    assert flows[march][1] < 0 and flows[march + 1][1] < 0
    assert flows[march + 2][0] > flows[march + 1][0]  # new commitments resume when the freeze ends


def test_a_forced_default_lowers_sentiment(tmp_path):
    """Defaults are bad news: the month CoreWeave is forced into default, sentiment falls below the same seed's
    sentiment without the default; with default_news = 0 it does not (the channel is this one)."""
    path = scenario(tmp_path, '[[shocks]]\ndate = "2025-06"\nkind = "firm_default"\nfirm = "CoreWeave"\n')
    june = 29
    _, base = run("baseline", 30)
    _, shocked = run(path, 30)
    assert shocked["debt_in_default"].iloc[june] > 0
    assert shocked["sentiment"].iloc[june] < base["sentiment"].iloc[june] - 0.01
    m = GPUEconomy(scenario=path, rng=4, **{"run.months": 30, "expectations.default_news": 0.0})
    b = GPUEconomy(scenario="baseline", rng=4, **{"run.months": 30, "expectations.default_news": 0.0})
    while m.running:
        m.step()
        b.step()
    assert abs(m.sentiment - b.sentiment) < abs(shocked["sentiment"].iloc[june] - base["sentiment"].iloc[june])
