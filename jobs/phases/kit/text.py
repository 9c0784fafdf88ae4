"""Untrusted text (model output, repository names, ticket text) made safe to publish as one line.

Redacted first, its whitespace collapsed so no newline can start a heading or a list, and clamped; as a
code span, no backtick can break out of it, so no link, image, HTML or @mention in it renders.
"""

from __future__ import annotations

from collections.abc import Callable

CLAMPED = " [...]"


def one_line(text: str, redact: Callable[[str], str], limit: int) -> str:
    """``text`` redacted, on one line, at most ``limit`` characters (plus the clamp marker)."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[:limit] + CLAMPED


def code_span(text: str, redact: Callable[[str], str], limit: int) -> str:
    """``one_line`` as inline code: backticks become quotes, so the span cannot be closed early."""
    return "`" + one_line(text, redact, limit).replace("`", "'") + "`"
