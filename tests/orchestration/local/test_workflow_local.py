"""orchestration/factory.yaml on the local engine: the chain, its failures, and its three input shapes.

The jobs run for real (subprocesses, the real CLI against the offline model); only the cloud APIs are
local stand-ins. Covers RELIABILITY B1 (a failing phase stops the chain and notifies "failed") and B2
(a job past its timeout is stopped, never run a second time), and (issue 19) the time and cost of each
phase and the pull request in the "completed" and "failed" notices, checked against the result.json
files the jobs wrote.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jobs.artifacts import DirectoryStore, open_store
from jobs.faults import CRASH_ENV
from jobs.phases.registry import get_phase
from jobs.report.facts import phase_cost, phase_seconds
from jobs.serving import free_port
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError, WorkflowSyntaxError
from orchestration.engine.executor import Executor
from orchestration.engine.loader import load_workflow
from orchestration.engine.stdlib import make_functions
from orchestration.local.connectors import DELETE_OBJECT, GET_OBJECT, LocalCloud
from orchestration.local.connectors import run_subprocess as run_job_subprocess
from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.remote import seed_bare_remote
from orchestration.local.run import LocalRun, run_workflow, workflow_env
from orchestration.local.stack import local_job_env
from orchestration.receiver.locks import lock_record as receiver_lock_record
from tests.conftest import git, processes_matching
from tests.phase_jobs import TICKETS, job_env


def run(
    argument: Any,
    remote: Path,
    tmp: Path,
    model_auth: dict[str, str],
    run_id: str,
    tickets: Path = TICKETS,
    **kw: Any,
) -> LocalRun:
    env = {
        **local_job_env(
            "unused", remote, tmp / "artifacts", run_id, workdir=tmp / "work" / run_id, tickets_dir=tickets
        ),
        "KILL_GRACE_SECONDS": "1",
        **model_auth,
    }
    lines: list[str] = []
    result = run_workflow(argument, run_id, env, open_store(str(tmp / "artifacts")), say=lines.append, **kw)
    result.notifications.extend(f"progress: {line}" for line in lines if line.startswith("== workflow"))
    return result


def events(run: LocalRun) -> list[str]:
    """The notify events the run sent, in order ("Factory started - ..." -> "started")."""
    return [text.split(" ")[1] for text in run.notifications if text.startswith("Factory ")]


def notices(run: LocalRun, event: str) -> list[str]:
    """The whole text of the run's ``event`` notices, as the console (Slack's local stand-in) shows them."""
    return [text for text in run.notifications if text.startswith(f"Factory {event} - ")]


def figures_line(run_dir: Path, phases: Sequence[str]) -> str:
    """What the notices must say of ``phases``, worked out here from the result.json files the jobs wrote,
    with the figures the run's report shows (jobs/report/facts.py): each phase's whole seconds from
    started_at to finished_at and its agents' dollars to the cent, then the total of the unrounded ones."""
    results = [
        get_phase(p).load_result().model_validate_json((run_dir / p / "result.json").read_text())
        for p in phases
    ]
    seconds = [phase_seconds(result) for result in results]
    usd = [phase_cost(result) for result in results]
    parts = [f"{p} {took(s)} {dollars(d)}" for p, s, d in zip(phases, seconds, usd, strict=True)]
    if len(parts) > 1:
        parts.append(f"total {took(sum(seconds))} {dollars(sum(usd))}")
    return " · ".join(parts)


