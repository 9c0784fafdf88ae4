"""Chat turns as Langfuse traces and feedback as Langfuse scores, via the public ingestion API.

``POST {LANGFUSE_HOST}/api/public/ingestion`` with HTTP basic auth (public key : secret key) and a
body ``{"batch": [event, ...]}``; each event is an envelope ``{"id", "type", "timestamp", "body"}``
where ``type`` is ``trace-create``, ``span-create`` or ``score-create``. The envelope id is for
deduplication; the body's id is the object's own. Langfuse answers 207 with per-event
``successes`` and ``errors``.

A chat turn must never wait for Langfuse or fail because of it: events go into a bounded queue that
a background thread drains in batches. An item of the queue is a chat turn's trace and span, or one
score, so a turn's two events always travel in one batch; ``max_queue`` counts items. When the queue is
full (Langfuse down for a while) new events are dropped and counted rather than piling up in memory.
Sending is off unless ``LANGFUSE_HOST``, ``LANGFUSE_PUBLIC_KEY`` and ``LANGFUSE_SECRET_KEY`` are all set.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

INGESTION_PATH = "/api/public/ingestion"
TRACE_NAME = "chat-turn"
SCORE_NAME = "user-feedback"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LangfuseSettings:
    host: str
    public_key: str
    secret_key: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LangfuseSettings | None:
        """The settings, or None (off) unless all three variables are set."""
        env = os.environ if env is None else env
        values = [
            env.get(name, "").strip()
            for name in ("LANGFUSE_HOST", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")
        ]
        if not all(values):
            return None
        return cls(values[0].rstrip("/"), values[1], values[2])


@dataclass(frozen=True)
class ChatTurn:
    """What a trace records about one question and its answer."""

    answer_id: str  # the trace's id, so feedback on the answer can score the same trace
    client: str
    session_id: str
    question: str
    answer: str
    skill: str
    sources: list[dict[str, str]]
    started_at: datetime
    latency_ms: int


class Langfuse:
    """The background sender; every public method returns at once and never raises."""

    def __init__(
        self,
        settings: LangfuseSettings | None,
        *,
        environment: str = "development",
        release: str = "",
        transport: httpx.BaseTransport | None = None,
        max_queue: int = 1000,
        batch_size: int = 50,
        flush_interval: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self.environment = environment
        self.release = release
        self.dropped = 0  # events lost to a full queue
        self.failed = 0  # events Langfuse refused or that could not be sent
        self._queue: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._interval = flush_interval
        self._timeout = timeout
        self._transport = transport
        self._pending = 0  # queued or being sent, for flush()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    def trace_chat_turn(self, turn: ChatTurn) -> None:
        """A ``trace-create`` for the turn and a ``span-create`` timing the answer (Langfuse's latency)."""
        if not self.enabled:
            return
        ended = turn.started_at.timestamp() + turn.latency_ms / 1000
        metadata = {
            "client": turn.client,
            "skill": turn.skill,
            "sources": turn.sources,
            "latency_ms": turn.latency_ms,
        }
        # One item of the queue, so one batch: the trace never goes without the span that times it.
        self._enqueue(
            (
                "trace-create",
                {
                    "id": turn.answer_id,
                    "timestamp": _iso(turn.started_at),
                    "name": TRACE_NAME,
                    "sessionId": f"{turn.client}:{turn.session_id}",
                    "input": turn.question,
                    "output": turn.answer,
                    "metadata": metadata,
                    "tags": [f"client:{turn.client}", f"skill:{turn.skill}"],
                    "release": self.release,
                    "environment": self.environment,
                },
            ),
            (
                "span-create",
                {
                    "id": str(uuid.uuid4()),
                    "traceId": turn.answer_id,
                    "name": "answer",
                    "startTime": _iso(turn.started_at),
                    "endTime": _iso(datetime.fromtimestamp(ended, UTC)),
                    "input": turn.question,
                    "output": {"answer": turn.answer, "skill": turn.skill, "sources": turn.sources},
                    "metadata": metadata,
                    "environment": self.environment,
                },
            ),
        )

    def score_feedback(self, answer_id: str, client: str, up: bool, comment: str | None) -> None:
        """A ``score-create`` on the answer's trace: 1 for thumbs up, 0 for down.

        The score's id is derived from the answer, so rating the same answer again updates the score
        instead of adding a second one.
        """
        if not self.enabled:
            return
        body: dict[str, Any] = {
            "id": f"{answer_id}-{SCORE_NAME}",
            "traceId": answer_id,
            "name": SCORE_NAME,
            "value": 1 if up else 0,
            "dataType": "BOOLEAN",
            "metadata": {"client": client},
            "environment": self.environment,
        }
        if comment:
            body["comment"] = comment
        self._enqueue(("score-create", body))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was sent (or given up on); False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _enqueue(self, *events: tuple[str, dict[str, Any]]) -> None:
        """Queue ``events`` (type and body each) as one item: they are sent in the same batch."""
        now = _iso(datetime.now(UTC))
        item = [
            {"id": str(uuid.uuid4()), "type": kind, "timestamp": now, "body": body} for kind, body in events
        ]
        with self._idle:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.dropped += len(item)
                if self.dropped == len(item) or self.dropped % 100 < len(item):
                    log.warning("langfuse: queue full, %d event(s) dropped so far", self.dropped)
                return
            self._pending += len(item)
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="langfuse-sender", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        assert self.settings is not None
        auth = (self.settings.public_key, self.settings.secret_key)
        with httpx.Client(
            base_url=self.settings.host, auth=auth, timeout=self._timeout, transport=self._transport
        ) as http:
            while True:
                batch = self._next_batch()
                try:
                    self._send(http, batch)
                except Exception:
                    self.failed += len(batch)
                    log.warning("langfuse: could not send %d event(s)", len(batch), exc_info=True)
                finally:
                    with self._idle:
                        self._pending -= len(batch)
                        self._idle.notify_all()

    def _next_batch(self) -> list[dict[str, Any]]:
        """Block for the first item, then take what else arrives within the flush interval until the
        batch holds ``batch_size`` events; an item is never split, so
        the last may take it one event over."""
        batch = list(self._queue.get())
        deadline = time.monotonic() + self._interval
        while len(batch) < self._batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.extend(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _send(self, http: httpx.Client, batch: list[dict[str, Any]]) -> None:
        response = http.post(INGESTION_PATH, json={"batch": batch})
        if response.status_code >= 300 and response.status_code != 207:
            self.failed += len(batch)
            log.warning("langfuse: ingestion answered %s: %s", response.status_code, response.text[:300])
            return
        errors = response.json().get("errors", []) if response.status_code == 207 else []
        if errors:
            self.failed += len(errors)
            log.warning("langfuse: %d event(s) refused: %s", len(errors), str(errors)[:300])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_env(env: Mapping[str, str] | None = None, **kwargs: Any) -> Langfuse:
    """A sender configured from the environment (off when a variable is missing)."""
    return Langfuse(LangfuseSettings.from_env(env), **kwargs)
