"""BM25 over knowledge-base sections: the right section first, restricted to a skill's documents."""

from __future__ import annotations

from support_bot.clients import KBDoc
from support_bot.retrieval import Index, split_passages

DOCS = [
    KBDoc(
        "shipping.md",
        "Shipping",
        "# Shipping\n\nWe ship from Ohio.\n\n## Costs\nStandard delivery costs $4.95,\nexpress $12.95.\n\n"
        "## Customs\nCustoms duties are paid by the recipient.\n",
    ),
    KBDoc(
        "returns.md",
        "Returns",
        "# Returns\n\n## Return window\nReturn items within 30 days.\n- unused\n- boxed\n",
    ),
]


def test_sections_are_passages_and_wrapped_lines_are_joined() -> None:
    passages = split_passages(DOCS[0])
    assert [(p.section, p.text) for p in passages] == [
        ("Shipping", "We ship from Ohio."),
        ("Costs", "Standard delivery costs $4.95, express $12.95."),
        ("Customs", "Customs duties are paid by the recipient."),
    ]


def test_list_items_keep_their_lines() -> None:
    [passage] = split_passages(DOCS[1])
    assert passage.text == "Return items within 30 days.\n- unused\n- boxed"


def test_the_matching_section_ranks_first() -> None:
    hits = Index(DOCS).search("who pays customs duties?")
    assert hits[0].passage.section == "Customs"
    assert all(h.score > 0 for h in hits)


def test_search_can_be_restricted_to_some_documents() -> None:
    index = Index(DOCS)
    assert index.search("return delivery", docs=("returns.md",))[0].passage.doc == "returns.md"
    assert all(h.passage.doc == "shipping.md" for h in index.search("return delivery", docs=("shipping.md",)))


def test_nothing_in_common_finds_nothing() -> None:
    assert Index(DOCS).search("weather forecast") == []


def test_results_are_the_same_every_time() -> None:
    first = Index(DOCS).search("delivery costs customs", limit=3)
    assert all(Index(DOCS).search("delivery costs customs", limit=3) == first for _ in range(5))
