"""``factory prune``: old runs' working copies (and, when asked, their records) off the disk.

A run's work directory (``<artifacts>/work/<run_id>``: clones, installed dependencies, server logs) is
removed when the run ends unless ``--keep-work``; what was kept, or left by a run that was killed, stays
until pruned. ``runs/<run_id>/`` holds what the run decided (results, transcripts, reports,
screenshots) and goes only with ``--runs``. A directory's age is that of its newest file, so a run that
is still writing is never old.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jobs.errors import ConfigError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
AGE = re.compile(r"^(\d+)([smhdw])$")


@dataclass(frozen=True)
class Pruned:
    """One directory removed (or, in a dry run, that would be)."""

    path: Path
    size: int  # bytes
    age: float  # seconds since its newest file changed


def parse_age(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``2w``, ``90s`` in seconds; ConfigError for anything else."""
    found = AGE.match(text.strip())
    if not found:
        raise ConfigError(f"--older-than {text!r}: expected a number and a unit, e.g. 7d, 12h, 30m, 2w")
    return int(found.group(1)) * UNITS[found.group(2)]


def prune(
    artifacts: Path, older_than: float, *, runs: bool = False, dry_run: bool = False, now: float | None = None
) -> list[Pruned]:
    """Remove the work directories (and with ``runs`` the run folders) older than ``older_than``
    seconds under ``artifacts``; with ``dry_run`` only say which."""
    now = time.time() if now is None else now
    kinds = ["work", "runs"] if runs else ["work"]
    pruned = []
    for kind in kinds:
        parent = artifacts / kind
        if not parent.is_dir():
            continue
        for child in sorted(parent.iterdir()):
            if not child.is_dir() or child.is_symlink():
                continue
            size, newest = measure(child)
            if now - newest < older_than:
                continue
            if not dry_run:
                shutil.rmtree(child)
            pruned.append(Pruned(child, size, now - newest))
    return pruned


def measure(directory: Path) -> tuple[int, float]:
    """Bytes held under ``directory`` and the newest modification time in it (its own included)."""
    size, newest = 0, directory.lstat().st_mtime
    for entry in _walk(directory):
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # removed while we looked
            continue
        newest = max(newest, info.st_mtime)
        if entry.is_file(follow_symlinks=False):
            size += info.st_size
    return size, newest


def _walk(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as entries:
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))


def human_size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GB"


def human_age(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} days" if days >= 1 else f"{seconds / 3600:.1f} hours"
