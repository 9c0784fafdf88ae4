"""What the workflow's notices and errors say (issue 14): a failed phase in its own words (item 22),
Slack messages escaped, rate limits honoured and failures explained (item 14); and (issue 19) each
phase's time and cost with the pull request's link in the "completed" and "failed" notices.

Slack is a loopback stand-in speaking the incoming-webhook wire format as Slack documents it:

- a message is a POST of ``{"text": ...}`` as JSON; HTTP 200 is success, "any other response code
  [...] a failure of some kind", and each failure's reason is a plain string in the response body: 400
  ``invalid_payload``, 403 ``action_prohibited``, 404 ``channel_not_found``, 410 ``channel_is_archived``,
  500 ``rollup_error`` (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks);
- past the rate limit (about one message per second) Slack answers "HTTP 429 Too Many Requests [...] and
  a Retry-After header containing the number of seconds until you can retry"
  (https://api.slack.com/docs/rate-limits);
- ``&``, ``<`` and ``>`` are its control characters and must be sent as ``&amp;``, ``&lt;`` and ``&gt;``
  when they are text (https://api.slack.com/reference/surfaces/formatting, "Escaping text");
- a link is ``<url|text>`` (same page, "Linking URLs").

The Slack tests run factory.yaml's ``notify`` subworkflow alone on the local engine with a recording
``sleep``; the phase tests run the whole workflow with a stand-in job runner that writes the phase's
result.json as the job does; the last tests run the real implement job for a ticket that has no file.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from jobs.agent.models import AgentOutcome, AgentStatus, Usage
from jobs.artifacts import DirectoryStore
from jobs.models import PhaseResult
from jobs.phases.e2e.records import E2EResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.review.records import PullRequestRef, ReviewResult
from jobs.serving import free_port
from orchestration import FACTORY_YAML
from orchestration.cli import app
from orchestration.cloud import start_and_follow
from orchestration.engine.executor import Executor
from orchestration.engine.loader import load_workflow
from orchestration.engine.stdlib import make_functions
from orchestration.local.connectors import LocalCloud
from orchestration.local.executions import ExecutionsServer
from orchestration.local.run import SLACK_SECRET, LocalRun, run_workflow, workflow_env
from orchestration.local.stack import LocalStack
from orchestration.local.ticket import solve_ticket
from tests.conftest import TESTS

SECRET = "canarySLACKtoken0014"  # the webhook URL's last segment: what makes the URL a secret
FAILED = "Slack notification failed (the run goes on): "


@dataclass(frozen=True)
class Answer:
    """One response of the Slack stand-in."""

    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Slack:
    """The stand-in's URL and what it received: each request's path, content type and JSON body."""

    url: str
    posts: list[dict[str, Any]]

    @property
    def texts(self) -> list[str]:
        return [str(post["json"]["text"]) for post in self.posts]


@contextmanager
def slack(*answers: Answer) -> Iterator[Slack]:
    """A loopback incoming webhook giving ``answers`` in turn (the last one from then on; 200 "ok" when
    none is given)."""
    script = list(answers) or [Answer()]
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            content_type = self.headers.get("Content-Type", "")
            posts.append({"path": self.path, "content_type": content_type, "json": json.loads(raw)})
            answer = script[min(len(posts), len(script)) - 1]
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Slack(f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/{SECRET}", posts)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Notified:
    returned: Any
    logged: list[str]
    waits: list[float]


def notify(tmp_path: Path, url: str, detail: str, ticket: str = "IX-7") -> Notified:
    """factory.yaml's ``notify`` for a "failed" event, alone, with the webhook URL in Secret Manager."""
    logged: list[str] = []
    waits: list[float] = []
    cloud = LocalCloud({}, DirectoryStore(tmp_path / "bucket"), {SLACK_SECRET: url})
    workflow = load_workflow(FACTORY_YAML.read_text(), "factory.yaml", connectors=cloud.connectors())
    executor = Executor(
        workflow,
        cloud.connectors(),
        make_functions(workflow_env("run-1", 60, slack=True), time.time),
        sleep=waits.append,
        log_sink=lambda _severity, text: logged.append(str(text)),
    )
    request = {"job": "solve-linear-ticket", "ticket": ticket, "delivery": "", "run_id": "run-1"}
    returned = executor.call_subworkflow("notify", {"event": "failed", "request": request, "detail": detail})
    return Notified(returned, logged, waits)


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(FAILED)]


