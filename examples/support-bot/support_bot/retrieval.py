"""Keyword retrieval over a client's knowledge base: BM25 on "## " sections, in pure Python.

A section is the unit a customer needs ("Delivery times", "Refund timing"), small enough to quote in
an answer. BM25 rather than plain term counts so that a word every document uses ("order") weighs
less than a rare one ("customs"), and long sections do not win just by being long.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .clients import KBDoc
from .text import terms

K1 = 1.5
B = 0.75
TITLE_WEIGHT = 2  # a section's heading says what it is about: its words count twice
_HEADING = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)
_LIST_ITEM = re.compile(r"^([-*]|\d+\.) ")


@dataclass(frozen=True)
class Passage:
    """One section of a knowledge-base document."""

    doc: str  # the file name, e.g. "shipping.md"
    doc_title: str
    section: str  # the "## " heading; the document's title for the text before the first heading
    text: str  # the section's markdown, without its heading


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


def split_passages(doc: KBDoc) -> list[Passage]:
    """``doc`` cut at its "## " headings; the "# " title line is not part of any passage."""
    body = doc.text
    if body.startswith("# "):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    passages: list[Passage] = []
    cuts = list(_HEADING.finditer(body))
    intro = body[: cuts[0].start()] if cuts else body
    if intro.strip():
        passages.append(Passage(doc.file, doc.title, doc.title, _unwrap(intro)))
    for i, cut in enumerate(cuts):
        end = cuts[i + 1].start() if i + 1 < len(cuts) else len(body)
        text = _unwrap(body[cut.end() : end])
        if text:
            passages.append(Passage(doc.file, doc.title, cut.group(1), text))
    return passages


def _unwrap(markdown: str) -> str:
    """Paragraphs on one line each (files are wrapped at 100 columns, chat bubbles are not); list
    items keep their own lines."""
    out: list[str] = []
    for line in markdown.strip().splitlines():
        line = line.strip()
        if out and line and out[-1] and not _LIST_ITEM.match(line):
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


class Index:
    """A BM25 index over the passages of some documents."""

    def __init__(self, docs: tuple[KBDoc, ...] | list[KBDoc]) -> None:
        self.passages = [p for doc in docs for p in split_passages(doc)]
        self._tf = [Counter(terms(p.section) * TITLE_WEIGHT + terms(p.text)) for p in self.passages]
        self._len = [sum(tf.values()) for tf in self._tf]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(self.passages)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, query: str, limit: int = 3, docs: tuple[str, ...] = ()) -> list[Hit]:
        """The best passages for ``query``, best first; only from ``docs`` when given; never a zero score.

        Ties go to the earlier passage (file order, then position), so results never depend on hashing.
        """
        wanted = set(terms(query))
        hits: list[Hit] = []
        for i, passage in enumerate(self.passages):
            if docs and passage.doc not in docs:
                continue
            score = self._score(i, wanted)
            if score > 0:
                hits.append(Hit(passage, round(score, 4)))
        hits.sort(key=lambda h: -h.score)  # stable: equal scores keep index order
        return hits[:limit]

    def _score(self, i: int, wanted: set[str]) -> float:
        tf, length = self._tf[i], self._len[i]
        norm = K1 * (1 - B + B * length / self._avg) if self._avg else K1
        return sum(self._idf[t] * tf[t] * (K1 + 1) / (tf[t] + norm) for t in wanted if t in tf)
