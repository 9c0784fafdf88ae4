"""Stateful fakes of the Google Cloud REST APIs ``factory deploy`` uses, on one loopback server.

``FakeGcp`` is the server with every API attached: ``fake.iam``, ``fake.secrets``, ``fake.storage``,
``fake.pubsub``, ``fake.run``, ``fake.workflows``, ``fake.eventarc``, ``fake.scheduler``, ``fake.projects``.
"""

from __future__ import annotations

from tests.fakes.gcp.common import LOCATION, SEG
from tests.fakes.gcp.eventarc import Eventarc
from tests.fakes.gcp.iam import Iam
from tests.fakes.gcp.projects import Projects
from tests.fakes.gcp.pubsub import PubSub
from tests.fakes.gcp.run import CloudRun
from tests.fakes.gcp.scheduler import Scheduler
from tests.fakes.gcp.secrets import SecretManager
from tests.fakes.gcp.server import ApiError, GcpServer, Request
from tests.fakes.gcp.storage import Storage
from tests.fakes.gcp.workflows import Workflows

__all__ = ["ApiError", "FakeGcp", "Request"]


class FakeGcp(GcpServer):
    def __init__(self, project: str = "factory-test") -> None:
        super().__init__(project)
        self.iam = Iam(self)
        self.projects = Projects(self)
        self.storage = Storage(self)
        self.secrets = SecretManager(self)
        self.pubsub = PubSub(self)
        self.run = CloudRun(self, self.secrets)
        self.workflows = Workflows(self)
        self.eventarc = Eventarc(self, self.pubsub.topics)
        self.scheduler = Scheduler(self)
        # Workflows and Eventarc operations share one path shape; names are unique, so one route serves both.
        self.route("GET", rf"/v1/(?P<name>{LOCATION}/operations/{SEG})", "longrunning", write=False)(
            lambda request, match: self.poll(match["name"])
        )
