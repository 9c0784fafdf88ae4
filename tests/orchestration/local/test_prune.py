"""Disk (issue 12, item 12): ``factory prune`` removes old runs' work directories (and, with ``--runs``,
their run folders), says what it removed and the space freed; ``--dry-run`` removes nothing. A run's
own work directory goes when it ends unless ``--keep-work``."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.local.stack import LocalStack

DAY = 86400.0


def make_run_dir(path: Path, size: int, age_days: float) -> Path:
    """A directory holding ``size`` bytes in a nested file, every entry ``age_days`` old."""
    (path / "repo" / "src").mkdir(parents=True)
    (path / "repo" / "src" / "blob.bin").write_bytes(b"x" * size)
    then = time.time() - age_days * DAY
    for entry in [path / "repo" / "src" / "blob.bin", path / "repo" / "src", path / "repo", path]:
        os.utime(entry, (then, then))
    return path


def prune(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["prune", *args])
    return result.exit_code, result.output.strip().splitlines()


def test_old_work_directories_go_new_ones_and_run_records_stay(tmp_path: Path) -> None:
    work, runs = tmp_path / "work", tmp_path / "runs"
    old = make_run_dir(work / "ix-1-old", 3 * 1024 * 1024, age_days=9)
    recent = make_run_dir(work / "ix-1-new", 1024, age_days=1)
    touched = make_run_dir(work / "ix-1-busy", 2048, age_days=30)
    (touched / "repo" / "fresh.log").write_text("a run still writing")  # its newest file is now
    record = make_run_dir(runs / "ix-1-old", 4096, age_days=9)

    code, lines = prune("--older-than", "7d", "--artifacts", str(tmp_path), "--dry-run")
    assert code == 0
    assert lines == [
        f"would remove {old} (3.0 MB, 9.0 days old)",
        "would remove 1 directory older than 7d, 3.0 MB",
    ]
    assert old.exists()

    code, lines = prune("--older-than", "7d", "--artifacts", str(tmp_path))
    assert (code, lines) == (
        0,
        [f"removed {old} (3.0 MB, 9.0 days old)", "removed 1 directory older than 7d, 3.0 MB freed"],
    )
    assert not old.exists() and recent.exists() and touched.exists() and record.exists()

    code, lines = prune("--older-than", "2d", "--artifacts", str(tmp_path), "--runs")
    assert code == 0 and lines[-1] == "removed 1 directory older than 2d, 4.0 KB freed"
    assert not record.exists() and recent.exists()


def test_a_bad_age_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, lines = prune("--older-than", "7 days", "--artifacts", str(tmp_path))
    assert code == 2
    assert lines == ["factory: --older-than '7 days': expected a number and a unit, e.g. 7d, 12h, 30m, 2w"]


class Cloning:
    """A job runner that leaves a working copy behind, as every phase does, and fails (the run ends)."""

    def __call__(self, phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        checkout = Path(env["WORKDIR"]) / "repo"
        checkout.mkdir(parents=True)
        (checkout / "node_modules.bin").write_bytes(b"x" * 4096)
        return 1


def test_a_run_removes_its_work_directory_unless_asked_to_keep_it(tmp_path: Path) -> None:
    for keep in (False, True):
        stack = LocalStack(
            str(tmp_path / "r.git"), tmp_path, tmp_path / "t", runner=Cloning(), keep_work=keep
        )
        run = stack.run(
            {"job": "solve-linear-ticket", "ticket": "IX-1"}, f"run-{keep}", say=lambda line: None
        )
        assert run.error is not None  # the job ran, made its checkout, and failed: the run is over
        assert (stack.workdir(f"run-{keep}") / "repo").exists() is keep
