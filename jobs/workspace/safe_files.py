"""Reading, writing and deleting files inside a tree the agent or the target wrote, never through a link.

A branch is the agent's: it can commit ``.factory/screenshots`` as a symbolic link to any folder, and
the target's own commands (install, dev servers) can plant links or FIFOs in the folders they write.
Our code must never let such a tree redirect what it writes, deletes or reads, so every helper here
walks ``relative`` one component at a time from a ``root`` of ours, each directory opened with
``O_NOFOLLOW | O_DIRECTORY`` relative to the one before (``dir_fd``, openat-style): a component that
is a link, or is swapped for one while we walk, is refused with UnsafePath, never followed. Final
files must be regular files: a FIFO would block us, a device could be read without end.

``root`` itself is trusted (a folder our code made), and ``relative`` is a POSIX path below it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from jobs.errors import UnsafePath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_PREFIX = ".factory-tmp-"
CHUNK = 1 << 20


def safe_write(root: Path, relative: str, data: bytes) -> None:
    """Write ``data`` to ``root/relative``, creating missing folders; never through a link.

    An existing entry that is not a regular file is refused. The bytes go to a new temporary file that
    is then renamed over the name: a rename replaces the entry itself, so a link (or a hard link to a
    file elsewhere) swapped in at the last moment is replaced, never written through.
    """
    parts = _parts(relative)
    with _open_dir(root, parts[:-1], create=True) as parent:
        name = parts[-1]
        existing = _lstat(name, parent)
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise UnsafePath(_shown(root, parts), _kind(existing.st_mode))
        temp = f"{_TEMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(temp, _NEW_FLAGS, 0o644, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=parent)
            raise


def safe_read(root: Path, relative: str, limit: int, *, tail: bool = False) -> bytes:
    """At most ``limit`` bytes of the regular file ``root/relative`` (its last ones with ``tail``).

    FileNotFoundError when it is not there; UnsafePath when a component is a link or the file is not a
    regular file.
    """
    parts = _parts(relative)
    with _open_dir(root, parts[:-1], create=False) as parent:
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _refusal(exc, root, parts, parent) from None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(fd)  # the file we opened, whatever the name points at by now
            if not stat.S_ISREG(info.st_mode):
                raise UnsafePath(_shown(root, parts), _kind(info.st_mode))
            if tail and info.st_size > limit:
                file.seek(info.st_size - limit)
            chunks, left = [], limit
            while left > 0 and (chunk := file.read(min(left, CHUNK))):
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)


def safe_rmtree(root: Path, relative: str) -> None:
    """Delete the folder ``root/relative`` and everything in it; nothing to do when it is not there.

    A link anywhere on the way, or as the folder itself, is refused. Inside the folder, links are
    removed as entries, never followed (``shutil.rmtree`` works by descriptor on this platform).
    """
    parts = _parts(relative)
    try:
        with _open_dir(root, parts[:-1], create=False) as parent:
            existing = _lstat(parts[-1], parent)
            if existing is None:
                return
            if not stat.S_ISDIR(existing.st_mode):
                raise UnsafePath(_shown(root, parts), _kind(existing.st_mode))
            if not shutil.rmtree.avoids_symlink_attacks:  # pragma: no cover - Linux has the fd functions
                raise UnsafePath(_shown(root, parts), "this platform cannot delete a folder without races")
            shutil.rmtree(parts[-1], dir_fd=parent)
    except FileNotFoundError:
        return  # not there, or gone while we deleted it: nothing is left to delete


@contextlib.contextmanager
def _open_dir(root: Path, parts: list[str], *, create: bool) -> Iterator[int]:
    """A descriptor of ``root/parts...``, each component opened below the last without following links."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for n, part in enumerate(parts):
            try:
                child = _open_child(part, fd, create)
            except OSError as exc:
                raise _refusal(exc, root, parts[: n + 1], fd) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_child(name: str, parent: int, create: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile: the open below judges what it is
        os.mkdir(name, 0o755, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _refusal(exc: OSError, root: Path, parts: list[str], parent: int) -> OSError | UnsafePath:
    """UnsafePath for a link or a non-directory on the way; any other error as it was."""
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENXIO):  # ENXIO: a socket
        return exc
    info = _lstat(parts[-1], parent)
    return UnsafePath(_shown(root, parts), _kind(info.st_mode) if info else "changed while it was opened")


def _lstat(name: str, parent: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "it is a symbolic link (not followed)"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a regular file"
    if stat.S_ISREG(mode):
        return "it is a file, not a folder"
    return "it is not a regular file (a FIFO, socket or device)"


def _parts(relative: str) -> list[str]:
    """The components of ``relative``; a path that is absolute, empty or climbs (``..``) is refused."""
    path = PurePosixPath(relative)
    parts = list(path.parts)
    if path.is_absolute() or not parts or any(p in ("..", ".") for p in parts) or "\0" in relative:
        raise UnsafePath(repr(relative), "not a plain relative path")
    return parts


def _shown(root: Path, parts: list[str]) -> str:
    return str(root.joinpath(*parts))
