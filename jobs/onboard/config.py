"""The target's ``onboarding:`` section: where a client's files live, how its bot is evaluated, what
tuning may change, and how far it goes.

Paths are templates over ``{client}`` (the client's domain, checked before use), relative to the
repository root; the eval command is a template over ``{client}`` and ``{cases}`` (a cases file our code
writes: the tuning part, the held-out part, or the whole dataset), each substituted shell-quoted. Read
from the base branch, like the rest of ``.factory.yaml``: a branch that edits this section changes
nothing for the run that made it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jobs.errors import ConfigError

# A client is a domain name: lower case labels joined by dots ("acme-shop.example").
CLIENT_PATTERN = re.compile(
    r"^(?=.{3,100}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_FIELD = re.compile(r"\{([^{}]*)\}")


def check_client(domain: str) -> str:
    """The client's domain, or ConfigError: it names folders, branches and commands."""
    if not CLIENT_PATTERN.fullmatch(domain):
        raise ConfigError(
            f"invalid client {domain[:60]!r}: a lower-case domain name such as acme-shop.example"
        )
    return domain


def _template(allowed: frozenset[str]) -> AfterValidator:
    def check(text: str) -> str:
        unknown = {name for name in _FIELD.findall(text)} - allowed
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {sorted(allowed)})")
        return text

    return AfterValidator(check)


def _relative(text: str) -> str:
    path = PurePosixPath(text.replace("{client}", "x"))
    if not text or path.is_absolute() or ".." in path.parts or text.startswith("-"):
        raise ValueError(f"{text!r} must be a path inside the repository")
    return text


PathTemplate = Annotated[
    str, Field(min_length=1, max_length=300), AfterValidator(_relative), _template(frozenset({"client"}))
]
CommandTemplate = Annotated[
    str, Field(min_length=1, max_length=1000), _template(frozenset({"client", "cases"}))
]


class OnboardingConfig(BaseModel):
    """How Factory onboards a client of the target (job ``onboard-client``)."""

    model_config = ConfigDict(extra="forbid")
    client_dir: PathTemplate = "clients/{client}"
    # The eval dataset (JSON lines, one case each with a unique "id" and a "question").
    dataset: PathTemplate = "clients/{client}/eval.jsonl"
    # The client's knowledge base: filled from the source material by full, watched by update-skills.
    knowledge_dir: PathTemplate | None = "clients/{client}/kb"
    # Where a new client's source material is: a folder of the base branch ("repo"), or what was
    # uploaded under the artifact prefix at onboarding/uploads/{client}/ ("upload").
    source: Literal["repo", "upload"] = "repo"
    source_dir: PathTemplate = "onboarding/{client}"
    eval_command: CommandTemplate
    eval_timeout_seconds: int = Field(default=600, gt=0, le=7200)
    target_accuracy: float = Field(default=0.9, gt=0, le=1)
    max_rounds: int = Field(default=3, ge=0, le=10)
    held_out_fraction: float = Field(default=0.3, gt=0, lt=1)
    min_cases: int = Field(default=10, ge=2, le=10_000)
    # What the e2e agent is asked to check of the client (a template over {client}), e.g. a page to
    # open as the client; the ticket the review and e2e phases read carries it.
    e2e_check: Annotated[str, Field(max_length=500), _template(frozenset({"client"}))] | None = None
    # What the agent may change while writing skills and tuning (globs over repository paths).
    tunable: list[PathTemplate] = Field(
        default_factory=lambda: ["clients/{client}/skills/*.md", "clients/{client}/config.yaml"], min_length=1
    )

    @model_validator(mode="after")
    def _dataset_is_frozen(self) -> Self:
        if "{cases}" not in self.eval_command:
            raise ValueError("eval_command must take the cases file as {cases}")
        for pattern in self.tunable:
            if path_matches(self.dataset.replace("{client}", "x"), pattern.replace("{client}", "x")):
                raise ValueError(f"tunable {pattern!r} covers the dataset, which tuning may never change")
        # The client's folder is what is committed and what a round puts back when it is undone.
        inside = self.client_dir.rstrip("/") + "/"
        for name, path in (
            ("dataset", self.dataset),
            ("knowledge_dir", self.knowledge_dir),
            *(("tunable", p) for p in self.tunable),
        ):
            if path is not None and not path.startswith(inside):
                raise ValueError(f"{name} {path!r} must be inside client_dir {self.client_dir!r}")
        return self

    def for_client(self, client: str) -> ClientPaths:
        """The paths and the eval command of one client."""
        domain = check_client(client)

        def fill(template: str) -> str:
            return template.replace("{client}", domain)

        return ClientPaths(
            client=domain,
            client_dir=fill(self.client_dir),
            dataset=fill(self.dataset),
            knowledge_dir=fill(self.knowledge_dir) if self.knowledge_dir else None,
            source_dir=fill(self.source_dir),
            tunable=tuple(fill(pattern) for pattern in self.tunable),
            eval_template=self.eval_command,
        )


class ClientPaths(BaseModel):
    """One client's files and eval command, placeholders filled."""

    model_config = ConfigDict(frozen=True)
    client: str
    client_dir: str
    dataset: str
    knowledge_dir: str | None
    source_dir: str
    tunable: tuple[str, ...]
    eval_template: str

    def eval_command(self, cases: str) -> str:
        """The eval command for a cases file (a path relative to the repository root)."""
        return self.eval_template.replace("{client}", shlex.quote(self.client)).replace(
            "{cases}", shlex.quote(cases)
        )

    def may_change(self, path: str) -> bool:
        """Whether tuning may change ``path`` (the dataset never)."""
        if path == self.dataset:
            return False
        return any(path_matches(path, pattern) for pattern in self.tunable)


def path_matches(path: str, pattern: str) -> bool:
    """Whether ``path`` matches the glob ``pattern`` as a whole: ``*`` and ``?`` stay within one path
    segment, ``**`` spans any number of them (fnmatch's ``*`` would also match ``a.md/b.md``)."""
    regex = ""
    for part in re.split(r"(\*\*|\*|\?)", pattern):
        regex += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.fullmatch(regex, path) is not None
