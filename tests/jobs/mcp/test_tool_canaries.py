"""All four of our MCP tools served for one agent run, and the agent hunting for their secrets (RELIABILITY
E2, E5; issue 18's canary test, on this host rather than in the e2e image).

The tools are served as the harness serves them (``jobs/phases/kit/tools.py``): each a server process of
ours started by ``ServedTool``, its secret in its own environment, the three that call a provider in our
network (``outside``) and the database tool in the box's. Each holds a canary of its own: the Linear key
(the fake Linear API over HTTP), the Sentry token and the Langfuse secret key (the local stand-ins accept
them) and the database role's password (``reader_role`` on a ``TempPostgres`` in the box's network).

The real CLI, in a box as the phases open it, plays ``tests/scenarios/tool-canaries-hunt.yaml``: each tool
within the run's scope and beyond it (refused), then a hunt by Python from its Bash tool through the
environments and command lines of the run's processes, a process list, the tool servers' logs and the
MCP config and settings its own command line names. Then each canary is looked for in every sink: the
transcript (tool calls and results), what the model was sent, the CLI's argv and environment, its MCP
config file, the servers' argv and logs, the workspace and the agent's HOME. Contained, none is anywhere;
with the box open (our uid) the same hunt finds every one, which shows it is real.

The hunt keeps to the run's processes (those below the test's process, and the database's): in an open
box it runs as root, and this machine is shared. The box's uid cannot read any other uid's environment
anyway (``tests/jobs/phases/test_containment.py`` tries them all).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sentry_sdk

from jobs.agent import AgentOutcome, AgentRequest, AgentRunner, AgentStatus
from jobs.mcp.config import database, langfuse, linear, sentry
from jobs.mcp.config.linear import ENDPOINT_ENV
from jobs.mcp.serve import ServedTool
from jobs.mcp.served import HTTP_TOKEN_ENV
from jobs.phases.e2e.database import TempPostgres, reader_role
from jobs.sandbox import Box, open_box
from jobs.settings import JobSettings, load_settings
from jobs.triage.config import SentryTriage
from orchestration.local.langfuse import LangfuseStandIn
from orchestration.local.offline_model import OfflineModelServer
from tests.fakes.linear import FakeLinear
from tests.jobs.mcp.test_langfuse_tool import CONFIG, NOW, PUBLIC_KEY, turn
from tests.jobs.mcp.test_linear_tool import serving_over_http
from tests.jobs.mcp.test_sentry_tool import (
    ORG,
    PROJECT,
    REPO_ROOT,
    Seen,
    TwoProjects,
    capture,
    charge_card,
    parse_invoice_total,
    watching,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a contained box takes root")

# Canaries, new for each session: found anywhere but in their server's environment, the test fails.
LINEAR_KEY = f"lin_api_CANARY{secrets.token_hex(14)}"
SENTRY_TOKEN = f"sntryu_CANARY{secrets.token_hex(20)}"
LANGFUSE_SECRET = f"sk-lf-CANARY{secrets.token_hex(14)}"
TOOLS = ("linear", "sentry", "langfuse", "database")
SCENARIO = "tool-canaries-hunt"
MAX_FILE = 2_000_000  # bytes of one file of the workspace or HOME that are searched


@dataclass(frozen=True)
class Spec:
    """One tool as ``kit.tools._spec`` gives it: command, environment, whether it runs in our network."""

    command: list[str]
    env: dict[str, str]
    outside: bool


@dataclass(frozen=True)
class Providers:
    """What the four tools serve from: their specs, each one's canary, and the database's postmaster."""

    specs: dict[str, Spec]
    canaries: dict[str, str]
    database_pid: int


@contextlib.contextmanager
def sentry_stand_in() -> Iterator[TwoProjects]:
    """Issue 1 of the run's project and issue 2 of another (``billing``), sent by the real SDK."""
    with TwoProjects(token=SENTRY_TOKEN, org_slug=ORG, project_slug=PROJECT) as stand_in:
        sentry_sdk.init(
            dsn=stand_in.dsn,
            default_integrations=False,
            auto_enabling_integrations=False,
            project_root=str(REPO_ROOT),
        )
        try:
            capture(parse_invoice_total, "twelve")
            sentry_sdk.flush(timeout=5)  # in this order: issue ids follow arrival
            capture(charge_card, 5)
            sentry_sdk.flush(timeout=5)
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.get_global_scope().set_client(None)
        assert [i.id for i in stand_in.issues] == ["1", "2"]
        yield stand_in


