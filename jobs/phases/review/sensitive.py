"""Paths whose change needs a human's approval: agent and automation configuration.

A branch is written by an agent working from an untrusted ticket. Most files only do something when a
person runs or merges the code; these act on their own, for whoever next opens the repository, runs
CI or clones it, so a change to any of them flags the pull request (peers' changes to them need
approval too), whatever the review scored:

- ``.claude/`` (any level), ``CLAUDE.md`` and ``CLAUDE.local.md`` (any level): Claude Code's
  settings, hooks, commands, skills and standing instructions. A hook runs shell commands on the next
  developer's machine; an instruction steers every later agent, ours included.
- ``.mcp.json``: MCP servers Claude Code offers to start in this project, commands included.
- ``.github/workflows/``, ``.gitlab-ci.yml``, ``.circleci/``, ``Jenkinsfile``, ``.buildkite/``: CI
  that runs with the repository's secrets, on pull requests and on the default branch after a merge.
- ``.gitattributes`` (any level): filters, diff and merge drivers bound to paths, which git runs on
  the machines of people who configured them; also what diffs hide (``-diff``, ``linguist-generated``).
- ``.githooks/``, ``.husky/``: hook folders that a project's setup points git at; they run on commit,
  checkout and push.
- ``.gitmodules``: submodules pull code from other repositories, at URLs the branch chooses.
- ``.factory.yaml``: our own configuration of the target (its install, test and server commands).

Names are compared case-insensitively: on macOS and Windows checkouts ``.Claude/`` is ``.claude/``.
"""

from __future__ import annotations

from jobs.workspace import Workspace

# File names that count at any directory level.
NAMES = frozenset(
    {
        "claude.md",
        "claude.local.md",
        ".mcp.json",
        ".gitlab-ci.yml",
        "jenkinsfile",
        ".gitattributes",
        ".gitmodules",
        ".factory.yaml",
    }
)
# Folders whose every file counts, at any level.
FOLDERS_ANYWHERE = frozenset({".claude"})
# Folders whose every file counts, at the repository's root (where their tools look for them).
ROOT_FOLDERS = (".github/workflows/", ".circleci/", ".buildkite/", ".githooks/", ".husky/")
MAX_REASON_CHARS = 290  # the PR body clamps each flag reason to 300 characters
MAX_PATH_CHARS = 80


def is_sensitive(path: str) -> bool:
    """Whether a change to ``path`` (POSIX, relative to the repository's root) needs a human.

    A path where one of the folders is, or one of their parents (``.github``), counts too: git lists a
    symbolic link put in a folder's place as that one path, and it would bring a whole folder in."""
    folded = path.casefold()
    parts = folded.split("/")
    if parts[-1] in NAMES or any(part in FOLDERS_ANYWHERE for part in parts):
        return True
    return any(folded.startswith(folder) or folder.startswith(f"{folded}/") for folder in ROOT_FOLDERS)


def changed_paths(workspace: Workspace) -> list[str]:
    """Every path the branch adds, changes or deletes against the base (renames as both ends).

    Run in our own clone, names only: no diff driver or filter runs, whatever ``.gitattributes`` says.
    """
    args = ["diff", "--name-only", "--no-renames", "--no-ext-diff", "--no-textconv", "-z"]
    out = workspace.git.out([*args, f"origin/{workspace.base_branch}...HEAD"], workspace.path)
    return [path for path in out.split("\0") if path]


def sensitive_changes(workspace: Workspace) -> list[str]:
    """The branch's changed paths that need a human's approval, in git's order."""
    return [path for path in changed_paths(workspace) if is_sensitive(path)]


def sensitive_reason(paths: list[str]) -> str:
    """One sentence naming the paths, short enough to stand whole in the PR's flag line."""
    head = "the branch changes agent or automation configuration, which needs a human's approval: "
    shown: list[str] = []
    for n, path in enumerate(paths):
        item = _code(path)
        rest = len(paths) - n - 1
        more = f" and {rest} more" if rest else ""
        if shown and len(head) + len(", ".join([*shown, item])) + len(more) + 1 > MAX_REASON_CHARS:
            return f"{head}{', '.join(shown)} and {len(paths) - n} more."
        shown.append(item)
    return f"{head}{', '.join(shown)}."


def _code(path: str) -> str:
    """A branch-chosen path as inline code on one line: no backtick or newline can break out of it."""
    flat = " ".join(path.replace("`", "'").split())
    if len(flat) > MAX_PATH_CHARS:
        flat = f"{flat[: MAX_PATH_CHARS // 2 - 1]}…{flat[-(MAX_PATH_CHARS // 2) :]}"
    return f"`{flat}`"
