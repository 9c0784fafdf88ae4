"""Unhandled errors to Sentry through the official SDK, when ``SENTRY_DSN`` is set.

The Flask integration reports every exception a request raises, with its stack trace. The release
and environment (``support_bot.config``) are set so an error can be tied to the code that raised it;
frames of this package are marked in-app so the trace points at our code, not Flask's.
"""

from __future__ import annotations

import os

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.transport import Transport

from .. import config


def init_sentry(service: str, dsn: str | None = None, transport: Transport | None = None) -> bool:
    """Start the SDK for ``service`` (backend, playground, backoffice); False when no DSN is set.

    ``dsn`` defaults to ``$SENTRY_DSN``; an empty string turns Sentry off whatever the environment
    says (the tests do this). ``transport`` replaces the HTTP transport (tests only).
    """
    dsn = os.environ.get("SENTRY_DSN", "") if dsn is None else dsn
    if not dsn.strip():
        return False
    sentry_sdk.init(
        dsn=dsn.strip(),
        environment=config.environment(),
        release=config.release(),
        integrations=[FlaskIntegration(transaction_style="url")],
        in_app_include=["support_bot"],
        # No send_default_pii / data_collection: the SDK's defaults leave out IP addresses, cookies
        # and user data, and keep the request body, which is what shows which message failed.
        traces_sample_rate=0.0,  # errors only: tracing of chat turns is Langfuse's job
        transport=transport,
    )
    sentry_sdk.set_tag("service", service)
    return True
