"""Reports: from a study to a paper-ready HTML page and PDF (``gpucredit report``).

:func:`build_report` runs what is missing of a report's studies through the study engine (stored runs are
reused), gathers every statistic from the stores and writes ``report.html`` (self-contained), ``report.pdf``
(Typst, no TeX), booktabs/CSV tables and SVG/PDF/PNG figures. See :mod:`.build` for the directory layout and
:mod:`.spec` for the report specification.

gpucredit is a stylized research model: not a forecast or investment advice.
"""

from .build import build_report
from .facts import load_facts
from .spec import ReportError, ReportSpec, from_file, from_flags

__all__ = ["build_report", "load_facts", "ReportError", "ReportSpec", "from_file", "from_flags"]
