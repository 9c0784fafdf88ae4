"""When a Linear Issue event should start a run: a pure function of the verified payload and the config.

A run starts only when, in this very event:

- the trigger label was added (``action: update``, the label's id is in ``data.labelIds`` and
  ``updatedFrom`` carries a ``labelIds`` list, the previous labels, without it);
- an issue was created carrying the trigger label (``action: create``); or
- the issue was assigned to the configured agent user (``data.assigneeId`` is the agent and either the
  issue was just created so, or ``updatedFrom.assigneeId`` shows it was someone else before); or
- the issue was delegated to the agent user, Linear's agent model (``data.delegateId``, "the ID of the
  agent user that the issue is delegated to" in the SDK's ``IssueWebhookPayload``), with the same rule
  on ``updatedFrom.delegateId``.

``updatedFrom`` holds the previous values of the fields an update changed, so an update that did not touch
the labels has no ``labelIds`` there: the label being present is not enough. Events whose actor is not a
human user (Linear marks apps and integrations with another ``actor.type``), has no actor, or is one of our
own ids are ignored, so Factory's own label or assignee changes never re-trigger it.

The trigger label may be configured by id or by name; a name is resolved through the ``data.labels``
objects of the payload, so configuring the id is the more robust choice.

A payload that contradicts the shape Linear documents for these fields (``malformed``) is refused rather
than guessed at: an actor whose ``id`` or ``type`` is not a string, an issue ``id`` that is not one, an
``identifier`` the jobs would refuse (``jobs.tickets.source.check_identifier``, the one rule for them: it
becomes a store key, a branch and file names), ``updatedFrom`` that is not an object.

When a team is configured, only that team's issues start runs: an Issue payload names its team by
``data.teamId`` and ``data.team`` (``{id, key, name}``), and the configured value may be the team's key
(``IX``, case-insensitive) or its id. An issue whose payload names no team is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.errors import ConfigError
from jobs.tickets.source import check_identifier

HUMAN_ACTOR_TYPE = "user"


@dataclass(frozen=True)
class TriggerConfig:
    """Which events start a run."""

    label: str
    """The trigger label's id, or its name (matched case-insensitively)."""
    agent_user_id: str | None = None
    """Assigning or delegating an issue to this Linear user starts a run too."""
    own_actor_ids: frozenset[str] = field(default_factory=frozenset)
    """Actors whose events never start a run (our app user, our API key's user)."""
    team: str | None = None
    """Only this team's issues start runs: its key (``IX``) or id; None for every team."""


@dataclass(frozen=True)
class Decision:
    start: bool
    reason: str
    ticket: str | None = None
    ticket_id: str | None = None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _str_list(value: object) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [item for item in value if isinstance(item, str)]


def _trigger_label_ids(data: Mapping[str, object], config: TriggerConfig) -> set[str]:
    """The ids, among the issue's current labels, that are the trigger label."""
    current = set(_str_list(data.get("labelIds")) or [])
    wanted = {config.label} & current
    labels = data.get("labels")
    if isinstance(labels, list):
        name = config.label.casefold()
        for label in labels:
            if not isinstance(label, dict):
                continue
            label_id, label_name = _str(label.get("id")), _str(label.get("name"))
            if label_id in current and label_name is not None and label_name.casefold() == name:
                wanted.add(label_id)
    return wanted


def _in_team(data: Mapping[str, object], team: str) -> bool:
    """Whether the issue belongs to ``team`` (a key or an id); False when the payload does not say."""
    team_object = data.get("team")
    details = team_object if isinstance(team_object, dict) else {}
    key = _str(details.get("key"))
    ids = {_str(data.get("teamId")), _str(details.get("id"))} - {None}
    return team in ids or (key is not None and key.casefold() == team.casefold())


def _usable_identifier(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        check_identifier(value)
    except ConfigError:
        return False
    return True


def malformed(payload: Mapping[str, object]) -> str | None:
    """Why a verified payload contradicts the shape Linear documents, or None (never raises)."""
    actor = payload.get("actor")
    if actor is not None:
        if not isinstance(actor, dict):
            return "actor must be an object"
        if any(key in actor and not isinstance(actor[key], str) for key in ("id", "type")):
            return "actor id and type must be strings"
    if payload.get("updatedFrom") is not None and not isinstance(payload.get("updatedFrom"), dict):
        return "updatedFrom must be an object"
    data = payload.get("data")
    if payload.get("type") == "Issue" and isinstance(data, dict):
        if "id" in data and _str(data.get("id")) is None:
            return "issue id must be a string"
        if "identifier" in data and not _usable_identifier(data.get("identifier")):
            return "malformed issue identifier (expected e.g. ENG-123)"
    return None


def decide(payload: Mapping[str, object], config: TriggerConfig) -> Decision:
    """Whether this verified payload starts a run, and why (never raises on any JSON object)."""
    if payload.get("type") != "Issue":
        return Decision(False, "not an issue event")
    action = payload.get("action")
    if action not in ("create", "update"):
        return Decision(False, "not a create or update")
    actor = payload.get("actor")
    if not isinstance(actor, dict) or actor.get("type") != HUMAN_ACTOR_TYPE:
        return Decision(False, "actor is not a human user")
    actor_id = actor.get("id")
    if not isinstance(actor_id, str):
        return Decision(False, "actor has no id")
    if actor_id in config.own_actor_ids:
        return Decision(False, "actor is Factory itself")
    data = payload.get("data")
    if not isinstance(data, dict):
        return Decision(False, "no issue data")
    identifier, issue_id = _str(data.get("identifier")), _str(data.get("id"))
    if identifier is None or issue_id is None or not _usable_identifier(identifier):
        return Decision(False, "no usable issue identifier")
    if config.team is not None and not _in_team(data, config.team):
        return Decision(False, "not an issue of the configured team")

    def start(reason: str) -> Decision:
        return Decision(True, reason, identifier, issue_id)

    trigger_ids = _trigger_label_ids(data, config)
    agent = config.agent_user_id
    # Assignment and delegation (Linear's agent model) alike: the field names the agent now.
    to_agent = [name for name in ("assigneeId", "delegateId") if agent and data.get(name) == agent]
    verbs = {"assigneeId": "assigned", "delegateId": "delegated"}
    if action == "create":
        if trigger_ids:
            return start("created with the trigger label")
        if to_agent:
            return start(f"created {verbs[to_agent[0]]} to the agent")
        return Decision(False, "created without a trigger")
    updated_from = payload.get("updatedFrom")
    if not isinstance(updated_from, dict):
        return Decision(False, "update without previous values")
    previous_labels = _str_list(updated_from.get("labelIds"))
    if previous_labels is not None and trigger_ids - set(previous_labels):
        return start("trigger label added")
    for name in to_agent:  # only when this update changed it to the agent
        if name in updated_from and updated_from.get(name) != agent:
            return start(f"{verbs[name]} to the agent")
    return Decision(False, "update without a trigger")
