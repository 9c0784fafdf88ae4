"""The target repository's ``.factory.yaml``: how to install, test and lint, and its budgets and models.

Absent file or keys mean defaults. The file comes from the target repo, so it is parsed with
``yaml.safe_load``, size-capped, and validated strictly: an unknown key is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from jobs.errors import ConfigError

CONFIG_FILE = ".factory.yaml"
MAX_CONFIG_BYTES = 64 * 1024


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_turns: int | None = Field(default=None, gt=0)
    max_duration_seconds: int | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)


# A model alias or full name; never something the CLI could read as a flag.
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9.\-]{1,63}(\[1m\])?$")]


class Models(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implement: ModelName = "sonnet"
    review: ModelName = "opus"
    fix: ModelName = "sonnet"
    e2e: ModelName = "sonnet"


class TargetConfig(BaseModel):
    """What a target repository tells Factory about itself."""

    model_config = ConfigDict(extra="forbid")
    install: list[str] = Field(default_factory=list)
    install_timeout_seconds: int = Field(default=900, gt=0)
    test: str | None = None
    lint: str | None = None
    typecheck: str | None = None
    check_timeout_seconds: int = Field(default=900, gt=0)
    budgets: Budgets = Field(default_factory=Budgets)
    models: Models = Field(default_factory=Models)


def load_target_config(repo: Path) -> TargetConfig:
    """Read ``.factory.yaml`` from a checkout; defaults when it is absent."""
    path = repo / CONFIG_FILE
    if not path.is_file():
        return TargetConfig()
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{CONFIG_FILE} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return TargetConfig.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ConfigError(f"{CONFIG_FILE}: {where}: {first['msg']}") from None
