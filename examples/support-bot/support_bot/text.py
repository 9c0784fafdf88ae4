"""Turning text into comparable words, the same way for messages, triggers and knowledge-base passages.

Routing and retrieval only ever compare the output of these functions, so what matters is that both
sides go through the same steps, not that the stemming is linguistically right.
"""

from __future__ import annotations

import re
import unicodedata

# Letters and digits in any script; punctuation, symbols and emoji separate words.
_WORD = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")

# Words that say nothing about the topic. Kept short on purpose: "how", "when" and "where" stay,
# because trigger phrases such as "where is my order" need them.
# fmt: off
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "does", "did",
        "for", "from", "have", "has", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on",
        "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these", "this", "to",
        "us", "was", "we", "were", "what", "which", "will", "with", "would", "you", "your",
    }
)
# fmt: on


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased (NFKC first, so full-width and ligature forms compare equal)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def stem(word: str) -> str:
    """A crude suffix stripper: "deliveries" -> "delivery", "shipped" -> "ship", "refunds" -> "refund"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            root = word[: -len(suffix)]
            # "shipp" -> "ship", "cancell" -> "cancel": the doubled consonant of the inflected form.
            if len(root) > 2 and root[-1] == root[-2] and root[-1] not in "aeiouls":
                root = root[:-1]
            return root
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def stems(text: str) -> list[str]:
    """Every word of ``text`` stemmed, stopwords included: trigger phrases match on these."""
    return [stem(w) for w in words(text)]


def terms(text: str) -> list[str]:
    """The stemmed words of ``text`` without stopwords: what retrieval indexes and searches."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def squash(text: str) -> str:
    """``text`` case-folded with whitespace runs collapsed: how the eval looks for a fact in an answer."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
