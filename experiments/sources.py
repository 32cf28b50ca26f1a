"""The original sources of the calibration targets and of the facts behind default parameters: read from
``experiments/data/calibration_targets.toml`` (package data) and cited.

Light on purpose (the standard library only), so that ``gpucredit calibration --help`` can list the sources
without loading the model. :mod:`gpucredit.experiments.calibration` reads the targets themselves.

A source is an original article or filing: its publisher, its title (the published headline in quotation marks;
a description, without them, for a press report whose headline is not recorded), its date and its address, with
what the address points at: the document itself, a list of filings that holds it, or the publisher's site when
the document's own address is not known with confidence (an address is never guessed).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Iterable

TARGETS_FILE = "data/calibration_targets.toml"

#: what a source's address points at, as a reader is told
URL_SCOPES = {"article": "", "index": "List of filings: ", "site": "Publisher's site (article address not recorded): "}


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files("gpucredit.experiments").joinpath(TARGETS_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_sources() -> dict[str, dict]:
    """Every source by key: ``publisher``, ``title`` (``title_exact``: the published headline, else a description),
    ``date``, ``url`` (``url_scope``: ``article``, ``index`` or ``site``), ``url_checked``, optional ``author`` and
    ``note``."""
    return dict(_data().get("source", {}))


def _title(source: dict) -> str:
    """A published headline in quotation marks; a description of an untitled report as it stands."""
    return f"\u201c{source['title']}\u201d" if source.get("title_exact", True) else source["title"]


def cite(keys: Iterable[str]) -> str:
    """Short citations of sources: ``publisher, "title" (date)`` joined by "; "."""
    sources = load_sources()
    return "; ".join(f"{sources[k]['publisher']}, {_title(sources[k])} ({sources[k]['date']})" for k in keys)


def reference(key: str) -> str:
    """The full reference of a source: publisher, title, author, date and address (saying what it points at)."""
    source = load_sources()[key]
    author = f" ({source['author']})" if source.get("author") else ""
    scope = URL_SCOPES.get(source.get("url_scope", "article"), "")
    return f"{source['publisher']}, {_title(source)}{author}, {source['date']}. {scope}{source['url']}"


def number_sources(cited: Iterable[Iterable[str]]) -> dict[str, int]:
    """Source keys numbered 1, 2, ... in order of first citation (``cited``: the keys each item cites)."""
    order = dict.fromkeys(k for keys in cited for k in keys)
    return {key: n for n, key in enumerate(order, start=1)}


def target_sources_text() -> str:
    """Every calibration target with its numbered sources, then the numbered references (for ``--help``)."""
    targets = _data().get("target", [])
    numbers = number_sources(t.get("sources", []) for t in targets)
    lines = ["calibration targets (sources in brackets):"]
    lines += [f"  {t['label']} ({t.get('unit', '')}): {t['value']:g}  "
              + " ".join(f"[{numbers[k]}]" for k in t.get("sources", [])) for t in targets]
    lines += ["", "sources:"] + [f"  [{n}] {reference(key)}" for key, n in numbers.items()]
    return "\n".join(lines)
