"""Publishing the e2e evidence never follows a link the branch or the target's servers planted.

Real git (a bare remote, the branch pushed as an agent would have), the real artifact store and local
pull requests; the attempt and its screenshot folder stand in for what the browser agent and our
browser tool leave behind, so no browser is needed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from jobs.entrypoint import boxed, prepare
from jobs.errors import UnsafePath
from jobs.phases.e2e.publish import Publisher
from jobs.phases.e2e.records import E2EAttempt, E2EResult
from jobs.phases.e2e.report import ChecklistItem, E2EReport
from jobs.phases.kit.steps import result_fields
from jobs.pulls import PullRequestDraft
from jobs.tickets import Ticket
from tests.conftest import git
from tests.jobs.phases.test_review_phase import pull_record, push_branch
from tests.phase_jobs import e2e_job, job_env

TICKET = Ticket(identifier="IX-918", title="Highlight long notes")
BRANCH = "factory/ix-918"
SHOT = "01-notes.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"not really an image, but bytes the browser tool wrote" * 10


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def outside_folder(tmp: Path) -> Path:
    """A folder outside every workspace, with canaries where the evidence would go and beside it."""
    outside = tmp / "outside"
    (outside / TICKET.identifier).mkdir(parents=True)
    (outside / TICKET.identifier / "canary.txt").write_text("canary\n")
    (outside / "canary.txt").write_text("canary\n")
    return outside


def push_hostile_branch(remote: Path, tmp: Path, outside: Path) -> str:
    """The agent's branch: a real change, and ``.factory/screenshots`` committed as a link to ``outside``."""
    checkout = tmp / "prep-hostile"
    git("clone", "-q", str(remote), str(checkout))
    git("checkout", "-q", "-b", BRANCH, cwd=checkout)
    (checkout / "README.md").write_text((checkout / "README.md").read_text() + "\nLong notes stand out.\n")
    (checkout / ".factory").mkdir()
    (checkout / ".factory" / "screenshots").symlink_to(outside, target_is_directory=True)
    git("add", "-A", cwd=checkout)
    git("commit", "-qm", "IX-918: change", cwd=checkout)
    git("push", "-q", "origin", BRANCH, cwd=checkout)
    assert git("--git-dir", str(remote), "ls-tree", BRANCH, ".factory/screenshots").startswith("120000")
    return git("rev-parse", "HEAD", cwd=checkout).strip()


@pytest.fixture
def closing() -> Iterator[ExitStack]:
    """What a test opened, closed when it ends however it ends (the phase's box, as the job closes it)."""
    with ExitStack() as stack:
        yield stack


def setup_run(
    remote: Path, tmp: Path, head: str, closing: ExitStack
) -> tuple[Publisher, E2EAttempt, E2EResult]:
    """Services as the e2e job builds them, an open PR, and a verified attempt with one screenshot."""
    unused_auth = {"ANTHROPIC_API_KEY": "sk-ant-unused-no-agent-runs-here"}  # the job requires one
    settings, services, run_id = prepare(job_env(TICKET.identifier, remote, tmp, unused_auth, "r1"), "e2e")
    closing.enter_context(boxed(settings, services))
    services.pulls.upsert(PullRequestDraft(head=BRANCH, base="main", title="IX-918: x", body="The review."))
    shots = services.workdir / "shots-1"
    shots.mkdir(parents=True)
    (shots / SHOT).write_bytes(PNG)
    (shots / "index.jsonl").write_text(json.dumps({"file": SHOT, "url": "http://127.0.0.1:8000/"}) + "\n")
    item = ChecklistItem(
        check="Long notes are highlighted", page="notes", passed=True, screenshot=SHOT, observed="yes"
    )
    report = E2EReport(checklist=[item], summary="The long note is highlighted.")
    attempt = E2EAttempt(attempt=1, head_sha=head, verdict="verified", report=report)
    result = E2EResult(**result_fields(settings, run_id), status="verified")
    return Publisher(settings, services, run_id, TICKET), attempt, result


