"""A tree for one agent run of the onboarding, and what of it our code takes back.

The onboarding's own checkout (where the eval runs) is never the agent's: the agent works in a copy
of it made for the run, with no ``.git`` (so no history to read a hidden case from), with the paths the
run must not see left out and the files it is given put in. While it runs, the checkout and its
repository are closed to the box's uid (mode 0700, ours): what is hidden is hidden by the kernel, not
by a rule the agent is asked to follow. Afterwards nothing of the box runs, and only changes to the
paths the run may change are carried into the checkout, as plain files; every other change (the
dataset, the eval's code, the config naming the eval command) is refused, listed, and left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jobs.sandbox import Box
from jobs.workspace.snapshot import FileState, tree_state

MAX_CARRIED_BYTES = 1024 * 1024  # one skill or config file; anything larger is not plausibly one
MAX_SCANNED_BYTES = 16 * 1024 * 1024
# What running Python or its tools in the tree leaves behind: never the agent's work, never a refusal.
NOISE = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})


@dataclass(frozen=True)
class Changes:
    """What an agent run changed, split by what our code took and what it refused."""

    carried: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    why_refused: dict[str, str] = field(default_factory=dict)


def make_agent_tree(
    checkout: Path,
    target: Path,
    box: Box,
    hide: tuple[str, ...] = (),
    give: dict[str, bytes] | None = None,
    secret: tuple[tuple[str, str], ...] = (),
) -> tuple[dict[str, FileState], list[str]]:
    """Copy ``checkout`` to ``target`` for an agent (no ``.git``, ``hide`` left out, ``give`` written
    in), hand it to the box, and return its state as the agent finds it, with the files also left out
    because they hold one of the ``secret`` cases (id, question): a copy of the dataset anywhere else
    in the repository (an example's, a fixture's) would show the agent what it must not see."""
    if target.exists():
        shutil.rmtree(target)
    hide_paths = set(hide)

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(checkout)
        left_out = {name for name in names if (relative / name).as_posix() in hide_paths}
        return left_out | ({".git"} if relative == Path(".") else set())

    shutil.copytree(checkout, target, symlinks=True, ignore=ignore)
    hidden = [path for path in holding(target, secret) if path not in (give or {})]  # those are replaced
    for relative in hidden:
        (target / relative).unlink()
    for relative, data in (give or {}).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    box.hand_over(target)
    return tree_state(target), hidden


def holding(root: Path, cases: tuple[tuple[str, str], ...]) -> list[str]:
    """The files under ``root`` that hold one of ``cases``: its question (as written, or JSON-escaped)
    and its id, both."""
    if not cases:
        return []
    forms: dict[bytes, bytes] = {}
    for case_id, question in cases:
        for form in {question, json.dumps(question)[1:-1], json.dumps(question, ensure_ascii=False)[1:-1]}:
            forms[form.encode()] = case_id.encode()
    pattern = re.compile(b"|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))
    found = []
    for relative, (size, _) in sorted(tree_state(root).items()):
        path = root / relative
        if size > MAX_SCANNED_BYTES or path.is_symlink():
            continue
        data = path.read_bytes()
        if any(forms[m.group()] in data for m in pattern.finditer(data)):
            found.append(relative)
    return found


@contextmanager
def closed_to_box(*paths: Path) -> Iterator[None]:
    """While inside: ``paths`` (ours) only we may enter; afterwards, readable again (not writable)."""
    for path in paths:
        path.chmod(0o700)
    try:
        yield
    finally:
        for path in paths:
            path.chmod(0o755)


def take_back(
    agent_tree: Path,
    before: dict[str, FileState],
    checkout: Path,
    may_change: Callable[[str], bool],
    why_not: Callable[[str], str],
    box: Box,
) -> Changes:
    """Carry the agent's changes to paths it may change into ``checkout``; refuse the others."""
    box.sweep()  # nothing of the box may run while our code reads its tree
    after = tree_state(agent_tree)
    changed = sorted(
        path
        for path in before.keys() | after.keys()
        if before.get(path) != after.get(path) and not is_noise(path)
    )
    carried: list[str] = []
    refused: dict[str, str] = {}
    for path in changed:
        if not may_change(path):
            refused[path] = why_not(path)
            continue
        source, target = agent_tree / path, checkout / path
        if path not in after:
            target.unlink(missing_ok=True)
            carried.append(path)
            continue
        info = source.lstat()
        if not stat.S_ISREG(info.st_mode):
            refused[path] = "not a plain file"
        elif info.st_size > MAX_CARRIED_BYTES:
            refused[path] = f"larger than {MAX_CARRIED_BYTES} bytes"
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_plain(source, target)
            carried.append(path)
    return Changes(tuple(carried), tuple(refused), refused)


def is_noise(path: str) -> bool:
    """What running Python or its tools leaves in a tree (``__pycache__``, ``.pytest_cache``...)."""
    return path.endswith(".pyc") or any(part in NOISE for part in path.split("/"))


def _copy_plain(source: Path, target: Path) -> None:
    """The file's bytes as a new file of ours (never its owner, mode bits or a link it became)."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as reader:
        data = reader.read(MAX_CARRIED_BYTES + 1)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.write_bytes(data)
    target.chmod(0o644)
