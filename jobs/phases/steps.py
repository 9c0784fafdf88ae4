"""Small pieces every phase uses: timed steps with progress lines, and the redacted transcript."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from jobs.logs import get_logger


class Stopwatch:
    """Times named steps and logs each one's start and end, so long work shows progress."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log = get_logger()
        log.info("%s ...", name)
        started = time.monotonic()
        try:
            yield
        finally:
            took = round(time.monotonic() - started, 3)
            self.timings[name] = round(self.timings.get(name, 0.0) + took, 3)
            log.info("%s took %.2fs", name, took)


class Transcript:
    """The agent's stream, line by line, with secrets masked before anything is kept."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(self.redact(line.rstrip("\n")))

    def data(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""
