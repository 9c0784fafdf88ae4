"""Dev servers for E2E: real processes on free loopback ports, checked for orphans after every path.

Each test takes the machine's ports lock from its own file, so other runs on this machine do not delay it
(tests/jobs/phases/test_e2e_ports.py holds the lock, the port check and the verdicts).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from jobs.errors import ConfigError
from jobs.phases.e2e.servers import (
    LOCK_ENV,
    DevServers,
    ServerSpec,
    ServersUnavailable,
    port_is_free,
    relevant_lines,
    substitute,
)
from jobs.serving import free_port
from tests.conftest import processes_matching

# A tiny server: answers every GET with the status in argv[2]; with argv[3], first writes its env there.
# Forks a daemon that leaves the session (a dev server's watcher might), then serves.
DAEMONIZE = """\
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)
    os._exit(0)
os.execvp("python3", ["python3", sys.argv[1], sys.argv[2], "200"])
"""

# Says something, then dies of an exception two calls deep, as a misconfigured app does.
CRASH = """\
import sys
print("loading settings", flush=True)
def connect(url):
    raise ValueError(f"DATABASE_URL is not set ({sys.argv[1]})")
def main():
    connect(None)
main()
"""


@pytest.fixture(autouse=True)
def own_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "ports.lock"))


def spec(name: str, command: str, port: int, timeout: float = 10, **env: str) -> ServerSpec:
    return ServerSpec(
        name=name,
        command=command,
        port=port,
        health_url=f"http://127.0.0.1:{port}/health",
        env=env,
        start_timeout_seconds=timeout,
    )


def test_two_servers_start_healthy_and_stop(tmp_path: Path, script: Path, marker: str) -> None:
    api, web = free_port(), free_port()
    servers = DevServers(
        [spec("api", f"python3 {script} {api} 200", api), spec("web", f"python3 {script} {web} 302", web)],
        tmp_path,
        tmp_path / "logs",
    )
    with servers:
        assert httpx.get(f"http://127.0.0.1:{api}/").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{web}/").status_code == 302
        assert len(processes_matching(marker)) >= 2
    assert set(servers.start_seconds) == {"api", "web"}
    assert all(0 < s < 10 for s in servers.start_seconds.values())
    print("start seconds:", servers.start_seconds)
    assert servers.log_paths == {"api": tmp_path / "logs/api.log", "web": tmp_path / "logs/web.log"}
    assert all(path.is_file() for path in servers.log_paths.values())
    assert processes_matching(marker) == []
    assert port_is_free(api) and port_is_free(web)


def test_exception_in_body_stops_servers(tmp_path: Path, script: Path, marker: str) -> None:
    port = free_port()
    with (
        pytest.raises(RuntimeError),
        DevServers([spec("api", f"python3 {script} {port} 200", port)], tmp_path, tmp_path),
    ):
        assert processes_matching(marker)
        raise RuntimeError("browser crashed")
    assert processes_matching(marker) == []


def test_start_failure_names_exit_code_and_log_line(tmp_path: Path, script: Path, marker: str) -> None:
    ok, bad = free_port(), free_port()
    failing = f"echo starting; echo 'Error: cannot reach database {marker}' >&2; exit 3"
    servers = DevServers(
        [spec("api", f"python3 {script} {ok} 200", ok), spec("web", failing, bad)],
        tmp_path,
        tmp_path / "logs",
    )
    started = time.monotonic()
    with pytest.raises(ServersUnavailable) as caught:
        servers.__enter__()
    assert time.monotonic() - started < 5  # stopped at the exit, not at the 10 s timeout
    assert caught.value.reason == (
        f"server web exited with code 3 during start (see web.log): Error: cannot reach database {marker}"
    )
    assert not caught.value.retryable
    assert caught.value.app_fault  # the app's own failure, which a fix could have caused
    assert processes_matching(marker) == []  # the healthy api server was stopped too
    assert port_is_free(ok)


def test_crash_reports_the_exception_not_the_last_log_line(tmp_path: Path, marker: str) -> None:
    crash = tmp_path / f"crash-{marker}.py"
    crash.write_text(CRASH)
    port = free_port()
    # What a wrapper (npm, honcho, a shell script) says after the app died is the log's last line.
    command = f"python3 {crash} {marker}; code=$?; echo 'worker exited, cleaning up'; exit $code"
    with (
        pytest.raises(ServersUnavailable) as caught,
        DevServers([spec("api", command, port)], tmp_path, tmp_path),
    ):
        pass
    reason = caught.value.reason
    assert reason == (
        f"server api exited with code 1 during start (see api.log): "
        f"ValueError: DATABASE_URL is not set ({marker})"
    )
    assert "Traceback" in (tmp_path / "api.log").read_text()  # the whole story stays in the log
    assert caught.value.app_fault
    assert processes_matching(marker) == []


@pytest.mark.parametrize(
    ("log", "said"),
    [
        (
            'Traceback (most recent call last):\n  File "app.py", line 3\n    import flask\n'
            "ModuleNotFoundError: No module named 'flask'\nshutting down\n",
            "ModuleNotFoundError: No module named 'flask'",
        ),
        (
            "node:events:497\n      throw er;\n      ^\n\nError: listen EADDRINUSE: address already in use"
            " :::8080\n    at Server.setupListenHandle (node:net:1872:16)\nNode.js v20.11.0\n",
            "Error: listen EADDRINUSE: address already in use :::8080",
        ),
        (
            "\x1b[32mINFO\x1b[0m: starting\n\x1b[31mERROR\x1b[0m: Error loading ASGI app.\n"
            "ERROR: Application startup failed.\nbye\n",
            "ERROR: Error loading ASGI app. | ERROR: Application startup failed.",
        ),
        ("one\ntwo\nthree\nfour\n\n", "two | three | four"),
        ("", "(no output)"),
    ],
    ids=["python-traceback", "node-error", "error-lines", "last-lines", "empty"],
)
def test_relevant_lines_of_a_failing_servers_log(tmp_path: Path, log: str, said: str) -> None:
    path = tmp_path / "api.log"
    path.write_text(log)
    assert relevant_lines(path) == said
    assert relevant_lines(tmp_path / "missing.log") == "(no log)"


def test_port_in_use_starts_nothing(tmp_path: Path, marker: str) -> None:
    free, taken = free_port(), free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        specs = [
            spec("api", f"touch {marker}-api; sleep 30", free),
            spec("web", f"touch {marker}-web; sleep 30", taken),
        ]
        with pytest.raises(ServersUnavailable) as caught, DevServers(specs, tmp_path, tmp_path / "logs"):
            pass
    assert caught.value.reason.startswith(f"port {taken} is already in use by ")
    assert caught.value.reason.endswith(
        "(needed by server web): free it or change the server's port in .factory.yaml"
    )
    assert not caught.value.app_fault  # the machine's doing, not the app's
    assert list(tmp_path.glob(f"{marker}-*")) == []
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("kind", ["answers-500", "never-listens"])
def test_health_never_passes_times_out(tmp_path: Path, script: Path, marker: str, kind: str) -> None:
    port = free_port()
    command = (
        f"python3 {script} {port} 500"
        if kind == "answers-500"
        else f"python3 -c 'import time; time.sleep(30)' {marker}"
    )
    servers = DevServers([spec("api", command, port, timeout=1)], tmp_path, tmp_path)
    started = time.monotonic()
    with pytest.raises(ServersUnavailable) as caught, servers:
        pass
    assert 1 <= time.monotonic() - started < 4
    reason = caught.value.reason
    assert reason.startswith(
        f"server api is still running but did not answer http://127.0.0.1:{port}/health within 1s (last: "
    )
    assert ("HTTP 500" in reason) == (kind == "answers-500")
    assert reason.endswith("; api.log: (no output)")
    assert caught.value.app_fault
    assert processes_matching(marker) == []
    assert processes_matching(f"python3 -c 'import time; time.sleep(30)' {marker}") == []


def test_setsid_grandchild_is_stopped(tmp_path: Path, script: Path, marker: str) -> None:
    port = free_port()
    daemonize = tmp_path / f"daemonize-{marker}.py"
    daemonize.write_text(DAEMONIZE)
    with DevServers([spec("api", f"python3 {daemonize} {script} {port}", port)], tmp_path, tmp_path):
        deadline = time.monotonic() + 5
        while not any(f"daemonize-{marker}" in p for p in processes_matching(marker)):
            assert time.monotonic() < deadline, "the daemon never showed up"
            time.sleep(0.05)
    assert processes_matching(marker) == []


def test_env_is_the_allowlist_plus_substituted_placeholders(
    tmp_path: Path, script: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORY_CANARY_SECRET", "canary-do-not-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_canary")
    port, env_file = free_port(), tmp_path / "env.json"
    servers = DevServers(
        [
            spec(
                "api",
                f"python3 {script} {port} 200 {env_file}",
                port,
                DATABASE_URL="{database_url}",
                SETTINGS='{"api": "{api_url}/v1", "debug": true}',
            )
        ],
        tmp_path,
        tmp_path,
        variables={"database_url": "postgresql://localhost/e2e", "api_url": f"http://127.0.0.1:{port}"},
    )
    with servers:
        env = json.loads(env_file.read_text())
    assert env["DATABASE_URL"] == "postgresql://localhost/e2e"
    assert env["SETTINGS"] == f'{{"api": "http://127.0.0.1:{port}/v1", "debug": true}}'
    assert "canary-do-not-leak" not in env_file.read_text() and "ghp_canary" not in env_file.read_text()
    assert "FACTORY_CANARY_SECRET" not in env and "GITHUB_TOKEN" not in env
    assert env["HOME"] != str(Path.home()) and "factory-servers-home-" in env["HOME"]
    assert not Path(env["HOME"]).exists()  # the private HOME goes with the servers
    assert str(Path(sys.prefix) / "bin") not in env["PATH"].split(":")


def test_unknown_placeholder_fails_before_anything_starts(tmp_path: Path, marker: str) -> None:
    port = free_port()
    servers = DevServers(
        [spec("api", f"touch {marker}", port, DATABASE_URL="{databse_url}")],
        tmp_path,
        tmp_path,
        variables={"database_url": "x", "api_url": "y"},
    )
    with pytest.raises(ConfigError, match=r"server api: unknown placeholder \{databse_url\} in its env"):
        servers.__enter__()
    assert not (tmp_path / marker).exists()


def test_substitute_leaves_other_braces_and_attributes_alone() -> None:
    assert substitute("{a}-{{b}}-{ }", {"a": "1", "b": "2"}) == "1-{2}-{ }"
    assert substitute("{a.__class__}", {"a": "1"}) == "{a.__class__}"
    with pytest.raises(KeyError):
        substitute("{missing}", {})


@pytest.mark.parametrize(
    ("port", "url"),
    [
        (8080, "http://example.com:8080/health"),
        (8080, "http://127.0.0.1:8081/health"),
        (8080, "https://localhost:8080/"),
        (8080, "http://127.0.0.1:8080@evil.example/"),
        (80, "http://127.0.0.1:80/"),
    ],
)
def test_spec_rejects_non_local_or_mismatched_health_urls(port: int, url: str) -> None:
    with pytest.raises(ValidationError):
        ServerSpec(name="api", command="true", port=port, health_url=url)


def test_shared_port_or_name_is_a_config_error(tmp_path: Path) -> None:
    a = ServerSpec(name="api", command="true", port=9000, health_url="http://localhost:9000/")
    with pytest.raises(ConfigError, match="share a port: 9000"):
        DevServers([a, a.model_copy(update={"name": "web"})], tmp_path, tmp_path)
