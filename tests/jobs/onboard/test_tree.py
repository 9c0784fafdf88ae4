"""The agent's own tree: what it is given, what it cannot see, and what of its work our code takes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jobs.onboard.config import OnboardingConfig
from jobs.onboard.tree import closed_to_box, make_agent_tree, take_back
from jobs.sandbox import Box

PATHS = OnboardingConfig(eval_command="e {cases}").for_client("acme.example")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    skills = root / "clients/acme.example/skills"
    skills.mkdir(parents=True)
    (skills / "shipping.md").write_text("ship\n")
    (root / "clients/acme.example/config.yaml").write_text("name: Acme\n")
    (root / "clients/acme.example/eval.jsonl").write_text('{"id": "secret-1", "question": "held out?"}\n')
    (root / "bot").mkdir()
    (root / "bot/eval.py").write_text("print('eval')\n")
    return root


def test_the_tree_has_no_git_hides_what_it_is_told_and_gets_what_it_is_given(
    checkout: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "agent"
    before, hidden = make_agent_tree(
        checkout, tree, Box(), hide=(PATHS.dataset,), give={"onboarding/acme.example/brief.md": b"brief"}
    )
    assert hidden == []
    assert not (tree / ".git").exists()
    assert not (tree / PATHS.dataset).exists()
    assert (tree / "onboarding/acme.example/brief.md").read_bytes() == b"brief"
    assert set(before) == {
        "clients/acme.example/skills/shipping.md",
        "clients/acme.example/config.yaml",
        "bot/eval.py",
        "onboarding/acme.example/brief.md",
    }


def test_only_changes_to_tunable_paths_are_carried(checkout: Path, tmp_path: Path) -> None:
    tree = tmp_path / "agent"
    before, _ = make_agent_tree(
        checkout, tree, Box(), give={PATHS.dataset: b'{"id": "t-1", "question": "q?"}\n'}
    )
    (tree / "clients/acme.example/skills/shipping.md").write_text("ship better\n")
    (tree / "clients/acme.example/skills/returns.md").write_text("returns\n")
    (tree / "clients/acme.example/config.yaml").unlink()
    (tree / PATHS.dataset).write_text('{"id": "t-1", "question": "q?", "expected": "anything"}\n')
    (tree / "bot/eval.py").write_text("print('{\"results\": []}')\n")
    (tree / ".factory.yaml").write_text("onboarding: {}\n")
    os.symlink("/etc/passwd", tree / "clients/acme.example/skills/link.md")
    changes = take_back(tree, before, checkout, PATHS.may_change, lambda p: f"refused {p}", Box())
    assert set(changes.carried) == {
        "clients/acme.example/skills/shipping.md",
        "clients/acme.example/skills/returns.md",
        "clients/acme.example/config.yaml",
    }
    assert set(changes.refused) == {
        PATHS.dataset,
        "bot/eval.py",
        ".factory.yaml",
        "clients/acme.example/skills/link.md",
    }
    assert changes.why_refused["clients/acme.example/skills/link.md"] == "not a plain file"
    assert (checkout / "clients/acme.example/skills/shipping.md").read_text() == "ship better\n"
    assert not (checkout / "clients/acme.example/config.yaml").exists()
    assert "held out?" in (checkout / PATHS.dataset).read_text()  # the checkout's dataset untouched
    assert (checkout / "bot/eval.py").read_text() == "print('eval')\n"
    assert not (checkout / ".factory.yaml").exists()
    assert not (checkout / "clients/acme.example/skills/link.md").exists()


def test_a_closed_checkout_is_ours_alone_and_reopens_read_only(checkout: Path) -> None:
    with closed_to_box(checkout):
        assert checkout.stat().st_mode & 0o777 == 0o700
    assert checkout.stat().st_mode & 0o777 == 0o755


def test_copies_of_a_secret_case_elsewhere_in_the_repository_are_left_out(
    checkout: Path, tmp_path: Path
) -> None:
    copy = checkout / "examples/updates/eval.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_text('{"id": "secret-1", "question": "held out?"}\n')
    escaped = checkout / "fixtures/cases.json"
    escaped.parent.mkdir()
    escaped.write_text(json.dumps([{"id": "secret-2", "question": 'say "héllo"'}]))
    faq = checkout / "docs/faq.md"
    faq.parent.mkdir()
    faq.write_text("## held out?\nA question a FAQ asks too, without the case's id.\n")
    secret = (("secret-1", "held out?"), ("secret-2", 'say "héllo"'))
    before, hidden = make_agent_tree(
        checkout, tmp_path / "agent", Box(), hide=(PATHS.dataset,), secret=secret
    )
    assert hidden == ["examples/updates/eval.jsonl", "fixtures/cases.json"]
    assert "docs/faq.md" in before and "examples/updates/eval.jsonl" not in before


def test_what_running_python_leaves_is_neither_carried_nor_refused(checkout: Path, tmp_path: Path) -> None:
    tree = tmp_path / "agent"
    before, _ = make_agent_tree(checkout, tree, Box())
    for noise in ("bot/__pycache__/eval.cpython-311.pyc", ".pytest_cache/v/cache/lastfailed", "x.pyc"):
        (tree / noise).parent.mkdir(parents=True, exist_ok=True)
        (tree / noise).write_text("noise")
    (tree / "clients/acme.example/skills/shipping.md").unlink()
    (tree / "clients/acme.example/skills/shipping.md").mkdir()
    (tree / "clients/acme.example/skills/shipping.md/nested.md").write_text("a folder where a skill was")
    changes = take_back(tree, before, checkout, PATHS.may_change, lambda p: "refused", Box())
    assert changes.carried == ("clients/acme.example/skills/shipping.md",)  # its removal
    assert changes.refused == ("clients/acme.example/skills/shipping.md/nested.md",)
