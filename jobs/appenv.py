"""The target app's own configuration: its ``.env``, for its dev servers (e2e) and checks (review).

Deployed, it is a Secret Manager secret that Cloud Run mounts as a file of root's, mode 0400, in the
review and e2e jobs (``deploy/specs.py``); locally, any file. ``APP_ENV_FILE`` names it. It is read once
when the phase starts; its values join the redactor (every log, transcript and report is masked) and
reach only the app's processes, which run as a uid that is not the agent's (``jobs/sandbox/app.py``):
the agent can read neither their environment nor the copy they are given.

The format is the usual one (python-dotenv, Node's ``--env-file``, Vite): ``KEY=value`` lines, an
optional ``export``, ``#`` comments, values in single quotes (literal) or double quotes (``\\n``,
``\\"`` and ``\\\\`` escapes). A bad line is an error naming its number, never its content.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from jobs.errors import ConfigError

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
MAX_BYTES = 256 * 1024
# Where the app's processes find their copy of the file (``node --env-file="$FACTORY_APP_ENV_FILE"``).
FILE_VARIABLE = "FACTORY_APP_ENV_FILE"
# The phases that run the app and get the file: deploy mounts the secret in their jobs alone.
PHASES = ("review", "e2e")
# Where deploy mounts it in those jobs (a directory of the secret's own, holding one file; Cloud Run
# mounts nothing under /dev, /proc or /sys).
MOUNT_DIR = "/secrets/factory-app-env"
MOUNTED_FILE = "app.env"


@dataclass(frozen=True)
class AppEnv:
    """The app's configuration as given: the file's text, and the variables it sets."""

    text: SecretStr
    values: dict[str, SecretStr]

    @property
    def names(self) -> list[str]:
        return sorted(self.values)

    def environment(self) -> dict[str, str]:
        return {key: value.get_secret_value() for key, value in self.values.items()}


def parse_env(text: str) -> dict[str, str]:
    """The variables of an env file; ValueError naming the first bad line's number."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.rstrip()
        if not sep or not KEY.fullmatch(key):
            raise ValueError(f"line {number}: expected KEY=value (a KEY of letters, digits and _)")
        try:
            values[key] = _value(rest.lstrip())
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
    return values


def _value(rest: str) -> str:
    if rest[:1] == "'":
        end = rest.find("'", 1)
        if end < 0:
            raise ValueError("a single quote is not closed (values span one line)")
        _only_comment_after(rest[end + 1 :])
        return rest[1:end]
    if rest[:1] == '"':
        out: list[str] = []
        i = 1
        while i < len(rest):
            char = rest[i]
            if char == "\\" and i + 1 < len(rest):
                out.append(ESCAPES.get(rest[i + 1], "\\" + rest[i + 1]))
                i += 2
                continue
            if char == '"':
                _only_comment_after(rest[i + 1 :])
                return "".join(out)
            out.append(char)
            i += 1
        raise ValueError("a double quote is not closed (values span one line)")
    value = re.split(r"\s#", rest, maxsplit=1)[0]  # ``KEY=value # note``; a '#' inside a value stays
    return value.strip()


def _only_comment_after(tail: str) -> None:
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ValueError("text after the closing quote")


def load_app_env(path: Path, contained: bool) -> AppEnv:
    """Read and parse the file at ``path``; ConfigError when it is missing, too big, malformed, or (in
    a contained box) readable by any uid, since then the agent's uid could read it too."""
    where = f"invalid setting APP_ENV_FILE: {path}"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{where} is not a file")
        if info.st_size > MAX_BYTES:
            raise ConfigError(f"{where} holds {info.st_size} bytes (at most {MAX_BYTES})")
        if contained and readable_by_anyone(path):
            raise ConfigError(
                f"{where} is readable by every user (mode {stat.S_IMODE(info.st_mode):04o}), so the "
                "agent's uid could read it: chmod o-r it (Cloud Run mounts it 0400)"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    try:
        values = parse_env(text)
    except ValueError as exc:
        raise ConfigError(f"{where}, {exc}") from None
    return AppEnv(SecretStr(text), {key: SecretStr(value) for key, value in values.items()})


def readable_by_anyone(path: Path) -> bool:
    """Whether a uid with no group of ours can read ``path``: r for others on it, x on every parent."""
    resolved = path.resolve()
    if not os.stat(resolved).st_mode & stat.S_IROTH:
        return False
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in resolved.parents)
