"""Pull requests: GitHubPulls against a fake GitHub over real HTTP, LocalPulls on a real directory store.

Reliability rows: D4 (re-run 100x -> one PR, the 422 "already exists" path included), D5 (a body over
65,536 characters is clamped and the PR still created), D6 (rate limits honoured, nothing sent while
limited, no retry on deterministic 4xx), E1 (the token never in errors, logs or PR text).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from pydantic import SecretStr

from jobs.artifacts import DirectoryStore
from jobs.errors import ConfigError, FactoryError, ServiceError
from jobs.pulls import (
    FLAG_LABEL,
    GitHubPulls,
    LocalPulls,
    PullRequestDraft,
    PullRequests,
    clamp_body,
    clamp_title,
    open_pulls,
    repo_from_url,
)
from jobs.pulls.local import record_key
from jobs.retry import RetryPolicy
from jobs.tickets.source import comment_marker
from tests.fakes.github import FakeClock, FakeGitHub

TOKEN = "ghp_CANARYcanaryCANARYcanary0123456789ab"
REPO = "acme/notes"
Forward = Callable[[httpx.Request], httpx.Response]
Hook = Callable[[httpx.Request, Forward], httpx.Response]
DOCS_USER = "https://docs.github.com/en/rest/users/users?apiVersion=2022-11-28#get-the-authenticated-user"
APP = "factory-app"
# Accounts as GitHub shows them in a comment's ``user`` (FakeGitHub shows a login only): id, type, and the
# ``performed_via_github_app`` an App's bot's comments carry.
ACCOUNTS: dict[str, tuple[int, str, dict[str, Any] | None]] = {
    "factory-bot": (4242, "User", None),
    "someone-else": (77, "User", None),
    "factory-app": (78, "User", None),  # a person whose login is the App's slug: not the App
    f"{APP}[bot]": (9001, "Bot", {"id": 31, "slug": APP, "name": "Factory"}),
}


class Tap(httpx.BaseTransport):
    """Real HTTP to the fake, with a hook that may answer instead of, or after, the server."""

    def __init__(self, hook: Callable[[httpx.Request, Forward], httpx.Response]) -> None:
        self.inner = httpx.HTTPTransport()
        self.hook = hook

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.hook(request, self.inner.handle_request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Me:
    """``GET /user``, which FakeGitHub does not serve: answered here in GitHub's shape, and counted.

    ``failures`` answer the first requests (a 502, say) before ``status`` and ``payload`` do."""

    status: int = 200
    payload: dict[str, Any] = field(
        default_factory=lambda: {"login": "factory-bot", "id": 4242, "type": "User"}
    )
    failures: list[int] = field(default_factory=list)
    asked: int = 0

    def serve(self, fake: FakeGitHub, hook: Hook) -> Hook:
        def answer(request: httpx.Request, forward: Forward) -> httpx.Response:
            if request.method != "GET" or request.url.path != "/user":
                return hook(request, forward)
            self.asked += 1
            if request.headers.get("authorization") != f"Bearer {fake.token}":
                return httpx.Response(401, json={"message": "Bad credentials"})
            if self.failures:
                return httpx.Response(self.failures.pop(0), text="upstream unavailable")
            return httpx.Response(self.status, json=self.payload)

        return answer


def refused_to_an_app() -> Me:
    """What an App installation token gets from ``GET /user`` (not an endpoint it may use)."""
    message = {"message": "Resource not accessible by integration", "documentation_url": DOCS_USER}
    return Me(status=403, payload=message)


def with_accounts(hook: Hook) -> Hook:
    """Comments as GitHub shows their authors: ``user.id``, ``user.type`` and, for an App's bot,
    ``performed_via_github_app``, filled in from ACCOUNTS on every comment answer."""

    def rewrite(request: httpx.Request, forward: Forward) -> httpx.Response:
        response = hook(request, forward)
        if "/comments" not in request.url.path or not response.is_success:
            return response
        response.read()
        data = response.json()
        for comment in data if isinstance(data, list) else [data]:
            user_id, kind, app = ACCOUNTS[comment["user"]["login"]]
            comment["user"] |= {"id": user_id, "type": kind}
            comment["performed_via_github_app"] = app
        kept = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        return httpx.Response(response.status_code, headers=kept, json=data)

    return rewrite


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeGitHub]:
    with FakeGitHub(TOKEN, REPO, clock=clock.clock).serving() as fake:
        yield fake


@pytest.fixture
def policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(max_wait=300.0, sleep=clock.sleep, clock=clock.clock)


def github(
    fake: FakeGitHub,
    policy: RetryPolicy,
    *,
    token: str = TOKEN,
    transport: Tap | None = None,
    me: Me | None = None,
    app_slug: str | None = None,
) -> GitHubPulls:
    """A client of the fake, through ``transport``'s hook, with ``GET /user`` answered by ``me`` (the
    fake's own login by default) and comment authors shown as GitHub shows them."""
    tap = transport or Tap(lambda request, forward: forward(request))
    tap.hook = (me or Me()).serve(fake, with_accounts(tap.hook))
    client = httpx.Client(timeout=10, transport=tap)
    return GitHubPulls(client, SecretStr(token), REPO, api_url=fake.url, policy=policy, app_slug=app_slug)


