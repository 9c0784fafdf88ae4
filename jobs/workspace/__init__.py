"""The checkout a phase works in: clone, branch, install, commit, push (never force, never to main)."""

from jobs.workspace.branch import branch_for, check_branch, safe_title
from jobs.workspace.repo import Workspace

__all__ = ["Workspace", "branch_for", "check_branch", "safe_title"]