# --- Slack: escaping ---------------------------------------------------------------------------------


def test_slack_gets_its_control_characters_escaped_and_the_log_keeps_the_text(tmp_path: Path) -> None:
    """Slack's formatting reference: "&" -> "&amp;", "<" -> "&lt;", ">" -> "&gt;", the ampersand first
    (else "&lt;" would become "&amp;lt;"). A "<!channel>" an agent wrote is then shown, not a ping."""
    detail = "review said <!channel> & <@U024BE7LH> fix it -> now; &lt; stays literal"
    with slack() as hook:
        done = notify(tmp_path, hook.url, detail, ticket="IX-<7>")
    assert hook.texts == [
        "Factory failed - IX-&lt;7&gt; (run run-1): review said &lt;!channel&gt; &amp; &lt;@U024BE7LH&gt; "
        "fix it -&gt; now; &amp;lt; stays literal"
    ]
    assert hook.posts[0]["path"] == f"/services/T0/B0/{SECRET}"
    assert hook.posts[0]["content_type"] == "application/json"
    message = f"Factory failed - IX-<7> (run run-1): {detail}"
    assert done.returned == message and done.logged == [message]  # the log and the return: unescaped
    assert done.waits == []


# --- Slack: rate limits ------------------------------------------------------------------------------


def test_a_429_waits_what_retry_after_says_then_posts_again(tmp_path: Path) -> None:
    """Slack's rate limits page: a 429's Retry-After is "the number of seconds until you can retry"."""
    limited = Answer(429, b"rate_limited", headers={"Retry-After": "7"})
    with slack(limited, Answer()) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert done.waits == [7.0]  # not the old 2, 4, 8 s backoff
    assert len(hook.posts) == 2 and hook.texts[0] == hook.texts[1]
    assert failures(done.logged) == []


def test_a_429_that_stays_gives_up_after_two_retries_with_one_line(tmp_path: Path) -> None:
    limited = Answer(429, b"rate_limited", headers={"Retry-After": "3"})
    with slack(limited) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert done.waits == [3.0, 3.0] and len(hook.posts) == 3
    assert failures(done.logged) == [
        f"{FAILED}HttpError, HTTP status 429: rate_limited; gave up after 2 retries"
    ]


def test_a_retry_after_past_the_bound_is_not_waited_for(tmp_path: Path) -> None:
    """A notice waits at most 30 s for one retry: asked for 120 s, it gives up at once and says so."""
    limited = Answer(429, b"rate_limited", headers={"Retry-After": "120"})
    with slack(limited) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert done.waits == [] and len(hook.posts) == 1
    assert failures(done.logged) == [
        f"{FAILED}HttpError, HTTP status 429: rate_limited; "
        "Slack asked to retry after 120 s, longer than the 30 s a notice waits"
    ]


