"""Where the deploy talks to: credentials and one endpoint per Google API, injected, never read from env.

``GcpTarget.google()`` is the real thing (``google.auth.default`` credentials, Google's endpoints);
``GcpTarget.at(url)`` points every API at one base URL with anonymous credentials (the tests' fakes).
``Clients`` builds the google-cloud client libraries on REST (``transport="rest"``), except IAM admin,
whose library has no REST transport: service accounts go through the IAM v1 REST API on an authorized
session instead. ``Propagation`` says how long to wait out IAM grants that are not in effect yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import google.auth
from google.api_core import exceptions as core_exceptions
from google.api_core.future import polling
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession

from deploy.propagation import Propagation, propagating

if TYPE_CHECKING:  # the client libraries load when first used: `factory --help` stays quick
    from google.cloud import (
        eventarc_v1,
        resourcemanager_v3,
        run_v2,
        scheduler_v1,
        secretmanager_v1,
        workflows_v1,
    )
    from google.cloud.storage import Client as StorageClient
    from google.pubsub_v1.services.publisher import PublisherClient

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
R = TypeVar("R")


@dataclass(frozen=True)
class Endpoints:
    """One endpoint per API: a host (https implied) or a full base URL."""

    run: str = "run.googleapis.com"
    workflows: str = "workflows.googleapis.com"
    secretmanager: str = "secretmanager.googleapis.com"
    pubsub: str = "pubsub.googleapis.com"
    eventarc: str = "eventarc.googleapis.com"
    scheduler: str = "cloudscheduler.googleapis.com"
    resourcemanager: str = "cloudresourcemanager.googleapis.com"
    iam: str = "iam.googleapis.com"
    storage: str = "storage.googleapis.com"

    @classmethod
    def all_at(cls, url: str) -> Endpoints:
        return cls(**{f.name: url for f in fields(cls)})

    @staticmethod
    def url(endpoint: str) -> str:
        return endpoint.rstrip("/") if "://" in endpoint else f"https://{endpoint.rstrip('/')}"


@dataclass(frozen=True)
class GcpTarget:
    """Credentials, endpoints, how to wait for long-running operations, and for IAM to propagate."""

    credentials: Credentials
    endpoints: Endpoints = field(default_factory=Endpoints)
    poll_seconds: float = 1.0
    operation_timeout: float = 900.0
    request_timeout: float = 60.0
    propagation: Propagation = field(default_factory=Propagation)

    @classmethod
    def google(cls) -> GcpTarget:
        """Application default credentials (``gcloud auth application-default login``) on Google's APIs."""
        credentials, _ = google.auth.default(scopes=SCOPES)
        return cls(credentials)

    @classmethod
    def at(cls, url: str, poll_seconds: float = 0.01, propagation: Propagation | None = None) -> GcpTarget:
        """Every API at ``url`` with anonymous credentials: a local fake, whose grants take effect at once
        unless told otherwise (so the default propagation wait is short)."""
        wait = propagation or Propagation(first=poll_seconds, maximum=poll_seconds * 4, budget=1.0)
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return cls(credentials, Endpoints.all_at(url), poll_seconds=poll_seconds, propagation=wait)


class IamAdmin:
    """Service accounts through the IAM v1 REST API (projects.serviceAccounts get, create, patch)."""

    def __init__(self, endpoint: str, credentials: Credentials, timeout: float) -> None:
        self._base = Endpoints.url(endpoint)
        self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self._timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._session.request(  # type: ignore[no-untyped-call]
            method,
            f"{self._base}/v1/{path}",
            data=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"},
            timeout=self._timeout,
        )
        if response.status_code >= 400:
            raise core_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        payload: dict[str, Any] = response.json()
        return payload

    def get(self, project: str, email: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"projects/{project}/serviceAccounts/{email}")
        except core_exceptions.NotFound:
            return None

    def create(self, project: str, account_id: str, account: dict[str, Any]) -> dict[str, Any]:
        body = {"accountId": account_id, "serviceAccount": account}
        return self._call("POST", f"projects/{project}/serviceAccounts", body)

    def patch(self, project: str, email: str, account: dict[str, Any], mask: list[str]) -> dict[str, Any]:
        body = {"serviceAccount": account, "updateMask": ",".join(mask)}
        return self._call("PATCH", f"projects/{project}/serviceAccounts/{email}", body)


