"""What every managed resource offers the planner and the applier.

A resource reads its current state (REST JSON, or None when it does not exist), states the fields it wants,
and knows how to create itself and how to update itself from a list of changes. Its ``api`` and
``admin_role`` turn a failed call into a message that says what to enable or grant. ``_read``, ``_created``
and ``_updated`` hold what every resource does around its own client call (not found, the long-running
operation, the JSON), so that a resource states only the call.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import proto  # type: ignore[import-untyped]
from google.api_core import exceptions as core_exceptions
from google.api_core import operation
from google.protobuf import field_mask_pb2

from deploy.diff import Change, diff
from deploy.errors import explained
from deploy.names import Names
from deploy.target import Clients

T = TypeVar("T")


def as_json(message: proto.Message) -> dict[str, Any]:
    """A client library message as the REST API's JSON: camelCase, enum names, zero values omitted."""
    text = type(message).to_json(
        message, use_integers_for_enums=False, always_print_fields_with_no_presence=False
    )
    value: dict[str, Any] = json.loads(text)
    return value


def from_json(kind: type[proto.Message], data: dict[str, Any]) -> Any:
    """REST JSON into a client library message (the inverse of ``as_json``)."""
    return kind.from_json(json.dumps(data))


class Resource(ABC):
    """One thing on GCP that ``factory deploy`` owns."""

    group: str
    kind: str
    api: str
    admin_role: str
    exact: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, clients: Clients, name: str) -> None:
        self.clients = clients
        self.name = name
        # Secrets that must hold a value before this can be written (Cloud Run refuses a revision whose
        # secret reference cannot be resolved), and resources that must exist first.
        self.needs_values: list[Secret] = []
        self.depends_on: list[Resource] = []
        self.exists: bool | None = None  # as last read by the planner

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @contextmanager
    def calling(self, doing: str) -> Iterator[None]:
        with explained(self.label, doing, self.api, self.admin_role, self.clients.project):
            yield

    # The calls are passed as thunks so that building the client happens inside ``calling`` too.

    def _find(self, get: Callable[[], T]) -> T | None:
        """``get()``, or None when the API says the resource does not exist."""
        with self.calling("read"):
            try:
                return get()
            except core_exceptions.NotFound:
                return None

    def _read(self, get: Callable[[], proto.Message]) -> dict[str, Any] | None:
        """``get()``'s message as REST JSON, or None when the resource does not exist."""
        found = self._find(get)
        return None if found is None else as_json(found)

    def _created(self, create: Callable[[], Any]) -> dict[str, Any]:
        """``create()``, waiting for its long-running operation if it starts one; the result as REST JSON."""
        with self.calling("create"):
            return as_json(self._settled(create()))

    def _updated(self, update: Callable[[], Any]) -> None:
        """``update()``, waiting for its long-running operation if it starts one."""
        with self.calling("update"):
            self._settled(update())

    def _settled(self, result: Any) -> Any:
        return self.clients.wait(result) if isinstance(result, operation.Operation) else result

    @abstractmethod
    def read(self) -> dict[str, Any] | None:
        """The current state as REST JSON, or None when the resource does not exist."""

    @abstractmethod
    def desired(self) -> dict[str, Any]:
        """The fields we set, as REST JSON."""

    def changes(self, current: dict[str, Any]) -> list[Change]:
        return diff(self.desired(), current, exact=self.exact)

    @abstractmethod
    def create(self) -> dict[str, Any] | None:
        """Create it as desired (waiting for the operation, if any); the new state when the API says it."""

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        """Bring the fields in ``changes`` to the desired state."""
        raise NotImplementedError(f"{self.label} is never updated in place")

    def notes(self, current: dict[str, Any] | None) -> list[str]:
        """Lines the plan should show with this resource whatever its action (a missing secret value)."""
        return []


class Specified(Resource):
    """A resource whose desired state is a spec built once from the config (specs.py), at ``path`` (its
    full resource name) under the deploy's location."""

    def __init__(self, clients: Clients, names: Names, name: str, path: str, spec: dict[str, Any]) -> None:
        super().__init__(clients, name)
        self.path = path
        self.location = names.location
        self.spec = spec

    def desired(self) -> dict[str, Any]:
        return self.spec


class Secret(Resource):
    """The part of a secret other resources depend on: whether it holds a value (set by ``read``)."""

    has_value = False


def top_level(changes: list[Change]) -> list[str]:
    """The update mask for ``changes``: their top-level fields, in first-seen order."""
    seen: dict[str, None] = {}
    for change in changes:
        seen.setdefault(change.path.split(".")[0].split("[")[0], None)
    return list(seen)


def update_mask(changes: list[Change]) -> field_mask_pb2.FieldMask:
    """The same, as the proto field names an update mask holds (``userEnvVars`` → ``user_env_vars``)."""
    snake = ["".join(f"_{c.lower()}" if c.isupper() else c for c in name) for name in top_level(changes)]
    return field_mask_pb2.FieldMask(paths=snake)