def test_a_retry_after_that_is_a_date_falls_back_to_the_backoff(tmp_path: Path) -> None:
    """RFC 9110 allows an HTTP date in Retry-After; Slack sends seconds. A date is not misread."""
    limited = Answer(429, b"rate_limited", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with slack(limited, Answer()) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert done.waits == [2.0] and len(hook.posts) == 2 and failures(done.logged) == []


def test_a_429_with_a_json_body_logs_it_as_json(tmp_path: Path) -> None:
    """The rate limits page says a 429 carries "a JSON object": it is logged as JSON, on one line."""
    body = json.dumps({"ok": False, "error": "rate_limited", "calls": 12}, indent=2).encode()
    limited = Answer(429, body, "application/json", {"Retry-After": "1"})
    with slack(limited) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert done.waits == [1.0, 1.0]
    (line,) = failures(done.logged)
    reason, gave_up = line.removeprefix(f"{FAILED}HttpError, HTTP status 429: ").split("; ")
    assert json.loads(reason) == {"ok": False, "error": "rate_limited", "calls": 12} and "\n" not in reason
    assert gave_up == "gave up after 2 retries"


# --- Slack: errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (500, "rollup_error"),
    ],
)
def test_slack_s_error_reason_is_logged_and_not_retried(tmp_path: Path, status: int, reason: str) -> None:
    """Slack's documented errors: the status and its reason string in one line; none is retried (a 500
    may have posted already); the webhook URL is nowhere."""
    with slack(Answer(status, reason.encode())) as hook:
        done = notify(tmp_path, hook.url, "x")
    assert failures(done.logged) == [f"{FAILED}HttpError, HTTP status {status}: {reason}"]
    assert len(hook.posts) == 1 and done.waits == []
    assert not [line for line in done.logged if SECRET in line]


def test_a_body_that_echoes_the_url_is_masked_flattened_and_clipped(tmp_path: Path) -> None:
    """Not Slack answering (a proxy's page, bytes of no text type): one line of at most 200 characters,
    the webhook's secret segment masked."""
    page = f"<html>\n<p>No route for /services/T0/B0/{SECRET}</p>\n{'x' * 400}</html>".encode()
    with slack(Answer(404, page, "application/octet-stream")) as hook:
        done = notify(tmp_path, hook.url, "x")
    (line,) = failures(done.logged)
    reason = line.removeprefix(f"{FAILED}HttpError, HTTP status 404: ")
    assert reason.startswith("<html> <p>No route for /services/T0/B0/…</p> xxx") and "\n" not in reason
    assert len(reason) == 200 and reason.endswith("x…")
    assert not [text for text in done.logged if SECRET in text]


def test_a_refused_connection_is_retried_twice_then_said_without_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/{SECRET}"  # nothing listens there
    done = notify(tmp_path, url, "x")
    assert done.waits == [2.0, 4.0]
    assert failures(done.logged) == [
        f"{FAILED}ConnectionFailedError, HTTP status none; gave up after 2 retries"
    ]
    assert not [line for line in done.logged if SECRET in line]


# --- A failed phase in its own words (item 22) -------------------------------------------------------


def result_json(detail: str) -> bytes:
    return json.dumps({"schema_version": 1, "status": "failed", "detail": detail}).encode()


def job_writing(store: DirectoryStore, written: bytes | None) -> Callable[..., int | None]:
    """A job runner that does what a phase job does before it exits 1: write its result.json (unless
    ``written`` is None: a job that died before writing, or never started)."""
    return jobs_writing(store, {"implement": written}, exits={"implement": 1})


def run_failing(tmp_path: Path, written: bytes | None, url: str) -> tuple[LocalRun, list[str]]:
    store = DirectoryStore(tmp_path / "artifacts")
    console: list[str] = []
    run = run_workflow(
        {"job": "solve-linear-ticket", "ticket": "IX-999"},
        "r22",
        {},
        store,
        slack_webhook=url,
        say=console.append,
        runner=job_writing(store, written),
    )
    return run, console


def test_a_failed_phase_s_reason_is_the_notice_and_the_execution_error(tmp_path: Path) -> None:
    with slack() as hook:
        run, console = run_failing(tmp_path, result_json("no ticket file /tickets/IX-999.md"), hook.url)
    reason = "implement ended failed: no ticket file /tickets/IX-999.md"
    assert run.error is not None and run.error.tags == ["OperationError"]
    assert run.error.message == reason
    assert hook.texts == [
        "Factory started - IX-999 (run r22)",
        f"Factory failed - IX-999 (run r22): {reason}",
    ]
    assert f"[info] Factory failed - IX-999 (run r22): {reason}" in console
    assert any(line.startswith(f"== workflow: implement failed: {reason} (") for line in console)
    assert not [line for line in console if "exited with code" in line]


