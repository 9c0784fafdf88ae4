"""How runs start without a person: the Pub/Sub topic the receiver publishes to, the Eventarc trigger that
turns each message into a workflow execution, and the Cloud Scheduler job for the nightly triage."""

from __future__ import annotations

from typing import Any

from google.cloud import eventarc_v1, scheduler_v1
from google.pubsub_v1 import Topic as PubsubTopic

from deploy import specs
from deploy.config import DeployConfig
from deploy.diff import Change
from deploy.names import Names
from deploy.resources.base import Specified, from_json, update_mask
from deploy.target import Clients


class Topic(Specified):
    group = "Pub/Sub topic"
    kind = "Pub/Sub topic"
    api = "pubsub.googleapis.com"
    admin_role = "roles/pubsub.admin"

    def __init__(self, clients: Clients, names: Names) -> None:
        super().__init__(clients, names, names.topic, names.topic_path, specs.topic())

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.publisher.get_topic(topic=self.path))

    def create(self) -> dict[str, Any] | None:
        topic = from_json(PubsubTopic, {**self.desired(), "name": self.path})
        return self._created(lambda: self.clients.publisher.create_topic(request=topic))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        topic = from_json(PubsubTopic, {**self.desired(), "name": self.path})
        mask = update_mask(changes)
        self._updated(lambda: self.clients.publisher.update_topic(topic=topic, update_mask=mask))


class Trigger(Specified):
    group = "Eventarc trigger"
    kind = "Eventarc trigger"
    api = "eventarc.googleapis.com"
    admin_role = "roles/eventarc.admin"

    def __init__(self, clients: Clients, names: Names) -> None:
        super().__init__(clients, names, names.trigger, names.trigger_path, specs.trigger(names))

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.eventarc.get_trigger(name=self.path))

    def create(self) -> dict[str, Any] | None:
        # On a project new to Eventarc, its service agent receives its role as the API is enabled, and
        # until that is in effect a create is refused with 400 "... may take a few minutes": wait it out.
        def attempt() -> Any:
            trigger = from_json(eventarc_v1.Trigger, self.spec)
            operation = self.clients.eventarc.create_trigger(
                parent=self.location, trigger=trigger, trigger_id=self.name
            )
            return self.clients.wait(operation)

        return self._created(lambda: self.clients.until_propagated(self.label, attempt))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        trigger = from_json(eventarc_v1.Trigger, self.spec)
        mask = update_mask(changes)
        self._updated(
            lambda: self.clients.eventarc.update_trigger(
                trigger=trigger, update_mask=mask, allow_missing=False
            )
        )


class NightlyJob(Specified):
    group = "Cloud Scheduler job"
    kind = "Cloud Scheduler job"
    api = "cloudscheduler.googleapis.com"
    admin_role = "roles/cloudscheduler.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names) -> None:
        super().__init__(clients, names, names.nightly, names.nightly_path, specs.nightly(config, names))

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.scheduler.get_job(name=self.path))

    def create(self) -> dict[str, Any] | None:
        job = from_json(scheduler_v1.Job, self.spec)
        return self._created(lambda: self.clients.scheduler.create_job(parent=self.location, job=job))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        job = from_json(scheduler_v1.Job, self.spec)
        mask = update_mask(changes)
        self._updated(lambda: self.clients.scheduler.update_job(job=job, update_mask=mask))
