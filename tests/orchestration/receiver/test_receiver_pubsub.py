"""The receiver's Pub/Sub side, with the real google-cloud-pubsub client.

- Against the gcloud Pub/Sub emulator (Java; skipped where it or java is absent): the publisher returns
  message ids and names errors by outcome; and the whole chain — a signed Linear webhook, the real
  receiver process (``python -m orchestration.receiver``), the emulator topic, a push subscription to the
  local Eventarc bridge, the local Workflows Executions API — starts exactly one execution for three
  deliveries of one webhook, whose argument factory.yaml's ``normalize_input`` turns into the ticket.
- Against a port that accepts connections and never answers (no emulator needed): a slow Pub/Sub costs
  each acknowledgement the synchronous deadline at most (A4 on the production path), and a publish that
  finally times out keeps the start (the message may have landed); a definitive refusal (the missing
  topic, against the emulator) undoes it so that the ticket can be triggered again.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import math
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from jobs.artifacts import DirectoryStore
from jobs.errors import ServiceError
from jobs.serving import PortTaken, free_port, on_a_free_port
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError
from orchestration.engine.executor import Executor
from orchestration.engine.loader import load_workflow
from orchestration.engine.stdlib import make_functions
from orchestration.local.connectors import LocalCloud
from orchestration.local.eventarc import EventarcBridge, cloud_event
from orchestration.local.run import workflow_env
from orchestration.receiver import BackgroundPublisher, Receiver, ReceiverServer, TriggerConfig, sign
from orchestration.receiver.pubsub import PubSubPublisher
from tests.conftest import stop_process
from tests.fakes.executions import FakeStart, serving
from tests.orchestration.receiver.test_receiver import BODY_CANARY, LABEL_ID, SECRET, issue
from tests.orchestration.receiver.test_receiver_service import start_process

EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
PROJECT = "local"
TOPIC = f"projects/{PROJECT}/topics/factory-tickets"
WORKFLOW = f"projects/{PROJECT}/locations/local/workflows/factory"


def start_emulator(folder: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    """The emulator on ``port`` once it answers; PortTaken (it is stopped) when it lost the port to
    another process, as its log says. Skips when it cannot start at all."""
    log_path = folder / f"emulator-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(EMULATOR), "--host=127.0.0.1", f"--port={port}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.skip(f"the Pub/Sub emulator exited: {log_path.read_text(errors='replace')[-300:]}")
        if "java.net.BindException" in log_path.read_text(errors="replace"):
            stop_process(proc, grace=10)
            raise PortTaken(f"the Pub/Sub emulator lost port {port}: see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as resp:
                if resp.status == 200:
                    return proc, port
        except (OSError, http.client.HTTPException):  # not listening yet, or not yet on HTTP/1
            if time.monotonic() > deadline:
                stop_process(proc, grace=10)
                pytest.skip("the Pub/Sub emulator did not answer within 30 s")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a running Pub/Sub emulator (its own launcher, in-memory); always stopped."""
    if not EMULATOR.is_file() or shutil.which("java") is None:
        pytest.skip("the gcloud Pub/Sub emulator or java is not installed")
    proc, port = on_a_free_port(functools.partial(start_emulator, tmp_path_factory.mktemp("pubsub")))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(proc, grace=10)


