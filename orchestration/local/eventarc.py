"""A local stand-in for Eventarc's Pub/Sub → Workflows trigger: a Pub/Sub push endpoint that starts
executions through a Workflows Executions API (``factory serve``'s, or any at the same URL shape).

A push subscription (``pushConfig.pushEndpoint`` = this server) posts ``{"message": {...}, "subscription":
...}``. Eventarc hands the workflow a CloudEvent in the JSON event format, so that is what is built here::

    {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished",
     "source": "//pubsub.googleapis.com/projects/P/topics/T", "id": <messageId>, "time": <publishTime>,
     "datacontenttype": "application/json",
     "data": {"subscription": ..., "message": {"data": <base64>, "messageId", "publishTime", "attributes"}}}

and then ``POST /v1/{workflow}/executions`` with ``{"argument": <that event as a JSON string>}``. The push
is acknowledged (204) once the execution exists and refused (503, so Pub/Sub redelivers) when the API does
not take it. Pub/Sub delivers at least once; Workflows deduplicates Eventarc events by event id (the
Pub/Sub message id) within 24 h, so a redelivered message starts no second execution. The bridge does the
same for as long as it runs: a message id it already started an execution for is acknowledged and
dropped. (The receiver's delivery record and ticket lock are what keep a ticket to one run across
messages.) A body that is not a Pub/Sub push is dropped with a log line (acknowledged, as Eventarc drops
what Workflows cannot take).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

import httpx

from jobs.serving import LoopbackHTTPServer, ServingThread

log = logging.getLogger("orchestration.local.eventarc")

EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"
MESSAGE_FIELDS = ("data", "attributes", "messageId", "publishTime", "orderingKey")


def cloud_event(push: Any, topic: str) -> dict[str, Any] | None:
    """The CloudEvent Eventarc would hand the workflow for this push body; None if it is not a push."""
    if not isinstance(push, dict) or not isinstance(push.get("message"), dict):
        return None
    raw: dict[str, Any] = push["message"]
    message = {name: raw[name] for name in MESSAGE_FIELDS if raw.get(name) not in (None, "", {})}
    # Pub/Sub's push body repeats some fields in snake_case; the CloudEvent uses the camelCase names.
    message.setdefault("messageId", raw.get("message_id", ""))
    message.setdefault("publishTime", raw.get("publish_time", ""))
    if not isinstance(message.get("data", ""), str) or not message["messageId"]:
        return None
    event: dict[str, Any] = {
        "specversion": "1.0",
        "type": EVENT_TYPE,
        "source": f"//pubsub.googleapis.com/{topic}",
        "id": message["messageId"],
        "datacontenttype": "application/json",
        "data": {"subscription": push.get("subscription", ""), "message": message},
    }
    if message["publishTime"]:
        event["time"] = message["publishTime"]
    return event


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = self.server.bridge.deliver(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _HttpServer(LoopbackHTTPServer):
    bridge: EventarcBridge


class EventarcBridge:
    """Pub/Sub push → CloudEvent → a new execution of ``workflow`` at ``executions_url``.

    ``workflow`` is the resource name ``projects/P/locations/L/workflows/W``; ``topic`` the subscribed
    topic ``projects/P/topics/T`` (a push body does not name it, the CloudEvent's ``source`` does).
    """

    def __init__(
        self,
        workflow: str,
        topic: str,
        executions_url: str,
        *,
        http: httpx.Client | None = None,
        port: int = 0,
    ) -> None:
        self.workflow = workflow
        self.topic = topic
        self.executions_url = executions_url.rstrip("/")
        self.created: list[str] = []  # execution names, in order
        self.dropped = 0
        self.duplicates = 0
        self._started: dict[str, str] = {}  # message id -> execution name
        self._once = threading.Lock()  # one delivery at a time, so a message id is checked and started once
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=10)
        self._server = _HttpServer(("127.0.0.1", port), _Handler)
        self._server.bridge = self
        self._serving = ServingThread(self._server, "local-eventarc")

    @property
    def push_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/push"

    def deliver(self, body: bytes) -> int:
        """Handle one push; the HTTP status that acknowledges (2xx) or refuses (5xx) it."""
        try:
            event = cloud_event(json.loads(body), self.topic)
        except (ValueError, RecursionError):
            event = None
        if event is None:
            self.dropped += 1
            log.warning("dropped a push that is not a Pub/Sub message")
            return 204
        with self._once:
            return self._start(event)

    def _start(self, event: dict[str, Any]) -> int:
        message_id = str(event["id"])
        if message_id in self._started:
            self.duplicates += 1
            log.info("message %s was redelivered: execution %s exists", message_id, self._started[message_id])
            return 204
        url = f"{self.executions_url}/v1/{self.workflow}/executions"
        try:
            response = self._http.post(url, json={"argument": json.dumps(event)})
        except httpx.HTTPError as exc:
            log.warning("message %s: the Executions API is unreachable (%s)", event["id"], type(exc).__name__)
            return 503
        if response.status_code != 200:
            log.warning("message %s: creating the execution answered %d", event["id"], response.status_code)
            return 503
        name = str(response.json().get("name", ""))
        self.created.append(name)
        self._started[message_id] = name
        log.info("message %s started execution %s", event["id"], name)
        return 204

    def start(self) -> EventarcBridge:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()
        if self._own_http:
            self._http.close()

    def __enter__(self) -> EventarcBridge:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
