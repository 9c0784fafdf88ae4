"""Loading a client's files: the shipped clients load, and each kind of mistake names its file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import ACME, CLIENTS, NORTHWIND

from support_bot.clients import ClientFileError, is_domain, load_client, split_front_matter


@pytest.mark.parametrize("domain", [ACME, NORTHWIND])
def test_shipped_clients_load(domain: str) -> None:
    files = load_client(CLIENTS, domain)
    assert files.config.domain == domain
    assert [s.name for s in files.skills] == list(files.config.skills)
    assert len(files.skills) >= 5 and len(files.kb) >= 6
    assert all(skill.triggers and skill.description for skill in files.skills)


@pytest.mark.parametrize("domain", [ACME, NORTHWIND])
def test_shipped_eval_cases_name_known_skills(domain: str) -> None:
    files = load_client(CLIENTS, domain)
    known = {s.name for s in files.skills} | {"greeting", "fallback"}
    lines = (CLIENTS / domain / "eval.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    assert len(cases) >= 20  # staff add cases as a client's knowledge base grows
    assert {c["expected_skill"] for c in cases} <= known
    assert all(c["expected_facts"] for c in cases)


@pytest.fixture
def acme_copy(tmp_path: Path) -> Path:
    shutil.copytree(CLIENTS / ACME, tmp_path / ACME)
    return tmp_path


def test_missing_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(ClientFileError, match=r"config\.yaml: no such file"):
        load_client(tmp_path, "nobody.example")


def test_unknown_tone_is_refused(acme_copy: Path) -> None:
    config = acme_copy / ACME / "config.yaml"
    config.write_text(config.read_text().replace("tone: friendly", "tone: sarcastic"))
    with pytest.raises(ClientFileError, match="tone must be one of"):
        load_client(acme_copy, ACME)


def test_enabled_skill_without_a_file_is_refused(acme_copy: Path) -> None:
    (acme_copy / ACME / "skills" / "payments.md").unlink()
    with pytest.raises(ClientFileError, match=r"payments\.md: no such file"):
        load_client(acme_copy, ACME)


def test_skill_named_differently_from_its_file_is_refused(acme_copy: Path) -> None:
    skill = acme_copy / ACME / "skills" / "account.md"
    skill.write_text(skill.read_text().replace("name: account", "name: profile"))
    with pytest.raises(ClientFileError, match="name must be 'account'"):
        load_client(acme_copy, ACME)


def test_skill_pointing_at_a_missing_kb_file_is_refused(acme_copy: Path) -> None:
    skill = acme_copy / ACME / "skills" / "account.md"
    skill.write_text(skill.read_text().replace("kb: [account.md]", "kb: [profile.md]"))
    with pytest.raises(ClientFileError, match="kb names missing files"):
        load_client(acme_copy, ACME)


def test_disabled_skill_files_are_ignored(acme_copy: Path) -> None:
    config = acme_copy / ACME / "config.yaml"
    config.write_text(config.read_text().replace("  - account\n", ""))
    assert "account" not in [s.name for s in load_client(acme_copy, ACME).skills]


def test_front_matter_is_required(tmp_path: Path) -> None:
    with pytest.raises(ClientFileError, match="front matter"):
        split_front_matter("just markdown\n", tmp_path / "x.md")
    meta, body = split_front_matter("---\nname: x\n---\nBody text\n", tmp_path / "x.md")
    assert meta == {"name": "x"} and body == "Body text"


@pytest.mark.parametrize("domain", ["../etc", "ACME.example", "localhost", "a..example", "-a.example", ""])
def test_domains_that_are_not_folder_safe_are_refused(domain: str, tmp_path: Path) -> None:
    assert not is_domain(domain)
    with pytest.raises(ClientFileError, match="not a domain name"):
        load_client(tmp_path, domain)
