"""The throwaway PostgreSQL, the target's setup and seeds, against real Postgres (Debian's ``postgresql``).

Prints the cluster's start time and each seed file's load time (the E2E benchmark's "seeding").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.errors import ConfigError, DatabaseError
from jobs.phases.e2e.database import (
    SERVER_BINARIES,
    DatabaseUnavailable,
    SeedLoad,
    TempPostgres,
    child_pids,
    find_psql,
    load_seeds,
    seed_files,
)
from jobs.phases.e2e.phase import Skipped, prepare_database
from jobs.redact import Redactor
from jobs.target_config import E2EConfig, parse_target_config
from tests.conftest import ROOT, live_processes, processes_matching, still_running

SEEDS = ROOT / "seeds"
APP = ROOT / "examples" / "notes-app"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"  # any psql run against it would fail differently
ACME_TITLES = [
    "Empty note",
    "One word",
    "Groceries",
    "Spacing",
    "Punctuation",
    "Café notes",
    "Markup <b>stays</b> text",
    "Meeting minutes",
]
GLOBEX_TITLES = ["Globex roadmap", "Globex only", "Globex standup"]
TEST_KEYS = {  # documented in the seed files' comments
    "alice@acme.test": "notes-test-key-alice",
    "bob@acme.test": "notes-test-key-bob",
    "carol@globex.test": "notes-test-key-globex-carol",
}


def psql(dsn: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", "-X", "-q", "-w", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return result.stdout.strip()


def server_tree(db: TempPostgres) -> set[int]:
    """The postmaster and its children (checkpointer, walwriter, backends...)."""
    assert db.pid is not None
    return {db.pid, *child_pids(db.pid)}


def assert_nothing_left(root: Path, pids: dict[int, int]) -> None:
    assert still_running(pids) == set()
    assert processes_matching(str(root)) == []
    assert not root.exists()


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[TempPostgres, list[SeedLoad]]]:
    """One cluster with every scenario, base listed first, the others in no particular order, a duplicate."""
    with TempPostgres() as db:
        scenarios = ["base", "content-populated", "multi-tenant", "auth-users", "multi-tenant"]
        loads = load_seeds(db.dsn, scenarios, SEEDS)
        print(f"\nseeding: cluster start {db.start_seconds:.3f}s", end="")
        for load in loads:
            print(f", {load.scenario} {load.seconds:.3f}s", end="")
        print(f", total {db.start_seconds + sum(load.seconds for load in loads):.3f}s")
        yield db, loads


def test_cluster_starts_and_stops_leaving_nothing() -> None:
    with TempPostgres("scratch") as db:
        root, pids = db.root, live_processes(server_tree(db))
        assert root is not None and root.is_dir()
        assert len(pids) >= 2
        assert db.dsn == f"postgresql://factory_app@127.0.0.1:{db.port}/scratch"  # the owner, no superuser
        assert psql(db.dsn, "SELECT current_database(), current_setting('listen_addresses')") == (
            "scratch|127.0.0.1"
        )
        print(f"\ncluster start {db.start_seconds:.3f}s")
    assert_nothing_left(root, pids)
    db.stop()  # a second stop is harmless


def test_named_scenarios_load_in_the_order_listed_each_once(
    seeded: tuple[TempPostgres, list[SeedLoad]],
) -> None:
    _, loads = seeded
    assert [load.scenario for load in loads] == ["base", "content-populated", "multi-tenant", "auth-users"]
    assert [load.path for load in loads] == [SEEDS / f"{load.scenario}.sql" for load in loads]
    assert all(load.seconds > 0 for load in loads)


def test_base_is_not_loaded_unless_listed(seeded: tuple[TempPostgres, list[SeedLoad]]) -> None:
    db, _ = seeded
    psql(db.dsn, "CREATE DATABASE unlisted_base")
    other = db.dsn.rsplit("/", 1)[0] + "/unlisted_base"
    # Without base there is no notes table: the scenario that needs it fails, nothing was added for it.
    with pytest.raises(DatabaseError, match=r'seed content-populated .*relation "notes" does not exist'):
        load_seeds(other, ["content-populated"], SEEDS)
    assert psql(other, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def test_scenarios_give_each_tenant_its_rows(seeded: tuple[TempPostgres, list[SeedLoad]]) -> None:
    db, _ = seeded
    per_tenant = (
        "SELECT t.id, t.name, (SELECT count(*) FROM notes n WHERE n.tenant_id = t.id),"
        " (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) FROM tenants t ORDER BY t.id"
    )
    expected = "1|Acme|8|2\n2|Globex|3|1"
    assert psql(db.dsn, per_tenant) == expected
    hashes = dict(
        line.split("|") for line in psql(db.dsn, "SELECT email, api_key_hash FROM users").splitlines()
    )
    assert hashes == {email: hashlib.sha256(key.encode()).hexdigest() for email, key in TEST_KEYS.items()}
    # Loading the scenarios again changes nothing, and new rows get fresh ids.
    load_seeds(db.dsn, ["auth-users", "content-populated", "multi-tenant"], SEEDS)
    assert psql(db.dsn, per_tenant) == expected
    assert int(psql(db.dsn, "INSERT INTO tenants (name) VALUES ('Initech') RETURNING id")) > 2
    psql(db.dsn, "DELETE FROM tenants WHERE name = 'Initech'")


def test_broken_seed_fails_with_the_sql_error_and_leaves_nothing(tmp_path: Path) -> None:
    shutil.copy(SEEDS / "base.sql", tmp_path / "base.sql")
    (tmp_path / "broken.sql").write_text(
        "-- fails halfway: nothing of it may stay\n"
        "CREATE TABLE half_done (id int);\n"
        "INSERT INTO missing_table VALUES (1);\n"
    )
    with pytest.raises(DatabaseError) as failed, TempPostgres() as db:
        root, pids = db.root, live_processes(server_tree(db))
        try:
            load_seeds(db.dsn, ["base", "broken"], tmp_path)
        finally:
            rolled_back = psql(
                db.dsn, "SELECT to_regclass('half_done') IS NULL AND to_regclass('notes') IS NOT NULL"
            )
    message = str(failed.value)
    assert "seed broken (broken.sql) failed" in message
    assert 'relation "missing_table" does not exist' in message
    assert rolled_back == "t"
    assert root is not None
    assert_nothing_left(root, pids)


@pytest.mark.parametrize("name", ["Base", "x;y", "", "multi tenant", "a" * 65, "-rf", "a_b"])
def test_invalid_scenario_name_is_rejected_before_anything_runs(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid seed scenario name"):
        load_seeds(UNREACHABLE, ["content-populated", name], SEEDS)


def test_missing_or_escaping_seed_file_is_rejected_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"no seed file for no-such-scenario in .*have: auth-users, base"):
        load_seeds(UNREACHABLE, ["no-such-scenario"], SEEDS)
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1;\n")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / "base.sql", seeds / "base.sql")
    (seeds / "escape.sql").symlink_to(outside)
    with pytest.raises(DatabaseError, match="no seed file for escape"):
        load_seeds(UNREACHABLE, ["escape"], seeds)
    assert load_seeds(UNREACHABLE, [], tmp_path / "empty") == []  # nothing listed, nothing loaded


def test_missing_postgres_and_bad_names_are_clear_errors(tmp_path: Path) -> None:
    db = TempPostgres(bindir=tmp_path)
    with (
        pytest.raises(
            DatabaseUnavailable, match=r"^PostgreSQL is not installed \(apt-get install postgresql\)$"
        ),
        db,
    ):
        pass
    assert db.root is None
    with pytest.raises(DatabaseError, match="invalid database name"):
        TempPostgres("drop table; --")


def test_a_cluster_that_cannot_start_is_unavailable_and_leaves_nothing(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (bindir / name).write_text("#!/bin/sh\necho 'boom: no space left' >&2\nexit 1\n")
        (bindir / name).chmod(0o755)
    db = TempPostgres(bindir=bindir, parent_dir=tmp_path)
    with pytest.raises(DatabaseUnavailable, match=r"^PostgreSQL could not start: initdb failed \(\d+\)"), db:
        pass
    assert db.root is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_example_app_reads_the_seeded_notes(
    seeded: tuple[TempPostgres, list[SeedLoad]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = seeded
    monkeypatch.syspath_prepend(str(APP))
    from notes_app.pg_store import PgNoteStore
    from notes_app.server import store_from_env

    acme = store_from_env({"NOTES_DATABASE_URL": db.dsn})
    assert isinstance(acme, PgNoteStore)
    assert acme.check() == "Acme"
    notes = acme.list()
    assert [note.title for note in notes] == ACME_TITLES
    bodies = {note.title: note.body for note in notes}
    assert bodies["Empty note"] == ""
    assert bodies["Groceries"].splitlines()[:2] == ["milk", "eggs"]
    assert [len(note.body.split()) for note in notes] == [0, 1, 9, 10, 7, 5, 4, 56]
    globex = store_from_env({"NOTES_DATABASE_URL": db.dsn, "NOTES_TENANT": "2"})
    assert [note.title for note in globex.list()] == GLOBEX_TITLES
    assert globex.get(notes[0].id) is None

    # The app's own Postgres tests, which its suite skips without a database.
    run = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "tests.test_pg_store"],
        cwd=APP,
        env={**os.environ, "NOTES_TEST_DATABASE_URL": db.dsn},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "skipped" not in run.stderr
    assert run.stderr.rstrip().endswith("OK")


# -- a target that owns its data: setup (its migrations), then its own seed files ---------------------

MIGRATION = """
CREATE TABLE events (id serial PRIMARY KEY, what text NOT NULL);
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
INSERT INTO events (what) VALUES ('migration 001');
"""
# psql's meta-commands run programs: this one shows what the seed file's psql could see.
OWN_SEED = """\\! env > seed-env.txt
INSERT INTO events (what) VALUES ('seed accounts.sql');
INSERT INTO accounts (email) VALUES ('dana@example.test');
"""
CONFIG = """
e2e:
  setup:
    - psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f db/migrations/001.sql
    - env > setup-env.txt && psql -X -q -d "$DATABASE_URL" -c "INSERT INTO events (what) VALUES ('setup 2')"
  seeds: [e2e/seeds/accounts.sql]
