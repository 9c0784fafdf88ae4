"""The Sentry stand-in's read API (``Authorization: Bearer <token>``): its routes and request parsing.

Shapes from Sentry's OpenAPI (getsentry/sentry-api-schema):

- ``GET /api/0/organizations/{org}/issues/``: ``query`` (default ``is:unresolved``; ``is:``, ``level:``,
  ``key:value`` tags, free text; ``!`` negates), ``project`` (numeric ids, ``-1`` for all) and
  ``projectSlug`` (slugs, ``$all`` for all) as ``check_projects`` reads them, ``environment``,
  ``statsPeriod`` or ``start``/``end`` (default 14d), ``sort`` (date, new, freq, user), ``limit`` (max
  100), ``cursor``, ``groupStatsPeriod``; ``Link`` header cursor pagination exactly as Sentry formats it.
- ``GET|PUT /api/0/organizations/{org}/issues/{issue_id}/`` (id or short id; PUT sets ``status``).
- ``GET .../issues/{issue_id}/events/`` (``full``, ``per_page``, ``cursor``, date range) and
  ``GET .../issues/{issue_id}/events/{latest|oldest|recommended|event_id}/`` with ``entries``.
- ``GET|POST .../issues/{issue_id}/comments/`` (alias ``notes/``): the group notes endpoint.
- The same issue paths without ``organizations/{org}/`` (``/api/0/issues/{issue_id}/...``).

The answers' JSON is in ``shapes``; the handler in ``server`` routes, authenticates and rate-limits.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote, urlencode

from orchestration.local.sentry.model import ApiError, Issue, parse_time

NOT_FOUND = {"detail": "The requested resource does not exist"}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid token"}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
INVALID_PROJECT = {"detail": "Invalid project parameter. Values must be numbers."}
DEFAULT_STATS_PERIOD = timedelta(days=14)
MAX_LIMIT = 100
ALL_PROJECTS_ID = -1  # Sentry's ALL_ACCESS_PROJECTS
ALL_PROJECTS_SLUG = "$all"  # Sentry's ALL_ACCESS_PROJECTS_SLUG
_PERIOD = re.compile(r"^(\d+)([smhdw]?)$")
_PERIOD_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATUS_QUERIES = {
    "unresolved": ("unresolved", None),
    "resolved": ("resolved", None),
    "ignored": ("ignored", None),
    "archived": ("ignored", None),
    "new": ("unresolved", "new"),
    "ongoing": ("unresolved", "ongoing"),
    "regressed": ("unresolved", "regressed"),
    "escalating": ("unresolved", "escalating"),
}


def date_window(
    query: dict[str, list[str]], now: float, default: timedelta | None
) -> tuple[float, float] | None:
    """``statsPeriod`` (overrides) or ``start``/``end``; ``default`` when neither is given."""
    period = (query.get("statsPeriod") or [""])[-1]
    if period:
        match = _PERIOD.match(period)
        if not match:
            raise ApiError(400, {"detail": f"Invalid statsPeriod: {period!r}"})
        seconds = int(match.group(1)) * _PERIOD_UNITS[match.group(2)]
        return now - seconds, now
    start, end = (query.get("start") or [""])[-1], (query.get("end") or [""])[-1]
    if start or end:
        if not (start and end):
            raise ApiError(400, {"detail": "start and end are both required"})
        begin, finish = parse_time(start), parse_time(end)
        if begin is None or finish is None:
            raise ApiError(400, {"detail": "start and end must be ISO-8601 datetimes"})
        if begin > finish:
            raise ApiError(400, {"detail": "start must be before end"})
        return begin, finish
    if default is None:
        return None
    return now - default.total_seconds(), now


def check_projects(query: dict[str, list[str]], project_id: int, project_slug: str) -> None:
    """The projects asked for, as Sentry's ``OrganizationEndpoint.get_projects`` reads them
    (``src/sentry/api/bases/organization.py``): ``project`` holds numeric ids only, every value parsed
    with ``int`` (a slug, or an empty value, is a 400); ``projectSlug`` holds slugs (empty values
    dropped) and, when given, selects; ``-1`` / ``$all`` mean every project the caller can access. A
    project asked for by id or slug that is not this one is a 403, as for any project the token cannot
    see. Nothing asked for means the caller's projects: this one."""
    try:
        ids = {int(value) for value in query.get("project", [])}
    except ValueError:
        raise ApiError(400, INVALID_PROJECT) from None
    slugs = {value for value in query.get("projectSlug", []) if value}
    if slugs:
        if ALL_PROJECTS_SLUG in slugs:
            return
        selected = slugs & {project_slug}
        # Sentry checks the ids against what the slugs selected too, when both are given.
        if slugs != selected or (ids and ids != ({project_id} if selected else set())):
            raise ApiError(403, NO_PERMISSION)
    elif ids and ALL_PROJECTS_ID not in ids and ids != {project_id}:
        raise ApiError(403, NO_PERMISSION)


