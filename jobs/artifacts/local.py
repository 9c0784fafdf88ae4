"""The artifact store on a local directory: the embedded default when there is no cloud configuration.

Readers never see a half-written object: every write goes to a temporary file in the destination's
directory, then is renamed (``os.replace``) or, for create-if-absent, hard-linked (``os.link``) into place.
A hard link fails if the name exists, so create-if-absent is atomic across threads and processes alike.

Versions (for compare-and-swap) stand in for GCS's generation: every write stamps its file's mtime with a
fresh nanosecond value, strictly increasing within a process, and the version is the file's inode and that
stamp. Swaps and deletes (conditional or not) hold an exclusive ``flock`` on a lock file in the key's
directory (a reserved name, never listed), so they are atomic against each other and against
create-if-absent across threads and processes. A plain overwrite does not take that lock: racing a swap on
the same key, it may be replaced by it, where GCS would make the swap fail. Keys that are swapped
(receiver locks) are never plainly written.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from jobs.artifacts.store import RESERVED_SEGMENT_PREFIX, Versioned, check_key, check_prefix
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound


@contextlib.contextmanager
def _os_errors(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except ArtifactError:
        raise
    except OSError as exc:
        raise ArtifactError(f"could not {action} {path}: {exc.strerror or exc}") from exc


LOCK_FILE = f"{RESERVED_SEGMENT_PREFIX}lock"
_stamp_lock = threading.Lock()
_last_stamp = 0


def _next_stamp() -> int:
    """A wall-clock nanosecond stamp, strictly greater than the last one this process handed out."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def _version(stat: os.stat_result) -> str:
    return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}"


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Exclusive across threads and processes: each caller opens its own descriptor, and closing it
    releases the lock even if the holder dies."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
        with _os_errors("write", path):
            if not self.root.exists():
                # Ours alone: every run's transcripts and records are here, and a box must not enter.
                self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._staged(path, data) as tmp:
                if not if_absent:
                    os.replace(tmp, path)
                    return
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ArtifactExists(f"{path} already exists") from None

    @contextlib.contextmanager
    def _staged(self, path: Path, data: bytes) -> Iterator[Path]:
        """``data`` in a synced, version-stamped temporary file next to ``path``; removed afterwards."""
        tmp = path.with_name(f"{RESERVED_SEGMENT_PREFIX}{secrets.token_hex(8)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                stamp = _next_stamp()
                os.utime(file.fileno(), ns=(stamp, stamp))
                os.fsync(file.fileno())
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def read_versioned(self, key: str) -> Versioned:
        """The file's bytes and version (read from one open descriptor, so they match)."""
        path = self._path(key)
        with _os_errors("read", path):
            return self._read_versioned(path)

    def _read_versioned(self, path: Path) -> Versioned:
        try:
            with path.open("rb") as file:
                return Versioned(file.read(), _version(os.fstat(file.fileno())))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ArtifactNotFound(f"{path} does not exist") from None

    def replace_if_version(self, key: str, data: bytes, version: str) -> str:
        """Swap in ``data`` if the file is still at ``version``; ArtifactExists if it is not."""
        path = self._path(key)
        with _os_errors("write", path):
            if not path.parent.is_dir():
                raise ArtifactExists(f"{path} is not at version {version}: it does not exist")
            with _directory_lock(path.parent), self._staged(path, data) as tmp:
                try:
                    current = self._read_versioned(path).version
                except ArtifactNotFound:
                    raise ArtifactExists(f"{path} is not at version {version}: it was deleted") from None
                if current != version:
                    raise ArtifactExists(f"{path} changed since version {version}")
                os.replace(tmp, path)
                return _version(path.stat())

    def delete_if_version(self, key: str, version: str) -> bool:
        """Remove the file if it is still at ``version`` (under the directory's lock, as swaps are)."""
        return self._delete(key, version)

    def delete(self, key: str) -> bool:
        """Remove the file; False if there was none (a directory is not an object either)."""
        return self._delete(key, None)

    def _delete(self, key: str, version: str | None) -> bool:
        path = self._path(key)
        with _os_errors("delete", path):
            if not path.parent.is_dir():
                return False
            with _directory_lock(path.parent):
                if version is not None:
                    try:
                        if self._read_versioned(path).version != version:
                            return False
                    except ArtifactNotFound:
                        return False
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
                    if path.exists() and not path.is_dir():
                        raise  # a file we may not remove is an error, not a missing object
                    return False
            return True

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
