"""The secret guard on commits reads the bytes of every file the commit would add or change (issue 13).

Whatever git thinks of a file (binary from its first bytes, ``-diff`` in ``.gitattributes``, a symlink),
and whichever encoding a secret the job holds is in, the commit is refused: StepFailed, nothing committed
or staged, a reason that names the file and never the secret. A realistic tree still commits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobs.errors import StepFailed
from jobs.redact import Redactor, variants
from jobs.workspace import Workspace
from jobs.workspace.git import Git
from jobs.workspace.repo import SCAN_CHUNK
from tests.conftest import EXAMPLES, ROOT, git
from tests.jobs.test_redact import FORM_NAMES, REAL_FORMAT_CANARIES, encoded_forms

BINARY = b"\x00\xff\xfe"  # what makes git call a file binary and diff it as "GIT binary patch"


def guard() -> Redactor:
    """The job's redactor, as ``settings.secrets()`` builds it, holding the canaries."""
    return Redactor([SecretStr(secret) for secret in REAL_FORMAT_CANARIES.values()])


def workspace(remote: Path, tmp_path: Path) -> Workspace:
    ws = Workspace(Git(), str(remote), tmp_path / "w", "factory/ix-1", "main")
    ws.clone()
    return ws


def assert_refused(ws: Workspace, redact: Redactor, named: str | None) -> None:
    """The commit is refused: nothing committed or left staged, a reason naming the file, never a secret."""
    with pytest.raises(StepFailed) as refused:
        ws.commit_all("IX-1: change", redact.finds_secret)
    reason = str(refused.value)
    assert "secret" in reason and (named is None or repr(named) in reason), reason
    leaked = [form for secret in REAL_FORMAT_CANARIES.values() for form in variants(secret) if form in reason]
    assert leaked == []
    assert ws.new_commits() == [] and git("diff", "--cached", "--name-only", cwd=ws.path) == ""


@pytest.mark.parametrize("name", list(REAL_FORMAT_CANARIES))
def test_raw_secret_in_a_file_git_calls_binary(name: str, remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    (ws.path / "logo.bin").write_bytes(BINARY + REAL_FORMAT_CANARIES[name].encode() + b"\n")
    assert_refused(ws, guard(), "logo.bin")


def test_raw_secret_in_a_text_file_marked_minus_diff(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    (ws.path / ".gitattributes").write_text("secret.txt -diff\n")
    (ws.path / "secret.txt").write_text(f"token = {REAL_FORMAT_CANARIES['github']}\n")
    assert_refused(ws, guard(), "secret.txt")


@pytest.mark.parametrize("form", FORM_NAMES)
def test_every_encoding_of_every_secret_is_refused(form: str, remote: Path, tmp_path: Path) -> None:
    ws, redact = workspace(remote, tmp_path), guard()
    for name, secret in REAL_FORMAT_CANARIES.items():
        leaked = encoded_forms(secret)[form].encode()
        (ws.path / "data.bin").write_bytes(BINARY + b"payload:" + leaked + b"\n")
        try:
            assert_refused(ws, redact, "data.bin")
        except (AssertionError, pytest.fail.Exception) as failed:
            raise AssertionError(f"{form} of the {name} secret was committed") from failed


def test_a_symlink_is_vetted_by_the_target_it_stores(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    os.symlink(REAL_FORMAT_CANARIES["linear"].encode().hex(), ws.path / "link")  # dangling: never followed
    assert_refused(ws, guard(), "link")


def test_a_file_name_holding_a_secret_is_refused_without_naming_it(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    (ws.path / REAL_FORMAT_CANARIES["github"][::-1]).write_text("harmless\n")
    assert_refused(ws, guard(), None)


def test_a_secret_across_the_scan_chunk_boundary_is_found(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    leaked = REAL_FORMAT_CANARIES["anthropic"].encode().hex().encode()
    start = SCAN_CHUNK - len(leaked) // 2
    (ws.path / "big.bin").write_bytes(BINARY + b"\x00" * (start - len(BINARY)) + leaked + b"\x00" * 1000)
    assert_refused(ws, guard(), "big.bin")


def test_a_realistic_tree_commits_with_the_canaries_loaded(remote: Path, tmp_path: Path) -> None:
    ws = workspace(remote, tmp_path)
    for source in (EXAMPLES / "notes-app", ROOT / "tests" / "targets" / "taskboard"):
        ignore = shutil.ignore_patterns("__pycache__", ".venv", "node_modules", ".pytest_cache")
        shutil.copytree(source, ws.path / "vendor" / source.name, ignore=ignore)
    (ws.path / "README.md").write_text((ws.path / "README.md").read_text() + "\nWord counts.\n")
    committed = ws.commit_all("IX-1: the whole tree", guard().finds_secret)
    assert committed is not None and ws.new_commits() == [committed]
    files = git("show", "--name-only", "--format=", "HEAD", cwd=ws.path).split()
    assert "README.md" in files and len(files) > 30, files
