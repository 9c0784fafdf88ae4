"""The artifact store interface, the key rules every backend shares, and JSON model helpers.

A run's facts (results, scores, transcripts, screenshots) live under one prefix; phases never share a disk.
Keys are relative, '/'-separated names such as ``runs/r1/review/result.json``. ``check_key`` is the one
gate every backend passes keys through, so that no key can name something outside the store.

``VersionedStore`` adds compare-and-swap, which a lock needs to be taken over exactly once: read an object
with its version, then replace (or delete) it only if it is still at that version (GCS's
``ifGenerationMatch``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

import pydantic

from jobs.errors import ArtifactError, ArtifactNotFound

# GCS caps object names at 1024 bytes; the same cap keeps local paths well under PATH_MAX.
MAX_KEY_BYTES = 1024
# Names the directory backend gives its in-flight temporary files; reserved in every backend so that a key
# valid in one store is valid in all.
RESERVED_SEGMENT_PREFIX = ".factory-tmp-"

M = TypeVar("M", bound=pydantic.BaseModel)


@runtime_checkable
class ArtifactStore(Protocol):
    """A flat namespace of byte objects under one prefix (a directory or a GCS bucket prefix)."""

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        """Store ``data`` at ``key``, replacing it atomically.

        With ``if_absent`` the write is an atomic create-if-absent: it raises ArtifactExists, and leaves the
        object untouched, when the key already holds one.
        """
        ...

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes; ArtifactNotFound when there is none."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        ...

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted keys that start with ``prefix`` (a plain string prefix, as in GCS)."""
        ...

    def url(self, key: str) -> str:
        """Where a human finds the object: a ``file://`` URI or a ``gs://`` URL."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the object; True if one was removed, False if there was none (not an error)."""
        ...


@dataclass(frozen=True)
class Versioned:
    """An object's bytes and the version they were read at."""

    data: bytes
    version: str
    """Opaque to callers: GCS's generation, or the directory backend's stamp. Only the store compares it."""


@runtime_checkable
class VersionedStore(ArtifactStore, Protocol):
    """An ArtifactStore with compare-and-swap, the same semantics in every backend.

    Every write gives the object a new version, even when the bytes are the same, and a deleted then
    re-created object has a new version too: a swap succeeds only against exactly the object it read.
    """

    def read_versioned(self, key: str) -> Versioned:
        """The object's bytes and version; ArtifactNotFound when there is none."""
        ...

    def replace_if_version(self, key: str, data: bytes, version: str) -> str:
        """Replace the object only if it is still at ``version``; return the new version.

        Raises ArtifactExists, leaving the object untouched, when it changed or was deleted since that
        version was read (another writer won the race).
        """
        ...

    def delete_if_version(self, key: str, version: str) -> bool:
        """Delete the object only if it is still at ``version``; True if it was deleted.

        False, leaving whatever is there untouched, when it changed or was already deleted since that
        version was read: compare-and-delete, so that a lock is only removed by whoever still owns it.
        """
        ...


def delete_if_owned(store: VersionedStore, key: str, owned: Callable[[bytes], bool]) -> bool:
    """Delete ``key`` only if ``owned`` says its content is still the caller's (a lock, a claim), at the
    version that was read: compare-and-delete. True if it did; False when it is gone, someone else's, or
    changed since it was read."""
    try:
        current = store.read_versioned(key)
    except ArtifactNotFound:
        return False
    if not owned(current.data):
        return False
    return store.delete_if_version(key, current.version)


def _bad_char(text: str) -> str | None:
    for char in text:
        if char == "\\":
            return "a backslash"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"control character {ord(char):#04x}"
    return None


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key; raise ArtifactError saying why not."""
    if not key:
        raise ArtifactError("artifact key is empty")
    if (bad := _bad_char(key)) is not None:
        raise ArtifactError(f"artifact key {key!r} contains {bad}")
    if key.startswith("/"):
        raise ArtifactError(f"artifact key {key!r} is absolute; keys are relative to the store")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ArtifactError(f"artifact key {key[:40]!r}... is longer than {MAX_KEY_BYTES} bytes")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ArtifactError(f"artifact key {key!r} has an empty, '.' or '..' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise ArtifactError(
                f"artifact key {key!r} uses the reserved name prefix {RESERVED_SEGMENT_PREFIX!r}"
            )
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if some valid key could start with it (``""`` and ``"runs/"`` both can)."""
    if not prefix:
        return prefix
    if (bad := _bad_char(prefix)) is not None:
        raise ArtifactError(f"artifact prefix {prefix!r} contains {bad}")
    complete = prefix.rpartition("/")[0]
    # The last segment may be partial ("runs/r" matches "runs/r1/..."); only the complete ones are judged.
    if prefix.startswith("/") or complete:
        check_key(complete or prefix)
    return prefix


def write_model(
    store: ArtifactStore, key: str, model: pydantic.BaseModel, *, if_absent: bool = False
) -> None:
    """Store a pydantic model as pretty, newline-terminated JSON."""
    store.write_bytes(key, (model.model_dump_json(indent=2) + "\n").encode(), if_absent=if_absent)


def read_model(store: ArtifactStore, key: str, cls: type[M]) -> M:
    """Read and validate a model written by ``write_model``; ArtifactError names the key if it is invalid."""
    data = store.read_bytes(key)
    try:
        return cls.model_validate_json(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:3]
        )
        raise ArtifactError(
            f"{store.url(key)} is not a valid {cls.__name__} ({exc.error_count()} errors: {problems})"
        ) from exc
