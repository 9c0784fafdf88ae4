"""Choosing the skill that answers a message: greetings first, then trigger phrases.

A trigger matches when its words appear in the message in the same order and next to each other,
after both went through ``text.stems`` ("track my parcels" matches the trigger "track my parcel").
Each matching trigger adds its length in words to the skill's score, so a specific phrase ("money
back", 2) outweighs a single broad word; the best score wins, and a tie goes to the skill listed
first in the client's config.yaml, which is how a client says which skill matters more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clients import Skill
from .text import stems, words

GREETING = "greeting"
FALLBACK = "fallback"
GREETING_WORDS = frozenset(
    {"hi", "hello", "hey", "hiya", "howdy", "greetings", "good", "bonjour", "hallo", "hola"}
)
MAX_GREETING_WORDS = 3


@dataclass(frozen=True)
class Route:
    """The outcome: a skill, or ``greeting`` / ``fallback`` (skill is None), and why."""

    name: str
    skill: Skill | None = None
    matched: tuple[str, ...] = ()  # the trigger phrases found in the message
    scores: dict[str, int] = field(default_factory=dict)  # every skill that matched, for debugging


def is_greeting(message_words: list[str]) -> bool:
    """A short opener ("hi", "hello there", "good morning!"), answered with the client's greeting.

    Only short messages count: "hi, where is my parcel?" is a question and goes to the skills.
    """
    return len(message_words) <= MAX_GREETING_WORDS and message_words[0] in GREETING_WORDS


def route(message: str, skills: tuple[Skill, ...]) -> Route:
    """The skill for ``message`` among the enabled ``skills`` (in the config's order)."""
    if is_greeting(words(message)):
        return Route(GREETING)
    tokens = stems(message)
    best: Route | None = None
    scores: dict[str, int] = {}
    for skill in skills:
        matched = tuple(t for t in skill.triggers if _contains(tokens, stems(t)))
        score = sum(len(stems(t)) for t in matched)
        if score == 0:
            continue
        scores[skill.name] = score
        if best is None or score > scores[best.name]:  # strictly better: ties keep the earlier skill
            best = Route(skill.name, skill, matched)
    if best is None:
        return Route(FALLBACK)
    return Route(best.name, best.skill, best.matched, scores)


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))
