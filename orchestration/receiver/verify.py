"""Authenticity checks for a Linear webhook delivery: the body signature and its freshness.

Linear signs the raw request body with the webhook's signing secret (HMAC-SHA256, lowercase hex, in the
``Linear-Signature`` header) and puts the send time, in Unix milliseconds, in the body's
``webhookTimestamp`` field. Linear's own SDK refuses a delivery whose timestamp is more than one minute
away from the receiver's clock, in either direction; this module applies the same rule, inclusive at
exactly 60 s. Nothing here logs or returns the body, the secret or the signature.

The SDK (``@linear/sdk`` ``webhooks/client.ts``, ``parseVerifiedPayload``) takes the timestamp from the
signed body and falls back to the ``linear-timestamp`` header (epoch ms) only when the body has none
(``webhookTimestamp ?? header``): the header is not signed, so it never overrides the body's value. Where
the SDK skips the check when neither is there, this module refuses the delivery: a signature with no
send time could be replayed forever.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re

from pydantic import SecretStr

SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
TIMESTAMP_FIELD = "webhookTimestamp"
TIMESTAMP_HEADER = "linear-timestamp"
MAX_SKEW_MS = 60_000
# Epoch milliseconds in ASCII digits only: str.isdigit() also passes "²", which int() then refuses.
_EPOCH_MS = re.compile(r"[0-9]{1,16}")


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


def header_timestamp(value: str | None) -> int | None:
    """The ``linear-timestamp`` header as epoch milliseconds; None when absent or not plain digits."""
    if value is None or not _EPOCH_MS.fullmatch(value.strip()):
        return None
    return int(value.strip())


def delivery_time_ok(body_value: object, header: str | None, now_ms: int) -> bool:
    """Whether the delivery's send time is within ±60 s: the body's ``webhookTimestamp`` when it has one
    (present and not null, as the SDK's ``??``), else the ``linear-timestamp`` header; neither → False."""
    if body_value is not None:
        return timestamp_ok(body_value, now_ms)
    sent = header_timestamp(header)
    return sent is not None and timestamp_ok(sent, now_ms)
