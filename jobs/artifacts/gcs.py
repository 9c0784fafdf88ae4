"""The artifact store on Google Cloud Storage: the production backend (``gs://bucket/prefix``).

Create-if-absent is GCS's own atomic precondition ``ifGenerationMatch=0``; compare-and-swap is the same
precondition with the generation that was read, and so is compare-and-delete. Errors from the client
library become the Factory hierarchy here and nowhere else, each marked retryable only when trying again
can help.

By default every call has the library's own timeout (60 s) and retry deadline (120 s). A caller with a
budget of its own (the webhook receiver must answer Linear within 5 s) passes ``call_timeout`` and
``retry_deadline``: the same retry policy (conditional writes retried only when they carry a
precondition, as the library does), bounded.
"""

from __future__ import annotations

import builtins
import contextlib
import mimetypes
from collections.abc import Iterator

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import storage
from google.cloud.storage import retry as storage_retry

from jobs.artifacts.store import Versioned, check_key, check_prefix
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound


@contextlib.contextmanager
def _gcs_errors(action: str, where: str) -> Iterator[None]:
    try:
        yield
    except gexc.PreconditionFailed:
        if action == "swap":
            raise ArtifactExists(f"{where} changed or was deleted since it was read") from None
        raise ArtifactExists(f"{where} already exists") from None
    except gexc.NotFound as exc:
        if action == "read":
            raise ArtifactNotFound(f"{where} does not exist") from None
        # Writing or listing only finds nothing when the bucket itself is missing.
        raise ArtifactError(f"could not {action} {where}: {exc.message}") from exc
    except gexc.GoogleAPICallError as exc:
        code = exc.code or 0
        retryable = code == 429 or code >= 500
        raise ArtifactError(f"could not {action} {where}: {exc}", retryable=retryable) from exc
    except gexc.RetryError as exc:
        # The library's own retries ran out on a transient failure (5xx, 429, a dropped connection).
        raise ArtifactError(f"could not {action} {where}: {exc}", retryable=True) from exc
    except gexc.GoogleAPIError as exc:
        raise ArtifactError(f"could not {action} {where}: {exc}") from exc
    except auth_exc.GoogleAuthError as exc:
        raise ArtifactError(f"could not {action} {where}: {exc}", retryable=exc.retryable) from exc
    except OSError as exc:
        # requests' connection errors are OSErrors: the network, not the request, failed.
        raise ArtifactError(f"could not {action} {where}: {exc}", retryable=True) from exc


class GcsStore:
    """An ArtifactStore whose objects are ``{prefix}/{key}`` in one bucket, through an injected client."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: storage.Client,
        *,
        call_timeout: float | None = None,
        retry_deadline: float | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ArtifactError(f"invalid GCS bucket name {bucket!r}")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self._client = client
        self._bucket = client.bucket(bucket)
        retry = storage_retry.DEFAULT_RETRY
        if retry_deadline is not None:
            retry = retry.with_timeout(retry_deadline)
        # Keyword arguments for every call: the library's defaults unless a bound was asked for.
        self._calls: dict[str, object] = {} if call_timeout is None else {"timeout": call_timeout}
        self._writes: dict[str, object] = dict(self._calls)
        if retry_deadline is not None:
            self._calls["retry"] = retry
            self._writes["retry"] = storage_retry.ConditionalRetryPolicy(
                retry, storage_retry.is_generation_specified, ["query_params"]
            )

    def __repr__(self) -> str:
        return f"GcsStore({self.bucket_name!r}, {self.prefix!r})"

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        """Upload ``data``; with ``if_absent``, raise ArtifactExists if the object is already there."""
        blob = self._bucket.blob(self._name(check_key(key)))
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        with _gcs_errors("write", self.url(key)):
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=0 if if_absent else None,
                **self._writes,
            )

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes; ArtifactNotFound if there is no such object."""
        blob = self._bucket.blob(self._name(check_key(key)))
        with _gcs_errors("read", self.url(key)):
            data: bytes = blob.download_as_bytes(**self._calls)
        return data

    def read_versioned(self, key: str) -> Versioned:
        """The object's bytes and generation (from the same download response)."""
        blob = self._bucket.blob(self._name(check_key(key)))
        with _gcs_errors("read", self.url(key)):
            data: bytes = blob.download_as_bytes(**self._calls)
        if blob.generation is None:
            raise ArtifactError(f"{self.url(key)}: the download did not say which generation it read")
        return Versioned(data, str(blob.generation))

    def replace_if_version(self, key: str, data: bytes, version: str) -> str:
        """Upload with ``ifGenerationMatch=version``; ArtifactExists (HTTP 412) if it moved on."""
        if not version.isdigit():
            raise ArtifactError(f"{self.url(key)}: version {version!r} is not a GCS generation")
        blob = self._bucket.blob(self._name(check_key(key)))
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        with _gcs_errors("swap", self.url(key)):
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=int(version),
                **self._writes,
            )
        return str(blob.generation)

    def delete(self, key: str) -> bool:
        """Delete the object; False if there was none (GCS answers a missing bucket with the same 404)."""
        blob = self._bucket.blob(self._name(check_key(key)))
        with _gcs_errors("delete", self.url(key)):
            try:
                blob.delete(**self._calls)
            except gexc.NotFound:
                return False
        return True

    def delete_if_version(self, key: str, version: str) -> bool:
        """Delete with ``ifGenerationMatch=version``; False on 412 (it moved on) or 404 (it is gone)."""
        if not version.isdigit():
            raise ArtifactError(f"{self.url(key)}: version {version!r} is not a GCS generation")
        blob = self._bucket.blob(self._name(check_key(key)))
        with _gcs_errors("delete", self.url(key)):
            try:
                blob.delete(if_generation_match=int(version), **self._calls)
            except (gexc.NotFound, gexc.PreconditionFailed):
                return False
        return True

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        blob = self._bucket.blob(self._name(check_key(key)))
        with _gcs_errors("stat", self.url(key)):
            return bool(blob.exists(**self._calls))

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted keys of the objects whose key starts with ``prefix``."""
        check_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        keys: builtins.list[str] = []
        with _gcs_errors("list", f"gs://{self.bucket_name}/{base}{prefix}"):
            for blob in self._client.list_blobs(self.bucket_name, prefix=base + prefix):
                key = str(blob.name)[len(base) :]
                # Skip "folder/" placeholders and other names no key could produce.
                with contextlib.suppress(ArtifactError):
                    keys.append(check_key(key))
        return sorted(keys)

    def url(self, key: str) -> str:
        """The object's ``gs://bucket/name`` URL."""
        return f"gs://{self.bucket_name}/{self._name(check_key(key))}"