class Clients:
    """The client libraries on one target, built when first used."""

    def __init__(self, target: GcpTarget, project: str, say: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.project = project
        self.say: Callable[[str], None] = say or (lambda _line: None)

    def _options(self, endpoint: str) -> dict[str, Any]:
        return {
            "credentials": self.target.credentials,
            "transport": "rest",
            "client_options": {"api_endpoint": Endpoints.url(endpoint)},
        }

    @cached_property
    def jobs(self) -> run_v2.JobsClient:
        from google.cloud import run_v2

        return run_v2.JobsClient(**self._options(self.target.endpoints.run))

    @cached_property
    def services(self) -> run_v2.ServicesClient:
        from google.cloud import run_v2

        return run_v2.ServicesClient(**self._options(self.target.endpoints.run))

    @cached_property
    def workflows(self) -> workflows_v1.WorkflowsClient:
        from google.cloud import workflows_v1

        return workflows_v1.WorkflowsClient(**self._options(self.target.endpoints.workflows))

    @cached_property
    def secrets(self) -> secretmanager_v1.SecretManagerServiceClient:
        from google.cloud import secretmanager_v1

        return secretmanager_v1.SecretManagerServiceClient(
            **self._options(self.target.endpoints.secretmanager)
        )

    @cached_property
    def publisher(self) -> PublisherClient:
        from google.pubsub_v1.services.publisher import PublisherClient

        return PublisherClient(**self._options(self.target.endpoints.pubsub))

    @cached_property
    def eventarc(self) -> eventarc_v1.EventarcClient:
        from google.cloud import eventarc_v1

        return eventarc_v1.EventarcClient(**self._options(self.target.endpoints.eventarc))

    @cached_property
    def scheduler(self) -> scheduler_v1.CloudSchedulerClient:
        from google.cloud import scheduler_v1

        return scheduler_v1.CloudSchedulerClient(**self._options(self.target.endpoints.scheduler))

    @cached_property
    def projects(self) -> resourcemanager_v3.ProjectsClient:
        from google.cloud import resourcemanager_v3

        return resourcemanager_v3.ProjectsClient(**self._options(self.target.endpoints.resourcemanager))

    @cached_property
    def storage(self) -> StorageClient:
        from google.cloud.storage import Client as StorageClient

        return StorageClient(
            project=self.project,
            credentials=self.target.credentials,
            client_options={"api_endpoint": Endpoints.url(self.target.endpoints.storage)},
        )

    @cached_property
    def project_number(self) -> str | None:
        """The project's number (it names default service accounts and Cloud Run URLs); None when the
        deploying account may not read the project."""
        try:
            found = self.projects.get_project(name=f"projects/{self.project}")
        except core_exceptions.GoogleAPICallError:
            return None
        return str(found.name).removeprefix("projects/") or None

    @cached_property
    def iam(self) -> IamAdmin:
        return IamAdmin(self.target.endpoints.iam, self.target.credentials, self.target.request_timeout)

    def until_propagated(
        self, label: str, attempt: Callable[[], R], retry_if: Callable[[BaseException], bool] = propagating
    ) -> R:
        """``attempt()`` on the resource ``label``, tried again (bounded) while it fails only because IAM
        grants are propagating."""
        return self.target.propagation.call(attempt, retry_if=retry_if, say=self.say, label=label)

    def wait(self, operation: Any) -> Any:
        """Block on a long-running operation, polling from ``poll_seconds`` up, as the library does."""
        first = self.target.poll_seconds
        backoff = polling.DEFAULT_POLLING.with_delay(initial=first, maximum=max(first, 10.0), multiplier=1.5)
        return operation.result(timeout=self.target.operation_timeout, polling=backoff)
