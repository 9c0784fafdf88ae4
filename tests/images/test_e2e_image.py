"""The secrets the agent must never reach, hunted for inside the e2e image (``factory-e2e:<tag>``) under
its engine (issue 18; RELIABILITY E2, E4, E5).

The e2e job's container is the one that holds the most: the database tool's password, the app's
``.env``, and Linear's key wherever a ticket's fixer runs. Two of our hunts run in it, unchanged, as
this checkout's tests: ``tests/jobs/mcp/test_tool_canaries.py`` (all four MCP tools served, each holding
a canary, and a scripted agent through the image's CLI reading every ``/proc/*/environ`` and
``cmdline``, listing processes, reading the tools' logs and config; then the same with the box open)
and ``tests/jobs/test_app_side.py`` (the app's ``.env`` given to a dev server and a check as the app's
uid, hunted for as the agent's). The container runs as the job does (root, ``SYS_ADMIN`` and
``NET_ADMIN`` for the box, as ``orchestration/local/containers.py`` starts it), with no network at all:
everything, the stand-ins and the offline model included, is on its loopback.

What runs is the image's: its Python, its venv (Claude Code's CLI in ``claude-agent-sdk``), our code in
``/opt/factory``, its PostgreSQL, util-linux and kernel interface under the engine. The checkout is
mounted read-only for the test files alone, and this venv's site-packages after the image's, for what
only tests use (pytest, sentry-sdk); the test checks that ``jobs`` and the CLI were the image's.
Skips without the image, unless ``FACTORY_REQUIRE_IMAGES`` names ``e2e`` (CI does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sysconfig

from tests.conftest import ROOT
from tests.images.test_images import built_image

HUNTS = ("tests/jobs/mcp/test_tool_canaries.py", "tests/jobs/test_app_side.py")
RUN_TIMEOUT = 900  # seconds for the whole in-image run; it takes about 30

# Inside the container: where our code and the CLI come from, then pytest on the hunts. The image's own
# paths come first on sys.path; the checkout and this venv are appended, so they only add what the
# image lacks (the tests, pytest and its plugins, sentry-sdk).
BOOTSTRAP = """\
import json, sys
sys.path += ["/src", "/hostsite"]
import claude_agent_sdk, jobs
from jobs.agent.cli import bundled_cli
print("FROM " + json.dumps({"jobs": jobs.__file__, "cli": str(bundled_cli())}), flush=True)
import pytest
# (anyio, the SDK's, is imported above, before pytest could rewrite its plugin: said once, harmless)
sys.exit(pytest.main(["-q", "-s", "-p", "no:cacheprovider", "--import-mode=append", "--rootdir=/src",
                      "-c", "/src/pyproject.toml", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                      *sys.argv[1:]]))
"""


def test_in_the_e2e_image_the_agent_finds_no_tool_token_and_not_the_apps_env() -> None:
    engine, ref = built_image("e2e")
    site = sysconfig.get_paths()["purelib"]
    argv = [
        engine,
        "run",
        "--rm",
        "--cap-add=SYS_ADMIN",
        "--cap-add=NET_ADMIN",
        "--network=none",
        "--volume",
        f"{ROOT}:/src:ro",
        "--volume",
        f"{site}:/hostsite:ro",
        "--entrypoint",
        "python",
        ref,
        "-c",
        BOOTSTRAP,
        *(f"/src/{hunt}" for hunt in HUNTS),
    ]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    out = run.stdout
    print(out[-3000:])
    assert run.returncode == 0, f"{out[-4000:]}\n{run.stderr[-2000:]}"
    origin = json.loads(
        next(line for line in out.splitlines() if line.startswith("FROM ")).removeprefix("FROM ")
    )
    assert origin["jobs"].startswith("/opt/factory/jobs/"), origin
    assert origin["cli"].startswith("/opt/venv/"), origin
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s", summary), summary  # none failed, none skipped
    figures = {
        mode: json.loads(match)
        for mode, match in re.findall(r"tool canaries, (contained|open) box: (\{.*\})", out)
    }
    assert figures["contained"]["canary hits"] == 0 and figures["contained"]["canaries the hunt found"] == 0
    assert figures["open"]["canaries the hunt found"] == 4  # the hunt is real in this image too
    print(f"\ne2e image {ref}: {json.dumps(figures)}")
