"""The target's ``.factory.yaml``: its e2e setup and seeds, validated with messages a human can act on."""

from __future__ import annotations

import re

import pytest

from jobs.errors import ConfigError
from jobs.phases.e2e.database import SCENARIOS, SEEDS_DIR
from jobs.target_config import parse_target_config
from tests.conftest import ROOT

SERVER = """
  servers:
    - name: {name}
      command: python3 -m app
      port: 8080
      health_url: http://127.0.0.1:8080/
"""


def e2e(body: str) -> str:
    return "e2e:\n" + body


def test_setup_and_seeds_mix_named_scenarios_and_repo_files_in_the_order_listed() -> None:
    config = parse_target_config(
        e2e(
            "  setup: ['.venv/bin/alembic upgrade head', 'python3 -m app.fixtures']\n"
            "  setup_timeout_seconds: 120\n"
            "  seeds: [e2e/seeds/users.sql, auth-users, ./demo.sql, base]\n"
        )
    ).e2e
    assert config.setup == [".venv/bin/alembic upgrade head", "python3 -m app.fixtures"]
    assert config.setup_timeout_seconds == 120
    assert config.seeds == ["e2e/seeds/users.sql", "auth-users", "./demo.sql", "base"]


def test_a_database_is_needed_for_setup_alone_or_seeds_alone() -> None:
    assert parse_target_config(e2e("  setup: [make migrate]\n")).e2e.needs_database
    assert parse_target_config(e2e("  seeds: [base]\n")).e2e.needs_database
    assert not parse_target_config(e2e("  pages: []\n")).e2e.needs_database
    assert parse_target_config(None).e2e.setup == []


def test_an_unknown_named_scenario_names_the_available_ones() -> None:
    with pytest.raises(ConfigError) as error:
        parse_target_config(e2e("  seeds: [base, auth_users]\n"))
    assert str(error.value) == (
        ".factory.yaml: e2e.seeds.1: unknown seed scenario 'auth_users': Factory's scenarios are "
        "auth-users, base, content-populated, multi-tenant; "
        "a seed file of the repository is a path ending in .sql (e2e/seeds/users.sql)"
    )


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("/etc/passwd.sql", "is an absolute path: write it relative to the repository root"),
        ("../other/seed.sql", "contains '..': seed files must be inside the repository"),
        ("e2e/../../seed.sql", "contains '..'"),
        ("e2e/seeds/users.csv", "is not a .sql file"),
        ("e2e\\\\seeds.sql", "no control characters or backslashes"),
        ("e2e/" + "a" * 300 + ".sql", "at most 300 characters"),
    ],
)
def test_seed_paths_outside_the_repository_are_refused(entry: str, why: str) -> None:
    with pytest.raises(ConfigError, match=r"^\.factory\.yaml: e2e\.seeds\.0: seed file .*" + re.escape(why)):
        parse_target_config(e2e(f'  seeds: ["{entry}"]\n'))


def test_setup_is_a_list_of_commands_and_unknown_keys_are_still_refused() -> None:
    with pytest.raises(ConfigError, match=r"e2e\.setup\.0: String should have at least 1 character"):
        parse_target_config(e2e("  setup: ['']\n"))
    with pytest.raises(ConfigError, match=r"e2e\.setup: Input should be a valid list"):
        parse_target_config(e2e("  setup: alembic upgrade head\n"))
    with pytest.raises(ConfigError, match=r"e2e\.migrations: Extra inputs are not permitted"):
        parse_target_config(e2e("  migrations: [alembic upgrade head]\n"))


def test_a_server_named_database_would_shadow_the_database_url() -> None:
    with pytest.raises(ConfigError, match=r"^\.factory\.yaml: e2e: no server may be named 'database'"):
        parse_target_config(e2e(SERVER.format(name="database")))
    assert parse_target_config(e2e(SERVER.format(name="db"))).e2e.servers[0].name == "db"


def test_the_named_scenarios_are_the_seed_folders_files() -> None:
    # Named in code because only the e2e image carries the folder; the names must not drift from it.
    assert sorted(path.stem for path in SEEDS_DIR.glob("*.sql")) == list(SCENARIOS)
    assert SEEDS_DIR == ROOT / "seeds"


def test_the_example_app_lists_the_base_schema_it_needs_first() -> None:
    config = parse_target_config((ROOT / "examples" / "notes-app" / ".factory.yaml").read_text()).e2e
    assert config.seeds[0] == "base"
    assert config.setup == []


def test_a_config_nested_past_the_parser_s_depth_is_an_error_not_a_crash() -> None:
    """The target's file is anyone's text: 25,000 brackets (25 KB, under the size cap) crash libyaml's
    parser with SIGSEGV, which would end the job with no result; it must be a ConfigError."""
    with pytest.raises(ConfigError, match="not valid YAML: the document is nested too deeply"):
        parse_target_config("install: " + "[" * 25_000)
