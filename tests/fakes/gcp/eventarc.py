"""Eventarc API v1: triggers. Like the real API, a Pub/Sub transport must name an existing topic, the
server adds the push subscription it creates, and ``transport`` cannot be changed by an update.

Eventarc acts through its service agent, which Google grants ``roles/eventarc.serviceAgent`` on the
project when the API is enabled; until that grant is in effect a create is refused with Eventarc's own
400 (``agent_pending(reads=N)`` holds it out of effect for the next N creates)."""

from __future__ import annotations

import re
import uuid

from tests.fakes.gcp.common import Located, body_of, new_etag
from tests.fakes.gcp.projects import PROJECT_NUMBER
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request

API = "eventarc.googleapis.com"
TYPE_URL = "type.googleapis.com/google.cloud.eventarc.v1.Trigger"
AGENT_ROLE = "roles/eventarc.serviceAgent"
AGENT_NOT_READY = (
    'Invalid resource state for "": Permission denied while using the Eventarc Service Agent. If you '
    "recently started to use Eventarc, it may take a few minutes before all necessary permissions are "
    "propagated to the Service Agent. Otherwise, verify that it has Eventarc Service Agent role."
)


class Eventarc(Located):
    api = API
    plural = "triggers"

    def __init__(self, server: GcpServer, topics: dict[str, Json]) -> None:
        super().__init__(server)
        self.topics = topics
        self.triggers = self.stored
        self.project = f"projects/{server.project}"
        self.agent = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-eventarc.iam.gserviceaccount.com"
        server.policies.grant(self.project, AGENT_ROLE, self.agent)

    def agent_pending(self, reads: int) -> None:
        """The service agent's role is not in effect for the next ``reads`` creates."""
        self.server.policies.pend(self.project, AGENT_ROLE, self.agent, reads)

    def _check_agent(self) -> None:
        if self.agent not in self.server.policies.effective(self.project, AGENT_ROLE):
            violation = {"type": "", "subject": "", "description": AGENT_NOT_READY.split(": ", 1)[1]}
            details = [
                {"@type": "type.googleapis.com/google.rpc.PreconditionFailure", "violations": [violation]}
            ]
            raise ApiError(400, AGENT_NOT_READY, "FAILED_PRECONDITION", details)

    def _validate(self, trigger: Json) -> None:
        if not trigger.get("eventFilters") or not trigger.get("destination"):
            raise ApiError(400, "eventFilters and destination are required")
        topic = trigger.get("transport", {}).get("pubsub", {}).get("topic")
        if topic and topic not in self.topics:
            raise ApiError(400, f"Topic {topic} does not exist")

    def create(self, request: Request, match: re.Match[str]) -> Json:
        name = self.new_name(request, match, "triggerId")
        trigger = body_of(request)
        self._validate(trigger)
        self._check_agent()
        now = self.server.now()
        transport = trigger.setdefault("transport", {}).setdefault("pubsub", {})
        ident = request.query.get("triggerId", "")
        transport["subscription"] = f"projects/{self.server.project}/subscriptions/eventarc-{ident}-sub-042"
        trigger.update(name=name, uid=str(uuid.uuid4()), createTime=now, updateTime=now, etag=new_etag())
        self.triggers[name] = trigger
        return self.operation(name, TYPE_URL)

    def update(self, request: Request, match: re.Match[str]) -> Json:
        name = match["name"]
        stored, fields = self.patched(request, name)
        if "transport" in fields:
            raise ApiError(400, "The 'transport' field of a trigger cannot be updated")
        self._validate(stored)
        stored.update(updateTime=self.server.now(), etag=new_etag())
        self.triggers[name] = stored
        return self.operation(name, TYPE_URL)
