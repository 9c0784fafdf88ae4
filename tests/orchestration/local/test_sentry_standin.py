"""The Sentry stand-in, driven by the real ``sentry-sdk`` (its default HTTP transport) on the way in and by
real HTTP (httpx) through the read API on the way out, as the triage job will call it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sentry_sdk

from orchestration.local.sentry import RateLimit, SentryStandIn

TOKEN = "sntryu_test_token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO_ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r'<([^>]+)>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]+)"')


class Clock:
    """The stand-in's clock: real time plus an offset a test can move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sentry(clock: Clock) -> Iterator[SentryStandIn]:
    with SentryStandIn(token=TOKEN, org_slug="acme", project_slug="pump-station", clock=clock) as stand_in:
        yield stand_in


@pytest.fixture
def sdk(sentry: SentryStandIn) -> Iterator[None]:
    """The real SDK pointed at the stand-in's DSN, with its default transport; closed afterwards."""
    sentry_sdk.init(
        dsn=sentry.dsn,
        default_integrations=False,
        auto_enabling_integrations=False,
        project_root=str(REPO_ROOT),
    )
    try:
        yield
    finally:
        sentry_sdk.flush(timeout=5)
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def parse_invoice_total(raw: str) -> int:
    return int(raw)


def charge_card(amount: int) -> None:
    raise RuntimeError(f"card declined for {amount}")


def ship_order(order_id: str) -> None:
    raise KeyError(order_id)


def capture(function: Callable[..., object], *args: object) -> None:
    try:
        function(*args)
    except Exception:
        sentry_sdk.capture_exception()


def issues(sentry: SentryStandIn, **params: str | int) -> httpx.Response:
    return httpx.get(f"{sentry.url}/api/0/organizations/acme/issues/", params=params, headers=AUTH)


def test_captured_exception_reads_back_as_an_issue_with_its_frames(sentry: SentryStandIn, sdk: None) -> None:
    """A real exception captured by the SDK comes back as one unresolved issue (two events, one fingerprint)
    whose latest event carries the exception with its stack frames.

    https://develop.sentry.dev/sdk/foundations/transport/envelopes/ (what the SDK posts)
    https://docs.sentry.io/concepts/data-management/event-grouping/ (type + in-app frames)
    https://docs.sentry.io/api/events/list-an-organizations-issues/ (issue fields, query, statsPeriod)
    https://docs.sentry.io/api/events/retrieve-an-issue-event/ (``latest``, ``entries``, frame fields)
    """
    capture(parse_invoice_total, "twelve")
    capture(parse_invoice_total, "thirteen")
    sentry_sdk.flush(timeout=5)

    r = issues(sentry, query="is:unresolved", statsPeriod="24h")
    assert r.status_code == 200
    [issue] = r.json()
    assert issue["title"] == "ValueError: invalid literal for int() with base 10: 'thirteen'"
    assert issue["count"] == "2" and issue["userCount"] == 0
    assert issue["status"] == "unresolved" and issue["level"] == "error"
    assert issue["culprit"] == f"{__name__} in parse_invoice_total"
    assert issue["metadata"]["type"] == "ValueError"
    assert issue["project"] == {
        "id": "1",
        "name": "pump-station",
        "slug": "pump-station",
        "platform": "python",
    }
    assert issue["shortId"] == "PUMP-STATION-1"
    assert issue["permalink"] == f"{sentry.url}/organizations/acme/issues/{issue['id']}/"
    assert issue["firstSeen"] <= issue["lastSeen"]

    r = httpx.get(f"{sentry.url}/api/0/organizations/acme/issues/{issue['id']}/events/latest/", headers=AUTH)
    assert r.status_code == 200
    event = r.json()
    assert event["groupID"] == issue["id"] and event["previousEventID"] is not None
    [entry] = [e for e in event["entries"] if e["type"] == "exception"]
    [exception] = entry["data"]["values"]
    assert exception["type"] == "ValueError"
    frames = exception["stacktrace"]["frames"]
    assert frames[-1]["function"] == "parse_invoice_total"
    assert frames[-1]["module"] == __name__ and frames[-1]["inApp"] is True
    assert frames[-1]["filename"].endswith("test_sentry_standin.py")
    assert isinstance(frames[-1]["lineNo"], int)
    assert [frames[-1]["lineNo"], "    return int(raw)"] in frames[-1]["context"]
    assert frames[-1]["vars"] == {"raw": "'thirteen'"}
    expected = {"filename", "function", "module", "lineNo", "colNo", "absPath", "context", "inApp", "vars"}
    assert expected <= set(frames[-1])

    r = httpx.get(f"{sentry.url}/api/0/organizations/acme/issues/{issue['id']}/events/", headers=AUTH)
    listed = [e["eventID"] for e in r.json()]
    assert len(listed) == 2 and listed[0] == event["eventID"]  # newest first


