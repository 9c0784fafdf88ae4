"""LinearTickets against the fake Linear API: mapping, upserts, moves, errors, rate limits, retries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from jobs.errors import ConfigError, FactoryError, ServiceError, TicketNotFound
from jobs.tickets import LinearTickets, Ticket, TicketSource
from jobs.tickets.linear import MAX_RESET_WAIT, MIN_WAIT, retry_after_seconds
from jobs.tickets.source import comment_marker
from tests.fakes.linear import FakeLinear

API_KEY = "lin_api_CANARYcanaryCANARYcanary0123456789"
T0 = 1_700_000_000.0


class FakeTime:
    """A clock that the injected sleep advances, shared by the client and the fake server."""

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


@pytest.fixture
def fake(time_: FakeTime) -> FakeLinear:
    fake = FakeLinear(API_KEY, clock=time_.clock)
    fake.add_issue("IX-123", "Add a word count", "Readers want **counts**.", labels=["factory", "api"])
    return fake


@pytest.fixture
def http(fake: FakeLinear) -> Iterator[httpx.Client]:
    with httpx.Client(transport=fake.transport()) as client:
        yield client


@pytest.fixture
def linear(http: httpx.Client, time_: FakeTime) -> LinearTickets:
    return LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)


def test_is_a_ticket_source(linear: LinearTickets) -> None:
    assert isinstance(linear, TicketSource)


def test_get_maps_the_issue_fields(linear: LinearTickets, fake: FakeLinear) -> None:
    issue = next(iter(fake.issues.values()))
    ticket = linear.get("IX-123")
    assert ticket == Ticket(
        identifier="IX-123",
        title="Add a word count",
        body="Readers want **counts**.",
        labels=["factory", "api"],
        state="Todo",
        url="https://linear.app/fake/issue/IX-123/slug",
        source_id=issue.id,
    )
    request = fake.requests[-1]
    assert request.authorization == API_KEY  # a personal API key goes in as is, no "Bearer"
    assert request.root_fields == ["issue"] and request.variables == {"id": "IX-123"}


def test_null_description_becomes_an_empty_body(linear: LinearTickets, fake: FakeLinear) -> None:
    fake.add_issue("IX-5", "No description", None)
    assert linear.get("IX-5").body == ""


@pytest.mark.parametrize("status", [200, 400])
def test_missing_issue_is_not_found(linear: LinearTickets, fake: FakeLinear, status: int) -> None:
    fake.not_found_status = status
    with pytest.raises(TicketNotFound, match="Entity not found"):
        linear.get("IX-999")
    assert len(fake.requests) == 1


def test_malformed_identifier_sends_nothing(linear: LinearTickets, fake: FakeLinear) -> None:
    with pytest.raises(ConfigError):
        linear.get('IX-1") { id } viewer { id')
    assert fake.requests == []


def test_upsert_comment_creates_then_updates_the_same_comment(
    linear: LinearTickets, fake: FakeLinear
) -> None:
    ticket = linear.get("IX-123")
    issue = fake.issues[ticket.source_id or ""]
    ids = {linear.upsert_comment(ticket, "factory-status", f"step {n}") for n in range(5)}
    assert len(ids) == 1
    assert len(issue.comments) == 1
    assert issue.comments[0].body == f"{comment_marker('factory-status')}\nstep 4"
    assert (fake.calls("commentCreate"), fake.calls("commentUpdate")) == (1, 4)


def test_upsert_with_unchanged_body_writes_nothing(linear: LinearTickets, fake: FakeLinear) -> None:
    ticket = linear.get("IX-123")
    linear.upsert_comment(ticket, "factory-status", "same")
    linear.upsert_comment(ticket, "factory-status", "same")
    assert (fake.calls("commentCreate"), fake.calls("commentUpdate")) == (1, 0)


def test_upsert_keeps_keys_apart_and_ignores_markers_in_other_peoples_comments(
    linear: LinearTickets, fake: FakeLinear
) -> None:
    ticket = linear.get("IX-123")
    issue = fake.issues[ticket.source_id or ""]
    spoof = fake.add_comment(issue, f"{comment_marker('factory-status')}\nI am not Factory")
    status = linear.upsert_comment(ticket, "factory-status", "ours")
    review = linear.upsert_comment(ticket, "factory-review", "also ours")
    assert status != review and spoof.id not in (status, review)
    assert spoof.body.endswith("I am not Factory")
    assert len(issue.comments) == 3


def test_upsert_finds_our_comment_beyond_the_first_page(linear: LinearTickets, fake: FakeLinear) -> None:
    ticket = linear.get("IX-123")
    issue = fake.issues[ticket.source_id or ""]
    first = linear.upsert_comment(ticket, "factory-status", "v1")
    for n in range(120):
        fake.add_comment(issue, f"chatter {n}")
    issue.comments.reverse()  # ours is now the last of 121, on the third page
    assert linear.upsert_comment(ticket, "factory-status", "v2") == first
    assert fake.calls("commentCreate") == 1


def test_upsert_recreates_a_comment_deleted_in_between(linear: LinearTickets, fake: FakeLinear) -> None:
    ticket = linear.get("IX-123")
    issue = fake.issues[ticket.source_id or ""]
    linear.upsert_comment(ticket, "factory-status", "v1")
    original = fake._comment_update

    def delete_then_update(args: dict[str, object]) -> dict[str, object]:
        issue.comments.clear()  # someone deletes it between our listing and our update
        return original(args)

    fake._comment_update = delete_then_update  # type: ignore[method-assign]
    linear.upsert_comment(ticket, "factory-status", "v2")
    assert [c.body.splitlines()[-1] for c in issue.comments] == ["v2"]


def test_move_to_a_state_by_name(linear: LinearTickets, fake: FakeLinear) -> None:
    ticket = linear.get("IX-123")
    issue = fake.issues[ticket.source_id or ""]
    linear.move(ticket, "In Progress")
    assert fake.state_name(issue) == "In Progress"
    linear.move(ticket, "in review")  # a unique case-insensitive match is fine
    assert fake.state_name(issue) == "In Review"
    assert linear.get("IX-123").state == "In Review"
    updates = fake.calls("issueUpdate")
    linear.move(ticket, "In Review")  # already there: no write
    assert fake.calls("issueUpdate") == updates == 2


def test_move_to_an_unknown_state_is_a_clear_error(linear: LinearTickets, fake: FakeLinear) -> None:
    ticket = linear.get("IX-123")
    with pytest.raises(ConfigError, match=r"no workflow state named 'Shipped'.*'In Progress'"):
        linear.move(ticket, "Shipped")
    assert fake.calls("issueUpdate") == 0


def test_rate_limit_is_waited_out_then_succeeds(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    fake.rate_limit(2, reset_in=7.5)
    assert linear.get("IX-123").identifier == "IX-123"
    assert time_.sleeps == [pytest.approx(7.5), pytest.approx(7.5)]
    assert len(fake.requests) == 3
    assert fake.sent_while_limited == 0


def test_retry_after_header_wins(fake: FakeLinear, time_: FakeTime) -> None:
    seen: list[httpx.Request] = []

    def limited_once(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"}, text="slow down")
        return fake(request)

    with httpx.Client(transport=httpx.MockTransport(limited_once)) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        assert linear.get("IX-123").title == "Add a word count"
    assert time_.sleeps == [3.0] and len(seen) == 2


def test_rate_limit_resetting_beyond_the_cap_is_not_retried(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    fake.rate_limit(1, reset_in=3600)
    with pytest.raises(ServiceError) as caught:
        linear.get("IX-123")
    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == pytest.approx(3600)
    assert time_.sleeps == [] and len(fake.requests) == 1


def test_rate_limit_that_persists_gives_up_after_the_attempts(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    fake.rate_limit(10, reset_in=2)
    with pytest.raises(ServiceError, match="rate limited"):
        linear.get("IX-123")
    assert len(fake.requests) == 4 and len(time_.sleeps) == 3
    assert fake.sent_while_limited == 0


def test_deterministic_4xx_is_not_retried(fake: FakeLinear, http: httpx.Client, time_: FakeTime) -> None:
    linear = LinearTickets(http, SecretStr("lin_api_wrongWRONGwrongWRONGwrong"), sleep=time_.sleep)
    with pytest.raises(ServiceError) as caught:
        linear.get("IX-123")
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(fake.requests) == 1 and time_.sleeps == []


def test_graphql_validation_error_is_not_retried(linear: LinearTickets, fake: FakeLinear) -> None:
    with pytest.raises(ServiceError) as caught:
        linear._execute('query { issue(id: "IX-123") { nope } }', {})
    assert caught.value.status == 400 and "nope" in str(caught.value)
    assert len(fake.requests) == 1


def test_5xx_is_retried_a_bounded_number_of_times(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    fake.fail(10, status=503)
    with pytest.raises(ServiceError) as caught:
        linear.get("IX-123")
    assert caught.value.status == 503 and caught.value.retryable
    assert len(fake.requests) == 4
    assert time_.sleeps == [1.0, 2.0, 4.0]


def test_5xx_then_recovery(linear: LinearTickets, fake: FakeLinear) -> None:
    fake.fail(2, status=502)
    assert linear.get("IX-123").identifier == "IX-123"
    assert len(fake.requests) == 3


def test_lost_create_answer_does_not_duplicate_the_comment(fake: FakeLinear, time_: FakeTime) -> None:
    created: list[str] = []

    def drop_create_answer(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if fake.requests[-1].root_fields == ["commentCreate"] and not created:
            created.append("x")
            return httpx.Response(502, text="bad gateway")  # the comment was created all the same
        return response

    with httpx.Client(transport=httpx.MockTransport(drop_create_answer)) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        ticket = linear.get("IX-123")
        linear.upsert_comment(ticket, "factory-status", "hello")
    issue = fake.issues[ticket.source_id or ""]
    assert len(issue.comments) == 1
    assert issue.comments[0].body.endswith("hello")


def test_network_errors_are_retried(fake: FakeLinear, time_: FakeTime) -> None:
    attempts: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return fake(request)

    with httpx.Client(transport=httpx.MockTransport(flaky)) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        assert linear.get("IX-123").identifier == "IX-123"
    assert len(attempts) == 3


def test_api_key_never_appears_in_errors_or_reprs(fake: FakeLinear, time_: FakeTime) -> None:
    def echo_key(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"]
        # Also long enough that a naive truncation would cut the key in two.
        return httpx.Response(400, json={"errors": [{"message": f"{'x' * 280} bad key {key}"}]})

    raised: list[BaseException] = []
    with httpx.Client(transport=httpx.MockTransport(echo_key)) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        ticket = Ticket(identifier="IX-123", title="t")
        for call in (
            lambda: linear.get("IX-123"),
            lambda: linear.upsert_comment(ticket, "k", "b"),
            lambda: linear.move(ticket, "Done"),
        ):
            with pytest.raises(FactoryError) as caught:
                call()
            raised.append(caught.value)
    with httpx.Client(transport=fake.transport()) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        fake.fail(10)
        with pytest.raises(FactoryError) as caught:
            linear.get("IX-123")
        raised.append(caught.value)
        fake._failures.clear()
        with pytest.raises(FactoryError) as caught:
            linear.get("IX-999")
        raised.append(caught.value)
        texts = [repr(linear), str(linear)]
    for exc in raised:
        texts += [str(exc), repr(exc), repr(exc.args)]
    assert len(raised) == 5
    assert not [text for text in texts if "CANARY" in text or API_KEY[:10] in text]


def test_empty_api_key_is_a_config_error(http: httpx.Client) -> None:
    with pytest.raises(ConfigError):
        LinearTickets(http, SecretStr(" "))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, 10.0),
        (
            {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(int(T0 * 1000) + 4500)},
            4.5,
        ),
        (
            {
                "X-RateLimit-Complexity-Remaining": "0",
                "X-RateLimit-Complexity-Reset": str(int(T0 * 1000) + 9000),
                "X-RateLimit-Requests-Remaining": "40",
                "X-RateLimit-Requests-Reset": str(int(T0 * 1000) + 999_000),
            },
            9.0,
        ),
        ({"X-RateLimit-Requests-Remaining": "5"}, None),
        ({}, None),
    ],
)
def test_retry_after_from_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), T0) == (
        pytest.approx(expected) if expected else expected
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # Epoch milliseconds, as Linear documents them: 4.5 s ahead.
        (
            {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(int(T0 * 1000) + 4500)},
            4.5,
        ),
        # Epoch seconds, what the SDK's unit-less "Unix timestamp" could also mean: 30 s ahead, not 1970.
        ({"X-RateLimit-Complexity-Remaining": "0", "X-RateLimit-Complexity-Reset": str(int(T0) + 30)}, 30.0),
        # A reset already past (clock skew), in either unit, and a Retry-After of 0: the minimum wait.
        (
            {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(int(T0 * 1000) - 5000)},
            1.0,
        ),
        ({"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(int(T0) - 5)}, 1.0),
        (
            {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(int(T0 * 1000) + 20)},
            1.0,
        ),
        ({"Retry-After": "0"}, 1.0),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:00 GMT"}, 1.0),
    ],
)
def test_reset_headers_are_read_in_either_unit_and_never_wait_zero(
    headers: dict[str, str], expected: float
) -> None:
    """Linear's schema (``@linear/sdk`` ``packages/sdk/src/schema.graphql`` at github.com/linear/linear
    8335e09a, ``RateLimitResultPayload.reset``): "The UNIX timestamp (in milliseconds) at which the rate
    limit will be fully replenished"; the SDK's ``RatelimitedLinearError`` (``packages/sdk/src/error.ts``)
    reads ``x-ratelimit-requests-reset`` and ``x-ratelimit-complexity-reset`` as a "Unix timestamp at which
    the requests will be reset", no unit, and ``retry-after`` as "How long, in seconds, the user agent
    should wait". So milliseconds and seconds both give the right wait, and a past reset the minimum."""
    assert MIN_WAIT == 1.0
    assert retry_after_seconds(httpx.Headers(headers), T0) == pytest.approx(expected)


