"""Runs Claude Code headless under harness-side budgets.

The wall clock, the turn count and the dollar budget are enforced here, not left to the CLI: on a
breach the reaper gets SIGTERM, every process the agent started gets SIGTERM then, after a grace,
SIGKILL, and the run is classified by what the harness saw. The environment is an allowlist (see
``policy``) and each run gets a private HOME that is removed afterwards. The real model credential
stays here: each run gets its own ``model_proxy``, and the agent only its per-run token and URL; the
proxy meters the API's usage and refuses requests once the run's dollar budget is spent. stdin is the
prompt, a file in that HOME (see ``cli``): a regular file reaches EOF, so nothing the agent runs can
block reading it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from jobs.agent import policy
from jobs.agent.cli import bundled_cli, cli_arguments, supervised, write_mcp_config, write_prompt
from jobs.agent.model_proxy import ModelProxy, ProxyTally, upstream_of
from jobs.agent.models import AgentOutcome, AgentRequest, AgentStatus
from jobs.agent.stream import StreamTally, classify, parse_line
from jobs.logs import get_logger
from jobs.sandbox import Box

# After the result event the CLI should exit promptly; one that lingers is stopped (RELIABILITY C2).
RESULT_EXIT_GRACE = 3.0
STDERR_TAIL = 2000
# How often the watch loop looks up from the stream (for the model proxy's budget refusal).
POLL_SECONDS = 0.2
# One model response can take minutes to stream, but the API sends ping events in between: no byte at all
# for STALL_SECONDS is a stalled stream (the proxy ends it and counts a failure; the CLI retries).
STALL_SECONDS = 60.0


def upstream_timeout(stall_seconds: float) -> httpx.Timeout:
    return httpx.Timeout(connect=30.0, read=stall_seconds, write=120.0, pool=30.0)


LineSink = Callable[[str], None]


class AgentRunner:
    """Starts one supervised CLI process per request and judges how it ended."""

    def __init__(
        self,
        *,
        model_auth: Mapping[str, str],
        grace_seconds: float = 10.0,
        cli: list[str] | None = None,
        parent_env: Mapping[str, str] | None = None,
        box: Box | None = None,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.model_auth = dict(model_auth)
        self.grace_seconds = grace_seconds
        # ``cli`` is the command prefix that stands for the CLI; tests pass misbehaving stand-ins.
        self.cli = cli or [str(bundled_cli())]
        self.parent_env = dict(os.environ if parent_env is None else parent_env)
        self.last_overshoot: float | None = None
        self.last_model_tally: ProxyTally | None = None
        # Where the CLI runs: in a contained box, as the box's uid, in its network (see jobs/sandbox).
        self.box = box or Box()
        self.stall_seconds = stall_seconds

    def run(self, request: AgentRequest, on_line: LineSink | None = None) -> AgentOutcome:
        # HOME is the agent's to write; its settings, MCP config and prompt are ours, out of its reach.
        home = self.box.private_dir("factory-agent-home-")
        config = self.box.readable_dir("factory-agent-run-")
        upstream, credential = upstream_of(self.model_auth)
        try:
            with (
                # A loopback upstream (the offline model) is never reached through an HTTP(S)_PROXY.
                httpx.Client(
                    timeout=upstream_timeout(self.stall_seconds), trust_env=not _loopback(upstream)
                ) as http,
                ModelProxy(
                    upstream=upstream,
                    credential=credential,
                    client=http,
                    max_cost_usd=request.max_cost_usd,
                    sock=self.box.listen(),  # on the box's loopback: the one address it can reach
                    failure_budget=request.failure_budget(),
                ) as proxy,
            ):
                return self._run(request, home, config, on_line or (lambda line: None), proxy)
        finally:
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(config, ignore_errors=True)

    def _run(
        self, request: AgentRequest, home: Path, config: Path, on_line: LineSink, proxy: ModelProxy
    ) -> AgentOutcome:
        settings = policy.write_settings(config, request.tools, request.mcp_servers)
        arguments = cli_arguments(request, settings, write_mcp_config(config, request.mcp_servers))
        program = [str(self.box.runnable(Path(self.cli[0]))), *self.cli[1:]]
        command = supervised(self.box.untrusted([*program, *arguments]), self.grace_seconds)
        # The agent's model auth is the proxy's: a per-run token and a loopback URL, never the real key.
        env = policy.agent_environment(self.parent_env, home, proxy.agent_auth())
        self.box.hand_over(home)
        prompt = write_prompt(config, request.prompt)
        started = time.monotonic()
        deadline = started + request.max_duration_seconds
        with prompt.open("rb") as stdin, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                command,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=request.cwd,
                env=env,
                start_new_session=True,
            )
            assert process.stdout is not None
            lines = _line_queue(process.stdout)
            tally = StreamTally()
            try:
                breach, at_eof = self._watch(process, lines, tally, request, deadline, on_line, proxy)
            except BaseException:
                # The job itself is being stopped (SIGTERM becomes an exception): take the agent with it.
                self._stop(process, wait_first=0.0)
                raise
            # At EOF the CLI is exiting: give it a moment. Otherwise (a breach, or a process that
            # lingers after its result) stop it now.
            self._stop(process, wait_first=RESULT_EXIT_GRACE if at_eof else 0.0)
            if breach is AgentStatus.TIMED_OUT:
                self.last_overshoot = time.monotonic() - deadline
            stderr.seek(0)
            stderr_tail = stderr.read().decode(errors="replace")[-STDERR_TAIL:]
        model = self.last_model_tally = proxy.tally()
        if breach is None and model.refused:
            breach = AgentStatus.OVER_BUDGET  # the CLI ended on the refusal before the watch saw it
        if breach is None and proxy.unavailable.is_set():
            breach = AgentStatus.MODEL_UNAVAILABLE
        status: AgentStatus
        detail: str
        if breach is AgentStatus.MODEL_UNAVAILABLE:
            status, detail = breach, proxy.unavailable_reason
        elif breach is not None:
            status, detail = breach, _breach_detail(breach, request)
        else:
            status, detail = classify(tally.result)
        if status is AgentStatus.NO_RESULT and stderr_tail.strip():
            detail = f"{detail}; stderr: {stderr_tail.strip()}"
        result = tally.result or {}
        get_logger().info(
            "model proxy: %d requests, %d refused for the budget, %d unauthorized, $%.4f",
            model.requests,
            model.refused,
            model.unauthorized,
            model.usage.cost_usd,
        )
        return AgentOutcome(
            status=status,
            detail=detail,
            turns=max(tally.turns, int(result.get("num_turns") or 0)),
            # The API's own usage as our proxy counted it; the stream's figures only when no request
            # went through it (a stand-in CLI that never calls the model).
            usage=model.usage if model.requests else tally.final_usage(),
            result_text=str(result["result"]) if result.get("result") is not None else None,
            session_id=tally.session_id,
            exit_code=process.returncode,
            duration_seconds=round(time.monotonic() - started, 3),
            permission_denials=len(result.get("permission_denials") or []),
        )

    def _watch(
        self,
        process: subprocess.Popen[bytes],
        lines: queue.Queue[str | None],
        tally: StreamTally,
        request: AgentRequest,
        deadline: float,
        on_line: LineSink,
        proxy: ModelProxy,
    ) -> tuple[AgentStatus | None, bool]:
        """Read the stream until EOF or a breach: (the breached budget if any, whether EOF was reached)."""
        result_at: float | None = None
        while True:
            now = time.monotonic()
            if now >= deadline:
                return AgentStatus.TIMED_OUT, False
            if proxy.over_budget.is_set():
                return AgentStatus.OVER_BUDGET, False  # the proxy refused a request: the budget is spent
            if proxy.unavailable.is_set():
                return AgentStatus.MODEL_UNAVAILABLE, False  # the API kept failing past the budget
            if result_at is not None and now - result_at >= RESULT_EXIT_GRACE:
                return None, False  # a result arrived but the process lingers: _stop ends it
            wait = deadline - now if result_at is None else min(deadline - now, RESULT_EXIT_GRACE)
            try:
                line = lines.get(timeout=min(max(wait, 0.01), POLL_SECONDS))
            except queue.Empty:
                continue
            if line is None:
                return None, True
            on_line(line)
            event = parse_line(line)
            if event is None:
                continue
            tally.add(event)
            if tally.turns > request.max_turns:
                return AgentStatus.MAX_TURNS, False
            if event.get("type") == "result" and result_at is None:
                result_at = time.monotonic()

    def _stop(self, process: subprocess.Popen[bytes], wait_first: float) -> None:
        """End the run: wait ``wait_first`` for an exit, else SIGTERM the reaper, then SIGKILL its group."""
        try:
            process.wait(timeout=wait_first)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.grace_seconds + 1.0)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()
        _kill_group(process.pid)  # anything still in the reaper's group goes too


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _line_queue(stream: IO[bytes]) -> queue.Queue[str | None]:
    """Lines of ``stream`` on a queue, read by a daemon thread; None marks EOF."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for raw in stream:
            lines.put(raw.decode("utf-8", errors="replace"))
        lines.put(None)

    threading.Thread(target=pump, name="agent-stream", daemon=True).start()
    return lines


def _breach_detail(status: AgentStatus, request: AgentRequest) -> str:
    if status is AgentStatus.TIMED_OUT:
        return f"wall clock exceeded {request.max_duration_seconds:g}s: agent stopped"
    if status is AgentStatus.MAX_TURNS:
        return f"more than {request.max_turns} turns: agent stopped"
    return f"the run's ${request.max_cost_usd:g} budget is spent: the model proxy refused a request"


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"
