"""``factory check``: what a run would trip over, found before one starts.

Three inputs are checked the way the jobs and the offline model read them: the target's
``.factory.yaml`` as its base branch holds it (``jobs.target_config``), the ticket files
(``jobs.tickets.local``) and the scenario files (``ScenarioBook.load``). Each finding is one line naming
the file and what is wrong. Errors would make a run fail; warnings are what makes it do less than one
might expect (no test command, no browser check).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydantic
import yaml
from pydantic import SecretStr
from pydantic_core import ErrorDetails

from jobs.errors import ConfigError, FactoryError
from jobs.target_config import CONFIG_FILE, TargetConfig, parse_target_config
from jobs.tickets.local import parse_ticket_file
from jobs.workspace.git import Git
from orchestration.local.inputs import check_repo, local_repo_path, resolve_path
from orchestration.local.offline_model import ScenarioBook

MAX_ERRORS_PER_FILE = 5  # a file with more is broken in one way; the first few say how


@dataclass(frozen=True)
class Finding:
    """One problem (or, with ``warning``, one surprise) in one file."""

    where: str
    what: str
    warning: bool = False

    def line(self) -> str:
        return f"{'warning' if self.warning else 'error'}: {self.where}: {self.what}"


@dataclass
class Report:
    """Every finding, and how many files of each kind were read."""

    findings: list[Finding]
    checked: dict[str, int]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if not f.warning]

    def summary(self) -> str:
        counts = ", ".join(f"{n} {kind}" for kind, n in self.checked.items())
        warnings = len(self.findings) - len(self.errors)
        verdict = f"{len(self.errors)} error(s)" if self.errors else "all good"
        return f"factory check: {verdict}, {warnings} warning(s); checked {counts}"


def check(repo: str, tickets_dir: Path | None, scenarios: Path | None, base_branch: str = "main") -> Report:
    """Check the repository's config and, when given, the ticket files and the scenario files."""
    findings, checked = check_config(repo, base_branch), {".factory.yaml": 1}
    if tickets_dir is not None:
        found, checked["ticket file(s)"] = check_tickets(tickets_dir)
        findings += found
    if scenarios is not None:
        found, checked["scenario file(s)"] = check_scenarios(scenarios)
        findings += found
    return Report(findings, checked)


def check_config(repo: str, base_branch: str = "main") -> list[Finding]:
    """The target's ``.factory.yaml`` on ``base_branch``, as every phase reads it before it works."""
    where = f"{repo} ({base_branch}:{CONFIG_FILE})"
    try:
        check_repo(repo, base_branch)
        text = base_file(repo, CONFIG_FILE, base_branch)
    except FactoryError as exc:
        return [Finding(repo, str(exc).removeprefix(f"--repo {repo}: "))]
    if text is None:
        return [Finding(where, "no such file: defaults apply (no test command, no browser check)", True)]
    try:
        config = parse_target_config(text)
    except ConfigError as exc:
        return [Finding(where, str(exc).removeprefix(f"{CONFIG_FILE}: "))]
    return config_warnings(where, config)


def config_warnings(where: str, config: TargetConfig) -> list[Finding]:
    """A valid config that makes a run do less than it could."""
    found = []
    if config.test is None:
        found.append(Finding(where, "no 'test' command: the review has no test run as evidence", True))
    if not config.e2e.servers or not config.e2e.pages:
        found.append(
            Finding(where, "no e2e servers and pages: e2e-verify will be skipped (factory exits 3)", True)
        )
    return found


def base_file(repo: str, name: str, base_branch: str) -> str | None:
    """``name`` as ``base_branch`` of ``repo`` holds it (None when absent): read in place for a local
    repository, from a shallow clone (with ``GITHUB_TOKEN``) for a remote one."""
    path = local_repo_path(repo)
    if path is not None:
        return _show(Git(), path, f"{base_branch}:{name}")
    return cloned_base_file(repo, name, base_branch)