def test_stats_period_and_explicit_fingerprint(sentry: SentryStandIn, sdk: None, clock: Clock) -> None:
    """An explicit ``fingerprint`` groups different exceptions; ``statsPeriod`` windows the issues list.

    https://docs.sentry.io/platforms/python/usage/sdk-fingerprinting/
    https://docs.sentry.io/api/events/list-an-organizations-issues/ (statsPeriod)
    """
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["checkout-failure"]
        capture(charge_card, 10)
        capture(ship_order, "A-1")
    sentry_sdk.flush(timeout=5)
    [issue] = issues(sentry, statsPeriod="24h").json()
    assert issue["count"] == "2"

    clock.offset = 2 * 86400  # two days later
    assert issues(sentry, statsPeriod="24h").json() == []
    assert [i["id"] for i in issues(sentry, statsPeriod="14d").json()] == [issue["id"]]


def test_link_header_cursor_pagination(sentry: SentryStandIn, sdk: None) -> None:
    """Three distinct issues, ``limit=2``: two pages through Sentry's ``Link`` header cursors.

    https://docs.sentry.io/api/pagination/
    """
    capture(parse_invoice_total, "x")
    capture(charge_card, 5)
    capture(ship_order, "B-7")
    sentry_sdk.flush(timeout=5)

    first = issues(sentry, query="is:unresolved", statsPeriod="24h", limit=2)
    links = {rel: (url, results, cursor) for url, rel, results, cursor in LINK.findall(first.headers["Link"])}
    assert links["previous"][1:] == ("false", "0:0:1")
    assert links["next"][1:] == ("true", "0:2:0")
    assert links["next"][0].endswith("&cursor=0:2:0") and "limit=2" in links["next"][0]

    second = httpx.get(links["next"][0], headers=AUTH)
    links = {
        rel: (url, results, cursor) for url, rel, results, cursor in LINK.findall(second.headers["Link"])
    }
    assert links["previous"][1] == "true" and links["next"][1] == "false"

    ids = [i["id"] for i in first.json()] + [i["id"] for i in second.json()]
    assert len(first.json()) == 2 and len(second.json()) == 1 and len(set(ids)) == 3
    titles = {i["metadata"]["type"] for i in first.json() + second.json()}
    assert titles == {"ValueError", "RuntimeError", "KeyError"}


def test_projects_by_id_in_project_and_by_slug_in_project_slug(sentry: SentryStandIn, sdk: None) -> None:
    """``project`` takes numeric ids (``-1``: all), ``projectSlug`` slugs (``$all``: all); a slug (or an
    empty value) in ``project`` is Sentry's 400, a project the token cannot see its 403.

    https://docs.sentry.io/api/events/list-an-organizations-issues/ (``project``: array<integer>)
    getsentry/sentry ``src/sentry/api/bases/organization.py`` (``get_projects``: ``projectSlug``, and
    ``int()`` of every ``project`` value, "Invalid project parameter. Values must be numbers.")
    """
    capture(ship_order, "D-4")
    sentry_sdk.flush(timeout=5)
    [issue] = issues(sentry).json()
    for params in (
        {"project": 1},
        {"project": -1},
        {"projectSlug": "pump-station"},
        {"projectSlug": "$all"},
        {"projectSlug": ""},  # empty slugs are dropped: the caller's projects
        {"project": 1, "projectSlug": "pump-station"},
    ):
        r = issues(sentry, **params)
        assert r.status_code == 200 and [i["id"] for i in r.json()] == [issue["id"]], params

    for params in ({"project": "pump-station"}, {"project": "pump-station", "projectSlug": "pump-station"}):
        r = issues(sentry, **params)
        assert r.status_code == 400, params
        assert r.json() == {"detail": "Invalid project parameter. Values must be numbers."}
    assert issues(sentry, project="").status_code == 400
    for params in ({"project": 2}, {"projectSlug": "other"}, {"project": 2, "projectSlug": "pump-station"}):
        r = issues(sentry, **params)
        assert r.status_code == 403, params
        assert r.json() == {"detail": "You do not have permission to perform this action."}


