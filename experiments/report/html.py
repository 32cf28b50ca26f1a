"""The report as one self-contained HTML page: CSS inline, figures as inline SVG, no external reference.

The page opens offline in any browser and can be mailed as a single file.
"""

from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path
from string import Template

from .document import Bullets, Document, Figure, Paragraph, Section, Table

LONG_TABLE = 40  # tables with more rows are folded (<details>) so the page stays readable
_SVG_START = re.compile(r"<svg\b", re.S)


def _template() -> Template:
    return Template(resources.files(__package__).joinpath("templates/report.html").read_text(encoding="utf-8"))


def inline_svg(path: Path, fig_id: str) -> str:
    """The SVG element of a matplotlib SVG file, without its XML prolog and DOCTYPE, with ids made unique to
    the figure (two inline SVGs must not share clip-path ids)."""
    text = path.read_text(encoding="utf-8")
    match = _SVG_START.search(text)
    svg = text[match.start():] if match else text
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{fig_id}-{m.group(1)}"', svg)
    return re.sub(r'url\(#([^)]+)\)|xlink:href="#([^"]+)"|href="#([^"]+)"',
                  lambda m: (f"url(#{fig_id}-{m.group(1)})" if m.group(1) else
                             f'xlink:href="#{fig_id}-{m.group(2)}"' if m.group(2) else f'href="#{fig_id}-{m.group(3)}"'),
                  svg)


def _figure(fig: Figure, number: int, figures_dir: Path) -> str:
    svg = inline_svg(figures_dir / f"{fig.stem}.svg", f"f{number}")
    return (f'<figure id="fig-{fig.stem}" style="max-width:{fig.width * 100:.0f}%;margin-left:auto;margin-right:auto">'
            f"{svg}<figcaption><b>Figure {number}.</b> {html.escape(fig.caption)}</figcaption></figure>")


def _table(table: Table, number: int) -> str:
    classes = " ".join(c for c, on in (("small", table.small), ("mono", table.mono)) if on)
    head = "".join(f'<th class="{a}">{html.escape(h)}</th>' for h, a in zip(table.header, table.align))
    body = "\n".join("<tr>" + "".join(f'<td class="{a}">{html.escape(c)}</td>' for c, a in zip(row, table.align))
                     + "</tr>" for row in table.rows)
    caption = f"<caption><b>Table {number}.</b> {html.escape(table.caption)}</caption>"
    out = (f'<div class="tablewrap"><table id="tab-{table.stem}" class="{classes}">{caption}<thead><tr>{head}</tr>'
           f"</thead><tbody>\n{body}\n</tbody></table></div>")
    if len(table.rows) > LONG_TABLE:
        out = f"<details><summary>Table {number}: {len(table.rows)} rows (click to show)</summary>{out}</details>"
    return out


def _section(section: Section, counters: dict, figures_dir: Path, number: str) -> str:
    parts = [f'<section id="{section.key}"><h2>{number} {html.escape(section.title)}</h2>']
    for block in section.blocks:
        if isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Figure):
            counters["figure"] += 1
            parts.append(_figure(block, counters["figure"], figures_dir))
        elif isinstance(block, Table):
            counters["table"] += 1
            parts.append(_table(block, counters["table"]))
    parts.append("</section>")
    return "\n".join(parts)


def section_numbers(doc: Document) -> list[str]:
    """1, 2, ... for the body; A, B, ... for the appendices (the same in HTML and PDF)."""
    numbers, body, appendix = [], 0, 0
    for section in doc.sections:
        if section.appendix:
            numbers.append(f"Appendix {chr(ord('A') + appendix)}.")
            appendix += 1
        else:
            body += 1
            numbers.append(f"{body}.")
    return numbers


def render_html(doc: Document, figures_dir: Path) -> str:
    """The whole page as a string."""
    counters = {"figure": 0, "table": 0}
    numbers = section_numbers(doc)
    body = "\n".join(_section(s, counters, figures_dir, n) for s, n in zip(doc.sections, numbers))
    toc = "\n".join(f'<li><a href="#{s.key}">{n} {html.escape(s.title)}</a></li>' for s, n in zip(doc.sections, numbers))
    return _template().substitute(title=html.escape(doc.title), subtitle=html.escape(doc.subtitle),
                                  disclaimer=html.escape(doc.disclaimer), abstract=html.escape(doc.abstract),
                                  toc=toc, body=body)
