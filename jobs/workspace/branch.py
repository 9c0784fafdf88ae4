"""Branch names and one-line titles made from untrusted ticket text.

The branch comes from the ticket identifier alone (already validated to ``ABC-123``), so it is the
same on every attempt whatever happens to the title; titles are flattened to one safe line for commit
messages and PR titles.
"""

from __future__ import annotations

import re
import unicodedata

from jobs.errors import ConfigError

BRANCH_PREFIX = "factory/"
SAFE_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
MAX_TITLE = 120


def branch_for(identifier: str) -> str:
    """The one branch a ticket ever gets: ``factory/ix-123``."""
    return check_branch(BRANCH_PREFIX + identifier.lower())


def check_branch(name: str) -> str:
    """Accept only plain branch names: no ``..``, no refspec or shell syntax, no lock/reflog forms."""
    bad = (
        not SAFE_BRANCH.match(name)
        or ".." in name
        or "//" in name
        or name.endswith(("/", ".", ".lock"))
        or "/." in name
        or name.startswith("-")
    )
    if bad:
        raise ConfigError(f"unsafe branch name {name!r}")
    return name


def safe_title(text: str, limit: int = MAX_TITLE) -> str:
    """One printable line: control, format (bidi, zero-width) and separator characters become spaces."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        out.append(" " if (category[0] in "CZ" and char != " ") or category == "Cf" else char)
    flat = " ".join("".join(out).split())
    return flat[: limit - 1] + "…" if len(flat) > limit else flat
