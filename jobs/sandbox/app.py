"""The app's side of the box: a tree lent to the app's uid, and the app's configuration given to it alone.

The target's dev servers (e2e), its e2e setup commands and its checks (review) are the app running, and
may need its own configuration (``jobs/appenv.py``). They run as the box's app uid, which is not the
agent's, so the kernel keeps the agent out of their ``/proc/<pid>/environ`` and away from the copy of the
file they are given (mode 0400, in a 0700 directory of that uid, named by ``FACTORY_APP_ENV_FILE``).
While they run, the tree is theirs (a dev server writes caches) and what they write is theirs alone
(umask 077); the e2e agent, which only reads, still reads the checked-out files. When they end, every
process of the box is killed, the copy is removed, and the tree is shut (ours, 0700): nothing of the box
uses it again (the fixers and later attempts clone afresh), so nothing the app wrote there reaches the
agent.

What stays possible: the app's code is the agent's to change, so a change can make the app show its
configuration (on a page, in a log, in a test's output). The reviewer reads that change, and the
file's secret values are masked in all Factory keeps (the redactor); the copy itself never reaches a
tree that is committed. In an open box everything runs as us, as the security record says.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.appenv import FILE_VARIABLE, AppEnv
from jobs.sandbox.box import AppSide, Box


@contextmanager
def app_side(box: Box, tree: Path, env: AppEnv | None) -> Iterator[AppSide]:
    """Lend ``tree`` to the app's uid; yield what its steps are given (``app=``): the environment its
    processes get, ``env``'s variables and where their copy of the file is (nothing without ``env``)."""
    with contextlib.ExitStack() as after:  # undone in reverse, each step even if one before failed
        after.callback(_shut, box, tree)
        _sweep(box)  # nothing of the box may run while the tree changes hands
        box.hand_over(tree, who="app")
        home = box.private_dir("factory-app-", who="app")
        after.callback(shutil.rmtree, home, ignore_errors=True)
        after.callback(box.sweep, "app")  # first: what the app left running could still write
        extra: dict[str, str] = {}
        if env is not None:
            copy = home / "app.env"
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(env.text.get_secret_value())
            if box.app_uid is not None:
                os.chown(copy, box.app_uid, box.app_uid)
            extra = {**env.environment(), FILE_VARIABLE: str(copy)}
        yield AppSide(extra)


def _sweep(box: Box) -> None:
    box.sweep()
    box.sweep("app")


def _shut(box: Box, tree: Path) -> None:
    _sweep(box)
    box.close_tree(tree)
