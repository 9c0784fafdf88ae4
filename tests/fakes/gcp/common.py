"""Path patterns and small helpers shared by the per-API fakes."""

from __future__ import annotations

import copy
import json
import uuid
from typing import TypeVar

from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request

T = TypeVar("T")
SEG = r"[^/:]+"
PROJECT = rf"projects/(?P<project>{SEG})"
LOCATION = rf"{PROJECT}/locations/(?P<location>{SEG})"


def body_of(request: Request) -> Json:
    if not isinstance(request.body, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    return copy.deepcopy(request.body)


def mask(request: Request, body: Json | None = None) -> list[str]:
    """An update mask from the query (``updateMask=a,b``) or the body, as camelCase field names."""
    raw = request.query.get("updateMask") or (body or {}).get("updateMask") or ""
    return [_camel(p.strip()) for p in raw.split(",") if p.strip()]


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(word.title() for word in rest)


def apply_mask(stored: Json, incoming: Json, fields: list[str]) -> None:
    for name in fields:
        if name in incoming:
            stored[name] = copy.deepcopy(incoming[name])
        else:
            stored.pop(name, None)


def check_project(server: GcpServer, project: str) -> None:
    if project != server.project:
        raise ApiError(403, f"Permission denied on resource project {project}.")


def new_etag() -> str:
    return uuid.uuid4().hex[:16]


def snapshot(value: T) -> T:
    """A deep copy through JSON, as a response body would be."""
    copied: T = json.loads(json.dumps(value))
    return copied
