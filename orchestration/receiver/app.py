"""The Linear webhook receiver: ``POST /linear/webhook`` → verify → dedupe → lock → publish ids.

``Receiver.handle`` is the whole decision, independent of any HTTP framework; ``ReceiverServer`` serves it
with the standard library's ``ThreadingHTTPServer`` (one thread per request, no new dependencies).

Order of checks, each answering before the next is tried:

1. path (404), method (405), ``Content-Type: application/json`` (415), a ``Content-Length`` (411) that is
   a number (400) within the cap (413, the body is then never read), the whole body (400);
2. ``Linear-Signature`` over the raw bytes (401), a JSON object (400) whose ``webhookTimestamp`` is within
   ±60 s of the injected clock (401), with string ``type``/``action``, an object ``data`` (400), and a
   ``Linear-Delivery`` id that is safe as a key segment (400);
3. the trigger rules (``triggers.decide``): anything else is ``200 ignored``;
4. a publish slot (503 when the bounded queue is full: Linear retries, nothing was stored);
5. create-if-absent ``receiver/deliveries/{delivery}`` (exists → ``200 duplicate``), then create-if-absent
   ``receiver/locks/{identifier}`` (exists → ``200 already running``); store errors answer 503;
6. the message (ids only) goes on the publish queue and the answer is ``202 started``, without waiting.

Trade-off of step 6: Linear is acknowledged before the publisher has the message, so that a slow Pub/Sub
never makes Linear time out (it gives up after 5 s and retries). If the process dies between the ack and
the publish, the message is lost while the delivery record and the lock stay, so Linear's retry gets
``duplicate`` and nothing runs. Production should close that gap by publishing synchronously with a short
deadline inside the 5 s (Pub/Sub publishes usually take tens of ms) and only falling back to the queue on
timeout, or by writing an outbox record with the lock and having a sweeper publish unsent ones.

Only deliveries that would start a run are recorded; ignored events store nothing. The lock is never
released here (the ``ArtifactStore`` has no delete): re-triggering a ticket needs its lock object removed.
Logs name the outcome, the delivery id and the ticket identifier; never the body, signature or secret.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from jobs.artifacts.store import ArtifactStore
from jobs.errors import ArtifactError, ArtifactExists
from orchestration.receiver.triggers import TriggerConfig, decide
from orchestration.receiver.verify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_FIELD,
    signature_ok,
    timestamp_ok,
)

log = logging.getLogger("orchestration.receiver")

WEBHOOK_PATH = "/linear/webhook"
MAX_BODY_BYTES = 256 * 1024
JOB_NAME = "solve-linear-ticket"
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Publisher(Protocol):
    """Where start messages go (Pub/Sub in production)."""

    def publish(self, data: bytes) -> str:
        """Publish one message; return its id."""
        ...


class LocalPublisher:
    """A publisher that keeps the messages in memory and, if given a path, appends them as JSON lines."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.messages: list[bytes] = []
        self._lock = threading.Lock()

    def publish(self, data: bytes) -> str:
        with self._lock:
            self.messages.append(data)
            if self.path is not None:
                with self.path.open("ab") as file:
                    file.write(data.rstrip(b"\n") + b"\n")
            return str(len(self.messages))


