"""What the target's install commands leave in a checkout, so that only the agent's work is committed.

Install commands are the target's own code: they create virtualenvs, build output and caches inside
the checkout, and rewrite tracked files (lock files). None of that is the change, even where the
target's ``.gitignore`` forgot it. The tree is read by walking the filesystem, never with git: install
ran untrusted code in it, which may have planted git configuration that runs commands.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

FileState = tuple[int, int]  # size and mtime (ns): enough to tell whether a file changed since


def tree_state(root: Path) -> dict[str, FileState]:
    """Every regular file and symlink under ``root`` (relative, POSIX), not following links, skipping
    ``.git``; FIFOs, sockets and devices are left out."""
    state: dict[str, FileState] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name == ".git":
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
                continue
            info = entry.stat(follow_symlinks=False)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                continue  # a FIFO or socket a server left: nothing git could commit, never to be opened
            state[Path(entry.path).relative_to(root).as_posix()] = (info.st_size, info.st_mtime_ns)
    return state


@dataclass(frozen=True)
class InstallOutput:
    """The files install created, and the files it changed (with their state right after install)."""

    created: frozenset[str] = frozenset()
    modified: dict[str, FileState] = field(default_factory=dict)

    @classmethod
    def between(cls, before: dict[str, FileState], after: dict[str, FileState]) -> InstallOutput:
        created = frozenset(path for path in after if path not in before)
        modified = {path: now for path, now in after.items() if path in before and before[path] != now}
        return cls(created, modified)

    def is_install_output(self, path: str, now: FileState | None) -> bool:
        """Whether ``path`` as it is ``now`` is install's doing rather than the agent's: a file install
        created, or one install changed that nobody changed again after it."""
        return path in self.created or (path in self.modified and self.modified[path] == now)
