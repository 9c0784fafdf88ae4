"""The narrow interface every pull-request host implements, and the size rules its texts follow.

GitHub refuses a PR (or comment) body over 65,536 characters and a title over 256 with a 422; a refused
PR would lose the whole run's evidence, so texts are clamped here, before any host sees them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from jobs.pulls.models import PullRequest, PullRequestDraft
from jobs.tickets.source import check_comment_key, comment_marker

BODY_LIMIT = 65_536
TITLE_LIMIT = 256
ELLIPSIS = "…"


@runtime_checkable
class PullRequests(Protocol):
    """Opens and updates one PR per branch, and keeps one sticky comment per key on it."""

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """The open PR from ``head`` into ``base``, if there is one."""
        ...

    def upsert(self, draft: PullRequestDraft) -> PullRequest:
        """Update the open PR for the draft's head and base, else create it; never a second one.

        ``draft.flagged`` adds the needs-human-review label; an unflagged draft removes it.
        """
        ...

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        """Create, or update in place, the one comment kept for ``key`` on PR ``number``; its URL."""
        ...


def marked_comment(key: str, body: str) -> str:
    """A comment's full text: the hidden marker line for ``key``, then ``body``, clamped to fit."""
    marker = comment_marker(check_comment_key(key))
    return clamp_body(f"{marker}\n{body}")


def is_marked(text: str, key: str) -> bool:
    """Whether a comment's first line is the marker for ``key`` (a marker further down is a quote)."""
    return text.split("\n", 1)[0].strip() == comment_marker(key)


def clamp_title(title: str) -> str:
    """One line, at most 256 characters (ellipsis-cut when longer)."""
    line = " ".join(title.split())
    if _units(line) <= TITLE_LIMIT:
        return line
    return _cut(line, TITLE_LIMIT - 1).rstrip() + ELLIPSIS


def clamp_body(body: str, limit: int = BODY_LIMIT) -> str:
    """``body`` if it is under ``limit``; else cut, on a line boundary where one is near, with a note.

    The note says the full text is in the run's artifacts. Length is counted in UTF-16 code units, which
    is never less than the character count, so the result is under the limit however GitHub counts.
    """
    if _units(body) < limit:
        return body
    note = (
        f"\n\n---\n> **Truncated:** this text was {len(body):,} characters, over GitHub's limit of "
        f"{BODY_LIMIT:,}. The full text is in the run's artifacts.\n"
    )
    room = limit - 1 - _units(note)
    if room <= 0:
        return _cut(note.strip(), limit - 1)
    kept = _cut(body, room)
    newline = kept.rfind("\n")
    # Cut on a line boundary unless that would throw away more than a tenth of what fits.
    if newline >= room * 9 // 10:
        kept = kept[:newline]
    return kept.rstrip() + note


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, units: int) -> str:
    """The longest prefix of ``text`` that is at most ``units`` UTF-16 code units long."""
    kept = text[:units]
    while _units(kept) > units:
        # Each character is one or two units: dropping half the excess in characters never overshoots.
        kept = kept[: -max(1, (_units(kept) - units) // 2)]
    return kept