def took(seconds: float) -> str:
    whole = math.floor(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def dollars(usd: float) -> str:
    cents = math.floor(usd * 100 + 0.5)
    return f"${cents // 100}.{cents % 100:02d}"


def test_the_workflow_file_loads_and_names_what_it_needs() -> None:
    connectors = LocalCloud({}, open_store("/tmp/unused"), {}).connectors()
    workflow = load_workflow(FACTORY_YAML.read_text(), "factory.yaml", connectors=connectors)
    assert set(workflow.subworkflows) == {
        "main",
        "solve_ticket",
        "normalize_input",
        "run_phase",
        "release_lock",
        "claim_ticket",
        "drop_stale_lock",
        "notify",
        "phase_failure",
        "one_line",
        "slack_post",
        "slack_error_text",
        "phase_figures",
        "ran_phases",
        "figures_line",
        "duration_text",
        "money_text",
        "solve_night",
        "review_and_verify",
        "onboard_client",
        "tell_accuracy",
    }
    with pytest.raises(WorkflowSyntaxError, match=r"factory\.yaml:\d+: .*googleapis\.run\.v2"):
        load_workflow(
            FACTORY_YAML.read_text(),
            "factory.yaml",
            connectors=set(connectors) - {"googleapis.run.v2.projects.locations.jobs.run"},
        )


def test_a_failing_phase_stops_the_chain_and_notifies_failed(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """B1: the implement job fails (no such ticket): review and e2e never start; Slack hears 'failed'.
    The receiver's lock on the ticket is released all the same."""
    store = open_store(str(tmp_path / "artifacts"))
    store.write_bytes("receiver/locks/IX-999", lock_record("IX-999"), if_absent=True)
    argument = {"job": "solve-linear-ticket", "ticket": "IX-999", "delivery": "d-1"}
    result = run(argument, remote, tmp_path, model_auth, "b1")
    assert result.error is not None and "OperationError" in result.error.tags
    assert not store.exists("receiver/locks/IX-999")
    assert events(result) == ["started", "failed"]
    progress = [
        t.removeprefix("progress: == workflow: ") for t in result.notifications if t.startswith("progress")
    ]
    # The execution's error and the progress line say the phase's own reason (issue 14, item 22).
    reason = f"implement ended failed: no ticket file {TICKETS}/IX-999.md"
    assert result.error.message == reason
    assert progress[0] == "implement ..." and progress[1].startswith(f"implement failed: {reason} (")
    assert len(progress) == 2
    phases = [p.name for p in (tmp_path / "artifacts" / "runs" / "b1").iterdir() if p.is_dir()]
    print(f"\nB1 later phases started: {len([p for p in phases if p != 'implement'])}")
    assert phases == ["implement"]  # later phases started [0]
    implement = json.loads((tmp_path / "artifacts" / "runs" / "b1" / "implement" / "result.json").read_text())
    assert implement["status"] == "failed" and "IX-999" in implement["detail"]
    # The notice tells what ran: implement, its time as its result.json has it, and no agent's cost.
    figures = figures_line(tmp_path / "artifacts" / "runs" / "b1", ["implement"])
    assert figures.endswith(" $0.00")
    assert notices(result, "failed") == [f"Factory failed - IX-999 (run b1): {reason}\n{figures}"]


def test_a_job_past_its_timeout_is_stopped_and_never_run_again(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """B2: the connector's wait ends at the task timeout; the job is stopped; no second agent starts."""
    executions: list[str] = []  # every job the connector ran, as the default subprocess runner

    def counted(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        executions.append(phase)
        return run_job_subprocess(phase, env, timeout)

    result = run(
        {"job": "solve-linear-ticket", "ticket": "IX-920"},
        remote,
        tmp_path,
        model_auth,
        "b2",
        job_timeout=4,
        runner=counted,
    )
    print(f"\nB2 executions for IX-920: {len(executions)} ({', '.join(executions)})")
    assert result.error is not None and "OperationError" in result.error.tags
    # Its result.json says why, and so does the execution's error (issue 14, item 22).
    assert result.error.message == (
        "implement ended failed: the job received SIGTERM (its task timeout, or a cancel) and stopped"
    )
    assert events(result) == ["started", "failed"]
    implement = json.loads((tmp_path / "artifacts" / "runs" / "b2" / "implement" / "result.json").read_text())
    assert implement["status"] == "failed" and "SIGTERM" in implement["detail"]
    assert processes_matching("Ticket: IX-920") == []  # the agent went with the job
    assert git(
        "--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads"
    ).split() == ["main"]


def test_a_job_killed_outright_leaves_no_box_tree_behind(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job SIGKILLed (here by itself, right after its clone: jobs/faults.py) cannot remove its box's
    tree; the directory run_subprocess gave it for its boxes goes with it, as a Cloud Run task's
    filesystem does."""
    scratch = Path(tempfile.mkdtemp(prefix="factory-test-tmp-"))
    scratch.chmod(0o711)  # the box's uid passes through the temp directory to its box
    try:
        monkeypatch.setenv("TMPDIR", str(scratch))  # the job's temp directory, and ours:
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        env = {**job_env("IX-101", remote, tmp_path, model_auth, "k1"), CRASH_ENV: "implement:clone"}
        assert run_job_subprocess("implement", env, 120) == -signal.SIGKILL
        trees = ("factory-box-", "factory-task-", "factory-agent-")
        assert sorted(p.name for p in scratch.iterdir() if p.name.startswith(trees)) == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def lock_record(ticket: str, delivery: str = "d-1") -> bytes:
    """A lock as the webhook receiver writes it."""
    record = {"delivery": delivery, "ticket_id": f"id-{ticket}", "created_at": "2026-01-01T00:00:00.000Z"}
    return json.dumps(record).encode()


def pubsub_event(payload: dict[str, Any]) -> dict[str, Any]:
    """An Eventarc Pub/Sub event as Workflows receives it: the message data is base64 JSON."""
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return {
        "id": "9f8e7d6c",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/local/topics/factory-tickets",
        "data": {
            "subscription": "projects/local/subscriptions/factory",
            "message": {"data": data, "messageId": "1"},
        },
    }


@pytest.mark.parametrize("shape", ["manual", "eventarc", "scheduler"])
def test_the_three_input_shapes_start_the_same_run(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], shape: str
) -> None:
    """Each shape runs the ticket. The webhook's run (Eventarc, its delivery in the message) releases the
    lock the receiver took for it; a manual or scheduled run claims the ticket's lock itself and
    releases it at the end. Other tickets' locks stay whatever the shape."""
    request = {"job": "solve-linear-ticket", "ticket": "IX-103"}
    argument = {
        "manual": request,  # gcloud workflows run factory --data='{"job": ..., "ticket": ...}'
        "eventarc": pubsub_event({**request, "ticket_id": "id-IX-103", "delivery": "d-1"}),  # the receiver's
        "scheduler": {**request, "schedule": "nightly"},  # Cloud Scheduler's argument, decoded
    }[shape]
    store = open_store(str(tmp_path / "artifacts"))
    if shape == "eventarc":
        store.write_bytes("receiver/locks/IX-103", lock_record("IX-103", "d-1"), if_absent=True)
    store.write_bytes("receiver/locks/IX-104", lock_record("IX-104", "d-1"), if_absent=True)
    result = run(argument, remote, tmp_path, model_auth, "shape")
    assert result.error is None, result.error
    assert result.result == {"run_id": "shape", "implement": "no_changes"}
    assert events(result) == ["started", "completed"]
    assert store.list("receiver/locks/") == ["receiver/locks/IX-104"]


def test_a_second_start_of_a_ticket_being_worked_on_changes_nothing(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """Issue 14, item 15: two manual starts of one ticket ran every phase on the same branch at once.
    The workflow now claims the ticket itself (create-if-absent, GCS's ifGenerationMatch 0): a start
    while another run holds it stops before any job with AlreadyRunning, and leaves that lock alone;
    once the lock is gone, the next start runs and releases its own claim."""
    store = open_store(str(tmp_path / "artifacts"))
    held = receiver_lock_record("run:first-execution", "", int(time.time() * 1000))  # taken just now
    store.write_bytes("receiver/locks/IX-103", held, if_absent=True)
    second = run({"job": "solve-linear-ticket", "ticket": "IX-103"}, remote, tmp_path, model_auth, "second")
    assert second.error is not None and second.error.tags == ["AlreadyRunning"]
    assert "IX-103 is being worked on by another run" in second.error.message
    assert events(second) == ["failed"]  # told, and nothing started
    assert store.read_bytes("receiver/locks/IX-103") == held
    assert git("--git-dir", str(remote), "branch", "--list", "factory/*").strip() == ""
    store.delete("receiver/locks/IX-103")  # the first run ended
    third = run({"job": "solve-linear-ticket", "ticket": "IX-103"}, remote, tmp_path, model_auth, "third")
    assert third.error is None, third.error
    assert store.list("receiver/locks/") == []  # claimed for the run, released after it
    # A lock older than any run can take is a dead run's: taken over, and released after this run.
    dead = {"delivery": "run:died", "ticket_id": "", "created_at": "2000-01-01T00:00:00.000Z"}
    store.write_bytes("receiver/locks/IX-103", json.dumps(dead).encode(), if_absent=True)
    fourth = run({"job": "solve-linear-ticket", "ticket": "IX-103"}, remote, tmp_path, model_auth, "fourth")
    assert fourth.error is None, fourth.error
    assert store.list("receiver/locks/") == []


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"job": "onboard-client"}, "onboard-client needs a client (its domain, e.g. acme-shop.example)"),
        (
            {"job": "onboard-client", "client": "acme-shop.example", "mode": "all"},
            "unknown onboarding mode all (full, eval-only or update-skills)",
        ),
        ({"job": "deploy-everything"}, "unknown job deploy-everything"),
    ],
)
def test_bad_input_is_refused_before_any_job(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], argument: dict[str, str], message: str
) -> None:
    result = run(argument, remote, tmp_path, model_auth, "bad-input")
    assert result.error is not None
    assert result.error.as_value() == {"code": 400, "tags": ["ValueError"], "message": message}
    assert events(result) == ["failed"]
    assert not (tmp_path / "artifacts" / "runs").exists()


def test_an_onboard_job_that_fails_after_its_evals_still_tells_their_figures(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """The job failed (exit 1) after the baseline and one round: Slack is told both figures, then the
    failure in the job's own words; nothing is reviewed."""
    said = [
        "baseline: tuning 50% (5/10), held-out 40% (2/5)",
        "round 1 kept: tuning 70% (7/10), held-out 60% (3/5)",
    ]
    store = open_store(str(tmp_path / "artifacts"))
    held_while_running: list[str] = []

    def onboard_fails(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        assert phase == "onboard", phase
        held_while_running.extend(store.list("receiver/locks/"))
        result = tmp_path / "artifacts" / "runs" / env["RUN_ID"] / "onboard" / "result.json"
        result.parent.mkdir(parents=True, exist_ok=True)
        result.write_text(
            json.dumps({"status": "failed", "detail": "the eval crashed in round 2", "notices": said})
        )
        return 1

    argument = {"job": "onboard-client", "client": "acme-shop.example", "mode": "full"}
    failed = run(argument, remote, tmp_path, model_auth, "onb-fails", runner=onboard_fails)
    assert failed.error is not None and "the eval crashed in round 2" in failed.error.message
    assert events(failed) == ["started", "accuracy", "accuracy", "failed"]
    assert [text.split(": ", 1)[1] for text in notices(failed, "accuracy")] == said
    assert held_while_running == ["receiver/locks/onboard-acme-shop.example"]  # claimed for the job
    assert store.list("receiver/locks/") == []  # and released after its failure


def test_a_missing_slack_secret_never_fails_the_run(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """F1: the webhook's secret cannot be read (not in Secret Manager): the run goes on, the log says why."""
    result = run(
        {"job": "solve-linear-ticket", "ticket": "IX-103"},
        remote,
        tmp_path,
        model_auth,
        "f1",
        slack_webhook="x",
    )
    assert result.error is None and result.result == {"run_id": "f1", "implement": "no_changes"}
    failures = [text for text in result.notifications if text.startswith("Slack notification failed")]
    assert len(failures) == 2  # started and completed were both attempted


@pytest.mark.parametrize("answer", [400, None])
def test_a_failed_slack_post_says_its_status_never_the_webhook_url(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], answer: int | None
) -> None:
    """F1 and issue 13, item 7: Slack answering 400 (invalid_payload), or not at all: the run goes on, and
    the log line names the error, the status and Slack's reason (issue 14, item 14); a refused connection
    is retried twice (2 s, then 4 s) first. The webhook URL (a secret) appears nowhere."""
    secret = "canarySLACKsecret0007"
    failed = "Slack notification failed (the run goes on): "
    waits: list[float] = []
    if answer is None:
        url = f"http://127.0.0.1:{free_port()}/services/T0/B0/{secret}"  # nothing listens there
        expected = f"{failed}ConnectionFailedError, HTTP status none; gave up after 2 retries"
        result = run({"job": "solve-linear-ticket", "ticket": "IX-103"}, remote, tmp_path, model_auth, "f1",
                     slack_webhook=url, sleep=waits.append)  # fmt: skip
    else:
        with slack_answering(answer) as base:
            url = f"{base}/services/T0/B0/{secret}"
            expected = f"{failed}HttpError, HTTP status {answer}: invalid_payload"
            result = run({"job": "solve-linear-ticket", "ticket": "IX-103"}, remote, tmp_path, model_auth,
                         "f1", slack_webhook=url, sleep=waits.append)  # fmt: skip
    assert result.error is None
    failures = [text for text in result.notifications if text.startswith("Slack notification failed")]
    assert failures == [expected, expected]  # started and completed
    assert waits == ([2.0, 4.0, 2.0, 4.0] if answer is None else [])  # a 400 is not retried
    assert not [text for text in result.notifications if secret in text]


@contextmanager
def slack_answering(status: int, texts: list[str] | None = None) -> Iterator[str]:
    """A loopback stand-in for Slack's incoming webhook answering ``status`` with Slack's error body
    ("ok" for 200); the text of each message it gets goes to ``texts``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            message = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if texts is not None:
                texts.append(message["text"])
            body = b"ok" if status == 200 else b"invalid_payload"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def release(
    store: DirectoryStore,
    request: dict[str, str],
    prefix: str = "",
    fail: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[Any, list[tuple[str, dict[str, Any]]], list[str]]:
    """Run factory.yaml's release_lock subworkflow alone against the local storage connectors over
    ``store``; ``fail(connector, args)`` may raise before a call reaches them."""
    calls: list[tuple[str, dict[str, Any]]] = []
    logged: list[str] = []
    real = LocalCloud({}, store, {}).connectors()

    def wrap(name: str) -> Callable[[dict[str, Any]], Any]:
        def connector(args: dict[str, Any]) -> Any:
            calls.append((name.rsplit(".", 1)[-1], args))
            if fail is not None:
                fail(name, args)
            return real[name](args)

        return connector

    connectors = {**real, GET_OBJECT: wrap(GET_OBJECT), DELETE_OBJECT: wrap(DELETE_OBJECT)}
    workflow = load_workflow(FACTORY_YAML.read_text(), "factory.yaml", connectors=connectors)
    env = {
        **workflow_env("x", 60, False),
        "FACTORY_ARTIFACT_BUCKET": "bkt",
        "FACTORY_ARTIFACT_PREFIX": prefix,
    }
    executor = Executor(
        workflow, connectors, make_functions(env, time.time), log_sink=lambda _s, text: logged.append(text)
    )
    # The request as normalize_input shapes it: the lock is the ticket's.
    shaped = {"job": "j", "run_id": "x", "lock": request.get("ticket", ""), **request}
    outcome = executor.call_subworkflow("release_lock", {"request": shaped})
    return outcome, calls, logged


def test_release_lock_deletes_only_the_lock_its_delivery_owns(tmp_path: Path) -> None:
    root = DirectoryStore(tmp_path / "bucket")
    store = DirectoryStore(tmp_path / "bucket" / "team" / "factory")  # FACTORY_ARTIFACT_PREFIX team/factory
    store.write_bytes("receiver/locks/IX-5", lock_record("IX-5", "d-5"))
    generation = store.read_versioned("receiver/locks/IX-5").version
    name = "team%2Ffactory%2Freceiver%2Flocks%2FIX-5"
    outcome, calls, _ = release(root, {"ticket": "IX-5", "delivery": "d-5"}, prefix="team/factory")
    assert outcome == "released" and not store.exists("receiver/locks/IX-5")
    assert calls == [
        ("get", {"bucket": "bkt", "object": name}),
        ("get", {"bucket": "bkt", "object": name, "alt": "media", "ifGenerationMatch": generation}),
        ("delete", {"bucket": "bkt", "object": name, "ifGenerationMatch": generation}),
    ]
    # No lock any more: not ours to release, and not an error.
    assert release(root, {"ticket": "IX-5", "delivery": "d-5"}, prefix="team/factory")[0] == "not ours"
    # A newer delivery took the ticket over: this run's release leaves that lock alone.
    store.write_bytes("receiver/locks/IX-6", lock_record("IX-6", "d-newer"))
    outcome, calls, _ = release(root, {"ticket": "IX-6", "delivery": "d-old"}, prefix="team/factory")
    assert outcome == "not ours" and store.exists("receiver/locks/IX-6")
    assert [call for call, _ in calls] == ["get", "get"]
    # Runs with no delivery (manual, scheduled) or no ticket release nothing and read nothing.
    for request in ({"ticket": "IX-6", "delivery": ""}, {"ticket": "IX-6"}, {"ticket": "", "delivery": "d"}):
        outcome, calls, _ = release(root, request, prefix="team/factory")
        assert outcome == "no lock of this run" and calls == []
    assert store.exists("receiver/locks/IX-6")


def test_release_lock_never_deletes_a_lock_that_changed_after_it_was_read(tmp_path: Path) -> None:
    """Taken over between the read and the delete: the delete's ifGenerationMatch fails (412), it stays."""
    store = DirectoryStore(tmp_path / "bucket")
    store.write_bytes("receiver/locks/IX-7", lock_record("IX-7", "d-7"))

    def take_over(name: str, args: dict[str, Any]) -> None:
        if name == DELETE_OBJECT:
            current = store.read_versioned("receiver/locks/IX-7")
            store.replace_if_version("receiver/locks/IX-7", lock_record("IX-7", "d-8"), current.version)

    outcome, calls, _ = release(store, {"ticket": "IX-7", "delivery": "d-7"}, fail=take_over)
    assert outcome == "not ours" and [call for call, _ in calls] == ["get", "get", "delete"]
    assert json.loads(store.read_bytes("receiver/locks/IX-7"))["delivery"] == "d-8"


def test_release_lock_logs_other_failures_and_keeps_the_run_s_outcome(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "bucket")
    store.write_bytes("receiver/locks/IX-9", lock_record("IX-9", "d-9"))

    def forbidden(name: str, args: dict[str, Any]) -> None:
        if name == DELETE_OBJECT:
            raise WorkflowError(["HttpError"], "caller lacks storage.objects.delete", code=403)

    outcome, _, logged = release(store, {"ticket": "IX-9", "delivery": "d-9"}, fail=forbidden)
    assert outcome == "kept" and store.exists("receiver/locks/IX-9")
    assert logged == ["could not release the lock of IX-9: caller lacks storage.objects.delete"]
    store.write_bytes("receiver/locks/IX-9", b"not a lock record")
    outcome, _, logged = release(store, {"ticket": "IX-9", "delivery": "d-9"})
    assert outcome == "kept" and store.exists("receiver/locks/IX-9")
    assert logged[0].startswith("could not release the lock of IX-9: json.decode: invalid JSON")


# --- Each phase's time and cost, and the pull request, in the notices (issue 19) ----------------------


@dataclass(frozen=True)
class Greeter:
    """A repository of one's own with no browser check configured, its ticket, and an offline model that
    plays its implement and review: a whole run (implement, review, e2e-verify skipped) in seconds."""

    remote: Path
    tickets: Path
    model_auth: dict[str, str]


GREETER_SCENARIOS = {
    "implement-GR-1.yaml": """\
name: implement-GR-1
match: ["Phase: implement", "Ticket: GR-1"]
turns:
  - tool_uses:
      - name: Edit
        input:
          file_path: "{{workspace}}/greet.py"
          old_string: 'return f"Hello, {name}"'
          new_string: 'return f"Hello, {name}!"'
  - text: "greet() now ends with an exclamation mark."
""",
    "review-GR-1.yaml": """\
name: review-GR-1
match: ["Phase: review", "Ticket: GR-1"]
turns:
  - text: >-
      {"scores": {"correctness": 5, "code_quality": 5, "test_coverage": 4, "type_safety": 5,
      "security": 5, "documentation": 4}, "summary": "The greeting ends with !.", "issues": []}
""",
}


@pytest.fixture
def greeter(tmp_path: Path) -> Iterator[Greeter]:
    source = tmp_path / "greeter"
    source.mkdir()
    (source / "greet.py").write_text('def greet(name: str) -> str:\n    return f"Hello, {name}"\n')
    (source / ".factory.yaml").write_text("test: python3 -m py_compile greet.py\n")
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "GR-1.md").write_text(
        "---\nidentifier: GR-1\ntitle: Greet with an exclamation mark\nlabels: [factory]\nstate: Todo\n---\n"
        "`greet` returns `Hello, NAME!`.\n"
    )
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name, text in GREETER_SCENARIOS.items():
        (scenarios / name).write_text(text)
    with OfflineModelServer(ScenarioBook.load(scenarios)) as model:
        yield Greeter(seed_bare_remote(source, tmp_path / "greeter.git"), tickets, offline_env(model))


def pull_request(run_dir: Path) -> tuple[int, str]:
    pull = json.loads((run_dir / "review" / "result.json").read_text())["pull_request"]
    return pull["number"], pull["url"]


def test_the_completed_notice_tells_each_phase_s_time_and_cost_and_links_the_pull_request(
    tmp_path: Path, greeter: Greeter
) -> None:
    """A real run: the last notice's second line has each phase's time and cost as its result.json
    says, their total, and the pull request: "PR #1 <url>" on the console, Slack's link form
    "<url|PR #1>" in the message Slack gets."""
    texts: list[str] = []
    with slack_answering(200, texts) as base:
        result = run({"job": "solve-linear-ticket", "ticket": "GR-1"}, greeter.remote, tmp_path,
                     greeter.model_auth, "gr", tickets=greeter.tickets,
                     slack_webhook=f"{base}/services/T0/B0/x")  # fmt: skip
    assert result.error is None, result.error
    run_dir = tmp_path / "artifacts" / "runs" / "gr"
    figures = figures_line(run_dir, ["implement", "review", "e2e"])
    number, url = pull_request(run_dir)
    assert result.result["pull_request"] == url
    said = (
        "Factory completed - GR-1 (run gr): not verified in a browser (e2e-verify skipped: "
        "the repository's .factory.yaml configures no e2e servers and pages)"
    )
    assert notices(result, "completed") == [f"{said}\n{figures} · PR #{number} {url}"]
    assert texts[-1] == f"{said}\n{figures} · <{url}|PR #{number}>"
    # The offline model's answers have a price: the figures are not all nothing.
    assert not figures.startswith("implement 0s $0.00")


@pytest.mark.parametrize("e2e", ["wrote its result", "died first"])
def test_the_failed_notice_tells_the_phases_that_ran(tmp_path: Path, greeter: Greeter, e2e: str) -> None:
    """implement and review ran for real and opened the PR; then the e2e job fails (exit 1), after
    writing its result.json or before. The notice lists what ran with the result.json files' figures,
    the failing phase when it wrote one, and the pull request."""

    def e2e_fails(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        if phase != "e2e":
            return run_job_subprocess(phase, env, timeout)
        if e2e == "wrote its result":
            run_job_subprocess(phase, env, timeout)
        return 1

    texts: list[str] = []
    with slack_answering(200, texts) as base:
        result = run({"job": "solve-linear-ticket", "ticket": "GR-1"}, greeter.remote, tmp_path,
                     greeter.model_auth, "grf", tickets=greeter.tickets, runner=e2e_fails,
                     slack_webhook=f"{base}/services/T0/B0/x")  # fmt: skip
    assert result.error is not None and result.error.tags == ["OperationError"]
    run_dir = tmp_path / "artifacts" / "runs" / "grf"
    ran = ["implement", "review", "e2e"] if e2e == "wrote its result" else ["implement", "review"]
    assert (run_dir / "e2e" / "result.json").exists() == ("e2e" in ran)
    figures = figures_line(run_dir, ran)
    number, url = pull_request(run_dir)
    said = f"Factory failed - GR-1 (run grf): {result.error.message}"
    assert notices(result, "failed") == [f"{said}\n{figures} · PR #{number} {url}"]
    assert texts[-1] == f"{said}\n{figures} · <{url}|PR #{number}>"
