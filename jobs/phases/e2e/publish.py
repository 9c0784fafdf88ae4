"""Where an e2e run's evidence goes: the artifacts, the branch, the PR's sticky comment.

Screenshots and server logs of each attempt are kept in the artifacts as the attempt ends. At the end
the report and the last attempt's screenshots are committed to the branch under
``.factory/screenshots/{ticket}/``, kept in the artifacts, and posted to the PR as one sticky comment.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs.logs import get_logger
from jobs.phases.e2e.records import E2EAttempt, E2EResult, e2e_key
from jobs.phases.e2e.render import render_report
from jobs.phases.e2e.report import screenshots_taken
from jobs.phases.kit.steps import branch_workspace, phase_branch
from jobs.pulls import repo_from_url
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.tickets import Ticket
from jobs.workspace import Workspace

PR_COMMENT_KEY = "factory-e2e"


@dataclass(frozen=True)
class Publisher:
    """Keeps one run's e2e evidence and publishes its report."""

    settings: JobSettings
    services: Services
    run_id: str
    ticket: Ticket

    def keep_screenshots(self, n: int, shots: Path, taken: dict[str, dict[str, str]]) -> list[str]:
        urls = []
        for name in taken:
            key = self._key(f"attempt-{n}", "screenshots", name)
            self.services.store.write_bytes(key, (shots / name).read_bytes())
            urls.append(self.services.store.url(key))
        return urls

    def keep_logs(self, n: int, log_paths: dict[str, Path]) -> dict[str, str]:
        kept = {}
        for name, path in log_paths.items():
            if path.is_file():
                key = self._key(f"attempt-{n}", "logs", f"{name}.log")
                self.services.store.write_bytes(
                    key, self.services.redact(path.read_text(errors="replace")).encode()
                )
                kept[name] = self.services.store.url(key)
        return kept

    def publish(self, attempts: list[E2EAttempt], result: E2EResult) -> tuple[E2EResult, str]:
        """Commit the report and screenshots to the branch, keep them in the artifacts, post to the PR.

        Returns the result with where the report went, and the report as people see it (PR, ticket)."""
        last = attempts[-1]
        n = last.attempt
        shots = self.services.workdir / f"shots-{n}"
        taken = screenshots_taken(shots)
        folder = f".factory/screenshots/{self.ticket.identifier}"
        identifier, redact = self.ticket.identifier, self.services.redact
        branch_report = render_report(identifier, attempts, lambda name: name, redact)
        for name in taken:
            self.services.store.write_bytes(self._key("screenshots", name), (shots / name).read_bytes())
        artifact_report = render_report(
            identifier, attempts, lambda name: self.services.store.url(self._key("screenshots", name)), redact
        )
        report_key = self._key("report.md")
        self.services.store.write_bytes(report_key, artifact_report.encode())
        workspace = branch_workspace(self.settings, self.services, "e2e-publish")
        workspace.clone()
        target = workspace.path / folder
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in taken:
            shutil.copy2(shots / name, target / name)
        (target / "report.md").write_text(branch_report + "\n", encoding="utf-8")
        subject = f"{identifier}: E2E report and screenshots ({last.verdict})"
        message = f"{subject}\n\nWritten by Factory run {self.run_id}."
        if workspace.commit_all(message, self.services.redact.finds_secret):
            workspace.push()
        shared_report = self._shared_report(attempts, folder)
        comment = self._comment(workspace, shared_report)
        update = {
            "report": self.services.store.url(report_key),
            "report_in_branch": f"{folder}/report.md",
            "pull_request_comment": comment,
        }
        return result.model_copy(update=update), shared_report

    def _shared_report(self, attempts: list[E2EAttempt], folder: str) -> str:
        """The report for people: images from the branch on GitHub, else from the artifacts."""
        repo = repo_from_url(self.settings.repo_url or "")
        branch = phase_branch(self.settings)

        def image_url(name: str) -> str:
            if repo is not None:
                return f"https://github.com/{repo}/blob/{branch}/{folder}/{name}?raw=true"
            return self.services.store.url(self._key("screenshots", name))

        return render_report(self.ticket.identifier, attempts, image_url, self.services.redact)

    def _comment(self, workspace: Workspace, report: str) -> str | None:
        """The report as the PR's one sticky E2E comment; None when the branch has no open PR yet."""
        pull = self.services.pulls.find_open(workspace.branch, workspace.base_branch)
        if pull is None:
            get_logger().info("no open pull request for %s: the report is not posted", workspace.branch)
            return None
        return self.services.pulls.upsert_comment(pull.number, PR_COMMENT_KEY, report)

    def _key(self, *parts: str) -> str:
        return e2e_key(self.run_id, *parts)