def cloned_base_file(url: str, name: str, base_branch: str) -> str | None:
    """``name`` on ``base_branch`` of a remote repository, from a shallow bare clone in a temporary
    directory (GitError when it cannot be cloned)."""
    token = os.environ.get("GITHUB_TOKEN")
    git = Git(SecretStr(token) if token else None)
    with tempfile.TemporaryDirectory(prefix="factory-check-") as tmp:
        clone = ["clone", "--quiet", "--bare", "--depth", "1", "--branch", base_branch, "--", url, tmp]
        git.run(clone, network=True, timeout=120)
        return _show(git, Path(tmp), f"{base_branch}:{name}")


def _show(git: Git, repo: Path, spec: str) -> str | None:
    if git.run(["cat-file", "-e", spec], repo, check=False).returncode != 0:
        return None
    return git.run(["show", spec], repo).stdout


def check_tickets(tickets_dir: Path) -> tuple[list[Finding], int]:
    """Every ``*.md`` ticket file under ``tickets_dir``, parsed as the implement job parses it."""
    tickets_dir = resolve_path(tickets_dir)
    if not tickets_dir.is_dir():
        return [Finding(str(tickets_dir), "no such directory")], 0
    files = sorted(tickets_dir.glob("*.md"))
    if not files:
        return [Finding(str(tickets_dir), "no ticket files (*.md)", True)], 0
    found = []
    for file in files:
        try:
            parse_ticket_file(file)
        except FactoryError as exc:
            found.append(Finding(str(file), str(exc).removeprefix(f"ticket file {file}: ")))
    return found, len(files)


def check_scenarios(path: Path) -> tuple[list[Finding], int]:
    """Every scenario file the offline model would load from ``path``, then the set as a whole."""
    if not path.exists():
        return [Finding(str(path), "no such file or directory")], 0
    files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    found = [Finding(str(other), "ignored: only *.yaml files are loaded", True) for other in _yml(path)]
    if not files:
        return [*found, Finding(str(path), "no scenario files (*.yaml)")], 0
    loaded: dict[Path, ScenarioBook] = {}
    for file in files:
        try:
            loaded[file] = ScenarioBook.load(file)
        except pydantic.ValidationError as exc:
            found += [Finding(str(file), _validation_line(err)) for err in exc.errors()[:MAX_ERRORS_PER_FILE]]
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
            found.append(Finding(str(file), f"cannot be read as YAML: {_read_problem(exc)}"))
    return [*found, *_clashes(loaded)], len(files)


def _yml(path: Path) -> Iterable[Path]:
    return sorted(path.rglob("*.yml")) if path.is_dir() else []


def _validation_line(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "top level"
    return f"{where}: {error['msg']}"


def _read_problem(exc: Exception) -> str:
    """The parser's own words and the line, without its dump of the document."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark is not None:
        return f"line {exc.problem_mark.line + 1}: {exc.problem}"
    return " ".join(str(exc).split())[:200]


def _clashes(loaded: dict[Path, ScenarioBook]) -> list[Finding]:
    """Two scenarios with one name, or with the same match strings (only the first loaded would play)."""
    found = []
    names: dict[str, Path] = {}
    matches: dict[frozenset[str], tuple[Path, str]] = {}
    for file, book in loaded.items():
        for scenario in book.scenarios:
            if scenario.name in names:
                found.append(
                    Finding(str(file), f"name {scenario.name!r} is also used by {names[scenario.name]}")
                )
            names.setdefault(scenario.name, file)
            key = frozenset(scenario.match)
            if key in matches:
                other, other_name = matches[key]
                found.append(
                    Finding(
                        str(file),
                        f"{scenario.name!r} has the same match strings as {other_name!r} ({other}): "
                        "only one of them can ever play",
                    )
                )
            matches.setdefault(key, (file, scenario.name))
            if not any(m.startswith("Phase: ") for m in scenario.match):
                found.append(
                    Finding(
                        str(file), f"{scenario.name!r} names no 'Phase: ...': it matches every phase", True
                    )
                )
    return found
