"""A throwaway PostgreSQL cluster for E2E, the target's ``e2e.setup`` commands, and its seeds.

The target owns its data: ``setup`` (its migrations, say) runs first against the fresh database, then
the ``seeds`` in the order listed, each either one of Factory's named scenarios (``seeds/<name>.sql``)
or a ``.sql`` file of the target's checkout. Nothing is added: an app built on ``base`` lists it.
The target's commands and files are untrusted, so they run as its install commands do
(``jobs/workspace/shell.py``): the environment allowlist, a private HOME, bounded time, reaped.

Real Postgres from the distribution's packages: the cluster lives in a temp dir (data, unix socket,
log), listens only on 127.0.0.1 on a free port, and is stopped and removed on exit whatever happened
inside. The target's setup, seeds and servers connect as ``APP_ROLE``, which owns the run's database and
is no superuser: superuser SQL could run programs (``COPY ... TO PROGRAM``) and read files as the
server's OS user, outside the app's uid. Over TCP any role but the superuser is trusted (the server
listens in the box's network, holds only seed data, and its roles are the app's and read-only
readers); the superuser connects only through the unix socket, whose directory only the server's OS
user (and root) may enter: that is our code's way in.
``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` system user
that Debian's package creates. Durability is off: the data is thrown away, and fsync only slows seeding.
"""

from __future__ import annotations

import contextlib
import math
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict

from jobs.errors import ConfigError, DatabaseError
from jobs.sandbox import AppSide, Box
from jobs.serving import PortTaken, free_port, on_a_free_port
from jobs.workspace.shell import CommandRun, run_repo_command

NOT_INSTALLED = "PostgreSQL is not installed (apt-get install postgresql)"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
SUPERUSER = "postgres"  # the cluster's role, named by initdb -U: our code's, through the unix socket
APP_ROLE = "factory_app"  # the target's: owns the run's database, no superuser
SERVER_OS_USER = "postgres"  # who runs initdb and the server when we are root
SEEDS_DIR = Path(__file__).resolve().parents[3] / "seeds"  # Factory's named scenarios
# SEEDS_DIR's scenarios, also named here: every phase validates .factory.yaml, only the e2e image has them.
SCENARIOS = ("auth-users", "base", "content-populated", "multi-tenant")
SCENARIO_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_SEED_PATH = 300
SETUP_OUTPUT_TAIL = 500
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
CLIENT_ENV = {
    "PGCLIENTENCODING": "UTF8",
    "PGCONNECT_TIMEOUT": "10",
    "PGOPTIONS": "-c client_min_messages=warning",
}
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
STOP_TIMEOUT = 30
ERROR_CHARS = 2000
SETTINGS = """
# Added by Factory (jobs/phases/e2e/database.py): a private, throwaway cluster.
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
max_connections = 50
fsync = off
synchronous_commit = off
full_page_writes = off
"""
# First match wins: the superuser only through the socket (its directory is 0700), never over TCP.
HBA = """\
# Written by Factory (jobs/phases/e2e/database.py).
local   all   all                     trust
host    all   {superuser}   127.0.0.1/32   reject
host    all   all           127.0.0.1/32   trust
"""
APP_ROLE_SQL = """\
CREATE ROLE {role} LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE DATABASE :"name" OWNER {role};
"""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL is not installed or would not start: the E2E phase ends "skipped" with this reason."""


class SetupFailed(DatabaseError):
    """An ``e2e.setup`` command failed or ran out of time: the app's problem, so the attempt is skipped."""


