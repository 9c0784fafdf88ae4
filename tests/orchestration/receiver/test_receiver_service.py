"""The receiver as a service: its settings, ``python -m orchestration.receiver`` as a real process (local
publisher), the SIGTERM shutdown that drains the publish queue within its bound, and bad settings → exit 2.
The Pub/Sub wiring is in test_receiver_pubsub.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jobs.errors import ConfigError
from orchestration.receiver import sign
from orchestration.receiver.cli import app as receiver_app
from orchestration.receiver.service import build, serve
from orchestration.receiver.settings import load_receiver_settings
from tests.conftest import ROOT
from tests.orchestration.receiver.test_receiver import BODY_CANARY, LABEL_ID, SECRET, SlowPublisher, issue


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "LINEAR_WEBHOOK_SECRET": SECRET.get_secret_value(),
        "FACTORY_TRIGGER_LABEL": LABEL_ID,
        "FACTORY_LINEAR_TEAM": "ENG",
        "ARTIFACTS_PREFIX": str(tmp_path / "artifacts"),
        "PORT": "0",
        "HOST": "127.0.0.1",
    }


def test_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_receiver_settings(
        {
            **base_env(tmp_path),
            "FACTORY_AGENT_USER_ID": "user-agent",
            "FACTORY_OWN_ACTOR_IDS": " app-1, ,key-user ",
            "FACTORY_PUBSUB_TOPIC": "projects/acme/topics/factory-tickets",
            "UNRELATED": "ignored",
        }
    )
    triggers = settings.triggers()
    assert triggers.label == LABEL_ID and triggers.team == "ENG" and triggers.agent_user_id == "user-agent"
    assert triggers.own_actor_ids == {"app-1", "key-user", "user-agent"}
    assert settings.factory_pubsub_topic == "projects/acme/topics/factory-tickets"
    assert (
        settings.factory_lock_max_age_seconds == 8 * 3600 and settings.factory_publish_deadline_seconds == 0.5
    )
    assert SECRET.get_secret_value() not in repr(settings) + str(settings.model_dump())
    defaults = load_receiver_settings(
        {k: v for k, v in base_env(tmp_path).items() if k not in ("PORT", "HOST")}
    )
    assert (defaults.port, defaults.host, defaults.factory_pubsub_topic) == (8080, "0.0.0.0", "")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"LINEAR_WEBHOOK_SECRET": None}, "LINEAR_WEBHOOK_SECRET"),
        ({"LINEAR_WEBHOOK_SECRET": "  "}, "LINEAR_WEBHOOK_SECRET"),
        ({"FACTORY_TRIGGER_LABEL": None}, "FACTORY_TRIGGER_LABEL"),
        ({"FACTORY_LINEAR_TEAM": None}, "FACTORY_LINEAR_TEAM"),
        ({"FACTORY_LINEAR_TEAM": "IX/1"}, "FACTORY_LINEAR_TEAM"),
        ({"FACTORY_PUBSUB_TOPIC": "factory-tickets"}, "FACTORY_PUBSUB_TOPIC"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"FACTORY_LOCK_MAX_AGE_SECONDS": "5"}, "FACTORY_LOCK_MAX_AGE_SECONDS"),
        ({"FACTORY_LOCK_MAX_AGE_SECONDS": "3599"}, "FACTORY_LOCK_MAX_AGE_SECONDS"),
        ({"FACTORY_DRAIN_SECONDS": "9.5"}, "FACTORY_DRAIN_SECONDS"),
        ({"FACTORY_PUBLISH_DEADLINE_SECONDS": "6"}, "FACTORY_PUBLISH_DEADLINE_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, change: dict[str, str | None], named: str) -> None:
    env = base_env(tmp_path)
    for name, value in change.items():
        if value is None:
            del env[name]
        else:
            env[name] = value
    with pytest.raises(ConfigError) as caught:
        load_receiver_settings(env)
    assert str(caught.value).startswith(f"invalid setting {named}: ")
    assert "\n" not in str(caught.value) and SECRET.get_secret_value() not in str(caught.value)


def test_the_lock_age_and_drain_bounds_say_why(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"at least 3600 s: a shorter maximum lets a second run"):
        load_receiver_settings({**base_env(tmp_path), "FACTORY_LOCK_MAX_AGE_SECONDS": "600"})
    edge = {"FACTORY_LOCK_MAX_AGE_SECONDS": "3600", "FACTORY_DRAIN_SECONDS": "9"}
    settings = load_receiver_settings({**base_env(tmp_path), **edge})
    assert (settings.factory_lock_max_age_seconds, settings.factory_drain_seconds) == (3600, 9.0)


def test_without_a_topic_a_gcs_prefix_is_a_config_error(tmp_path: Path) -> None:
    settings = load_receiver_settings({**base_env(tmp_path), "ARTIFACTS_PREFIX": "gs://bucket/factory"})
    with pytest.raises(ConfigError, match="FACTORY_PUBSUB_TOPIC"):
        build(settings)


def start_process(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``python -m orchestration.receiver`` with ``env`` over ours; its webhook URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.receiver"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "receiver listening on " in line:
            return proc, "http://" + line.split("receiver listening on ", 1)[1].split()[0] + "/linear/webhook"
    proc.kill()
    raise AssertionError(f"no listening line; exit {proc.wait()}")


def test_the_process_serves_until_sigterm_then_exits_0(tmp_path: Path) -> None:
    proc, url = start_process(base_env(tmp_path))
    try:
        body = json.dumps(issue("ENG-3", previous_labels=[], ts=int(time.time() * 1000))).encode()
        headers = {
            "Content-Type": "application/json",
            "Linear-Signature": sign(SECRET, body),
            "Linear-Delivery": "d3",
        }
        answer = httpx.post(url, content=body, headers=headers, timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"status": "started"})
    finally:
        proc.send_signal(signal.SIGTERM)
        stopped = time.perf_counter()
        code = proc.wait(timeout=20)
        took = time.perf_counter() - stopped
        log = proc.stderr.read() if proc.stderr else ""
    print(f"\nreceiver process: SIGTERM -> exit {code} in {took * 1000:.0f} ms")
    assert code == 0, log
    published = (tmp_path / "artifacts" / "receiver" / "published.jsonl").read_text().splitlines()
    assert [json.loads(line)["ticket"] for line in published] == ["ENG-3"]
    assert "FACTORY_PUBSUB_TOPIC is empty: a local file, not Pub/Sub" in log
    assert "received SIGTERM" in log and "stopped: 1 start messages published, 0 failed" in log
    assert SECRET.get_secret_value() not in log and BODY_CANARY not in log
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, content=body, headers=headers, timeout=2)


def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in base_env(tmp_path).items() if k != "LINEAR_WEBHOOK_SECRET"}
    clean = {k: v for k, v in os.environ.items() if k != "LINEAR_WEBHOOK_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.receiver"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "factory-receiver: invalid setting LINEAR_WEBHOOK_SECRET: Field required"
    ]
    # The same through the CLI the coordinator wires as `factory receiver serve`.
    result = CliRunner().invoke(receiver_app, ["serve", "--port", "99999"], env={**base_env(tmp_path)})
    assert result.exit_code == 2
    assert "invalid setting PORT" in result.output


def test_shutdown_drains_the_publish_queue_within_its_bound(tmp_path: Path) -> None:
    """SIGTERM (here: the stop event) with a publish still queued: waited for, but only for the bound."""
    for release_after, expect_left in ((0.2, 0), (None, 1)):
        slow = SlowPublisher()
        env = {**base_env(tmp_path / str(expect_left)), "FACTORY_DRAIN_SECONDS": "1"}
        service = build(load_receiver_settings(env), publisher=slow)
        stop = threading.Event()
        code: list[int] = []
        runner = threading.Thread(target=lambda: code.append(serve(service, stop)))  # noqa: B023
        runner.start()
        while not service.server.alive():
            time.sleep(0.01)
        body = json.dumps(issue("ENG-4", previous_labels=[], ts=int(time.time() * 1000))).encode()
        headers = {
            "Content-Type": "application/json",
            "Linear-Signature": sign(SECRET, body),
            "Linear-Delivery": "d4",
        }
        answer = httpx.post(service.server.url, content=body, headers=headers, timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"status": "started"})
        stop.set()
        began = time.perf_counter()
        if release_after is not None:
            time.sleep(release_after)
            slow.release.set()
        runner.join(10)
        took = time.perf_counter() - began
        # Read before the stuck publisher is let go (it would then finish in the background).
        left, published = service.background.pending, service.background.published
        slow.release.set()
        print(f"\nshutdown with a publish {'stuck' if expect_left else 'released after 0.2 s'}: {took:.2f} s")
        assert code == [0]
        # Stuck: the drain bound ended the wait; the publish is left unconfirmed, and serve() still returned.
        assert left == expect_left and published == 1 - expect_left
        assert slow.calls == 1
