"""Where an e2e run's evidence goes: the artifacts, the branch, the PR's sticky comment.

Screenshots and server logs of each attempt are kept in the artifacts as the attempt ends. At the end
the report and the last attempt's screenshots are committed to the branch under
``.factory/screenshots/{ticket}/``, kept in the artifacts, and posted to the PR as one sticky comment.

Every file is read and written through ``jobs.workspace.safe_files``: the branch is the agent's and the
screenshot and log folders are open to the target's servers, so a symbolic link planted in either is
refused, never followed. A branch whose evidence folder cannot be written safely gets no commit: the
result's detail says why and the PR is flagged for a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs.errors import UnsafePath
from jobs.logs import get_logger
from jobs.phases.e2e.records import E2EAttempt, E2EResult, e2e_key
from jobs.phases.e2e.render import render_report
from jobs.phases.e2e.report import screenshots_taken
from jobs.phases.kit.steps import branch_workspace, phase_branch
from jobs.pulls import PullRequest, PullRequestDraft, repo_from_url
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.tickets import Ticket
from jobs.workspace import Workspace
from jobs.workspace.repo import FACTORY_EVIDENCE
from jobs.workspace.safe_files import safe_read, safe_rmtree, safe_write

PR_COMMENT_KEY = "factory-e2e"
# Far above a 1280x800 PNG of the browser tool; a bound all the same on what we load into memory.
MAX_SCREENSHOT_BYTES = 32 * 1024 * 1024
MAX_LOG_BYTES = 4 * 1024 * 1024  # a log's last bytes: where a server that failed says why
REFUSED_NOTE = (
    "> [!WARNING]\n> **Needs human review**: Factory did not commit this report to the branch: {reason}. "
    "The pull request is flagged: look at what the branch holds there before merging."
)


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
            self.services.store.write_bytes(key, self._screenshot(shots, name))
            urls.append(self.services.store.url(key))
        return urls

    def keep_logs(self, n: int, log_paths: dict[str, Path]) -> dict[str, str]:
        """Each server's log (its tail), redacted; a log planted as a link is kept as a note saying so.

        Called while another error may be on its way up: a refused log must not replace that error."""
        kept = {}
        for name, path in log_paths.items():
            try:
                data = safe_read(self.services.workdir, self._in_workdir(path), MAX_LOG_BYTES, tail=True)
            except FileNotFoundError:
                continue
            except UnsafePath as exc:
                get_logger().warning("server log %s not read: %s", name, exc)
                self.services.security.unsafe_path(str(exc))
                data = f"(Factory did not read this log: {exc})\n".encode()
            key = self._key(f"attempt-{n}", "logs", f"{name}.log")
            self.services.store.write_bytes(key, self.services.redact(data.decode(errors="replace")).encode())
            kept[name] = self.services.store.url(key)
        return kept

    def publish(self, attempts: list[E2EAttempt], result: E2EResult) -> tuple[E2EResult, str]:
        """Commit the report and screenshots to the branch, keep them in the artifacts, post to the PR.

        Returns the result with where the report went, and the report as people see it (PR, ticket)."""
        last = attempts[-1]
        shots = self.services.workdir / f"shots-{last.attempt}"
        images = {name: self._screenshot(shots, name) for name in screenshots_taken(shots)}
        folder = f"{FACTORY_EVIDENCE}/{self.ticket.identifier}"
        identifier, redact = self.ticket.identifier, self.services.redact
        branch_report = render_report(identifier, attempts, lambda name: name, redact)
        for name, data in images.items():
            self.services.store.write_bytes(self._key("screenshots", name), data)
        artifact_report = render_report(
            identifier, attempts, lambda name: self.services.store.url(self._key("screenshots", name)), redact
        )
        report_key = self._key("report.md")
        self.services.store.write_bytes(report_key, artifact_report.encode())
        workspace = branch_workspace(self.settings, self.services, "e2e-publish")
        workspace.clone()
        refused = self._commit(workspace, folder, images, branch_report, last)
        pull = self.services.pulls.find_open(workspace.branch, workspace.base_branch)
        shared_report = self._shared_report(attempts, folder, in_branch=refused is None)
        update: dict[str, str | None] = {"report": self.services.store.url(report_key)}
        if refused is None:
            update["report_in_branch"] = f"{folder}/report.md"
        else:
            shared_report = f"{REFUSED_NOTE.format(reason=refused)}\n\n{shared_report}"
            why = f"the report was not committed to the branch: {refused}"
            update["detail"] = f"{result.detail}; {why}" if result.detail else why
            self._flag(pull)
        update["pull_request_comment"] = self._comment(workspace, pull, shared_report)
        return result.model_copy(update=update), shared_report

    def _commit(
        self, workspace: Workspace, folder: str, images: dict[str, bytes], report: str, last: E2EAttempt
    ) -> str | None:
        """Write the report and screenshots into the branch's ``folder``, commit and push; None when done,
        else why it was refused (nothing is committed then, and nothing outside the clone was touched)."""
        try:
            safe_rmtree(workspace.path, folder)
            for name, data in images.items():
                safe_write(workspace.path, f"{folder}/{name}", data)
            safe_write(workspace.path, f"{folder}/report.md", (report + "\n").encode())
        except UnsafePath as exc:
            get_logger().warning("the e2e report is not committed: %s", exc)
            self.services.security.unsafe_path(str(exc))
            return self.services.redact(
                f"the branch's `{_shown(exc.path, workspace.path)}` was refused: {exc.why}"
            )
        subject = f"{self.ticket.identifier}: E2E report and screenshots ({last.verdict})"
        message = f"{subject}\n\nWritten by Factory run {self.run_id}."
        if workspace.commit_all(message, self.services.redact.finds_secret):
            workspace.push()
        return None

    def _shared_report(self, attempts: list[E2EAttempt], folder: str, *, in_branch: bool) -> str:
        """The report for people: images from the branch on GitHub, else from the artifacts."""
        repo = repo_from_url(self.settings.repo_url or "") if in_branch else None
        branch = phase_branch(self.settings)

        def image_url(name: str) -> str:
            if repo is not None:
                return f"https://github.com/{repo}/blob/{branch}/{folder}/{name}?raw=true"
            return self.services.store.url(self._key("screenshots", name))

        return render_report(self.ticket.identifier, attempts, image_url, self.services.redact)

    def _flag(self, pull: PullRequest | None) -> None:
        """Label the open PR for a human; its title and body stay as the review wrote them."""
        if pull is None or pull.flagged:
            return
        draft = PullRequestDraft(
            head=pull.head, base=pull.base, title=pull.title, body=pull.body, flagged=True
        )
        self.services.pulls.upsert(draft)

    def _comment(self, workspace: Workspace, pull: PullRequest | None, report: str) -> str | None:
        """The report as the PR's one sticky E2E comment; None when the branch has no open PR yet."""
        if pull is None:
            get_logger().info("no open pull request for %s: the report is not posted", workspace.branch)
            return None
        return self.services.pulls.upsert_comment(pull.number, PR_COMMENT_KEY, report)

    def _screenshot(self, shots: Path, name: str) -> bytes:
        """A screenshot the browser tool took; UnsafePath if the folder or the file is a planted link."""
        return safe_read(self.services.workdir, self._in_workdir(shots / name), MAX_SCREENSHOT_BYTES)

    def _in_workdir(self, path: Path) -> str:
        return path.relative_to(self.services.workdir).as_posix()

    def _key(self, *parts: str) -> str:
        return e2e_key(self.run_id, *parts)


def _shown(path: str, root: Path) -> str:
    """A path in the branch as one line that cannot break the markdown it is quoted in."""
    where = Path(path)
    relative = where.relative_to(root).as_posix() if where.is_relative_to(root) else path
    return " ".join(relative.replace("`", "'").split())[:200]
