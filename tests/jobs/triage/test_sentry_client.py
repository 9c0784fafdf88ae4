"""SentryClient: end to end against the Sentry stand-in fed by the real ``sentry-sdk``, then Sentry's
documented edge cases (pagination, null frame fields, rate limits, errors) with ``httpx.MockTransport``.

https://docs.sentry.io/api/events/list-an-organizations-issues/
https://docs.sentry.io/api/events/retrieve-an-issue-event/
https://docs.sentry.io/api/pagination/
https://docs.sentry.io/api/ratelimits/
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from pydantic import SecretStr

from jobs.errors import FactoryError, ServiceError
from jobs.retry import RetryPolicy
from jobs.triage import SentryClient
from orchestration.local.sentry import SentryStandIn

TOKEN = "sntryu_CANARYcanaryCANARYcanary0123456789"
REPO_ROOT = Path(__file__).resolve().parents[3]
BASE = "https://sentry.test"
T0 = 1_900_000_000.0


class FakeTime:
    """The policy's clock, advanced by its sleeps: rate limits and backoff without waiting."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


# -- end to end: the real SDK in, our client out ------------------------------------------------------


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    with SentryStandIn(token=TOKEN, org_slug="acme", project_slug="pump-station") as stand_in:
        yield stand_in


@pytest.fixture
def sdk(sentry: SentryStandIn) -> Iterator[None]:
    """The real SDK pointed at the stand-in's DSN with its default transport; closed afterwards."""
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


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def client(sentry: SentryStandIn, sent: list[httpx.Request]) -> Iterator[SentryClient]:
    with httpx.Client(timeout=10, event_hooks={"request": [sent.append]}) as http:
        yield SentryClient(http, SecretStr(TOKEN), base_url=sentry.url)


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


def test_an_exception_reads_back_as_an_issue_with_our_frames(
    sentry: SentryStandIn, sdk: None, client: SentryClient
) -> None:
    capture(parse_invoice_total, "twelve")
    capture(parse_invoice_total, "thirteen")
    sentry_sdk.flush(timeout=5)

    [issue] = client.issues("acme", 1)
    assert issue.count == 2 and issue.user_count == 0  # Sentry's "2", read as a number
    assert issue.title == "ValueError: invalid literal for int() with base 10: 'thirteen'"
    assert issue.culprit == f"{__name__} in parse_invoice_total"
    assert issue.project == "pump-station" and issue.short_id == "PUMP-STATION-1"
    assert issue.status == "unresolved" and issue.level == "error"
    assert issue.first_seen is not None and issue.last_seen is not None
    assert issue.first_seen <= issue.last_seen and issue.metadata["type"] == "ValueError"

    event = client.latest_event(issue.id, org="acme")
    assert event.issue_id == issue.id and event.fingerprints
    [exception] = event.exceptions
    assert exception.type == "ValueError" and "thirteen" in (exception.value or "")
    frame = event.frames[-1]
    assert (frame.function, frame.module, frame.in_app) == ("parse_invoice_total", __name__, True)
    assert frame.filename is not None and frame.filename.endswith("test_sentry_client.py")
    assert frame.line_no is not None and (frame.line_no, "    return int(raw)") in frame.context
    assert frame.vars == {"raw": "'thirteen'"}
    assert event.frames[-2].function == "capture"


def test_issues_follow_the_link_header_across_pages(
    sentry: SentryStandIn, sdk: None, client: SentryClient, sent: list[httpx.Request]
) -> None:
    capture(parse_invoice_total, "x")
    capture(charge_card, 5)
    capture(ship_order, "B-7")
    sentry_sdk.flush(timeout=5)

    issues = list(client.issues("acme", 1, limit=2))
    assert len({issue.id for issue in issues}) == 3
    assert {issue.metadata["type"] for issue in issues} == {"ValueError", "RuntimeError", "KeyError"}
    pages = [request.url.params for request in sent]
    assert len(pages) == 2 and "cursor" not in pages[0] and pages[1]["cursor"] == "0:2:0"
    assert pages[0]["project"] == "1" and pages[0]["statsPeriod"] == "24h" and pages[1]["limit"] == "2"


def test_a_note_is_added_once(sentry: SentryStandIn, sdk: None, client: SentryClient) -> None:
    capture(charge_card, 7)
    sentry_sdk.flush(timeout=5)
    [issue] = client.issues("acme", 1)
    assert issue.num_comments == 0

    assert client.add_note(issue.id, "Factory opened a fix: PR #12") is True
    assert client.add_note(issue.id, "Factory opened a fix: PR #12") is False  # Sentry's 400 duplicate
    [issue] = client.issues("acme", 1)
    assert issue.num_comments == 1


def test_an_unknown_issue_is_a_404_not_retried(sentry: SentryStandIn, client: SentryClient) -> None:
    with pytest.raises(ServiceError) as caught:
        client.latest_event("999")
    assert caught.value.status == 404 and not caught.value.retryable
    assert "/api/0/issues/999/events/latest/" in str(caught.value)


# -- Sentry's documented edge cases, faked with MockTransport -----------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


