"""Compare the fields we set with what the API holds, ignoring everything the server sets itself.

Only keys present in the desired state are compared, so server-set fields (``etag``, ``uid``,
``createTime``, ``generation``, defaults the server fills in) never show up as drift. Proto3 JSON omits
zero values, so an absent field equals a desired ``0``, ``""``, ``false`` or empty container. Lists of
objects with a ``name`` (env vars) are matched by name, so an added, removed or changed variable is
reported as itself; other lists of objects are compared position by position. Maps are compared key by
key, so a change reads ``userEnvVars.FACTORY_SLACK_SECRET: "" → "x"``, never a dump of the whole map.
Paths listed as ``exact`` are maps we own whole (``userEnvVars``): a key someone else added there is
drift too, reported as ``userEnvVars.DEBUG: "1" → (unset)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LONG_TEXT = 200  # image references and URLs are shown whole; workflow sources are not


@dataclass(frozen=True)
class Change:
    """One field that differs: ``path`` was ``old`` and becomes ``new``; ``added`` for a set member."""

    path: str
    old: Any
    new: Any
    added: bool = False

    def describe(self) -> str:
        if self.added:
            return f"{self.path}: + {self.new}"
        return f"{self.path}: {show(self.old)} → {show(self.new)}"


def show(value: Any) -> str:
    """A short, readable rendering; long text is summarised (workflow sources run to kilobytes)."""
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        if len(value) > LONG_TEXT:
            digest = hashlib.sha256(value.encode()).hexdigest()[:12]
            return f"<{len(value)} chars, sha256 {digest}>"
        return json.dumps(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= LONG_TEXT else text[: LONG_TEXT - 1] + "…"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value is False or value == 0 or value == {} or value == []


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items)


def _compare(want: Any, have: Any, path: str, exact: frozenset[str]) -> list[Change]:
    if isinstance(want, Mapping) and path not in exact:
        if have is None:
            have = {}
        if not isinstance(have, Mapping):
            return [Change(path, have, want)]
        return diff(want, have, exact=exact, path=path)
    if isinstance(want, list) and (have is None or isinstance(have, list)):
        return _compare_lists(want, have or [], path, exact)
    if isinstance(want, Mapping):  # an exact map: keys we do not set count too
        if have is None:
            have = {}
        if not isinstance(have, Mapping):
            return [Change(path, have, want)]
        extra = [Change(f"{path}.{k}", v, None) for k, v in have.items() if k not in want and not _empty(v)]
        return diff(want, have, exact=exact, path=path) + extra
    if have is None and _empty(want):
        return []
    return [] if want == have else [Change(path, have, want)]


def _compare_lists(want: list[Any], have: list[Any], path: str, exact: frozenset[str]) -> list[Change]:
    if _named(want) and (not have or _named(have)):
        mine = {i["name"]: i for i in want}
        theirs = {i["name"]: i for i in have}
        out: list[Change] = []
        for name, item in mine.items():
            if name not in theirs:
                out.append(Change(f"{path}[{name}]", None, item))
            else:
                out += _compare(item, theirs[name], f"{path}[{name}]", exact)
        out += [Change(f"{path}[{n}]", theirs[n], None) for n in theirs if n not in mine]
        return out
    if len(want) == len(have) and all(isinstance(w, Mapping) for w in want):
        out = []
        for index, (w, h) in enumerate(zip(want, have, strict=True)):
            out += _compare(w, h, f"{path}[{index}]", exact)
        return out
    return [] if want == have else [Change(path, have or None, want)]


def diff(
    desired: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    exact: frozenset[str] = frozenset(),
    path: str = "",
) -> list[Change]:
    """The changes that would turn ``current`` into ``desired``, for the keys ``desired`` sets."""
    changes: list[Change] = []
    for key, want in desired.items():
        here = f"{path}.{key}" if path else key
        changes += _compare(want, current.get(key), here, exact)
    return changes
