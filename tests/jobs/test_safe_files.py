"""The safe file helpers refuse links and special files anywhere on the way, and touch nothing outside.

Each case plants what a hostile branch or target command could: a folder that is a link to a folder
elsewhere, a file that is a link to a file elsewhere, a FIFO, a hard link. Outside the root, canaries
must stay exactly as they were.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from jobs.errors import UnsafePath
from jobs.workspace.safe_files import safe_read, safe_rmtree, safe_write


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the root with a canary file in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "canary.txt").write_text("canary\n")
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_write_read_and_delete_in_a_plain_tree(root: Path) -> None:
    safe_write(root, "a/b/c.txt", b"one")
    safe_write(root, "a/b/c.txt", b"two")  # replaced
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"two"
    assert safe_read(root, "a/b/c.txt", 100) == b"two"
    safe_write(root, "a/log.txt", b"0123456789")
    assert safe_read(root, "a/log.txt", 4) == b"0123"
    assert safe_read(root, "a/log.txt", 4, tail=True) == b"6789"
    assert sorted(p.name for p in (root / "a").iterdir()) == ["b", "log.txt"]  # no temporary left
    safe_rmtree(root, "a/b")
    assert not (root / "a" / "b").exists() and (root / "a" / "log.txt").exists()
    safe_rmtree(root, "a/b")  # already gone: nothing to do
    safe_rmtree(root, "missing/folder")
    with pytest.raises(FileNotFoundError):
        safe_read(root, "a/none.txt", 10)


def test_a_symlinked_folder_on_the_way_is_refused_by_every_helper(root: Path, outside: Path) -> None:
    (root / ".factory").mkdir()
    (root / ".factory" / "screenshots").symlink_to(outside, target_is_directory=True)
    (outside / "IX-1").mkdir()
    (outside / "IX-1" / "old.png").write_bytes(b"old")
    before = snapshot(outside)

    with pytest.raises(UnsafePath, match="symbolic link") as refused:
        safe_write(root, ".factory/screenshots/IX-1/report.md", b"report")
    assert refused.value.path == str(root / ".factory" / "screenshots")
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_rmtree(root, ".factory/screenshots/IX-1")
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_read(root, ".factory/screenshots/canary.txt", 100)
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_rmtree(root, ".factory/screenshots")  # the link itself, as the folder to delete
    assert snapshot(outside) == before
    assert (root / ".factory" / "screenshots").is_symlink()


def test_a_symlinked_final_file_is_refused(root: Path, outside: Path) -> None:
    (root / "report.md").symlink_to(outside / "canary.txt")
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_write(root, "report.md", b"overwritten")
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_read(root, "report.md", 100)
    assert (outside / "canary.txt").read_text() == "canary\n"
    assert (root / "report.md").is_symlink()


def test_a_fifo_or_socket_is_refused_and_never_blocks(root: Path) -> None:
    os.mkfifo(root / "server.log")
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(safe_read(root, "server.log", 100))
        except BaseException as exc:  # handed to the test's thread, whatever it is
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "safe_read blocked on a FIFO"
    (refused,) = outcome
    assert isinstance(refused, UnsafePath) and "not a regular file" in str(refused)
    with pytest.raises(UnsafePath, match="not a regular file"):
        safe_write(root, "server.log", b"data")
    assert (root / "server.log").is_fifo()
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(root / "app.sock"))
        with pytest.raises(UnsafePath, match="not a regular file"):
            safe_read(root, "app.sock", 100)


def test_a_file_where_a_folder_should_be_is_refused(root: Path) -> None:
    (root / ".factory").write_text("not a folder\n")
    with pytest.raises(UnsafePath, match="not a folder"):
        safe_write(root, ".factory/screenshots/report.md", b"x")
    with pytest.raises(UnsafePath, match="not a folder"):
        safe_rmtree(root, ".factory")
    assert (root / ".factory").read_text() == "not a folder\n"


def test_links_inside_a_deleted_folder_are_removed_not_followed(root: Path, outside: Path) -> None:
    folder = root / "evidence"
    folder.mkdir()
    (folder / "into-outside").symlink_to(outside, target_is_directory=True)
    (folder / "canary-link.txt").symlink_to(outside / "canary.txt")
    before = snapshot(outside)
    safe_rmtree(root, "evidence")
    assert not folder.exists() and snapshot(outside) == before


def test_a_hard_link_is_replaced_not_written_through(root: Path, outside: Path) -> None:
    os.link(outside / "canary.txt", root / "report.md")
    safe_write(root, "report.md", b"report")
    assert (root / "report.md").read_bytes() == b"report"
    assert (outside / "canary.txt").read_text() == "canary\n"


@pytest.mark.parametrize("relative", ["../outside/canary.txt", "/etc/passwd", "", "a/../../x"])
def test_paths_that_are_not_plain_and_relative_are_refused(root: Path, relative: str) -> None:
    with pytest.raises(UnsafePath, match="not a plain relative path"):
        safe_write(root, relative, b"x")
    with pytest.raises(UnsafePath, match="not a plain relative path"):
        safe_read(root, relative, 10)