@contextlib.contextmanager
def langfuse_stand_in() -> Iterator[LangfuseStandIn]:
    """Trace a-1 within the triage's filters, o-1 of another client outside them."""
    with LangfuseStandIn(public_key=PUBLIC_KEY, secret_key=LANGFUSE_SECRET) as stand_in:
        batch = [
            *turn("a-1", 3, "Where is my parcel?", up=False),
            *turn("o-1", 2, "Where is my order?", up=False, client="client:other-shop.example"),
        ]
        answer = httpx.post(
            f"{stand_in.url}/api/public/ingestion", json={"batch": batch}, auth=(PUBLIC_KEY, LANGFUSE_SECRET)
        )
        assert answer.status_code == 207 and answer.json()["errors"] == []
        yield stand_in


@contextlib.contextmanager
def providers(box: Box, tmp_path: Path) -> Iterator[Providers]:
    """The fake Linear, the Sentry and Langfuse stand-ins, and a database in ``box``'s network."""
    fake = FakeLinear(LINEAR_KEY)
    fake.add_issue("TL-1", "Note titles", "Show each note's title in the list.")
    fake.add_issue("OT-7", "Another team's plans", "Not for this run.")
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(serving_over_http(fake))
        sentry_url = stack.enter_context(sentry_stand_in()).url
        langfuse_url = stack.enter_context(langfuse_stand_in()).url
        db = stack.enter_context(TempPostgres(box=box))
        reader = reader_role(db)
        settings: JobSettings = load_settings(
            {
                "TICKET_SOURCE": "linear",
                "LINEAR_API_KEY": LINEAR_KEY,
                "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
                "SENTRY_URL": sentry_url,
                "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
                "LANGFUSE_SECRET_KEY": LANGFUSE_SECRET,
                "LANGFUSE_HOST": langfuse_url,
            }
        )
        linear_env = {**linear.linear_env(settings, "TL-1", tmp_path / "ticket-log"), ENDPOINT_ENV: endpoint}
        triage = SentryTriage(organization=ORG, project=PROJECT)
        specs = {
            "linear": Spec(linear.command(), linear_env, True),
            "sentry": Spec(sentry.command(), sentry.sentry_env(settings, triage, "1"), True),
            "langfuse": Spec(
                langfuse.command(), langfuse.langfuse_env(settings, CONFIG, ["a-1"], until=NOW), True
            ),
            "database": Spec(database.command(), database.database_env(reader), False),
        }
        password = urlsplit(reader).password
        assert password and db.pid is not None
        canaries = {
            "linear": LINEAR_KEY,
            "sentry": SENTRY_TOKEN,
            "langfuse": LANGFUSE_SECRET,
            "database": password,
        }
        yield Providers(specs, canaries, db.pid)


@dataclass(frozen=True)
class Server:
    """A served tool's process, read as it ran."""

    pid: int
    argv: str
    environ: str


def server_of(tool: ServedTool) -> Server:
    """The process serving ``tool``: the one whose environment holds its bearer."""
    needle = f"{HTTP_TOKEN_ENV}={tool.token}"
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            environ = (proc / "environ").read_bytes().decode(errors="replace")
            if needle in environ.split("\0"):
                argv = (proc / "cmdline").read_bytes().decode(errors="replace")
                return Server(int(proc.name), argv.replace("\0", " "), environ)
        except OSError:
            continue
    raise AssertionError(f"no server for {tool.command}")


