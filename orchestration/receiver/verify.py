"""Authenticity checks for a Linear webhook delivery: the body signature and its freshness.

Linear signs the raw request body with the webhook's signing secret (HMAC-SHA256, lowercase hex, in the
``Linear-Signature`` header) and puts the send time, in Unix milliseconds, in the body's
``webhookTimestamp`` field. Linear's own SDK refuses a delivery whose timestamp is more than one minute
away from the receiver's clock, in either direction; this module applies the same rule, inclusive at
exactly 60 s. Nothing here logs or returns the body, the secret or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from pydantic import SecretStr

SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
TIMESTAMP_FIELD = "webhookTimestamp"
MAX_SKEW_MS = 60_000


def sign(secret: SecretStr, body: bytes) -> str:
    """The signature Linear would send for ``body``: hex HMAC-SHA256 keyed with the signing secret."""
    return hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: SecretStr, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of exactly these bytes (constant-time compare)."""
    if not header:
        return False
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), given)


def timestamp_ok(value: object, now_ms: int) -> bool:
    """Whether a ``webhookTimestamp`` value is a number of ms within ±60 s of ``now_ms`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return abs(now_ms - value) <= MAX_SKEW_MS