class Fake:
    """A scripted server: ``answers`` are returned in order (the last one repeats); requests are kept."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def sentry_client(fake: Fake, time_: FakeTime, **kwargs: Any) -> SentryClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    policy = RetryPolicy(sleep=time_.sleep, clock=time_.clock)
    return SentryClient(http, SecretStr(TOKEN), base_url=BASE, policy=policy, **kwargs)


def issue_json(number: int) -> dict[str, Any]:
    return {
        "id": str(number),
        "shortId": f"PUMP-{number}",
        "title": "ValueError: boom",
        "count": str(number * 10),
        "userCount": 1,
        "firstSeen": "2026-12-01T09:00:00.000000Z",
        "lastSeen": "2026-12-01T10:00:00Z",
        "project": {"id": "1", "slug": "pump-station"},
        "metadata": None,
    }


def page(items: list[dict[str, Any]], next_results: str, cursor: str, host: str = BASE) -> httpx.Response:
    link = (
        f'<{host}/api/0/organizations/acme/issues/?cursor=0:0:1>; rel="previous"; results="false"; '
        f'cursor="0:0:1", <{host}/api/0/organizations/acme/issues/?cursor={cursor}>; rel="next"; '
        f'results="{next_results}"; cursor="{cursor}"'
    )
    return httpx.Response(200, json=items, headers={"Link": link})


def test_a_next_link_without_results_ends_the_list(time_: FakeTime) -> None:
    """Sentry always sends a next cursor; ``results="false"`` means there is nothing behind it."""
    fake = Fake(page([issue_json(1), issue_json(2)], "false", "0:2:0"))
    issues = list(sentry_client(fake, time_).issues("acme", 1, limit=2))
    assert [issue.count for issue in issues] == [10, 20]
    assert len(fake.requests) == 1
    assert issues[0].project == "pump-station" and issues[0].metadata == {}


def test_the_next_page_is_asked_of_our_own_host_with_the_cursor(time_: FakeTime) -> None:
    """The link's URL is not followed (it could name another host and collect the token): its cursor is."""
    fake = Fake(
        page([issue_json(1)], "true", "0:1:0", host="https://elsewhere.test"), page([], "false", "0:2:0")
    )
    assert len(list(sentry_client(fake, time_).issues("acme", 1, limit=1))) == 1
    assert [r.url.host for r in fake.requests] == ["sentry.test", "sentry.test"]
    assert fake.requests[1].url.params["cursor"] == "0:1:0"


def test_a_slug_is_sent_as_project_slug(time_: FakeTime) -> None:
    """``project`` takes numeric ids only; slugs go in ``projectSlug``."""
    fake = Fake(page([], "false", "0:100:0"))
    list(sentry_client(fake, time_).issues("acme", "pump-station", query="is:unresolved level:error"))
    params = fake.requests[0].url.params
    assert params["projectSlug"] == "pump-station" and "project" not in params
    assert params["query"] == "is:unresolved level:error" and params["limit"] == "100"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_list_still_going_at_the_page_cap_fails_the_read_rather_than_stop_short(time_: FakeTime) -> None:
    """RELIABILITY F4: every page read, or a clear error; never a night triaged on part of the list."""

    def endless(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("cursor", "0:0:0").split(":")[1]) + 1
        return page([issue_json(offset)], "true", f"0:{offset}:0")

    fake = Fake(endless)
    with pytest.raises(ServiceError, match=r"still more after 3 pages of 1: the night would miss"):
        list(sentry_client(fake, time_, max_pages=3).issues("acme", 1, limit=1))
    assert len(fake.requests) == 3


def test_a_repeated_cursor_ends_the_list(time_: FakeTime) -> None:
    fake = Fake(page([issue_json(1)], "true", "0:1:0"))
    assert len(list(sentry_client(fake, time_).issues("acme", 1, limit=1))) == 2
    assert len(fake.requests) == 2


def test_frames_with_missing_and_null_fields_parse(time_: FakeTime) -> None:
    nulls = {
        key: None
        for key in (
            "filename",
            "absPath",
            "function",
            "module",
            "lineNo",
            "colNo",
            "context",
            "inApp",
            "vars",
        )
    }
    event = {
        "eventID": "a" * 32,
        "groupID": "7",
        "tags": [{"key": "environment", "value": "production"}, {"key": "x", "value": None}],
        "entries": [
            {"type": "message", "data": {"formatted": "boom"}},
            {
                "type": "exception",
                "data": {
                    "values": [
                        {"type": "KeyError", "value": "'id'", "stacktrace": None},
                        {
                            "type": "ValueError",
                            "value": None,
                            "stacktrace": {
                                "frames": [
                                    {},
                                    nulls,
                                    {
                                        "function": "f",
                                        "context": [[10, None], "junk", [11, "x = 1"]],
                                        "lineNo": 11,
                                    },
                                ]
                            },
                        },
                    ]
                },
            },
        ],
        "fingerprints": None,
    }
    fake = Fake(httpx.Response(200, json=event))
    parsed = sentry_client(fake, time_).latest_event("7")
    assert [e.type for e in parsed.exceptions] == ["KeyError", "ValueError"]
    assert parsed.exceptions[0].frames == [] and parsed.tags == {"environment": "production"}
    empty, null, last = parsed.frames
    assert empty == null and null.filename is None and null.in_app is None and null.context == []
    assert null.line_no is None and null.vars is None and null.abs_path is None
    assert last.context == [(10, ""), (11, "x = 1")] and last.line_no == 11
    assert parsed.fingerprints == []


