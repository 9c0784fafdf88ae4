"""The Linear webhook receiver: ``POST /linear/webhook`` → verify → dedupe → lock → publish ids.

``Receiver.handle`` is the whole decision, independent of any HTTP framework; ``ReceiverServer`` serves it
with the standard library's ``ThreadingHTTPServer`` (one thread per request, no new dependencies).

Order of checks, each answering before the next is tried:

1. path (404), method (405), ``Content-Type: application/json`` (415), a ``Content-Length`` (411) of ASCII
   digits (400) within the cap (413, the body is then never read), the whole body (400);
2. ``Linear-Signature`` over the raw bytes (401), a JSON object (400) whose send time is within ±60 s of
   the injected clock (401: the body's ``webhookTimestamp``, or when the body has none the
   ``linear-timestamp`` header, as Linear's SDK reads it; see verify.py), with string ``type``/``action``,
   an object ``data`` (400), a shape Linear documents (400, ``triggers.malformed``: an actor id that is
   not a string, an issue identifier the jobs would refuse, ...), and a delivery id (400 when none):
   the ``Linear-Delivery`` header, safe as a key segment, or one derived from the payload (delivery.py);
3. the trigger rules (``triggers.decide``, including the configured team): anything else is ``200 ignored``;
4. a publish slot (503 when the bounded queue is full: Linear retries, nothing was stored);
5. create-if-absent ``receiver/deliveries/{delivery}`` with a per-request nonce (exists with another
   nonce → ``200 duplicate``), then the ticket's lock (``locks.acquire``: created, or taken over when
   stale; a fresh one of another delivery → ``200 already running``); store errors answer 503 after
   removing whichever of the two records is still ours;
6. the message (ids only) goes to the publisher (``publishing.BackgroundPublisher``): confirmed within a
   short deadline, or queued on timeout → ``200 started``; refused within the deadline → both records are
   deleted again and the answer is ``503 publish failed``, so that Linear's retry starts the run.

Every accepted outcome answers 200 (started, duplicate, ignored, already running; the body says which):
Linear's webhook docs count any other status as a failed delivery and retry it (after 1 minute, 1 hour
and 6 hours), so a 202 would show the webhook as failing. Refusals are 4xx with a fixed reason (never the
input echoed); the HTTP layer logs one line per refused request, and one line, no traceback, for a
client that goes away before its answer.

A write the store reports as failed may have happened (a lost response, then 412 on the library's retry
of our own write). So an existing record is read back: the delivery record is ours when it carries this
request's nonce, the lock when it names this delivery. Undoing is compare-and-delete on the same test, so
it never removes what another request or run now owns.

Trade-off of step 6: with Pub/Sub the message is published synchronously, with a 0.5 s deadline inside
Linear's 5 s, so an answered ``started`` normally means Pub/Sub has the message. Only when Pub/Sub is
slower than that is Linear acknowledged first and the publish finished in the background; if the process
then dies before it completes, the message is lost while the delivery record and the lock stay (Linear's
retry gets ``duplicate``) until the lock goes stale and a new trigger takes it over. A queued publish
that fails later with a definitive refusal (NotFound, PermissionDenied, ...) deletes both records, so the
next trigger starts the run; a timeout or an unknown error may hide a message that landed, so the records
stay (the run releases the lock, or it goes stale). Publishers without futures (the local one) always queue.
Closing the remaining gap needs an outbox record written with the lock and a sweeper.

Only deliveries that would start a run are recorded; ignored events store nothing. The workflow releases
the lock when its run ends (factory.yaml's ``release_lock``). Logs name the outcome, the delivery id and
the ticket identifier; never the body, signature or secret.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from pydantic import SecretStr

from jobs.artifacts import VersionedStore, delete_if_owned
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound
from jobs.serving import LoopbackHTTPServer, ServingThread
from orchestration.receiver.delivery import delivery_id
from orchestration.receiver.locks import DEFAULT_MAX_AGE_MS, acquire, lock_record, release_if_owned
from orchestration.receiver.publishing import BackgroundPublisher
from orchestration.receiver.triggers import TriggerConfig, decide, malformed
from orchestration.receiver.verify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_FIELD,
    TIMESTAMP_HEADER,
    delivery_time_ok,
    signature_ok,
)

log = logging.getLogger("orchestration.receiver")

WEBHOOK_PATH = "/linear/webhook"
MAX_BODY_BYTES = 256 * 1024
JOB_NAME = "solve-linear-ticket"
DELIVERIES = "receiver/deliveries/"
# ASCII digits only: str.isdigit() also passes "²" (a Latin-1 header byte), which int() then refuses; and
# more digits than any real length would make int() itself refuse (Python's 4300-digit limit).
CONTENT_LENGTH = re.compile(r"[0-9]+")
MAX_LENGTH_DIGITS = 18


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
        store: VersionedStore,
        publisher: BackgroundPublisher,
        triggers: TriggerConfig,
        clock_ms: Callable[[], int] = _now_ms,
        max_body_bytes: int = MAX_BODY_BYTES,
        lock_max_age_ms: int = DEFAULT_MAX_AGE_MS,
    ) -> None:
        self.secret = secret
        self.store = store
        self.publisher = publisher
        self.triggers = triggers
        self.clock_ms = clock_ms
        self.max_body_bytes = max_body_bytes
        self.lock_max_age_ms = lock_max_age_ms
        self.internal_errors = 0
        self._in_flight = 0
        self._quiet = threading.Condition()

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], read_body: Callable[[int], bytes]
    ) -> Reply:
        """Answer one request. ``headers`` has lower-case names; ``read_body(n)`` reads up to n bytes."""
        with self._quiet:
            self._in_flight += 1
        try:
            reply = self._handle(method, target, headers, read_body)
        except Exception as exc:  # a bug must cost one 500, never the process
            self.internal_errors += 1
            log.error("webhook handling failed: %s", type(exc).__name__)
            reply = Reply(500, "internal error")
        finally:
            with self._quiet:
                self._in_flight -= 1
                self._quiet.notify_all()
        return reply

    def drain(self, timeout: float) -> bool:
        """Wait until no request is being handled (at shutdown, once the server stopped accepting)."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._in_flight == 0, timeout)

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
        if not CONTENT_LENGTH.fullmatch(length_text.strip()):
            return Reply(400, "bad content length")
        if len(length_text.strip()) > MAX_LENGTH_DIGITS or int(length_text) > self.max_body_bytes:
            return Reply(413, "body too large")
        length = int(length_text)
        body = read_body(length)
        if len(body) != length:
            return Reply(400, "incomplete body")
        if not signature_ok(self.secret, body, headers.get(SIGNATURE_HEADER)):
            return Reply(401, "invalid signature")
        return self._verified(body, headers)

    def _verified(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return Reply(400, "malformed JSON")
        if not isinstance(payload, dict):
            return Reply(400, "payload is not a JSON object")
        sent = payload.get(TIMESTAMP_FIELD)
        if not delivery_time_ok(sent, headers.get(TIMESTAMP_HEADER), self.clock_ms()):
            return Reply(401, "stale or missing timestamp")
        if not isinstance(payload.get("type"), str) or not isinstance(payload.get("action"), str):
            return Reply(400, "type and action are required")
        if not isinstance(payload.get("data"), dict):
            return Reply(400, "data must be an object")
        problem = malformed(payload)
        if problem is not None:
            return Reply(400, problem)
        delivery, source = delivery_id(headers.get(DELIVERY_HEADER), payload)
        if delivery is None:
            return Reply(400, source)

        decision = decide(payload, self.triggers)
        if not decision.start or decision.ticket is None or decision.ticket_id is None:
            log.info("delivery %s ignored: %s", delivery, decision.reason)
            return Reply(200, "ignored")
        return self._start(delivery, decision.ticket, decision.ticket_id, decision.reason)

    def _start(self, delivery: str, ticket: str, ticket_id: str, reason: str) -> Reply:
        if not self.publisher.reserve():
            log.warning("delivery %s for %s deferred: publish queue full", delivery, ticket)
            return Reply(503, "busy")
        nonce = secrets.token_hex(8)
        committed = False
        try:
            now = self.clock_ms()
            if not self._record(delivery, ticket, ticket_id, now, nonce):
                log.info("delivery %s for %s is a duplicate", delivery, ticket)
                return Reply(200, "duplicate")
            lock = lock_record(delivery, ticket_id, now)
            if acquire(self.store, ticket, lock, now, self.lock_max_age_ms) == "held":
                log.info("delivery %s: %s already has a run", delivery, ticket)
                return Reply(200, "already running")
            message = {"job": JOB_NAME, "ticket": ticket, "ticket_id": ticket_id, "delivery": delivery}

            def undo() -> None:
                self._undo(delivery, ticket, nonce)

            committed = True  # the slot now belongs to the publisher
            outcome = self.publisher.submit(ticket, json.dumps(message).encode(), on_failure=undo)
            if outcome == "failed":
                undo()
                return Reply(503, "publish failed")
            if outcome == "unknown":
                log.warning(
                    "delivery %s for %s: publish outcome unknown; lock kept until the run releases it or "
                    "it goes stale",
                    delivery,
                    ticket,
                )
            else:
                log.info("delivery %s starts %s (%s; %s)", delivery, ticket, reason, outcome)
            return Reply(200, "started")
        except ArtifactError as exc:
            log.error("delivery %s for %s: artifact store failed: %s", delivery, ticket, type(exc).__name__)
            if not committed:  # let Linear's retry of this delivery count: remove what is ours, if anything
                self._undo(delivery, ticket, nonce)
            return Reply(503, "store unavailable")
        finally:
            if not committed:
                self.publisher.cancel()

    def _record(self, delivery: str, ticket: str, ticket_id: str, now: int, nonce: str) -> bool:
        """Create the delivery record; False if another request of this delivery already has one."""
        key = DELIVERIES + delivery
        record = {"ticket": ticket, "ticket_id": ticket_id, "at_ms": now, "nonce": nonce}
        try:
            self.store.write_bytes(key, json.dumps(record).encode(), if_absent=True)
            return True
        except ArtifactExists:
            pass
        try:
            existing = self.store.read_bytes(key)
        except ArtifactNotFound:  # deleted by the undo of a concurrent attempt: Linear will retry
            raise ArtifactError(f"{key} vanished while it was read back", retryable=True) from None
        return _nonce_of(existing) == nonce  # ours: the create succeeded but reported an error

    def _undo(self, delivery: str, ticket: str, nonce: str) -> None:
        """Forget a start whose message was not published: delete the delivery record and the lock, each
        only while it is still this request's (compare-and-delete); the next delivery or trigger starts it."""
        removed: list[str] = []
        for what in ("record", "lock"):
            try:
                if (
                    self._forget(delivery, nonce)
                    if what == "record"
                    else release_if_owned(self.store, ticket, delivery)
                ):
                    removed.append(what)
            except ArtifactError as exc:
                log.error(
                    "delivery %s for %s: could not remove its %s: %s",
                    delivery,
                    ticket,
                    what,
                    type(exc).__name__,
                )
        if removed:
            log.warning(
                "delivery %s for %s: not started; removed its %s", delivery, ticket, " and ".join(removed)
            )

    def _forget(self, delivery: str, nonce: str) -> bool:
        return delete_if_owned(self.store, DELIVERIES + delivery, lambda data: _nonce_of(data) == nonce)


def _nonce_of(record: bytes) -> str | None:
    try:
        parsed = json.loads(record)
    except (ValueError, RecursionError):
        return None
    value = parsed.get("nonce") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


class _Server(LoopbackHTTPServer):
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

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:  # reset while the request line or headers were read: no answer to give
            self.close_connection = True
            log.info("a client went away mid-request (%s)", type(exc).__name__)

    def _dispatch(self) -> None:
        headers = {name.lower(): value for name, value in reversed(self.headers.items())}
        reply = self.server.receiver.handle(self.command, self.path, headers, self._read_body)
        self.close_connection = True
        try:
            self._answer(reply)
        except OSError as exc:  # the client went away first: one line, not socketserver's traceback
            gone = type(exc).__name__
            log.info("a client went away before its answer (%d %s; %s)", reply.status, reply.outcome, gone)
            return
        if 400 <= reply.status < 500:
            log.warning("refused a request: %d %s", reply.status, reply.outcome)

    def _answer(self, reply: Reply) -> None:
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

    def _read_body(self, length: int) -> bytes:
        try:
            return self.rfile.read(length)
        except OSError:  # the client stalled past the timeout or went away: an incomplete body
            return b""

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)

    def log_error(self, format: str, *args: object) -> None:
        # The standard library's own refusals (send_error: code, then a message that may quote the request
        # line) and its request timeout: one line, the code alone, never the client's text.
        code = args[0] if args and isinstance(args[0], int) else None
        if code is None:
            log.info("a client stalled past %d s; connection closed", self.timeout)
            return
        try:
            phrase = HTTPStatus(code).phrase.lower()
        except ValueError:
            phrase = "error"
        log.warning("refused a request: %d %s", code, phrase)


class ReceiverServer:
    """Serves a ``Receiver`` on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        self._server = _Server((host, port), _Handler)
        self._server.receiver = receiver
        self._serving = ServingThread(self._server, "receiver-http")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def alive(self) -> bool:
        return self._serving.alive()

    def __enter__(self) -> ReceiverServer:
        self._serving.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.stop()
