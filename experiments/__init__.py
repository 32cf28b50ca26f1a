"""Running gpucredit and storing its results.

* :mod:`gpucredit.experiments.run`     -- :func:`~experiments.run.run_scenario`: one reproducible run written to a results
  directory (monthly time series, event log, balance sheets, network snapshots, manifest, figures);
* :mod:`gpucredit.experiments.figures` -- :func:`~experiments.figures.standard_panel`: the six standard figures and the project style;
* :mod:`gpucredit.experiments.cli`     -- the ``gpucredit`` command line;
* :mod:`gpucredit.experiments.study`   -- study specifications, experimental designs and run identity;
* :mod:`gpucredit.experiments.engine`  -- :func:`~experiments.engine.run_study`: a study through a process pool or Dask;
* :mod:`gpucredit.experiments.store`   -- the study directory and its DuckDB views (:func:`~experiments.store.query`);
* :mod:`gpucredit.experiments.outcomes`, :mod:`gpucredit.experiments.sensitivity`, :mod:`gpucredit.experiments.compare`,
  :mod:`gpucredit.experiments.study_figures` -- run outcomes, SALib indices, scenario comparison, study figures.

Scenario files live in ``experiments/scenarios/``, example studies in ``experiments/studies/``. gpucredit is a stylized research model: not a forecast or
investment advice.
"""

from importlib import metadata as _metadata

try:  # one source of truth: [project] version in pyproject.toml, as installed
    __version__ = _metadata.version("gpucredit")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"