class SeedLoad(BaseModel):
    """One seed file loaded: the entry as listed (a scenario or a repo path), its file, psql's time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str
    path: Path
    seconds: float


def find_bindir(explicit: Path | None = None) -> Path:
    """The directory holding initdb, pg_ctl and postgres: ``explicit``, else ``pg_config --bindir``,
    else the newest ``/usr/lib/postgresql/*/bin`` (Debian keeps them off PATH), else PATH's initdb."""
    candidates = [explicit] if explicit is not None else _bindir_candidates()
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in SERVER_BINARIES):
            return candidate
    raise DatabaseUnavailable(NOT_INSTALLED)


def _bindir_candidates() -> list[Path]:
    found: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                found.append(Path(out.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    found += sorted(versions, key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)], reverse=True)
    if initdb := shutil.which("initdb"):
        found.append(Path(initdb).parent)
    return found


def find_psql(bindir: Path | None = None) -> Path:
    """The psql client next to the server binaries (the server's own version), else PATH's. Debian's
    ``/usr/bin/psql`` is ``pg_wrapper``, a Perl script that works out a version on every call: 27 ms of
    CPU a call against 5 for the binary, and a phase calls psql for every seed and check."""
    with contextlib.suppress(DatabaseUnavailable):
        psql = find_bindir(bindir) / "psql"
        if os.access(psql, os.X_OK):
            return psql
    if on_path := shutil.which("psql"):
        return Path(on_path)
    raise DatabaseUnavailable("the PostgreSQL client is not installed (apt-get install postgresql-client)")


def clamp(text: str, limit: int = ERROR_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _environment(**extra: str) -> dict[str, str]:
    """Ours without PG* variables (a stray PGHOST or PGOPTIONS must not redirect or reconfigure us)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra)
    return env


def run_psql(
    psql: Path,
    dsn: str,
    args: Sequence[str],
    *,
    timeout: float,
    stdin: str | None = None,
    box: Box | None = None,
) -> subprocess.CompletedProcess[str]:
    """psql without rc files or password prompts, stopping at the first error; DatabaseError if it fails.

    It runs in ``box``'s network, where the database listens."""
    command = (box or Box()).trusted(_psql_command(psql, dsn, args))
    env = _environment(**CLIENT_ENV)
    try:
        result = subprocess.run(
            command,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            timeout=max(timeout, 0.1),
        )
    except subprocess.TimeoutExpired as exc:
        raise DatabaseError(f"psql did not finish in {timeout:.0f}s") from exc
    except OSError as exc:
        raise DatabaseUnavailable(f"could not run psql: {exc}") from exc
    if result.returncode != 0:
        raise DatabaseError(f"psql failed ({result.returncode}): {clamp(result.stderr or result.stdout)}")
    return result


def _psql_command(psql: Path, dsn: str, args: Sequence[str]) -> list[str]:
    return [str(psql), "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args]


def is_seed_path(entry: str) -> bool:
    """Whether an ``e2e.seeds`` entry is a file of the target (``e2e/seeds/users.sql``), not a scenario."""
    return "/" in entry or entry.endswith(".sql")


def seed_path(entry: str) -> PurePosixPath:
    """A target's seed file as written, checked: relative to the repository root, no ``..``, ``.sql``."""
    shown = repr(entry[:80])
    if len(entry) > MAX_SEED_PATH or any(ord(c) < 32 or c in "\\\x7f" for c in entry):
        raise ConfigError(
            f"seed file {shown}: at most {MAX_SEED_PATH} characters, no control characters or backslashes"
        )
    path = PurePosixPath(entry)
    if path.is_absolute():
        raise ConfigError(f"seed file {shown} is an absolute path: write it relative to the repository root")
    if ".." in path.parts:
        raise ConfigError(f"seed file {shown} contains '..': seed files must be inside the repository")
    if path.suffix != ".sql":
        raise ConfigError(f"seed file {shown} is not a .sql file")
    return path


def check_seed_entry(entry: str) -> str:
    """``entry`` when it names one of Factory's scenarios or a valid seed file path; ConfigError if not."""
    if is_seed_path(entry):
        seed_path(entry)
    elif entry not in SCENARIOS:
        raise ConfigError(
            f"unknown seed scenario {entry[:80]!r}: Factory's scenarios are {', '.join(SCENARIOS)}; "
            "a seed file of the repository is a path ending in .sql (e2e/seeds/users.sql)"
        )
    return entry


def repo_seed_file(entry: str, repo: Path | None) -> Path:
    """The target's seed file ``entry`` in the checkout ``repo``, resolved; ConfigError unless inside it."""
    relative = seed_path(entry)
    if repo is None:
        raise ConfigError(f"seed file {entry[:80]!r}: there is no repository checkout to read it from")
    root = repo.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):  # a symlink (the file's or a folder's) pointing out of the checkout
        raise ConfigError(f"seed file {entry[:80]!r} leads outside the repository (a symlink)")
    if not path.is_file():
        raise ConfigError(f"seed file {entry[:80]!r} is not a file in the repository")
    return path


def seed_files(seeds: Sequence[str], seeds_dir: Path, repo: Path | None = None) -> list[tuple[str, Path]]:
    """Each entry's file, in the order listed and each once; all checked before anything runs.

    A scenario is ``seeds_dir/<name>.sql``; a path is the target's file in the checkout ``repo``.
    """
    root = seeds_dir.resolve()
    files: list[tuple[str, Path]] = []
    missing: list[str] = []
    for entry in dict.fromkeys(seeds):
        if is_seed_path(entry):
            files.append((entry, repo_seed_file(entry, repo)))
            continue
        if not SCENARIO_NAME.fullmatch(entry):
            raise ConfigError(
                f"invalid seed scenario name {entry[:80]!r}: expected {SCENARIO_NAME.pattern} "
                "or a path ending in .sql"
            )
        path = root / f"{entry}.sql"
        # A symlink out of the seeds folder is refused like a missing file.
        if path.is_file() and path.resolve().parent == root:
            files.append((entry, path))
        else:
            missing.append(entry)
    if missing:
        have = ", ".join(sorted(p.stem for p in root.glob("*.sql"))) or "none"
        raise DatabaseError(f"no seed file for {', '.join(missing)} in {seeds_dir} (have: {have})")
    return files


def load_seeds(
    dsn: str,
    seeds: Sequence[str],
    seeds_dir: Path,
    *,
    repo: Path | None = None,
    timeout: float = 120.0,
    psql: Path | None = None,
    box: Box | None = None,
) -> list[SeedLoad]:
    """Load the seeds in the order listed, each file in one transaction; ``timeout`` is shared.

    Raises ConfigError for a path that is not a file inside ``repo``, and DatabaseError naming the
    entry and carrying psql's error when a file fails.
    """
    files = seed_files(seeds, seeds_dir, repo)
    client = psql or find_psql()
    deadline = time.monotonic() + timeout
    loads: list[SeedLoad] = []
    for entry, path in files:
        started = time.monotonic()
        args = ["--single-transaction", "-f", str(path)]
        try:
            if repo is not None and is_seed_path(entry):
                _run_untrusted_psql(client, dsn, args, repo, deadline - started, box)
            else:
                run_psql(client, dsn, args, timeout=deadline - started, box=box)
        except DatabaseError as exc:
            raise DatabaseError(f"seed {entry} ({path.name}) failed: {exc}") from exc
        loads.append(SeedLoad(scenario=entry, path=path, seconds=round(time.monotonic() - started, 3)))
    return loads


def _run_untrusted_psql(
    psql: Path, dsn: str, args: Sequence[str], cwd: Path, timeout: float, box: Box | None
) -> None:
    """psql on a file of the target's, as its other commands run: the file's meta-commands (``\\!``)
    can run programs, which must find none of our secrets and leave nothing running."""
    settings = " ".join(f"{name}={shlex.quote(value)}" for name, value in CLIENT_ENV.items())
    run = run_repo_command(f"{settings} {shlex.join(_psql_command(psql, dsn, args))}", cwd, timeout, box)
    if run.timed_out:
        raise DatabaseError(f"psql did not finish in {max(timeout, 0):.0f}s")
    if run.exit_code != 0:
        raise DatabaseError(f"psql failed ({run.exit_code}): {clamp(run.output)}")


def setup_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """Each placeholder as an environment variable, upper-cased: ``{database_url}`` is ``DATABASE_URL``."""
    env = {}
    for name, value in variables.items():
        if not ENV_NAME.fullmatch(env_name := name.upper()):
            raise ValueError(f"placeholder {name!r} is no environment variable name")
        env[env_name] = value
    return env


def run_setup(
    commands: Sequence[str],
    cwd: Path,
    variables: Mapping[str, str],
    timeout: float,
    box: Box | None = None,
    app: AppSide | None = None,
) -> list[CommandRun]:
    """Run the target's ``e2e.setup`` commands in order in its checkout, sharing one deadline.

    Each runs as its install commands do (``run_repo_command``), with the placeholders in its
    environment; the e2e phase runs them on the ``app``'s side of the box (its uid and configuration:
    jobs/sandbox/app.py), as its migrations need. Raises SetupFailed naming the first
    command that fails or times out, with the tail of its output.
    """
    runs: list[CommandRun] = []
    if not commands:
        return runs
    deadline = time.monotonic() + timeout
    # In the command's environment, never its argv: the run's API key is among them.
    env = setup_environment(variables)
    for command in commands:
        run = run_repo_command(command, cwd, deadline - time.monotonic(), box, env, app)
        runs.append(run)
        shown = clamp(command, 300)
        if run.timed_out:
            raise SetupFailed(f"e2e setup command timed out after {timeout:g}s: {shown}\n{_tail(run.output)}")
        if run.exit_code != 0:
            raise SetupFailed(f"e2e setup command failed ({run.exit_code}): {shown}\n{_tail(run.output)}")
    return runs


def _tail(output: str) -> str:
    text = output.strip()
    if not text:
        return "(no output)"
    return text if len(text) <= SETUP_OUTPUT_TAIL else "..." + text[-SETUP_OUTPUT_TAIL:]


def _server_user() -> tuple[int, int] | None:
    """The (uid, gid) to run the server as when we are root; None when we can run it ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise DatabaseUnavailable(
            f"as root, PostgreSQL must run as the '{SERVER_OS_USER}' user, which does not exist "
            "(apt-get install postgresql creates it)"
        ) from None
    return entry.pw_uid, entry.pw_gid


class TempPostgres:
    """A PostgreSQL cluster in a temp dir for one E2E run: ``with TempPostgres() as db: db.dsn``.

    ``dsn`` is ``postgresql://factory_app@127.0.0.1:PORT/DATABASE``, the app's (the database's owner, no
    superuser); ``admin_dsn()`` is the superuser's, through the unix socket, for our code alone.
    ``start_seconds`` is initdb, start and create-database together. On exit, and if starting fails,
    the server is stopped and the dir removed.
    """

    def __init__(
        self,
        database: str = "factory_e2e",
        *,
        bindir: Path | None = None,
        start_timeout: float = 30.0,
        parent_dir: Path | None = None,
        box: Box | None = None,
    ) -> None:
        if not DATABASE_NAME.fullmatch(database):
            raise DatabaseError(f"invalid database name {database[:80]!r}: expected {DATABASE_NAME.pattern}")
        self.database = database
        self.start_timeout = start_timeout
        self.root: Path | None = None
        self.port = 0
        self.start_seconds = 0.0
        self._bindir_hint = bindir
        self._bindir: Path | None = None
        self._parent_dir = parent_dir
        self._owner: tuple[int, int] | None = None
        self.box = box or Box()  # the server listens in the box's network, for the app's servers there

    @property
    def dsn(self) -> str:
        if not self.port:
            raise DatabaseError("the PostgreSQL cluster is not running")
        return f"postgresql://{APP_ROLE}@127.0.0.1:{self.port}/{self.database}"

    def admin_dsn(self, database: str | None = None) -> str:
        """The superuser's connection string, through the unix socket (libpq's key=value form)."""
        if not self.port or self.root is None:
            raise DatabaseError("the PostgreSQL cluster is not running")
        socket_dir = str(self.root / "socket").replace("\\", "\\\\").replace("'", "\\'")
        return f"host='{socket_dir}' port={self.port} user={SUPERUSER} dbname={database or self.database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while its data dir says it runs."""
        if self.root is None:
            return None
        try:
            return int((self.root / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """initdb, start on a free port, create the database. The caller stops it (``__enter__`` does).

        Raises DatabaseUnavailable, whatever the cause: without a database there is nothing to verify.
        """
        try:
            self._start()
        except DatabaseUnavailable:
            raise
        except (DatabaseError, OSError) as exc:
            raise DatabaseUnavailable(f"PostgreSQL could not start: {exc}") from exc

    def _start(self) -> None:
        started = time.monotonic()
        self._bindir = bindir = find_bindir(self._bindir_hint)
        psql = find_psql(bindir)
        self._owner = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="factory-pg-", dir=self._parent_dir))
        data, socket_dir, log = self.root / "data", self.root / "socket", self.root / "postgres.log"
        socket_dir.mkdir()
        socket_dir.chmod(0o700)  # the superuser's way in: the server's OS user's (and root's) alone
        if self._owner is not None:
            for path in (self.root, socket_dir):
                os.chown(path, *self._owner)
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust"]
        self._run_server_tool([*initdb, "-E", "UTF8", "--no-locale", "--no-sync"], timeout=120)
        # The data dir is the server's uid's: never follow a link there (one planted by whoever ran as that
        # uid would have us append to, or read, a file of its choosing).
        with os.fdopen(
            os.open(data / "postgresql.conf", os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW), "a"
        ) as conf:
            conf.write(SETTINGS.format(socket_dir=str(socket_dir).replace("'", "''")))
        with os.fdopen(os.open(data / "pg_hba.conf", os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW), "w") as hba:
            hba.write(HBA.format(superuser=SUPERUSER))
        wait = str(math.ceil(self.start_timeout))
        pg_ctl = [str(bindir / "pg_ctl"), "start", "-w", "-t", wait, "-D", str(data), "-l", str(log)]

        def start_on(port: int) -> int:
            log.unlink(missing_ok=True)
            code, output = self._run_server_tool(
                [*pg_ctl, "-o", f"-p {port}"], timeout=self.start_timeout + 10, check=False
            )
            if code == 0:
                return port
            tail = _read_unlinked(log)[-ERROR_CHARS:] or output
            self._stop_server()
            last_lines = "\n".join(tail.strip().splitlines()[-6:])
            exited = f"the server exited: {clamp(last_lines)}"
            raise PortTaken(exited) if "could not bind" in tail else DatabaseError(exited)

        try:
            self.port = on_a_free_port(start_on, lambda: self.box.call(free_port))
        except PortTaken as exc:
            raise DatabaseError(str(exc)) from None
        run_psql(
            psql,
            self.admin_dsn("postgres"),
            ["-v", f"name={self.database}"],
            stdin=APP_ROLE_SQL.format(role=APP_ROLE),
            timeout=30,
            box=self.box,
        )
        self.start_seconds = round(time.monotonic() - started, 3)

    def stop(self) -> None:
        """Stop the server (fast, then immediate, then SIGKILL) and remove the temp dir; safe to repeat."""
        if self.root is None:
            return
        try:
            self._stop_server()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            self.port = 0

    def _stop_server(self) -> None:
        pid = self.pid
        if pid is None or self._bindir is None or self.root is None:
            return
        pg_ctl, data = str(self._bindir / "pg_ctl"), str(self.root / "data")
        for mode in ("fast", "immediate"):
            stop = [pg_ctl, "stop", "-D", data, "-m", mode, "-w", "-t", str(STOP_TIMEOUT)]
            with contextlib.suppress(DatabaseError):
                if self._run_server_tool(stop, timeout=STOP_TIMEOUT + 10, check=False)[0] == 0:
                    return
        # pg_ctl could not stop it: kill the postmaster's children, then the postmaster. A stale pid
        # file's pid may belong to someone else by now, so only a postmaster of this data dir is killed.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return
        if data not in cmdline:
            return
        for victim in [*child_pids(pid), pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)

    def _run_server_tool(self, argv: list[str], *, timeout: float, check: bool = True) -> tuple[int, str]:
        """Run initdb or pg_ctl, as the server's OS user when we are root; (exit code, output)."""
        command = self.box.trusted(
            argv if self._owner is None else ["runuser", "-u", SERVER_OS_USER, "--", *argv]
        )
        name = Path(argv[0]).name
        try:
            result = subprocess.run(
                command,
                cwd=self.root,
                # Only PATH and the locale: none of our secrets in the server's environment, which a
                # superuser's SQL could read (the app's role is none: this is the second fence).
                env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise DatabaseError(f"{name} did not finish in {timeout:.0f}s") from exc
        except OSError as exc:
            raise DatabaseError(f"could not run {command[0]}: {exc}") from exc
        output = result.stdout + result.stderr
        if check and result.returncode != 0:
            raise DatabaseError(f"{name} failed ({result.returncode}): {clamp(output)}")
        return result.returncode, output


# The agent's database tool (jobs/mcp/database.py) reads through a role of its own that can only read.
READER_PREFIX = "factory_reader_"
READER_TIMEOUT = 10.0  # seconds one statement of the role may run
READER_CONNECTIONS = 4
READER_SQL = """\
CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
    NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {connections};
ALTER ROLE {role} SET default_transaction_read_only = on;
ALTER ROLE {role} SET statement_timeout = {timeout_ms};
ALTER ROLE {role} SET idle_in_transaction_session_timeout = {timeout_ms};
GRANT CONNECT ON DATABASE "{database}" TO {role};
DO $$
DECLARE schema_name name;
BEGIN
    FOR schema_name IN
        SELECT nspname FROM pg_namespace
        WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {role}', schema_name);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO {role}', schema_name);
    END LOOP;
END $$;
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO {role};
"""


def reader_role(
    db: TempPostgres, *, statement_timeout: float = READER_TIMEOUT, psql: Path | None = None
) -> str:
    """A new role of ``db`` that can only read, and its DSN (password included: keep it out of argv).

    It may log in (at most ``READER_CONNECTIONS`` at once) and is no superuser, cannot create databases
    or roles, and inherits nothing. It may connect, use every schema of the target's and SELECT from
    its tables, those the app's role makes later included; nothing else is granted, so
    PostgreSQL refuses any write (``permission denied``), and its transactions start read-only and its
    statements stop after ``statement_timeout`` seconds. Call it once seeded: schemas made later are
    not granted.

    The cluster trusts loopback connections of any role but the superuser (see the module's
    docstring), so the random password is not what holds the role to this: its grants and settings are.
    """
    timeout_ms = round(statement_timeout * 1000)
    if timeout_ms <= 0:
        raise ValueError(f"statement_timeout must be positive: {statement_timeout}")
    role, password = f"{READER_PREFIX}{secrets.token_hex(6)}", secrets.token_hex(24)
    sql = READER_SQL.format(
        role=role,
        password=password,
        connections=READER_CONNECTIONS,
        timeout_ms=timeout_ms,
        database=db.database,
        owner=APP_ROLE,
    )
    # The password goes in on psql's stdin, never in its argv (world-readable in /proc/<pid>/cmdline).
    run_psql(psql or find_psql(), db.admin_dsn(), ["--single-transaction"], stdin=sql, timeout=30, box=db.box)
    return f"postgresql://{role}:{password}@127.0.0.1:{db.port}/{db.database}"


def _read_unlinked(path: Path) -> str:
    """The file's text, or '' when it is missing or a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as file:
        return file.read().decode(errors="replace")


def child_pids(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found
