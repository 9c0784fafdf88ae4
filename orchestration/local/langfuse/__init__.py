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

from orchestration.local.langfuse.server import LangfuseStandIn, main

__all__ = ["LangfuseStandIn", "main"]