def test_a_reset_in_the_past_never_loops_without_waiting(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    """Linear's headers as the fake sends them (epoch ms, ``X-RateLimit-Requests-*``), but resetting 5 s
    in the past (a clock behind Linear's): each retry waits the minimum, a bounded number of times."""
    fake.rate_limit(10, reset_in=-5.0)
    with pytest.raises(ServiceError, match="rate limited"):
        linear.get("IX-123")
    assert time_.sleeps == [MIN_WAIT] * 3 and len(fake.requests) == 4


def test_a_reset_absurdly_far_gives_up_at_once_with_a_clear_error(
    linear: LinearTickets, fake: FakeLinear, time_: FakeTime
) -> None:
    """Linear's limits are per hour (``RateLimitResultPayload.period``: "the duration in milliseconds of
    the rate limit window"): a reset ten days ahead is a misread header, not a window to sleep through or
    to hand back as retryable."""
    fake.rate_limit(1, reset_in=10 * 86400)
    with pytest.raises(ServiceError) as caught:
        linear.get("IX-123")
    assert not caught.value.retryable and caught.value.status == 429
    assert "X-RateLimit-*-Reset" in str(caught.value) and f"{MAX_RESET_WAIT:.0f} s" in str(caught.value)
    assert time_.sleeps == [] and len(fake.requests) == 1


def test_a_reset_in_epoch_seconds_is_waited_out_exactly(fake: FakeLinear, time_: FakeTime) -> None:
    """The same rate-limited answer as the fake's, but with the reset in epoch seconds (the unit the SDK's
    "Unix timestamp" leaves open): waited for 6 s, not ignored as 1970 nor slept through for 55 000 years."""
    seen: list[httpx.Request] = []

    def seconds_reset(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            reset = str(int(time_.now) + 6)
            headers = {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": reset}
            body = {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
            return httpx.Response(400, json=body, headers=headers)
        return fake(request)

    with httpx.Client(transport=httpx.MockTransport(seconds_reset)) as http:
        linear = LinearTickets(http, SecretStr(API_KEY), sleep=time_.sleep, clock=time_.clock)
        assert linear.get("IX-123").identifier == "IX-123"
    assert time_.sleeps == [pytest.approx(6.0)] and len(seen) == 2
