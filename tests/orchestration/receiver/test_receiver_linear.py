"""The receiver held to Linear's own material, over real HTTP on 127.0.0.1.

Sources, each quoted in the docstring of the test whose expected values it gives:

- Linear's webhook docs, https://developers.linear.app/docs/graphql/webhooks ("How does a Webhook work?");
- ``@linear/sdk`` at github.com/linear/linear commit 8335e09a17dd8aa351dace3d05a94a55e78dad2a, under
  ``packages/sdk/src/``: the webhook client ``webhooks/client.ts``, its tests
  ``_tests/webhook-handler.test.ts`` and the GraphQL schema ``schema.graphql``.

Then the robustness of issue 14 item 18: malformed input is a 4xx with a reason and one log line, never a
500 or a 503; identifiers follow the jobs' own rule; a client that goes away costs one line, no traceback.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.errors import ConfigError
from jobs.tickets.source import check_identifier
from orchestration.receiver import TriggerConfig, decide, sign
from tests.orchestration.receiver.test_receiver import (
    AGENT_ID,
    LABEL_ID,
    NOW_MS,
    SECRET,
    Rig,
    issue,
    make_rig,
    post,
    raw,
    send,
)

LOGGER = "orchestration.receiver"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# -- item 3: every accepted outcome is a 200 ---------------------------------------------------------


def test_every_accepted_outcome_answers_200(rig: Rig) -> None:
    """Linear's webhook docs: the consumer "will respond to the Linear Webhook push (HTTP POST request)
    with a HTTP 200 ("OK") response"; a delivery that "responds with a non-200 HTTP status code" has failed
    and "will be retried ... after 1 minute, 1 hour, and 6 hours". So started, duplicate, already running
    and ignored are all 200 (a 202 counted as a failure), and the body says which."""
    trigger = issue("ENG-1", previous_labels=[])
    answers = [
        send(rig, trigger, delivery="d-1"),
        send(rig, trigger, delivery="d-1"),  # the same delivery again
        send(rig, issue("ENG-1", previous_labels=[]), delivery="d-2"),  # another trigger during the run
        send(rig, issue("ENG-2", updated_from={"title": "x"}), delivery="d-3"),  # no trigger at all
    ]
    print(f"\naccepted outcomes: {answers}")
    assert answers == [(200, "started"), (200, "duplicate"), (200, "already running"), (200, "ignored")]
    assert [m["ticket"] for m in rig.wait_published()] == ["ENG-1"]


# -- item 4: the linear-timestamp header ---------------------------------------------------------------


def test_linear_timestamp_header_is_the_send_time_when_the_body_has_none(rig: Rig) -> None:
    """``client.ts``: ``LINEAR_WEBHOOK_TS_HEADER = "linear-timestamp"``; ``parseVerifiedPayload`` takes
    ``parsedBody.webhookTimestamp ?? timestampHeader`` ("used only when the signed body has no timestamp"),
    parses the header with ``parseInt(timestamp, 10)`` as epoch ms, and ``verify`` refuses "more than one
    minute delta between provided ts and current time". ``webhook-handler.test.ts``: "rejects a stale signed
    body even when a fresh linear-timestamp header is supplied". Where the SDK skips the check with no
    timestamp at all, we refuse: the signature still has to be valid, and the ±60 s window still applies."""

    def deliver(number: int, header: str | None, body_ts: Any = "absent", signature: str = "auto") -> int:
        payload = issue(f"HDR-{number}", previous_labels=[])
        if body_ts == "absent":
            del payload["webhookTimestamp"]
        else:
            payload["webhookTimestamp"] = body_ts
        body = body_of(payload)
        extra = {} if header is None else {"Linear-Timestamp": header}
        status, _ = post(rig, body, delivery=f"hdr-{number}", signature=signature, extra=extra)
        return status

    cases: list[tuple[str, int, dict[str, Any]]] = [
        ("no body timestamp, fresh header", 200, {"header": str(NOW_MS)}),
        ("no body timestamp, header +60 s (inclusive)", 200, {"header": str(NOW_MS + 60_000)}),
        ("no body timestamp, header -60 s (inclusive)", 200, {"header": str(NOW_MS - 60_000)}),
        ("body timestamp null, fresh header (the SDK's ??)", 200, {"header": str(NOW_MS), "body_ts": None}),
        ("fresh body, stale header: the signed body wins", 200, {"header": "5", "body_ts": NOW_MS}),
        ("no body timestamp, header -61 s", 401, {"header": str(NOW_MS - 61_000)}),
        ("no body timestamp, header +61 s", 401, {"header": str(NOW_MS + 61_000)}),
        ("stale signed body, fresh header", 401, {"header": str(NOW_MS), "body_ts": NOW_MS - 600_000}),
        ("no body timestamp, no header", 401, {"header": None}),
        ("no body timestamp, header not a number", 401, {"header": "soon"}),
        ("no body timestamp, header in exponent form", 401, {"header": "1.76e12"}),
        ("no body timestamp, header of superscript digits", 401, {"header": "\u00b2" * 13}),
        (
            "no body timestamp, fresh header, bad signature",
            401,
            {"header": str(NOW_MS), "signature": "0" * 64},
        ),
    ]
    wrong = []
    for number, (name, expected, kw) in enumerate(cases):
        status = deliver(number, **kw)
        if status != expected:
            wrong.append((name, status))
    print(f"\nlinear-timestamp: {len(cases)} cases, wrong {len(wrong)}")
    assert wrong == []
    assert sorted(m["ticket"] for m in rig.wait_published()) == [f"HDR-{n}" for n in range(5)]


# -- item 5: delegation to the agent user --------------------------------------------------------------


DELEGATION: list[tuple[str, dict[str, Any], bool]] = [
    ("delegated to the agent", issue(labels=[], delegate=AGENT_ID, updated_from={"delegateId": None}), True),
    (
        "delegation moved to the agent from another agent",
        issue(labels=[], delegate=AGENT_ID, updated_from={"delegateId": "agent-other"}),
        True,
    ),
    ("created delegated to the agent", issue(action="create", labels=[], delegate=AGENT_ID), True),
    (
        "agent already the delegate, title edited",
        issue(labels=[], delegate=AGENT_ID, updated_from={"title": "x"}),
        False,
    ),
    (
        "delegated to another agent",
        issue(labels=[], delegate="agent-other", updated_from={"delegateId": None}),
        False,
    ),
    (
        "delegation removed from the agent",
        issue(labels=[], delegate=None, updated_from={"delegateId": AGENT_ID}),
        False,
    ),
    (
        "delegated by the agent itself",
        issue(
            labels=[],
            delegate=AGENT_ID,
            updated_from={"delegateId": None},
            actor={"id": AGENT_ID, "type": "user"},
        ),
        False,
    ),
    ("created delegated to another agent", issue(action="create", labels=[], delegate="agent-other"), False),
]


def test_delegation_to_the_agent_starts_like_assignment(rig: Rig) -> None:
    """``schema.graphql``, ``IssueWebhookPayload``: ``delegateId: String``, "The ID of the agent user that
    the issue is delegated to" (Linear's agent model), beside ``assigneeId``; ``EntityWebhookPayload``:
    ``updatedFrom``, "In case of an update event, previous values of all updated properties". So a
    delegation to the configured agent user starts a run only when this very event made it so: created
    delegated, or ``updatedFrom.delegateId`` names someone else (or no one), as for assignment."""
    config = TriggerConfig(label=LABEL_ID, agent_user_id=AGENT_ID, own_actor_ids=frozenset({AGENT_ID}))
    wrong = [name for name, payload, start in DELEGATION if decide(payload, config).start != start]
    reasons = {decide(payload, config).reason for _, payload, start in DELEGATION if start}
    print(f"\ndelegation: {len(DELEGATION)} cases, wrong {len(wrong)}; reasons {sorted(reasons)}")
    assert wrong == []
    assert reasons == {"delegated to the agent", "created delegated to the agent"}
    # Over HTTP, in the configured team: a delegation starts the run.
    payload = issue("ENG-5", labels=[], delegate=AGENT_ID, updated_from={"delegateId": None})
    assert send(rig, payload, delivery="delegated") == (200, "started")
    assert [m["ticket"] for m in rig.wait_published()] == ["ENG-5"]


# -- item 6: a delivery without Linear-Delivery --------------------------------------------------------


def test_a_delivery_without_linear_delivery_is_deduplicated_on_its_payload(rig: Rig) -> None:
    """Linear's own sources do not promise ``Linear-Delivery``: ``client.ts`` reads only
    ``linear-signature`` and ``linear-timestamp``, and ``webhook-handler.test.ts`` posts deliveries with
    only ``linear-signature`` and ``content-type``. ``schema.graphql``, ``EntityWebhookPayload``, documents
    ``webhookId: String!`` ("The ID of the webhook that sent this event"), ``createdAt: DateTime!`` ("The
    time the payload was created"), ``data`` (the entity, with its ``id``) and ``webhookTimestamp``
    ("when the webhook was sent"). A retry (the docs: "after 1 minute, 1 hour, and 6 hours") is the same
    payload sent again, so it must carry a new ``webhookTimestamp`` to pass the ±60 s check at all: the
    key is the rest, and the retry is a duplicate."""
    first = issue("ENG-1", previous_labels=[])
    assert post(rig, body_of(first), delivery=None) == (200, "started")
    # Linear's retry a minute later: the same payload, a fresh webhookTimestamp.
    rig.clock[0] = NOW_MS + 60_000
    retry = {**first, "webhookTimestamp": rig.clock[0]}
    assert post(rig, body_of(retry), delivery=None) == (200, "duplicate")
    # A new event on the same issue is a new delivery (the lock then holds it off), and one on another issue
    # starts its own run.
    later = issue("ENG-1", previous_labels=[], ts=rig.clock[0])
    later["createdAt"] = later["data"]["updatedAt"] = "2026-01-01T00:01:00.000Z"
    assert post(rig, body_of(later), delivery=None) == (200, "already running")
    assert post(rig, body_of(issue("ENG-2", previous_labels=[], ts=rig.clock[0])), delivery=None) == (
        200,
        "started",
    )
    # Nothing to deduplicate on: refused with the reason, nothing stored.
    bare = issue("ENG-3", previous_labels=[], ts=rig.clock[0])
    del bare["webhookId"]
    status, reason = post(rig, body_of(bare), delivery=None)
    assert status == 400 and "webhookId" in reason
    messages = rig.wait_published()
    print(f"\nno Linear-Delivery: answers right; deliveries {[m['delivery'][:16] for m in messages]}")
    assert [m["ticket"] for m in messages] == ["ENG-1", "ENG-2"]
    assert all(m["delivery"].startswith("payload-") for m in messages)
    assert not any("ENG-3" in key for key in rig.store.list())


# -- item 18: robustness -------------------------------------------------------------------------------


def with_actor(actor: object) -> dict[str, Any]:
    payload = issue(previous_labels=[])
    payload["actor"] = actor
    return payload


def with_data(**fields: object) -> dict[str, Any]:
    payload = issue(previous_labels=[])
    payload["data"].update(fields)
    return payload


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("actor id a list", with_actor({"id": ["user-jane"], "type": "user"})),
    ("actor id an object", with_actor({"id": {"id": "user-jane"}, "type": "user"})),
    ("actor type a list", with_actor({"id": "user-jane", "type": ["user"]})),
    ("actor a string", with_actor("user-jane")),
    ("identifier ending in a newline", with_data(identifier="ENG-1\n")),
    ("identifier in lower case", with_data(identifier="eng-1")),
    ("identifier with an underscore", with_data(identifier="ENG_1")),
    ("identifier with two dashes", with_data(identifier="ENG-1-2")),
    ("identifier with 8 digits", with_data(identifier="ENG-12345678")),
    ("identifier a number", with_data(identifier=12)),
    ("identifier null", with_data(identifier=None)),
    ("issue id a list", with_data(id=["id-ENG-1"])),
    ("updatedFrom a string", {**issue(previous_labels=[]), "updatedFrom": "labelIds"}),
]


def test_malformed_payloads_are_a_4xx_with_a_reason_and_one_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """``schema.graphql``: ``UserActorWebhookPayload`` has ``id: String!`` and ``type: String!``;
    ``IssueWebhookPayload`` has ``id: String!`` and ``identifier: String!``; ``updatedFrom: JSONObject``.
    A payload that contradicts them was a 500 (an actor id used as a set member), a 503 on every retry (an
    identifier ending in a newline, refused by the store), or a started run the jobs would refuse. Now:
    400 with the reason, one log line per refused delivery, nothing stored."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    answers = []
    for number, (name, payload) in enumerate(MALFORMED):
        for attempt in range(2):  # Linear retries a failed delivery: the same answer each time
            answers.append((name, *post(rig, body_of(payload), delivery=f"bad-{number}-{attempt}")))
    head = "POST /linear/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    lengths = [("Content-Length: \xb2", 400), ("Content-Length: " + "9" * 5000, 413)]
    raw_statuses = [raw(rig, (head + line + "\r\n\r\n").encode("latin-1")) for line, _ in lengths]
    statuses = sorted({status for _, status, _ in answers})
    print(f"\nmalformed: {len(answers)} deliveries, statuses {statuses}, raw {raw_statuses}")
    assert [(name, status) for name, status, _ in answers if status != 400] == []
    assert all(reason and reason != "internal error" for _, _, reason in answers)
    assert raw_statuses == [status for _, status in lengths]
    assert rig.receiver.internal_errors == 0 and rig.server.alive()
    lines = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.INFO]
    assert len(lines) == len(answers) + len(lengths), [r.getMessage() for r in lines]
    assert all(r.getMessage().startswith("refused a request: 4") for r in lines)
    assert rig.store.list() == [] and rig.wait_published() == []


