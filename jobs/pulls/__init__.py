"""Pull requests: one ``PullRequests`` interface, a GitHub backend and a local artifact-store backend.

``open_pulls`` picks the backend from the target repository's URL: a local path or ``file://`` URL (a
bare repository on this machine) gets local PR records; ``https://github.com/owner/name`` gets GitHub.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from jobs.artifacts.store import ArtifactStore
from jobs.errors import ConfigError
from jobs.pulls.github import GitHubPulls, repo_from_url
from jobs.pulls.local import LocalPulls
from jobs.pulls.models import FLAG_LABEL, PullRequest, PullRequestDraft
from jobs.pulls.source import PullRequests, clamp_body, clamp_title

__all__ = [
    "FLAG_LABEL",
    "GitHubPulls",
    "LocalPulls",
    "PullRequest",
    "PullRequestDraft",
    "PullRequests",
    "clamp_body",
    "clamp_title",
    "open_pulls",
    "repo_from_url",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:owner/name.git


def open_pulls(
    repo_url: str,
    store: ArtifactStore,
    token: SecretStr | None,
    api_url: str,
    client: httpx.Client | None = None,
    app_slug: str | None = None,
) -> PullRequests:
    """The PR host for ``repo_url``; ConfigError if it is one we cannot open PRs on.

    Messages name the URL's scheme and host only: a URL may carry credentials in its user part.
    """
    url = repo_url.strip()
    if not url:
        raise ConfigError("invalid setting REPO_URL: empty")
    if _SCP_LIKE.match(url):
        raise ConfigError("invalid setting REPO_URL: use https://github.com/owner/name, not the SSH form")
    match = _SCHEME.match(url)
    if match is None or match.group(1).lower() == "file":
        return LocalPulls(store)
    repo = repo_from_url(url)
    if repo is None:
        where = f"{match.group(1).lower()}://{urlsplit(url).hostname or ''}"
        raise ConfigError(
            f"invalid setting REPO_URL: Factory opens pull requests on https://github.com/owner/name "
            f"or a local repository only, not on {where}"
        )
    if token is None or not token.get_secret_value().strip():
        raise ConfigError(f"invalid setting GITHUB_TOKEN: required to open pull requests on {repo}")
    http = client if client is not None else httpx.Client(timeout=30)
    return GitHubPulls(http, token, repo, api_url=api_url, app_slug=app_slug)
