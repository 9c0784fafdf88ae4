"""A stand-in for ``run_workflow`` behind the local ExecutionsServer, shared by its tests.

What a run does is chosen from its argument by ``kind``: "hold" waits for ``release`` (so ACTIVE is
observable) and then succeeds, "fail" ends with ``error``, "crash" raises, anything else returns
``result(execution_id)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from orchestration.engine.errors import WorkflowError
from orchestration.local.executions import ExecutionsServer
from orchestration.local.run import LocalRun


class FakeStart:
    def __init__(
        self,
        kind: Callable[[Any], str],
        result: Callable[[str], dict[str, Any]],
        error: WorkflowError,
        delay: float = 0.0,
    ) -> None:
        self.kind = kind
        self.result = result
        self.error = error
        self.delay = delay
        self.calls: list[tuple[Any, str]] = []
        self.release = threading.Event()

    def __call__(self, argument: Any, execution_id: str) -> LocalRun:
        self.calls.append((argument, execution_id))
        time.sleep(self.delay)
        kind = self.kind(argument)
        if kind == "hold":
            self.release.wait(10)
        if kind == "crash":
            raise RuntimeError("runner broke")
        if kind == "fail":
            return LocalRun(execution_id, error=self.error)
        return LocalRun(execution_id, result=self.result(execution_id))


@contextmanager
def serving(fake: FakeStart) -> Iterator[ExecutionsServer]:
    """The server with ``fake`` as its runner; a held run is released on the way out."""
    with ExecutionsServer(fake) as running:
        yield running
    fake.release.set()
