"""The artifact store on a local directory: the embedded default when there is no cloud configuration.

Readers never see a half-written object: every write goes to a temporary file in the destination's
directory, then is renamed (``os.replace``) or, for create-if-absent, hard-linked (``os.link``) into place.
A hard link fails if the name exists, so create-if-absent is atomic across threads and processes alike.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from jobs.artifacts.store import RESERVED_SEGMENT_PREFIX, check_key, check_prefix
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound


@contextlib.contextmanager
def _os_errors(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except ArtifactError:
        raise
    except OSError as exc:
        raise ArtifactError(f"could not {action} {path}: {exc.strerror or exc}") from exc


class DirectoryStore:
    """An ArtifactStore whose objects are files under ``root`` (created on the first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"))
        # Keys cannot climb out; this also refuses a symlink planted inside the root that points outside.
        if not path.resolve().is_relative_to(self.root):
            raise ArtifactError(f"artifact key {key!r} resolves outside {self.root}")
        return path

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        """Write atomically; with ``if_absent``, raise ArtifactExists if the file is already there."""
        path = self._path(key)
        tmp = path.with_name(f"{RESERVED_SEGMENT_PREFIX}{secrets.token_hex(8)}")
        with _os_errors("write", path):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                if not if_absent:
                    os.replace(tmp, path)
                    return
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ArtifactExists(f"{path} already exists") from None
            finally:
                tmp.unlink(missing_ok=True)

    def read_bytes(self, key: str) -> bytes:
        """The file's bytes; ArtifactNotFound if there is no such file."""
        path = self._path(key)
        with _os_errors("read", path):
            try:
                return path.read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise ArtifactNotFound(f"{path} does not exist") from None

    def exists(self, key: str) -> bool:
        """Whether a file (not a directory) is stored at ``key``."""
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted keys of the files whose key starts with ``prefix``."""
        check_prefix(prefix)
        directory = prefix.rpartition("/")[0]
        base = self.root.joinpath(*directory.split("/")) if directory else self.root
        if not base.resolve().is_relative_to(self.root):
            return []  # a symlink out of the root: nothing in it is ours to list
        keys: builtins.list[str] = []
        for dirpath, _dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix) and _is_listable(key):
                    keys.append(key)
        return sorted(keys)

    def url(self, key: str) -> str:
        """A ``file://`` URI for the key's path."""
        return self._path(key).as_uri()


def _is_listable(key: str) -> bool:
    # Skip in-flight temporary files (their names are reserved) and names no key could produce.
    try:
        check_key(key)
    except ArtifactError:
        return False
    return True
