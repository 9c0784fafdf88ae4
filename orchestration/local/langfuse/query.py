"""Request parameters of the Langfuse stand-in's read API, checked as Langfuse's schemas check them:
page and limit, repeated and comma-separated lists, time bounds, ``fields`` groups, base64 cursors; a
bad one is Langfuse's 400.
"""

from __future__ import annotations

import base64
import binascii
import json

from orchestration.local.langfuse.store import ApiError, Json, parse_time


def invalid_request(problem: str, path: str) -> ApiError:
    """Langfuse's answer to a query that fails its zod schema."""
    issue = {"code": "custom", "path": [path], "message": problem}
    return ApiError(400, {"message": "Invalid request data", "error": [issue]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"message": message, "error": "InvalidRequestError"})


def query_value(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values and values[-1] != "" else None


def query_list(query: dict[str, list[str]], name: str) -> list[str]:
    """A parameter given repeatedly (``tags=a&tags=b``)."""
    return [v for v in query.get(name, []) if v != ""]


def comma_list(query: dict[str, list[str]], name: str) -> list[str]:
    value = query_value(query, name)
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def page_and_limit(query: dict[str, list[str]]) -> tuple[int, int]:
    page_raw, limit_raw = query_value(query, "page"), query_value(query, "limit")
    try:
        page = int(page_raw) if page_raw is not None else 1
    except ValueError:
        raise invalid_request("Expected number, received nan", "page") from None
    if page < 1:
        raise invalid_request("Number must be greater than 0", "page")
    try:
        limit = int(limit_raw) if limit_raw is not None else 50
    except ValueError:
        raise invalid_request("Expected number, received nan", "limit") from None
    if limit < 1:
        raise invalid_request("Number must be greater than or equal to 1", "limit")
    if limit > 100:
        raise invalid_request("Number must be less than or equal to 100", "limit")
    return page, limit


def time_bound(query: dict[str, list[str]], name: str) -> float | None:
    raw = query_value(query, name)
    if raw is None:
        return None
    try:
        return parse_time(raw, name)
    except ValueError:
        raise invalid_request("Invalid datetime", name) from None


def meta(page: int, limit: int, total: int) -> Json:
    return {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)}


def encode_cursor(position: Json, urlsafe: bool = False) -> str:
    raw = json.dumps(position).encode()
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe else base64.b64encode(raw)).decode()


def decode_cursor(raw: str, urlsafe: bool = False) -> Json:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded)
        position = json.loads(data)
    except (binascii.Error, ValueError):
        raise bad_request("Invalid cursor format") from None
    if not isinstance(position, dict):
        raise bad_request("Invalid cursor format")
    return position


def field_groups(query: dict[str, list[str]], allowed: tuple[str, ...], strict: bool) -> list[str] | None:
    """A ``fields`` parameter: ``None`` when absent; unknown names are dropped, or a 400 when ``strict``."""
    names = comma_list(query, "fields")
    if not names:
        return None
    unknown = [n for n in names if n not in allowed]
    if unknown and strict:
        raise bad_request(f"Unknown field group(s): {', '.join(unknown)}. Allowed: {', '.join(allowed)}")
    return [n for n in names if n in allowed]
