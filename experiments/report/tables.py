"""Tables as files: ``tables/<stem>.tex`` (booktabs, for a LaTeX paper) and ``tables/<stem>.csv`` (the raw numbers).

The LaTeX needs only ``\\usepackage{booktabs}``; each table is a ``table`` float with its caption and a label
``tab:<stem>``.
"""

from __future__ import annotations

from pathlib import Path

from .document import Table

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\u2013": "--", "\u2014": "---",
          "<": r"\textless{}", ">": r"\textgreater{}", "\u00b1": r"$\pm$", "\u2264": r"$\le$", "\u2265": r"$\ge$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def booktabs(table: Table) -> str:
    """The table as a LaTeX ``table`` float with booktabs rules."""
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small" if table.small else "",
             rf"\caption{{{latex_escape(table.caption)}}}", rf"\label{{tab:{table.stem}}}",
             rf"\begin{{tabular}}{{{table.align}}}", r"\toprule",
             " & ".join(latex_escape(h) for h in table.header) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(line for line in lines if line)


def write_tables(tables: list[Table], directory: Path) -> list[Path]:
    """Write every table as .tex and .csv into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        tex, csv = directory / f"{table.stem}.tex", directory / f"{table.stem}.csv"
        tex.write_text(booktabs(table) + "\n", encoding="utf-8")
        table.raw.to_csv(csv, index=False)
        written += [tex, csv]
    return written