def test_identifiers_follow_the_jobs_rule(rig: Rig) -> None:
    """The receiver starts a run for exactly the identifiers the jobs accept (``check_identifier``,
    imported, not copied): anything else would start a run that fails at its first step."""
    candidates = [
        "ENG-1",
        "ENG2-7",
        "A-1",
        "ABCDEFGHIJ-1234567",
        "ENG-01",
        "ABCDEFGHIJK-1",
        "eng-1",
        "ENG-",
        "-1",
        "ENG--1",
        "2ENG-1",
        "\u00c9NG-1",
        "ENG-1 ",
        "ENG-1\n",
        "ENG-\uff11",
    ]

    def jobs_accept(identifier: str) -> bool:
        try:
            check_identifier(identifier)
        except ConfigError:
            return False
        return True

    disagree = []
    for number, identifier in enumerate(candidates):
        payload = issue(previous_labels=[])
        payload["data"]["identifier"] = identifier
        payload["data"]["id"] = f"id-{number}"
        status, outcome = send(rig, payload, delivery=f"id-{number}")
        started = (status, outcome) == (200, "started")
        if started != jobs_accept(identifier) or status not in (200, 400):
            disagree.append((identifier, status, outcome))
    accepted = sum(jobs_accept(c) for c in candidates)
    print(f"\nidentifiers: {len(candidates)} tried, {accepted} valid, disagreements {len(disagree)}")
    assert disagree == []
    assert len(rig.wait_published()) == accepted == 5


