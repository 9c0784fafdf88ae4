"""The receiver as a service: ``python -m orchestration.receiver`` (the Cloud Run image's command).

Settings are read once; the artifact store, the publisher (Pub/Sub, or a JSON-lines file when no topic is
configured) and the HTTP server are built from them; the process serves until SIGTERM or SIGINT, then
stops accepting, lets in-flight requests finish, drains the publish queue for at most
``FACTORY_DRAIN_SECONDS`` and exits 0. A bad setting is one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from jobs.artifacts import DirectoryStore, VersionedStore, open_store
from jobs.errors import ConfigError
from jobs.logs import ContextFilter, on_cloud_run
from jobs.redact import Redactor
from orchestration.receiver.app import WEBHOOK_PATH, Receiver, ReceiverServer
from orchestration.receiver.publishing import BackgroundPublisher, LocalPublisher, Publisher
from orchestration.receiver.pubsub import PubSubPublisher
from orchestration.receiver.settings import ReceiverSettings, load_receiver_settings

log = logging.getLogger("orchestration.receiver")

EXIT_OK, EXIT_CONFIG = 0, 2
LOCAL_MESSAGES = "receiver/published.jsonl"
# Each GCS call of a webhook request: Linear waits 5 s for the answer, so a call gives up after 2 s and
# its retries after 3 s in all (the library's defaults are 60 s and 120 s); the request then answers 503.
GCS_CALL_TIMEOUT = 2.0
GCS_RETRY_DEADLINE = 3.0
NO_TOPIC = (
    "invalid setting FACTORY_PUBSUB_TOPIC: required when ARTIFACTS_PREFIX is not a directory "
    "(without a topic, start messages are appended to a file under that directory)"
)


@dataclass
class Service:
    """Everything one receiver process runs, wired from its settings."""

    settings: ReceiverSettings
    store: VersionedStore
    publisher: Publisher
    background: BackgroundPublisher
    receiver: Receiver
    server: ReceiverServer

    def describe(self) -> list[str]:
        host, port = self.server.address
        if isinstance(self.publisher, LocalPublisher):
            where = f"{self.publisher.path} (FACTORY_PUBSUB_TOPIC is empty: a local file, not Pub/Sub)"
        else:
            where = f"Pub/Sub topic {self.settings.factory_pubsub_topic}"
        return [
            f"receiver listening on {host}:{port} (POST {WEBHOOK_PATH})",
            f"team {self.settings.factory_linear_team}, trigger label {self.settings.factory_trigger_label}",
            f"start messages go to {where}",
            f"artifacts (deliveries, locks): {self.store!r}",
        ]


def build(settings: ReceiverSettings, publisher: Publisher | None = None) -> Service:
    """Wire a service from settings (a publisher may be injected); ConfigError if they cannot work."""
    if (
        publisher is None
        and not settings.factory_pubsub_topic
        and settings.artifacts_prefix.startswith("gs://")
    ):
        raise ConfigError(NO_TOPIC)
    store = open_store(
        settings.artifacts_prefix, gcs_call_timeout=GCS_CALL_TIMEOUT, gcs_retry_deadline=GCS_RETRY_DEADLINE
    )
    if publisher is None:
        publisher = _publisher(settings, store)
    background = BackgroundPublisher(publisher, deadline=settings.factory_publish_deadline_seconds)
    receiver = Receiver(
        secret=settings.linear_webhook_secret,
        store=store,
        publisher=background,
        triggers=settings.triggers(),
        lock_max_age_ms=settings.factory_lock_max_age_seconds * 1000,
    )
    try:
        server = ReceiverServer(receiver, settings.host, settings.port)
    except OSError as exc:
        background.close(0)
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    return Service(settings, store, publisher, background, receiver, server)


def _publisher(settings: ReceiverSettings, store: VersionedStore) -> Publisher:
    if settings.factory_pubsub_topic:
        return PubSubPublisher(settings.factory_pubsub_topic)
    if not isinstance(store, DirectoryStore):
        raise ConfigError(NO_TOPIC)
    return LocalPublisher(Path(store.root, *LOCAL_MESSAGES.split("/")))


def serve(service: Service, stop: threading.Event) -> int:
    """Serve until ``stop`` is set, then shut down in order; the exit code."""
    for line in service.describe():
        log.info("%s", line)
    drain = service.settings.factory_drain_seconds
    with service.server:
        stop.wait()
        deadline = time.monotonic() + drain  # the whole shutdown fits in it, closing the socket included
        log.info("stopping: no new requests; draining for at most %g s", drain)
    service.receiver.drain(max(0.0, deadline - time.monotonic()))
    left = service.background.close(max(0.0, deadline - time.monotonic()))
    close = getattr(service.publisher, "close", None)
    if callable(close):
        close()
    published, failed = service.background.published, service.background.failures
    if left:
        log.warning(
            "stopped with %d start messages unconfirmed (%d published, %d failed)", left, published, failed
        )
    else:
        log.info("stopped: %d start messages published, %d failed", published, failed)
    return EXIT_OK


def configure_logging(settings: ReceiverSettings) -> None:
    """Cloud Logging's JSON on Cloud Run, readable lines locally; the signing secret masked either way."""
    logger = logging.getLogger("orchestration.receiver")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler: logging.Handler
    if settings.log_format == "json" or (settings.log_format == "auto" and on_cloud_run()):
        from google.cloud.logging_v2.handlers import StructuredLogHandler

        handler = StructuredLogHandler(stream=sys.stderr)  # type: ignore[no-untyped-call]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s receiver %(levelname)s %(message)s", "%H:%M:%S"))
    # On the handler, so that records of child loggers (orchestration.receiver.pubsub) pass it too.
    handler.addFilter(ContextFilter("-", "receiver", Redactor([settings.linear_webhook_secret])))
    logger.addHandler(handler)


def main(environ: Mapping[str, str] | None = None) -> int:
    """The process: settings → service → serve until SIGTERM/SIGINT. Exit 0, or 2 on bad settings."""
    try:
        settings = load_receiver_settings(environ)
        configure_logging(settings)
        service = build(settings)
    except ConfigError as exc:
        print(f"factory-receiver: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(number).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return serve(service, stop)