def test_a_branch_whose_evidence_folder_is_a_link_gets_no_commit_and_a_flagged_pr(
    remote: Path, tmp_path: Path, closing: ExitStack
) -> None:
    outside = outside_folder(tmp_path)
    before = snapshot(outside)
    head = push_hostile_branch(remote, tmp_path, outside)
    publisher, attempt, result = setup_run(remote, tmp_path, head, closing)

    published, shared = publisher.publish([attempt], result)

    # Nothing outside the workspace was deleted, written or created.
    assert (outside / TICKET.identifier / "canary.txt").read_text() == "canary\n"
    assert snapshot(outside) == before
    # The result says why; the verdict itself stands; nothing was committed or pushed.
    assert published.status == "verified"
    assert "the report was not committed to the branch" in published.detail
    assert "`.factory/screenshots`" in published.detail and "symbolic link" in published.detail
    assert published.report_in_branch is None
    assert git("--git-dir", str(remote), "rev-parse", BRANCH).strip() == head
    # The evidence is still kept in the artifacts, and the report is posted with images from there.
    e2e_dir = tmp_path / "artifacts" / "runs" / "r1" / "e2e"
    assert (e2e_dir / "screenshots" / SHOT).read_bytes() == PNG
    assert published.report is not None and (e2e_dir / "report.md").is_file()
    # The PR is flagged for a human, its body untouched; the sticky comment says why.
    record, markdown = pull_record(tmp_path, BRANCH)
    assert record["flagged"] is True and record["body"] == "The review."
    comments = record["comments"]
    assert isinstance(comments, list) and len(comments) == 1
    comment = str(comments[0]["body"])
    assert "**Needs human review**: Factory did not commit this report to the branch" in comment
    assert "`.factory/screenshots`" in comment and "symbolic link" in comment
    assert f"e2e/screenshots/{SHOT})" in comment and shared in comment
    assert published.pull_request_comment is not None and "factory:needs-human-review" in markdown


def test_a_plain_branch_gets_its_report_committed_and_an_unflagged_pr(
    remote: Path, tmp_path: Path, closing: ExitStack
) -> None:
    head = push_branch(remote, tmp_path, TICKET.identifier)
    publisher, attempt, result = setup_run(remote, tmp_path, head, closing)

    published, _ = publisher.publish([attempt], result)

    assert published.detail == "" and published.report_in_branch == ".factory/screenshots/IX-918/report.md"
    report = git("--git-dir", str(remote), "show", f"{BRANCH}:.factory/screenshots/IX-918/report.md")
    assert "**Result: verified**" in report and f"![{SHOT}]({SHOT})" in report
    assert git("--git-dir", str(remote), "rev-parse", f"{BRANCH}~1").strip() == head
    record, _ = pull_record(tmp_path, BRANCH)
    assert record["flagged"] is False
    comments = record["comments"]
    assert isinstance(comments, list) and "Needs human review" not in str(comments[0]["body"])


def test_a_planted_link_among_the_screenshots_or_logs_is_not_read(
    remote: Path, tmp_path: Path, closing: ExitStack
) -> None:
    """The target's servers can write in the work directory: a log or screenshot there may be a link."""
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("outside-secret-value\n")
    head = push_branch(remote, tmp_path, TICKET.identifier)
    publisher, _, _ = setup_run(remote, tmp_path, head, closing)
    workdir = publisher.services.workdir
    logs = workdir / "server-logs-1"
    logs.mkdir()
    (logs / "api.log").write_text("api listening\n")
    (logs / "web.log").symlink_to(secret)

    kept = publisher.keep_logs(1, {"api": logs / "api.log", "web": logs / "web.log", "gone": logs / "x.log"})

    assert sorted(kept) == ["api", "web"]
    logs_dir = tmp_path / "artifacts" / "runs" / "r1" / "e2e" / "attempt-1" / "logs"
    assert (logs_dir / "api.log").read_text() == "api listening\n"
    web = (logs_dir / "web.log").read_text()
    assert "outside-secret-value" not in web and "did not read this log" in web and "symbolic link" in web

    (workdir / "shots-1" / SHOT).unlink()
    (workdir / "shots-1" / SHOT).symlink_to(secret)
    with pytest.raises(UnsafePath, match="symbolic link"):
        publisher.keep_screenshots(1, workdir / "shots-1", {SHOT: {}})
    assert not (logs_dir.parent / "screenshots").exists()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no Chromium: apt-get install chromium")
def test_the_whole_e2e_phase_on_a_hostile_branch_touches_nothing_outside(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """The real phase (Postgres, dev servers, Chromium, the CLI): its publish step refuses the link."""
    outside = outside_folder(tmp_path)
    before = snapshot(outside)
    head = push_hostile_branch(remote, tmp_path, outside)
    result = e2e_job(job_env(TICKET.identifier, remote, tmp_path, model_auth, "r1"))
    assert snapshot(outside) == before
    assert result.status == "failed" and len(result.attempts) == 1  # IX-918's scripted report fails
    assert "never took" in result.detail and "not committed to the branch" in result.detail
    assert result.report_in_branch is None
    assert git("--git-dir", str(remote), "rev-parse", BRANCH).strip() == head