def test_a_long_reason_is_one_line_clipped_and_escaped_for_slack(tmp_path: Path) -> None:
    detail = "git push failed:\n<!channel> remote said no\r\n" + "y" * 1000
    with slack() as hook:
        run, _ = run_failing(tmp_path, result_json(detail), hook.url)
    assert run.error is not None
    message = run.error.message
    assert message.startswith("implement ended failed: git push failed: <!channel> remote said no yyy")
    assert len(message) == 300 and message.endswith("y…") and "\n" not in message and "\r" not in message
    assert hook.texts[-1] == f"Factory failed - IX-999 (run r22): {message}".replace("<", "&lt;").replace(
        ">", "&gt;"
    )


@pytest.mark.parametrize("written", [None, b"{not json", result_json("")], ids=["none", "garbled", "silent"])
def test_without_a_usable_result_json_the_job_s_own_error_stands(
    tmp_path: Path, written: bytes | None
) -> None:
    """A job that died before writing its result (or never started), or wrote one that says nothing: the
    connector's error is all there is, and it is what the notice and the execution error say."""
    with slack() as hook:
        run, _ = run_failing(tmp_path, written, hook.url)
    assert run.error is not None and run.error.tags == ["OperationError"]
    assert run.error.message.startswith(
        "The job execution projects/local/locations/local/jobs/factory-implement"
    )
    assert run.error.message.endswith("failed: the task exited with code 1")
    assert hook.texts[-1] == f"Factory failed - IX-999 (run r22): {run.error.message}"


# --- The missing ticket end to end: the real implement job ----------------------------------------


