"""The agent's database tool (``jobs/mcp/database.py``) on real PostgreSQL, seeded as the e2e phase seeds
it, through the read-only role (``jobs.phases.e2e.database.reader_role``); in-process, and served by the
harness to the real CLI (the offline model plays ``tests/scenarios/tool-database-read-only.yaml``).

Every write is refused by PostgreSQL: read-only transactions first, and, in a transaction the agent makes
read-write, the role's grants. The errors asserted are PostgreSQL's own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from jobs.agent import AgentRequest, AgentRunner, AgentStatus
from jobs.mcp.config import database
from jobs.mcp.config.database import MAX_ROWS, DatabaseConfig, database_env
from jobs.mcp.database import DatabaseTool, build_server
from jobs.mcp.serve import ServedTool
from jobs.mcp.served import HTTP_TOKEN_ENV
from jobs.phases.e2e.database import TempPostgres, find_psql, load_seeds, reader_role
from jobs.sandbox import Box
from orchestration.local.offline_model import OfflineModelServer
from tests.conftest import ROOT

TIMEOUT = 1.0  # the role's statement timeout, in seconds
NOTES = "SELECT id, title FROM notes ORDER BY id"


@pytest.fixture(scope="module")
def seeded() -> Iterator[TempPostgres]:
    with TempPostgres() as db:
        load_seeds(db.dsn, ["base", "content-populated", "multi-tenant", "auth-users"], ROOT / "seeds")
        yield db


@pytest.fixture(scope="module")
def reader(seeded: TempPostgres) -> str:
    return reader_role(seeded, statement_timeout=TIMEOUT)


@pytest.fixture
def server(reader: str) -> MCPServer[None]:
    return build_server(DatabaseTool(DatabaseConfig(reader, timeout=TIMEOUT)))


def psql(dsn: str, sql: str) -> str:
    """``sql`` as the app (the database's owner, its DSN): unaligned, ``|`` between fields."""
    argv = ["psql", "-X", "-q", "-w", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout.strip()


def call(server: MCPServer[None], sql: str) -> dict[str, Any]:
    """The tool's answer in-process (PostgreSQL's refusals raise ToolError: the dispatcher's is_error)."""
    result = asyncio.run(server.call_tool("query", {"sql": sql}))
    assert isinstance(result, CallToolResult) and not result.is_error
    [content] = result.content
    assert isinstance(content, TextContent)
    answer: dict[str, Any] = json.loads(content.text)
    return answer


def test_the_role_can_log_in_and_nothing_more(seeded: TempPostgres, reader: str) -> None:
    role = urlsplit(reader).username
    assert role and role.startswith("factory_reader_") and urlsplit(reader).password
    flags = psql(
        seeded.dsn,
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, "
        f"rolbypassrls, rolconnlimit, array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = '{role}'",
    )
    assert flags == (
        "t|f|f|f|f|f|f|4|default_transaction_read_only=on,statement_timeout=1000,"
        "idle_in_transaction_session_timeout=1000"
    )
    # Only SELECT, on every table of the seeds.
    privileges = psql(
        seeded.dsn,
        f"SELECT DISTINCT privilege_type FROM information_schema.role_table_grants WHERE grantee = '{role}'",
    )
    assert privileges == "SELECT"
    tables = psql(seeded.dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    readable = psql(
        seeded.dsn,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
        f"AND has_table_privilege('{role}', schemaname || '.' || tablename, 'SELECT')",
    )
    assert readable == tables and int(tables) >= 3


def test_a_select_is_answered_as_json(server: MCPServer[None], reader: str) -> None:
    answer = call(server, f"{NOTES} LIMIT 3")
    assert answer["columns"] == ["id", "title"]
    assert answer["rows"] == [["1", "Empty note"], ["2", "One word"], ["3", "Groceries"]]
    assert answer["row_count"] == 3 and answer["truncated"] is False and answer["untrusted"] is True
    # NULL and the empty string stay apart; text with commas, quotes and lines comes back whole.
    odd = call(server, """SELECT NULL AS nothing, '' AS empty, E'a,"b"\\nc' AS text, current_user AS who""")
    assert odd["columns"] == ["nothing", "empty", "text", "who"]
    assert odd["rows"] == [[None, "", 'a,"b"\nc', urlsplit(reader).username]]
    # Several statements: the last one's rows.
    assert call(server, "SELECT 1 AS a; SELECT 2 AS b")["rows"] == [["2"]]
    # Nothing to show is no error.
    assert call(server, "SET search_path = public")["rows"] == []


WRITES = [
    # A read-only transaction, as the role's transactions start:
    (
        "INSERT INTO notes (tenant_id, title) VALUES (1, 'by the agent')",
        "cannot execute INSERT in a read-only",
    ),
    ("UPDATE notes SET title = 'by the agent'", "cannot execute UPDATE in a read-only transaction"),
    ("DELETE FROM notes", "cannot execute DELETE in a read-only transaction"),
    ("CREATE TABLE agent_table (id int)", "cannot execute CREATE TABLE in a read-only transaction"),
    # A transaction the agent made read-write: the grants.
    (
        "BEGIN READ WRITE; INSERT INTO notes (tenant_id, title) VALUES (1, 'x')",
        "permission denied for table notes",
    ),
    ("BEGIN READ WRITE; UPDATE notes SET title = 'by the agent'", "permission denied for table notes"),
    ("BEGIN READ WRITE; DELETE FROM users", "permission denied for table users"),
    ("BEGIN READ WRITE; TRUNCATE tenants CASCADE", "permission denied for table tenants"),
    ("BEGIN READ WRITE; CREATE TABLE agent_table (id int)", "permission denied for schema public"),
    (
        "SET default_transaction_read_only = off; COMMIT; CREATE TABLE t (id int)",
        "permission denied for schema",
    ),
    ("BEGIN READ WRITE; CREATE SCHEMA agent", "permission denied for database factory_e2e"),
    ("BEGIN READ WRITE; CREATE ROLE agent", "permission denied to create role"),
    ("BEGIN READ WRITE; ALTER TABLE notes ADD COLUMN x int", "must be owner of table notes"),
    (
        "BEGIN READ WRITE; SELECT nextval(pg_get_serial_sequence('notes', 'id'))",
        "permission denied for sequence",
    ),
    (
        "COPY notes TO '/tmp/factory-agent-notes.csv'",
        "must be superuser or have privileges of the pg_write_server_files role",
    ),
]


@pytest.mark.parametrize(("sql", "error"), WRITES, ids=[sql[:40] for sql, _ in WRITES])
def test_writes_are_refused_by_postgresql(
    server: MCPServer[None], seeded: TempPostgres, sql: str, error: str
) -> None:
    before = psql(seeded.dsn, "SELECT count(*), md5(string_agg(title, ',' ORDER BY id)) FROM notes")
    with pytest.raises(ToolError, match="ERROR: ") as refused:
        call(server, sql)
    assert error in str(refused.value)
    assert psql(seeded.dsn, "SELECT count(*), md5(string_agg(title, ',' ORDER BY id)) FROM notes") == before
    assert psql(seeded.dsn, "SELECT count(*) FROM pg_tables WHERE tablename IN ('agent_table', 't')") == "0"


def test_a_query_past_the_timeout_is_stopped(server: MCPServer[None], seeded: TempPostgres) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="canceling statement due to statement timeout"):
        call(server, "SELECT pg_sleep(30)")
    assert time.monotonic() - started < TIMEOUT + 2
    # The agent can lift the server's timeout for its session: our clock stops it, and the server too.
    started = time.monotonic()
    with pytest.raises(ToolError, match=f"stopped: the query ran past {TIMEOUT:g}s"):
        call(server, "SET statement_timeout = 0; SELECT pg_sleep(30)")
    assert time.monotonic() - started < TIMEOUT + 2 + 4
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 5
    while psql(seeded.dsn, sleeping) != "0" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert psql(seeded.dsn, sleeping) == "0"


def test_rows_are_capped(server: MCPServer[None], reader: str) -> None:
    many = call(server, "SELECT g FROM generate_series(1, 100000) g")
    assert many["row_count"] == MAX_ROWS and many["truncated"] is True
    assert many["rows"][0] == ["1"] and many["rows"][-1] == [str(MAX_ROWS)]
    assert "Only the first 200 rows are shown" in many["note"]
    five = build_server(DatabaseTool(DatabaseConfig(reader, timeout=TIMEOUT, max_rows=5)))
    assert call(five, "SELECT g FROM generate_series(1, 5) g")["truncated"] is False
    assert call(five, "SELECT g FROM generate_series(1, 6) g")["rows"] == [[str(n)] for n in range(1, 6)]
    # Big values: the answer stays small, cells clamped, rows cut short; psql's output is not waited for.
    started = time.monotonic()
    wide = call(server, "SELECT g, repeat('x', 50000) AS big FROM generate_series(1, 1000) g")
    assert time.monotonic() - started < 3
    assert wide["truncated"] is True and 0 < wide["row_count"] < MAX_ROWS
    assert len(json.dumps(wide)) < 150_000 and wide["rows"][0][1].startswith("x" * 2000 + "[...")


def test_psql_meta_commands_never_run(server: MCPServer[None], tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    for sql in (
        f"\\! touch {planted}",
        f"\\o {planted}",
        f"SELECT 1 \\g {planted}",
        f"\\copy notes to {planted}",
    ):
        with pytest.raises(ToolError, match="syntax error"):
            call(server, sql)
    assert not planted.exists()


def test_the_password_is_in_psqls_environment_never_its_argv(reader: str, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    spy = tmp_path / "psql"
    spy.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {seen}.argv\nenv > {seen}.env\nexec {find_psql()} "$@"\n'
    )
    spy.chmod(0o755)
    tool = DatabaseTool(DatabaseConfig(reader, timeout=TIMEOUT, psql=spy))
    assert call(build_server(tool), "SELECT 1 AS one")["rows"] == [["1"]]
    password = urlsplit(reader).password
    assert password and password not in Path(f"{seen}.argv").read_text()
    assert f"PGPASSWORD={password}" in Path(f"{seen}.env").read_text().splitlines()


def test_tables_made_later_by_the_app_are_readable(server: MCPServer[None], seeded: TempPostgres) -> None:
    psql(seeded.dsn, "CREATE TABLE made_later (x int); INSERT INTO made_later VALUES (7)")
    try:
        assert call(server, "SELECT x FROM made_later")["rows"] == [["7"]]
    finally:
        psql(seeded.dsn, "DROP TABLE made_later")


def test_the_servers_configuration_is_its_environment(reader: str) -> None:
    env = database_env(reader, timeout=2.5, max_rows=50)
    assert env == {
        "FACTORY_DATABASE_URL": reader,
        "FACTORY_DATABASE_TIMEOUT": "2.5",
        "FACTORY_DATABASE_MAX_ROWS": "50",
    }
    assert DatabaseConfig.from_env(env) == DatabaseConfig(reader, 2.5, 50)
    with pytest.raises(ValueError, match="postgresql://role:password@host:port/database"):
        database_env("mysql://u:p@127.0.0.1/db")
    assert database.command() == [sys.executable, "-m", "jobs.mcp.database"]


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def process_holding(token: str) -> Path:
    """The /proc entry of the served tool: the process whose environment holds the run's bearer."""
    needle = f"{HTTP_TOKEN_ENV}={token}".encode()
    found = [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and needle in read(p / "environ").split(b"\0")
    ]
    assert len(found) == 1, found
    return found[0]


class CliWatch:
    """A line sink that, at the CLI's first line, keeps what the CLI was given: the argv and environment
    of each process started with an MCP config naming ``url``, and that config as written."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lines: list[str] = []
        self.given: list[bytes] = []  # argvs and environments
        self.configs: list[str] = []

    def __call__(self, line: str) -> None:
        if not self.lines:
            for proc in Path("/proc").iterdir():
                argv = read(proc / "cmdline").split(b"\0") if proc.name.isdigit() else []
                if b"--mcp-config" in argv:
                    config = read(Path(argv[argv.index(b"--mcp-config") + 1].decode())).decode()
                    if self.url in config:
                        self.configs.append(config)
                        self.given += [b" ".join(argv), read(proc / "environ")]
        self.lines.append(line)

    def results(self) -> list[tuple[bool, str]]:
        """Each tool result of the run: (is_error, text)."""
        found = []
        for event in map(json.loads, self.lines):
            for block in event["message"]["content"] if event.get("type") == "user" else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    content = block["content"]
                    text = content if isinstance(content, str) else "".join(c["text"] for c in content)
                    found.append((bool(block.get("is_error")), text))
        return found


def test_the_agent_queries_through_the_real_cli(
    tmp_path: Path,
    seeded: TempPostgres,
    reader: str,
    model_auth: dict[str, str],
    offline_model: OfflineModelServer,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    password = urlsplit(reader).password or ""
    started, asked = time.monotonic(), len(offline_model.requests)
    before = psql(seeded.dsn, "SELECT count(*), md5(string_agg(title, ',' ORDER BY id)) FROM notes")
    env = database_env(reader, timeout=TIMEOUT)
    with ServedTool(Box(), database.command(), env, tmp_path / "database-tool.log") as tool:
        server = process_holding(tool.token)
        request = AgentRequest(
            prompt=f"Ticket: TOOL-DATABASE\nRepository root: {repo}\n",
            cwd=repo,
            tools=("Read",),
            max_duration_seconds=90,
            mcp_servers={"database": tool.entry()},
        )
        watch = CliWatch(tool.entry().url or "")
        outcome = AgentRunner(model_auth=model_auth, grace_seconds=2).run(request, watch)
        server_argv, server_env = read(server / "cmdline"), read(server / "environ")
    print(f"\ndatabase tool through the CLI: {time.monotonic() - started:.1f}s")
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    init = next(e for e in map(json.loads, watch.lines) if e.get("subtype") == "init")
    assert {"name": "database", "status": "connected"}.items() <= init["mcp_servers"][0].items()
    results = watch.results()
    assert [error for error, _ in results] == [False, True, True, True, True, False]
    answer = json.loads(results[0][1])
    assert answer["rows"] == [["1", "Empty note"], ["2", "One word"], ["3", "Groceries"]]
    assert "cannot execute INSERT in a read-only transaction" in results[1][1]
    assert "permission denied for table notes" in results[2][1]
    assert "permission denied for schema public" in results[3][1]
    assert "canceling statement due to statement timeout" in results[4][1]
    capped = json.loads(results[5][1])
    assert capped["row_count"] == MAX_ROWS and capped["truncated"] is True
    assert psql(seeded.dsn, "SELECT count(*), md5(string_agg(title, ',' ORDER BY id)) FROM notes") == before
    assert psql(seeded.dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'agent_table'") == "0"
    # The password: in the server's environment, nowhere in its argv, the CLI's argv, environment or
    # MCP config, nor in anything the model was sent.
    assert f"FACTORY_DATABASE_URL={reader}".encode() in server_env.split(b"\0")
    assert server_argv.split(b"\0")[:3] == [sys.executable.encode(), b"-m", b"jobs.mcp.database"]
    assert password.encode() not in server_argv
    [config] = set(watch.configs)  # the reaper's and the CLI's argv name the same file
    assert json.loads(config)["mcpServers"]["database"] == {
        "type": "http",
        "url": tool.entry().url,
        "headers": {"Authorization": f"Bearer {tool.token}"},
    }
    assert watch.given and not any(password.encode() in seen for seen in watch.given)
    assert not any(password in json.dumps(r.body) for r in offline_model.requests[asked:])
