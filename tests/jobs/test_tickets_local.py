"""Local ticket files: parsing, hostile contents, and the comment/state log beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.errors import ConfigError, TicketNotFound
from jobs.tickets import LocalTickets, Ticket, TicketSource
from jobs.tickets.local import MAX_TICKET_BYTES
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "tickets"

GOOD = """---
identifier: IX-7
title: Add a word count
labels: [factory, backend]
state: Todo
---

Readers want to see how long each note is.

## Acceptance
- `word_count` on every note
"""


@pytest.fixture
def tickets(tmp_path: Path) -> LocalTickets:
    (tmp_path / "tickets").mkdir()
    return LocalTickets(tmp_path / "tickets", tmp_path / "log")


def write(tickets: LocalTickets, name: str, text: str | bytes) -> Path:
    path = tickets.tickets_dir / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_is_a_ticket_source(tickets: LocalTickets) -> None:
    assert isinstance(tickets, TicketSource)


def test_parses_a_good_ticket(tickets: LocalTickets) -> None:
    path = write(tickets, "IX-7.md", GOOD)
    ticket = tickets.get("IX-7")
    assert ticket == Ticket(
        identifier="IX-7",
        title="Add a word count",
        body="Readers want to see how long each note is.\n\n## Acceptance\n- `word_count` on every note",
        labels=["factory", "backend"],
        state="Todo",
        url=path.resolve().as_uri(),
        source_id=None,
    )


def test_parses_the_example_tickets() -> None:
    source = LocalTickets(EXAMPLES, Path("/nonexistent-log-dir"))
    for path in sorted(EXAMPLES.glob("*.md")):
        ticket = source.get(path.stem)
        assert ticket.identifier == path.stem
        assert ticket.title and ticket.body


def test_empty_body_and_missing_optional_fields(tickets: LocalTickets) -> None:
    write(tickets, "IX-8.md", "---\nidentifier: IX-8\ntitle: Just a title\n---\n")
    ticket = tickets.get("IX-8")
    assert (ticket.body, ticket.labels, ticket.state) == ("", [], None)


def test_missing_ticket_is_not_found(tickets: LocalTickets) -> None:
    with pytest.raises(TicketNotFound):
        tickets.get("IX-404")


@pytest.mark.parametrize(
    "identifier", ["../IX-7", "IX-7/../../etc/passwd", "ix-7", "IX-7.md", "IX-", "-7", "IX-7\n", "", "IX 7"]
)
def test_malformed_identifier_is_rejected_before_touching_the_disk(
    tickets: LocalTickets, identifier: str
) -> None:
    with pytest.raises(ConfigError, match="identifier"):
        tickets.get(identifier)


def test_huge_file_is_rejected(tickets: LocalTickets) -> None:
    write(tickets, "IX-9.md", "---\nidentifier: IX-9\ntitle: big\n---\n" + "x" * MAX_TICKET_BYTES)
    with pytest.raises(ConfigError, match=r"IX-9\.md.*KiB"):
        tickets.get("IX-9")


def test_file_at_the_size_limit_is_accepted(tickets: LocalTickets) -> None:
    head = "---\nidentifier: IX-9\ntitle: big\n---\n"
    write(tickets, "IX-9.md", head + "x" * (MAX_TICKET_BYTES - len(head)))
    assert len(tickets.get("IX-9").body) == MAX_TICKET_BYTES - len(head)


def test_mismatched_identifier_is_rejected_naming_the_file(tickets: LocalTickets) -> None:
    write(tickets, "IX-10.md", GOOD)  # says IX-7 inside
    with pytest.raises(ConfigError, match=r"IX-10\.md.*identifier"):
        tickets.get("IX-10")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter at all\n", "must start"),
        ("---\nidentifier: IX-11\ntitle: never closed\n", "closing"),
        ("---\nidentifier: IX-11\ntitle: [unbalanced\n---\nbody\n", "YAML"),
        ("---\n- a list\n- not a mapping\n---\n", "mapping"),
        ("---\n\n---\nbody\n", "mapping"),
        ("---\nidentifier: IX-11\ntitle: 2024\n---\n", "title"),
        ("---\nidentifier: IX-11\n---\n", "title"),
        ("---\nidentifier: IX-11\ntitle: t\nlabels: factory\n---\n", "labels"),
        ("---\nidentifier: IX-11\ntitle: t\nlabels: [1, 2]\n---\n", "labels"),
        ("---\nidentifier: IX-11\ntitle: t\nrun: rm -rf /\n---\n", "unknown"),
        ("---\nidentifier: !!python/object/apply:os.system [id]\ntitle: t\n---\n", "YAML"),
        ("---\ntitle: no identifier\n---\n", "identifier"),
        # Nested past any parser's depth (libyaml's crashes the process with SIGSEGV): an error, no crash.
        ("---\nidentifier: IX-11\ntitle: " + "[" * 25_000 + "\n---\n", "YAML"),
    ],
)
def test_bad_front_matter_is_rejected_naming_the_file(tickets: LocalTickets, text: str, problem: str) -> None:
    write(tickets, "IX-11.md", text)
    with pytest.raises(ConfigError, match=rf"IX-11\.md.*{problem}"):
        tickets.get("IX-11")


def test_non_utf8_file_is_rejected(tickets: LocalTickets) -> None:
    write(tickets, "IX-12.md", b"---\nidentifier: IX-12\ntitle: \xff\xfe\n---\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        tickets.get("IX-12")


def test_crlf_and_bom_are_tolerated(tickets: LocalTickets) -> None:
    write(tickets, "IX-13.md", "\ufeff---\r\nidentifier: IX-13\r\ntitle: Windows\r\n---\r\nbody\r\n")
    ticket = tickets.get("IX-13")
    assert (ticket.title, ticket.body) == ("Windows", "body")


def test_upsert_comment_twice_keeps_one_comment_with_the_new_body(tickets: LocalTickets) -> None:
    path = write(tickets, "IX-7.md", GOOD)
    before = path.read_bytes()
    ticket = tickets.get("IX-7")
    first = tickets.upsert_comment(ticket, "factory-status", "started")
    second = tickets.upsert_comment(ticket, "factory-status", "pushed branch")
    other = tickets.upsert_comment(ticket, "factory-review", "score 8/10")
    assert first == second != other
    log = json.loads(tickets.log_path("IX-7").read_text())
    status = [c for c in log["comments"] if c["key"] == "factory-status"]
    assert len(status) == 1 and len(log["comments"]) == 2
    assert status[0]["id"] == first and status[0]["body"] == "pushed branch"
    assert status[0]["updated_at"] >= status[0]["created_at"]
    assert path.read_bytes() == before


def test_comment_key_is_checked(tickets: LocalTickets) -> None:
    write(tickets, "IX-7.md", GOOD)
    ticket = tickets.get("IX-7")
    for key in ("", "../x", "a -->", "UPPER"):
        with pytest.raises(ConfigError):
            tickets.upsert_comment(ticket, key, "x")


def test_move_records_history_and_get_reports_the_new_state(tickets: LocalTickets) -> None:
    path = write(tickets, "IX-7.md", GOOD)
    before = path.read_bytes()
    ticket = tickets.get("IX-7")
    tickets.move(ticket, "In Progress")
    tickets.move(ticket, "In Review")
    log = json.loads(tickets.log_path("IX-7").read_text())
    assert [(s["previous"], s["state"]) for s in log["states"]] == [
        ("Todo", "In Progress"),
        ("In Progress", "In Review"),
    ]
    assert tickets.get("IX-7").state == "In Review"
    assert path.read_bytes() == before
    assert not list(tickets.log_dir.glob("*.tmp"))


def test_bad_state_name_is_rejected(tickets: LocalTickets) -> None:
    write(tickets, "IX-7.md", GOOD)
    with pytest.raises(ConfigError):
        tickets.move(tickets.get("IX-7"), "  \n ")


def test_corrupt_log_is_a_config_error(tickets: LocalTickets) -> None:
    write(tickets, "IX-7.md", GOOD)
    tickets.log_dir.mkdir()
    tickets.log_path("IX-7").write_text("{not json")
    with pytest.raises(ConfigError, match=r"IX-7\.json"):
        tickets.get("IX-7")
