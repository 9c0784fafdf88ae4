"""Words, stems and terms: routing and retrieval compare only what these functions return."""

from __future__ import annotations

import pytest

from support_bot.text import squash, stem, stems, terms, words


def test_words_are_lower_cased_and_split_on_punctuation() -> None:
    assert words("Where's my ORDER #AC-20481234?") == ["where", "s", "my", "order", "ac", "20481234"]


def test_words_keep_letters_of_any_script() -> None:
    assert words("Café déjà-vu, Ünïcode") == ["café", "déjà", "vu", "ünïcode"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("deliveries", "delivery"),
        ("shipping", "ship"),
        ("shipped", "ship"),
        ("refunds", "refund"),
        ("returned", "return"),
        ("boxes", "box"),
        ("glasses", "glass"),
        ("address", "address"),
        ("status", "status"),
        ("bag", "bag"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_stems_keep_stopwords_and_terms_drop_them() -> None:
    assert stems("Where is my parcel") == ["where", "is", "my", "parcel"]
    assert terms("Where is my parcel") == ["where", "parcel"]


def test_squash_ignores_case_and_spacing() -> None:
    assert squash("  Free   shipping\non Orders ") == "free shipping on orders"
