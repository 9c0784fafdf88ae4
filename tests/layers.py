"""The import rules between Factory's packages, checked from the source (``python -m tests.layers``).

Every ``import`` and ``from ... import`` in a package counts, wherever it stands (inside a function, or
under ``TYPE_CHECKING``): a lazy import is still a dependency. ``from a import b`` where ``a.b`` is a
module counts as importing ``a.b``. Relative imports are resolved against the importing module.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("jobs", "orchestration", "deploy", "images", "tests")


@dataclass(frozen=True)
class Rule:
    """What the modules under ``source`` may import of ours: only ``only`` (when given), never ``never``."""

    source: str
    why: str
    only: tuple[str, ...] = ()
    never: tuple[str, ...] = ()

    def breaks(self, target: str) -> bool:
        if self.only and not _within(target, self.only):
            return True
        return _within(target, self.never)


RULES = (
    Rule("jobs", "everything a job container runs; its images carry jobs/ alone", only=("jobs",)),
    Rule(
        "jobs.phases",
        "a phase starts our MCP servers (jobs.mcp.config, jobs.mcp.serve); loading one would import the MCP"
        " library, 0.7 s of CPU in every job process",
        never=(
            "jobs.mcp.answers",
            "jobs.mcp.browser",
            "jobs.mcp.database",
            "jobs.mcp.langfuse",
            "jobs.mcp.linear",
            "jobs.mcp.sentry",
        ),
    ),
    Rule(
        "orchestration.engine",
        "the Workflows engine is pure: it knows no job",
        only=("orchestration.engine",),
    ),
    Rule(
        "orchestration.receiver",
        "the webhook service starts runs; it runs no phase and needs no local stack",
        never=(
            "jobs.phases",
            "jobs.agent",
            "orchestration.local",
            "orchestration.engine",
            "deploy",
            "images",
        ),
    ),
    Rule(
        "deploy",
        "deploy describes GCP resources; it never runs anything locally",
        never=("orchestration.local",),
    ),
    Rule(
        "images",
        "the builder knows phases and engines, not how they are orchestrated",
        never=("orchestration", "deploy"),
    ),
)


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    target: str
    rule: Rule

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}: {self.rule.source} - {self.rule.why}"


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every module of ours that ``path`` imports."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        found: list[str] = []
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found = [base]
            for alias in node.names:  # `from a import b` where a/b is a module of ours
                candidate = root.joinpath(*base.split("."), alias.name)
                if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
                    found.append(f"{base}.{alias.name}")
        for module in found:
            if module.split(".")[0] in OURS:
                yield node.lineno, module


def check(root: Path = ROOT, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    violations = []
    for rule in rules:
        top = root.joinpath(*rule.source.split("."))
        for path in sorted(top.rglob("*.py")):
            source = module_name(path, root)
            for line, target in imports(path, root):
                if not _within(target, (rule.source,)) and rule.breaks(target):
                    violations.append(Violation(source, line, target, rule))
    return violations


def main() -> int:
    violations = check()
    for violation in violations:
        print(violation)
    print(f"layers: {len(RULES)} rules, {len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
