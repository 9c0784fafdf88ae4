"""The dataset as our code checks and splits it: whatever wrote it, it is held to what can be checked."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from jobs.onboard.dataset import DatasetError, cases_file, parse_dataset, split


def lines(*cases: Mapping[str, object]) -> bytes:
    return "".join(json.dumps(case) + "\n" for case in cases).encode()


def many(count: int, prefix: str = "c") -> bytes:
    return lines(*({"id": f"{prefix}-{n:02d}", "question": f"Question number {n}?"} for n in range(count)))


def test_a_good_dataset_parses_with_its_lines_kept() -> None:
    data = lines(
        {"id": "a-1", "question": "Where is my order?", "expected_skill": "orders"},
        {"id": "a-2", "question": "Hi"},
    )
    cases = parse_dataset(data, min_cases=2)
    assert [c.id for c in cases] == ["a-1", "a-2"]
    assert json.loads(cases[0].line)["expected_skill"] == "orders"
    assert cases_file(cases) == data


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"{not json}\n", "line 1: not JSON"),
        (b"[1, 2]\n", "line 1: a case is a JSON object"),
        (lines({"id": "../x", "question": "q"}), "line 1: id must be"),
        (lines({"id": "a", "question": "  "}), "line 1: question must be"),
        (
            lines({"id": "a", "question": "Where is it?"}, {"id": "a", "question": "Other?"}),
            "line 2: the id 'a' is used twice",
        ),
        (
            lines(
                {"id": "a", "question": "Where is my order?"}, {"id": "b", "question": "where is  my ORDER"}
            ),
            "line 2: the same question as 'a'",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_dataset_is_refused_naming_the_line(data: bytes, says: str) -> None:
    with pytest.raises(DatasetError, match=says.replace("(", r"\(").replace("[", r"\[")):
        parse_dataset(data, min_cases=1)


def test_too_few_cases_are_refused() -> None:
    with pytest.raises(DatasetError, match="has 3 case"):
        parse_dataset(many(3), min_cases=10)


def test_the_split_is_a_function_of_client_and_ids() -> None:
    cases = parse_dataset(many(30), min_cases=10)
    first = split("acme.example", cases, 0.3)
    again = split("acme.example", list(reversed(cases)), 0.3)
    other = split("other.example", cases, 0.3)
    assert len(first.held_out) == 9 and len(first.tuning) == 21
    assert first.held_out_ids == again.held_out_ids  # the order of the file does not matter
    assert first.held_out_ids != other.held_out_ids  # each client its own cut
    assert not first.held_out_ids & {c.id for c in first.tuning}
    # Adding cases never moves an old held-out case into the tuning part... unless it is outranked:
    # what matters is that the cut is stable for the same dataset, every run and mode.
    assert [c.id for c in first.tuning] == [c.id for c in cases if c.id not in first.held_out_ids]


@pytest.mark.parametrize(
    ("count", "fraction", "held"), [(2, 0.3, 1), (3, 0.99, 2), (10, 0.01, 1), (10, 0.5, 5)]
)
def test_both_parts_always_have_a_case(count: int, fraction: float, held: int) -> None:
    parts = split("acme.example", parse_dataset(many(count), min_cases=2), fraction)
    assert len(parts.held_out) == held and len(parts.tuning) == count - held
