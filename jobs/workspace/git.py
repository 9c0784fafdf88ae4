"""Running git for our own code (never for the agent), with credentials kept out of argv and config.

An https token reaches git only through a credential helper that reads it from the git child's
environment, and only for the commands that talk to the remote (``network=True``); the helper list is
reset first so a helper planted in a config file never sees it. Hooks and fsmonitor are disabled on
every call.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from jobs.errors import GitError

TOKEN_ENV = "FACTORY_GIT_TOKEN"  # noqa: S105 - the variable's name, not a value
# The helper is a shell snippet; it names the variable, never the value.
HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo username=x-access-token; echo "password=${TOKEN_ENV}"; }}; f'
)

SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.askPass=",
    "protocol.ext.allow=never",
    "credential.helper=",  # reset: helpers from any config file are dropped
    # A contained workspace's tree belongs to the box's uid and its .git to us: git would call that
    # dubious ownership. Its .git (config, hooks) is ours alone, so nothing there is the box's.
    "safe.directory=*",
)


class Git:
    """``git`` with a fixed, hardened configuration and an optional token for https remotes."""

    def __init__(
        self, token: SecretStr | None = None, author: tuple[str, str] = ("Factory", "factory@localhost")
    ):
        self._token = token
        self._author = author
        self._extra: dict[str, str] = {}

    def with_env(self, extra: Mapping[str, str]) -> Git:
        """This git with ``extra`` in every call's environment (a workspace's ``GIT_DIR``)."""
        bound = Git(self._token, self._author)
        bound._extra = {**self._extra, **extra}
        return bound

    def env(self, network: bool = False) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", tempfile.gettempdir()),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": self._author[0],
            "GIT_AUTHOR_EMAIL": self._author[1],
            "GIT_COMMITTER_NAME": self._author[0],
            "GIT_COMMITTER_EMAIL": self._author[1],
            "LC_ALL": "C",
        }
        env.update(self._extra)
        if network and self._token is not None:
            env[TOKEN_ENV] = self._token.get_secret_value()
        return env

    def argv(self, args: list[str], network: bool = False) -> list[str]:
        config: list[str] = []
        for item in SAFE_CONFIG:
            config += ["-c", item]
        if network and self._token is not None:
            config += ["-c", f"credential.helper={HELPER}"]
        return ["git", *config, *args]

    def run(
        self,
        args: list[str],
        cwd: Path | None = None,
        *,
        check: bool = True,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 600,
        network: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(args, network),
            cwd=cwd,
            env={**self.env(network), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",  # a target's latin-1 file in a diff must not crash the phase
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            # Say which subcommand failed; stderr is redacted by the logger, and never holds the token.
            raise GitError(f"git {args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
        return proc

    def out(self, args: list[str], cwd: Path | None = None, *, network: bool = False) -> str:
        return self.run(args, cwd, network=network).stdout.strip()
