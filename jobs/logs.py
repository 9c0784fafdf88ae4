"""Logging: Cloud Logging's structured JSON on Cloud Run, readable lines locally; secrets masked.

Every line carries the run id and the phase. The redacting filter runs on every record before any
handler formats it, so a secret that reaches a log call still never reaches a sink.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Literal

LOGGER_NAME = "factory"


class ContextFilter(logging.Filter):
    """Stamps run id and phase on each record and masks secrets in its message."""

    def __init__(self, run_id: str, phase: str, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.run_id = run_id
        self.phase = phase
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.run_id = self.run_id
        record.phase = self.phase
        # Cloud Logging's StructuredLogHandler lifts these into the entry's labels.
        record.labels = {"run_id": self.run_id, "phase": self.phase}
        return True


def on_cloud_run() -> bool:
    return bool(os.environ.get("CLOUD_RUN_JOB") or os.environ.get("K_SERVICE"))


def configure(
    run_id: str,
    phase: str,
    redact: Callable[[str], str],
    fmt: Literal["auto", "text", "json"] = "auto",
) -> logging.Logger:
    """Set up the ``factory`` logger for this process and return it."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    logger.filters.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler: logging.Handler
    if fmt == "json" or (fmt == "auto" and on_cloud_run()):
        from google.cloud.logging_v2.handlers import StructuredLogHandler

        handler = StructuredLogHandler(stream=sys.stderr)  # type: ignore[no-untyped-call]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(phase)s [%(run_id)s] %(levelname)s %(message)s", "%H:%M:%S")
        )
    logger.addFilter(ContextFilter(run_id, phase, redact))
    logger.addHandler(handler)
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
