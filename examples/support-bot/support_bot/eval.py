"""Evaluate a client's bot offline against its cases: ``python -m support_bot.eval --client DOMAIN [--json]``.

Each line of ``clients/<domain>/eval.jsonl`` is a case::

    {"id": "acme-01", "question": "...", "expected_skill": "shipping", "expected_facts": ["$4.95"]}

A case passes when the bot answers with the expected skill and every expected fact appears in the
answer (case and spacing ignored). The exit status is 0 whenever the evaluation ran, failing cases
included, so a caller tells "the bot is wrong" (accuracy below 1) from "the eval could not run"
(exit 2, the reason on stderr). No database, no network: the same files give the same report.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config
from .clients import ClientFileError, load_client
from .engine import Bot
from .text import squash


class EvalFileError(Exception):
    """The cases file is missing or a line of it is malformed; the message names the line."""


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expected_skill: str
    expected_facts: tuple[str, ...]


def load_cases(path: Path) -> list[Case]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot be read ({exc})") from None
    cases: list[Case] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cases.append(_case(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as exc:
            raise EvalFileError(f"{path}:{number}: {exc}") from None
    if not cases:
        raise EvalFileError(f"{path}: no cases")
    if len({c.id for c in cases}) != len(cases):
        raise EvalFileError(f"{path}: case ids must be unique")
    return cases


def _case(data: Any) -> Case:
    if not isinstance(data, dict):
        raise ValueError("a case is a JSON object")
    for key in ("id", "question", "expected_skill"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"{key} must be a non-empty string")
    facts = data.get("expected_facts", [])
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        raise ValueError("expected_facts must be a list of non-empty strings")
    return Case(data["id"], data["question"], data["expected_skill"], tuple(facts))


def run_case(bot: Bot, case: Case) -> dict[str, Any]:
    """One case's record; an exception in the bot is recorded as the case's failure, not raised."""
    record: dict[str, Any] = {
        "id": case.id,
        "question": case.question,
        "expected_skill": case.expected_skill,
        "expected_facts": list(case.expected_facts),
    }
    try:
        answer = bot.answer(case.question)
    except Exception as exc:
        record |= {
            "got": {"error": f"{type(exc).__name__}: {exc}"},
            "missing_facts": list(case.expected_facts),
        }
        record["pass"] = False
        return record
    said = squash(answer.text)
    missing = [fact for fact in case.expected_facts if squash(fact) not in said]
    record["got"] = {
        "skill": answer.skill,
        "answer": answer.text,
        "sources": [s.as_dict() for s in answer.sources],
    }
    record["missing_facts"] = missing
    record["pass"] = answer.skill == case.expected_skill and not missing
    return record


def evaluate(clients_root: Path, domain: str, cases_path: Path | None = None) -> dict[str, Any]:
    """The report for ``domain``: accuracy and one record per case."""
    bot = Bot(load_client(clients_root, domain))
    cases = load_cases(cases_path or clients_root / domain / "eval.jsonl")
    results = [run_case(bot, case) for case in cases]
    passed = sum(1 for r in results if r["pass"])
    return {
        "client": domain,
        "cases": len(results),
        "passed": passed,
        "failed": len(results) - passed,
        "accuracy": round(passed / len(results), 4),
        "results": results,
    }


def _print_text(report: dict[str, Any]) -> None:
    for r in report["results"]:
        got = r["got"]
        if r["pass"]:
            print(f"PASS {r['id']}  {got['skill']}")
            continue
        why = [got["error"]] if "error" in got else []
        if "skill" in got and got["skill"] != r["expected_skill"]:
            why.append(f"expected skill {r['expected_skill']}, got {got['skill']}")
        if r["missing_facts"] and "error" not in got:
            why.append(f"missing {r['missing_facts']}")
        print(f"FAIL {r['id']}  {r['question']!r}: {'; '.join(why)}")
    print(
        f"{report['client']}: {report['passed']}/{report['cases']} passed, accuracy {report['accuracy']:.2%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support_bot.eval", description=__doc__.split("\n")[0])
    parser.add_argument("--client", required=True, help="the client's domain, e.g. acme-shop.example")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--clients-dir", type=Path, default=None, help="default: $SUPPORT_BOT_CLIENTS_DIR or clients/"
    )
    parser.add_argument(
        "--cases", type=Path, default=None, help="another cases file (default: the client's eval.jsonl)"
    )
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.clients_dir or config.clients_dir(), args.client, args.cases)
    except (ClientFileError, EvalFileError) as exc:
        print(f"support_bot.eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        _print_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
