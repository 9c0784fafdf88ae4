"""IAM bindings, one policy per resource that carries grants (see roles.py for who gets what and why).

Bindings are only ever added: members someone else granted stay. Each write is a read-modify-write with
the policy's etag, so a concurrent change makes the API refuse ours (409 ABORTED; 412 on Cloud Storage)
rather than overwrite it; we then read again and retry. A service account created moments earlier can
be briefly unknown to IAM (400 "does not exist"); that is waited out like any IAM propagation
(propagation.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from google.api_core import exceptions as core_exceptions
from google.api_core.iam import Policy
from google.cloud.storage.bucket import Bucket as StorageBucket
from google.iam.v1 import iam_policy_pb2, options_pb2, policy_pb2
from google.protobuf import json_format

from deploy.config import DeployConfig
from deploy.diff import Change
from deploy.names import Names
from deploy.resources.base import Resource
from deploy.roles import Grant, grants
from deploy.target import Clients

ORDER = ("project", "bucket", "secret", "topic", "job", "service")
CONFLICT_ATTEMPTS = 4


class PolicyStore(Protocol):
    """Reads and writes one resource's IAM policy as REST JSON (``bindings``, ``etag``, ``version``)."""

    def get(self) -> dict[str, Any] | None:
        """The policy, or None when the resource itself does not exist (yet)."""
        ...

    def put(self, policy: dict[str, Any]) -> None:
        """Write the policy; the etag inside makes it conditional."""
        ...


class LibraryPolicy:
    """``get_iam_policy``/``set_iam_policy`` of a google-cloud client (Run, Secret Manager, Pub/Sub,
    Resource Manager all share the IAM mixin's request types)."""

    def __init__(self, client: Callable[[], Any], resource: str) -> None:
        self._client = client
        self.resource = resource

    def get(self) -> dict[str, Any] | None:
        options = options_pb2.GetPolicyOptions(requested_policy_version=3)
        request = iam_policy_pb2.GetIamPolicyRequest(resource=self.resource, options=options)
        try:
            policy = self._client().get_iam_policy(request=request)
        except core_exceptions.NotFound:
            return None
        found: dict[str, Any] = json_format.MessageToDict(policy)
        return found

    def put(self, policy: dict[str, Any]) -> None:
        message = json_format.ParseDict(policy, policy_pb2.Policy())
        self._client().set_iam_policy(
            request=iam_policy_pb2.SetIamPolicyRequest(resource=self.resource, policy=message)
        )


class BucketPolicy:
    """A Cloud Storage bucket's policy through google-cloud-storage (JSON API ``b/{bucket}/iam``)."""

    def __init__(self, bucket: Callable[[], StorageBucket]) -> None:
        self._bucket = bucket

    def get(self) -> dict[str, Any] | None:
        try:
            policy = self._bucket().get_iam_policy(requested_policy_version=3)
        except core_exceptions.NotFound:
            return None
        found: dict[str, Any] = policy.to_api_repr()
        return found

    def put(self, policy: dict[str, Any]) -> None:
        self._bucket().set_iam_policy(Policy.from_api_repr(policy))  # type: ignore[no-untyped-call]


def _unconditional(policy: dict[str, Any] | None) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for binding in (policy or {}).get("bindings", []):
        if not binding.get("condition"):
            held.setdefault(binding["role"], []).extend(binding.get("members", []))
    return held


def _add(policy: dict[str, Any], role: str, member: str) -> None:
    bindings: list[dict[str, Any]] = policy.setdefault("bindings", [])
    for binding in bindings:
        if binding["role"] == role and not binding.get("condition"):
            if member not in binding.setdefault("members", []):
                binding["members"].append(member)
            return
    bindings.append({"role": role, "members": [member]})


