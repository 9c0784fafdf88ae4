"""How runs start without a person: the Pub/Sub topic the receiver publishes to, the Eventarc trigger that
turns each message into a workflow execution, and the Cloud Scheduler job for the nightly triage."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as core_exceptions
from google.cloud import eventarc_v1, scheduler_v1
from google.pubsub_v1 import Topic as PubsubTopic

from orchestration.deploy import specs
from orchestration.deploy.config import DeployConfig
from orchestration.deploy.diff import Change
from orchestration.deploy.names import Names
from orchestration.deploy.resources.base import Resource, as_json, from_json, update_mask
from orchestration.deploy.target import Clients


class Topic(Resource):
    group = "Pub/Sub topic"
    kind = "Pub/Sub topic"
    api = "pubsub.googleapis.com"
    admin_role = "roles/pubsub.admin"

    def __init__(self, clients: Clients, names: Names) -> None:
        super().__init__(clients, names.topic)
        self.path = names.topic_path

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.publisher.get_topic(topic=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return specs.topic()

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            topic = from_json(PubsubTopic, {**self.desired(), "name": self.path})
            return as_json(self.clients.publisher.create_topic(request=topic))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        topic = from_json(PubsubTopic, {**self.desired(), "name": self.path})
        mask = update_mask(changes)
        with self.calling("update"):
            self.clients.publisher.update_topic(topic=topic, update_mask=mask)


class Trigger(Resource):
    group = "Eventarc trigger"
    kind = "Eventarc trigger"
    api = "eventarc.googleapis.com"
    admin_role = "roles/eventarc.admin"

    def __init__(self, clients: Clients, names: Names) -> None:
        super().__init__(clients, names.trigger)
        self.path = names.trigger_path
        self.location = names.location
        self.spec = specs.trigger(names)

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.eventarc.get_trigger(name=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return self.spec

    def create(self) -> dict[str, Any] | None:
        # On a project new to Eventarc, its service agent receives its role as the API is enabled, and
        # until that is in effect a create is refused with 400 "... may take a few minutes": wait it out.
        def attempt() -> Any:
            trigger = from_json(eventarc_v1.Trigger, self.spec)
            operation = self.clients.eventarc.create_trigger(
                parent=self.location, trigger=trigger, trigger_id=self.name
            )
            return self.clients.wait(operation)

        with self.calling("create"):
            return as_json(self.clients.until_propagated(self.label, attempt))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        mask = update_mask(changes)
        with self.calling("update"):
            trigger = from_json(eventarc_v1.Trigger, self.spec)
            operation = self.clients.eventarc.update_trigger(
                trigger=trigger, update_mask=mask, allow_missing=False
            )
            self.clients.wait(operation)


class NightlyJob(Resource):
    group = "Cloud Scheduler job"
    kind = "Cloud Scheduler job"
    api = "cloudscheduler.googleapis.com"
    admin_role = "roles/cloudscheduler.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names) -> None:
        super().__init__(clients, names.nightly)
        self.path = names.nightly_path
        self.location = names.location
        self.spec = specs.nightly(config, names)

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.scheduler.get_job(name=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return self.spec

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            job = from_json(scheduler_v1.Job, self.spec)
            return as_json(self.clients.scheduler.create_job(parent=self.location, job=job))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        mask = update_mask(changes)
        with self.calling("update"):
            self.clients.scheduler.update_job(job=from_json(scheduler_v1.Job, self.spec), update_mask=mask)