def test_the_local_command_names_a_missing_ticket_before_anything_starts(
    remote: Path, tmp_path: Path
) -> None:
    """``factory solve-linear-ticket --ticket IX-999 --repo R`` checks the ticket file up front
    (orchestration/local/inputs.py): one line naming it, exit 2, and no workflow execution at all, so
    there is no notice and no execution error to read on this path."""
    result = CliRunner().invoke(
        app,
        ["solve-linear-ticket", "--ticket", "IX-999", "--repo", str(remote),
         "--tickets-dir", str(TESTS / "tickets"), "--artifacts", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"factory: --ticket IX-999: no ticket file {TESTS / 'tickets' / 'IX-999'}.md"
    ]
    assert not (tmp_path / "out" / "runs").exists()


def missing_ticket_stack(
    remote: Path, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> LocalStack:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", url)
    return LocalStack.create(str(remote), tmp_path / "out", TESTS / "tickets")


def test_a_missing_ticket_is_named_on_the_console_in_the_notice_and_in_the_execution_error(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket given to the workflow itself (as the Linear webhook or ``gcloud workflows run`` give
    it): ``factory solve-linear-ticket --cloud`` against ``factory serve``'s Executions API. The real
    implement job fails and writes why; the console's last line, Slack's notice and the execution's
    error all name the missing ticket file."""
    reason = f"implement ended failed: no ticket file {TESTS / 'tickets' / 'IX-999'}.md"
    monkeypatch.setattr(
        "orchestration.cli.start_and_follow", functools.partial(start_and_follow, poll_seconds=0.1)
    )
    with slack() as hook:
        stack = missing_ticket_stack(remote, tmp_path, hook.url, monkeypatch)
        runs: list[LocalRun] = []

        def start(argument: Any, execution_id: str) -> LocalRun:
            runs.append(stack.run(argument, execution_id, say=lambda _line: None))
            return runs[-1]

        with ExecutionsServer(start) as server:
            result = CliRunner().invoke(
                app,
                ["solve-linear-ticket", "--ticket", "IX-999", "--cloud", "--project", "local",
                 "--region", "local", "--endpoint", server.base_url.rstrip("/")],
            )  # fmt: skip
            name = result.stdout.split()[1]  # "started projects/.../executions/ID"
            execution: dict[str, Any] = httpx.get(f"{server.base_url}v1/{name}", timeout=10).json()
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == f"  error: {reason}"
    said, ran = hook.texts[-1].split("\n")
    assert said.startswith("Factory failed - IX-999 (run ") and said.endswith(f"): {reason}")
    assert re.fullmatch(r"implement \d+s \$0\.00", ran)  # it ran no agent
    assert execution["state"] == "FAILED" and json.loads(execution["error"]["payload"])["message"] == reason
    assert runs[0].error is not None and runs[0].error.message == reason


def test_the_local_summary_names_a_missing_ticket(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local command's run past its up-front checks (``solve_ticket``, what it calls next): the
    workflow section's ``failed`` line and the notice on the console say the phase's reason."""
    reason = f"implement ended failed: no ticket file {TESTS / 'tickets' / 'IX-999'}.md"
    with slack() as hook:
        code = solve_ticket(missing_ticket_stack(remote, tmp_path, hook.url, monkeypatch), "IX-999")
    out, err = capsys.readouterr()
    assert code == 1
    assert f"failed      OperationError: {reason}" in out.splitlines()
    (notice,) = [line for line in err.splitlines() if "Factory failed - IX-999" in line]
    assert notice.startswith("[info] Factory failed - IX-999 (run ") and notice.endswith(f"): {reason}")
    said, ran = hook.texts[-1].split("\n")
    assert said.endswith(f"): {reason}") and re.fullmatch(r"implement \d+s \$0\.00", ran)


# --- Each phase's time and cost, and the pull request (issue 19) --------------------------------------

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PULL = "https://github.com/acme/notes/pull/7"


def timed(model: type[PhaseResult], seconds: float, **fields: Any) -> bytes:
    """A phase's result.json as the job writes it, ``seconds`` long."""
    finished = STARTED + timedelta(seconds=seconds)
    record = model(
        run_id="r19",
        ticket_identifier="IX-19",
        branch="factory/ix-19",
        base_branch="main",
        started_at=STARTED,
        finished_at=finished,
        **fields,
    )
    return record.model_dump_json().encode()


def implemented() -> bytes:
    """implement/result.json: it records its one agent run, whose cost is the phase's."""
    agent = AgentOutcome(status=AgentStatus.SUCCESS, usage=Usage(cost_usd=0.1234))
    return timed(ImplementResult, 41.2, status="done", agent=agent)


def reviewed(url: str = PULL) -> bytes:
    pull = PullRequestRef(number=7, url=url)
    return timed(ReviewResult, 62.6, status="passed", pull_request=pull, cost_usd=0.3012)


def verified(status: str = "verified", detail: str = "") -> bytes:
    return timed(E2EResult, 55.0, status=status, detail=detail, report="file:///r/report.md", cost_usd=0.0799)


def jobs_writing(
    store: DirectoryStore, written: Mapping[str, bytes | None], exits: Mapping[str, int] | None = None
) -> Callable[..., int | None]:
    """A job runner writing each phase's result.json (none for a phase mapped to None) and exiting 0, or
    as ``exits`` says."""

    def runner(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        result = written.get(phase)
        if result is not None:
            store.write_bytes(f"runs/{env['RUN_ID']}/{phase}/result.json", result)
        return (exits or {}).get(phase, 0)

    return runner


def run_phases(
    tmp_path: Path, written: Mapping[str, bytes | None], exits: Mapping[str, int] | None = None
) -> tuple[LocalRun, list[str]]:
    """The whole workflow for IX-19, its jobs writing ``written``; what Slack got."""
    store = DirectoryStore(tmp_path / "artifacts")
    with slack() as hook:
        run = run_workflow(
            {"job": "solve-linear-ticket", "ticket": "IX-19"},
            "r19",
            {},
            store,
            slack_webhook=hook.url,
            say=lambda _line: None,
            runner=jobs_writing(store, written, exits),
        )
    return run, hook.texts


FIGURES = "implement 41s $0.12 · review 1m03s $0.30 · e2e 55s $0.08 · total 2m39s $0.50"


def test_completed_tells_each_phase_s_time_and_cost_and_links_the_pull_request(tmp_path: Path) -> None:
    """The figures are the result.json files': 41.2 s, 62.6 s and 55 s from started_at to finished_at;
    implement's agent run, review's and e2e's cost_usd. The total adds the unrounded ones (158.8 s,
    $0.5045). Slack gets the PR as its link; the log, as text."""
    run, texts = run_phases(tmp_path, {"implement": implemented(), "review": reviewed(), "e2e": verified()})
    assert run.error is None, run.error
    assert texts[-1] == f"Factory completed - IX-19 (run r19)\n{FIGURES} · <{PULL}|PR #7>"
    assert run.notifications[-1] == f"Factory completed - IX-19 (run r19)\n{FIGURES} · PR #7 {PULL}"
    assert run.result["pull_request"] == PULL  # run_phase's summary still says what it said


def test_a_no_changes_run_tells_implement_s_figures_alone(tmp_path: Path) -> None:
    run, texts = run_phases(tmp_path, {"implement": timed(ImplementResult, 3725, status="no_changes")})
    assert run.error is None, run.error
    assert texts[-1] == (
        "Factory completed - IX-19 (run r19): the agent made no changes; no pull request\n"
        "implement 1h02m $0.00"
    )


@pytest.mark.parametrize("e2e", ["wrote", "died"])
def test_failed_tells_the_phases_that_ran_and_the_pull_request(tmp_path: Path, e2e: str) -> None:
    """e2e fails after review opened the PR: the notice lists what ran, the failing phase too when its
    job wrote a result.json (here: status error), not when it died first. The PR's URL is escaped
    inside its link as text is, and a "|" in it, which would end the URL there, is percent-encoded."""
    url = "https://git.example/pr?id=7&x=<b>|c"
    failed = verified("error", "the browser could not be started")
    written: dict[str, bytes | None] = {"implement": implemented(), "review": reviewed(url), "e2e": failed}
    if e2e == "died":
        written["e2e"] = None
    run, texts = run_phases(tmp_path, written, exits={"e2e": 1 if e2e == "died" else 0})
    assert run.error is not None
    if e2e == "wrote":
        assert run.error.message == "e2e-verify ended error: the browser could not be started"
        figures = FIGURES
    else:
        assert run.error.message.endswith("failed: the task exited with code 1")
        figures = "implement 41s $0.12 · review 1m03s $0.30 · total 1m44s $0.42"
    link = "<https://git.example/pr?id=7&amp;x=&lt;b&gt;%7Cc|PR #7>"
    assert texts[-1] == f"Factory failed - IX-19 (run r19): {run.error.message}\n{figures} · {link}"
    assert run.notifications[-1] == (
        f"Factory failed - IX-19 (run r19): {run.error.message}\n{figures} · PR #7 {url}"
    )


def test_results_without_figures_leave_them_out_and_the_notice_goes_out(tmp_path: Path) -> None:
    """An implement result from before the figures (no times, no agent), a review result with a cost
    and no times: what is missing is left out of the line and of the total, and nothing fails."""
    old_implement = json.dumps({"schema_version": 1, "status": "done", "detail": ""}).encode()
    review = json.loads(reviewed())
    del review["started_at"], review["finished_at"]
    written = {"implement": old_implement, "review": json.dumps(review).encode(), "e2e": verified()}
    run, texts = run_phases(tmp_path, written)
    assert run.error is None, run.error
    assert texts[-1] == (
        "Factory completed - IX-19 (run r19)\n"
        f"review $0.30 · e2e 55s $0.08 · total 55s $0.38 · <{PULL}|PR #7>"
    )
