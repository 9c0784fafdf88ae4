"""The offline evaluation: which cases pass, the JSON report, and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import ACME, CLIENTS, NORTHWIND

from support_bot import eval as sb_eval
from support_bot.engine import Answer, Bot


def write_cases(path: Path, *cases: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


@pytest.fixture
def clients(tmp_path: Path) -> Path:
    shutil.copytree(CLIENTS / ACME, tmp_path / ACME)
    return tmp_path


def case(id: str, question: str, skill: str, *facts: str) -> dict[str, object]:
    return {"id": id, "question": question, "expected_skill": skill, "expected_facts": list(facts)}


def test_a_case_passes_on_the_right_skill_and_facts(clients: Path, tmp_path: Path) -> None:
    cases = write_cases(
        tmp_path / "cases.jsonl",
        case("ok", "Do you offer express delivery?", "shipping", "$12.95", "1-2 BUSINESS   days"),
        case("wrong-skill", "Do you offer express delivery?", "payments", "$12.95"),
        case(
            "missing-fact", "Do you offer express delivery?", "shipping", "$12.95", "free next-day delivery"
        ),
    )
    report = sb_eval.evaluate(clients, ACME, cases)
    assert (report["cases"], report["passed"], report["failed"], report["accuracy"]) == (3, 1, 2, 0.3333)
    ok, wrong, missing = report["results"]
    assert ok["pass"] and ok["missing_facts"] == [] and ok["got"]["skill"] == "shipping"
    assert not wrong["pass"] and wrong["missing_facts"] == []
    assert not missing["pass"] and missing["missing_facts"] == ["free next-day delivery"]
    assert set(ok) == {"id", "question", "expected_skill", "expected_facts", "got", "missing_facts", "pass"}
    assert set(ok["got"]) == {"skill", "answer", "sources"}


def test_a_crashing_case_is_recorded_and_the_others_still_run(
    clients: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Bot.answer

    def flaky(self: Bot, message: str) -> Answer:
        if message == "boom":
            raise KeyError("boom")
        return original(self, message)

    monkeypatch.setattr(Bot, "answer", flaky)
    cases = write_cases(tmp_path / "c.jsonl", case("a", "boom", "shipping"), case("b", "Hello", "greeting"))
    first, second = sb_eval.evaluate(clients, ACME, cases)["results"]
    assert first["got"] == {"error": "KeyError: 'boom'"} and not first["pass"]
    assert second["pass"]


def test_cli_prints_json_and_exits_0_with_failing_cases(
    clients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cases(clients / ACME / "eval.jsonl", case("x", "Hello", "shipping"))
    code = sb_eval.main(["--client", ACME, "--json", "--clients-dir", str(clients)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["accuracy"] == 0.0 and report["results"][0]["got"]["skill"] == "greeting"


def test_cli_text_report(clients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cases(clients / ACME / "eval.jsonl", case("x", "Hello", "greeting"), case("y", "Hello", "shipping"))
    assert sb_eval.main(["--client", ACME, "--clients-dir", str(clients)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PASS x  greeting"
    assert out[1].startswith("FAIL y  'Hello': expected skill shipping, got greeting")
    assert out[-1] == f"{ACME}: 1/2 passed, accuracy 50.00%"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "eval.jsonl:1:"),
        ('{"id": "a", "question": "q"}\n', "expected_skill must be a non-empty string"),
        ('{"id": "a", "question": "q", "expected_skill": "s", "expected_facts": "x"}\n', "expected_facts"),
        ("\n", "no cases"),
    ],
)
def test_cli_exits_2_on_a_malformed_cases_file(
    clients: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (clients / ACME / "eval.jsonl").write_text(content)
    assert sb_eval.main(["--client", ACME, "--clients-dir", str(clients)]) == 2
    assert message in capsys.readouterr().err


def test_cli_exits_2_for_a_client_without_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sb_eval.main(["--client", "nobody.example", "--clients-dir", str(tmp_path)]) == 2
    assert "config.yaml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("domain", [ACME, NORTHWIND])
def test_the_shipped_evaluations_run(domain: str) -> None:
    report = sb_eval.evaluate(CLIENTS, domain)
    lines = [line for line in (CLIENTS / domain / "eval.jsonl").read_text().splitlines() if line.strip()]
    assert report["client"] == domain and report["cases"] == len(lines)
    assert 0.0 <= report["accuracy"] <= 1.0
    assert all("error" not in r["got"] for r in report["results"])
