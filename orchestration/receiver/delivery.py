"""Which delivery a request is, for deduplication: the ``Linear-Delivery`` header, or the payload's own ids.

Linear's own material does not promise the ``Linear-Delivery`` header: the SDK's webhook client
(``@linear/sdk`` ``webhooks/client.ts``) reads only ``linear-signature`` and ``linear-timestamp``, its
tests send deliveries without it, and no webhook payload type in its GraphQL schema carries a delivery
id. So a delivery without the header is not refused: its id is derived from fields the schema's
``EntityWebhookPayload`` documents as always present: ``webhookId`` ("the ID of the webhook that sent
this event"), ``type``, ``action``, ``data.id`` (the entity) and ``createdAt`` ("the time the payload was
created"), with ``data.updatedAt`` ("the time at which the entity was updated", on every Issue payload)
when there is one: two updates of one issue differ in it even if ``createdAt`` were ever the same.

``webhookTimestamp`` is deliberately left out: it is "when the webhook was sent", so each of Linear's
retries (1 minute, 1 hour, 6 hours later) carries a new one, or it could not pass the ±60 s check at all;
a key containing it would make every retry a new delivery. The header is not signed (the payload is), and
an id from the header must be safe as a store key segment, or the request is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PAYLOAD_PREFIX = "payload-"  # a derived id says so in the log and in the delivery and lock records


def delivery_id(header: str | None, payload: Mapping[str, object]) -> tuple[str | None, str]:
    """``(id, "header" | "payload")``, or ``(None, why)`` when the request names no usable delivery."""
    value = (header or "").strip()
    if value:
        if DELIVERY_ID.fullmatch(value):
            return value, "header"
        return None, "malformed Linear-Delivery"
    data = payload.get("data")
    entity = data.get("id") if isinstance(data, dict) else None
    fields = [payload.get(name) for name in ("webhookId", "type", "action", "createdAt")] + [entity]
    if not all(isinstance(field, str) and field for field in fields):
        return None, "no Linear-Delivery, and no webhookId, createdAt and data.id to deduplicate on"
    updated = data.get("updatedAt") if isinstance(data, dict) else None
    fields.append(updated if isinstance(updated, str) else "")
    digest = hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:40]
    return PAYLOAD_PREFIX + digest, "payload"
