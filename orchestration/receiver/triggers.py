"""When a Linear Issue event should start a run: a pure function of the verified payload and the config.

A run starts only when, in this very event:

- the trigger label was added (``action: update``, the label's id is in ``data.labelIds`` and
  ``updatedFrom`` carries a ``labelIds`` list, the previous labels, without it);
- an issue was created carrying the trigger label (``action: create``); or
- the issue was assigned to the configured agent user (``data.assigneeId`` is the agent and either the
  issue was just created so, or ``updatedFrom.assigneeId`` shows it was someone else before).

``updatedFrom`` holds the previous values of the fields an update changed, so an update that did not touch
the labels has no ``labelIds`` there: the label being present is not enough. Events whose actor is not a
human user (Linear marks apps and integrations with another ``actor.type``), has no actor, or is one of our
own ids are ignored, so Factory's own label or assignee changes never re-trigger it.

The trigger label may be configured by id or by name; a name is resolved through the ``data.labels``
objects of the payload, so configuring the id is the more robust choice.

When a team is configured, only that team's issues start runs: an Issue payload names its team by
``data.teamId`` and ``data.team`` (``{id, key, name}``), and the configured value may be the team's key
(``IX``, case-insensitive) or its id. An issue whose payload names no team is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# A Linear issue identifier such as ENG-123; it becomes part of a store key, so nothing else is accepted.
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
HUMAN_ACTOR_TYPE = "user"


@dataclass(frozen=True)
class TriggerConfig:
    """Which events start a run."""

    label: str
    """The trigger label's id, or its name (matched case-insensitively)."""
    agent_user_id: str | None = None
    """Assigning an issue to this Linear user starts a run too."""
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
    if actor.get("id") in config.own_actor_ids:
        return Decision(False, "actor is Factory itself")
    data = payload.get("data")
    if not isinstance(data, dict):
        return Decision(False, "no issue data")
    identifier, issue_id = _str(data.get("identifier")), _str(data.get("id"))
    if identifier is None or issue_id is None or not IDENTIFIER.match(identifier):
        return Decision(False, "no usable issue identifier")
    if config.team is not None and not _in_team(data, config.team):
        return Decision(False, "not an issue of the configured team")

    def start(reason: str) -> Decision:
        return Decision(True, reason, identifier, issue_id)

    trigger_ids = _trigger_label_ids(data, config)
    agent = config.agent_user_id
    assigned_to_agent = agent is not None and data.get("assigneeId") == agent
    if action == "create":
        if trigger_ids:
            return start("created with the trigger label")
        if assigned_to_agent:
            return start("created assigned to the agent")
        return Decision(False, "created without a trigger")
    updated_from = payload.get("updatedFrom")
    if not isinstance(updated_from, dict):
        return Decision(False, "update without previous values")
    previous_labels = _str_list(updated_from.get("labelIds"))
    if previous_labels is not None and trigger_ids - set(previous_labels):
        return start("trigger label added")
    if assigned_to_agent and "assigneeId" in updated_from and updated_from.get("assigneeId") != agent:
        return start("assigned to the agent")
    return Decision(False, "update without a trigger")