class BackgroundPublisher:
    """Publishes on one worker thread so that a slow publisher never delays an answer.

    Capacity is bounded by slots: a caller ``reserve``s one before committing to a start, so that a
    message accepted for publishing always has room; ``submit`` uses the slot, ``cancel`` gives it back.
    """

    def __init__(self, publisher: Publisher, capacity: int = 256) -> None:
        self.publisher = publisher
        self.failures = 0
        self._slots = threading.BoundedSemaphore(capacity)
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="receiver-publisher", daemon=True)
        self._worker.start()

    def reserve(self) -> bool:
        return self._slots.acquire(blocking=False)

    def cancel(self) -> None:
        self._slots.release()

    def submit(self, label: str, data: bytes) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((label, data))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted message was handed to the publisher (for tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the queued messages, waiting at most ``timeout`` (the worker is a daemon)."""
        self._queue.put(None)
        self._worker.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            label, data = item
            try:
                message_id = self.publisher.publish(data)
                log.info("published start message for %s (message %s)", label, message_id)
            except Exception as exc:  # the worker must survive any publisher failure
                self.failures += 1
                log.error("publishing the start message for %s failed: %s", label, type(exc).__name__)
            finally:
                self._slots.release()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


@dataclass(frozen=True)
class Reply:
    status: int
    outcome: str

    def body(self) -> bytes:
        return json.dumps({"status": self.outcome}).encode() + b"\n"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Receiver:
    """The webhook's decision, given the request's parts; never raises for any input."""

    def __init__(
        self,
        *,
        secret: SecretStr,
        store: ArtifactStore,
        publisher: BackgroundPublisher,
        triggers: TriggerConfig,
        clock_ms: Callable[[], int] = _now_ms,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.secret = secret
        self.store = store
        self.publisher = publisher
        self.triggers = triggers
        self.clock_ms = clock_ms
        self.max_body_bytes = max_body_bytes
        self.internal_errors = 0

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], read_body: Callable[[int], bytes]
    ) -> Reply:
        """Answer one request. ``headers`` has lower-case names; ``read_body(n)`` reads up to n bytes."""
        try:
            reply = self._handle(method, target, headers, read_body)
        except Exception as exc:  # a bug must cost one 500, never the process
            self.internal_errors += 1
            log.error("webhook handling failed: %s", type(exc).__name__)
            reply = Reply(500, "internal error")
        return reply

    def _handle(
        self, method: str, target: str, headers: Mapping[str, str], read_body: Callable[[int], bytes]
    ) -> Reply:
        if urlsplit(target).path != WEBHOOK_PATH:
            return Reply(404, "not found")
        if method != "POST":
            return Reply(405, "method not allowed")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return Reply(415, "content type must be application/json")
        if "transfer-encoding" in headers:
            return Reply(411, "chunked bodies are not accepted; send a Content-Length")
        length_text = headers.get("content-length")
        if length_text is None:
            return Reply(411, "content length required")
        if not length_text.strip().isdigit():
            return Reply(400, "bad content length")
        length = int(length_text)
        if length > self.max_body_bytes:
            return Reply(413, "body too large")
        body = read_body(length)
        if len(body) != length:
            return Reply(400, "incomplete body")
        if not signature_ok(self.secret, body, headers.get(SIGNATURE_HEADER)):
            log.warning("rejected a delivery: missing or invalid signature")
            return Reply(401, "invalid signature")
        return self._verified(body, headers)

    def _verified(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return Reply(400, "malformed JSON")
        if not isinstance(payload, dict):
            return Reply(400, "payload is not a JSON object")
        if not timestamp_ok(payload.get(TIMESTAMP_FIELD), self.clock_ms()):
            log.warning("rejected a delivery: webhookTimestamp missing or outside ±60 s")
            return Reply(401, "stale or missing timestamp")
        if not isinstance(payload.get("type"), str) or not isinstance(payload.get("action"), str):
            return Reply(400, "type and action are required")
        if not isinstance(payload.get("data"), dict):
            return Reply(400, "data must be an object")
        delivery = headers.get(DELIVERY_HEADER, "").strip()
        if not DELIVERY_ID.match(delivery):
            return Reply(400, "missing or malformed Linear-Delivery")

        decision = decide(payload, self.triggers)
        if not decision.start or decision.ticket is None or decision.ticket_id is None:
            log.info("delivery %s ignored: %s", delivery, decision.reason)
            return Reply(200, "ignored")
        return self._start(delivery, decision.ticket, decision.ticket_id, decision.reason)

    def _start(self, delivery: str, ticket: str, ticket_id: str, reason: str) -> Reply:
        if not self.publisher.reserve():
            log.warning("delivery %s for %s deferred: publish queue full", delivery, ticket)
            return Reply(503, "busy")
        committed = False
        try:
            now = self.clock_ms()
            record = json.dumps({"ticket": ticket, "ticket_id": ticket_id, "at_ms": now}).encode()
            try:
                self.store.write_bytes(f"receiver/deliveries/{delivery}", record, if_absent=True)
            except ArtifactExists:
                log.info("delivery %s for %s is a duplicate", delivery, ticket)
                return Reply(200, "duplicate")
            lock = json.dumps({"delivery": delivery, "ticket_id": ticket_id, "at_ms": now}).encode()
            try:
                self.store.write_bytes(f"receiver/locks/{ticket}", lock, if_absent=True)
            except ArtifactExists:
                log.info("delivery %s: %s already has a run", delivery, ticket)
                return Reply(200, "already running")
            message = {"job": JOB_NAME, "ticket": ticket, "ticket_id": ticket_id, "delivery": delivery}
            self.publisher.submit(ticket, json.dumps(message).encode())
            committed = True
            log.info("delivery %s starts %s (%s)", delivery, ticket, reason)
            return Reply(202, "started")
        except ArtifactError as exc:
            log.error("delivery %s for %s: artifact store failed: %s", delivery, ticket, type(exc).__name__)
            return Reply(503, "store unavailable")
        finally:
            if not committed:
                self.publisher.cancel()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a client may stall mid-request before its thread gives up
    # Errors the standard library answers itself (unparseable request lines, oversized headers): a status
    # line even for a one-word request line (no HTTP/0.9), and a fixed text that never echoes the input.
    default_request_version = "HTTP/1.0"
    error_content_type = "application/json"
    error_message_format = '{"status": "http error %(code)d"}\n'

    def _dispatch(self) -> None:
        headers = {name.lower(): value for name, value in reversed(self.headers.items())}
        reply = self.server.receiver.handle(self.command, self.path, headers, self._read_body)
        data = reply.body()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if reply.status == 405:
            self.send_header("Allow", "POST")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True

    def _read_body(self, length: int) -> bytes:
        try:
            return self.rfile.read(length)
        except OSError:  # the client stalled past the timeout or went away: an incomplete body
            return b""

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)


class ReceiverServer:
    """Serves a ``Receiver`` on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        self._server = _Server((host, port), _Handler)
        self._server.receiver = receiver
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> ReceiverServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
