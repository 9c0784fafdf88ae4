"""The throwaway PostgreSQL and the seed scenarios, against real Postgres (Debian's ``postgresql``).

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

from jobs.errors import DatabaseError
from jobs.phases.e2e.database import DatabaseUnavailable, SeedLoad, TempPostgres, child_pids, load_seeds
from tests.conftest import ROOT, processes_matching

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


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies waiting for init to reap them do not count)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def assert_nothing_left(root: Path, pids: set[int]) -> None:
    assert alive(pids) == set()
    assert processes_matching(str(root)) == []
    assert not root.exists()


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[TempPostgres, list[SeedLoad]]]:
    """One cluster with every scenario, asked for out of order, with base missing and a duplicate."""
    with TempPostgres() as db:
        loads = load_seeds(db.dsn, ["content-populated", "multi-tenant", "auth-users", "multi-tenant"], SEEDS)
        print(f"\nseeding: cluster start {db.start_seconds:.3f}s", end="")
        for load in loads:
            print(f", {load.scenario} {load.seconds:.3f}s", end="")
        print(f", total {db.start_seconds + sum(load.seconds for load in loads):.3f}s")
        yield db, loads


def test_cluster_starts_and_stops_leaving_nothing() -> None:
    with TempPostgres("scratch") as db:
        root, pids = db.root, server_tree(db)
        assert root is not None and root.is_dir()
        assert len(alive(pids)) >= 2
        assert db.dsn == f"postgresql://postgres@127.0.0.1:{db.port}/scratch"
        assert psql(db.dsn, "SELECT current_database(), current_setting('listen_addresses')") == (
            "scratch|127.0.0.1"
        )
        print(f"\ncluster start {db.start_seconds:.3f}s")
    assert_nothing_left(root, pids)
    db.stop()  # a second stop is harmless


def test_seeds_load_in_order_base_first(seeded: tuple[TempPostgres, list[SeedLoad]]) -> None:
    _, loads = seeded
    assert [load.scenario for load in loads] == ["base", "content-populated", "multi-tenant", "auth-users"]
    assert [load.path for load in loads] == [SEEDS / f"{load.scenario}.sql" for load in loads]
    assert all(load.seconds > 0 for load in loads)


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
        root, pids = db.root, server_tree(db)
        try:
            load_seeds(db.dsn, ["broken"], tmp_path)
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


@pytest.mark.parametrize("name", ["../etc/passwd", "Base", "x;y", "", "multi tenant", "a" * 65, "-rf", "a_b"])
def test_invalid_scenario_name_is_rejected_before_anything_runs(name: str) -> None:
    with pytest.raises(DatabaseError, match="invalid seed scenario name"):
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
    with pytest.raises(DatabaseError, match="no seed file for base"):
        load_seeds(UNREACHABLE, [], tmp_path / "empty")


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
