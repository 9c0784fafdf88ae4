"""The target's onboarding: section, as .factory.yaml gives it."""

from __future__ import annotations

import pytest

from jobs.errors import ConfigError
from jobs.onboard.config import check_client, path_matches
from jobs.target_config import parse_target_config

EVAL = "eval_command: .venv/bin/python -m bot.eval --client {client} --cases {cases} --json"


def test_defaults_and_one_clients_paths() -> None:
    config = parse_target_config(f"onboarding:\n  {EVAL}\n").onboarding
    assert config is not None
    paths = config.for_client("acme-shop.example")
    assert paths.dataset == "clients/acme-shop.example/eval.jsonl"
    assert (
        paths.eval_command("x y.jsonl")
        == ".venv/bin/python -m bot.eval --client acme-shop.example --cases 'x y.jsonl' --json"
    )
    assert paths.may_change("clients/acme-shop.example/skills/shipping.md")
    assert paths.may_change("clients/acme-shop.example/config.yaml")
    assert not paths.may_change("clients/acme-shop.example/eval.jsonl")
    assert not paths.may_change("clients/other.example/config.yaml")
    assert not paths.may_change("support_bot/eval.py")


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("eval_command: run {client}", "must take the cases file as {cases}"),
        (f"{EVAL}\n  dataset: /etc/passwd", "must be a path inside the repository"),
        (f"{EVAL}\n  client_dir: ../up/{{client}}", "must be a path inside the repository"),
        (f"{EVAL}\n  dataset: clients/{{client}}/{{secret}}.jsonl", "unknown placeholder {secret}"),
        (f"{EVAL}\n  tunable: ['clients/{{client}}/*']", "covers the dataset"),
        (f"{EVAL}\n  held_out_fraction: 1", "held_out_fraction"),
        (f"{EVAL}\n  surprise: 1", "surprise"),
        (
            f"{EVAL}\n  tunable: ['prompts/{{client}}.md']",
            "tunable 'prompts/{client}.md' must be inside client_dir",
        ),
        (
            f"{EVAL}\n  dataset: evals/{{client}}.jsonl",
            "dataset 'evals/{client}.jsonl' must be inside client_dir",
        ),
    ],
)
def test_a_bad_section_is_refused_with_its_reason(section: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("{", r"\{").replace("}", r"\}")):
        parse_target_config(f"onboarding:\n  {section}\n")


@pytest.mark.parametrize(
    "client",
    [
        "",
        "acme",
        "Acme.example",
        "a..b",
        "-a.example",
        "a.example/../x",
        "a b.example",
        "x" * 120 + ".example",
    ],
)
def test_a_client_must_be_a_plain_domain(client: str) -> None:
    with pytest.raises(ConfigError, match="invalid client"):
        check_client(client)


def test_a_client_domain_is_taken_as_it_is() -> None:
    assert check_client("lumen-fitness.example") == "lumen-fitness.example"


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("clients/a/skills/x.md", "clients/a/skills/*.md", True),
        ("clients/a/skills/x.md/y.md", "clients/a/skills/*.md", False),
        ("clients/a/skills/deep/y.md", "clients/a/skills/**", True),
        ("clients/a/config.yaml", "clients/a/config.yaml", True),
        ("clients/a/configxyaml", "clients/a/config.yaml", False),
        ("evil/clients/a/config.yaml", "clients/a/config.yaml", False),
    ],
)
def test_a_tunable_glob_matches_whole_paths_segment_by_segment(
    path: str, pattern: str, matches: bool
) -> None:
    assert path_matches(path, pattern) is matches
