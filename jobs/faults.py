"""Crash points: where a test kills a phase job outright, to show a re-run repairs it (RELIABILITY B3).

With ``FACTORY_CRASH_AT=<phase>:<point>`` in its environment, a job SIGKILLs itself when it reaches that
point: no clean-up, no result, as a task preempted or killed for its memory ends. Nothing else sets the
variable, and without it a crash point does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "FACTORY_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here if the environment names this point (``implement:push``, ``review:pull_request``...)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
