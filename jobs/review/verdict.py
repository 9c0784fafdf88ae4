"""The reviewer's verdict: the rubric scores it must return, and the strict parser for its reply (C4).

Anything malformed raises ``ReviewParseError`` and is never a pass; its message is short and is fed
back to the model in a re-ask. The reply must be exactly one JSON object once surrounding whitespace
(Python's ``str.strip``) is removed: no prose, no code fences, no NaN/Infinity, no duplicate keys.
Invisible format characters (a byte-order mark, zero-width spaces) are not whitespace and are
rejected like any other stray text: a re-ask is cheaper than guessing what the model meant.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobs.errors import FactoryError

Criterion = Literal[
    "correctness", "code_quality", "test_coverage", "type_safety", "security", "documentation"
]
CRITERIA: tuple[str, ...] = get_args(Criterion)  # one source of truth for the names, in rubric order
PASS_SCORE = 4
MAX_REPLY_CHARS = 200_000
MAX_MESSAGE_CHARS = 300
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


class ReviewParseError(FactoryError):
    """The reviewer's reply is not a valid review; the message says why, briefly, for a re-ask."""

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(message)


class _Rejected(ValueError):
    """Raised from json.loads hooks; carries the whole message."""


def _snippet(text: str, limit: int = 40) -> str:
    # repr escapes newlines, control characters and surrogates, so the message stays one clean line.
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _reject_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not valid JSON; scores must be integers 0-5")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last duplicate, so a low score could hide behind a later high one.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Rejected(f"duplicate key {_snippet(key)}: each key may appear only once")
        seen.add(key)
    return dict(pairs)


def _json_error(text: str, err: json.JSONDecodeError) -> str:
    if err.pos == 0 and unicodedata.category(text[0]) == "Cf":
        return f"reply starts with an invisible character U+{ord(text[0]):04X}; send plain JSON only"
    if text.startswith(("```", "~~~")):
        return "remove the markdown code fence: reply with the bare JSON object only"
    if err.pos == 0:
        return f"reply must be only a JSON object, no text before it; it starts with {_snippet(text)}"
    if err.msg == "Extra data":
        return f"reply must be exactly one JSON object, nothing after it; found {_snippet(text[err.pos :])}"
    near = _snippet(text[max(0, err.pos - 20) : err.pos + 20])
    return f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}; near {near}"


def _validation_error(err: ValidationError) -> str:
    first = err.errors(include_url=False, include_input=False)[0]
    path = ".".join(_snippet(str(part)) if len(str(part)) > 40 else str(part) for part in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")  # pydantic's wrapper around our own messages
    extra = err.error_count() - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{path or 'review'}: {msg}{more}"


def parse_review(text: str) -> Review:
    """Parse the reviewer's reply strictly; raise ``ReviewParseError`` for anything malformed."""
    if not isinstance(text, str):
        raise ReviewParseError(f"reply must be text, got {type(text).__name__}")
    if len(text) > MAX_REPLY_CHARS:
        raise ReviewParseError(f"reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    text = text.strip()
    if not text:
        raise ReviewParseError("reply is empty; send the review as one JSON object")
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except _Rejected as err:
        raise ReviewParseError(str(err)) from None
    except json.JSONDecodeError as err:
        raise ReviewParseError(_json_error(text, err)) from None
    except RecursionError:
        raise ReviewParseError("JSON is nested too deeply to be a review") from None
    except ValueError:  # not a JSONDecodeError: an integer longer than Python's int conversion limit
        raise ReviewParseError("invalid JSON: a number has too many digits") from None
    if not isinstance(data, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(data), "number")
        raise ReviewParseError(f"top level must be a JSON object, got {kind}")
    try:
        return Review.model_validate(data)
    except ValidationError as err:
        raise ReviewParseError(_validation_error(err)) from None
    except RecursionError:
        raise ReviewParseError("JSON is nested too deeply to be a review") from None


def review_schema() -> dict[str, Any]:
    """The JSON schema shown to the reviewer model."""
    return Review.model_json_schema()
