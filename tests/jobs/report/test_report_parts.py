"""The report's pieces without a browser: escaping by construction, links, transcripts read forgivingly,
and the phase hook that never lets a report failure fail a phase."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from jobs.artifacts import DirectoryStore
from jobs.errors import ArtifactError
from jobs.models import run_key
from jobs.phases.kit.steps import update_report
from jobs.report import load_run, render_report, write_report
from jobs.report.links import anchor, relative
from jobs.report.markup import Html, el, join, link, safe_href
from jobs.report.transcript import Said, ToolCall, read_conversation
from jobs.services import Services
from tests.orchestration.runs.build import build_run
from tests.orchestration.runs.nights import make_night, tonight


def test_text_and_attributes_are_escaped_and_only_safe_links_survive() -> None:
    html = el("div", "<b>x</b> & 'q'", el("i", '"y"'), title='" onmouseover="alert(1)', class_="c")
    assert html == (
        '<div title="&quot; onmouseover=&quot;alert(1)" class="c">&lt;b&gt;x&lt;/b&gt; &amp; &#x27;q&#x27;'
        "<i>&quot;y&quot;</i></div>"
    )
    assert join("<", Html("<br>"), ["<", None]) == "&lt;<br>&lt;"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "data:text/html,<script>",
        "//evil.example/x",
        " \x01x",
    ):
        assert safe_href(bad) is None, bad
        assert link("t", bad) == "t"
        assert el("a", "t", href=bad) == "<a>t</a>"
    for good in ("e2e/screenshots/01-a.png", "https://github.com/o/r/pull/1", "file:///tmp/x.md", "#f-x"):
        assert safe_href(good) == good


def test_links_to_the_run_files_are_relative_whatever_url_the_record_holds() -> None:
    for url in (
        "file:///work/.factory/runs/r1/e2e/attempt-1/screenshots/01-a%20b.png",
        "gs://bucket/prefix/runs/r1/e2e/attempt-1/screenshots/01-a b.png",
        "file:///artifacts/runs/r1/e2e/attempt-1/screenshots/01-a%20b.png",  # inside a container
        "runs/r1/e2e/attempt-1/screenshots/01-a b.png",  # a key
    ):
        assert relative(url, "r1") == "e2e/attempt-1/screenshots/01-a%20b.png", url
    assert relative("file:///x/runs/r2/e2e/a.png", "r1") is None  # another run's file
    assert relative("file:///x/runs/r1/../r2/a.png", "r1") is None
    assert relative("https://example.com/a.png", "r1") is None
    assert anchor("review/transcripts/review-1-ask-1.jsonl") == "f-review-transcripts-review-1-ask-1-jsonl"


def line(event: dict[str, object]) -> str:
    return json.dumps(event)


def test_a_transcript_is_read_into_a_conversation_forgivingly() -> None:
    data = "\n".join(
        [
            line({"type": "system", "subtype": "init", "cwd": "/box/repo", "model": "m", "tools": ["Read"]}),
            line({"type": "assistant", "message": {"content": [{"type": "text", "text": "Reading."}]}}),
            line(
                {
                    "type": "assistant",
                    "message": {
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "t1",
                                "name": "Read",
                                "input": {"file_path": "/box/repo/a"},
                            }
                        ]
                    },
                }
            ),
            "{not json",
            line({"type": "a-new-kind", "x": 1}),
            line(
                {
                    "type": "user",
                    "message": {
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t1",
                                "is_error": True,
                                "content": [{"type": "text", "text": "no such file"}, {"type": "image"}],
                            },
                            {"type": "tool_result", "tool_use_id": "gone", "content": "orphan"},
                        ]
                    },
                }
            ),
            line(
                {
                    "type": "result",
                    "subtype": "success",
                    "is_error": False,
                    "num_turns": 3,
                    "total_cost_usd": 0.25,
                    "duration_ms": 1500,
                    "result": "Done.",
                }
            ),
            "",
        ]
    ).encode()
    convo = read_conversation(data)
    assert (convo.model, convo.cwd, convo.tools, convo.unreadable) == ("m", "/box/repo", ["Read"], 1)
    said, call, orphan = convo.entries
    assert isinstance(said, Said) and said.text == "Reading."
    assert isinstance(call, ToolCall) and isinstance(orphan, ToolCall)
    assert (call.name, call.output, call.images, call.is_error) == ("Read", "no such file", 1, True)
    assert (orphan.name, orphan.output) == ("(result)", "orphan")
    assert convo.ending is not None and (convo.ending.turns, convo.ending.cost_usd, convo.ending.seconds) == (
        3,
        0.25,
        1.5,
    )
    assert read_conversation(b"").entries == [] and read_conversation(b"[1]\n").unreadable == 1


def test_a_report_renders_from_records_alone_and_mid_run(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    build_run(store, "r1", review=None)
    html = render_report(load_run(store, "r1"), [])
    assert "This run is unfinished: review, e2e have not written a result yet." in html
    assert "<script" not in html and "Content-Security-Policy" in html
    write_report(store, "r1")
    assert (tmp_path / "runs" / "r1" / "index.html").read_text().startswith("<!doctype html>")


class BrokenStore(DirectoryStore):
    """Writes everything but the report."""

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        if key.endswith("index.html"):
            raise ArtifactError(f"disk full writing {key}")
        super().write_bytes(key, data, if_absent=if_absent)


def test_a_report_that_cannot_be_written_is_a_warning_and_the_phase_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BrokenStore(tmp_path)
    build_run(store, "r1")
    services = cast(Services, SimpleNamespace(store=store))
    with caplog.at_level(logging.WARNING):
        update_report(services, "r1")
    assert "could not write the run's report (the phase's result stands): disk full" in caplog.text

    def crash(*_: object) -> str:
        raise ZeroDivisionError("a bug in the renderer")

    monkeypatch.setattr("jobs.phases.kit.steps.write_report", crash)
    update_report(services, "r1")  # a bug is a warning too
    assert "a bug in the renderer" in caplog.text
    assert not (tmp_path / run_key("r1", "index.html")).exists()


def test_only_a_chain_its_night_selected_links_back_to_that_night(tmp_path: Path) -> None:
    """The run id names the candidate night; the night's own triage result must list the run."""
    made = make_night(tmp_path, tonight())
    store = made.store
    chain = made.triage.selected[0].run_id
    build_run(store, "night-1-ix-101", ticket="IX-101")  # ends like a chain of night-1; never selected
    build_run(store, "gone-ix-102", ticket="IX-102")  # ends like a chain of a night that is not there
    back = 'href="../night-1/index.html"'
    page = render_report(load_run(store, chain), [])
    assert back in page and "a finding of" in page
    for run_id in ("night-1-ix-101", "gone-ix-102"):
        facts = load_run(store, run_id)
        html = render_report(facts, [])
        assert facts.from_night is None and back not in html and "a finding of" not in html, run_id
        assert facts.phases == ("implement", "review", "e2e") and facts.outcome == "passed"
