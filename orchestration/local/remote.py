"""A bare git repository standing in for GitHub: seeded once from an example app, then reused."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from jobs.workspace.git import Git


def seed_bare_remote(source: Path, remote: Path, base_branch: str = "main") -> Path:
    """Create bare ``remote`` holding ``source`` as one commit on ``base_branch``; keep it if present."""
    if (remote / "HEAD").is_file():
        return remote
    git = Git()
    remote.parent.mkdir(parents=True, exist_ok=True)
    git.run(["init", "--quiet", "--bare", f"--initial-branch={base_branch}", str(remote)])
    with tempfile.TemporaryDirectory(prefix="factory-seed-") as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(source, work, ignore=shutil.ignore_patterns("__pycache__", ".venv", "*.pyc"))
        git.run(["init", "--quiet", f"--initial-branch={base_branch}"], work)
        git.run(["add", "--all"], work)
        git.run(["commit", "--quiet", "-m", f"Seed from {source.name}"], work)
        git.run(["push", "--quiet", str(remote), f"HEAD:refs/heads/{base_branch}"], work)
    return remote


def branch_log(remote: Path, branch: str, base_branch: str = "main") -> list[str]:
    """One line per commit the branch has over the base, oldest first."""
    out = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "--reverse", "--format=%h %s", f"{base_branch}..{branch}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.splitlines() if out.returncode == 0 else []
