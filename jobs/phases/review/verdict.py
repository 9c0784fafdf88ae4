"""The reviewer's verdict: the rubric scores it must return, and the strict parser for its reply (C4).

Anything malformed raises ``ReviewParseError`` and is never a pass; its message is short and is fed
back to the model in a re-ask. The reply must be exactly one JSON object once surrounding whitespace
(Python's ``str.strip``) is removed: no prose, no code fences, no NaN/Infinity, no duplicate keys.
Invisible format characters (a byte-order mark, zero-width spaces) are not whitespace and are
rejected like any other stray text: a re-ask is cheaper than guessing what the model meant.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jobs.replies import ReplyParseError, parse_reply

Criterion = Literal[
    "correctness", "code_quality", "test_coverage", "type_safety", "security", "documentation"
]
CRITERIA: tuple[str, ...] = get_args(Criterion)  # one source of truth for the names, in rubric order
PASS_SCORE = 4
Score = Annotated[int, Field(ge=0, le=5)]


def _text(value: str) -> str:
    # A blank summary or change gives the fixer nothing to read or act on.
    if not value.strip():
        raise ValueError("must not be blank")
    return value


_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}  # control, format (zero-width, BOM), line and paragraph separators


def _repo_path(value: str) -> str:
    # The fixer opens this path inside the checkout, so it must not point outside it or hide characters.
    if any(unicodedata.category(ch) in _HIDDEN for ch in value):
        raise ValueError("must not contain control or invisible characters")
    if value.startswith(("/", "\\")):
        raise ValueError("must be relative to the repository root, not absolute")
    if ".." in re.split(r"[/\\]", value):
        raise ValueError("must not contain a '..' segment")
    return value


Text = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_text)]
RepoPath = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_repo_path)]


class _Strict(BaseModel):
    # strict: "4", 4.0 and true are not scores; forbid: a misspelled or invented field is a mistake.
    model_config = ConfigDict(extra="forbid", strict=True)


class Scores(_Strict):
    """One 0-5 score per rubric criterion."""

    correctness: Score
    code_quality: Score
    test_coverage: Score
    type_safety: Score
    security: Score
    documentation: Score

    def failing(self) -> list[str]:
        """Criteria scoring below ``PASS_SCORE``, in ``CRITERIA`` order."""
        return [name for name in CRITERIA if getattr(self, name) < PASS_SCORE]


class ReviewIssue(_Strict):
    """One thing the fixer should change."""

    file: RepoPath = Field(description="repository-relative path, e.g. src/app.py")
    line: Annotated[int, Field(ge=1)] | None = Field(default=None, description="1-based line, or null")
    criterion: Criterion
    change: Text = Field(description="what to change")


class Review(_Strict):
    """The reviewer's verdict on one diff."""

    scores: Scores
    summary: Text
    issues: list[ReviewIssue] = Field(max_length=50)

    @property
    def passed(self) -> bool:
        """Every criterion scored at least ``PASS_SCORE``."""
        return not self.scores.failing()

    @model_validator(mode="after")
    def _failing_needs_issues(self) -> Review:
        # A failing review sends the diff to the fixer, which needs something concrete to act on.
        failing = self.scores.failing()
        if failing and not self.issues:
            raise ValueError(f"scores below {PASS_SCORE} ({', '.join(failing)}) need at least one issue")
        return self


class ReviewParseError(ReplyParseError):
    """The reviewer's reply is not a valid review; the message says why, briefly, for a re-ask."""


def parse_review(text: str) -> Review:
    """Parse the reviewer's reply strictly; raise ``ReviewParseError`` for anything malformed."""
    try:
        return parse_reply(text, Review, "review", "scores must be integers 0-5")
    except ReviewParseError:
        raise
    except ReplyParseError as err:
        raise ReviewParseError(str(err)) from None


def review_schema() -> dict[str, Any]:
    """The JSON schema shown to the reviewer model."""
    return Review.model_json_schema()
