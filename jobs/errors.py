"""The one error hierarchy. Each error knows whether trying again could help; tenacity retries only those."""

from __future__ import annotations


class FactoryError(Exception):
    """Base of every error Factory raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigError(FactoryError):
    """Bad settings or target-repo config: fix the input, retrying won't help."""


class TicketNotFound(FactoryError):
    """The ticket named by the run does not exist."""


class ServiceError(FactoryError):
    """An external HTTP service (Linear, GitHub, Slack, GCS) answered with an error."""

    def __init__(self, service: str, status: int, message: str, *, retry_after: float | None = None) -> None:
        retryable = status == 429 or status >= 500 or retry_after is not None
        super().__init__(f"{service}: HTTP {status}: {message}", retryable=retryable)
        self.service = service
        self.status = status
        self.retry_after = retry_after


class ArtifactError(FactoryError):
    """Reading or writing the artifact store failed."""


class ArtifactExists(ArtifactError):
    """A create-if-absent write found the object already there (someone else won the race)."""


class ArtifactNotFound(ArtifactError):
    """The object is not in the store."""


class GitError(FactoryError):
    """A git command failed."""


class PushRejected(GitError):
    """The remote refused the push (it moved, or a hook said no). Never answered with a force-push."""


class ProtectedBranchError(GitError):
    """Something tried to push to or commit on the default branch."""


class AgentError(FactoryError):
    """The agent could not be run at all (CLI missing, bad options)."""


class StepFailed(FactoryError):
    """A step of a phase (installing the target's dependencies, running its tests) failed."""


class DatabaseError(StepFailed):
    """The throwaway PostgreSQL for E2E seeds could not be found, started, or seeded."""


class UnsafePath(FactoryError):
    """A path in a tree the agent or the target wrote is a symbolic link or not a regular file: refused.

    Nothing was read, written or deleted through it; ``path`` names it (root and relative path)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"refused {path}: {why}")
        self.path = path
        self.why = why
