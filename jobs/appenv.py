"""The target app's own configuration: its ``.env``, for its dev servers (e2e) and checks (review).

Deployed, it is a Secret Manager secret that Cloud Run mounts as a file of root's, mode 0400, in the
review and e2e jobs (``deploy/specs.py``); locally, any file. ``APP_ENV_FILE`` names it. It is read once
when the phase starts; its secret values join the redactor (every log, transcript and report is
masked: see below), and all its values reach only the app's processes, which run as a uid that is not
the agent's (``jobs/sandbox/app.py``): the agent can read neither their environment nor the copy they
are given.

The format is the usual one (python-dotenv's, which Node's dotenv and Vite share): ``KEY=value`` lines,
an optional ``export``, ``#`` comments, values in single quotes (literal but for ``\\'``) or double quotes
(``\\n``, ``\\"`` and ``\\\\`` escapes), either of which may span lines. ``${NAME}`` and
``${NAME:-default}`` in unquoted and double-quoted values take an earlier key of the file, never the
job's environment (which holds our secrets). A bad line is an error naming its number, never its
content.

Which values are masked (the redactor): those of keys that name a secret (``KEY``, ``SECRET``,
``TOKEN``, ``PASSWORD``, ``DSN``... ``SECRET_KEYS`` below), except the ones a browser is sent anyway
(``NEXT_PUBLIC_``, ``VITE_``...); passwords in URLs are masked wherever they are. Masking every value
would mask ``development`` or ``localhost`` in every diff and refuse every commit holding them.
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
EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Keys whose values are secrets (masked in all Factory keeps), and prefixes of keys whose values the
# app sends to every browser (never secret, so never masked).
SECRET_KEYS = re.compile(
    r"KEY|SECRET|TOKEN|PASS|PWD|CREDENTIAL|PRIVATE|AUTH|DSN|SALT|SIGN|COOKIE|SESSION|CERT|WEBHOOK",
    re.IGNORECASE,
)
PUBLIC_PREFIXES = ("NEXT_PUBLIC_", "VITE_", "PUBLIC_", "REACT_APP_", "EXPO_PUBLIC_", "NUXT_PUBLIC_")
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

    def secret_values(self) -> list[SecretStr]:
        """The values to mask: those of keys that name a secret and that no browser is sent."""
        return [
            value
            for key, value in self.values.items()
            if SECRET_KEYS.search(key) and not key.upper().startswith(PUBLIC_PREFIXES)
        ]


def parse_env(text: str) -> dict[str, str]:
    """The variables of an env file; ValueError naming the first bad line's number."""
    values: dict[str, str] = {}
    lines = text.removeprefix("\ufeff").splitlines()
    number = 0
    while number < len(lines):
        first = number + 1
        line = lines[number].strip()
        number += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.rstrip()
        if not sep or not KEY.fullmatch(key):
            raise ValueError(f"line {first}: expected KEY=value (a KEY of letters, digits and _)")
        rest = rest.lstrip()
        quote = rest[:1]
        if quote in ("'", '"'):
            while _closing(rest, quote) < 0 and number < len(lines):  # a quoted value may span lines
                rest += "\n" + lines[number]
                number += 1
        try:
            values[key] = _value(rest, values)
        except ValueError as exc:
            raise ValueError(f"line {first}: {exc}") from None
    return values


def _closing(rest: str, quote: str) -> int:
    """Where the quote opened at ``rest[0]`` closes (-1: not yet); a backslash escapes the next char."""
    i = 1
    while i < len(rest):
        if rest[i] == "\\":
            i += 2
            continue
        if rest[i] == quote:
            return i
        i += 1
    return -1


def _value(rest: str, earlier: dict[str, str]) -> str:
    quote = rest[:1]
    if quote in ("'", '"'):
        end = _closing(rest, quote)
        if end < 0:
            kind = "single" if quote == "'" else "double"
            raise ValueError(f"a {kind} quote is not closed")
        tail = rest[end + 1 :].strip()
        if tail and not tail.startswith("#"):
            raise ValueError("text after the closing quote")
        body = rest[1:end]
        if quote == "'":
            return re.sub(r"\\([\\'])", r"\1", body)
        return _expand(re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), body), earlier)
    value = re.split(r"\s#", rest, maxsplit=1)[0]  # ``KEY=value # note``; a '#' inside a value stays
    return _expand(value.strip(), earlier)


def _expand(value: str, earlier: dict[str, str]) -> str:
    """``${NAME}`` and ``${NAME:-default}`` from the file's earlier keys ('' for one it has not set)."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if default is None:
            return earlier.get(name, "")
        return earlier.get(name) or default  # ':-': unset or empty

    return EXPANSION.sub(one, value)


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
