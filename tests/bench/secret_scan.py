"""Benchmark: the secret guard on a 50 MB change, and the redactor's one-pass scan on the same bytes.

The change is half text (real Python sources, newlines folded as a minifier would, so the change stays
under the size guard's line limit) and half binary; the redactor holds five secrets in the job's formats.
Run with ``make bench``. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import random
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr

from jobs.redact import Redactor, variants
from jobs.workspace import Workspace
from jobs.workspace.git import Git
from jobs.workspace.repo import SCAN_CHUNK, SCAN_OVERLAP
from orchestration.local.remote import seed_bare_remote
from tests.conftest import EXAMPLES
from tests.jobs.test_redact import REAL_FORMAT_CANARIES

FILES = 50
FILE_BYTES = 1 << 20
OAUTH = "sk-ant-oat01-" + "bench-oauth-token-" * 5 + "AA"


def text_source() -> Iterator[bytes]:
    """The standard library's sources, endlessly: realistic text for the scan. Not site-packages: crypto
    libraries there hold PEM private key markers, which the token shapes rightly refuse."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.relative_to(stdlib).parts)
    while True:
        for path in sources:
            yield path.read_bytes().replace(b"\n", b" ")


def file_set() -> dict[str, bytes]:
    rng, texts, files = random.Random(13), text_source(), {}
    for n in range(FILES):
        if n % 2:
            files[f"assets/blob-{n}.bin"] = b"\x00\xff\xfe" + rng.randbytes(FILE_BYTES - 3)
        else:
            body = b""
            while len(body) < FILE_BYTES:
                body += next(texts)
            files[f"dist/bundle-{n}.min.js"] = body[:FILE_BYTES]
    return files


def timed_commit(remote: Path, work: Path, files: dict[str, bytes], redact: Redactor | None) -> float:
    ws = Workspace(Git(), str(remote), work, "factory/bench", "main")
    ws.clone()
    for name, data in files.items():
        (ws.path / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.path / name).write_bytes(data)
    started = time.perf_counter()
    assert ws.commit_all("bench", redact.finds_secret if redact else None) is not None
    return time.perf_counter() - started


def main() -> None:
    secrets = [*REAL_FORMAT_CANARIES.values(), OAUTH]
    started = time.perf_counter()
    redact = Redactor([SecretStr(secret) for secret in secrets])
    built = time.perf_counter() - started
    needles = sum(len(variants(secret)) for secret in secrets)
    files = file_set()
    size = sum(map(len, files.values())) / 1e6
    started = time.perf_counter()
    for data in files.values():
        for at in range(0, len(data), SCAN_CHUNK):
            redact.finds_secret(data[at : at + SCAN_CHUNK + SCAN_OVERLAP].decode("utf-8", "surrogateescape"))
    scan = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp:
        remote = seed_bare_remote(EXAMPLES / "notes-app", Path(tmp) / "remote.git")
        plain = timed_commit(remote, Path(tmp) / "plain", files, None)
        guarded = timed_commit(remote, Path(tmp) / "guarded", files, redact)
    print(f"secret guard: {len(secrets)} secrets, {needles} forms, redactor built in {built * 1000:.1f} ms")
    print(f"  file set               {FILES} files, {size:.1f} MB (half minified text, half binary)")
    print(f"  redactor scan          {scan:8.3f} s   {size / scan:7.1f} MB/s")
    print(f"  commit, no guard       {plain:8.3f} s")
    print(f"  commit, guarded        {guarded:8.3f} s   guard: {guarded - plain:.3f} s")


if __name__ == "__main__":
    main()
