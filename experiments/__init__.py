"""Running gpucredit and storing its results.

* :mod:`experiments.run`     -- :func:`~experiments.run.run_scenario`: one reproducible run written to a results
  directory (monthly time series, event log, balance sheets, network snapshots, manifest, figures);
* :mod:`experiments.figures` -- :func:`~experiments.figures.standard_panel`: the five standard figures;
* :mod:`experiments.cli`     -- the ``gpucredit`` command line.

Scenario files live in ``experiments/scenarios/``. gpucredit is a stylized research model: not a forecast or
investment advice.
"""
