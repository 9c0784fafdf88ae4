"""Handing start messages to a publisher without letting it delay Linear's acknowledgement.

``BackgroundPublisher.submit`` answers one of three outcomes:

- ``published``: a publisher that returns futures (Pub/Sub) confirmed the message within the short
  synchronous deadline (default 0.5 s; Pub/Sub publishes usually take tens of ms);
- ``failed``: it refused the message definitively within that deadline (``definitive``: NotFound,
  PermissionDenied, InvalidArgument, ...); the caller undoes its records and answers 503, so that Linear's
  retry finds nothing and starts the run then;
- ``unknown``: it failed within the deadline in a way that may hide a message that landed (a timeout,
  DeadlineExceeded, RetryError, Unknown, a 5xx): nothing is undone, so no second run can start;
- ``queued``: no answer yet (or a publisher without futures): the message goes to one worker thread, the
  request is answered at once, and a later definitive failure calls ``on_failure`` so the caller can undo
  its records (an undefinitive one is only logged, as for ``unknown``).

A message is only ever handed to the publisher once: a timed-out future is waited on in the background,
never re-published. What is lost if the process dies with a message still queued is said in app.py.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from jobs.errors import ServiceError

log = logging.getLogger("orchestration.receiver")

Outcome = Literal["published", "queued", "failed", "unknown"]
DEFAULT_DEADLINE = 0.5  # seconds a request may wait for the publisher, well inside Linear's 5 s


class Publisher(Protocol):
    """Where start messages go (Pub/Sub in production)."""

    def publish(self, data: bytes) -> str:
        """Publish one message; return its id."""
        ...


@runtime_checkable
class FuturePublisher(Protocol):
    """A publisher whose publish can be awaited with a deadline (google-cloud-pubsub returns futures)."""

    def publish(self, data: bytes) -> str: ...

    def publish_async(self, data: bytes) -> Future[str]:
        """Start publishing one message; the future resolves to its id."""
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
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as file:
                    file.write(data.rstrip(b"\n") + b"\n")
            return str(len(self.messages))


def describe_error(exc: BaseException) -> str:
    """An error as a log line may show it: its kind and status code, never its text (which could quote
    the request)."""
    if isinstance(exc, gexc.GoogleAPICallError) and exc.code is not None:
        return f"{type(exc).__name__} (HTTP {int(exc.code)})"
    return type(exc).__name__


# Client errors where Pub/Sub may have taken the message after all: a conflict, or the client giving up.
_MAYBE_LANDED = (gexc.Aborted, gexc.Cancelled)


def definitive(exc: BaseException) -> bool:
    """Whether an error proves the message was not published (so undoing the start is safe).

    Pub/Sub's own refusals (4xx: NotFound, PermissionDenied, InvalidArgument, ResourceExhausted, ...;
    Unimplemented) and credentials that could not be had are; timeouts, RetryError, Unknown, 5xx and
    anything unrecognised are not: the request may have reached Pub/Sub and its answer been lost.
    """
    if isinstance(exc, _MAYBE_LANDED):
        return False
    if isinstance(exc, ServiceError):  # a blocking publisher's error (PubSubPublisher.publish)
        return 400 <= exc.status < 500 and exc.status not in (408, 409, 499)
    return isinstance(exc, gexc.ClientError | gexc.MethodNotImplemented | auth_exc.GoogleAuthError)


@dataclass(frozen=True)
class _Queued:
    label: str
    data: bytes | None
    future: Future[str] | None
    on_failure: Callable[[], None] | None


class BackgroundPublisher:
    """Publishes on one worker thread, or synchronously within a deadline when the publisher allows it.

    Capacity is bounded by slots: a caller ``reserve``s one before committing to a start, so that a
    message accepted for publishing always has room; ``submit`` uses the slot, ``cancel`` gives it back.
    """

    def __init__(self, publisher: Publisher, capacity: int = 256, deadline: float = DEFAULT_DEADLINE) -> None:
        self.publisher = publisher
        self.deadline = deadline
        self.published = 0
        self.failures = 0
        self._counts = threading.Lock()  # published/failures move on request threads and the worker
        self._slots = threading.BoundedSemaphore(capacity)
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="receiver-publisher", daemon=True)
        self._worker.start()

    @property
    def pending(self) -> int:
        """Messages accepted but not yet confirmed or failed."""
        with self._idle:
            return self._pending

    def reserve(self) -> bool:
        return self._slots.acquire(blocking=False)

    def cancel(self) -> None:
        self._slots.release()

    def submit(self, label: str, data: bytes, on_failure: Callable[[], None] | None = None) -> Outcome:
        """Hand over one message (its slot reserved); ``on_failure`` runs if a queued one fails later."""
        if self.deadline > 0 and isinstance(self.publisher, FuturePublisher):
            try:
                future = self.publisher.publish_async(data)
            except Exception as exc:  # the client refused at once (stopped, over its flow-control limit)
                self._finish(label, None, exc)
                return "failed"  # nothing was sent
            wait_futures([future], timeout=self.deadline)
            if future.done():
                error = future.exception()
                self._finish(label, None if error else future.result(), error)
                if error is None:
                    return "published"
                return "failed" if definitive(error) else "unknown"
            item = _Queued(label, None, future, on_failure)
        else:
            item = _Queued(label, data, None, on_failure)
        with self._idle:
            self._pending += 1
        self._queue.put(item)
        return "queued"

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued message was confirmed or failed (for tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> int:
        """Stop after the queued messages, waiting at most ``timeout``; how many were left unconfirmed."""
        self.wait_idle(timeout)
        self._queue.put(None)
        self._worker.join(0.1)
        return self.pending

    def _finish(self, label: str, message_id: str | None, error: BaseException | None) -> None:
        self._slots.release()
        with self._counts:
            if error is None:
                self.published += 1
            else:
                self.failures += 1
        if error is None:
            log.info("published the start message for %s (message %s)", label, message_id)
        elif definitive(error):
            log.error("publishing the start message for %s failed: %s", label, describe_error(error))
        else:
            log.error(
                "publishing the start message for %s: outcome unknown (%s); lock kept until the run releases "
                "it or it goes stale",
                label,
                describe_error(error),
            )

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            error: BaseException | None = None
            message_id = None
            try:
                if item.future is not None:
                    message_id = item.future.result()
                elif item.data is not None:
                    message_id = self.publisher.publish(item.data)
            except Exception as exc:  # the worker must survive any publisher failure
                error = exc
            self._finish(item.label, message_id, error)
            if error is not None and definitive(error) and item.on_failure is not None:
                try:
                    item.on_failure()
                except Exception as exc:
                    log.error("undoing the start of %s failed: %s", item.label, type(exc).__name__)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