"""
SECRET = "ghp_" + "s3cr3tTokenOfFactory0000000000"  # a GitHub-shaped token the job holds
VARIABLES = {"database_url": "", "api_key": "run-api-key-123456", "api_url": "http://127.0.0.1:8080"}


def target_app(root: Path) -> Path:
    """A checkout with its own migration and its own seed file, nothing of Factory's."""
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "db" / "migrations" / "001.sql").write_text(MIGRATION)
    (root / "e2e" / "seeds").mkdir(parents=True)
    (root / "e2e" / "seeds" / "accounts.sql").write_text(OWN_SEED)
    return root


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_target_setup_then_its_own_seed_file_load_in_order_and_base_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    app = target_app(tmp_path / "app")
    e2e = parse_target_config(CONFIG).e2e
    with TempPostgres() as db:
        dsn = db.dsn
        loads = prepare_database(dsn, e2e, app, {**VARIABLES, "database_url": dsn}, 60, str)
        events = psql(db.dsn, "SELECT what FROM events ORDER BY id")
        accounts = psql(db.dsn, "SELECT email FROM accounts")
        tables = psql(db.dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert events.splitlines() == ["migration 001", "setup 2", "seed accounts.sql"]
    assert accounts == "dana@example.test"
    assert tables.splitlines() == ["accounts", "events"]  # none of base's tenants, users, notes
    assert [(load.scenario, load.path) for load in loads] == [
        ("e2e/seeds/accounts.sql", app / "e2e" / "seeds" / "accounts.sql")
    ]
    # Setup sees the placeholders upper-cased, and none of our environment.
    setup_env = env_file(app / "setup-env.txt")
    assert setup_env["DATABASE_URL"] == dsn
    assert (setup_env["API_KEY"], setup_env["API_URL"]) == ("run-api-key-123456", "http://127.0.0.1:8080")
    assert setup_env["HOME"] != os.environ["HOME"]
    # The target's seed file ran its psql the same way: its meta-command found no token of ours.
    for seen in ("setup-env.txt", "seed-env.txt"):
        text = (app / seen).read_text()
        assert "GITHUB_TOKEN" not in text and SECRET not in text


def test_a_failing_setup_command_skips_naming_it_and_loads_no_seed(tmp_path: Path) -> None:
    app = target_app(tmp_path / "app")
    failing = f"echo 'alembic: revision 002 failed, token {SECRET}' >&2; exit 3"
    e2e = E2EConfig(setup=["true", failing], seeds=["e2e/seeds/accounts.sql"])
    with TempPostgres() as db:
        with pytest.raises(Skipped) as skipped:
            prepare_database(db.dsn, e2e, app, {**VARIABLES, "database_url": db.dsn}, 60, Redactor([SECRET]))
        assert psql(db.dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"
    reason = str(skipped.value)
    assert reason.startswith("e2e setup command failed (3): echo 'alembic: revision 002 failed")
    assert reason.endswith("alembic: revision 002 failed, token [REDACTED]")  # the output's tail
    assert SECRET not in reason and "Traceback" not in reason
    assert skipped.value.app_fault  # the app's doing: after a fix, the fix is what broke it


def test_a_setup_command_out_of_time_is_skipped_and_leaves_nothing(tmp_path: Path) -> None:
    marker = "61.4159"
    e2e = E2EConfig(setup=[f"sleep {marker} & sleep {marker}"])
    with TempPostgres() as db, pytest.raises(Skipped, match=rf"timed out after 1s: sleep {marker} &"):
        prepare_database(db.dsn, e2e, tmp_path, VARIABLES, 1, str)
    assert processes_matching(f"sleep {marker}") == []


def test_seed_paths_outside_the_checkout_are_config_errors(tmp_path: Path) -> None:
    app = target_app(tmp_path / "app")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "steal.sql").write_text("SELECT 1;\n")
    (app / "e2e" / "seeds" / "link.sql").symlink_to(outside / "steal.sql")
    (app / "e2e" / "elsewhere").symlink_to(outside, target_is_directory=True)
    (app / "e2e" / "seeds" / "inside.sql").symlink_to(app / "db" / "migrations" / "001.sql")
    refused = {
        "/etc/passwd.sql": "is an absolute path",
        "../outside/steal.sql": "contains '..'",
        "e2e/../../outside/steal.sql": "contains '..'",
        "e2e/seeds/link.sql": "leads outside the repository",
        "e2e/elsewhere/steal.sql": "leads outside the repository",
        "e2e/seeds/missing.sql": "is not a file in the repository",
        "e2e/seeds": "is not a .sql file",
    }
    for entry, why in refused.items():
        with pytest.raises(ConfigError, match=f"^seed file '{entry}' {why}"):
            load_seeds(UNREACHABLE, [entry], SEEDS, repo=app)  # refused before psql runs
    # A symlink that stays inside the checkout is the file it points to.
    inside = seed_files(["base", "e2e/seeds/inside.sql"], SEEDS, app)
    assert inside == [("base", SEEDS / "base.sql"), ("e2e/seeds/inside.sql", app / "db/migrations/001.sql")]
    with pytest.raises(ConfigError, match="no repository checkout"):
        seed_files(["e2e/seeds/accounts.sql"], SEEDS)


def test_psql_is_the_one_beside_the_server_not_path_s_wrapper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's /usr/bin/psql is pg_wrapper (Perl, 27 ms of CPU a call); the server's own psql is the
    binary, of the server's version. PATH's is the fallback for a client-only install."""
    bindir, path_dir = tmp_path / "bin", tmp_path / "path"
    for folder, names in ((bindir, (*SERVER_BINARIES, "psql")), (path_dir, ("psql",))):
        folder.mkdir()
        for name in names:
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(path_dir))
    assert find_psql(bindir) == bindir / "psql"
    (bindir / "psql").unlink()
    assert find_psql(bindir) == path_dir / "psql"
