"""Misbehaving stand-ins for the Claude Code CLI, to test the harness where the real CLI behaves.

Usage: ``python fake_cli.py MODE [cli args...]`` (the harness appends the real CLI's flags).
"""

from __future__ import annotations

import json
import signal
import sys
import time

RESULT_OK = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "num_turns": 1,
    "result": "ok",
    "total_cost_usd": 0.01,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def emit(event: dict[str, object]) -> None:
    print(json.dumps(event), flush=True)


def main(mode: str) -> None:
    if mode == "result-then-hang":  # C2: the result arrives but the process never exits
        emit(RESULT_OK)
        time.sleep(3600)
    elif mode == "reads-stdin":  # C2: reads stdin to its end (the prompt file: it has one)
        data = sys.stdin.buffer.read()
        emit(dict(RESULT_OK, result=f"stdin gave {len(data)} bytes"))
    elif mode == "error-as-success":  # C3: is_error with subtype success
        emit(dict(RESULT_OK, is_error=True, result="API Error: 500"))
    elif mode == "no-result":  # C3: exits 0 without a result
        emit({"type": "system", "subtype": "init", "session_id": "s"})
    elif mode == "turns-forever":  # C3: more assistant messages than the turn cap
        for n in range(1000):
            emit({"type": "assistant", "message": {"id": f"m{n}", "model": "sonnet", "usage": {}}})
            time.sleep(0.01)
    elif mode == "argv":  # E1: report the command line the harness built
        emit(dict(RESULT_OK, result=json.dumps(sys.argv)))
    elif mode == "ignore-term":  # C1: ignores SIGTERM and never answers
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1])
