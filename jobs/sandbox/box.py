"""The box: where the agent and the target's own commands run, away from the harness and its secrets.

Everything untrusted runs in it: the Claude Code CLI and all it starts, and the target's install,
check, setup, seed and dev-server commands. In a box a process has

- **a uid of its own**, picked per run, with no name, no groups, no capabilities and ``no_new_privs``:
  it cannot read the harness's ``/proc/<pid>/environ``, signal or trace it, write the remote, or
  enter the harness's directories (the artifacts, the work directory, other runs: all 0700);
- **a second uid for the app** (``who="app"``): the target's dev servers and checks, which get the
  app's own configuration (its ``.env``, ``jobs/appenv.py``), run as a uid that is not the agent's, so
  the agent can read neither their environment nor the file (``jobs/sandbox/app.py``);
- **a network of its own** (``netns``): a loopback where the harness listens for it (the model proxy,
  our MCP tools, the egress proxy during install) and no route anywhere else; what it tries to send
  elsewhere the kernel refuses and counts;
- **a tree of its own**: the box root (``0711``, not listable) holds the workspaces, handed to the
  box's uid, and the agent's HOME; a workspace's ``.git`` stays the harness's, so nothing the agent
  writes there runs when our git does.

It takes root (to switch uids and make a namespace): where that is not to be had, ``open_box`` logs
once why, and returns an open box, which runs everything as today (``contained`` is False, and the
security record says so). ``CONTAINMENT=require`` makes that a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from jobs.errors import ConfigError
from jobs.logs import get_logger
from jobs.sandbox.egress import EgressProxy, EgressTally
from jobs.sandbox.netns import NamespaceError, NetworkNamespace, listening_socket

T = TypeVar("T")
# Where box trees are made: the temp directory unless this names another. The local engine gives each
# job a directory of its own and removes it after the job, however the job ended (a job SIGKILLed past
# its grace cannot remove its tree itself), as a Cloud Run task's filesystem goes with the task.
PARENT_ENV = "FACTORY_BOX_PARENT"
Containment = Literal["auto", "require", "off"]
# Whose uid a step of the box runs as: the agent's (the CLI, the target's install) or the app's (its
# dev servers and checks, which may hold its configuration).
Who = Literal["agent", "app"]


@dataclass(frozen=True)
class AppSide:
    """The app's side of the box, as ``jobs.sandbox.app.app_side`` lends it: a step given one runs as the
    app's uid, with ``env`` (the app's configuration, which gives way to the variables we set)."""

    env: dict[str, str] = field(default_factory=dict)


def side_of(app: AppSide | None) -> tuple[Who, dict[str, str]]:
    """Who runs a step given ``app`` (or none), and what the app's configuration adds to its environment."""
    return ("agent", {}) if app is None else ("app", app.env)


# Box uids come from a range no distribution hands out to people or services.
UID_LOW, UID_HIGH = 200_000, 260_000
MAX_PROCESSES = 4096  # processes and threads of one box (the CLI, a test suite, dev servers)
SWEEP_ROUNDS = 50
_said_open = False


