"""Artifact storage: one ``ArtifactStore`` interface, a directory backend and a GCS backend.

``open_store`` picks the backend from ``ARTIFACTS_PREFIX``: ``gs://bucket/prefix`` for GCS, a ``file://``
URI or a plain path for a local directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from jobs.artifacts.local import DirectoryStore
from jobs.artifacts.store import (
    ArtifactStore,
    Versioned,
    VersionedStore,
    check_key,
    delete_if_owned,
    read_model,
    write_model,
)
from jobs.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    from google.cloud import storage

    from jobs.artifacts.gcs import GcsStore

__all__ = [
    "ArtifactStore",
    "DirectoryStore",
    "GcsStore",
    "Versioned",
    "VersionedStore",
    "check_key",
    "delete_if_owned",
    "open_store",
    "read_model",
    "write_model",
]


def __getattr__(name: str) -> Any:
    # The GCS backend (and the Google client libraries, half a second of CPU) loads on first use: a job
    # whose artifacts are in a directory never pays for it.
    if name == "GcsStore":
        from jobs.artifacts.gcs import GcsStore

        globals()[name] = GcsStore
        return GcsStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def open_store(
    prefix: str,
    *,
    gcs_client: storage.Client | None = None,
    gcs_call_timeout: float | None = None,
    gcs_retry_deadline: float | None = None,
) -> VersionedStore:
    """The store an artifacts prefix names; ConfigError if the prefix is not one we can use.

    A GCS client is only created when a ``gs://`` prefix needs one and none was given; it follows the
    usual environment (application default credentials, or ``STORAGE_EMULATOR_HOST`` for an emulator).
    ``gcs_call_timeout``/``gcs_retry_deadline`` bound each GCS call (see ``GcsStore``).
    """
    if not prefix.strip():
        raise ConfigError("artifacts prefix is empty: use gs://bucket/prefix, file:///path or a directory")
    match = _SCHEME.match(prefix)
    scheme = match.group(1).lower() if match else None
    if scheme is None:
        return DirectoryStore(Path(prefix))
    if scheme == "file":
        parts = urlsplit(prefix)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(
                f"artifacts prefix {prefix!r}: a file URI needs an absolute path (file:///path)"
            )
        return DirectoryStore(Path(unquote(parts.path)))
    if scheme == "gs":
        return _open_gcs(prefix, gcs_client, gcs_call_timeout, gcs_retry_deadline)
    raise ConfigError(
        f"artifacts prefix {prefix!r}: unsupported scheme {scheme!r} (use gs://, file:// or a directory)"
    )


def _open_gcs(
    prefix: str, client: storage.Client | None, call_timeout: float | None, retry_deadline: float | None
) -> GcsStore:
    bucket, _, path = prefix[len("gs://") :].partition("/")
    if not bucket:
        raise ConfigError(f"artifacts prefix {prefix!r} names no bucket (use gs://bucket/prefix)")
    from google.auth import exceptions as auth_exc
    from google.cloud import storage

    from jobs.artifacts.gcs import GcsStore

    try:
        return GcsStore(
            bucket,
            path,
            client if client is not None else storage.Client(),
            call_timeout=call_timeout,
            retry_deadline=retry_deadline,
        )
    except ArtifactError as exc:
        raise ConfigError(f"artifacts prefix {prefix!r}: {exc}") from exc
    except auth_exc.DefaultCredentialsError as exc:
        raise ConfigError(
            f"artifacts prefix {prefix!r}: no Google credentials (run `gcloud auth application-default "
            "login` or set STORAGE_EMULATOR_HOST)"
        ) from exc
