"""The client's eval dataset: checked by our code, then split into a tuning part and a held-out part.

The dataset is JSON lines, one case per line, each an object with a unique ``id`` and a ``question``
(the target's eval reads the rest). Whoever wrote it (an agent, from untrusted material), it is held
to what our code can check: it parses, has enough cases, and asks no question twice. The split is a
function of the client and the case ids alone, so every run, round and mode cuts the same dataset the
same way. A dataset that grows (staff add cases with a knowledge-base change) is cut afresh, so a case
may move between the parts from one run to the next; within a run, every eval uses one cut.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from jobs.errors import StepFailed

MAX_DATASET_BYTES = 2 * 1024 * 1024
MAX_QUESTION_CHARS = 2_000


class DatasetError(StepFailed):
    """The dataset cannot be used; the message says which line and why."""


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    line: str  # the case as the dataset holds it (one JSON line): what a part's file is made of


@dataclass(frozen=True)
class Split:
    tuning: tuple[Case, ...]
    held_out: tuple[Case, ...]

    @property
    def held_out_ids(self) -> frozenset[str]:
        return frozenset(case.id for case in self.held_out)


def _same_question(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def parse_dataset(data: bytes, min_cases: int) -> list[Case]:
    """The cases, or DatasetError naming the first problem."""
    if len(data) > MAX_DATASET_BYTES:
        raise DatasetError(f"the dataset is larger than {MAX_DATASET_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError("the dataset is not UTF-8 text") from None
    cases: list[Case] = []
    ids: set[str] = set()
    questions: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        case = _case(line, number)
        if case.id in ids:
            raise DatasetError(f"line {number}: the id {case.id!r} is used twice")
        same = _same_question(case.question)
        if same in questions:
            raise DatasetError(f"line {number}: the same question as {questions[same]!r}")
        ids.add(case.id)
        questions[same] = case.id
        cases.append(case)
    if len(cases) < min_cases:
        raise DatasetError(
            f"the dataset has {len(cases)} case(s); the onboarding asks for at least {min_cases}"
        )
    return cases


def _case(line: str, number: int) -> Case:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"line {number}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"line {number}: a case is a JSON object")
    case_id, question = data.get("id"), data.get("question")
    if not isinstance(case_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", case_id):
        raise DatasetError(f"line {number}: id must be 1-100 of A-Z a-z 0-9 . _ -")
    if not isinstance(question, str) or not question.strip() or len(question) > MAX_QUESTION_CHARS:
        raise DatasetError(
            f"line {number}: question must be non-empty text of at most {MAX_QUESTION_CHARS} characters"
        )
    return Case(case_id, question, json.dumps(data, ensure_ascii=False))


def split(client: str, cases: list[Case], held_out_fraction: float) -> Split:
    """Held-out: the ``round(n * fraction)`` cases (at least one, never all) whose hash of client and
    id comes first; the rest, in the dataset's order, is the tuning part."""
    ranked = sorted(cases, key=lambda case: hashlib.sha256(f"{client}\0{case.id}".encode()).hexdigest())
    count = min(max(round(len(cases) * held_out_fraction), 1), len(cases) - 1)
    held = {case.id for case in ranked[:count]}
    return Split(
        tuning=tuple(case for case in cases if case.id not in held),
        held_out=tuple(case for case in cases if case.id in held),
    )


def cases_file(cases: tuple[Case, ...] | list[Case]) -> bytes:
    """A part as the eval command reads it: the cases' own lines."""
    return "".join(f"{case.line}\n" for case in cases).encode()
