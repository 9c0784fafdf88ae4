"""An onboarding's page (job ``onboard-client``): its client and mode, the accuracy table our code
measured (the ticket's and the PR's, as HTML), what needs a human, what was refused, and links to its
transcripts and eval records; agent text is text."""

from __future__ import annotations

from pathlib import Path

from jobs.artifacts import DirectoryStore
from jobs.models import run_key
from jobs.onboard.body import accuracy_table, refused_lines
from jobs.report import load_run, write_report
from tests.orchestration.runs.build import build_onboarding

HOSTILE_PATH = "clients/acme-shop.example/skills/<script>alert(1)</script>.md"
HOSTILE_WHY = 'the dataset is frozen <img src=x onerror="alert(2)">'
HOSTILE_FLAG = "the agent says: <b>trust me</b> & ship it"


def _page(tmp_path: Path, run_id: str = "onb-1", **changes: object) -> str:
    store = DirectoryStore(tmp_path)
    build_onboarding(store, run_id, **changes)  # type: ignore[arg-type]
    key = write_report(store, run_id)
    return (tmp_path / key).read_text()


def test_the_onboarding_page_shows_the_accuracy_table_flags_refusals_and_files(tmp_path: Path) -> None:
    html = _page(
        tmp_path,
        carried=HOSTILE_PATH,
        refused=HOSTILE_WHY,
        needs_human=(HOSTILE_FLAG,),
        review=None,
    )
    facts = load_run(DirectoryStore(tmp_path), "onb-1")
    assert facts.is_onboarding and not facts.is_night and facts.job == "onboard-client"
    assert facts.phases == ("onboard", "review", "e2e") and facts.pending == ["review", "e2e"]
    assert "acme-shop.example (full)" in html and "Onboarding of acme-shop.example" in html
    assert 'id="onboard"' in html and "<td>full</td>" in html
    # The table: the baseline, round 1 kept, round 2 undone, the final line; figures as our code made them.
    assert html.count("64% (16/25)") >= 2  # the baseline row, and round 1's "before"
    assert "64% (16/25) → 80% (20/25)" in html and "80% (20/25) → 72% (18/25)" in html
    assert "64% (7/11) → 73% (8/11)" in html
    assert '<span class="pill t-good">kept</span>' in html
    assert '<span class="pill t-warn">undone</span> the tuning accuracy fell' in html
    assert "<b>80% (20/25)</b>" in html, "the final row's markdown bold is HTML"
    assert '<th class="num">Tuning part</th>' in html
    # Agent text (a path it wrote, a reason carrying its words, a flag) is escaped, never markup.
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>trust me</b>" not in html
    assert "<code>clients/acme-shop.example/skills/&lt;script&gt;alert(1)&lt;/script&gt;.md</code>" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert "the agent says: &lt;b&gt;trust me&lt;/b&gt; &amp; ship it" in html
    assert "The onboarding needs a human" in html and "Needs a human (1)" in html
    assert "Changes refused and undone (1)" in html
    assert "tune: <code>clients/acme-shop.example/eval.jsonl</code>: the dataset is frozen" in html
    # Its files: each eval record with its figures, each tuning run's transcript on the page.
    assert 'href="onboard/eval-baseline.json"' in html and 'href="onboard/eval-round-2.json"' in html
    assert "(tuning 64% (16/25), held-out 64% (7/11))" in html
    assert 'href="#f-onboard-transcript-3-tune-jsonl"' in html
    assert 'id="f-onboard-transcript-3-tune-jsonl"' in html and "Onboarding agent" in html
    assert "run 4: tune" in html


def test_an_eval_only_run_ends_at_its_eval_and_lists_the_failing_cases(tmp_path: Path) -> None:
    html = _page(tmp_path, "onb-eval", mode="eval-only")
    facts = load_run(DirectoryStore(tmp_path), "onb-eval")
    assert facts.phases == ("onboard",) and facts.outcome == "done" and not facts.pending
    assert "This run is unfinished" not in html
    assert "Evaluation of acme-shop.example" in html and "Failing cases (2)" in html
    assert "<code>c-01</code>" in html and "No evaluation ran." not in html
    assert "64% (16/25)" in html


def test_a_finished_onboarding_reads_as_a_tickets_run_with_its_pull_request(tmp_path: Path) -> None:
    html = _page(tmp_path, "onb-done")
    facts = load_run(DirectoryStore(tmp_path), "onb-done")
    assert facts.outcome == "passed" and facts.pull_request is not None
    assert 'href="https://github.com/acme/app/pull/9"' in html
    assert "<code>factory/onboard/acme-shop.example-full</code>" in html
    assert (tmp_path / run_key("onb-done", "index.html")).exists()


def test_in_the_prs_markdown_a_path_the_agent_named_is_a_code_span_it_cannot_close(tmp_path: Path) -> None:
    """The ticket's and the PR's table, from the same rows as this page: a backtick cannot end the span
    (no link, image or mention renders), a ``|`` cannot split the row."""
    hostile = "clients/acme-shop.example/skills/x`[click](https://evil.example)`|y.md"
    result = build_onboarding(DirectoryStore(tmp_path), "onb-md", carried=hostile, refused="nope | really")
    table = accuracy_table(result, "clients/acme-shop.example")
    [round_1] = [line for line in table if line.startswith("| 1 (")]
    assert "`skills/x'[click](https://evil.example)'\\|y.md`" in round_1
    assert round_1.replace("\\|", "").count("|") == len(table[0].replace("\\|", "").split("|")) - 1
    [refusal] = refused_lines(result)
    assert refusal == "- tune: `clients/acme-shop.example/eval.jsonl`: nope | really"
