"""Requests to one GitHub repository's REST endpoints, under GitHub's rate limits.

Facts this relies on (docs.github.com/rest, "Rate limits for the REST API", API version 2022-11-28):

- every request sends ``Authorization: Bearer <token>``, ``Accept: application/vnd.github+json`` and
  ``X-GitHub-Api-Version: 2022-11-28``;
- a rate limit answers 403 or 429. With ``retry-after``, wait that many seconds; with
  ``x-ratelimit-remaining: 0``, wait until ``x-ratelimit-reset`` (UTC epoch seconds); a secondary limit
  (its message says so) with neither, at least a minute, longer each time it repeats;
- requests sent while limited can get an integration banned, so after any response that shows the quota
  spent (even a 200), nothing is sent before its reset.

A 403 with none of those signs is a refusal (permissions), like 400, 401, 404 and 422: never retried. The
token is masked in every message built from GitHub's answers, before any cut that could leave a prefix.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import httpx
import pydantic
from pydantic import SecretStr

from jobs.errors import ConfigError, FactoryError, ServiceError
from jobs.redact import MASK
from jobs.retry import RetryPolicy, parse_number, retry_after_header

SERVICE = "github"
DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_MESSAGE = 300
SECONDARY_WAIT = 60.0  # GitHub's advice for a secondary limit that names no time
RESET_MARGIN = 1.0  # x-ratelimit-reset has whole-second precision, and our clock may trail GitHub's
NAME_PATTERN = r"[A-Za-z0-9_.-]+"
_REPO_RE = re.compile(rf"^{NAME_PATTERN}/{NAME_PATTERN}$")

T = TypeVar("T")


class GitHubApi:
    """Sends requests to ``{api_url}/repos/{owner}/{name}/...`` (and ``/user``); maps answers to errors."""

    def __init__(
        self, client: httpx.Client, token: SecretStr, repo: str, api_url: str, policy: RetryPolicy
    ) -> None:
        if not token.get_secret_value().strip():
            raise ConfigError("invalid setting GITHUB_TOKEN: empty")
        if not _REPO_RE.fullmatch(repo) or {".", ".."} & set(repo.split("/")):
            raise ConfigError(f"malformed GitHub repository {repo[:100]!r} (expected owner/name)")
        self.repo = repo
        self.owner = repo.split("/")[0]
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        self._client = client
        self._token = token
        self._quiet_until = 0.0  # the quota is spent until then: send nothing before
        self._secondary_strikes = 0

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request to ``/repos/{owner}/{name}/{path}`` (to ``path`` itself when it starts with ``/``,
        as ``/user`` does): the response if it succeeded or its status is in ``allow``; else the
        ServiceError it maps to (retryable for 5xx and rate limits)."""
        self._wait_for_quota()
        headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "factory",
        }
        url = f"{self.api_url}{path}" if path.startswith("/") else f"{self.api_url}/repos/{self.repo}/{path}"
        try:
            response = self._client.request(method, url, params=params, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise FactoryError(f"{SERVICE}: no response ({type(exc).__name__})", retryable=True) from None
        now = self.policy.clock()
        reset = _spent_until(response.headers)
        if reset is not None:
            self._quiet_until = max(self._quiet_until, reset + RESET_MARGIN)
        if response.status_code in (403, 429) and (wait := self._limit_wait(response, now)) is not None:
            self._quiet_until = max(self._quiet_until, now + wait)
            message = f"rate limited: {self.describe(response)}"
            raise ServiceError(SERVICE, response.status_code, message, retry_after=wait)
        if not (response.is_success or response.status_code in allow):
            raise ServiceError(SERVICE, response.status_code, self.describe(response))
        self._secondary_strikes = 0
        return response

    def describe(self, response: httpx.Response, limit: int = MAX_MESSAGE) -> str:
        """GitHub's ``message`` and first ``errors[].message``s, one line, token masked, capped."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        parts: list[str] = []
        if isinstance(payload, dict):
            parts.append(str(payload.get("message") or ""))
            errors = payload.get("errors")
            for error in errors[:3] if isinstance(errors, list) else []:
                detail = error.get("message") or error.get("code") if isinstance(error, dict) else error
                parts.append(str(detail or ""))
        text = " ".join("; ".join(part for part in parts if part).split())
        return self.mask(text or response.reason_phrase or "error")[:limit]

    def mask(self, text: str) -> str:
        """``text`` with this client's token replaced by the redaction mask."""
        return text.replace(self._token.get_secret_value(), MASK)

    def _wait_for_quota(self) -> None:
        wait = self._quiet_until - self.policy.clock()
        if wait <= 1e-3:  # a leftover that small is float rounding of the wait just slept
            return
        if wait > self.policy.max_wait:
            message = f"rate limit quota spent for {wait:.0f} s more"
            raise ServiceError(SERVICE, 429, message, retry_after=wait)
        self.policy.sleep(wait)

    def _limit_wait(self, response: httpx.Response, now: float) -> float | None:
        """Seconds to wait if this 403/429 is a rate limit; None if it is a plain refusal."""
        retry_after = retry_after_header(response.headers.get("retry-after"), now)
        if retry_after is not None:
            return retry_after
        reset = _spent_until(response.headers)
        if reset is not None:
            return max(0.0, reset + RESET_MARGIN - now)
        if response.status_code == 429 or "rate limit" in self.describe(response, limit=10_000).lower():
            self._secondary_strikes += 1
            return SECONDARY_WAIT * float(2 ** (self._secondary_strikes - 1))
        return None


def shape(model: type[T], response: httpx.Response) -> T:
    """The response's JSON validated as ``model``; ServiceError naming the endpoint if it is not one."""
    try:
        return pydantic.TypeAdapter(model).validate_json(response.content)
    except pydantic.ValidationError:
        what = f"{response.request.method} {response.request.url.path}"
        raise ServiceError(SERVICE, response.status_code, f"unexpected response shape for {what}") from None


def _spent_until(headers: httpx.Headers) -> float | None:
    """The reset time (epoch seconds) if this response shows the primary quota spent, else None."""
    remaining = parse_number(headers.get("x-ratelimit-remaining"))
    reset = parse_number(headers.get("x-ratelimit-reset"))
    return reset if remaining is not None and remaining <= 0 and reset is not None else None
