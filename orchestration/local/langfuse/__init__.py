"""A loopback stand-in for Langfuse's public API (``/api/public``), in memory, authenticated as Langfuse
authenticates: HTTP basic auth with the project's public key (user) and secret key (password).

Shapes come from Langfuse's Fern definitions (``fern/apis/server/definition`` in langfuse/langfuse, the
source of https://cloud.langfuse.com/generated/api/openapi.yml) and its route handlers.

- ``ingestion``: ingestion batches and created scores, validated and applied as Langfuse applies them.
- ``store``: what the stand-in holds for its one project, the enums, the API error.
- ``query``: request parameters (page and limit, lists, time bounds, ``fields`` groups, cursors).
- ``api``: the read paths, current (Langfuse v4) and legacy (Langfuse v3).
- ``shapes``: the JSON of traces, observations and scores, and the v3 deprecation notices.
- ``server``: the HTTP server and handler (auth), ``LangfuseStandIn`` and ``main``
  (``python -m orchestration.local.langfuse``).

Not modelled: OpenTelemetry ingestion (``/api/public/otel/v1/traces``), sessions, datasets, prompts,
metrics, the JSON ``filter`` parameter, rate limits, model price matching (costs are only what was sent).
"""

from __future__ import annotations

from orchestration.local.langfuse.api import TRACE_ORDER_FIELDS
from orchestration.local.langfuse.ingestion import (
    EVENT_TYPES,
    InvalidEvent,
    normalize_cost,
    normalize_usage,
    optional_str,
    optional_time,
)
from orchestration.local.langfuse.query import (
    bad_request,
    comma_list,
    decode_cursor,
    encode_cursor,
    field_groups,
    invalid_request,
    meta,
    page_and_limit,
    query_list,
    query_value,
    time_bound,
)
from orchestration.local.langfuse.server import CONFIRM_HOST, LangfuseStandIn, main
from orchestration.local.langfuse.shapes import (
    DEPRECATIONS,
    OBSERVATION_V2_FIELDS,
    SCORE_V3_FIELDS,
    SUNSET,
    TRACE_FIELDS,
)
from orchestration.local.langfuse.store import (
    LEVELS,
    OBSERVATION_TYPES,
    SCORE_SOURCES,
    SCORE_TYPES,
    ApiError,
    Json,
    iso,
    parse_time,
)

__all__ = [
    "CONFIRM_HOST",
    "DEPRECATIONS",
    "EVENT_TYPES",
    "LEVELS",
    "OBSERVATION_TYPES",
    "OBSERVATION_V2_FIELDS",
    "SCORE_SOURCES",
    "SCORE_TYPES",
    "SCORE_V3_FIELDS",
    "SUNSET",
    "TRACE_FIELDS",
    "TRACE_ORDER_FIELDS",
    "ApiError",
    "InvalidEvent",
    "Json",
    "LangfuseStandIn",
    "bad_request",
    "comma_list",
    "decode_cursor",
    "encode_cursor",
    "field_groups",
    "invalid_request",
    "iso",
    "main",
    "meta",
    "normalize_cost",
    "normalize_usage",
    "optional_str",
    "optional_time",
    "page_and_limit",
    "parse_time",
    "query_list",
    "query_value",
    "time_bound",
]