@pytest.fixture
def pulls(fake: FakeGitHub, policy: RetryPolicy) -> GitHubPulls:
    return github(fake, policy)


def draft(
    title: str = "IX-1: Add a word count", body: str = "It counts words.", **kw: object
) -> PullRequestDraft:
    return PullRequestDraft.model_validate(
        {"head": "factory/ix-1", "base": "main", "title": title, "body": body, **kw}
    )


# -- upsert: one PR per branch -------------------------------------------------------------------------


def test_both_backends_are_pull_requests(pulls: GitHubPulls, tmp_path: Path) -> None:
    assert isinstance(pulls, PullRequests)
    assert isinstance(LocalPulls(DirectoryStore(tmp_path)), PullRequests)


def test_upsert_creates_then_updates_the_same_pr(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    assert pulls.find_open("factory/ix-1", "main") is None
    first = pulls.upsert(draft())
    assert (first.number, first.head, first.base, first.state) == (1, "factory/ix-1", "main", "open")
    assert first.url == "https://github.com/acme/notes/pull/1" and not first.flagged
    listed = fake.requests[0]
    assert listed.query == {"state": "open", "head": "acme:factory/ix-1", "base": "main"}
    assert listed.headers["authorization"] == f"Bearer {TOKEN}"
    assert listed.headers["accept"] == "application/vnd.github+json"
    assert listed.headers["x-github-api-version"] == "2022-11-28"
    second = pulls.upsert(draft(title="IX-1: Add a word count (v2)", body="Now with tests."))
    assert second.number == first.number and second.title == "IX-1: Add a word count (v2)"
    assert fake.pulls[1].body == "Now with tests."
    patches = fake.calls("PATCH", "/pulls/1")
    pulls.upsert(draft(title="IX-1: Add a word count (v2)", body="Now with tests."))
    assert fake.calls("PATCH", "/pulls/1") == patches == 1  # unchanged: nothing written
    assert pulls.find_open("factory/ix-1", "main") == second
    assert pulls.find_open("factory/ix-1", "develop") is None


def test_d4_rerun_100_times_makes_one_pr(pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock) -> None:
    for run in range(100):
        # Every other run GitHub's list lags behind, once in ten for two lists in a row (a retry).
        fake.hide_open_pulls_from_list(2 if run % 10 == 5 else run % 2)
        pr = pulls.upsert(draft(body=f"run {run}"))
        assert pr.number == 1
    already = sum(r.status == 422 for r in fake.requests)
    retried = len(clock.sleeps)  # a list still lagging after the 422: the whole upsert tried again
    print(
        f"\nD4: 100 upserts -> PRs {len(fake.pulls)}; 422 'already exists' answers {already}; "
        f"whole-upsert retries {retried}; requests {len(fake.requests)}"
    )
    assert len(fake.pulls) == 1 and fake.pulls[1].body == "run 99"
    assert already == 50 and retried == 10 and fake.calls("POST", "/pulls") == 1 + already


def test_lost_create_answer_does_not_make_a_second_pr(fake: FakeGitHub, policy: RetryPolicy) -> None:
    dropped: list[int] = []

    def drop_create_answer(request: httpx.Request, forward: Forward) -> httpx.Response:
        response = forward(request)
        if request.method == "POST" and request.url.path.endswith("/pulls") and not dropped:
            dropped.append(response.status_code)
            response.read()
            return httpx.Response(502, text="bad gateway")  # created all the same
        return response

    pr = github(fake, policy, transport=Tap(drop_create_answer)).upsert(draft())
    assert dropped == [201] and len(fake.pulls) == 1 and pr.number == 1


def test_flag_label_added_then_removed_by_a_later_passing_run(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    assert pulls.upsert(draft(flagged=True)).labels == [FLAG_LABEL]
    fake.pulls[1].labels.append("bug")  # someone else's label stays
    assert pulls.upsert(draft(flagged=True)).flagged
    assert fake.calls("POST", "/labels") == 1
    unflagged = pulls.upsert(draft(flagged=False))
    assert not unflagged.flagged and unflagged.labels == ["bug"] and fake.pulls[1].labels == ["bug"]
    pulls.upsert(draft(flagged=False))
    assert fake.calls("DELETE", f"/labels/{FLAG_LABEL.replace(':', '%3A')}") == 1


def test_removing_a_label_someone_already_removed_is_fine(fake: FakeGitHub, policy: RetryPolicy) -> None:
    def remove_first(request: httpx.Request, forward: Forward) -> httpx.Response:
        if request.method == "DELETE":
            fake.pulls[1].labels.clear()  # between our listing and our delete
        return forward(request)

    pulls = github(fake, policy, transport=Tap(remove_first))
    pulls.upsert(draft(flagged=True))
    assert pulls.upsert(draft(flagged=False)).labels == []
    assert fake.statuses()[-1] == 404


# -- D5: sizes -----------------------------------------------------------------------------------------


def test_d5_huge_body_is_clamped_and_the_pr_created(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    body = "".join(f"line {n}: {'x' * 60}\n" for n in range(3000))
    assert len(body) > 200_000
    pr = pulls.upsert(draft(title="A title\nover two lines " + "y" * 400, body=body))
    sent = fake.pulls[pr.number].body or ""
    print(f"\nD5: body {len(body):,} chars -> {len(sent):,} sent; PR created: {pr.number == 1}")
    assert len(sent) < 65_536 and "full text is in the run's artifacts" in sent
    assert sent.startswith(body[:1000]) and 422 not in fake.statuses()
    assert len(pr.title) <= 256 and "\n" not in pr.title and pr.title.startswith("A title over two lines")


def test_clamp_body_cuts_on_a_line_boundary_under_the_limit() -> None:
    assert clamp_body("short") == "short"
    assert clamp_body("x" * 65_535) == "x" * 65_535
    lines = "".join(f"{n:06d}{'.' * 93}\n" for n in range(1000))  # 100-char lines
    clamped = clamp_body(lines)
    kept = clamped.split("\n\n---\n")[0]
    assert len(clamped) < 65_536 and kept.endswith("." * 93) and lines.startswith(kept + "\n")
    for text in ("x" * 70_000, "😀" * 40_000, "a\n" * 10 + "b" * 100_000):
        out = clamp_body(text)
        assert len(out.encode("utf-16-le")) // 2 < 65_536 and out.endswith("artifacts.\n")
    assert len(clamp_body("z" * 500, limit=300)) < 300


def test_clamp_title_is_one_line_of_at_most_256() -> None:
    assert clamp_title("  Fix\n the  bug ") == "Fix the bug"
    long = clamp_title("w" * 1000)
    assert len(long) == 256 and long.endswith("…")


# -- D6: rate limits and retries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "count", "sleeps"),
    [("primary", 2, [6.0, 6.0]), ("retry_after", 1, [7.0]), ("secondary", 2, [60.0, 120.0])],
)
def test_d6_rate_limits_are_waited_out(
    pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock, kind: str, count: int, sleeps: list[float]
) -> None:
    fake.rate_limit(count, kind, wait=5 if kind == "primary" else 7)  # type: ignore[arg-type]
    assert pulls.upsert(draft()).number == 1
    print(
        f"\nD6 {kind}: slept {clock.sleeps}; requests {len(fake.requests)}; "
        f"sent while limited {fake.sent_while_limited}"
    )
    assert clock.sleeps == pytest.approx(sleeps)
    assert fake.sent_while_limited == 0 and len(fake.pulls) == 1


def test_d6_nothing_is_sent_after_the_quota_is_seen_spent(
    pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.set_quota(remaining=2, reset_in=30)  # the list and the create spend it
    pr = pulls.upsert(draft())
    pulls.upsert_comment(pr.number, "factory-status", "hello")
    print(f"\nD6 proactive: slept {clock.sleeps}; sent while limited {fake.sent_while_limited}")
    assert 403 not in fake.statuses() and fake.sent_while_limited == 0
    assert clock.sleeps == [pytest.approx(31.0)]


def test_d6_reset_beyond_max_wait_gives_up_at_once(
    pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.rate_limit(1, "primary", wait=3600)
    with pytest.raises(ServiceError) as caught:
        pulls.upsert(draft())
    assert caught.value.status == 403 and caught.value.retry_after == pytest.approx(3601)
    assert len(fake.requests) == 1 and clock.sleeps == []


def test_d6_spent_quota_beyond_max_wait_sends_nothing_more(
    pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.set_quota(remaining=1, reset_in=3600)
    assert pulls.find_open("factory/ix-1", "main") is None
    with pytest.raises(ServiceError, match="quota spent"):
        pulls.upsert(draft())
    assert len(fake.requests) == 1 and clock.sleeps == [] and fake.sent_while_limited == 0


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_d6_deterministic_4xx_is_not_retried(
    fake: FakeGitHub, policy: RetryPolicy, clock: FakeClock, status: int
) -> None:
    pulls = github(fake, policy, token="ghp_wrongWRONGwrongWRONGwrong" if status == 401 else TOKEN)
    if status == 403:
        fake.fail(1, status=403)  # a permissions refusal: no rate-limit headers, no such message
    with pytest.raises(ServiceError) as caught:
        if status == 404:
            pulls.upsert_comment(999, "factory-status", "no such PR")
        else:
            pulls.upsert(draft(base="no-such-base" if status == 422 else "main"))
    assert caught.value.status == status and not caught.value.retryable
    assert fake.statuses().count(status) == 1 and clock.sleeps == []
    assert len(fake.requests) == (2 if status == 422 else 1)  # 422: the list, then the one create


def test_5xx_is_retried_with_backoff_then_succeeds(
    pulls: GitHubPulls, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.fail(2, status=502)
    assert pulls.upsert(draft()).number == 1
    assert clock.sleeps == [1.0, 2.0] and fake.statuses()[:2] == [502, 502]


def test_5xx_that_persists_gives_up_after_the_attempts(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    fake.fail(10, status=503)
    with pytest.raises(ServiceError) as caught:
        pulls.upsert(draft())
    assert caught.value.status == 503 and caught.value.retryable and len(fake.requests) == 4


def test_network_errors_are_retried(fake: FakeGitHub, policy: RetryPolicy) -> None:
    refused: list[int] = []

    def refuse_twice(request: httpx.Request, forward: Forward) -> httpx.Response:
        if len(refused) < 2:
            refused.append(1)
            raise httpx.ConnectError("connection refused", request=request)
        return forward(request)

    assert github(fake, policy, transport=Tap(refuse_twice)).upsert(draft()).number == 1
    assert len(refused) == 2


# -- sticky comments -----------------------------------------------------------------------------------


def test_sticky_comment_is_updated_in_place(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    pr = pulls.upsert(draft())
    urls = {pulls.upsert_comment(pr.number, "factory-status", f"step {n}") for n in range(30)}
    pulls.upsert_comment(pr.number, "factory-status", "step 29")  # unchanged: no write
    review = pulls.upsert_comment(pr.number, "factory-review", "score 4/5")
    (status,) = [
        c for c in fake.comments_on(pr.number) if c.body.startswith(comment_marker("factory-status"))
    ]
    assert len(urls) == 1 and review not in urls and len(fake.comments_on(pr.number)) == 2
    assert status.body == f"{comment_marker('factory-status')}\nstep 29"
    assert (fake.calls("POST", "/comments"), fake.calls("PATCH", f"/comments/{status.id}")) == (2, 29)


def test_sticky_comment_is_found_beyond_the_first_page(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    pr = pulls.upsert(draft())
    for n in range(250):
        fake.add_comment(pr.number, f"chatter {n}")
    first = pulls.upsert_comment(pr.number, "factory-status", "v1")  # the 251st: on page 3
    pages = [r.query for r in fake.requests if r.method == "GET" and r.path.endswith("/comments")]
    assert [q["page"] for q in pages] == ["1", "2", "3"] and {q["per_page"] for q in pages} == {"100"}
    assert pulls.upsert_comment(pr.number, "factory-status", "v2") == first
    assert fake.calls("POST", "/comments") == 1 and len(fake.comments_on(pr.number)) == 251


def patched(fake: FakeGitHub) -> list[int]:
    """The ids of the comments PATCHed, in order (whatever GitHub answered)."""
    prefix = "/repos/acme/notes/issues/comments/"
    return [
        int(r.path[len(prefix) :]) for r in fake.requests if r.method == "PATCH" and r.path.startswith(prefix)
    ]


def editable_by_anyone(fake: FakeGitHub) -> Hook:
    """GitHub lets anyone with write access edit anyone's comment; FakeGitHub answers 403 to that.
    This hook makes such an edit succeed, as it would on GitHub, so a wrong PATCH shows as damage."""

    def edit(request: httpx.Request, forward: Forward) -> httpx.Response:
        target = request.url.path.rsplit("/", 1)[-1]
        author = next((c.user for c in fake.comments if str(c.id) == target), None)
        if request.method != "PATCH" or author is None:
            return forward(request)
        own, fake.login = fake.login, author
        try:
            return forward(request)
        finally:
            fake.login = own

    return edit


def test_a_persons_comment_starting_with_our_marker_is_never_edited(
    fake: FakeGitHub, policy: RetryPolicy
) -> None:
    """Anyone with write access may edit anyone's comment, so GitHub would accept our PATCH of a person's
    comment: only its author (``user.login``, ``user.id``) tells it from ours; we create our own instead.
    GitHub docs: https://docs.github.com/en/rest/issues/comments?apiVersion=2022-11-28#list-issue-comments
    """
    pulls = github(fake, policy, transport=Tap(editable_by_anyone(fake)))  # GET /user: factory-bot
    pr = pulls.upsert(draft())
    marker = comment_marker("factory-status")
    spoof = fake.add_comment(pr.number, f"{marker}\nI am not Factory")
    namesake = fake.add_comment(pr.number, f"{marker}\nnor am I", user="factory-app")
    quoted = fake.add_comment(pr.number, f"> {marker}\n> quoting you")
    ours = pulls.upsert_comment(pr.number, "factory-status", "v1")
    assert pulls.upsert_comment(pr.number, "factory-status", "v2") == ours
    assert patched(fake) == [fake.comments[-1].id]  # only our own, new comment: v1 -> v2
    assert fake.calls("POST", "/comments") == 1 and fake.comments[-1].user == "factory-bot"
    assert spoof.body.endswith("I am not Factory") and namesake.body.endswith("nor am I")
    assert quoted.body.endswith("quoting you") and len(fake.comments_on(pr.number)) == 4


def test_our_own_earlier_comment_is_edited_in_place(pulls: GitHubPulls, fake: FakeGitHub) -> None:
    """A comment an earlier run wrote (author = the account ``GET /user`` names) is PATCHed, not duplicated.
    GitHub docs: https://docs.github.com/en/rest/users/users?apiVersion=2022-11-28#get-the-authenticated-user
    and https://docs.github.com/en/rest/issues/comments?apiVersion=2022-11-28#update-an-issue-comment
    """
    pr = pulls.upsert(draft())
    marker = comment_marker("factory-status")
    fake.add_comment(pr.number, f"{marker}\nby a person, first", user="someone-else")
    earlier = fake.add_comment(pr.number, f"{marker}\nrun 1", user="factory-bot")
    url = pulls.upsert_comment(pr.number, "factory-status", "run 2")
    assert url.endswith(f"#issuecomment-{earlier.id}") and earlier.body == f"{marker}\nrun 2"
    assert patched(fake) == [earlier.id] and fake.calls("POST", "/comments") == 0


def test_our_comment_on_page_two_is_found_through_the_link_header(
    pulls: GitHubPulls, fake: FakeGitHub
) -> None:
    """Pages follow the ``Link`` header's ``rel="next"`` at ``per_page=100`` (the most GitHub serves): our
    comment, 151st, is on page 2, behind a person's marked one on page 1.
    GitHub docs: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    """
    pr = pulls.upsert(draft())
    marker = comment_marker("factory-status")
    spoof = fake.add_comment(pr.number, f"{marker}\nnot yours")
    for n in range(149):
        fake.add_comment(pr.number, f"chatter {n}")
    ours = fake.add_comment(pr.number, f"{marker}\nold", user="factory-bot")
    assert pulls.upsert_comment(pr.number, "factory-status", "new").endswith(f"#issuecomment-{ours.id}")
    pages = [
        r.query for r in fake.requests if r.method == "GET" and r.path.endswith(f"/{pr.number}/comments")
    ]
    assert pages == [{"per_page": "100", "page": "1"}, {"per_page": "100", "page": "2"}]
    assert patched(fake) == [ours.id] and fake.calls("POST", "/comments") == 0
    assert ours.body == f"{marker}\nnew" and spoof.body == f"{marker}\nnot yours"


@pytest.mark.parametrize("refusal", [refused_to_an_app(), Me(status=404, payload={"message": "Not Found"})])
def test_unknown_identity_always_creates_and_warns_once(
    fake: FakeGitHub, policy: RetryPolicy, caplog: pytest.LogCaptureFixture, refusal: Me
) -> None:
    """``GET /user`` is not an endpoint an App installation token may use (403 "Resource not accessible by
    integration"); with no App slug set, nothing says which comments are ours, so none is edited.
    GitHub docs: https://docs.github.com/en/rest/authentication/endpoints-available-for-github-app-installation-access-tokens
    """
    logger = logging.getLogger("factory")
    logger.addHandler(caplog.handler)  # the factory logger may not propagate once configured
    try:
        pulls = github(fake, policy, me=refusal)
        pr = pulls.upsert(draft())
        earlier = fake.add_comment(
            pr.number, f"{comment_marker('factory-status')}\nrun 1", user="factory-bot"
        )
        first = pulls.upsert_comment(pr.number, "factory-status", "run 2")
        second = pulls.upsert_comment(pr.number, "factory-status", "run 2, again")
    finally:
        logger.removeHandler(caplog.handler)
    # One record, though caplog's handler may see it twice (on "factory" and through propagation).
    warnings = list({id(r): r for r in caplog.records if r.levelno == logging.WARNING}.values())
    assert patched(fake) == [] and fake.calls("POST", "/comments") == 2 and first != second
    assert earlier.body.endswith("run 1") and refusal.asked == 1
    assert fake.calls("GET", "/comments") == 0  # nothing can be ours: no need to list
    assert len(warnings) == 1 and "never edited" in warnings[0].getMessage()


def test_an_app_installation_knows_its_comments_by_its_bot(fake: FakeGitHub, policy: RetryPolicy) -> None:
    """An installation token writes as ``{slug}[bot]`` (``user.type`` "Bot", ``performed_via_github_app``
    naming the App): with the slug set, that bot's comment is edited, a person named like the App's is not.
    GitHub docs: https://docs.github.com/en/rest/issues/comments?apiVersion=2022-11-28#list-issue-comments
    """
    fake.login = f"{APP}[bot]"
    pulls = github(fake, policy, me=refused_to_an_app(), app_slug=APP)
    pr = pulls.upsert(draft())
    marker = comment_marker("factory-status")
    namesake = fake.add_comment(pr.number, f"{marker}\nme too", user=APP)  # login == slug, type User
    earlier = fake.add_comment(pr.number, f"{marker}\nrun 1", user=f"{APP}[bot]")
    pulls.upsert_comment(pr.number, "factory-status", "run 2")
    assert patched(fake) == [earlier.id] and earlier.body.endswith("run 2")
    assert namesake.body.endswith("me too") and fake.calls("POST", "/comments") == 0


def test_a_failed_identity_lookup_is_retried_not_taken_as_unknown(
    fake: FakeGitHub, policy: RetryPolicy, clock: FakeClock
) -> None:
    """A 502 from ``GET /user`` is retried with the whole upsert; the answer, once had, is kept.
    GitHub docs: https://docs.github.com/en/rest/users/users?apiVersion=2022-11-28#get-the-authenticated-user
    """
    me = Me(failures=[502])
    pulls = github(fake, policy, me=me)
    pr = pulls.upsert(draft())
    earlier = fake.add_comment(pr.number, f"{comment_marker('factory-status')}\nrun 1", user="factory-bot")
    pulls.upsert_comment(pr.number, "factory-status", "run 2")
    pulls.upsert_comment(pr.number, "factory-review", "score 4/5")
    assert patched(fake) == [earlier.id] and me.asked == 2 and clock.sleeps == [1.0]


# -- E1: the token ---------------------------------------------------------------------------------------


def test_token_never_in_errors_logs_or_texts(
    fake: FakeGitHub, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("factory")
    logger.addHandler(caplog.handler)  # the factory logger may not propagate once configured
    caplog.set_level(logging.INFO)

    def echo_token(request: httpx.Request, forward: Forward) -> httpx.Response:
        token = request.headers["authorization"]
        if request.method == "GET" and request.url.path.endswith("/pulls"):
            # Long enough that a naive cut would leave part of the token behind.
            return httpx.Response(403, json={"message": f"{'x' * 280} secondary rate limit {token}"})
        return httpx.Response(400, json={"message": "Problems", "errors": [{"message": f"bad {token}"}]})

    raised: list[BaseException] = []
    try:
        echoing = github(fake, policy, transport=Tap(echo_token))
        for call in (
            lambda: echoing.upsert(draft()),
            lambda: echoing.upsert_comment(1, "factory-status", "x"),
        ):
            with pytest.raises(FactoryError) as caught:
                call()
            raised.append(caught.value)
        pulls = github(fake, policy)
        pr = pulls.upsert(draft(body=f"leaked {TOKEN} here", title=f"title {TOKEN}"))
        pulls.upsert_comment(pr.number, "factory-status", f"also {TOKEN}")
    finally:
        logger.removeHandler(caplog.handler)
    texts = [caplog.text, repr(echoing), fake.pulls[1].body or "", fake.pulls[1].title, fake.comments[0].body]
    for exc in raised:
        texts += [str(exc), repr(exc), repr(exc.args)]
    assert "trying again" in caplog.text  # the retries were logged, and masked
    assert not [text for text in texts if "CANARY" in text or TOKEN[:10] in text]


# -- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/notes", "acme/notes"),
        ("https://github.com/acme/notes.git", "acme/notes"),
        ("https://x-access-token:secret@github.com/acme/notes.git/", "acme/notes"),
        ("https://github.com/acme", None),
        ("https://gitlab.com/acme/notes", None),
        ("http://github.com/acme/notes", None),
        ("https://github.com/acme/notes/tree/main", None),
    ],
)
def test_repo_from_url(url: str, repo: str | None) -> None:
    assert repo_from_url(url) == repo


def test_open_pulls_routes_by_repo_url(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    token = SecretStr(TOKEN)
    api = "https://api.github.com"
    assert isinstance(open_pulls(str(tmp_path / "remote.git"), store, None, api), LocalPulls)
    assert isinstance(open_pulls((tmp_path / "remote.git").as_uri(), store, None, api), LocalPulls)
    with httpx.Client() as client:
        opened = open_pulls("https://github.com/acme/notes.git", store, token, api, client)
    assert isinstance(opened, GitHubPulls) and "acme/notes" in repr(opened) and TOKEN not in repr(opened)
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        open_pulls("https://github.com/acme/notes", store, None, api)
    with pytest.raises(ConfigError, match=r"not on https://gitlab\.com") as caught:
        open_pulls("https://user:hunter2secret@gitlab.com/acme/notes", store, token, api)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="SSH"):
        open_pulls("git@github.com:acme/notes.git", store, token, api)


def test_bad_construction_and_drafts_are_config_errors(fake: FakeGitHub) -> None:
    with httpx.Client() as client:
        with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
            GitHubPulls(client, SecretStr(" "), REPO)
        with pytest.raises(ConfigError, match="owner/name"):
            GitHubPulls(client, SecretStr(TOKEN), "acme/notes/../x")
    for head in ("has space", "new\nline", "", "a" * 300):
        with pytest.raises(pydantic.ValidationError):
            draft(head=head)


# -- LocalPulls ------------------------------------------------------------------------------------------


def test_local_upsert_is_one_record_per_branch_across_runs(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    first = LocalPulls(store).upsert(draft(flagged=True))
    again = LocalPulls(DirectoryStore(tmp_path)).upsert(draft(title="IX-1 (v2)", body="second run"))
    other = LocalPulls(store).upsert(draft(head="factory/ix-2"))
    assert (first.number, again.number, other.number) == (1, 1, 2)
    assert first.flagged and not again.flagged and again.title == "IX-1 (v2)"
    assert again.url == store.url("pulls/factory--ix-1.md") == store.url(record_key("factory/ix-1", ".md"))
    assert sorted(k for k in store.list("pulls/") if not k.startswith("pulls/numbers/")) == [
        "pulls/factory--ix-1.json",
        "pulls/factory--ix-1.md",
        "pulls/factory--ix-2.json",
        "pulls/factory--ix-2.md",
    ]
    assert LocalPulls(store).find_open("factory/ix-1", "main") == again
    assert LocalPulls(store).find_open("factory/ix-1", "develop") is None


def test_local_sticky_comments_and_markdown(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    pulls = LocalPulls(store)
    pr = pulls.upsert(draft(flagged=True, body="The body " + "b" * 70_000))
    urls = {pulls.upsert_comment(pr.number, "factory-status", f"step {n}") for n in range(5)}
    pulls.upsert_comment(pr.number, "factory-review", "score 4/5")
    markdown = (tmp_path / "pulls" / "factory--ix-1.md").read_text()
    assert len(urls) == 1 and markdown.startswith("# IX-1: Add a word count\n")
    assert "**#1** (open)" in markdown and "`factory/ix-1` → `main`" in markdown and FLAG_LABEL in markdown
    assert "full text is in the run's artifacts" in markdown and markdown.count("b" * 1000) >= 60
    assert (
        markdown.count(comment_marker("factory-status")) == 1
        and "step 4" in markdown
        and "step 3" not in markdown
    )
    assert "score 4/5" in markdown
    with pytest.raises(ServiceError) as caught:
        pulls.upsert_comment(99, "factory-status", "nobody home")
    assert caught.value.status == 404


def test_local_racing_runs_make_one_pr_per_branch(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    barrier = threading.Barrier(8)
    numbers: list[int] = []

    def run(head: str) -> None:
        barrier.wait()
        numbers.append(LocalPulls(store).upsert(draft(head=head)).number)

    threads = [threading.Thread(target=run, args=("factory/same",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [k for k in store.list("pulls/") if k.endswith(".json")]
    assert records == ["pulls/factory--same.json"] and len(set(numbers)) == 1
    numbers.clear()
    barrier.reset()
    threads = [threading.Thread(target=run, args=(f"factory/b{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(numbers)) == 8  # distinct numbers, however the claims interleaved
