"""A job process starts our MCP servers (``jobs.mcp.config``, ``jobs.mcp.serve``) but never loads one: a
server imports the MCP library and Playwright, CPU that every phase's process would pay for nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# Every module of the jobs package but the servers themselves, imported in a fresh interpreter; then
# which heavy libraries it loaded.
PROBE = """
import importlib, json, pkgutil, sys
import jobs
HARNESS = ("jobs.mcp.config", "jobs.mcp.serve", "jobs.mcp.served")
loaded = []
for info in pkgutil.walk_packages(jobs.__path__, "jobs."):
    name = info.name
    if name.endswith("__main__"):
        continue
    if name.startswith("jobs.mcp.") and not name.startswith(HARNESS):
        continue
    importlib.import_module(name)
    loaded.append(name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"mcp", "mcp_types", "playwright", "uvicorn"})
print(json.dumps({"loaded": loaded, "heavy": heavy}))
"""


def test_no_module_a_job_runs_imports_the_mcp_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(done.stdout)
    # The probe did reach the phases and the harness side of the tools.
    reached = {"jobs.entrypoint", "jobs.phases.kit.tools", "jobs.phases.e2e.browser_agent", "jobs.mcp.serve"}
    assert reached | {"jobs.mcp.config.browser"} <= set(found["loaded"])
    assert found["heavy"] == []
