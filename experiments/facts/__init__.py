"""The stylized facts of the model as experiments (docs/ODD.md, section 10.1): for each fact, the studies that test
it (experiments/studies/fact*.toml), a function that reads their stored runs and returns the statistic, its 95%
confidence interval over seeds, the number of runs and a verdict (``holds`` / ``fails`` / ``inconclusive``), and
``gpucredit facts`` to run and tabulate them. Nothing is forced: a fact that fails is reported with its numbers.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from .common import CLAIMS, FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, FactRow, StoredStudy, verdict
from .runner import FACT_STUDIES, FACTS, FactsError, evaluate, fact_verdict, format_table, markdown, run_facts

__all__ = ["CLAIMS", "FAILS", "HOLDS", "INCONCLUSIVE", "NOT_RUN", "FactRow", "StoredStudy", "verdict", "FACT_STUDIES",
           "FACTS", "FactsError", "evaluate", "fact_verdict", "format_table", "markdown", "run_facts"]
