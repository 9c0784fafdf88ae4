"""The onboarding demo material: a new client's source material (onboarding/<domain>/) and a knowledge-base
update of a shipped client (onboarding/updates/<domain>/), as Factory's onboard-client job uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import CLIENTS, NORTHWIND, REPO

from support_bot import eval as sb_eval
from support_bot.clients import is_domain, load_client
from support_bot.retrieval import split_passages

ONBOARDING = REPO / "onboarding"
NEW_CLIENTS = sorted(p for p in ONBOARDING.iterdir() if p.is_dir() and is_domain(p.name))
UPDATES = sorted((ONBOARDING / "updates").iterdir())


def test_there_is_a_new_client_s_material() -> None:
    assert [p.name for p in NEW_CLIENTS] == ["lumen-fitness.example"]


@pytest.mark.parametrize("folder", NEW_CLIENTS, ids=lambda p: p.name)
def test_a_new_client_s_kb_loads_once_copied_into_its_folder(folder: Path, tmp_path: Path) -> None:
    assert (folder / "brief.md").is_file()
    client = tmp_path / folder.name
    shutil.copytree(folder / "kb", client / "kb")
    (client / "config.yaml").write_text("name: X\ntone: concise\ngreeting: Hi.\nfallback: No.\nskills: [a]\n")
    (client / "skills").mkdir()
    (client / "skills" / "a.md").write_text("---\nname: a\ndescription: d\ntriggers: [x]\n---\n{passages}\n")
    docs = load_client(tmp_path, folder.name).kb
    assert len(docs) >= 5
    for doc in docs:
        passages = split_passages(doc)
        assert doc.title != doc.file and len(passages) >= 4, doc.file  # a "# " title, "## " sections
        assert all(p.section != doc.title for p in passages), doc.file  # nothing before the first section


@pytest.mark.parametrize("update", UPDATES, ids=lambda p: p.name)
def test_an_update_applies_to_a_shipped_client_and_keeps_its_cases(update: Path, tmp_path: Path) -> None:
    domain = update.name
    assert (update / "README.md").is_file() and (CLIENTS / domain).is_dir()
    shipped = [p for p in (update / "clients").rglob("*") if p.is_file()]
    if all((CLIENTS / p.relative_to(update / "clients")).is_file() for p in shipped) and all(
        (CLIENTS / p.relative_to(update / "clients")).read_bytes() == p.read_bytes() for p in shipped
    ):
        pytest.skip(f"the update is applied to clients/{domain} already (as the onboarding demo commits it)")
    shutil.copytree(CLIENTS, tmp_path, dirs_exist_ok=True)
    shutil.copytree(update / "clients", tmp_path, dirs_exist_ok=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in CLIENTS.iterdir())
    old = {json.loads(line)["id"] for line in (CLIENTS / domain / "eval.jsonl").read_text().splitlines()}
    new = {c.id for c in sb_eval.load_cases(tmp_path / domain / "eval.jsonl")}
    assert old < new
    # The old skills still load with the new files; the cases the skills do not cover yet fail.
    report = sb_eval.evaluate(tmp_path, domain)
    assert 0 < report["accuracy"] < 1 and all("error" not in r["got"] for r in report["results"])


def test_northwind_s_update_is_there() -> None:
    assert [p.name for p in UPDATES] == [NORTHWIND]
