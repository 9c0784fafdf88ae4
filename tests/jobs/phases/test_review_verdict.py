"""The reviewer's verdict parser (C4): valid replies parse; malformed ones never pass, never even parse.

The malformed corpus is built from categories, each case naming the fragment its error message must
contain, so every case fails for the reason it was written for (not by accident). A seeded mutation
fuzz checks the parser against a plain-Python reference of the rules.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from typing import Any

import pytest

from jobs.errors import FactoryError
from jobs.phases.review.verdict import (
    CRITERIA,
    PASS_SCORE,
    Review,
    ReviewIssue,
    ReviewParseError,
    Scores,
    parse_review,
    review_schema,
)
from jobs.replies import MAX_REPLY_CHARS

PASSING: dict[str, Any] = {
    "scores": {
        "correctness": 5,
        "code_quality": 4,
        "test_coverage": 4,
        "type_safety": 5,
        "security": 5,
        "documentation": 4,
    },
    "summary": "Adds retry with backoff to the Linear client; the failure path is tested.",
    "issues": [
        {
            "file": "jobs/tickets/linear.py",
            "line": 42,
            "criterion": "documentation",
            "change": "Say in the docstring which errors are retried.",
        }
    ],
}
FAILING: dict[str, Any] = {
    "scores": {**PASSING["scores"], "correctness": 2, "test_coverage": 3},
    "summary": "The retry loop never gives up on a 401.",
    "issues": [
        {
            "file": "jobs/tickets/linear.py",
            "line": 57,
            "criterion": "correctness",
            "change": "Retry only 429 and 5xx; raise at once on 401.",
        },
        {
            "file": "tests/test_tickets_linear.py",
            "line": None,
            "criterion": "test_coverage",
            "change": "Test 401.",
        },
    ],
}
RAW = "__RAW__"


def dumps(doc: Any, indent: int | None = None) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False)


def edit(
    doc: dict[str, Any], path: tuple[str | int, ...], value: Any, *, delete: bool = False
) -> dict[str, Any]:
    """A deep copy of ``doc`` with the value at ``path`` replaced (or deleted)."""
    out = copy.deepcopy(doc)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def raw(doc: dict[str, Any], path: tuple[str | int, ...], token: str) -> str:
    """``doc`` serialized with the value at ``path`` replaced by a raw token (NaN, 4.0, 04, ...)."""
    return dumps(edit(doc, path, RAW)).replace(f'"{RAW}"', token)


def malformed_corpus() -> list[tuple[str, str, str]]:
    """(category, reply text, fragment the error message must contain)."""
    cases: list[tuple[str, str, str]] = []

    def add(category: str, text: str, expect: str) -> None:
        cases.append((category, text, expect))

    docs = [dumps(PASSING), dumps(PASSING, indent=2)]
    before = ["Here is my review:", "Sure! ", "Review:\n", "I reviewed the diff.\n\n", "Based on the diff, "]
    before += ["Output:", "json\n", "<answer>"]
    after = ["\nLet me know if you need more.", " Hope this helps.", "\n\nOverall it passes.", "</answer>"]
    after += [".", "\n---", "\nVERDICT: PASS", " :)"]
    for doc in docs:
        for phrase in before:
            add("prose before", phrase + doc, "no text before it")
        for phrase in after:
            add("prose after", doc + phrase, "nothing after it")
        for i in range(8):
            add("prose around", before[i] + doc + after[(i * 3) % 8], "no text before it")

    fences = [
        ("```json\n{}\n```", "code fence"),
        ("```\n{}\n```", "code fence"),
        ("~~~\n{}\n~~~", "code fence"),
        ("~~~json\n{}\n~~~", "code fence"),
        ("```JSON\n{}\n```", "code fence"),
        ("    ```json\n    {}\n    ```", "code fence"),
        ("```json {} ```", "code fence"),
        ("`{}`", "no text before it"),
        ("Here it is:\n```json\n{}\n```", "no text before it"),
        ("{}\n```", "nothing after it"),
    ]
    for template, expect in fences:
        for doc in (dumps(PASSING, indent=2), dumps(FAILING)):
            add("code fence", template.replace("{}", doc), expect)

    for name in CRITERIA:
        add(
            "missing field",
            dumps(edit(PASSING, ("scores", name), None, delete=True)),
            f"scores.{name}: Field",
        )
    for path in [("summary",), ("issues",), ("scores",), ("issues", 0, "file"), ("issues", 0, "criterion")]:
        where = ".".join(map(str, path))
        add("missing field", dumps(edit(PASSING, path, None, delete=True)), f"{where}: Field required")
    add("missing field", dumps(edit(PASSING, ("issues", 0, "change"), None, delete=True)), "Field required")

    extras: list[tuple[tuple[str | int, ...], Any]] = [
        (("verdict",), "pass"),
        (("passed",), True),
        (("schema_version",), 1),
        (("overall",), 5),
        (("scores", "overall"), 5),
        (("scores", "performance"), 4),
        (("scores", "Correctness"), 5),
        (("issues", 0, "severity"), "minor"),
        (("issues", 0, "suggestion"), "rename it"),
        (("issues", 0, "lines"), [1, 2]),
    ]
    for path, value in extras:
        add("extra field", dumps(edit(PASSING, path, value)), "Extra inputs are not permitted")

    for name in CRITERIA:
        at = ("scores", name)
        add("score out of range", raw(PASSING, at, "-1"), f"scores.{name}: Input should be greater than")
        add("score out of range", raw(PASSING, at, "6"), f"scores.{name}: Input should be less than")
        add("score out of range", raw(PASSING, at, "100"), "less than or equal to 5")
        add("score out of range", raw(PASSING, at, "-0.5"), "valid integer")
        for token in ['"4"', '"four"', '"4/5"']:
            add("string score", raw(PASSING, at, token), f"scores.{name}: Input should be a valid integer")
        for token in ["4.0", "4.5"]:
            add("float score", raw(PASSING, at, token), "valid integer")
        for token in ["true", "false"]:
            add("bool score", raw(PASSING, at, token), "valid integer")
        add("null score", raw(PASSING, at, "null"), "valid integer")
        for token in ["NaN", "Infinity", "-Infinity"]:
            add("non-finite score", raw(PASSING, at, token), f"{token} is not valid JSON")
        dup = dumps(PASSING).replace(f'"{name}": ', f'"{name}": 1, "{name}": ', 1)
        add("duplicate key", dup, f"duplicate key '{name}'")
    add("float score", raw(PASSING, ("scores", "security"), "5e0"), "valid integer")
    add("float score", raw(PASSING, ("scores", "security"), "4E+0"), "valid integer")
    add("float score", raw(PASSING, ("scores", "security"), "1e400"), "valid integer")  # json gives inf

    fail_scores, pass_scores = dumps(FAILING["scores"]), dumps(PASSING["scores"])
    dup_docs = [
        f'{{"scores": {fail_scores}, "scores": {pass_scores}, "summary": "ok", "issues": []}}',
        dumps(PASSING)[:-1] + ', "summary": "fine"}',
        dumps(PASSING)[:-1] + ', "issues": []}',
        dumps(PASSING).replace('"criterion": ', '"criterion": "security", "criterion": '),
        dumps(PASSING).replace('"correctness": 5', '"correctness": 0, "\\u0063orrectness": 5'),
    ]
    for text in dup_docs:
        add("duplicate key", text, "duplicate key")

    for text, expect in [
        ("[]", "got array"),
        (f"[{dumps(PASSING)}]", "got array"),
        ("[5, 5, 5, 5, 5, 5]", "got array"),
        (json.dumps(dumps(PASSING)), "got string"),
        ('"pass"', "got string"),
        ("42", "got number"),
        ("4.5", "got number"),
        ("null", "got null"),
        ("true", "got boolean"),
        ("false", "got boolean"),
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("{}", "Field required"),
    ]:
        add("wrong top level", text, expect)

    compact, pretty = dumps(PASSING), dumps(PASSING, indent=2)
    for cut in range(1, len(compact), len(compact) // 24):
        add("truncated", compact[:cut], "invalid JSON")
    for cut in range(7, len(pretty) - 1, len(pretty) // 7):
        add("truncated", pretty[:cut].rstrip() + "\n", "invalid JSON")

    for text in [
        compact + compact,
        compact + "\n" + compact,
        dumps(FAILING) + "\n" + compact,
        compact + "\n\n" + dumps(FAILING),
        compact + "{}",
        compact + "[]",
        pretty + " " + pretty,
    ]:
        add("two objects", text, "nothing after it")

    for text in [
        str(PASSING),
        str(FAILING),
        dumps(FAILING).replace('"', "'"),  # single quotes, but JSON's null
        compact.replace('"summary"', "'summary'"),
        compact.replace('"documentation"', "'documentation'"),
        dumps(FAILING).replace("null", "None"),
    ]:
        add("python repr", text, "invalid JSON")

    for text in [
        compact.replace('"documentation": 4}', '"documentation": 4,}'),
        compact.replace('retried."}]', 'retried.",}]'),
        compact.replace("}]}", "},]}"),
        compact[:-1] + ",}",
        compact.replace('"correctness": 5,', '"correctness": 5,,'),
    ]:
        add("trailing comma", text, "invalid JSON")

    for text, expect in [
        (pretty.replace("{\n", "{\n  // the verdict\n", 1), "invalid JSON"),
        (compact.replace('"summary"', '/* ok */ "summary"'), "invalid JSON"),
        (pretty.replace("{\n", "{\n  # the verdict\n", 1), "invalid JSON"),
        (compact + " // done", "nothing after it"),
        ("// review\n" + compact, "no text before it"),
    ]:
        add("comment", text, expect)

    for path_text, expect in [
        ("/etc/passwd", "not absolute"),
        ("../x", "'..' segment"),
        ("src/../../etc/passwd", "'..' segment"),
        ("..", "'..' segment"),
        ("a\\..\\b", "'..' segment"),
        ("\\windows\\system.ini", "not absolute"),
        ("", "at least 1 character"),
        ("x" * 301, "at most 300 characters"),
        ("src/a\x00.py", "control or invisible"),
        ("src/\u200bapp.py", "control or invisible"),
        ("src/app.py\n", "control or invisible"),
    ]:
        add("bad issue file", dumps(edit(PASSING, ("issues", 0, "file"), path_text)), expect)

    for token, expect in [
        ("0", "greater than or equal to 1"),
        ("-3", "greater than or equal to 1"),
        ('"12"', "a valid integer"),
        ("1.5", "a valid integer"),
        ("true", "a valid integer"),
        ('"L12"', "a valid integer"),
        ("[12]", "a valid integer"),
    ]:
        add(
            "bad issue line",
            raw(PASSING, ("issues", 0, "line"), token),
            f"issues.0.line: Input should be {expect}",
        )

    for value in ["performance", "Correctness", "", "code quality", "code-quality", None, 1]:
        text = dumps(edit(PASSING, ("issues", 0, "criterion"), value))
        add("unknown criterion", text, "issues.0.criterion: Input should be 'correctness'")

    for path, value, expect in [
        (("summary",), "", "at least 1 character"),
        (("summary",), "x" * 2001, "at most 2000 characters"),
        (("summary",), "   ", "must not be blank"),
        (("summary",), None, "valid string"),
        (("summary",), 42, "valid string"),
        (("summary",), ["looks good"], "valid string"),
        (("summary",), "ok \ud800", "valid string"),  # a lone surrogate could not be written back
        (("issues", 0, "change"), "", "at least 1 character"),
        (("issues", 0, "change"), "y" * 2001, "at most 2000 characters"),
        (("issues", 0, "change"), " \n", "must not be blank"),
    ]:
        text = json.dumps(edit(PASSING, path, value))  # ensure_ascii: the surrogate travels as \\ud800
        add("bad text", text, expect)

    for name in CRITERIA:
        text = dumps(edit(edit(PASSING, ("scores", name), PASS_SCORE - 1), ("issues",), []))
        add("failing without issues", text, f"({name}) need at least one issue")
    zeros = {"scores": dict.fromkeys(CRITERIA, 0), "summary": "Nothing works.", "issues": []}
    add("failing without issues", dumps(zeros), "need at least one issue")

    for value, expect in [
        ({}, "valid list"),
        (None, "valid list"),
        ("none", "valid list"),
        (PASSING["issues"] * 51, "at most 50 items"),
        ([None], "issues.0: Input should be"),
        (["fix it"], "issues.0: Input should be"),
        ([[]], "issues.0: Input should be"),
    ]:
        add("bad issues", dumps(edit(PASSING, ("issues",), value)), expect)

    for value, expect in [
        ([5, 5, 5, 5, 5, 5], "scores: Input should be"),
        ("all 5", "scores: Input should be"),
        (None, "scores: Input should be"),
        ({**PASSING["scores"], "correctness": {"value": 5}}, "valid integer"),
    ]:
        add("wrong shape", dumps(edit(PASSING, ("scores",), value)), expect)
    add("wrong shape", dumps({"review": PASSING}), "Field required")
    add("wrong shape", dumps(edit(PASSING, ("summary",), {"text": "ok"})), "valid string")

    add("deep nesting", "[" * 100_000, "nested too deeply")
    add("deep nesting", "[" * 5000 + "]" * 5000, "nested too deeply")
    add("deep nesting", '{"a": ' * 3000 + "1" + "}" * 3000, "nested too deeply")
    add("deep nesting", raw(PASSING, ("scores",), "[" * 3000 + "]" * 3000), "nested too deeply")
    add("deep nesting", raw(PASSING, ("summary",), "[" * 50 + "]" * 50), "valid string")

    add("huge", " " * (MAX_REPLY_CHARS + 1) + compact, "the limit is")
    add("huge", dumps(edit(PASSING, ("summary",), "z" * 250_000)), "the limit is")
    add("huge", dumps(edit(PASSING, ("issues",), PASSING["issues"] * 1000)), "at most 50 items")
    add("huge", raw(PASSING, ("scores", "correctness"), "5" * 5000), "a number has too many digits")
    add("huge", raw(PASSING, ("scores", "correctness"), "5" * 30), "less than or equal to 5")

    for text, expect in [
        ("\ufeff" + compact, "U+FEFF"),
        ("\u200b" + compact, "U+200B"),
        ("\u2060" + compact, "U+2060"),
        (compact + "\u200b", "nothing after it"),
        ("{\u200b" + compact[1:], "invalid JSON"),
        ("{\u00a0" + compact[1:], "invalid JSON"),
        (compact.replace("correctness", "correct\u200dness"), "scores.correctness: Field required"),
        ("\uff5b" + compact[1:-1] + "\uff5d", "no text before it"),
        (compact.replace('"scores"', "\u201cscores\u201d"), "invalid JSON"),
    ]:
        add("unicode trick", text, expect)

    for token in ["04", "+4", ".5", "0x4", "4."]:
        add("number syntax", raw(PASSING, ("scores", "correctness"), token), "invalid JSON")

    return cases


CORPUS = malformed_corpus()


def test_valid_replies_parse() -> None:
    passing = parse_review(dumps(PASSING, indent=2))
    assert passing.passed and passing.scores.failing() == []
    assert passing.issues[0] == ReviewIssue(
        file="jobs/tickets/linear.py",
        line=42,
        criterion="documentation",
        change=PASSING["issues"][0]["change"],
    )

    failing = parse_review("\n  " + dumps(FAILING) + "\n\n")  # surrounding whitespace is not prose
    assert not failing.passed
    assert failing.scores.failing() == ["correctness", "test_coverage"]
    assert failing.issues[1].line is None

    lowest = {"scores": dict.fromkeys(CRITERIA, 0), "summary": "Nothing works.", "issues": FAILING["issues"]}
    assert parse_review(dumps(lowest)).scores.failing() == list(CRITERIA)
    top = {
        "scores": dict.fromkeys(CRITERIA, 5),
        "summary": "Clean. Ünïcode and \u200b are fine here.",
        "issues": [],
    }
    assert parse_review(dumps(top)).passed

    no_line = edit(PASSING, ("issues", 0, "line"), None, delete=True)
    assert parse_review(dumps(no_line)).issues[0].line is None
    at_limits = edit(edit(PASSING, ("summary",), "s" * 2000), ("issues",), PASSING["issues"] * 50)
    assert len(parse_review(dumps(at_limits)).issues) == 50


def test_scores_and_schema() -> None:
    scores = Scores(
        correctness=3, code_quality=4, test_coverage=0, type_safety=5, security=4, documentation=1
    )
    assert scores.failing() == ["correctness", "test_coverage", "documentation"]
    with pytest.raises(ValueError, match="need at least one issue"):
        Review(scores=scores, summary="bad", issues=[])
    schema = review_schema()
    assert schema["required"] == ["scores", "summary", "issues"]
    assert schema["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in schema["$defs"].values())
    assert schema["$defs"]["Scores"]["required"] == list(CRITERIA)
    assert issubclass(ReviewParseError, FactoryError)


def test_malformed_corpus_never_passes_never_parses() -> None:
    texts = [text for _, text, _ in CORPUS]
    assert len(set(texts)) == len(texts), "corpus cases must be distinct"
    assert len(CORPUS) >= 200

    false_passes, parsed, wrong_reason, bad_message = [], [], [], []
    for category, text, expect in CORPUS:
        try:
            review = parse_review(text)
        except ReviewParseError as err:
            message = str(err)
            if expect.lower() not in message.lower():
                wrong_reason.append((category, expect, message))
            echoes = any(message[i : i + 81] in text for i in range(max(0, len(message) - 80)))
            if len(message) > 300 or echoes or "\n" in message:
                bad_message.append((category, message))
        else:
            parsed.append((category, text[:80]))
            if review.passed:
                false_passes.append((category, text[:80]))

    assert false_passes == []
    assert parsed == []
    assert wrong_reason == []
    assert bad_message == []
    per_category = Counter(category for category, _, _ in CORPUS)
    print(
        f"\nC4: {len(CORPUS)} malformed outputs in {len(per_category)} categories, "
        f"false passes {len(false_passes)}, parsed {len(parsed)}"
    )


def _reject(_: str) -> Any:
    raise ValueError("non-finite")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("duplicate")
    return dict(pairs)


def _ok_text(value: Any, limit: int) -> bool:
    return (
        type(value) is str
        and 1 <= len(value) <= limit
        and bool(value.strip())
        and not any("\ud800" <= ch <= "\udfff" for ch in value)
    )


ISSUE_KEYS = {"file", "line", "criterion", "change"}
REQUIRED_ISSUE_KEYS = ISSUE_KEYS - {"line"}


def reference(text: str) -> dict[str, Any] | None:
    """The rules in plain Python: the review as a dict if ``text`` is a valid reply, else None."""
    if len(text) > MAX_REPLY_CHARS:
        return None
    try:
        doc = json.loads(text.strip(), parse_constant=_reject, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        return None
    if type(doc) is not dict or set(doc) != {"scores", "summary", "issues"}:
        return None
    scores, issues = doc["scores"], doc["issues"]
    if type(scores) is not dict or set(scores) != set(CRITERIA):
        return None
    if any(type(v) is not int or not 0 <= v <= 5 for v in scores.values()):
        return None
    if not _ok_text(doc["summary"], 2000) or type(issues) is not list or len(issues) > 50:
        return None
    for issue in issues:
        if type(issue) is not dict or not REQUIRED_ISSUE_KEYS <= set(issue) <= ISSUE_KEYS:
            return None
        line, path = issue.get("line"), issue["file"]
        if line is not None and (type(line) is not int or line < 1):
            return None
        if type(issue["criterion"]) is not str or issue["criterion"] not in CRITERIA:
            return None
        if not _ok_text(issue["change"], 2000) or type(path) is not str or not 1 <= len(path) <= 300:
            return None
        if path[0] in "/\\" or ".." in path.replace("\\", "/").split("/"):
            return None
        if any(ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u200b\u200d\u2060\ufeff" for ch in path):
            return None
        issue.setdefault("line", None)
    if any(v < PASS_SCORE for v in scores.values()) and not issues:
        return None
    return doc


TOKENS = ["3", "4", "5", "6", "0", "-1", "4.0", '"4"', "true", "null", "NaN", "1e0", "04", "[]", "{}", '""']


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.randint(1, 12))
        op = rng.randrange(8)
        if op == 0:
            text = text[:i] + text[i + 1 :]
        elif op == 1:
            text = text[:i] + rng.choice('{}[]",:0123456789-.eE ntrufals\\/\n\u200b') + text[i:]
        elif op == 2:
            text = text[:i] + rng.choice("0123456789,{}\"'") + text[i + 1 :]
        elif op == 3:
            digits = [k for k, ch in enumerate(text) if ch.isdigit()]
            if digits:
                k = rng.choice(digits)
                text = text[:k] + str(rng.randrange(10)) + text[k + 1 :]
        elif op == 4:
            text = text[:j] + text[i:j] + text[j:]
        elif op == 5:
            text = text[:i] + text[j:]
        elif op == 6:
            name = rng.choice([*CRITERIA, "line"])
            start = text.find(f'"{name}": ')
            if start >= 0:
                start += len(name) + 4
                end = start + len(text[start:].split(",")[0].split("}")[0])
                text = text[:start] + rng.choice(TOKENS) + text[end:]
        else:
            key = rng.choice([*CRITERIA, "summary", "issues", "extra", "line"])
            k = text.find("{", i)
            if k >= 0:
                text = text[: k + 1] + f'"{key}": {rng.choice(TOKENS)}, ' + text[k + 1 :]
    return text


def test_mutation_fuzz_against_reference() -> None:
    rng = random.Random(20240607)
    seeds = [dumps(PASSING), dumps(PASSING, indent=2), dumps(FAILING)]
    outcomes: Counter[str] = Counter()
    for _ in range(4000):
        text = mutate(rng.choice(seeds), rng)
        expected = reference(text)
        try:
            review = parse_review(text)
        except ReviewParseError as err:
            assert expected is None, f"valid reply rejected: {text!r}: {err}"
            assert len(str(err)) <= 300
            outcomes["rejected"] += 1
            continue
        assert expected is not None, f"invalid reply parsed: {text!r}"
        assert review.model_dump() == expected
        assert review.passed == all(v >= PASS_SCORE for v in expected["scores"].values())
        assert Review.model_validate_json(review.model_dump_json()) == review
        outcomes["passed" if review.passed else "failed"] += 1
    # The fuzz must reach every outcome, or it is not exercising the pass/fail boundary.
    assert min(outcomes["rejected"], outcomes["passed"], outcomes["failed"]) > 50, outcomes
    print(f"\nC4 fuzz: {outcomes.total()} mutations, {dict(outcomes)}, disagreements with the reference 0")


def test_arbitrary_text_only_ever_raises_review_parse_error() -> None:
    rng = random.Random(7)
    alphabet = '{}[]":,0123456789-+.eE truefalsnNaIiy\\/\n\t\ufeff\u200b\ud800\x00é'
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        with pytest.raises(ReviewParseError):
            parse_review(text)
