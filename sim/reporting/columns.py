"""The data dictionary: every monthly series the model reports, with its unit and meaning.

Money is in US$ billions (monthly flows as monthly amounts, stocks at month end), prices in US$ per GPU-hour
or per H100e-hour (used-GPU prices in US$ per GPU), shares as fractions 0-1, counts as counts. This list is
the single source of the columns of ``timeseries.parquet``/``.csv``, of ``gpucredit columns`` and of the
table in the README; :class:`gpucredit.sim.reporting.series.SeriesRecorder` computes them.
"""

from ..technology import NVIDIA_ROADMAP, RIVAL_ROADMAP


def generation_column(prefix: str, generation: str) -> str:
    """The column of a per-generation series: ``rental_price_h100``, ``secondary_price_post_rubin_1`` (lower case,
    anything but letters and digits replaced by ``_``)."""
    return prefix + "".join(ch if ch.isalnum() else "_" for ch in generation.lower())


def generation_series(generations) -> tuple[tuple[str, str, str], ...]:
    """The per-generation price series of ``generations`` (names): rent and used-market price of one GPU."""
    rents = [(generation_column("rental_price_", g), "US$/GPU-hour",
              f"Spot rent of one {g}: the price index x its performance x its generation's rent relative to the index "
              f"(generations are imperfect substitutes); 0 before its release") for g in generations]
    used = [(generation_column("secondary_price_", g), "US$/GPU",
             f"Used-market price of one {g}: the best bid left for the next GPU (outside buyers' or a neocloud's), never "
             f"above the quote; 0 before its release") for g in generations]
    return tuple(rents + used)


# the default roadmap's generations, which every run has; generations added after Rubin (Post-Rubin-k, Rival-k, their
# number set by technology.cadence_months and the horizon) add their own columns to a run (see series_names)
ROADMAP_GENERATIONS = tuple(g.name for g in sorted(NVIDIA_ROADMAP + RIVAL_ROADMAP, key=lambda g: g.release))