def test_recommended_falls_back_to_latest_once(time_: FakeTime) -> None:
    """A server without ``events/recommended/`` answers 404 there: ``latest`` is read, and from then on."""
    event = httpx.Response(200, json={"eventID": "b" * 32, "groupID": "7"})
    missing = httpx.Response(404, json={"detail": "The requested resource does not exist"})
    fake = Fake(missing, event, event)
    client = sentry_client(fake, time_)
    assert client.latest_event("7").id == "b" * 32
    assert client.latest_event("7", org="acme").id == "b" * 32
    assert fake.paths == [
        "/api/0/issues/7/events/recommended/",
        "/api/0/issues/7/events/latest/",
        "/api/0/organizations/acme/issues/7/events/latest/",
    ]


def test_429_waits_as_retry_after_says(time_: FakeTime) -> None:
    limited = httpx.Response(
        429, json="You are attempting to use this endpoint too frequently.", headers={"Retry-After": "7"}
    )
    fake = Fake(limited, page([issue_json(1)], "false", "0:1:0"))
    assert len(list(sentry_client(fake, time_).issues("acme", 1))) == 1
    assert time_.sleeps == [7.0] and len(fake.requests) == 2


def test_429_waits_for_the_sentry_rate_limit_reset(time_: FakeTime) -> None:
    """Without ``Retry-After``, ``X-Sentry-Rate-Limit-Reset`` (UTC epoch seconds) says when to try again."""
    headers = {"X-Sentry-Rate-Limit-Reset": str(int(T0) + 3), "X-Sentry-Rate-Limit-Remaining": "0"}
    fake = Fake(httpx.Response(429, json="too frequently", headers=headers), page([], "false", "0:1:0"))
    assert list(sentry_client(fake, time_).issues("acme", 1)) == []
    assert time_.sleeps == [3.0]


def test_a_reset_further_than_the_policy_waits_is_not_waited_for(time_: FakeTime) -> None:
    fake = Fake(httpx.Response(429, json="too frequently", headers={"Retry-After": "3600"}))
    with pytest.raises(ServiceError) as caught:
        list(sentry_client(fake, time_).issues("acme", 1))
    assert caught.value.status == 429 and time_.sleeps == [] and len(fake.requests) == 1


def test_500_is_retried_then_succeeds(time_: FakeTime) -> None:
    fake = Fake(httpx.Response(500, text="Internal Server Error"), page([issue_json(1)], "false", "0:1:0"))
    assert [issue.id for issue in sentry_client(fake, time_).issues("acme", 1)] == ["1"]
    assert len(fake.requests) == 2 and time_.sleeps == [1.0]


def test_a_lost_connection_is_retried(time_: FakeTime) -> None:
    fake = Fake(httpx.ConnectError("refused"), httpx.Response(201, json={"id": "1"}))
    assert sentry_client(fake, time_).add_note("7", "hello") is True
    assert len(fake.requests) == 2 and json.loads(fake.requests[1].content) == {"text": "hello"}


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried_and_never_carry_the_token(time_: FakeTime, status: int) -> None:
    # A server that echoes the token back must not get it into our error.
    fake = Fake(httpx.Response(status, json={"detail": f"Invalid token {TOKEN}"}))
    with pytest.raises(ServiceError) as caught:
        list(sentry_client(fake, time_).issues("acme", 1))
    message = str(caught.value)
    assert len(fake.requests) == 1 and time_.sleeps == [] and not caught.value.retryable
    assert TOKEN not in message and TOKEN[:12] not in message and "[REDACTED]" in message
    assert f"HTTP {status}" in message and "/api/0/organizations/acme/issues/" in message


def test_a_duplicate_note_is_already_there_but_another_400_is_an_error(time_: FakeTime) -> None:
    duplicate = httpx.Response(400, json={"detail": "You have already posted that comment."})
    # Older Sentry sent the same body as a JSON string holding the JSON.
    legacy = httpx.Response(400, json='{"detail": "You have already posted that comment."}')
    fake = Fake(duplicate, legacy, httpx.Response(400, json={"text": ["This field is required."]}))
    client = sentry_client(fake, time_)
    assert client.add_note("7", "seen") is False
    assert client.add_note("7", "seen") is False
    with pytest.raises(ServiceError, match="This field is required"):
        client.add_note("7", "seen")
    assert fake.paths == ["/api/0/issues/7/comments/"] * 3


def test_bad_ids_send_nothing(time_: FakeTime) -> None:
    fake = Fake(httpx.Response(200, json={}))
    client = sentry_client(fake, time_)
    for bad in ("../7", "7/comments", ""):
        with pytest.raises(FactoryError):
            client.latest_event(bad)
    with pytest.raises(FactoryError):
        list(client.issues("acme/../x", 1))
    assert fake.requests == []
