"""The report as a PDF, without TeX: Typst markup compiled by the ``typst`` Python package.

The ``typst`` wheel carries the whole compiler, so nothing is downloaded at run time. Text is set in STIX General
and tables in DejaVu, the TrueType fonts that ship with matplotlib (the same fonts as the figures); system fonts
are ignored, so the PDF is the same on every machine. Figures are the vector PDFs of ``figures/``, whose fonts
matplotlib embeds as TrueType (``pdf.fonttype`` 42); Typst embeds every font it uses.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

import matplotlib

from .document import Bullets, Document, Figure, Paragraph, Section, Table
from .html import section_numbers


def typst_string(text: str) -> str:
    """A Typst string literal: text shown verbatim, whatever characters it holds."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    return f'"{escaped}"'


def _table(table: Table) -> str:
    align = "(" + ", ".join("left" if a == "l" else "right" for a in table.align) + ",)"
    header = ", ".join(f"table.cell(text(weight: \"bold\", {typst_string(h)}))" for h in table.header)
    cells = ",\n    ".join(", ".join(typst_string(c) for c in row) for row in table.rows)
    size = "5.6pt" if table.mono else "7pt" if table.small else "8.6pt"
    columns = "(" + ", ".join(table.widths) + ",)" if table.widths else str(len(table.header))
    font = ', font: "DejaVu Sans Mono"' if table.mono else ""
    return (f"#figure(kind: table, caption: {typst_string(table.caption)},\n"
            f"  text(size: {size}{font}, table(columns: {columns}, align: {align},\n"
            f"    table.hline(stroke: 0.8pt), table.header({header}), table.hline(stroke: 0.5pt),\n"
            f"    {cells},\n    table.hline(stroke: 0.8pt)))) <tab-{table.stem}>\n")


def _figure(fig: Figure) -> str:
    """A figure at its share of the text width, floating to the top or bottom of a page (``placement: auto``) so
    that a tall figure does not leave the rest of a page empty."""
    return (f'#figure(image("figures/{fig.stem}.pdf", width: {fig.width * 100:.1f}%), placement: auto, '
            f"caption: {typst_string(fig.caption)}) <fig-{fig.stem}>\n")


def _section(section: Section, number: str) -> str:
    # the floating figures of the previous section are placed before this one begins
    parts = [f"#place.flush()\n#heading(level: 1, {typst_string(number + ' ' + section.title)}) <{section.key}>\n"]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            parts.append(f"#par({typst_string(block.text)})\n")
        elif isinstance(block, Bullets):
            parts.append("#list(" + ", ".join(typst_string(i) for i in block.items) + ")\n")
        elif isinstance(block, Figure):
            parts.append(_figure(block))
        elif isinstance(block, Table):
            parts.append(_table(block))
    return "\n".join(parts)


def render_typst(doc: Document) -> str:
    """The whole document as Typst markup (figure paths relative to the report directory)."""
    template = Template(resources.files(__package__).joinpath("templates/report.typ").read_text(encoding="utf-8"))
    body = "\n".join(_section(s, n) for s, n in zip(doc.sections, section_numbers(doc)))
    return template.substitute(title=typst_string(doc.title), subtitle=typst_string(doc.subtitle),
                               disclaimer=typst_string(doc.disclaimer), abstract=typst_string(doc.abstract),
                               body=body)


def font_dir() -> str:
    """matplotlib's TrueType fonts (STIX General, DejaVu Sans/Serif/Mono)."""
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")


def compile_pdf(source: Path, root: Path) -> bytes:
    """Compile a Typst file (figure paths relative to ``root``) to PDF bytes, offline, with a fixed timestamp so
    the same report gives the same file."""
    import typst

    return typst.compile(str(source), root=str(root), font_paths=[font_dir()], ignore_system_fonts=True,
                         timestamp=0)
