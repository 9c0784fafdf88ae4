"""Path patterns, small helpers and the located-collection CRUD shared by the per-API fakes."""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import ClassVar, TypeVar

from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, already_exists, not_found

T = TypeVar("T")
SEG = r"[^/:]+"
PROJECT = rf"projects/(?P<project>{SEG})"
LOCATION = rf"{PROJECT}/locations/(?P<location>{SEG})"


def body_of(request: Request) -> Json:
    if not isinstance(request.body, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    return copy.deepcopy(request.body)


def mask(request: Request, body: Json | None = None) -> list[str]:
    """An update mask from the query (``updateMask=a,b``) or the body, as camelCase field names."""
    raw = request.query.get("updateMask") or (body or {}).get("updateMask") or ""
    return [_camel(p.strip()) for p in raw.split(",") if p.strip()]


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(word.title() for word in rest)


def apply_mask(stored: Json, incoming: Json, fields: list[str]) -> None:
    for name in fields:
        if name in incoming:
            stored[name] = copy.deepcopy(incoming[name])
        else:
            stored.pop(name, None)


def check_project(server: GcpServer, project: str) -> None:
    if project != server.project:
        raise ApiError(403, f"Permission denied on resource project {project}.")


def new_etag() -> str:
    return uuid.uuid4().hex[:16]


def snapshot(value: T) -> T:
    """A deep copy through JSON, as a response body would be."""
    copied: T = json.loads(json.dumps(value))
    return copied


class Located:
    """A v1 collection under a location, ``/v1/projects/P/locations/L/{plural}/ID``, kept in ``stored`` as
    the API returns it: POST on the collection is the subclass's ``create``, GET reads, PATCH is the
    subclass's ``update``. What those share, the API rules of a create's name and of an update's
    fields, is here; what each API adds to a resource is the subclass's."""

    api: ClassVar[str]
    plural: ClassVar[str]

    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.stored: dict[str, Json] = {}
        name = rf"/v1/(?P<name>{LOCATION}/{self.plural}/{SEG})"
        server.route("POST", rf"/v1/(?P<parent>{LOCATION})/{self.plural}", self.api, write=True)(self.create)
        server.route("GET", name, self.api, write=False)(lambda r, m: self.get(m["name"]))
        server.route("PATCH", name, self.api, write=True)(self.update)

    def get(self, name: str) -> Json:
        if name not in self.stored:
            raise not_found(name)
        return snapshot(self.stored[name])

    def create(self, request: Request, match: re.Match[str]) -> Json:
        raise NotImplementedError

    def update(self, request: Request, match: re.Match[str]) -> Json:
        raise NotImplementedError

    def new_name(self, request: Request, match: re.Match[str], id_param: str) -> str:
        """The name a create asks for with ``?{id_param}=ID``: in this project, and not taken (409)."""
        check_project(self.server, match["project"])
        name = f"{match['parent']}/{self.plural}/{request.query.get(id_param, '')}"
        if name in self.stored:
            raise already_exists(name)
        return name

    def patched(self, request: Request, name: str) -> tuple[Json, list[str]]:
        """The stored resource with an update applied, and the fields it sets: those ``updateMask``
        names, or without one every field in the body but ``name``."""
        stored = self.get(name)
        incoming = body_of(request)
        fields = mask(request) or [k for k in incoming if k != "name"]
        apply_mask(stored, incoming, fields)
        return stored, fields

    def operation(self, name: str, type_url: str) -> Json:
        """A pending LRO whose response is the resource ``name`` as it then is."""
        location = name.rsplit(f"/{self.plural}/", 1)[0]
        return self.server.operation(location, type_url, lambda: self.get(name))
