"""The bot's answers on the shipped clients, composing, and the catalog of client folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import ACME, CLIENTS, INITECH, NORTHWIND

from support_bot.clients import ClientConfig, ClientFileError, ClientFiles, KBDoc, Skill, load_client
from support_bot.engine import Bot, Catalog


@pytest.fixture(scope="module")
def acme() -> Bot:
    return Bot(load_client(CLIENTS, ACME))


@pytest.fixture(scope="module")
def northwind() -> Bot:
    return Bot(load_client(CLIENTS, NORTHWIND))


def test_answer_quotes_the_knowledge_base_and_names_its_sources(acme: Bot) -> None:
    answer = acme.answer("How much is shipping?")
    assert answer.skill == "shipping"
    assert "$4.95" in answer.text and "free on orders over $50" in answer.text
    assert answer.sources[0].doc == "shipping.md"
    assert answer.sources[0].as_dict() == {
        "doc": "shipping.md",
        "title": "Shipping and delivery",
        "section": "How much delivery costs and how long it takes",
    }


def test_skill_body_frames_the_passages(acme: Bot) -> None:
    answer = acme.answer("Can I pay in instalments?")
    assert answer.text.startswith("Happy to help! Here is how payment works:\n\n")
    assert "4 interest-free instalments with Klarna" in answer.text


def test_tone_sets_the_opening(northwind: Bot) -> None:
    answer = northwind.answer("How big can my cabin bag be?")
    assert answer.skill == "baggage"
    assert answer.text.startswith("Thank you for your question.")


def test_retrieval_stays_in_the_skill_s_documents(northwind: Bot) -> None:
    answer = northwind.answer("Do I need an ESTA for my holiday?")
    assert answer.skill == "travel-documents"
    assert {s.doc for s in answer.sources} == {"documents.md"}


def test_greeting_and_fallback_come_from_the_config(acme: Bot) -> None:
    greeting = acme.answer("Hello!")
    assert (greeting.skill, greeting.text, greeting.sources) == ("greeting", acme.config.greeting, ())
    fallback = acme.answer("Do you sell garden furniture in your stores?")
    assert (fallback.skill, fallback.text, fallback.sources) == ("fallback", acme.config.fallback, ())


def test_a_skill_with_nothing_to_quote_says_the_fallback() -> None:
    config = ClientConfig("shop.example", "Shop", "concise", "Hi.", "Ask our team.", ("wrapping",))
    wrapping = Skill("wrapping", "Gift wrap", ("gift wrap",), "About gift wrapping:\n\n{passages}")
    kb = (KBDoc("shipping.md", "Shipping", "# Shipping\n\n## Costs\nDelivery costs $5."),)
    answer = Bot(ClientFiles(config, (wrapping,), kb)).answer("Do you gift wrap?")
    assert (answer.skill, answer.text, answer.sources) == (
        "wrapping",
        "About gift wrapping:\n\nAsk our team.",
        (),
    )


def test_answers_are_deterministic(acme: Bot) -> None:
    question = "The parcel says delivered but it is not here"
    first = acme.answer(question)
    assert all(Bot(load_client(CLIENTS, ACME)).answer(question) == first for _ in range(3))


def test_catalog_knows_which_clients_have_files() -> None:
    catalog = Catalog(CLIENTS)
    assert catalog.is_configured(ACME) and not catalog.is_configured(INITECH)
    assert catalog.get(INITECH) is None
    assert catalog.get("../clients") is None
    bot = catalog.get(ACME)
    assert bot is not None and catalog.get(ACME) is bot  # built once


def test_catalog_reloads_a_client_whose_files_changed(tmp_path: Path) -> None:
    shutil.copytree(CLIENTS / ACME, tmp_path / ACME)
    catalog = Catalog(tmp_path)
    before = catalog.get(ACME)
    assert before is not None
    config = tmp_path / ACME / "config.yaml"
    config.write_text(config.read_text().replace("tone: friendly", "tone: concise"))
    later = config.stat().st_mtime + 5
    os.utime(config, (later, later))
    after = catalog.get(ACME)
    assert after is not None and after is not before and after.config.tone == "concise"


def test_catalog_reports_broken_files(tmp_path: Path) -> None:
    shutil.copytree(CLIENTS / ACME, tmp_path / ACME)
    (tmp_path / ACME / "config.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ClientFileError, match="not valid YAML"):
        Catalog(tmp_path).get(ACME)
