"""A tiny HTML builder that escapes by construction: the report's one way to make markup.

Every string that is not already ``Html`` is escaped when it becomes part of an element, and every
attribute value is escaped, so text written by a model or a ticket (a title, a transcript line, a
reviewer's issue) can only ever be text. Links go through ``safe_href``: a relative path we built, or an
``http``, ``https`` or ``file`` URL; anything else (``javascript:``, ``data:``) is dropped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import urlsplit

LINK_SCHEMES = ("http", "https", "file")
URL_ATTRIBUTES = ("href", "src")


class Html(str):
    """Markup that is safe as it stands: made only by this module's builders."""

    __slots__ = ()


def esc(text: object) -> str:
    """``text`` as HTML text or attribute value: ``& < > " '`` escaped."""
    return html.escape(str(text), quote=True)


def safe_href(url: str) -> str | None:
    """``url`` if a report may link to it; None for any other scheme or an odd relative form."""
    url = url.strip()
    if not url or any(ord(ch) < 0x20 or ch == "\\" for ch in url):
        return None
    parts = urlsplit(url)
    if parts.scheme:
        return url if parts.scheme.lower() in LINK_SCHEMES else None
    if url.startswith("//"):
        return None  # a scheme-relative URL would leave the report's own location
    return url


def _text(child: object) -> str:
    if child is None or child is False:
        return ""
    if isinstance(child, Html):
        return child
    if isinstance(child, str | int | float):
        return esc(child)
    if isinstance(child, Iterable):
        return "".join(_text(part) for part in child)
    return esc(child)


def join(*children: object) -> Html:
    """The children one after another (strings escaped, ``Html`` kept, iterables flattened)."""
    return Html("".join(_text(child) for child in children))


def el(tag: str, *children: object, **attrs: str | int | float | bool | None) -> Html:
    """``<tag attrs>children</tag>``; ``class_`` is ``class``, ``data_x`` is ``data-x``; a False or None
    attribute is left out, True is a bare attribute. Tags and attribute names are ours, never input."""
    rendered = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        if value is True:
            rendered.append(f" {key}")
            continue
        text = str(value)
        if key in URL_ATTRIBUTES:
            href = safe_href(text)
            if href is None:
                continue
            text = href
        rendered.append(f' {key}="{esc(text)}"')
    opening = f"<{tag}{''.join(rendered)}>"
    if tag in ("img", "meta", "br", "hr", "link", "col"):
        return Html(opening)
    return Html(f"{opening}{join(*children)}</{tag}>")


def link(text: object, url: str | None, **attrs: str | int | float | bool | None) -> Html:
    """A link when ``url`` is one a report may hold; otherwise the text alone."""
    if url is None or safe_href(url) is None:
        return join(text)
    return el("a", text, href=url, **attrs)
