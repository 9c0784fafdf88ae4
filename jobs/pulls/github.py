"""GitHub as the PullRequests host: one PR per branch, one sticky comment per key, the flag label.

Facts this relies on (docs.github.com/rest, API version 2022-11-28):

- ``GET /repos/{o}/{r}/pulls?state=open&head={o}:{branch}&base={base}`` lists a branch's open PRs;
  ``POST /repos/{o}/{r}/pulls`` ``{title, head, base, body}`` creates one (201), or answers 422 "Validation
  Failed" with ``errors[].message`` "A pull request already exists for {o}:{branch}."; ``PATCH .../pulls/{n}``
  edits one; a body over 65,536 characters or a title over 256 is a 422 too (clamped before sending);
- a PR's labels and comments are its issue's: ``POST .../issues/{n}/labels`` ``{"labels": [...]}``,
  ``DELETE .../issues/{n}/labels/{name}`` (404 when the label is not on it), ``GET .../issues/{n}/comments``
  (``per_page`` up to 100; a ``Link`` header with ``rel="next"`` while pages remain), ``POST
  .../issues/{n}/comments``, ``PATCH .../issues/comments/{id}``.

Retries wrap whole operations: a retried upsert lists again first, so a PR or comment whose creation
succeeded but whose answer was lost is found and updated, never made twice.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, SecretStr

from jobs.errors import FactoryError, ServiceError
from jobs.pulls.github_api import DEFAULT_API_URL, NAME_PATTERN, SERVICE, GitHubApi, shape
from jobs.pulls.models import FLAG_LABEL, PullRequest, PullRequestDraft
from jobs.pulls.source import clamp_body, clamp_title, is_marked, marked_comment
from jobs.retry import RetryPolicy

PER_PAGE = 100
COMMENT_PAGES = 50  # x 100 comments: a PR busier than that is not searched further
_URL_PATH_RE = re.compile(rf"^/({NAME_PATTERN})/({NAME_PATTERN}?)(?:\.git)?/?$")


class _Ref(BaseModel):
    ref: str


class _Label(BaseModel):
    name: str


class _Pull(BaseModel):
    number: int
    html_url: str
    title: str
    body: str | None = None
    state: str
    head: _Ref
    base: _Ref
    labels: list[_Label] = []


class _Comment(BaseModel):
    id: int
    html_url: str
    body: str | None = None


class GitHubPulls:
    """PullRequests on one GitHub repository (``owner/name``)."""

    def __init__(
        self,
        client: httpx.Client,
        token: SecretStr,
        repo: str,
        *,
        api_url: str = DEFAULT_API_URL,
        policy: RetryPolicy | None = None,
    ) -> None:
        # A primary limit can take an hour to reset; a few minutes is worth waiting, more is not.
        self._api = GitHubApi(client, token, repo, api_url, policy or RetryPolicy(max_wait=300.0))

    def __repr__(self) -> str:
        return f"GitHubPulls(repo={self._api.repo!r}, api_url={self._api.api_url!r})"

    # -- the PullRequests operations -------------------------------------------------------------------

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """The open PR from ``head`` into ``base``, if GitHub lists one."""
        pull = self._api.policy.call(self._find_once, head, base)
        return None if pull is None else _model(pull, [label.name for label in pull.labels])

    def upsert(self, draft: PullRequestDraft) -> PullRequest:
        """Update the open PR for head → base (title, body, flag label), else create it."""
        return self._api.policy.call(self._upsert_once, draft)

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        """Update the comment whose first line is ``key``'s marker, else create it; its URL."""
        text = self._api.mask(marked_comment(key, body))
        return self._api.policy.call(self._upsert_comment_once, number, key, text)

    # -- one attempt of each ---------------------------------------------------------------------------

    def _find_once(self, head: str, base: str) -> _Pull | None:
        params = {"state": "open", "head": f"{self._api.owner}:{head}", "base": base}
        # One open PR per head and base is all GitHub allows, so the first page is the whole answer.
        for pull in shape(list[_Pull], self._api.send("GET", "pulls", params=params)):
            if pull.head.ref == head and pull.base.ref == base:
                return pull
        return None

    def _upsert_once(self, draft: PullRequestDraft) -> PullRequest:
        title = self._api.mask(clamp_title(draft.title) or draft.head)
        body = self._api.mask(clamp_body(draft.body))
        pull = self._find_once(draft.head, draft.base) or self._create(draft, title, body)
        if (pull.title, pull.body or "") != (title, body):
            edit = {"title": title, "body": body}
            pull = shape(_Pull, self._api.send("PATCH", f"pulls/{pull.number}", json=edit))
        return _model(pull, self._sync_flag(pull, draft.flagged))

    def _create(self, draft: PullRequestDraft, title: str, body: str) -> _Pull:
        fields = {"title": title, "head": draft.head, "base": draft.base, "body": body}
        response = self._api.send("POST", "pulls", json=fields, allow=(422,))
        if response.status_code != 422:
            return shape(_Pull, response)
        if "a pull request already exists" not in self._api.describe(response, limit=10_000).lower():
            raise ServiceError(SERVICE, 422, self._api.describe(response))
        # Another run, or an attempt of ours whose answer was lost, opened it: that one is updated.
        found = self._find_once(draft.head, draft.base)
        if found is None:  # GitHub's list can lag behind its writes: the whole upsert is tried again
            raise FactoryError(
                f"{SERVICE}: a pull request for {self._api.owner}:{draft.head} exists but is not listed yet",
                retryable=True,
            )
        return found

    def _sync_flag(self, pull: _Pull, flagged: bool) -> list[str]:
        """The PR's label names after adding or removing the flag label as ``flagged`` says."""
        names = [label.name for label in pull.labels]
        labels = f"issues/{pull.number}/labels"
        if flagged and FLAG_LABEL not in names:
            response = self._api.send("POST", labels, json={"labels": [FLAG_LABEL]})
            return [label.name for label in shape(list[_Label], response)]
        if not flagged and FLAG_LABEL in names:
            response = self._api.send("DELETE", f"{labels}/{quote(FLAG_LABEL, safe='')}", allow=(404,))
            if response.status_code == 404:  # removed by someone else meanwhile: the goal is met
                return [name for name in names if name != FLAG_LABEL]
            return [label.name for label in shape(list[_Label], response)]
        return names

    def _upsert_comment_once(self, number: int, key: str, text: str) -> str:
        for comment in self._marked_comments(number, key):
            if comment.body == text:
                return comment.html_url
            # 403: someone else's comment quoting our marker; 404: deleted since listed. Try the next.
            path = f"issues/comments/{comment.id}"
            response = self._api.send("PATCH", path, json={"body": text}, allow=(403, 404))
            if response.is_success:
                return shape(_Comment, response).html_url
        response = self._api.send("POST", f"issues/{number}/comments", json={"body": text})
        return shape(_Comment, response).html_url

    def _marked_comments(self, number: int, key: str) -> list[_Comment]:
        found: list[_Comment] = []
        for page in range(1, COMMENT_PAGES + 1):
            params = {"per_page": str(PER_PAGE), "page": str(page)}
            response = self._api.send("GET", f"issues/{number}/comments", params=params)
            found += [c for c in shape(list[_Comment], response) if is_marked(c.body or "", key)]
            # Pages are asked for by number, never by the Link URL: the token goes to api_url only.
            if "next" not in response.links:
                return found
        raise ServiceError(SERVICE, 200, f"PR #{number} has too many comments to search for ours")


def repo_from_url(url: str) -> str | None:
    """``owner/name`` for ``https://github.com/owner/name`` (``.git`` optional); None for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or (parts.hostname or "").lower() != "github.com":
        return None
    match = _URL_PATH_RE.fullmatch(parts.path)
    if match is None or match.group(2) in ("", ".", ".."):
        return None
    return f"{match.group(1)}/{match.group(2)}"


def _model(pull: _Pull, labels: list[str]) -> PullRequest:
    state: Literal["open", "closed"] = "open" if pull.state == "open" else "closed"
    return PullRequest(
        number=pull.number,
        url=pull.html_url,
        head=pull.head.ref,
        base=pull.base.ref,
        title=pull.title,
        body=pull.body or "",
        state=state,
        labels=labels,
    )
