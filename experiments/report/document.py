"""The report as a document: sections of paragraphs, lists, figures and tables, independent of the output format.

:mod:`.html` renders it as one self-contained HTML page, :mod:`.pdf` as Typst markup compiled to PDF, and
:mod:`.tables` writes each table as booktabs LaTeX and CSV. Text is plain (no markup): each renderer escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Figure:
    """A figure saved as ``figures/<stem>.svg|pdf|png``; ``width`` is its share of the text width."""

    stem: str
    caption: str
    width: float = 1.0


@dataclass
class Table:
    """A table: formatted cells for the page, the raw numbers for tables/<stem>.csv.

    ``align`` has one letter per column (``l`` or ``r``); ``small`` sets it in a smaller font (long appendices).
    """

    stem: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    raw: pd.DataFrame
    align: str = ""
    small: bool = False
    mono: bool = False
    widths: tuple[str, ...] = ()  # PDF column widths ("auto", "2fr", ...); default: every column auto

    def __post_init__(self) -> None:
        if not self.align:
            self.align = "l" + "r" * (len(self.header) - 1)


Block = Paragraph | Bullets | Figure | Table


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    appendix: bool = False

    def add(self, *blocks: Block) -> "Section":
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    subtitle: str
    abstract: str
    disclaimer: str
    sections: list[Section] = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


# ====================================================================================================
# number formatting shared by every table
# ====================================================================================================
def num(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits and thousands separators; an en dash for a missing value."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "\u2013"
    if x != x or x in (float("inf"), float("-inf")):
        return "\u2013"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}" if abs(x) >= 1e-3 else f"{x:.2e}"


def pct(x, digits: int = 1) -> str:
    """A fraction as a percentage."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "\u2013"
    return "\u2013" if x != x else f"{100 * x:.{digits}f}%"


def pval(p) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "\u2013"
    if p != p:
        return "\u2013"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_is(p) -> str:
    """``p = 0.034`` or ``p < 0.001`` for running text."""
    text = pval(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"