@pytest.fixture
def emulator_env(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    return pubsub_emulator


def test_the_publisher_returns_message_ids_and_names_errors_by_outcome(
    emulator_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = pubsub_v1.PublisherClient()
    topic = f"projects/{PROJECT}/topics/publisher-{time.monotonic_ns()}"
    client.create_topic(name=topic)
    subscriber = pubsub_v1.SubscriberClient()
    subscription = f"projects/{PROJECT}/subscriptions/pull-{time.monotonic_ns()}"
    subscriber.create_subscription(name=subscription, topic=topic)

    publisher = PubSubPublisher(topic)
    first, second = publisher.publish(b'{"ticket": "IX-1"}'), publisher.publish(b'{"ticket": "IX-2"}')
    assert first.isdigit() and second.isdigit() and first != second
    pulled = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
    assert sorted(m.message.data for m in pulled.received_messages) == [
        b'{"ticket": "IX-1"}',
        b'{"ticket": "IX-2"}',
    ]
    assert {m.message.message_id for m in pulled.received_messages} == {first, second}

    caplog.set_level(logging.INFO)
    missing = PubSubPublisher(f"projects/{PROJECT}/topics/no-such-topic")
    with pytest.raises(ServiceError) as caught:
        missing.publish(json.dumps({"ticket": BODY_CANARY}).encode())
    assert caught.value.status == 404 and not caught.value.retryable
    assert "NotFound (HTTP 404)" in caplog.text
    assert BODY_CANARY not in caplog.text and BODY_CANARY not in str(caught.value)
    publisher.close()
    missing.close()


def test_a_refused_publish_undoes_the_start_and_linear_s_retry_starts_the_run(
    emulator_env: str, tmp_path: Path
) -> None:
    """Pub/Sub says no within the deadline (the topic is missing): 503, nothing kept; the retry works."""
    topic = f"projects/{PROJECT}/topics/late-{time.monotonic_ns()}"
    store = DirectoryStore(tmp_path / "artifacts")
    background = BackgroundPublisher(PubSubPublisher(topic), deadline=2.0)
    receiver = Receiver(
        secret=SECRET, store=store, publisher=background, triggers=TriggerConfig(label=LABEL_ID)
    )
    body = json.dumps(issue("IX-7", previous_labels=[], ts=int(time.time() * 1000))).encode()
    headers = {"Linear-Signature": sign(SECRET, body), "Linear-Delivery": "d-7"}
    with ReceiverServer(receiver) as server, httpx.Client() as http:
        refused = http.post(server.url, content=body, headers={**headers, "Content-Type": "application/json"})
        assert (refused.status_code, refused.json()) == (503, {"status": "publish failed"})
        assert store.list() == []  # neither the delivery record nor the lock stayed
        pubsub_v1.PublisherClient().create_topic(name=topic)
        retried = http.post(server.url, content=body, headers={**headers, "Content-Type": "application/json"})
        assert (retried.status_code, retried.json()) == (200, {"status": "started"})
    assert store.list() == ["receiver/deliveries/d-7", "receiver/locks/IX-7"]
    assert (background.published, background.failures) == (1, 1)
    background.close(1)


def _receiver_process(tmp_path: Path, emulator: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m orchestration.receiver`` on a free loopback port, publishing to the emulator."""
    env = {
        "PUBSUB_EMULATOR_HOST": emulator,
        "LINEAR_WEBHOOK_SECRET": SECRET.get_secret_value(),
        "FACTORY_TRIGGER_LABEL": "Factory",
        "FACTORY_LINEAR_TEAM": "ENG",
        "FACTORY_PUBSUB_TOPIC": TOPIC,
        "ARTIFACTS_PREFIX": str(tmp_path / "artifacts"),
        "PORT": "0",
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "text",
    }
    return start_process(env)


def normalized(argument: Any) -> Any:
    """factory.yaml's own normalize_input, run on the local engine, applied to an execution argument."""
    connectors = LocalCloud({}, DirectoryStore(Path("/nonexistent")), {}).connectors()
    workflow = load_workflow(FACTORY_YAML.read_text(), "factory.yaml", connectors=connectors)
    executor = Executor(workflow, connectors, make_functions(workflow_env("exec-1", 60, False), time.time))
    return executor.call_subworkflow("normalize_input", {"input": argument})


def test_a_webhook_reaches_the_workflow_once_through_pubsub_and_eventarc(
    emulator_env: str, tmp_path: Path
) -> None:
    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(name=TOPIC)
    start = FakeStart(
        lambda _argument: "ok", lambda execution_id: {"run_id": execution_id}, WorkflowError([], "")
    )
    receiver, url = _receiver_process(tmp_path, emulator_env)
    try:
        with serving(start) as executions, EventarcBridge(WORKFLOW, TOPIC, executions.base_url) as bridge:
            pubsub_v1.SubscriberClient().create_subscription(
                name=f"projects/{PROJECT}/subscriptions/factory-eventarc",
                topic=TOPIC,
                push_config={"push_endpoint": bridge.push_endpoint},
            )
            body = json.dumps(issue("ENG-42", previous_labels=[], ts=int(time.time() * 1000))).encode()
            headers = {
                "Content-Type": "application/json",
                "Linear-Signature": sign(SECRET, body),
                "Linear-Delivery": "3f1c2a9e-delivery",
            }
            sent = time.perf_counter()
            with httpx.Client(timeout=10) as http:
                answers = [http.post(url, content=body, headers=headers).json()["status"] for _ in range(3)]
            while not start.calls and time.perf_counter() - sent < 20:
                time.sleep(0.005)
            first_execution = time.perf_counter() - sent
            time.sleep(1.0)  # room for any redelivery or second message to arrive
            listing = httpx.get(
                f"{executions.base_url}v1/{WORKFLOW}/executions", params={"view": "FULL"}
            ).json()
    finally:
        receiver.terminate()
        exit_code = receiver.wait(timeout=20)
        log = receiver.stderr.read() if receiver.stderr else ""

    runs = listing.get("executions", [])
    print(
        f"\nchain: deliveries 3 (answers {answers}), executions {len(runs)}, "
        f"webhook -> execution {first_execution * 1000:.0f} ms"
    )
    assert answers == ["started", "duplicate", "duplicate"]
    assert len(runs) == 1 and bridge.created == [runs[0]["name"]] and bridge.dropped == 0
    event = json.loads(runs[0]["argument"])
    assert event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert event["source"] == f"//pubsub.googleapis.com/{TOPIC}"
    assert event["data"]["subscription"] == f"projects/{PROJECT}/subscriptions/factory-eventarc"
    message = json.loads(base64.b64decode(event["data"]["message"]["data"]))
    assert message == {
        "job": "solve-linear-ticket",
        "ticket": "ENG-42",
        "ticket_id": "id-ENG-42",
        "delivery": "3f1c2a9e-delivery",
    }
    request = normalized(event)
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}", request.pop("night")
    )  # the day it started: a ticket's run ignores it
    assert request == {
        "job": "solve-linear-ticket",
        "ticket": "ENG-42",
        "delivery": "3f1c2a9e-delivery",
        "run_id": "exec-1",
        "report_only": "",
        "client": "",  # an onboarding's client and mode: a ticket's run has the defaults
        "mode": "full",
        "lock": "ENG-42",  # the run's lock: the ticket's, the one the receiver took
    }
    assert exit_code == 0, log
    # Published within the synchronous deadline: Pub/Sub had the message before Linear got its answer.
    assert "delivery 3f1c2a9e-delivery starts ENG-42 (trigger label added; published)" in log
    assert "stopped: 1 start messages published, 0 failed" in log
    assert SECRET.get_secret_value() not in log and BODY_CANARY not in log


def test_the_bridge_builds_eventarc_s_cloudevent_and_drops_what_is_not_a_push() -> None:
    push = {
        "subscription": "projects/p/subscriptions/s",
        "message": {
            "data": "eyJqb2IiOiAieCJ9",
            "messageId": "17",
            "message_id": "17",
            "publishTime": "2026-01-01T00:00:00.000Z",
            "publish_time": "2026-01-01T00:00:00.000Z",
            "attributes": {"origin": "receiver"},
        },
    }
    assert cloud_event(push, "projects/p/topics/t") == {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/p/topics/t",
        "id": "17",
        "time": "2026-01-01T00:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {
            "subscription": "projects/p/subscriptions/s",
            "message": {
                "data": "eyJqb2IiOiAieCJ9",
                "attributes": {"origin": "receiver"},
                "messageId": "17",
                "publishTime": "2026-01-01T00:00:00.000Z",
            },
        },
    }
    not_a_push: object
    for not_a_push in (
        None,
        [],
        {"message": "x"},
        {"message": {"data": 5, "messageId": "1"}},
        {"message": {}},
    ):
        assert cloud_event(not_a_push, "projects/p/topics/t") is None
    unreachable = EventarcBridge(WORKFLOW, TOPIC, f"http://127.0.0.1:{free_port()}")
    assert unreachable.deliver(json.dumps(push).encode()) == 503  # Pub/Sub will redeliver
    assert unreachable.deliver(b"{not json") == 204 and unreachable.dropped == 1
    unreachable.stop()


