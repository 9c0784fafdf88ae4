"""Benchmark: what the reviewer is sent per round, and the review phase's step times.

Run with ``make bench``. On the example ticket (IX-101: the first review fails, the fixer documents the
field, the second passes) it prints, for every request the reviewer made, the input tokens (the offline
model's estimate: about four characters a token, over system prompt, messages and tool definitions) and
the share of them taken by the diff, read from the diff fence inside the request itself. It also checks
the implementer's transcript was never sent. Asserts nothing about speed.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

from orchestration.local.offline_model.server import estimate_tokens
from tests.bench.example_run import example_run
from tests.phase_jobs import implement_job, review_job

DIFF_FENCE = re.compile(r"<(untrusted-diff-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
ROUND = re.compile(r"^Review round: (\d+) of", re.MULTILINE)


def first_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content)


def main() -> None:
    with example_run() as run:
        server, tmp, env = run.server, run.tmp, run.env
        with contextlib.redirect_stderr(io.StringIO()):
            implemented = implement_job(env)
            implementer_requests = len(server.requests)
            result = review_job(env)
        assert implemented.status == "done" and result.status == "passed", result.detail
        transcript = (tmp / "a" / "runs" / "bench" / "implement" / "transcript.jsonl").read_text()
        summary = (implemented.agent.result_text or "") if implemented.agent else ""

        print("review phase, example ticket IX-101, offline model: reviewer requests")
        print(
            f"  {'round':<6}{'turn':<6}{'input tok':>10}{'prompt tok':>11}{'diff tok':>9}{'diff share':>11}"
        )
        leaked = 0
        for request in server.requests[implementer_requests:]:
            if not (request.scenario or "").startswith("review-"):
                continue
            text = first_user_text(request.body)
            found = DIFF_FENCE.search(text)
            diff_tokens = estimate_tokens(found.group(2)) if found else 0
            prompt_tokens = estimate_tokens(text)
            round_no = ROUND.search(text)
            print(
                f"  {round_no.group(1) if round_no else '?':<6}{request.turn:<6}{request.input_tokens:>10}"
                f"{prompt_tokens:>11}{diff_tokens:>9}{diff_tokens / request.input_tokens:>10.1%}"
            )
            body = str(request.body)
            leaked += summary[:60] in body or any(line[:200] in body for line in transcript.splitlines()[2:6])
        print("  (input = the CLI's system prompt and tool definitions + our prompt; prompt = our prompt)")
        print(f"  requests carrying the implementer's transcript or summary: {leaked}   [target 0]")
        print("review phase step times (seconds, summed over rounds)")
        for step, seconds in result.timings.items():
            print(f"  {step:<13} {seconds:7.3f}")
        cost = f"${result.cost_usd:.4f} (list price, estimated)"
        print(f"  rounds {len(result.rounds)}, reviewer+fixer cost {cost}")


if __name__ == "__main__":
    main()
