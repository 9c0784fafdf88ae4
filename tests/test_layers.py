"""The import rules between packages (tests/layers.py): the repository keeps them, and the checker can
tell when they are broken."""

from __future__ import annotations

from pathlib import Path

from tests.layers import RULES, Rule, check, imports


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_repository_keeps_every_layer_rule() -> None:
    assert [str(v) for v in check()] == []


def test_a_job_module_importing_orchestration_is_caught_however_it_imports(tmp_path: Path) -> None:
    write(tmp_path, "jobs/__init__.py", "")
    write(tmp_path, "jobs/a.py", "def f() -> None:\n    from orchestration.local import stack\n")
    write(tmp_path, "jobs/b.py", "import deploy.cli\n")
    write(tmp_path, "jobs/c.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import images\n")
    write(tmp_path, "jobs/d.py", "from . import a\nfrom .a import f\n")  # relative, inside jobs: allowed
    write(tmp_path, "orchestration/__init__.py", "")
    write(tmp_path, "orchestration/local/__init__.py", "")
    write(tmp_path, "orchestration/local/stack.py", "")
    found = sorted((v.module, v.line, v.target) for v in check(tmp_path, RULES[:1]))
    assert found == [
        ("jobs.a", 2, "orchestration.local"),
        ("jobs.a", 2, "orchestration.local.stack"),
        ("jobs.b", 1, "deploy.cli"),
        ("jobs.c", 3, "images"),
    ]


def test_a_never_rule_and_relative_imports_resolve(tmp_path: Path) -> None:
    write(tmp_path, "deploy/__init__.py", "")
    write(tmp_path, "deploy/sub/__init__.py", "")
    write(tmp_path, "deploy/sub/x.py", "from ..cli import main\nfrom orchestration.engine import model\n")
    write(tmp_path, "deploy/cli.py", "from orchestration.local.run import run_workflow\n")
    rule = Rule("deploy", "test", never=("orchestration.local",))
    assert [(v.module, v.target) for v in check(tmp_path, (rule,))] == [
        ("deploy.cli", "orchestration.local.run")
    ]
    assert [m for _, m in imports(tmp_path / "deploy/sub/x.py", tmp_path)] == [
        "deploy.cli",
        "orchestration.engine",
    ]