def test_the_bridge_starts_one_execution_per_message_id_as_workflows_dedupes_events() -> None:
    """Pub/Sub redelivers (at least once); Workflows dedupes Eventarc events by id, and so does the bridge."""
    created: list[dict[str, Any]] = []

    def executions_api(request: httpx.Request) -> httpx.Response:
        created.append(json.loads(request.content))
        name = f"{WORKFLOW}/executions/e-{len(created)}"
        return httpx.Response(200, json={"name": name, "state": "ACTIVE"})

    def push(message_id: str) -> bytes:
        message = {"data": "eyJqb2IiOiAieCJ9", "messageId": message_id, "publishTime": "2026-01-01T00:00:00Z"}
        return json.dumps({"subscription": "projects/p/subscriptions/s", "message": message}).encode()

    with httpx.Client(transport=httpx.MockTransport(executions_api)) as http:
        bridge = EventarcBridge(WORKFLOW, TOPIC, "http://executions.invalid", http=http)
        statuses = [bridge.deliver(push(message_id)) for message_id in ("1", "1", "2", "1")]
        bridge.stop()
    assert statuses == [204] * 4
    assert bridge.created == [f"{WORKFLOW}/executions/e-1", f"{WORKFLOW}/executions/e-2"]
    assert bridge.duplicates == 2
    assert [json.loads(c["argument"])["id"] for c in created] == ["1", "2"]


