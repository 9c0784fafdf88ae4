"""What a local run is given, made absolute once and checked before the workflow starts.

Paths enter through the ``factory`` command relative to the caller's directory, but the jobs use them
from elsewhere (a push runs inside the job's checkout), so each is resolved where it enters: a relative
path or ``file://`` URL becomes absolute; an https URL is left as it is. The up-front checks turn what
would fail minutes later inside a job (no ticket file, no repository, no base branch) into one line
before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from jobs.errors import ConfigError, GitError, TicketNotFound
from jobs.tickets.local import parse_ticket_file
from jobs.tickets.models import Ticket
from jobs.tickets.source import check_identifier
from jobs.workspace.git import Git

FILE_SCHEME = "file://"


def resolve_path(path: Path) -> Path:
    """``path`` made absolute against the current directory (``~`` expanded)."""
    return path.expanduser().resolve()


def resolve_repo(repo: str) -> str:
    """A local path or ``file://`` URL made absolute; an https URL (or any other scheme) untouched."""
    if repo.startswith(FILE_SCHEME):
        return FILE_SCHEME + str(resolve_path(Path(repo.removeprefix(FILE_SCHEME))))
    if urlsplit(repo).scheme:
        return repo
    return str(resolve_path(Path(repo))) if repo else repo


def local_repo_path(repo: str) -> Path | None:
    """The directory of a local repository (a path or ``file://`` URL); None for a remote URL."""
    if repo.startswith(FILE_SCHEME):
        return Path(repo.removeprefix(FILE_SCHEME))
    return None if urlsplit(repo).scheme else Path(repo)


def check_repo(repo: str, base_branch: str = "main") -> None:
    """ConfigError unless a local ``repo`` is a git repository with ``base_branch``, as the job's clone
    will see it (``git ls-remote``). A remote URL is not checked: that needs the network and a token."""
    path = local_repo_path(repo)
    if path is None:
        return
    if not path.exists():
        raise ConfigError(f"--repo {repo}: no such file or directory")
    try:
        heads = Git().out(["ls-remote", "--heads", "--", str(path), f"refs/heads/{base_branch}"])
    except GitError:
        raise ConfigError(f"--repo {repo}: not a git repository") from None
    if not heads:
        raise ConfigError(f"--repo {repo}: has no branch {base_branch!r} to start from")


def check_ticket(tickets_dir: Path, identifier: str) -> Ticket:
    """The ticket file for ``identifier`` under ``tickets_dir``, parsed; ConfigError saying what is wrong."""
    try:
        return parse_ticket_file(resolve_path(tickets_dir) / f"{check_identifier(identifier)}.md")
    except TicketNotFound:
        raise ConfigError(f"--ticket {identifier}: no ticket file {tickets_dir / identifier}.md") from None
