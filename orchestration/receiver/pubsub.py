"""The production publisher: start messages to one Pub/Sub topic through google-cloud-pubsub.

``PublisherClient`` finds its credentials the usual way (the service account on Cloud Run, application
default credentials elsewhere) and talks to the emulator instead when ``PUBSUB_EMULATOR_HOST`` is set.
Its publishes are futures, so the receiver can wait on one with a deadline (``publish_async``); the
library batches and retries transient errors (the codes its own default retries), and here gives up after
``timeout`` seconds in all, not the library's 600. Failures are logged by kind and status code only: a
message carries ids, but the log line never carries a message at all.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import Future
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as retries
from google.auth import exceptions as auth_exc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from jobs.errors import ConfigError, ServiceError
from orchestration.receiver.publishing import describe_error

log = logging.getLogger("orchestration.receiver.pubsub")

DEFAULT_TIMEOUT = 30.0
TRANSIENT = (
    gexc.Aborted,
    gexc.Cancelled,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.Unknown,
)


class PubSubPublisher:
    """Publishes to ``topic`` (``projects/P/topics/T``); ``publish`` blocks, ``publish_async`` does not."""

    def __init__(self, topic: str, client: Any = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.topic = topic
        self.timeout = timeout
        if client is None:
            try:
                client = pubsub_v1.PublisherClient()
            except auth_exc.DefaultCredentialsError as exc:
                raise ConfigError(
                    f"Pub/Sub topic {topic}: no Google credentials (run `gcloud auth application-default "
                    "login`, or set PUBSUB_EMULATOR_HOST for the emulator)"
                ) from exc
        self._client = client
        self._retry = retries.Retry(
            initial=0.1,
            maximum=timeout,
            multiplier=4,
            predicate=retries.if_exception_type(*TRANSIENT),
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"PubSubPublisher({self.topic!r})"

    def publish_async(self, data: bytes) -> Future[str]:
        future: Future[str] = self._client.publish(self.topic, data, retry=self._retry, timeout=self.timeout)
        return future

    def publish(self, data: bytes) -> str:
        """Publish and wait; the message id, or ServiceError (retryable when Pub/Sub said so)."""
        try:
            return self.publish_async(data).result(timeout=self.timeout)
        except Exception as exc:
            log.error("publishing to %s failed: %s", self.topic, describe_error(exc))
            status = int(exc.code) if isinstance(exc, gexc.GoogleAPICallError) and exc.code else 503
            raise ServiceError("Pub/Sub", status, f"publish to {self.topic}: {describe_error(exc)}") from None

    def close(self) -> None:
        """Send what the client still batches; the futures already handed out say how each ended."""
        with contextlib.suppress(RuntimeError):  # stopped already
            self._client.stop()
