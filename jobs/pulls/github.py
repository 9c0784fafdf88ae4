"""GitHub as the PullRequests host: one PR per branch, one sticky comment per key, the flag label.

Facts this relies on (docs.github.com/rest, API version 2022-11-28):

- ``GET /repos/{o}/{r}/pulls?state=open&head={o}:{branch}&base={base}`` lists a branch's open PRs;
  ``POST /repos/{o}/{r}/pulls`` ``{title, head, base, body}`` creates one (201), or answers 422 "Validation
  Failed" with ``errors[].message`` "A pull request already exists for {o}:{branch}."; ``PATCH .../pulls/{n}``
  edits one; a body over 65,536 characters or a title over 256 is a 422 too (clamped before sending);
- a PR's labels and comments are its issue's: ``POST .../issues/{n}/labels`` ``{"labels": [...]}``,
  ``DELETE .../issues/{n}/labels/{name}`` (404 when the label is not on it), ``GET .../issues/{n}/comments``
  (``per_page`` up to 100; a ``Link`` header with ``rel="next"`` while pages remain), ``POST
  .../issues/{n}/comments``, ``PATCH .../issues/comments/{id}``;
- a comment names its author: ``user`` (``login``, ``id``, ``type``; null for a deleted account) and, for
  one written through a GitHub App, ``performed_via_github_app`` (``id``, ``slug``). Anyone with write
  access may edit anyone's comment, so a 403 never tells ours from a person's: authorship does;
- ``GET /user`` names the token's account (``login``, ``id``) for a personal access token; it is not among
  the endpoints an App installation token may use (403 "Resource not accessible by integration"). Such
  a token writes as its App's bot, ``{slug}[bot]`` of type ``Bot`` (GitHub's convention; ``[`` cannot
  appear in a person's login), so with the App's slug configured that bot is who we are.

Retries wrap whole operations: a retried upsert lists again first, so a PR or comment whose creation
succeeded but whose answer was lost is found and updated, never made twice. Only comments Factory itself
wrote are ever edited; when the client cannot tell who it is, it edits none and always creates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from jobs.errors import FactoryError, ServiceError
from jobs.logs import get_logger
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


class _User(BaseModel):
    login: str
    id: int | None = None
    type: str | None = None


class _App(BaseModel):
    slug: str | None = None


class _Comment(BaseModel):
    id: int
    html_url: str
    body: str | None = None
    user: _User | None = None  # null when the author's account was deleted
    performed_via_github_app: _App | None = None


@dataclass(frozen=True)
class _Identity:
    """Whom GitHub names as the author of the comments this client writes."""

    login: str
    id: int | None = None  # None for an App's bot, known by its login only
    app_slug: str | None = None

    def wrote(self, comment: _Comment) -> bool:
        """Whether ``comment`` is ours: the same account id where both sides know it, else the same login
        (unique, case-insensitive); for an App, also its bot's type and, where GitHub names one, its App."""
        user = comment.user
        if user is None or (self.app_slug is not None and not self._by_our_app(user, comment)):
            return False
        if self.id is not None and user.id is not None:
            return user.id == self.id
        return user.login.casefold() == self.login.casefold()

    def _by_our_app(self, user: _User, comment: _Comment) -> bool:
        """An App's comments are its bot's; a person acting through the App (a user token) is not it."""
        app = comment.performed_via_github_app
        return user.type == "Bot" and (app is None or app.slug in (None, self.app_slug))


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
        app_slug: str | None = None,
    ) -> None:
        """``app_slug``: the GitHub App whose installation token ``token`` is, if it is one; it is how
        such a token, which ``GET /user`` refuses, knows its own comments."""
        # A primary limit can take an hour to reset; a few minutes is worth waiting, more is not.
        self._api = GitHubApi(client, token, repo, api_url, policy or RetryPolicy(max_wait=300.0))
        self._app_slug = app_slug.strip() if app_slug and app_slug.strip() else None
        self._identity: _Identity | None = None
        self._identity_known = False  # asked once per client: the token does not change

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
        identity = self._own_identity()
        # Not knowing who we are, no comment is known to be ours: editing one could overwrite a person's.
        for comment in [] if identity is None else self._marked_comments(number, key, identity):
            if comment.body == text:
                return comment.html_url
            # 404: deleted since listed, so try the next. A 403 on our own comment is a real refusal.
            path = f"issues/comments/{comment.id}"
            response = self._api.send("PATCH", path, json={"body": text}, allow=(404,))
            if response.is_success:
                return shape(_Comment, response).html_url
        response = self._api.send("POST", f"issues/{number}/comments", json={"body": text})
        return shape(_Comment, response).html_url

    def _own_identity(self) -> _Identity | None:
        """Who this client's token writes as, asked once; None (and one warning) if that cannot be told.

        A transient failure raises, so the retried upsert asks again rather than settling on None."""
        if not self._identity_known:
            self._identity = self._ask_identity()
            self._identity_known = True
            if self._identity is None:
                get_logger().warning(
                    "%s: cannot tell which comments are Factory's own (GET /user named no account and "
                    "no GitHub App slug is set): sticky comments are created anew, never edited",
                    SERVICE,
                )
        return self._identity

    def _ask_identity(self) -> _Identity | None:
        """The account ``GET /user`` names; else the App's bot when an installation token (which that
        endpoint refuses) has its App's slug configured; else None: nothing tells us who we are."""
        response = self._api.send("GET", "/user", allow=(403, 404))
        if response.is_success:
            try:
                user = _User.model_validate_json(response.content)
            except ValidationError:
                return None
            return _Identity(user.login, user.id)
        if self._app_slug is not None:  # an installation token: GET /user is not for it
            return _Identity(f"{self._app_slug}[bot]", app_slug=self._app_slug)
        return None

    def _marked_comments(self, number: int, key: str, identity: _Identity) -> list[_Comment]:
        """Our own comments on PR ``number`` whose first line is ``key``'s marker, oldest first."""
        found: list[_Comment] = []
        for page in range(1, COMMENT_PAGES + 1):
            params = {"per_page": str(PER_PAGE), "page": str(page)}
            response = self._api.send("GET", f"issues/{number}/comments", params=params)
            found += [
                c
                for c in shape(list[_Comment], response)
                if is_marked(c.body or "", key) and identity.wrote(c)
            ]
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
