"""The eval command as our code runs it and counts it: the target's figures are never taken on trust."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from jobs.onboard.config import OnboardingConfig
from jobs.onboard.dataset import Split, parse_dataset, split
from jobs.onboard.evaluate import EvalRun, run_eval
from jobs.sandbox import Box
from tests.conftest import processes_matching

# A stand-in eval: passes the cases whose question ends with "?", and does what BEHAVIOUR says.
EVAL = """\
import json, sys
behaviour, cases = sys.argv[1], [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
results = [{"id": c["id"], "question": c["question"], "pass": c["question"].endswith("?")} for c in cases]
if behaviour == "drops-failures":
    results = [r for r in results if r["pass"]]
if behaviour == "invents":
    results += [{"id": f"extra-{n}", "pass": True} for n in range(50)]
if behaviour == "twice":
    results += [dict(r, **{"pass": True}) for r in results]
if behaviour == "hangs":
    import subprocess, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a child left behind
    time.sleep(60)
if behaviour == "exit-1":
    sys.exit(1)
if behaviour == "echoes-a-forged-report":
    print(json.dumps({"results": [{"id": c["id"], "pass": True} for c in cases]}))  # a skill it printed
if behaviour == "no-json":
    print("all good, 100%"); sys.exit(0)
print("warming up...", file=sys.stderr)
print(json.dumps({"accuracy": 1.0, "results": results}, indent=2))
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "eval.py").write_text(EVAL)
    cases = [{"id": f"c-{n:02d}", "question": f"Question {n}" + ("?" if n % 4 else ".")} for n in range(20)]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    return tmp_path


def evaluate(repo: Path, behaviour: str, timeout: float = 60) -> tuple[EvalRun, Split, set[str]]:
    config = OnboardingConfig(eval_command=f"{sys.executable} eval.py {behaviour} {{cases}}")
    paths = config.for_client("acme.example")
    cases = parse_dataset((repo / "cases.jsonl").read_bytes(), 2)
    parts = split("acme.example", cases, 0.3)
    failing = {c.id for c in cases if not c.question.endswith("?")}
    return run_eval(paths, "cases.jsonl", parts, repo, timeout, lambda s: s, Box()), parts, failing


def test_figures_per_part_come_from_the_cases_it_judged(repo: Path) -> None:
    run, parts, failing = evaluate(repo, "honest")
    assert run.ok, run.error
    assert run.tuning.cases == len(parts.tuning) and run.held_out.cases == len(parts.held_out)
    assert run.tuning.passed == sum(1 for c in parts.tuning if c.id not in failing)
    assert run.held_out.passed == sum(1 for c in parts.held_out if c.id not in failing)
    assert run.reported_accuracy == 1.0  # what it printed: kept, not believed
    assert {f.id for f in run.failures} == failing - parts.held_out_ids
    assert set(run.held_out_failed) == failing & parts.held_out_ids
    assert all("question" in f.detail for f in run.failures)
    assert run.output_tail == ""  # it names held-out cases
    tuning, held = run.tuning, run.held_out
    print(f"\n15/20 pass: tuning {tuning.passed}/{tuning.cases}, held-out {held.passed}/{held.cases}")


def test_an_eval_that_leaves_its_failures_out_does_not_gain(repo: Path) -> None:
    honest, _, _ = evaluate(repo, "honest")
    dropped, _, failing = evaluate(repo, "drops-failures")
    assert (dropped.tuning, dropped.held_out) == (honest.tuning, honest.held_out)
    assert set(dropped.missing) == failing


def test_invented_and_repeated_cases_and_an_earlier_forged_report_do_not_count(repo: Path) -> None:
    honest, _, _ = evaluate(repo, "honest")
    for behaviour in ("invents", "twice", "echoes-a-forged-report"):
        run, _, _ = evaluate(repo, behaviour)
        assert (run.tuning, run.held_out) == (honest.tuning, honest.held_out), behaviour


@pytest.mark.parametrize(
    ("behaviour", "says"), [("exit-1", "exited 1"), ("no-json", 'no JSON object with a "results" list')]
)
def test_an_eval_that_gives_no_figures_says_why(repo: Path, behaviour: str, says: str) -> None:
    run, _, _ = evaluate(repo, behaviour)
    assert not run.ok and says in run.error
    assert run.tuning.passed == 0 and run.held_out.passed == 0


def test_a_hanging_eval_is_stopped_with_what_it_started_and_gives_no_figures(repo: Path) -> None:
    started = time.monotonic()
    run, _, _ = evaluate(repo, "hangs", timeout=2)
    took = time.monotonic() - started
    assert not run.ok and run.error == "the eval command ran out of time (2 s)" and run.exit_code is None
    assert run.tuning.passed == 0 and run.held_out.passed == 0
    assert processes_matching("time.sleep(60)") == []
    print(f"\na hanging eval stopped after {took:.1f} s (timeout 2 s)")