def parse_cursor(query: dict[str, list[str]]) -> tuple[int, bool]:
    raw = (query.get("cursor") or [""])[-1]
    if not raw:
        return 0, False
    parts = raw.split(":")
    try:
        if len(parts) != 3:
            raise ValueError(raw)
        _value, offset, is_prev = float(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        raise ApiError(400, {"detail": "Invalid cursor parameter."}) from None
    if offset < 0:
        raise ApiError(400, {"detail": "Invalid cursor parameter."})
    return offset, bool(is_prev)


def parse_limit(query: dict[str, list[str]], name: str) -> int:
    raw = (query.get(name) or [""])[-1]
    if not raw:
        return MAX_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, {"detail": f"Invalid {name}"}) from None
    if value <= 0:
        raise ApiError(400, {"detail": f"Invalid {name}"})
    return min(value, MAX_LIMIT)


def cursor_links(
    base_url: str, path: str, query: dict[str, list[str]], offset: int, limit: int, total: int
) -> str:
    """Sentry's ``Link`` header (``build_cursor_link``): both cursors always, ``results`` says which has
    rows, the query string kept without ``cursor``."""
    pairs = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
    uri = f"{base_url}{quote(path)}?{urlencode(pairs)}"

    def link(name: str, cursor: str, has_results: bool) -> str:
        flag = "true" if has_results else "false"
        return f'<{uri}&cursor={cursor}>; rel="{name}"; results="{flag}"; cursor="{cursor}"'

    prev = link("previous", f"0:{max(0, offset - limit)}:1", offset > 0)
    nxt = link("next", f"0:{offset + limit}:0", offset + limit < total)
    return f"{prev}, {nxt}"


def issue_matches(issue: Issue, tokens: list[str]) -> bool:
    for token in tokens:
        negate = token.startswith("!")
        term = token[1:] if negate else token
        key, sep, value = term.partition(":")
        if sep and key == "is":
            if value not in _STATUS_QUERIES:
                raise ApiError(400, {"detail": f'Invalid value for "is" search: {value!r}'})
            status, substatus = _STATUS_QUERIES[value]
            hit = issue.status == status and (substatus is None or issue.substatus == substatus)
        elif sep and key == "level":
            hit = issue.level == value
        elif sep and key in ("issue.id", "id"):
            hit = issue.id == value
        elif sep and key in ("issue", "shortId"):
            hit = issue.short_id.lower() == value.lower()
        elif sep:
            hit = any((key, value) in e.tags for e in issue.events)
        else:
            needle = term.lower()
            hit = needle in issue.title.lower() or needle in issue.culprit.lower()
        if hit == negate:
            return False
    return True


_ISSUE_PREFIX = r"^/api/0/(?:organizations/(?P<org>[^/]+)/)?issues/(?P<issue>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("issues", re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/issues/?$")),
    ("issue", re.compile(_ISSUE_PREFIX + r"/?$")),
    ("events", re.compile(_ISSUE_PREFIX + r"/events/?$")),
    (
        "event",
        re.compile(_ISSUE_PREFIX + r"/events/(?P<event>latest|oldest|recommended|[0-9a-fA-F-]{32,36})/?$"),
    ),
    ("notes", re.compile(_ISSUE_PREFIX + r"/(?:notes|comments)/?$")),
]
