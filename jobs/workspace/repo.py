"""A checkout of the target repository on the ticket's branch.

State lives on the remote: cloning resumes the ticket's branch when it exists (one branch per ticket,
whatever the number of attempts). After the agent, our git commands never touch the agent's ``.git``
(it could hold planted config, hooks, ``commondir`` or filters that run code): the agent's working
tree is copied into a fresh clone at the commit the attempt started from, and committed there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from jobs.errors import ConfigError, GitError, ProtectedBranchError, PushRejected, StepFailed
from jobs.sandbox import Box
from jobs.workspace.git import Git
from jobs.workspace.snapshot import InstallOutput, tree_state

FACTORY_EVIDENCE = ".factory/screenshots"
# Every clone of the target. A remote that is a local path (the local engine's bare repos) goes through
# git's transport too (--no-local), never a hardlinked copy of its objects directory: that copy takes the
# quarantine of a push landing at the same moment (a night's parallel chains) and fails with "hardlink
# different from source".
CLONE = ("clone", "--quiet", "--no-tags", "--no-local")
# One change past either is not plausibly a ticket's work (install output, generated or vendored files):
# it is refused with its size, never pushed. A reviewer could not read it either.
MAX_CHANGED_FILES = 400
MAX_ADDED_LINES = 40_000
# The secret guard reads a staged file this many bytes at a time (any size in bounded memory), carrying
# the last SCAN_OVERLAP bytes over: more than a secret's longest encoded form or a PEM private key.
SCAN_CHUNK = 8 << 20
SCAN_OVERLAP = 64 << 10


def check_repo_url(url: str) -> str:
    """Local paths, file:// and https URLs without credentials in them."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return url
    if parts.scheme != "https":
        raise ConfigError(f"REPO_URL scheme {parts.scheme!r} is not supported (use https, file:// or a path)")
    if parts.username or parts.password:
        raise ConfigError("REPO_URL must not hold credentials: give the token as GITHUB_TOKEN")
    return url