def test_auth_refusals(sentry: SentryStandIn) -> None:
    """A wrong or missing token is Sentry's 401; another organization is 404; the envelope endpoint wants
    the DSN's public key.

    https://docs.sentry.io/api/auth/
    https://develop.sentry.dev/sdk/overview/#authentication
    """
    r = httpx.get(f"{sentry.url}/api/0/organizations/acme/issues/", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json() == {"detail": "Invalid token"}
    r = httpx.get(f"{sentry.url}/api/0/organizations/acme/issues/")
    assert r.status_code == 401 and r.json() == {"detail": "Authentication credentials were not provided."}
    r = httpx.get(f"{sentry.url}/api/0/organizations/other/issues/", headers=AUTH)
    assert r.status_code == 404
    with httpx.Client(base_url=sentry.url) as kept_alive:  # a refused body must not desync the connection
        refused = kept_alive.post(
            "/api/0/issues/1/comments/", json={"text": "x"}, headers={"Authorization": "x"}
        )
        assert refused.status_code == 401
        assert kept_alive.get("/api/0/organizations/acme/issues/", headers=AUTH).status_code == 200

    envelope = b'{}\n{"type":"event"}\n{"message":"hi"}\n'
    r = httpx.post(f"{sentry.url}/api/1/envelope/", content=envelope)
    assert r.status_code == 401 and r.json() == {"detail": "missing authorization information"}
    r = httpx.post(f"{sentry.url}/api/1/envelope/", params={"sentry_key": "0" * 32}, content=envelope)
    assert r.status_code == 403
    r = httpx.post(
        f"{sentry.url}/api/1/envelope/", params={"sentry_key": sentry.public_key}, content=envelope
    )
    assert r.status_code == 200 and sentry.issues[0].title == "hi"


def test_rate_limit_headers_and_429() -> None:
    """Every API answer carries the rate-limit headers; past the window's limit the answer is 429.

    https://docs.sentry.io/api/ratelimits/
    """
    now = 1_900_000_010.0
    limits = RateLimit(limit=3, window=60, concurrent=5)
    with SentryStandIn(token=TOKEN, org_slug="acme", rate_limit=limits, clock=lambda: now) as sentry:
        answers = [issues(sentry) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Sentry-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer.headers["X-Sentry-Rate-Limit-Limit"] == "3"
        assert answer.headers["X-Sentry-Rate-Limit-Reset"] == "1900000020"
        assert answer.headers["X-Sentry-Rate-Limit-ConcurrentLimit"] == "5"
        assert answer.headers["X-Sentry-Rate-Limit-ConcurrentRemaining"] == "4"
    assert answers[3].json() == (
        "You are attempting to use this endpoint too frequently. Limit is 3 requests in 60 seconds"
    )


def test_notes_and_status(sentry: SentryStandIn, sdk: None) -> None:
    """A note posted on an issue is listed and counted; a resolved issue leaves ``is:unresolved``.

    https://docs.sentry.io/api/events/update-an-issue/
    (notes: Sentry's group notes endpoint, ``issues/{issue_id}/comments/`` alias ``notes/``)
    """
    capture(ship_order, "C-3")
    sentry_sdk.flush(timeout=5)
    [issue] = issues(sentry).json()
    base = f"{sentry.url}/api/0/organizations/acme/issues/{issue['id']}"

    r = httpx.post(f"{base}/comments/", json={"text": "Triage: tracked in FAC-12"}, headers=AUTH)
    assert r.status_code == 201 and r.json()["type"] == "note"
    assert r.json()["data"] == {"text": "Triage: tracked in FAC-12"}
    again = httpx.post(f"{base}/notes/", json={"text": "Triage: tracked in FAC-12"}, headers=AUTH)
    assert again.status_code == 400
    assert [n["data"]["text"] for n in httpx.get(f"{base}/notes/", headers=AUTH).json()] == [
        "Triage: tracked in FAC-12"
    ]
    assert httpx.get(f"{base}/", headers=AUTH).json()["numComments"] == 1

    assert httpx.put(f"{base}/", json={"status": "resolved"}, headers=AUTH).status_code == 200
    assert issues(sentry, query="is:unresolved").json() == []
    assert [i["status"] for i in issues(sentry, query="is:resolved").json()] == ["resolved"]
