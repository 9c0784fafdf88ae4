"""Ingestion into the Sentry stand-in, as Relay answers it.

``POST /api/<project_id>/envelope/`` with the DSN's public key in the ``X-Sentry-Auth`` header, the
``sentry_key`` query parameter or the envelope header's ``dsn``; the body may be gzip/deflate compressed
(``Content-Encoding``), as the SDK sends it. ``event`` items become events (see ``grouping`` and
``store``); other items (sessions, client reports, attachments, transactions) are accepted and counted,
not stored. This module reads the envelope; the handler in ``server`` checks the key and stores the items.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib

from orchestration.local.sentry.model import ApiError, Json


def _read_envelope(body: bytes) -> tuple[Json, list[tuple[Json, bytes]]]:
    """Parse an envelope: a JSON header line, then items (a JSON header line and a payload, of the
    header's ``length`` when given, else up to the next newline)."""
    header_line, _, rest = body.partition(b"\n")
    try:
        header = json.loads(header_line or b"{}")
    except json.JSONDecodeError as exc:
        causes = ["invalid envelope header", str(exc)]
        raise ApiError(400, {"detail": "invalid event envelope", "causes": causes}) from None
    if not isinstance(header, dict):
        raise ApiError(400, {"detail": "invalid event envelope", "causes": ["invalid envelope header"]})
    items: list[tuple[Json, bytes]] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        try:
            item_header = json.loads(line)
        except json.JSONDecodeError as exc:
            causes = ["invalid item header", str(exc)]
            raise ApiError(400, {"detail": "invalid event envelope", "causes": causes}) from None
        if not isinstance(item_header, dict) or "type" not in item_header:
            raise ApiError(400, {"detail": "invalid event envelope", "causes": ["missing item header"]})
        length = item_header.get("length")
        if isinstance(length, int):
            if len(rest) < length:
                raise ApiError(
                    400, {"detail": "invalid event envelope", "causes": ["unexpected end of file"]}
                )
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return header, items


def _sentry_auth_key(header: str) -> str | None:
    if not header.lower().startswith("sentry "):
        return None
    for part in header[7:].split(","):
        name, _, value = part.strip().partition("=")
        if name == "sentry_key":
            return value.strip()
    return None


def _decode_body(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return raw
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]  # optional: only if the SDK chose br

            return bytes(brotli.decompress(raw))
    except ImportError:
        raise ApiError(
            400, {"detail": "invalid request body", "causes": ["brotli is not available"]}
        ) from None
    except (OSError, zlib.error, EOFError) as exc:
        raise ApiError(400, {"detail": "invalid request body", "causes": [str(exc)]}) from None
    raise ApiError(400, {"detail": "invalid request body", "causes": [f"unsupported encoding {encoding}"]})


_ENVELOPE = re.compile(r"^/api/(?P<project>\d+)/envelope/?$")