def reset_after(rig: Rig, data: bytes) -> None:
    """Send ``data``, then close with a TCP reset (SO_LINGER 0): a client that goes away abruptly."""
    sock = socket.create_connection(rig.server.address, timeout=10)
    sock.sendall(data)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def lines_of(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    """The receiver's log lines once there are ``count`` of them (the server handles them in a thread)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.INFO]
        if len(lines) >= count or time.monotonic() > deadline:
            time.sleep(0.2)  # and nothing more comes
            return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.INFO]
        time.sleep(0.01)


def test_a_client_that_goes_away_costs_one_line_and_no_traceback(
    rig: Rig, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A client that resets its connection (mid request line, mid body, or after the whole request,
    before reading the answer) was a raw socketserver traceback on stderr each time; now one log line."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    head = b"POST /linear/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = body_of(issue(previous_labels=[]))
    whole = head + b"Content-Length: %d\r\nLinear-Signature: %s\r\n\r\n" % (len(body), b"0" * 64) + body
    cases = [b"POST /linear/web", head + b"Content-Length: 100\r\n\r\n{", whole]
    per_case = []
    for number, data in enumerate(cases):
        caplog.clear()
        reset_after(rig, data)
        per_case.append(lines_of(caplog, 1))
        assert len(per_case[-1]) == 1, (number, per_case[-1])
    err = capfd.readouterr().err
    counts = [len(lines) for lines in per_case]
    print(f"\ndisconnects: {len(cases)}, log lines {counts}, traceback on stderr {'Traceback' in err}")
    assert "Traceback" not in err and "Exception occurred" not in err
    assert "went away" in per_case[0][0] and "went away" in per_case[1][0]
    assert "401" in per_case[2][0]  # answered or not, the line says what the answer was
    assert rig.server.alive() and rig.receiver.internal_errors == 0
    # Still serving.
    good = body_of(issue(previous_labels=[]))
    assert post(rig, good, signature=sign(SECRET, good), delivery="after") == (200, "started")
