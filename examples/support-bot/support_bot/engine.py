"""The bot: a client's files in, an answer out (the skill that answered and the sources it used).

No language model: the route comes from trigger phrases (``routing``), the facts from BM25 retrieval
over the client's knowledge base (``retrieval``), and the answer is the skill's body with the
retrieved sections put in place of ``{passages}``. The same message always gets the same answer,
which is what makes ``support_bot.eval`` reproducible offline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .clients import ClientFiles, is_domain, load_client
from .retrieval import Hit, Index
from .routing import FALLBACK, GREETING, route

OPENERS = {"friendly": "Happy to help!", "formal": "Thank you for your question.", "concise": ""}
PASSAGES = "{passages}"
# A passage far behind the best one is noise: keep those scoring at least this share of the best.
RELATIVE_CUTOFF = 0.4


@dataclass(frozen=True)
class Source:
    """A knowledge-base section an answer quoted."""

    doc: str
    title: str
    section: str

    def as_dict(self) -> dict[str, str]:
        return {"doc": self.doc, "title": self.title, "section": self.section}


@dataclass(frozen=True)
class Answer:
    text: str
    skill: str  # a skill's name, or "greeting" / "fallback"
    sources: tuple[Source, ...] = ()


class Bot:
    """One client's bot, built once from its files (the index is the only costly part)."""

    def __init__(self, files: ClientFiles) -> None:
        self.files = files
        self.config = files.config
        self.index = Index(files.kb)

    def answer(self, message: str) -> Answer:
        chosen = route(message, self.files.skills)
        if chosen.name == GREETING:
            return Answer(self.config.greeting, GREETING)
        if chosen.skill is None:
            return Answer(self.config.fallback, FALLBACK)
        skill = chosen.skill
        hits = self.index.search(message, limit=skill.max_passages, docs=skill.kb)
        hits = [h for h in hits if h.score >= RELATIVE_CUTOFF * hits[0].score] if hits else []
        return Answer(self._compose(skill.body, hits), skill.name, tuple(_source(h) for h in hits))

    def _compose(self, body: str, hits: list[Hit]) -> str:
        # Nothing found: say so in the client's words rather than quote an unrelated section.
        found = "\n\n".join(h.passage.text for h in hits) or self.config.fallback
        text = body.replace(PASSAGES, found) if PASSAGES in body else f"{body}\n\n{found}"
        opener = OPENERS[self.config.tone]
        return f"{opener} {text}" if opener else text


def _source(hit: Hit) -> Source:
    p = hit.passage
    return Source(p.doc, p.doc_title, p.section)


class Catalog:
    """The bots of every client folder under ``root``, each rebuilt when its files change.

    Rebuilding on change lets staff (or the onboarding job) edit a client's files without a restart;
    the check is a directory walk of a few dozen files, cheap next to a request.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._bots: dict[str, tuple[tuple[float, int], Bot]] = {}
        self._lock = threading.Lock()

    def is_configured(self, domain: str) -> bool:
        return is_domain(domain) and (self.root / domain / "config.yaml").is_file()

    def get(self, domain: str) -> Bot | None:
        """The bot of ``domain``; None when it has no folder. ClientFileError when its files are broken."""
        if not self.is_configured(domain):
            return None
        stamp = self._stamp(self.root / domain)
        with self._lock:
            cached = self._bots.get(domain)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        bot = Bot(load_client(self.root, domain))
        with self._lock:
            self._bots[domain] = (stamp, bot)
        return bot

    @staticmethod
    def _stamp(folder: Path) -> tuple[float, int]:
        files = [p for p in folder.rglob("*") if p.is_file()]
        return (max((p.stat().st_mtime for p in files), default=0.0), len(files))