@pytest.fixture
def silent_pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Pub/Sub endpoint that accepts connections and never answers: the slowest Pub/Sub there is."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        yield host


def test_a4_a_silent_pubsub_costs_each_ack_the_deadline_and_an_unknown_outcome_keeps_the_lock(
    silent_pubsub: str, tmp_path: Path
) -> None:
    store = DirectoryStore(tmp_path / "artifacts")
    background = BackgroundPublisher(PubSubPublisher(TOPIC, timeout=2.0))  # the default 0.5 s deadline
    receiver = Receiver(
        secret=SECRET, store=store, publisher=background, triggers=TriggerConfig(label=LABEL_ID)
    )
    latencies: list[float] = []
    statuses: list[tuple[int, str]] = []
    barrier = threading.Barrier(50)

    def deliver(number: int, http: httpx.Client, url: str) -> None:
        body = json.dumps(issue(f"SLOW-{number}", previous_labels=[], ts=int(time.time() * 1000))).encode()
        headers = {"Content-Type": "application/json", "Linear-Signature": sign(SECRET, body)}
        barrier.wait()
        started = time.perf_counter()
        response = http.post(url, content=body, headers={**headers, "Linear-Delivery": f"slow-{number}"})
        latencies.append(time.perf_counter() - started)
        statuses.append((response.status_code, response.json()["status"]))

    with ReceiverServer(receiver) as server, httpx.Client(timeout=10) as http:
        threads = [threading.Thread(target=deliver, args=(n, http, server.url)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        locks_while_pending = len(store.list("receiver/locks/"))
        assert background.wait_idle(15)  # each publish gives up after its 2 s timeout
    latencies.sort()
    p99 = latencies[math.ceil(len(latencies) * 0.99) - 1]
    print(
        f"\nA4 (Pub/Sub path): 50 concurrent acks, Pub/Sub never answering: p99 ack {p99 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms (deadline {background.deadline * 1000:.0f} ms)"
    )
    assert statuses == [(200, "started")] * 50
    assert latencies[0] >= background.deadline  # each really waited for Pub/Sub before queueing
    assert latencies[-1] < 5.0 and p99 < 1.0
    assert locks_while_pending == 50
    # Every publish timed out in the end (RetryError): the message may have landed, so nothing is undone;
    # each lock stays until its run releases it or it goes stale, and no second run can start meanwhile.
    assert (background.published, background.failures) == (0, 50)
    assert len(store.list("receiver/locks/")) == 50 and len(store.list("receiver/deliveries/")) == 50
    background.close(1)
