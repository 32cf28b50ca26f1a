"""Running gpucredit and storing its results.

* :mod:`experiments.run`     -- :func:`~experiments.run.run_scenario`: one reproducible run written to a results
  directory (monthly time series, event log, balance sheets, network snapshots, manifest, figures);
* :mod:`experiments.figures` -- :func:`~experiments.figures.standard_panel`: the five standard figures;
* :mod:`experiments.cli`     -- the ``gpucredit`` command line;
* :mod:`experiments.study`   -- study specifications, experimental designs and run identity;
* :mod:`experiments.engine`  -- :func:`~experiments.engine.run_study`: a study through a process pool or Dask;
* :mod:`experiments.store`   -- the study directory and its DuckDB views (:func:`~experiments.store.query`);
* :mod:`experiments.outcomes`, :mod:`experiments.sensitivity`, :mod:`experiments.compare`,
  :mod:`experiments.study_figures` -- run outcomes, SALib indices, scenario comparison, study figures.

Scenario files live in ``experiments/scenarios/``, example studies in ``experiments/studies/``. gpucredit is a stylized research model: not a forecast or
investment advice.
"""