class Workspace:
    """Owns one working copy: ``path`` is the checkout, ``branch`` the ticket's branch."""

    def __init__(
        self, git: Git, url: str, path: Path, branch: str, base_branch: str, box: Box | None = None
    ) -> None:
        if branch == base_branch:
            raise ProtectedBranchError(f"refusing to work on the base branch {base_branch!r}")
        self._git = git
        # In a contained box the repository lives outside the tree (``--separate-git-dir``, ours, read-only
        # to the box) and every git call of ours names it: the box owns the tree, so it could replace a
        # ``.git`` found there with one whose config runs code when our git does.
        self.git_dir: Path | None = None
        self.url = check_repo_url(url)
        self.path = path
        self.branch = branch
        self.base_branch = base_branch
        self.start_sha = ""
        self.resumed = False
        self.install_output = InstallOutput()  # what install left in the tree: never committed
        # The agent and the target's commands work here in this box: its tree is handed to them
        # after every clone (its .git stays ours).
        self.box = box or Box()

    @property
    def git(self) -> Git:
        """Our git for this workspace: told where its repository and tree are when they are apart."""
        return _bound(self._git, self.path, self.git_dir)

    # --- clone and branch -------------------------------------------------------------------
    def remote_head(self, branch: str) -> str | None:
        """The sha of ``branch`` on the remote, or None when it does not exist there."""
        out = self.git.out(["ls-remote", "--heads", self.url, f"refs/heads/{branch}"], network=True)
        return out.split()[0] if out else None

    def clone(self) -> None:
        """Clone the base branch, then check out the ticket's branch, resuming it if it exists."""
        self.resumed = self.remote_head(self.branch) is not None
        self.git_dir = self._clone_into(self.path, at=None)
        self.box.hand_over(self.path)
        self.start_sha = self.head()

    def _clone_into(self, path: Path, at: str | None) -> Path | None:
        """Clone into ``path`` (the tree stays ours: the caller hands it over); its separate git dir."""
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        git_dir = self.box.git_dir()
        apart = ["--separate-git-dir", str(git_dir)] if git_dir is not None else []
        clone = [*CLONE, "--branch", self.base_branch, *apart, "--", self.url, str(path)]
        self._git.run(clone, network=True)
        git = _bound(self._git, path, git_dir)
        start = at or "HEAD"
        if self.resumed:
            ref = f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
            git.run(["fetch", "--quiet", "origin", ref], path, network=True)
            start = at or f"refs/remotes/origin/{self.branch}"
        git.run(["checkout", "--quiet", "-B", self.branch, start], path)
        return git_dir

    def base_file(self, name: str) -> str | None:
        """A file as the base branch holds it (None when it has none), whatever the branch did to it."""
        shown = self.git.run(["show", f"origin/{self.base_branch}:{name}"], self.path, check=False)
        return shown.stdout if shown.returncode == 0 else None

    def head(self) -> str:
        return self.git.out(["rev-parse", "HEAD"], self.path)

    # --- after the agent --------------------------------------------------------------------
    def adopt_agent_tree(self) -> None:
        """Carry the agent's working tree (never a ``.git``) into a fresh clone, and work there.

        What install left (``install_output``) stays behind: files it created are not carried, and files
        only it changed keep the version of the commit the attempt started from."""
        self.box.sweep()  # nothing of the box may still run while we copy out of its tree
        agent_tree = self.path
        ours = agent_tree.with_name(agent_tree.name + "-ours")
        ours_git_dir = self._clone_into(ours, at=self.start_sha)
        for child in ours.iterdir():
            if child.name != ".git":
                _remove(child)
        restore = []
        for relative, now in tree_state(agent_tree).items():
            if self.install_output.is_install_output(relative, now):
                if relative in self.install_output.modified:
                    restore.append(relative)
                continue
            target = ours / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_plain(agent_tree / relative, target)
        if restore:  # our own fresh clone: git is safe here
            # Literal pathspecs: a file named "f[1]" must not also match "f1".
            checkout = ["--literal-pathspecs", "checkout", "--quiet", self.start_sha, "--", *restore]
            _bound(self._git, ours, ours_git_dir).run(checkout, ours)
        self.path, self.git_dir = ours, ours_git_dir
        self.box.hand_over(ours)  # last: until now the tree was ours alone

    def _refuse_implausible_size(self) -> None:
        """StepFailed, with nothing committed, for a staged change no ticket plausibly needs."""
        files, added = 0, 0
        for line in self.git.out(["diff", "--cached", "--numstat"], self.path).splitlines():
            files += 1
            count = line.split("\t", 1)[0]
            added += int(count) if count.isdigit() else 0  # "-" for a binary file
        if files > MAX_CHANGED_FILES or added > MAX_ADDED_LINES:
            self.git.run(["reset", "--quiet"], self.path)
            raise StepFailed(
                f"the change is implausibly large ({files} files, +{added} lines; at most "
                f"{MAX_CHANGED_FILES} files and +{MAX_ADDED_LINES} lines): nothing was committed or pushed. "
                "Generated, vendored or installed files? The repository's .gitignore should list them."
            )

    def has_changes(self) -> bool:
        """Uncommitted changes in the working tree (untracked files included)."""
        return bool(self.git.out(["status", "--porcelain", "--untracked-files=all"], self.path))

    def commit_all(self, message: str, holds_secret: Callable[[str], bool] | None = None) -> str | None:
        """Commit everything the agent changed; None when there is nothing to commit.

        ``holds_secret`` vets every file the commit would add or change first (its bytes, not a diff):
        a change that holds a secret is not committed.
        """
        self.box.sweep()  # nothing of the box may run while our git reads its tree
        if not self.has_changes():
            return None
        self.git.run(["add", "--all"], self.path)
        self._refuse_implausible_size()
        if holds_secret is not None:
            self._refuse_staged_secret(holds_secret)
        self.git.run(["commit", "--quiet", "--no-verify", "-m", message], self.path)
        return self.head()

    def _refuse_staged_secret(self, holds_secret: Callable[[str], bool]) -> None:
        """StepFailed, with nothing committed, when a file the commit would add or change holds a secret.

        What is read is the staged blob itself, from the index of our own clone: the bytes the commit would
        store, whatever git thinks of them (binary, ``-diff``, generated, an LFS pointer, a symlink's target),
        never a diff that could show them as "Binary files differ". File names are committed too: vetted
        first, and a refusal names a file only once no name holds a secret."""
        listed = ["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev"]
        fields = self.git.run(listed, self.path).stdout.split("\0")
        staged: list[tuple[str, str]] = []
        for meta, name in zip(fields[0::2], fields[1::2], strict=False):
            _, mode, _, blob, status = meta.split()  # ":<old mode> <new mode> <old sha> <new sha> <status>"
            if status != "D" and mode != "160000":  # a deletion or a submodule's commit: no bytes added
                staged.append((blob, name))
        found = "a file name" if holds_secret("\n".join(name for _, name in staged)) else None
        if found is None and staged:
            batch = subprocess.Popen(
                self.git.argv(["cat-file", "--batch"]),
                cwd=self.path,
                env=self.git.env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            with batch:  # closing the pipes on the way out ends cat-file, whatever it was writing
                assert batch.stdin is not None and batch.stdout is not None
                for blob, name in staged:
                    batch.stdin.write(f"{blob}\n".encode())
                    batch.stdin.flush()
                    if _blob_holds_secret(batch.stdout, holds_secret):
                        found = repr(name)
                        break
        if found is not None:
            self.git.run(["reset", "--quiet"], self.path)
            raise StepFailed(f"{found} holds what looks like a secret: nothing was committed or pushed")

    def new_commits(self) -> list[str]:
        """Commits on the branch since this attempt began."""
        return self._commits_since(self.start_sha)

    def branch_commits(self) -> list[str]:
        """Every commit the branch holds over the base branch (earlier attempts included)."""
        return self._commits_since(f"origin/{self.base_branch}")

    def diff_from_base(self, stat: bool = False) -> str:
        """The branch's change against where it left the base branch (three-dot: the base's own later
        commits are not part of it). No external diff drivers or textconv filters: plain text only."""
        args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", *(["--stat"] if stat else [])]
        # Factory's own evidence (E2E reports and screenshots committed earlier) is not the change.
        paths = ["--", ".", f":(exclude){FACTORY_EVIDENCE}"]
        return self.git.out([*args, f"origin/{self.base_branch}...HEAD", *paths], self.path)

    def files_changed_since_start(self) -> list[str]:
        """Paths changed by this attempt's commits."""
        return self.git.out(
            ["diff", "--name-only", "--no-renames", f"{self.start_sha}..HEAD"], self.path
        ).split()

    def last_commits(self, count: int) -> list[str]:
        """The last ``count`` commits on HEAD, oldest first."""
        return self.git.out(["rev-list", "--reverse", f"--max-count={count}", "HEAD"], self.path).split()

    def _commits_since(self, ref: str) -> list[str]:
        return self.git.out(["rev-list", "--reverse", f"{ref}..HEAD"], self.path).split()

    def push(self) -> bool:
        """Fast-forward the remote branch to ours; rebase once if a human moved it; never force.

        Returns whether it had to rebase; a push that cannot go through raises PushRejected.
        """
        if self.branch in (self.base_branch, self._remote_default()):
            raise ProtectedBranchError(f"refusing to push to the default branch {self.branch!r}")
        remote = self.remote_head(self.branch)
        rebased = False
        if remote is not None and not self._contains(remote):
            self.git.run(["fetch", "--quiet", self.url, f"refs/heads/{self.branch}"], self.path, network=True)
            rebase = self.git.run(["rebase", "--quiet", "FETCH_HEAD"], self.path, check=False)
            if rebase.returncode != 0:
                self.git.run(["rebase", "--abort"], self.path, check=False)
                raise PushRejected(
                    f"the remote branch {self.branch} moved and our commits do not rebase onto it cleanly"
                )
            rebased = True
        push = self.git.run(
            ["push", "--quiet", "--porcelain", self.url, f"HEAD:refs/heads/{self.branch}"],
            self.path,
            check=False,
            network=True,
        )
        if push.returncode != 0:
            raise PushRejected(
                f"push of {self.branch} rejected: {push.stderr.strip()[-500:] or push.stdout.strip()[-500:]}"
            )
        return rebased

    def _contains(self, sha: str) -> bool:
        """Whether ``sha`` is already an ancestor of our HEAD (so pushing is a fast-forward)."""
        has = self.git.run(["cat-file", "-e", f"{sha}^{{commit}}"], self.path, check=False)
        if has.returncode != 0:
            return False
        return (
            self.git.run(["merge-base", "--is-ancestor", sha, "HEAD"], self.path, check=False).returncode == 0
        )

    def _remote_default(self) -> str:
        out = self.git.run(
            ["ls-remote", "--symref", self.url, "HEAD"], self.path, check=False, network=True
        ).stdout
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line.split()[1].removeprefix("refs/heads/")
        return self.base_branch


def _blob_holds_secret(batch: IO[bytes], holds_secret: Callable[[str], bool]) -> bool:
    """Read the next object ``git cat-file --batch`` writes, a chunk at a time, and vet each chunk.

    Each chunk is vetted with the tail of the one before, so a secret across the boundary is whole in one;
    bytes that are not UTF-8 become lone surrogates, which leave every ASCII character where it was."""
    header = batch.readline().split()  # b"<sha> blob <size>", or b"<sha> missing"
    if len(header) != 3 or header[1] != b"blob":
        raise GitError(f"git cat-file gave {b' '.join(header).decode(errors='replace')!r} for a staged file")
    left, tail = int(header[2]), b""
    while left:
        chunk = batch.read(min(SCAN_CHUNK, left))
        if not chunk:
            raise GitError("git cat-file ended in the middle of a staged file")
        left -= len(chunk)
        window = tail + chunk
        if holds_secret(window.decode("utf-8", "surrogateescape")):
            return True
        tail = window[-SCAN_OVERLAP:]
    batch.read(1)  # the newline that ends each object
    return False


def _bound(git: Git, tree: Path, git_dir: Path | None) -> Git:
    if git_dir is None:
        return git
    return git.with_env({"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(tree)})


def _copy_plain(source: Path, target: Path) -> None:
    """Copy a file, or a link as a link, keeping only its permission bits: a setuid bit the agent set
    on its file must not become a root-owned setuid program while the tree is ours."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
        return
    shutil.copyfile(source, target, follow_symlinks=False)
    os.chmod(target, source.lstat().st_mode & 0o777)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def read_base_file(git: Git, url: str, base_branch: str, name: str, scratch: Path) -> str | None:
    """One file as ``base_branch`` of ``url`` holds it (None when it has none), from a shallow clone that
    checks nothing out: for a job that reads the target's config and runs none of its code."""
    path = scratch / "base"
    if path.exists():
        shutil.rmtree(path)
    clone = [*CLONE, "--depth", "1", "--no-checkout", "--branch", base_branch]
    git.run([*clone, "--", check_repo_url(url), str(path)], network=True)
    try:
        shown = git.run(["show", f"HEAD:{name}"], path, check=False)
        return shown.stdout if shown.returncode == 0 else None
    finally:
        _remove(path)