SERIES: tuple[tuple[str, str, str], ...] = (
    ("spot_price_h100e", "US$/H100e-hour", "Posted spot price of an H100-equivalent hour (moves part-way to the clearing price each month)"),
    ("clearing_price_h100e", "US$/H100e-hour", "Price that would clear this month's spot market"),
    *generation_series(ROADMAP_GENERATIONS),
    ("contract_price_h100e", "US$/H100e-hour", "Price of a new term contract: expected average spot over the term x (1 + term premium), at most markets.contract_price_cap x the fundamental price"),
    ("fundamental_price_h100e", "US$/H100e-hour", "Full cost of an H100e-hour on the newest generation (fundamentalists' anchor)"),
    ("fire_sale_discount", "fraction",
     "How far recent sales have pushed used-GPU prices below outside buyers' quote (installed base at market vs at the quote)"),
    ("installed_h100e", "H100e", "Installed GPU base in H100-equivalents (all owners), including GPUs still being installed"),
    ("installing_h100e", "H100e", "Delivered H100e not yet serving compute (installation, technology.deploy_months)"),
    ("installed_gpus", "GPUs", "Installed GPUs (all generations and owners)"),
    ("utilization", "fraction", "Share of the H100e capacity serving compute that is in use (contracted or sold on spot; hyperscalers' own workloads buy on spot)"),
    ("idle_h100e", "H100e", "Live capacity that ran nothing in the month (no contract, no buyer on spot; hyperscalers' capacity withheld below their reservation price included)"),
    ("nvidia_revenue", "US$bn/month", "Nvidia data-centre revenue in the month"),
    ("nvidia_gross_margin", "fraction", "Nvidia gross margin: 1 - cost of goods / revenue"),
    ("nvidia_earnings", "US$bn/month", "Nvidia net income in the month, after corporate tax (incl. stake revaluations and write-downs)"),
    ("nvidia_market_cap", "US$bn", "Nvidia market capitalisation: forward operating earnings x a multiple rising with growth and sentiment"),
    ("nvidia_stake_value", "US$bn", "Market value of Nvidia's equity stakes in customers"),
    ("nvidia_capacity", "GPUs/month", "Nvidia output capacity"),
    ("nvidia_markup", "price/unit cost", "Nvidia list price over unit cost"),
    ("nvidia_order_backlog", "H100e", "Nvidia's order book at month end: H100e ordered and not yet delivered"),
    ("nvidia_order_wait", "months", "Nvidia's order book over this month's output: months of output already sold (a lead-time gauge)"),
    ("chip_orders", "US$bn/month", "Chip orders placed in the month, at the list price of the newest generation (both chipmakers)"),
    ("chip_orders_cancelled", "H100e/month", "Chip orders cancelled in the month (allocations buyers could not pay for, orders of defaulted buyers)"),
    ("chip_deposits", "US$bn", "Deposits on open chip orders (buyers' assets, chipmakers' customer advances)"),
    ("circular_revenue_share", "fraction", "Share of Nvidia's trailing-12-month revenue paid by customers it finances (stake, backstop or rent-back)"),
    ("round_trip_ratio", "fraction", "Share of Nvidia's trailing-12-month financing (equity, backstop, rent-back payments) that came back to Nvidia, money being fungible: each financed firm's Nvidia money times the share of its cash outlays paid to Nvidia"),
    ("nvidia_customer_hhi", "index 0-1", "Herfindahl index of Nvidia's trailing-12-month revenue by customer"),
    ("neocloud_revenue", "US$bn/month", "Revenue of all neoclouds in the month"),
    ("neocloud_debt", "US$bn", "GPU-backed debt of neoclouds outstanding"),
    ("neocloud_avg_ltv", "fraction", "Principal-weighted loan-to-value of neocloud loans, collateral at market"),
    ("neocloud_interest_coverage", "ratio", "Neocloud operating profit before depreciation over interest due"),
    ("construction_debt", "US$bn", "Construction loans of the neoclouds that build data centres outstanding (interest capitalised during construction included; banks are the lenders)"),
    ("datacentre_mw_building", "MW", "Data-centre capacity under construction (it hosts no GPU until complete)"),
    ("datacentre_mw_owned", "MW", "Data-centre capacity neoclouds built and own (no lease paid on it)"),
    ("gpu_backed_lending", "US$bn", "GPU-backed loans outstanding (all lenders)"),
    ("lender_exposure_hhi", "index 0-1", "Herfindahl index of GPU-backed lending by lender"),
    ("origination_ltv", "fraction", "Mean origination LTV offered by lenders (procyclical)"),
    ("defaults_count", "count/month", "Neocloud defaults in the month"),
    ("lead_neocloud_revenue", "US$bn/month", "Lead neocloud (CoreWeave unless renamed): revenue billed in the month (contracts, spot, backstop, rent-backs); NaN after it exits"),
    ("lead_neocloud_ebitda", "US$bn/month", "Lead neocloud: revenue less cost of cover, power and operations, data-centre leases and overheads; NaN after it exits"),
    ("lead_neocloud_interest_expense", "US$bn/month", "Lead neocloud: interest expense of the month on its GPU-backed and (finished data centres') construction loans, paid or added to the loan unpaid (interest capitalised into a data centre under construction is part of its cost, not an expense); NaN after it exits"),
    ("lead_neocloud_debt", "US$bn", "Lead neocloud: all its debt outstanding, GPU-backed and construction loans; NaN after it exits"),
    ("lead_neocloud_backlog", "US$bn", "Lead neocloud: remaining value of its compute contracts as provider; NaN after it exits"),
    ("lead_neocloud_valuation", "US$bn", "Lead neocloud: equity valuation; NaN after it exits"),
    ("lead_neocloud_top_customer_share", "fraction", "Lead neocloud: largest customer's share of its trailing-12-month revenue; NaN after it exits"),
    ("nvidia_stake_in_lead", "fraction", "Nvidia's equity share of the lead neocloud; NaN after it exits"),
    ("lab_failures", "count/month", "AI labs that failed in the month (defaulting on their compute contracts)"),
    ("venture_allotment", "US$bn/month", "Venture and public equity allotted to private AI firms this month, after losses held back"),
    ("venture_raised", "US$bn/month", "Raised from that allotment by labs, start-ups and neoclouds this month"),
    ("debt_in_default", "US$bn/month", "Principal of the loans that defaulted in the month"),
    ("gpus_seized", "GPUs/month", "GPUs seized by lenders in the month"),
    ("used_gpus_resold", "GPUs/month", "Used GPUs bought by neoclouds in the month (they stay in the economy and rent out again)"),
    ("fire_sale_volume", "US$bn/month", "Proceeds of forced GPU sales in the month (lender liquidations and distressed sellers)"),
    ("lender_losses", "US$bn/month", "Lenders' credit losses in the month: defaulted principal less recoveries, plus losses on later sales of seized GPUs below their value at seizure"),
    ("lender_leverage", "ratio", "Lenders' assets (cash, loans, seized GPUs at book) over their investors' equity"),
    ("lender_borrowings", "US$bn", "Lenders' borrowings on their bank back-leverage facilities"),
    ("lender_uncalled", "US$bn", "Investors' commitments to the lenders not yet called"),
    ("avg_spread_ig", "fraction/year", "Average spread over SOFR on the month's new lending backed by investment-grade contracts (last value carried forward in months without any)"),
    ("avg_spread_non_ig", "fraction/year", "Average spread over SOFR on the month's other new lending (last value carried forward in months without any)"),
    ("loan_provisions", "US$bn", "Provisions for expected credit losses: principal above collateral value summed over open loans"),
    ("covenant_breaches", "count/month", "LTV-covenant breaches and missed payments enforced in the month"),
    ("covenant_waivers", "count/month", "Breaches waived by lenders in the month"),
    ("lender_failures", "count/month", "Credit funds that failed in the month (net worth exhausted or a margin call unmet for lenders.margin_call_months); their loans sold to the largest surviving fund"),
    ("ai_revenue", "US$bn/month", "End-user AI revenue in the month: potential revenue times the share the compute in use could serve"),
    ("ai_potential_revenue", "US$bn/month", "End-user AI revenue adopters would pay if compute were not scarce: market size / 12 x adoption x the demand shock"),
    ("ai_adoption", "fraction", "Adopters' share of the long-run AI market (logistic diffusion, slowed when compute is rationed)"),
    ("ai_compute_in_use", "H100e", "Live capacity that ran contracts, spot sales or its owner's workloads in the month (AI usage)"),
    ("ai_market_size", "US$bn/year", "The run's long-run AI market (drawn once per run; agents never observe it)"),
    ("expected_market_size", "US$bn/year", "Agents' posterior mean of the long-run AI market, learnt from the revenue that arrives"),
    ("ai_capex", "US$bn/month", "GPU purchases plus the data-centre construction they need, in the month"),
    ("hyperscaler_capex", "US$bn/month", "Big-four hyperscaler capex: AI capex plus non-AI capex (Oracle excluded)"),
    ("hyperscaler_net_debt", "US$bn", "Bonds less cash of the five hyperscalers (negative: net cash); each issues no bonds for discretionary spending above hyperscalers.max_net_leverage x its annual core cash flow"),
    ("corporate_tax", "US$bn/month", "Corporate income tax paid by all firms in the month (on the previous month's taxable profit, net of losses carried forward)"),
    ("revenue_required", "US$bn/year", "Sequoia's question: end-user AI revenue the GPU spending implies, 4 x annualised GPU spending (last 3 months)"),
    ("revenue_gap", "US$bn/year", "Sequoia's gap: revenue_required minus annualised AI revenue (last 3 months)"),
    ("sentiment", "index -1..1", "Sentiment index: persistent average of tanh(news): expected AI growth above neutral, rent and return news, defaults and credit losses"),
    ("extrapolator_share", "fraction", "Share of agents using the extrapolating forecast rule"),
    ("sofr", "fraction/year", "SOFR"),
    ("book_minus_market_gpus", "US$bn", "Book value (straight-line depreciation) minus market value of all installed GPUs"),
    ("backstop_paid", "US$bn/month", "Nvidia capacity-backstop payments in the month"),
    ("neoclouds_alive", "count", "Neoclouds operating at month end"),
    ("startups_alive", "count", "AI start-ups operating at month end"),
    ("startup_failures", "count/month", "AI start-ups that failed in the month"),
    ("systemic_risk", "fraction", "DebtRank-style distress: exposure-weighted average distress (0-1) of network nodes after every neocloud's GPUs lose 20% of their value, propagated through loans, stakes, contracts and backstops (initial shock included)"),
)

SERIES_NAMES = tuple(name for name, _, _ in SERIES)
UNITS = {name: unit for name, unit, _ in SERIES}


def series_names(generations) -> tuple[str, ...]:
    """The columns of a run whose roadmap has ``generations`` (names): :data:`SERIES_NAMES`, then the price series of
    the generations after the default roadmap."""
    extra = [g for g in generations if g not in ROADMAP_GENERATIONS]
    return SERIES_NAMES + tuple(name for name, _, _ in generation_series(extra))


def unit_of(column: str) -> str:
    """The unit of a column, the per-generation series of generated generations included."""
    if column in UNITS:
        return UNITS[column]
    for prefix, unit in (("rental_price_", "US$/GPU-hour"), ("secondary_price_", "US$/GPU")):
        if column.startswith(prefix):
            return unit
    raise KeyError(column)
# series of one named firm (the lead neocloud): NaN from the month it exits (or throughout if a scenario removes it)
NAN_AFTER_EXIT = tuple(name for name in SERIES_NAMES if name.startswith("lead_neocloud_") or name == "nvidia_stake_in_lead")
