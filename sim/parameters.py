"""The parameter schema: the single declaration of every model input.

Each :class:`Parameter` has a dotted ``name`` (``group.name``), a default, either a numeric range
(``min``/``max``) or a set of ``choices``, a unit, a one-line economic description and a source
(its original public source: publisher, document and date, also listed in
``experiments/data/calibration_targets.toml``; or "assumption"). Scenario files, ``--set name=value``, keyword
overrides of :class:`gpucredit.sim.GPUEconomy`, ``gpucredit params``, the parameter table in ``docs/ODD.md``
and (later) sweep bounds all read this one list. Combinations of values that the ranges cannot rule out (a markup
floor above its ceiling, revenue shares above one) are the named :data:`CONSTRAINTS` of :mod:`.constraints`,
checked once by :func:`resolve` when a parameter set is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .constraints import CONSTRAINTS, Constraint, violations  # noqa: F401 (the schema's cross-parameter part)
from .parameter_types import Parameter, ParameterError, _p  # noqa: F401 (Parameter and ParameterError: part of this module's interface)


PARAMETERS: tuple[Parameter, ...] = (
    # --- run and populations -------------------------------------------------------------
    _p("run.months", 120, 1, 600, "months", "Number of monthly steps from January 2023", "model design: monthly steps from January 2023", int),
    _p("run.balance_sheet_interval", 3, 1, 12, "months", "Interval between agent balance-sheet snapshots", kind=int),
    _p("population.small_neoclouds", 20, 0, 2000, "firms", "Number of small neoclouds besides the five named ones", kind=int),
    _p("population.startups", 2000, 0, 500000, "firms", "Number of AI start-up slots (individual firms, array-backed)", kind=int),
    _p("population.extra_lenders", 0, 0, 500, "funds", "Number of generic bank/credit-fund lenders besides the named ones", kind=int),
    _p("population.scale", 1.0, 0.05, 20.0, "multiplier",
       "Scales the start-up and small-neocloud market segments (their share of AI revenue and initial fleets)"),
    # --- technology ------------------------------------------------------------------------
    _p("technology.cadence_months", 12, 6, 48, "months", "Months between new Nvidia generations after Rubin",
       "Nvidia's one-year product rhythm (Nvidia, Computex 2024 keynote, June 2024)", int),
    _p("technology.perf_multiplier", 1.5, 1.05, 4.0, "x per generation", "Performance (H100e per GPU) growth of each new generation after Rubin",
       "Epoch AI (Hobbhahn and Besiroglu 2022): ML GPU FLOP/s per $ doubles every ~2.5 years; with price x1.15 per yearly generation, 1.5/1.15 halves the cost per H100e every ~2.6 years"),
    _p("technology.price_multiplier", 1.15, 0.5, 3.0, "x per generation", "Launch-price growth of each new generation after Rubin"),
    _p("technology.power_multiplier", 1.2, 0.8, 2.5, "x per generation", "Chip power growth of each new generation after Rubin"),
    _p("technology.deploy_months", 2, 0, 12, "months",
       "Months from a GPU's delivery until it serves compute (installation, networking, burn-in); meanwhile it is "
       "owned, financed, pledged and draws its data-centre power, but earns nothing", kind=int),
    _p("technology.ramp_months", 9, 1, 36, "months", "Months for a new generation to take over a chipmaker's output", kind=int),
    _p("technology.physical_life_months", 96, 36, 180, "months", "Physical life of a GPU, after which it is scrapped", kind=int),
    _p("technology.accounting_life_months", 72, 24, 120, "months", "Straight-line depreciation life",
       "CoreWeave depreciates GPUs over 6 years, raised from 5 in January 2023 (CoreWeave prospectus, Form 424B4, March 2025)", int),
    _p("technology.facility_overhead", 1.6, 1.0, 3.0, "kW per chip kW", "Facility power per unit of chip power (PUE, CPUs, networking)"),
    _p("technology.electricity_price", 0.08, 0.01, 0.5, "US$/kWh", "Electricity price paid by GPU owners"),
    _p("technology.maintenance_cost", 0.12, 0.0, 2.0, "US$/GPU-hour", "Staff, maintenance and networking cost per active GPU-hour"),
    _p("technology.scrap_margin_months", 6, 1, 36, "months",
       "A generation whose spot margin has been negative this many months in a row is scrapped", kind=int),
    # --- Nvidia ----------------------------------------------------------------------------
    _p("nvidia.initial_capacity", 90000, 1000, 2000000, "GPUs/month", "Nvidia data-centre GPU output capacity in January 2023",
       "derived from Nvidia's fiscal-2024 data-centre revenue (Nvidia results, February 2024)"),
    _p("nvidia.capacity_growth_max", 0.10, 0.0, 0.3, "per month",
       "Most output capacity Nvidia books in a month, as a share of its current capacity (arriving after nvidia.capacity_lead_months)",
       "Set with the lead time so that data-centre revenue roughly doubles a year in 2024-25 (Nvidia results)"),
    _p("nvidia.capacity_response", 0.3, 0.0, 1.0, "per month",
       "Capacity booked per unit of excess of orders due over output (once the capacity already booked is counted)"),
    _p("nvidia.capacity_lead_months", 9, 0, 36, "months",
       "Months between booking output capacity (wafers, advanced packaging, high-bandwidth memory) and producing with it",
       "Assumption: foundry and packaging capacity is booked quarters ahead (TSMC's CoWoS expansions of 2023-24 took "
       "about three quarters to come on line, TSMC earnings calls 2023-24)", kind=int),
    _p("nvidia.capacity_cost_months", 3.0, 0.0, 24.0, "months of unit cost",
       "Cost of one GPU a month of new output capacity, in months of the newest generation's unit cost, paid when booked",
       "Assumption (capacity commitments and prepaid supply agreements; expensed when booked)"),
    _p("nvidia.glut_ratio", 0.7, 0.0, 1.0, "orders due / output",
       "Below this ratio of orders due to output Nvidia lets its capacity shrink (by nvidia.capacity_shrink a month)"),
    _p("nvidia.capacity_shrink", 0.01, 0.0, 0.2, "per month", "Monthly shrinkage of Nvidia's capacity in a glut"),
    _p("nvidia.launch_markup", 4.0, 1.1, 10.0, "price/unit cost", "Markup at launch list price (75% gross margin)",
       "Nvidia fiscal-2025 GAAP gross margin 75.0% (Nvidia results, February 2025)"),
    _p("nvidia.order_lead_months", 3, 0, 18, "months",
       "Months from a chip order to the earliest delivery (every chipmaker); scarce output adds a queue on top",
       "assumption; trade press reported H100 lead times of 8-11 months in 2023, 3-4 months by early 2024", int),
    _p("nvidia.deposit_share", 0.1, 0.0, 1.0, "share of order value",
       "Deposit paid with a chip order, applied to the deliveries; orders are non-cancellable and a buyer that cannot take its "
       "allocation forfeits its share", "assumption"),
    _p("nvidia.markup_min", 1.6, 1.0, 5.0, "price/unit cost", "Lowest markup (deep glut)"),
    _p("nvidia.markup_max", 4.4, 1.1, 10.0, "price/unit cost", "Highest markup (deep shortage)"),
    _p("nvidia.markup_speed", 0.05, 0.0, 1.0, "per month", "Speed at which the markup responds to orders over capacity"),
    _p("nvidia.opex_share", 0.10, 0.0, 0.5, "share of revenue", "Operating expenses as a share of revenue"),
    _p("nvidia.fixed_opex", 0.9, 0.0, 20.0, "US$bn/month", "Fixed operating expenses"),
    _p("nvidia.payout_share", 0.5, 0.0, 1.0, "share of free cash flow", "Buybacks and dividends out of free cash flow"),
    _p("nvidia.investment_share", 0.06, 0.0, 0.5, "share of free cash flow",
       "Share of free cash flow put into equity stakes of customers (neoclouds, labs) at neutral sentiment",
       "Nvidia's stakes in CoreWeave, OpenAI, Anthropic and Nebius (company filings; Reuters, FT, 2023-2026)"),
    _p("nvidia.neocloud_round_share", 0.4, 0.0, 1.0, "share of a round",
       "Largest share of a neocloud customer's equity round Nvidia takes (within its strategic budget)"),
    _p("nvidia.max_neocloud_investees", 3, 0, 1000, "firms",
       "Most neoclouds Nvidia holds stakes in: its largest neocloud customers by 12-month purchases, followed on once held",
       "neoclouds Nvidia finances: CoreWeave (stake, filings 2023-2026), Nebius (US$2bn stake, press, March 2026), "
       "Lambda (rent-back, The Information, 2023-2025)", kind=int),
    _p("nvidia.lab_round_share", 0.1, 0.0, 1.0, "share of a round", "Largest share of a lab's equity round Nvidia takes (within its strategic budget)"),
    _p("nvidia.investee_preference", 0.0, 0.0, 10.0, "weight",
       "Extra allocation weight for investees when chips are scarce (0 = pro rata)", "assumption: allocation of scarce chips (model design, Nvidia's allocation rule)"),
    _p("nvidia.backstop_cap", 6.3, 0.0, 50.0, "US$bn", "Cap of Nvidia's commitment to buy its lead investee's unsold capacity",
       "Nvidia buys CoreWeave's unsold capacity, at least US$6.3bn (CoreWeave Form 8-K, September 2025)"),
    _p("nvidia.backstop_start_year", 2025.7, 2023.0, 2040.0, "year", "When the capacity backstop is signed", "CoreWeave Form 8-K, September 2025"),
    _p("nvidia.backstop_end_year", 2032.9, 2023.0, 2040.0, "year", "When the capacity backstop ends", "capacity agreement through 2032 (CoreWeave Form 8-K, September 2025)"),
    _p("nvidia.rentback_total", 1.3, 0.0, 20.0, "US$bn per investee", "Value of each rent-back agreement",
       "Nvidia rents back ~US$1.3bn over 4 years from CoreWeave and from Lambda (The Information, 2023-2025)"),
    _p("nvidia.rentback_months", 48, 1, 120, "months", "Term of each rent-back", "The Information, 2023-2025", int),
    _p("nvidia.pe_base", 20.0, 5.0, 100.0, "x earnings", "Multiple of forward operating earnings at zero growth and neutral sentiment", "stylized: about $3.3tn (end-2024) and $4.5tn (end-2025) market cap on $81bn and ~$130bn operating income"),
    _p("nvidia.pe_max", 60.0, 5.0, 200.0, "x earnings",
       "Highest multiple of forward after-tax earnings the market pays for a firm worth up to US$1tn",
       "Nvidia's price/earnings ratio stayed below about 60 after its 2023 earnings caught up with its price (about 50-60 "
       "in 2024-25; company filings and market data)"),
    _p("nvidia.pe_size_elasticity", 0.25, 0.0, 2.0, "elasticity",
       "How fast the highest multiple falls with size above US$1tn: pe_max x (US$1tn / market cap)^elasticity",
       "assumption: no firm worth more than US$1tn has traded above about 60 times earnings; Apple and Microsoft at "
       "about US$3tn traded at about 30-40 times (2024; company filings and market data)"),
    _p("nvidia.pe_growth", 10.0, 0.0, 100.0, "x per unit growth", "Extra multiple per unit of expected annual revenue growth"),
    _p("nvidia.pe_sentiment", 5.0, 0.0, 100.0, "x per unit sentiment", "Extra multiple per unit of sentiment"),
    _p("nvidia.price_to_sales_floor", 3.0, 0.0, 50.0, "x annual revenue",
       "Floor of the market capitalisation as a multiple of annualised revenue (binds when earnings are negative)"),
    # --- rival chips ------------------------------------------------------------------------
    _p("rival.share_start", 0.10, 0.0, 0.9, "share", "Rival (AMD, custom silicon) share of new GPU capacity in 2023"),
    _p("rival.share_end", 0.30, 0.0, 0.95, "share", "Rival share of new GPU capacity at rival.share_end_year"),
    _p("rival.share_end_year", 2030.0, 2023.5, 2045.0, "year", "Year the rival share reaches rival.share_end"),
    _p("rival.price_discount", 0.35, 0.0, 0.9, "share", "Rival list price per H100e below Nvidia's"),
    # --- AI demand --------------------------------------------------------------------------
    _p("demand.market_size", 2000.0, 10.0, 50000.0, "US$bn/year",
       "Median long-run end-user AI market (revenue at full adoption); each run draws its own, unknown to agents"),
    _p("demand.market_size_uncertainty", 0.5, 0.0, 2.0, "log s.d.",
       "Log standard deviation of the run's market size around demand.market_size (agents' prior is the same)"),
    _p("demand.adoption_rate", 0.95, 0.05, 5.0, "per year", "Logistic diffusion speed of AI adoption at full service"),
    _p("demand.initial_ai_revenue", 9.0, 0.1, 1000.0, "US$bn/year", "End-user AI revenue run-rate in January 2023",
       "derived from AI revenue against capex (Sequoia Capital, 'AI's $200B Question', September 2023)"),
    _p("demand.shock_volatility", 0.03, 0.0, 0.5, "log per month", "Volatility of persistent AI-revenue shocks"),
    _p("demand.shock_persistence", 0.95, 0.0, 0.999, "AR(1)", "Persistence of AI-revenue shocks"),
    _p("demand.slowdown_year", 2100.0, 2023.0, 2100.0, "year", "From this year AI adoption grows more slowly"),
    _p("demand.slowdown_factor", 1.0, 0.0, 1.0, "multiplier", "Adoption growth multiplier after demand.slowdown_year"),
    _p("demand.revenue_per_h100e_hour", 1.5, 0.05, 50.0, "US$/H100e-hour",
       "Most end-user AI revenue one H100e-hour of compute in use can carry (beyond it, use is rationed)"),
    _p("demand.rationing_elasticity", 1.0, 0.0, 3.0, "elasticity",
       "Exponent on the served share of potential AI revenue (0: compute never limits revenue)"),
    _p("demand.price_elasticity", 0.9, 0.1, 3.0, "elasticity", "Price elasticity of compute demand (H100e-hours)"),
    _p("demand.reference_price", 2.0, 0.1, 20.0, "US$/H100e-hour", "Price at which budgets buy budget/price hours"),
    _p("demand.lab_share", 0.45, 0.0, 1.0, "share", "Share of AI revenue earned by the named labs"),
    _p("demand.startup_share", 0.20, 0.0, 1.0, "share", "Share of AI revenue earned by start-ups (rest: hyperscalers' AI services)"),
    # --- AI developers --------------------------------------------------------------------------
    _p("labs.compute_share", 0.55, 0.0, 3.0, "share of revenue", "Compute spending out of revenue"),
    _p("labs.runway_months", 24, 3, 120, "months", "Cash runway labs plan to: monthly burn on compute = cash / runway", kind=int),
    _p("labs.contract_share", 0.7, 0.0, 1.0, "share", "Share of expected compute needs labs hold under term contracts"),
    _p("labs.planning_months", 6, 0, 48, "months",
       "Labs size term contracts for the compute they expect to need this many months ahead: current needs grown with the "
       "AI revenue the market expects (0 = current needs only; default = contracts.lead_months, when capacity "
       "sold forward starts)",
       "OpenAI's and Meta's multi-year CoreWeave contracts (US$22.4bn, US$14.2bn) signed in 2025 ahead of revenue (Reuters, 2025)", int),
    _p("labs.funding_rate", 0.03, 0.0, 1.0, "per month", "Probability a lab raises a round in a month at neutral sentiment"),
    _p("labs.raise_runway_months", 9, 0, 60, "months",
       "A lab whose cash covers fewer months of contract payments and compute budget raises a round (if sentiment allows)",
       "OpenAI and Anthropic funding rounds; OpenAI projects ~US$115bn cash burn through 2029 (The Information, September 2025)", int),
    _p("labs.round_size", 1.2, 0.0, 10.0, "years of burn", "Round size in years of current compute spending"),
    _p("labs.valuation_multiple", 25.0, 1.0, 200.0, "x annual revenue", "Lab valuation multiple of annualised revenue at neutral sentiment (scaled by 1 + sentiment)"),
    _p("labs.max_round_share", 0.2, 0.01, 1.0, "share of valuation",
       "Largest round as a share of the lab's pre-money valuation: investors fund labs in proportion to their revenue, not their burn",
       "OpenAI raised about 3x its 2025 revenue (~US$13bn; press reports, 2025)"),
    _p("labs.round_interval_months", 6, 1, 36, "months", "Fewest months between two rounds of one lab", kind=int),
    _p("labs.opex_share", 0.2, 0.0, 1.0, "share of revenue", "Labs' operating expenses besides compute (staff and services)"),
    _p("labs.funding_sentiment", 2.0, 0.0, 10.0, "per unit sentiment",
       "Sensitivity of a lab's monthly round probability to sentiment: labs.funding_rate x max(0, 1 + this x sentiment)"),
    _p("labs.max_cash_months", 36, 1, 240, "months of planned spending",
       "Most cash a lab raises toward: a round never takes its cash above this many months of planned spending "
       "(compute budget, contract payments and other operating expenses)", kind=int),
    _p("venture.revenue_multiple", 5.0, 0.0, 50.0, "x annualised end-user AI revenue",
       "Venture and public equity investors allot to private AI firms (labs, start-ups, neoclouds) each year at "
       "neutral sentiment, as a multiple of end-user AI revenue",
       "Crunchbase News (Jan 2025): global venture funding to AI about US$56bn in 2023 and above US$100bn in 2024, "
       "against end-user AI revenue of about US$9-20bn"),
    _p("venture.sentiment", 1.0, 0.0, 10.0, "per unit sentiment",
       "Sensitivity of the venture allotment to sentiment: x max(0, 1 + this x sentiment)"),
    _p("venture.loss_memory_months", 12, 1, 60, "months",
       "Investors who lost equity in a failure of a lab or a default of a neocloud hold back that amount, spread over "
       "this many months", kind=int),
    _p("startups.compute_share", 0.5, 0.0, 3.0, "share of revenue", "Start-ups' compute spending out of revenue"),
    _p("startups.runway_months", 18, 3, 120, "months", "Cash runway start-ups plan to", kind=int),
    _p("startups.contract_share", 0.3, 0.0, 1.0, "share", "Share of expected compute needs start-ups hold under contracts"),
    _p("startups.funding_rate", 0.04, 0.0, 1.0, "per month", "Probability a start-up raises a round in a month at neutral sentiment"),
    _p("startups.round_years", 2.0, 0.0, 10.0, "years of revenue-funded compute",
       "Round size in years of compute spending out of revenue (investors fund traction, not cash balances)"),
    _p("startups.team_share", 0.5, 0.0, 1.0, "share of funds raised",
       "Share of each round (and of seed funding) a start-up commits to a team whose fixed cost is spread over its planned runway"),
    _p("startups.entry_rate", 0.02, 0.0, 1.0, "per month", "Share of empty start-up slots filled per month at neutral sentiment"),
    _p("startups.seed_funding", 0.005, 0.0, 10.0, "US$bn", "Median seed funding of a new start-up at 2,000 start-up slots (scaled by population.scale x 2000 / population.startups)"),
    _p("startups.opex_share", 0.25, 0.0, 1.0, "share of revenue",
       "Start-ups' operating expenses besides compute and the team they hire (a start-up whose revenue net of them is "
       "nil and whose cash is gone fails)"),
    _p("startups.funding_sentiment", 2.0, 0.0, 10.0, "per unit sentiment",
       "Sensitivity of start-ups' round and entry rates to sentiment: rate x max(0, 1 + this x sentiment)"),
    _p("startups.contract_search_rate", 0.1, 0.0, 1.0, "per month",
       "Probability a start-up without a term contract looks for one in a month"),
    _p("startups.initial_share", 0.5, 0.0, 1.0, "share of slots", "Share of start-up slots occupied in January 2023"),
    _p("startups.revenue_persistence", 0.9, 0.0, 0.99, "AR(1) coefficient", "Persistence of a start-up's log revenue shock"),
    _p("startups.revenue_volatility", 0.15, 0.0, 2.0, "log points per month", "Volatility of a start-up's log revenue shock"),
    _p("startups.potential_dispersion", 1.2, 0.0, 3.0, "log sd", "Dispersion of start-ups' revenue potential (lognormal)"),
    _p("startups.seed_dispersion", 0.8, 0.0, 3.0, "log sd", "Dispersion of start-ups' seed funding (lognormal)"),
    # --- hyperscalers -----------------------------------------------------------------------------
    _p("hyperscalers.core_cash_flow", 22.0, 0.0, 500.0, "US$bn/month", "Operating cash flow of the five hyperscalers' non-AI businesses"),
    _p("hyperscalers.ai_budget_share", 0.05, 0.0, 1.0, "share of core cash flow",
       "Internal AI compute budget out of core cash flow at neutral sentiment"),
    _p("hyperscalers.budget_sentiment", 0.8, 0.0, 5.0, "per unit sentiment", "Growth of the internal AI budget with sentiment"),
    _p("hyperscalers.build_ahead_months", 15, 0, 48, "months", "How far ahead of expected demand hyperscalers build capacity", kind=int),
    _p("hyperscalers.build_speed", 0.2, 0.01, 1.0, "per month", "Share of the capacity gap ordered per month"),
    _p("hyperscalers.sell_growth", 0.04, 0.0, 1.0, "per month", "Fleet growth hyperscalers add to sell compute when a new GPU's NPV equals its price"),
    _p("hyperscalers.capex_persistence", 0.6, 0.0, 0.99, "weight", "Weight of last month's order plan in this month's (capex plans are sticky)"),
    _p("hyperscalers.non_ai_capex", 9.0, 0.0, 200.0, "US$bn/month", "Non-AI capex of the big four (for the capex comparison)",
       "big-four capex US$172bn in 2022 (Alphabet, Amazon, Meta, Microsoft annual reports)"),
    _p("hyperscalers.reservation_markup", 1.2, 0.0, 5.0, "x full cost of new capacity",
       "Hyperscalers rent out uncommitted capacity (their own workloads included, which buy in the same pool) only at "
       "or above this multiple of the full cost of a new H100e-hour (below it, it stands idle); 0 = they offer it at "
       "running cost like everyone else",
       "hyperscaler list prices 2-3x neocloud prices, held flat while neoclouds cut (FT Alphaville, 2025)"),
    _p("hyperscalers.max_build_growth", 0.16, 0.0, 1.0, "per month",
       "Largest monthly growth of a hyperscaler's own fleet its data-centre power allows; planned capacity beyond it "
       "is sought from neoclouds under overflow contracts",
       "Microsoft ~62% of CoreWeave 2024 revenue (CoreWeave prospectus, March 2025); Microsoft contracts ~US$10bn, 2023-30 (Reuters)"),
    _p("hyperscalers.overflow_share", 0.4, 0.0, 1.0, "share", "Share of their expected capacity shortfall hyperscalers contract from neoclouds"),
    _p("hyperscalers.offer_share", 0.5, 0.0, 1.0, "share of free capacity",
       "Share of the capacity it does not need for its own workloads or contracts a hyperscaler offers on term contracts"),
    _p("hyperscalers.hurdle_spread", 0.03, 0.0, 0.3, "per year",
       "Spread over SOFR at which hyperscalers discount a new GPU's rental margin (investment-grade cost of capital)"),
    _p("hyperscalers.max_net_leverage", 1.5, 0.0, 10.0, "x annual core cash flow",
       "Net debt (bonds less cash) above which a hyperscaler issues no bonds for discretionary spending (chip deliveries, "
       "deposits, spot compute); obligations (contracts, interest) are still met",
       "Rating agencies' leverage thresholds for A-AA issuers (net debt/EBITDA of about 1-1.5x)"),
    _p("hyperscalers.bond_spread", 0.01, 0.0, 0.1, "per year", "Spread over SOFR hyperscalers pay on their bonds"),
    _p("hyperscalers.cash_months", 3.0, 0.0, 24.0, "months of core cash flow",
       "Cash a hyperscaler holds (at the start, and above which it repays bonds and pays out)"),
    _p("hyperscalers.payout_share", 0.5, 0.0, 1.0, "share of surplus", "Share of surplus cash (after repaying bonds) paid out each month"),
    # --- neoclouds --------------------------------------------------------------------------------
    _p("neoclouds.equity_premium", 0.10, 0.0, 0.5, "per year", "Equity risk premium over the loan rate in the hurdle rate"),
    _p("neoclouds.max_growth", 0.22, 0.0, 2.0, "per month", "Largest monthly fleet growth a neocloud can manage"),
    _p("neoclouds.min_order", 500, 0, 100000, "GPUs", "Order size a small neocloud can place regardless of fleet size", kind=int),
    _p("neoclouds.install_months", 6, 0, 24, "months",
       "How far ahead of a forward contract's start a neocloud orders its GPUs (at least nvidia.order_lead_months "
       "plus technology.deploy_months for them to serve from the start; 6 = as soon as a six-month forward contract "
       "is signed)", "stylized", int),
    _p("neoclouds.power_lead_months", 9, 0, 48, "months", "Lead time of new data-centre power capacity", kind=int),
    _p("neoclouds.power_cost", 0.15, 0.0, 2.0, "US$m per MW-month", "Lease cost of powered data-centre capacity",
       "derived from an all-in cost of US$20-25bn per GW of AI compute (industry estimates, November 2025)"),
    _p("neoclouds.overhead", 0.004, 0.0, 1.0, "US$bn/month", "Fixed overhead of a named neocloud (small ones scaled by size)"),
    _p("neoclouds.cash_buffer", 0.03, 0.0, 1.0, "share of debt", "Cash kept as a buffer against debt service",
       "stylized: neoclouds reinvest their cash; lean buffers let a downturn bite"),
    _p("neoclouds.payout_rate", 0.5, 0.0, 1.0, "per month",
       "Share of its surplus cash (above twice its buffer and the equity slices of its planned build-out) a neocloud that "
       "has not raised equity in the last 12 months pays to its shareholders each month"),
    _p("neoclouds.raise_threshold", -0.2, -1.0, 1.0, "sentiment", "Sentiment above which neoclouds can raise equity"),
    _p("neoclouds.max_round_share", 0.3, 0.01, 1.0, "share of valuation", "Largest round a neocloud raises, as a share of its valuation"),
    _p("neoclouds.round_interval_months", 6, 1, 36, "months", "Fewest months between two equity rounds of one neocloud", kind=int),
    _p("neoclouds.growth_round_share", 0.05, 0.0, 0.5, "share of valuation",
       "Share of the firm a neocloud sells in a growth round, held once its valuation has doubled since its last round",
       "CoreWeave valued US$2bn -> US$19bn in the 18 months to May 2024 (FT, Reuters); Nvidia stake ~6-7% (CoreWeave prospectus, March 2025)"),
    _p("neoclouds.valuation_multiple", 2.5, 0.5, 50.0, "x annual revenue",
       "Valuation multiple of annualised revenue plus a quarter of the contract backlog",
       "CoreWeave valued at US$19bn in May 2024 (FT, Reuters)"),
    _p("neoclouds.horizon_months", 48, 12, 120, "months", "Horizon of the investment appraisal of a new GPU", kind=int),
    _p("neoclouds.q_sensitivity", 1.0, 0.05, 10.0, "NPV / price",
       "Tobin's q - 1 (NPV of a new GPU over its price) at which speculative growth reaches neoclouds.max_growth"),
    _p("neoclouds.order_persistence", 0.5, 0.0, 0.99, "weight",
       "Weight of last month's speculative order in this month's (build-out plans are sticky)"),
    _p("neoclouds.hurdle_spread_share", 0.5, 0.0, 1.0, "share of lenders.spread_non_ig",
       "Debt cost in a neocloud's hurdle rate: SOFR + this x the non-IG spread + neoclouds.equity_premium"),
    _p("neoclouds.below_cost_offer_share", 0.5, 0.0, 1.0, "share of uncommitted capacity",
       "Share of its uncommitted capacity a neocloud still offers on term when the contract price is below its full cost"),
    _p("neoclouds.min_cash", 0.01, 0.0, 1.0, "US$bn per unit size", "Cash a neocloud keeps besides its debt-service buffer"),
    _p("neoclouds.cure_target", 0.95, 0.5, 1.0, "share of the covenant LTV", "LTV, as a share of the covenant, a neocloud in breach pays down to"),
    _p("neoclouds.build_plan_months", 6.0, 0.0, 36.0, "months of orders",
       "Months of its current (or smoothed speculative) order a neocloud plans to finance with equity"),
    _p("neoclouds.payout_buffer_multiple", 2.0, 0.0, 10.0, "x cash buffer", "Cash a neocloud keeps, in cash buffers, before paying out surplus"),
    _p("neoclouds.valuation_sentiment", 0.5, 0.0, 2.0, "per unit sentiment", "Growth of a neocloud's valuation multiple with sentiment"),
    _p("neoclouds.backlog_weight", 0.25, 0.0, 1.0, "share of backlog", "Weight of the contract backlog beside annualised revenue in a neocloud's valuation"),
    # --- data-centre construction (sim/finance/datacentres.py) ---------------------------------------
    _p("datacentres.builders", 2, 0, 5, "firms", "Named neoclouds that build data centres: the largest by opening power capacity (0: all lease)", "assumption: the leaders build (e.g. CoreWeave's self-built campuses), the small ones lease colocation space", int),
    _p("datacentres.build_share", 0.5, 0.0, 1.0, "share of new MW", "Share of each new block of capacity a builder builds; it leases the rest", "assumption (leaders still lease much of their capacity from data-centre developers)"),
    _p("datacentres.cost_per_mw", 0.011, 0.002, 0.05, "US$bn/MW", "Construction cost of powered shell, electrical and cooling per MW of critical IT load", "US$10-12m per MW (Cushman & Wakefield, Data Center Development Cost Guide, 2024-25)"),
    _p("datacentres.build_months", 18, 6, 36, "months", "Construction time of a data centre (no GPU is hosted before it is complete)", "12-24 months (Cushman & Wakefield, Data Center Development Cost Guide, 2024-25)", int),
    _p("datacentres.debt_share", 0.8, 0.0, 1.0, "share of cost", "Share of construction spending financed by the construction loan (the rest from cash)", "assumption: top of a 60-80% loan-to-cost, near CoreWeave's reported debt at end-2024 (prospectus, March 2025)"),
    _p("datacentres.spread", 0.035, 0.0, 0.2, "per year", "Spread over SOFR of construction loans (capitalised during construction)"),
    _p("datacentres.term_months", 60, 12, 360, "months", "Straight-line amortisation of a construction loan once the data centre is complete", kind=int),
    _p("datacentres.life_months", 240, 60, 480, "months", "Straight-line depreciation life of an owned data centre", kind=int),
    _p("datacentres.recovery_rate", 0.6, 0.0, 1.0, "share of book value", "Share of its data centres' book value a defaulted builder's construction lender recovers"),
    # --- lenders ----------------------------------------------------------------------------------
    _p("lenders.max_ltv", 0.70, 0.1, 0.95, "share", "Maximum loan-to-value at origination",
       "assumption: no named deal discloses its LTV; unattributed market commentary cites 60-70% advance rates (unverified)"),
    _p("lenders.covenant_cushion", 0.10, 0.0, 0.5, "share", "LTV covenant level above the origination maximum"),
    _p("lenders.spread_ig", 0.0625, 0.0, 0.3, "per year", "Spread over SOFR for loans backed by investment-grade contracts",
       "CoreWeave DDTL 2.0: 3-month SOFR + 6.00-6.50% for loans tied to investment-grade contracts (CoreWeave Form 8-K, May 2024)"),
    _p("lenders.spread_non_ig", 0.13, 0.0, 0.4, "per year", "Spread over SOFR for other loans", "CoreWeave DDTL 2.0: SOFR + 13.00% otherwise (CoreWeave Form 8-K, May 2024)"),
    _p("lenders.maturity_months", 60, 12, 120, "months", "Loan maturity (fully amortising)", "CoreWeave delayed-draw term loans of 4-5 years (CoreWeave Form 8-K, 10-Q, 2024-25)", int),
    _p("lenders.cure_months", 3, 0, 12, "months", "Cure period after a covenant breach or missed payment", kind=int),
    _p("lenders.waiver_hurdle", 0.0, -1.0, 1.0, "share of principal",
       "Forbearance: a lender waives a breach when the recovery it expects from waiving exceeds foreclosing now by more than "
       "this share of the principal (1: never waives; below 0: relationship lending, reluctance to book losses)",
       "behavioural; Blackstone waived technical defaults under CoreWeave's DDTL 2.0 (FT, December 2024); forbearance: Peek and Rosengren (2005, AER)"),
    _p("lenders.foreclosure_cost", 0.05, 0.0, 0.3, "share of principal", "Legal, custody and remarketing costs a lender expects when it forecloses",
       "assumption: direct default costs of a few per cent of asset value (Warner 1977; Bris, Welch and Zhu 2006, J. Finance)"),
    _p("lenders.waiver_months", 6, 1, 24, "months", "Months a waiver suspends enforcement", kind=int),
    _p("lenders.syndicate_size", 4, 1, 20, "lenders",
       "Lenders in a neocloud's facility: its relationship lender arranges, and when its own room is used up the funds "
       "with the most capital join the syndicate (each holds its own tranche, secured by its share of the GPUs)",
       "stylized; CoreWeave's DDTL 1.0 was led by Blackstone (FT, July 2023), Fluidstack's borrowing came from Macquarie and others (press, July 2025)", int),
    _p("lenders.concentration_limit", 0.4, 0.01, 1.0, "share of capital", "Largest exposure to one borrower as a share of the fund's capital"),
    _p("lenders.fund_capital", 4.0, 0.1, 500.0, "US$bn", "Capital each named lender allocates to GPU lending in January 2023"),
    _p("lenders.credit_allocation", 150.0, 1.0, 5000.0, "US$bn",
       "Capital credit investors are willing to allocate to GPU-backed lending in all (fund inflows shrink as the "
       "lenders' combined capital approaches it)",
       "assumption (private credit AUM ~US$1.7tn; GPU-backed loans > US$20bn by mid-2025)"),
    _p("lenders.advance_rate", 0.6, 0.0, 0.9, "share of loan marks",
       "Advance rate of a fund's bank back-leverage facility: it may borrow this share of its loans marked at the lower "
       "of principal and collateral; above it the bank makes a margin call",
       "assumption: loan-on-loan facilities for senior direct lending typically advance 50-75%"),
    _p("lenders.spread_loss_sensitivity", 1.0, 0.0, 10.0, "spread per unit loss rate",
       "Risk premium a lender adds to its spreads per unit of its recent loss rate (losses over 12 months / book)"),
    _p("lenders.spread_leverage_sensitivity", 0.10, 0.0, 1.0, "spread per unit LTV",
       "Risk premium per unit of the borrower's LTV after the draw (all its debt over its loans' collateral) above the lender's origination LTV",
       "assumption: spreads rise with leverage (Merton 1974, J. Finance); CoreWeave: SOFR + 2.25% (A3) vs + 4.50% (Ba2) facilities, 2026 (press)"),
    _p("lenders.margin_call_months", 3, 1, 24, "months",
       "Months a fund's bank waits on an unmet margin call before the fund fails (as it does with its net worth exhausted)", kind=int),
    _p("lenders.facility_spread", 0.02, 0.0, 0.1, "per year", "Spread over SOFR a fund pays on its back-leverage facility"),
    _p("lenders.cash_buffer", 0.02, 0.0, 0.5, "share of loan book", "Cash a fund keeps on hand; it repays its facility with cash above it"),
    _p("lenders.capital_growth", 0.06, 0.0, 0.5, "per month", "Largest monthly growth of a lender's allocation, reached at high appetite"),
    _p("lenders.appetite_sentiment", 0.25, 0.0, 2.0, "LTV share per unit sentiment", "Procyclicality of LTV with sentiment"),
    _p("lenders.appetite_prices", 0.5, 0.0, 5.0, "LTV share per unit return", "Procyclicality of LTV with collateral price changes"),
    _p("lenders.loss_aversion", 3.0, 0.0, 20.0, "LTV share per unit loss rate", "LTV cut per unit of recent loss rate"),
    _p("lenders.base_appetite", 0.85, 0.3, 1.0, "share of lenders.max_ltv",
       "Origination LTV as a share of lenders.max_ltv at neutral sentiment, no recent price change and no losses"),
    _p("lenders.redemption_loss_sensitivity", 20.0, 0.0, 100.0, "per unit loss rate",
       "How strongly a fund's recent loss rate turns its investors from inflows to redemptions"),
    _p("lenders.max_covenant_ltv", 0.98, 0.5, 1.0, "share", "Highest LTV covenant a lender writes (lenders.max_ltv + covenant_cushion, capped)"),
    _p("lenders.liquidation_months", 3, 1, 24, "months", "Months over which seized GPUs not needed for contracts are sold", kind=int),
    _p("lenders.contract_collateral_share", 0.25, 0.0, 1.0, "share of remaining value",
       "Share of the remaining value of the compute contracts assigned to a loan that counts as its collateral"),
    # --- markets ----------------------------------------------------------------------------------
    _p("markets.initial_spot_price", 4.7, 0.1, 50.0, "US$/H100e-hour", "Spot price in December 2022", "H100 rental launched at ~US$4.70 per GPU-hour (Latent Space, '$2 H100s', October 2024)"),
    _p("markets.generation_substitution", 8.0, 1.0, 100.0, "elasticity",
       "Elasticity of substitution between GPU generations in buyers' compute demand (large: one price per H100e)",
       "No published estimate; set so that per-GPU rents keep the ratios trackers report in 2026 (B200 about 2x the "
       "H100: US$5.30 vs US$2.60 per GPU-hour, Silicon Data mid-2026; A100 US$0.80-3.00, May 2026 price trackers)"),
    _p("markets.generation_floor_share", 0.25, 0.01, 1.0, "share",
       "A generation with little in use rents as if at least this share of the average generation's use were in use "
       "(bounds a new generation's launch premium under constant-elasticity demand)",
       "Assumption: H200s rented at roughly 1.2-1.5x the H100 per unit of performance at launch (H100 about US$3, "
       "H200 about US$4-5 per GPU-hour in 2024, Latent Space, '$2 H100s', October 2024)"),
    _p("markets.price_adjustment", 0.3, 0.01, 1.0, "per month", "Share of the gap to the clearing price closed each month (posted prices)"),
    _p("markets.term_premium", 0.05, -0.5, 1.0, "share", "Term premium of contract over expected spot at neutral sentiment"),
    _p("markets.term_premium_sentiment", 0.15, 0.0, 2.0, "share per unit sentiment", "Term premium sensitivity to sentiment"),
    _p("markets.contract_price_cap", 1.3, 1.0, 10.0, "x fundamental price",
       "Most a term buyer pays per H100e-hour, as a multiple of the full cost of new capacity (its alternative: "
       "capacity built for it at a cost that earns an equity return)", "H100 rent above ~US$2.85 per GPU-hour beats equity returns (Latent Space, '$2 H100s', October 2024)"),
    _p("markets.liquidity_discount", 0.10, 0.0, 0.9, "share",
       "Outside buyers' discount to appraisal: the most they pay for a used GPU (the top of their demand curve)"),
    _p("markets.price_impact", 1.0, 0.0, 20.0, "log-price per unit depth",
       "Slope of outside buyers' demand: their bid falls by this many log points per market depth they absorb"),
    _p("markets.market_depth", 0.02, 0.0001, 1.0, "share of installed H100e",
       "Outside buyers' depth for each generation: the H100e of it they absorb at unit price impact, as a share of the whole installed base"),
    _p("markets.impact_half_life", 3.0, 0.1, 36.0, "months",
       "Half-life of outside buyers' absorbed volume: how fast their demand for used GPUs recovers"),
    _p("markets.used_budget_share", 0.5, 0.0, 1.0, "share of free cash",
       "Share of its cash above its buffer (and above what its chip orders will cost) a neocloud would spend on used "
       "GPUs in a month"),
    # --- contracts --------------------------------------------------------------------------------
    _p("contracts.term_months", 48, 3, 120, "months", "Mean term of compute contracts", "average contract term ~4 years, ~5 in 2025 (CoreWeave prospectus, March 2025; 10-K)", int),
    _p("contracts.term_spread", 12, 0, 60, "months", "Half-width of the uniform spread of contract terms", kind=int),
    _p("contracts.lead_months", 6, 0, 24, "months",
       "Months between signing a compute contract with a neocloud and its start, for the part the neocloud must build "
       "(idle capacity is sold from the signing month); the prepayment comes at signing, payments once it is live",
       "stylized; CoreWeave's contract backlog far exceeds its current revenue (CoreWeave prospectus, March 2025)", int),
    _p("contracts.prepay_share", 0.15, 0.0, 1.0, "share", "Share of a contract's value prepaid at signing", "customers prepay 15-25% (CoreWeave prospectus, March 2025)"),
    _p("contracts.max_prepay_cash_share", 0.5, 0.01, 1.0, "share of cash",
       "Largest share of its cash a customer pays as a prepayment; a contract whose prepayment would take more is signed "
       "smaller"),
    _p("contracts.min_deal_h100e", 50.0, 0.0, 100000.0, "H100e", "Smallest contract (or forward part of one) a provider signs"),
    _p("contracts.min_request_h100e", 100.0, 0.0, 100000.0, "H100e",
       "Smallest term capacity a lab or hyperscaler brings to the contract market in a month"),
    _p("contracts.max_providers", 4, 1, 50, "providers", "Most providers a lab or hyperscaler signs with in a month (its "
       "largest willing ones, pro rata to their offers)", kind=int),
    # --- expectations -----------------------------------------------------------------------------
    _p("expectations.intensity_of_choice", 4.0, 0.0, 100.0, "1/error", "Brock-Hommes intensity of choice between forecasting rules"),
    _p("expectations.memory", 0.8, 0.0, 0.99, "weight", "Weight of past fitness in the rules' performance measure"),
    _p("expectations.trend_weight", 1.0, 0.0, 5.0, "weight", "Extrapolators' trend-following strength (0 switches extrapolation off)"),
    _p("expectations.reversion_months", 18, 1, 120, "months", "Months over which fundamentalists expect prices to revert", kind=int),
    _p("expectations.cost_trend_weight", 0.5, 0.0, 1.0, "weight",
       "How much of the realised decline of the fundamental (full cost of new H100e capacity, falling with each "
       "generation) forecasters project forward (0 = they expect today's cost to last)",
       "assumption (rational anchor given the roadmap in technology.*)"),
    _p("expectations.cost_trend_months", 24, 1, 120, "months", "Window over which the fundamental's rate of decline is measured", kind=int),
    _p("expectations.sentiment_scale", 0.5, 0.01, 5.0, "per year", "Expected growth (above neutral) giving sentiment tanh(1)"),
    _p("expectations.sentiment_memory", 0.85, 0.0, 0.99, "weight", "Weight of last month's sentiment in this month's (sentiment is persistent)"),
    _p("expectations.initial_sentiment", 0.5, -1.0, 1.0, "index", "Sentiment in January 2023 (after ChatGPT's launch)"),
    _p("expectations.default_news", 2.0, 0.0, 50.0, "per unit annualised default rate",
       "How much defaults lower sentiment: the annualised share of GPU-backed debt defaulting in a month, times this, "
       "is subtracted inside sentiment's tanh (a month in which 5% of the debt defaults lowers it by tanh(1.2))"),
    _p("expectations.loss_news", 2.0, 0.0, 50.0, "per unit annualised loss rate",
       "Sentiment lost per unit of lenders' annualised credit losses over GPU-backed lending"),
    _p("expectations.price_news", 0.5, 0.0, 5.0, "per unit log change",
       "Sentiment news from the 6-month log change of the spot price relative to the full cost of new capacity"),
    _p("expectations.return_news", 0.5, 0.0, 5.0, "per unit log return",
       "Sentiment news from the 6-month returns of used GPUs and of Nvidia's equity (averaged)"),
    _p("expectations.neutral_growth", 0.25, -0.5, 2.0, "per year", "Expected AI growth at which sentiment is neutral"),
    # --- tax --------------------------------------------------------------------------------------
    _p("tax.corporate_rate", 0.25, 0.0, 0.6, "share of taxable profit",
       "Corporate income tax rate of every profitable firm (chipmakers, neoclouds, labs, hyperscalers' AI business), "
       "on profits net of losses carried forward",
       "21% US federal statutory rate (Tax Cuts and Jobs Act of 2017) plus state taxes, about 25%; Nvidia's effective "
       "rate was lower (12.0% in fiscal 2024, 13.3% in fiscal 2025; NVIDIA Form 10-K)"),
    # --- interest rates ---------------------------------------------------------------------------
    _p("rates.sofr_long_run", 0.036, 0.0, 0.2, "per year", "SOFR from 2026 on", "effective federal funds rate 3.64% in March 2026 (Federal Reserve)"),
    _p("rates.shock_size", 0.0, -0.1, 0.2, "per year", "Permanent SOFR shock"),
    _p("rates.shock_year", 2026.0, 2023.0, 2040.0, "year", "Start of the SOFR shock"),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}


def defaults() -> dict[str, Any]:
    return {p.name: p.default for p in PARAMETERS}


def canonical_name(name: str) -> str:
    """Accept ``group.name`` or the identifier form ``group__name`` (usable as a Python keyword)."""
    dotted = name.replace("__", ".")
    if dotted not in BY_NAME:
        raise ParameterError(f"unknown parameter '{name}'; see `gpucredit params` for the list")
    return dotted


def resolve(overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``base`` (a scenario), then ``overrides``; every value validated against its range, then the
    set against the cross-parameter :data:`CONSTRAINTS` (one line naming the conflicting parameters and values)."""
    values = defaults()
    for layer in (base or {}, overrides or {}):
        for name, value in layer.items():
            canonical = canonical_name(name)
            values[canonical] = BY_NAME[canonical].coerce(value)
    for param in PARAMETERS:
        values[param.name] = param.coerce(values[param.name])
    broken = violations(values)
    if broken:
        raise ParameterError("; ".join(broken))
    return values


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``name=value`` from the command line (the value is validated later by :func:`resolve`)."""
    if "=" not in text:
        raise ParameterError(f"--set expects name=value, got '{text}'")
    name, value = text.split("=", 1)
    name = canonical_name(name.strip())
    return name, BY_NAME[name].coerce(value.strip())


@dataclass
class ParameterView:
    """Attribute access to a group of parameters: ``params.lenders.max_ltv``."""

    values: dict[str, Any]
    prefix: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def __getattr__(self, item: str) -> Any:
        key = f"{self.prefix}{item}"
        if key in self.values:
            return self.values[key]
        if any(k.startswith(key + ".") for k in self.values):
            return ParameterView(self.values, key + ".")
        raise AttributeError(key)