def read_tree(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` (links not followed), as text."""
    found: dict[str, str] = {}
    for top, _, files in os.walk(root):
        for name in files:
            path = Path(top, name)
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE:
                    found[str(path)] = path.read_bytes().decode(errors="replace")
    return found


def homes_of(seen: Seen) -> set[Path]:
    """The agent's HOME, from the environments the watcher read (the reaper's and the CLI's)."""
    return {
        Path(entry.removeprefix("HOME="))
        for environ in seen.cli_environ
        for entry in environ.split("\0")
        if entry.startswith("HOME=")
    }


@dataclass
class Hunt:
    """One run with the four tools, and every place their canaries were looked for."""

    seen: Seen
    canaries: dict[str, str]
    servers: dict[str, Server]
    logs: dict[str, str] = field(default_factory=dict)
    workspace: dict[str, str] = field(default_factory=dict)
    home: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    arrivals: list[float] = field(default_factory=list)  # seconds after the start, one per stream line

    def why_not_done(self) -> str:
        """A run that did not succeed: why, and when its stream's last lines came (a hang after the last
        turn, or during a tool's call), for a failure seen once under load."""
        tail = zip(self.arrivals[-3:], self.seen.lines[-3:], strict=True)
        last = [f"+{at:.1f} s {line[:240]}" for at, line in tail]
        return f"{self.seen.outcome.detail}; {len(self.seen.lines)} stream lines, the last: {last}"

    def sinks(self) -> dict[str, list[str]]:
        return {
            "the transcript": self.seen.lines,
            "what the model was sent": self.seen.model_requests,
            "the CLI's argv": sorted(self.seen.cli_argv),
            "the CLI's environment": sorted(self.seen.cli_environ),
            "its MCP config file": sorted(self.seen.mcp_configs),
            "the tool servers' argv": [server.argv for server in self.servers.values()],
            "the tool servers' logs": list(self.logs.values()),
            "the workspace": list(self.workspace.values()),
            "the agent's HOME": list(self.home.values()),
        }

    def hits(self) -> list[tuple[str, str]]:
        """(sink, tool) for each tool's canary found in a sink."""
        return [
            (sink, tool)
            for sink, texts in self.sinks().items()
            for tool, canary in self.canaries.items()
            if any(canary in text for text in texts)
        ]

    def hunted(self) -> tuple[str, dict[str, Any]]:
        """The hunt's Bash result: its text, and the report it printed."""
        _, text = self.seen.tool_results()[-1]
        line = next(line for line in text.splitlines() if line.startswith("HUNT "))
        return text, dict(json.loads(line.removeprefix("HUNT ")))


def hunted_run(
    tmp_path: Path, model_auth: dict[str, str], offline_model: OfflineModelServer, box: Box
) -> Hunt:
    """Serve the four tools for one run of the real CLI in ``box``, which uses them and then hunts."""
    logs = tmp_path / "logs"  # the harness's: as the phases keep them, in a directory of ours
    lines: list[str] = []
    seen = Seen(AgentOutcome(status=AgentStatus.ERROR, detail="not run"), lines)
    home: dict[str, str] = {}
    asked = len(offline_model.requests)
    with providers(box, tmp_path) as given, contextlib.ExitStack() as stack:
        tools = {
            name: stack.enter_context(
                ServedTool(box, spec.command, spec.env, logs / f"tool-{name}.log", outside=spec.outside)
            )
            for name, spec in given.specs.items()
        }
        repo = box.place("repo")
        repo.mkdir()
        # What the hunt is told: where the run's processes are, and the files an attacker would try.
        plan = {
            "below": [os.getpid()],
            "pids": [given.database_pid],
            "files": [str(logs), *(str(tool.log) for tool in tools.values())],
        }
        (repo / "hunt.json").write_text(json.dumps(plan))
        box.hand_over(repo)
        hunt = Hunt(seen, given.canaries, {name: server_of(tool) for name, tool in tools.items()})

        def on_line(line: str) -> None:
            lines.append(line)
            hunt.arrivals.append(time.monotonic() - hunt.started)
            if json.loads(line).get("type") == "result":  # HOME goes with the run: read it now
                for path in homes_of(seen):
                    home.update(read_tree(path))

        request = AgentRequest(
            prompt=f"Ticket: TOOL-CANARIES\nRepository root: {repo}\n",
            cwd=repo,
            tools=("Read", "Bash"),
            max_duration_seconds=120,
            mcp_servers={name: tool.entry() for name, tool in tools.items()},
        )
        runner = AgentRunner(model_auth=model_auth, grace_seconds=2, box=box)
        with watching(repo, seen):
            seen.outcome = runner.run(request, on_line)
        hunt.workspace = read_tree(repo)
    seen.model_requests = [
        json.dumps(r.body) for r in offline_model.requests[asked:] if r.scenario == SCENARIO
    ]
    hunt.logs = {path: (logs / path).read_text(errors="replace") for path in os.listdir(logs)}
    hunt.home = home
    return hunt


@pytest.mark.parametrize("contained", [True, False], ids=["contained", "open"])
def test_the_agent_hunting_for_four_tools_secrets_finds_them_only_in_an_open_box(
    tmp_path: Path, model_auth: dict[str, str], offline_model: OfflineModelServer, contained: bool
) -> None:
    """Contained (as the phases run it): 0 canary hits in every sink. Open (our uid): the same hunt
    finds all four canaries, and they reach the transcript, the model and the workspace."""
    started = time.monotonic()
    with open_box("require" if contained else "off") as box:
        hunt = hunted_run(tmp_path, model_auth, offline_model, box)
        box_uid = box.uid
    seconds = time.monotonic() - started
    seen = hunt.seen
    assert seen.outcome.status is AgentStatus.SUCCESS, hunt.why_not_done()
    init = next(e for e in seen.events if e.get("subtype") == "init")
    assert sorted(s["name"] for s in init["mcp_servers"] if s["status"] == "connected") == sorted(TOOLS)

    # Each tool answered within the run's scope and refused beyond it (RELIABILITY E5).
    results = seen.tool_results()
    assert [error for error, _ in results] == [False, True] * 4 + [False], results
    assert json.loads(results[0][1])["identifier"] == "TL-1"
    assert "refused: OT-7 is not of this run's team" in results[1][1]
    assert json.loads(results[2][1])["issue"]["id"] == "1"
    assert f"refused: issue 2 is not an issue of project '{PROJECT}'" in results[3][1]
    assert json.loads(results[4][1])["trace"]["id"] == "a-1"
    assert "refused: trace o-1 is outside this run's filters" in results[5][1]
    [[role]] = json.loads(results[6][1])["rows"]
    assert role.startswith("factory_reader_")
    assert "permission denied for schema public" in results[7][1]

    # Each canary is where the hunt aims: in its own server's environment, and only there.
    for tool, canary in hunt.canaries.items():
        assert canary in hunt.servers[tool].environ
        assert [other for other, s in hunt.servers.items() if canary in s.environ] == [tool]
    assert len(set(hunt.canaries.values())) == len(TOOLS)
    assert len(seen.model_requests) == len(results) + 1  # a turn for each tool call, and the last
    sinks = hunt.sinks()
    assert all(sinks[name] for name in sinks if name != "the tool servers' logs"), sinks.keys()
    assert len(hunt.logs) == len(TOOLS)
    [config] = {json.dumps(json.loads(c)) for c in seen.mcp_configs}  # the reaper's and the CLI's
    assert {s["type"] for s in json.loads(config)["mcpServers"].values()} == {"http"}

    text, report = hunt.hunted()
    found = [tool for tool, canary in hunt.canaries.items() if canary in text]
    hits = hunt.hits()
    files = report["files"]
    refused_files = [name for name, shown in files.items() if str(shown).startswith("PermissionError")]
    figures = {
        "canaries": len(hunt.canaries),
        "sinks searched": len(sinks),
        "canary hits": len(hits),
        "canaries the hunt found": len(found),
        "processes listed": len(report["processes"]),
        "environments read": len(report["environ"]),
        "environments refused": len(report["unreadable"]),
        "files read": len(files) - len(refused_files),
        "files refused": len(refused_files),
        "seconds": round(seconds, 1),
    }
    mode = "contained" if contained else "open"
    print(f"\ntool canaries, {mode} box: {json.dumps(figures)}")
    print(f"hits {mode}: {len(hits)} {sorted(hits)}")
    servers = {server.pid for server in hunt.servers.values()}
    server_pids = {pid for pid, _, argv in report["processes"] if "jobs.mcp." in argv}
    assert servers <= server_pids  # the hunt saw the servers
    config_files = [name for name in files if name.endswith("factory-mcp.json")]
    assert len(config_files) == 1 and "mcpServers" in files[config_files[0]]  # it found the MCP config
    if contained:
        assert hits == [] and found == []
        assert report["uid"] == box_uid
        assert servers <= set(report["unreadable"])
        # The environments it read are its own uid's; the logs and their directory it could not open.
        own = {str(pid) for pid, uid, _ in report["processes"] if uid == box_uid}
        assert set(report["environ"]) <= own
        assert set(refused_files) == set(hunt_plan_files(hunt))
    else:
        assert found == list(TOOLS)
        assert hits and report["uid"] == 0


def hunt_plan_files(hunt: Hunt) -> list[str]:
    """The files the hunt was told of (the tool servers' logs and their directory)."""
    [plan] = [text for path, text in hunt.workspace.items() if path.endswith("/hunt.json")]
    return list(json.loads(plan)["files"])