class IamPolicy(Resource):
    group = "IAM bindings"
    kind = "IAM policy of"

    def __init__(
        self, clients: Clients, what: str, store: PolicyStore, needed: list[Grant], api: str, admin: str
    ):
        super().__init__(clients, what)
        self.store = store
        self.needed = needed
        self.api = api
        self.admin_role = admin

    def read(self) -> dict[str, Any] | None:
        # A resource that does not exist yet has an empty policy: its bindings are all to add. Its policy
        # is not even asked for (some APIs answer 403 rather than 404 for a missing resource's policy).
        if any(owner.exists is False for owner in self.depends_on):
            return {"bindings": {}}
        with self.calling("read IAM policy"):
            return {"bindings": _unconditional(self.store.get())}

    def desired(self) -> dict[str, Any]:
        wanted: dict[str, list[str]] = {}
        for grant in self.needed:
            wanted.setdefault(grant.role, []).append(grant.member)
        return {"bindings": wanted}

    def changes(self, current: dict[str, Any]) -> list[Change]:
        held = current.get("bindings", {})
        return [
            Change(g.role, None, g.member, added=True)
            for g in self.needed
            if g.member not in held.get(g.role, [])
        ]

    def create(self) -> dict[str, Any] | None:
        raise AssertionError("an IAM policy is never created, only added to")

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        with self.calling("set IAM policy"):
            self.clients.until_propagated(self.label, self._write_through_conflicts)

    def _write_through_conflicts(self) -> None:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self._write()
                return
            except (core_exceptions.Aborted, core_exceptions.Conflict, core_exceptions.PreconditionFailed):
                if attempt == CONFLICT_ATTEMPTS:
                    raise

    def _write(self) -> None:
        policy = self.store.get()
        if policy is None:
            raise core_exceptions.NotFound(f"{self.name} does not exist, so its policy cannot be set")  # type: ignore[no-untyped-call]
        for grant in self.needed:
            _add(policy, grant.role, grant.member)
        self.store.put(policy)


def policies(
    clients: Clients, config: DeployConfig, names: Names, owners: dict[tuple[str, str], Resource]
) -> tuple[list[IamPolicy], list[IamPolicy]]:
    """One IamPolicy per resource that carries grants, split in two: those on what exists before the
    Cloud Run resources (project, bucket, secrets, topic), and those on the Cloud Run jobs and service,
    which must come after them. ``owners`` maps ``(on, target)`` to the resource a policy belongs to:
    a policy depends on it (not read while it does not exist; waits while it waits)."""
    first: list[IamPolicy] = []
    after: list[IamPolicy] = []
    # One policy per resource, however its grants are ordered among the others.
    grouped: dict[tuple[str, str], list[Grant]] = {}
    for grant in sorted(grants(config, names), key=lambda g: ORDER.index(g.on)):
        grouped.setdefault((grant.on, grant.target), []).append(grant)
    for (on, target), group in grouped.items():
        policy = _policy(clients, names, on, target, group)
        owner = owners.get((on, target))
        policy.depends_on = [owner] if owner else []
        (after if on in ("job", "service") else first).append(policy)
    return first, after


def _policy(clients: Clients, names: Names, on: str, target: str, needed: list[Grant]) -> IamPolicy:
    if on == "project":
        store: PolicyStore = LibraryPolicy(lambda: clients.projects, f"projects/{target}")
        return IamPolicy(
            clients,
            f"project {target}",
            store,
            needed,
            "cloudresourcemanager.googleapis.com",
            "roles/resourcemanager.projectIamAdmin",
        )
    if on == "bucket":
        store = BucketPolicy(lambda: clients.storage.bucket(target))
        return IamPolicy(
            clients, f"bucket gs://{target}", store, needed, "storage.googleapis.com", "roles/storage.admin"
        )
    if on == "secret":
        store = LibraryPolicy(lambda: clients.secrets, names.secret_path(target))
        return IamPolicy(
            clients,
            f"secret {target}",
            store,
            needed,
            "secretmanager.googleapis.com",
            "roles/secretmanager.admin",
        )
    if on == "topic":
        store = LibraryPolicy(lambda: clients.publisher, names.topic_path)
        return IamPolicy(
            clients, f"Pub/Sub topic {target}", store, needed, "pubsub.googleapis.com", "roles/pubsub.admin"
        )
    if on == "job":
        store = LibraryPolicy(lambda: clients.jobs, f"{names.location}/jobs/{target}")
        return IamPolicy(
            clients, f"Cloud Run job {target}", store, needed, "run.googleapis.com", "roles/run.admin"
        )
    store = LibraryPolicy(lambda: clients.services, names.receiver_path)
    return IamPolicy(
        clients, f"Cloud Run service {target}", store, needed, "run.googleapis.com", "roles/run.admin"
    )