class Box:
    """An open box: nothing is contained; every method is the plain operation."""

    contained = False
    uid: int | None = None
    app_uid: int | None = None

    def __init__(self, why_open: str = "containment is off") -> None:
        self._root: Path | None = None
        self.why_open = why_open
        self.egress = EgressTally()  # hosts the box's steps were let through to, and refused

    @property
    def root(self) -> Path:
        """The box's own directory, made on first use."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="factory-box-", dir=box_parent()))
        return self._root

    # --- running things -------------------------------------------------------------------
    def untrusted(self, argv: list[str], who: Who = "agent") -> list[str]:
        """``argv`` as the box runs it: the agent's or the target's code, as ``who``'s uid."""
        return argv

    def trusted(self, argv: list[str]) -> list[str]:
        """``argv`` of ours, in the box's network but with our uid (a database server, our browser)."""
        return argv

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` with the box's network (a health check, a port probe)."""
        return fn()

    def listen(self, port: int = 0) -> socket.socket:
        """A listening TCP socket on the box's 127.0.0.1, for a harness server the box may use."""
        return listening_socket(port)

    @contextmanager
    def reaching(self, hosts: Iterable[str]) -> Iterator[dict[str, str]]:
        """For a step that may reach ``hosts`` over HTTPS (install): the environment its commands need.
        An open box has our network: nothing to add."""
        yield {}

    # --- files ----------------------------------------------------------------------------
    def place(self, name: str) -> Path:
        """Where a tree the box will work in (a workspace) goes."""
        return self.root / name

    def private_dir(self, prefix: str, who: Who = "agent") -> Path:
        """A new directory ``who``'s processes own, no one else may enter (a HOME); the caller removes it."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=box_parent()))

    def readable_dir(self, prefix: str) -> Path:
        """A new directory of ours the box can read but not change (the agent's settings)."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=box_parent()))

    def hand_over(self, path: Path, who: Who = "agent") -> None:
        """Give ``who`` the tree at ``path`` (a top-level ``.git`` stays ours)."""

    def take_back(self, path: Path) -> None:
        """Make the tree at ``path`` ours again, one the box may read and run but not change (a checkout
        the target's install filled, whose eval runs next). The box must have nothing running."""

    def close_tree(self, path: Path) -> None:
        """Shut the tree at ``path`` to every uid but ours (its top becomes ours, 0700): one the app ran
        in, which nothing of the box uses again. Nothing of the box may be running."""

    def runnable(self, program: Path) -> Path:
        """A path to ``program`` the box can execute (an open box runs as us: the program itself)."""
        return program

    def git_dir(self) -> Path | None:
        """Where a workspace's repository goes, apart from its tree (None: inside it, as usual)."""
        return None

    def sweep(self, who: Who = "agent") -> None:
        """End every process of ``who``: before our code reads or writes a tree it could change."""

    def chromium(self, executable: str) -> str:
        """The browser to launch for pages the target serves (an open box: ``executable`` itself)."""
        return executable

    # --- accounting -----------------------------------------------------------------------
    def unroutable(self) -> int:
        """Packets the box tried to send where it has no route (0 when there is no box network)."""
        return 0

    def close(self, keep_in: Path | None = None) -> None:
        """Remove the box's tree; with ``keep_in``, its working trees are moved there first (the
        local ``--keep-work``), agents' homes and settings are not."""
        if self._root is None:
            return
        if keep_in is not None and self._root.exists():
            try:
                _keep(self._root, keep_in)
            except OSError as exc:  # a kept copy is a courtesy: the phase's own outcome stands
                get_logger().warning("could not keep the work trees in %s: %s", keep_in, exc)
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ContainedBox(Box):
    """A box with its own uid and its own network namespace (we are root)."""

    contained = True

    def __init__(self, uid: int, netns: NetworkNamespace) -> None:
        super().__init__(why_open="")
        self.uid = self.box_uid = uid
        # Chromium renders the target's pages: a uid of its own, neither ours nor the agent's.
        self.browser_uid = pick_uid(also_taken={uid})
        # The app's servers and checks, with its configuration: neither the agent's uid nor Chromium's.
        self.app_uid = self.app_box_uid = pick_uid(also_taken={uid, self.browser_uid})
        self.netns = netns
        self.root.chmod(0o711)  # the box may pass through to what it is told of, not list it

    def _uid(self, who: Who) -> int:
        return self.app_box_uid if who == "app" else self.box_uid

    def untrusted(self, argv: list[str], who: Who = "agent") -> list[str]:
        uid = self._uid(who)
        drop = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            # RLIMIT_NPROC counts the box uid's processes and threads: a fork bomb stops there.
            "prlimit",
            f"--nproc={MAX_PROCESSES}",
            "--",
        ]
        if who == "app":  # what the app writes (caches, logs: its configuration, maybe) is its own
            drop += ["/bin/sh", "-c", 'umask 077 && exec "$@"', "sh"]
        return self.trusted([*drop, *argv])

    def trusted(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net={self.netns.path}", "--", *argv]

    def call(self, fn: Callable[[], T]) -> T:
        return self.netns.call(fn)

    @contextmanager
    def reaching(self, hosts: Iterable[str]) -> Iterator[dict[str, str]]:
        sock = self.listen()
        try:
            proxy = EgressProxy(sock, hosts, self.egress)
        except BaseException:
            sock.close()
            raise
        with proxy:
            yield proxy.environment()

    def listen(self, port: int = 0) -> socket.socket:
        return self.netns.listen(port)

    def private_dir(self, prefix: str, who: Who = "agent") -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
        uid = self._uid(who)
        os.chown(path, uid, uid)
        return path

    def readable_dir(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
        path.chmod(0o755)
        return path

    def runnable(self, program: Path) -> Path:
        """``program`` if the box's uid can reach it; else a copy it can (our checkout may sit in a
        directory only we can enter, a home or a ``mktemp -d``): one per machine, kept in a directory
        of ours that the box can read but not write, named by the program's size and mtime."""
        if _others_may_execute(program):
            return program
        stat = program.stat()
        shared = Path(tempfile.gettempdir()) / "factory-programs"
        with contextlib.suppress(FileExistsError):
            shared.mkdir(mode=0o755)
        info = shared.lstat()
        if not _stat_is_ours(info):  # someone else's directory: a copy in this box's own tree instead
            shared = self.readable_dir("factory-programs-")
        copy = shared / f"{program.name}-{stat.st_size}-{stat.st_mtime_ns}"
        if not copy.exists():
            staged = shared / f".{copy.name}.{secrets.token_hex(4)}"
            shutil.copyfile(program, staged)
            staged.chmod(0o755)
            os.replace(staged, copy)
        return copy

    def hand_over(self, path: Path, who: Who = "agent") -> None:
        uid = self._uid(who)
        os.lchown(path, uid, uid)
        for top, dirs, files in os.walk(path):
            if Path(top) == path and ".git" in dirs:
                dirs.remove(".git")
            for name in (*dirs, *files):
                entry = os.path.join(top, name)
                if self._ours_to_change(os.lstat(entry)):
                    os.lchown(entry, uid, uid)  # links are not followed

    def take_back(self, path: Path) -> None:
        self.sweep()
        uid, gid = os.getuid(), os.getgid()
        for top, dirs, files in os.walk(path):
            for name in (top, *(os.path.join(top, n) for n in (*dirs, *files))):
                info = os.lstat(name)
                if not self._ours_to_change(info):
                    continue
                os.lchown(name, uid, gid)  # links are not followed, and never chmod-ed
                if not stat.S_ISLNK(info.st_mode):
                    os.chmod(name, stat.S_IMODE(info.st_mode) & ~0o7022)  # no setuid, no write but ours

    def _ours_to_change(self, info: os.stat_result) -> bool:
        """Whether a walk of a box's tree may change this entry: not a second name of a file that is
        neither the box's nor one we put there alone, i.e. a hard link the box made to a file elsewhere
        (where the kernel's ``protected_hardlinks`` is off, that could be one of root's)."""
        if stat.S_ISDIR(info.st_mode) or info.st_nlink == 1:
            return True
        return info.st_uid in (self.box_uid, self.app_box_uid)

    def close_tree(self, path: Path) -> None:
        os.lchown(path, os.getuid(), os.getgid())
        os.chmod(path, 0o700)

    def git_dir(self) -> Path:
        return self.root / f"factory-git-{secrets.token_hex(6)}"

    def sweep(self, who: Who = "agent") -> None:
        """SIGKILL every process of ``who``'s uid, until none is left: ``kill -KILL -1`` run as that uid
        reaches exactly those (a process that outlived its reaper, forking as fast as it can, included)."""
        _kill_all_of(self._uid(who))

    def chromium(self, executable: str) -> str:
        """A launcher that runs ``executable`` as the box's browser uid, with no capability and
        ``no_new_privs``, its profile (made by Playwright, as us) handed to that uid first."""
        uid = self.browser_uid
        launcher = self.root / "factory-chromium"
        launcher.write_text(
            "#!/bin/sh\n"
            'for arg in "$@"; do case "$arg" in --user-data-dir=*)\n'
            f'  profile="${{arg#--user-data-dir=}}"; chown -R {uid}:{uid} "$profile"\n'
            '  export HOME="$profile";;\n'
            "esac; done\n"
            f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs --inh-caps=-all "
            f'--bounding-set=-all -- {shlex.quote(executable)} "$@"\n'
        )
        launcher.chmod(0o755)
        return str(launcher)

    def unroutable(self) -> int:
        return self.netns.unroutable()

    def close(self, keep_in: Path | None = None) -> None:
        try:
            self.sweep()
            self.sweep("app")
            _kill_all_of(self.browser_uid)
            self.netns.close()
        finally:
            super().close(keep_in)


def box_parent() -> str | None:
    """The directory box trees are made in (``$FACTORY_BOX_PARENT``); None: the temp directory."""
    return os.environ.get(PARENT_ENV) or None


def open_box(containment: Containment = "auto") -> Box:
    """The box for one phase: contained where the machine allows, else open (and said so once)."""
    if containment == "off":
        return Box(why_open="containment is off (CONTAINMENT=off)")
    why = _why_impossible()
    netns: NetworkNamespace | None = None
    if why is None:
        try:
            netns = NetworkNamespace()
        except NamespaceError as exc:
            why = str(exc)
    if netns is not None:
        return ContainedBox(pick_uid(), netns)
    reason = f"the agent and the target's commands run as our own uid, with our network: {why}"
    if containment == "require":
        raise ConfigError(f"invalid setting CONTAINMENT: require, but {reason}")
    global _said_open
    if not _said_open:
        get_logger().warning("no containment: %s", reason)
        _said_open = True
    return Box(why_open=why or "")


def _why_impossible() -> str | None:
    if os.geteuid() != 0:
        return "not running as root (a uid switch and a network namespace need it)"
    for tool in ("unshare", "nsenter", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    return None


def pick_uid(also_taken: set[int] | None = None) -> int:
    """A box uid no running process has (one per run, so runs cannot reach each other either)."""
    taken = _running_uids() | (also_taken or set())
    for _ in range(100):
        uid = UID_LOW + secrets.randbelow(UID_HIGH - UID_LOW)
        if uid not in taken:
            return uid
    raise ConfigError("no free box uid")  # pragma: no cover - 60,000 uids, a few in use


def _running_uids() -> set[int]:
    uids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                uids.add(entry.stat().st_uid)
    return uids


def _kill_all_of(uid: int) -> None:
    for _ in range(SWEEP_ROUNDS):
        if not processes_of(uid):
            return
        subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", "kill", "-KILL", "-1"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
        time.sleep(0.02)
    raise ConfigError(f"processes of the box's uid {uid} survive SIGKILL")  # pragma: no cover


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real or effective uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()
        if fields.get("State", "").strip().startswith("Z") or len(uids) < 2:
            continue
        if uid in (int(uids[0]), int(uids[1])):
            found.append(int(entry.name))
    return found


def _others_may_execute(program: Path) -> bool:
    """Whether a uid with no group of ours can execute ``program``: x for others on it and on every
    directory above it."""
    path = program.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))


def _stat_is_ours(info: os.stat_result) -> bool:
    """A real directory of our uid that no one else may write."""
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _keep(root: Path, keep_in: Path) -> None:
    """Move the box's work trees to ``keep_in``, each with its repository back inside it as ``.git``."""
    keep_in.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():
        if not child.is_dir() or child.name.startswith("factory-"):
            continue
        kept = keep_in / child.name
        shutil.rmtree(kept, ignore_errors=True)
        shutil.move(child, kept)
        gitfile = kept / ".git"
        if gitfile.is_file() and not gitfile.is_symlink():
            target = Path(gitfile.read_text().removeprefix("gitdir:").strip())
            if target.parent == root and target.is_dir():
                gitfile.unlink()
                shutil.move(target, gitfile)
