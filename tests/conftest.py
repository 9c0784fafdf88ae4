"""Shared fixtures: the offline model, seeded bare remotes, canary secrets; stopping a server process and
finding what a test left running; and the order in which ``make test``'s workers (pytest-xdist) take
the tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from jobs.agent.reaper import become_subreaper
from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.remote import seed_bare_remote

if TYPE_CHECKING:
    from tests.attacker.scene import Listener

TESTS = Path(__file__).resolve().parent  # fixtures: tickets/, scenarios/, workflows/, fake_cli.py
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples"
TEST_SCENARIOS = TESTS / "scenarios"

# The Makefile's uv (and nothing else of its tools) on the PATH, as ``make test`` has it when pytest is run
# directly: the support-bot's install (its script/bootstrap) takes it over venv and pip when there.
SHIMS = ROOT / ".tools" / "shims"
if SHIMS.is_dir() and str(SHIMS) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([str(SHIMS), os.environ.get("PATH", os.defpath)])

# Under ``make test`` (pytest-xdist, -n 4) a module here is one unit of work, run by one worker: its
# module-scoped fixture (an install, an emulator, a played day) is set up once. Every other test is a
# unit of its own. (``xdist_group`` marks would say the same, but xdist 3.8's --dist loadgroup ignores
# them on pytest 9.2: pytest-dev/pytest-xdist#1386.)
SHARED = (
    "tests/examples/test_support_bot.py",  # app: the support-bot's venv, installed from PyPI
    "tests/images/test_images.py",  # runner: finds the engine and the image
    "tests/jobs/phases/test_e2e_database.py",  # seeded: a PostgreSQL cluster
    "tests/jobs/test_artifacts.py",  # gcs_endpoint: fake-gcs-server
    "tests/jobs/test_model_proxy.py",  # model: an offline model of the module's own
    "tests/orchestration/local/test_night_local.py",  # nights: a night with a failed chain, fired twice
    "tests/orchestration/local/test_traffic.py",  # day: the support-bot's day of traffic
    "tests/orchestration/local/test_triage_scenarios.py",  # venv, played: the triage fixes, played
    "tests/orchestration/receiver/test_receiver_pubsub.py",  # pubsub_emulator: the Java emulator
)
# Tests of several modules that share a session-scoped fixture, made one unit named for it (node id
# prefixes each), so that one worker sets it up once.
TOGETHER = {
    "example_chain": (  # tests/jobs/conftest.py: IX-101's chain, implement to e2e-verify
        "tests/jobs/phases/test_review_phase.py::test_example_ticket_fails_the_first_review",
        "tests/jobs/phases/test_e2e_phase.py::test_the_example_ticket_fails_in_the_browser",
        "tests/jobs/report/test_report_browser.py",
    ),
}

# Tests whose figures are times (a job stopped at its timeout, an ack within its deadline) or that
# drive the container engine: ``make test`` runs them after the parallel part, on two workers (one
# per core), so that four workers' load cannot push them past their limits. A node id prefix each.
SERIAL = (
    "tests/images/",  # podman: the implement job past its task timeout, the e2e image's hunts
    # 50 acks against a silent Pub/Sub, each within twice the 0.5 s deadline: under four workers' load
    # the slowest took 1.002 s once (CI, 2026-12-05), its wait for the deadline being right.
    "tests/orchestration/receiver/test_receiver_pubsub.py::test_a4_",
)

# The longest tests and modules, longest first, as measured serially on the 2-core machine: under
# ``make test`` they start first, so that none of them starts last and runs alone at the end. A node id
# prefix or a ``TOGETHER`` unit each; the tests not named keep their order after them.
LONGEST = (
    "tests/orchestration/local/test_night_demo.py",  # ~80 s
    "tests/orchestration/local/test_support_bot_demo.py::test_sb_1_",  # ~35 s
    "tests/orchestration/local/test_onboard_demo.py::test_an_onboarding_that_changes_files",  # 2 x ~45 s
    "tests/examples/test_support_bot.py",  # the app's installs (uv, then pip), its suite and evals: ~25 s
    "tests/orchestration/local/test_local_runs.py::test_the_demo_twice_in_a_row",  # ~40 s
    "tests/orchestration/local/test_real_target.py::test_taskboard_ticket",  # ~40 s
    "tests/orchestration/local/test_triage_scenarios.py",  # ~35 s
    "example_chain",  # IX-101's chain, the e2e phase's re-run, the report in Chromium: ~38 s
    "tests/jobs/onboard/test_onboard_phase.py::test_full_mode",  # 2 x ~30 s
    "tests/jobs/onboard/test_onboard_phase.py::test_a_spent_budget",  # ~30 s
    "tests/jobs/onboard/test_onboard_attacks.py",  # 5 x ~18 s
    "tests/orchestration/local/test_local_runs.py::test_the_hostile_ticket",  # ~15 s
    "tests/orchestration/local/test_night_local.py",  # two nights of three chains and two short: ~40 s
    "tests/jobs/phases/test_crash_boundaries.py::test_b3_review_killed",  # ~20 s
    "tests/jobs/phases/test_crash_boundaries.py::test_b3_implement_killed",  # 3 x ~15 s
    "tests/images/test_images.py",  # the implement phase in its container
    "tests/jobs/phases/test_review_phase.py::test_three_failed_reviews",  # ~16 s
    "tests/jobs/test_agent_runner.py::test_c5_",  # 3 x ~10 s
    "tests/orchestration/local/test_traffic.py",
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to under pytest-xdist: its ``TOGETHER`` unit if it is in one, its
    module if the module is ``SHARED``, else itself."""
    together = next((unit for unit, prefixes in TOGETHER.items() if nodeid.startswith(prefixes)), None)
    if together is not None:
        return together
    module = nodeid.split("::", 1)[0]
    return module if module in SHARED else nodeid


def pytest_configure(config: pytest.Config) -> None:
    # Orphans of a test's processes (a daemon, a server whose supervisor died) are re-parented to this
    # process instead of init: they stay below it, where ``processes_matching`` looks for them.
    become_subreaper()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For ``-n`` with the default ``--dist load``: load balancing by ``unit_of``, in the order the
    workers collected (``pytest_collection_modifyitems`` below), not reordered by size."""
    if config.getoption("dist") != "load":
        return None  # another --dist asked for: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return Units(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``SERIAL`` tests get the ``serial`` mark. Under pytest-xdist, the ``LONGEST`` units first. A
    worker is handed two units at the start, round robin, and runs them in turn: the first round goes to
    the longest, the second to short ones, so that no long test waits behind another."""
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
    workers = getattr(config, "workerinput", {}).get("workercount")
    if not workers:
        return  # not a worker: the collection order stands
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(unit_of(item.nodeid), []).append(item)

    def rank(unit: str) -> int:
        return next((i for i, prefix in enumerate(LONGEST) if unit.startswith(prefix)), len(LONGEST))

    ranked = sorted(units, key=rank)  # stable: the units not named keep their order
    longest = [unit for unit in ranked if rank(unit) < len(LONGEST)]
    others = ranked[len(longest) :]
    order = longest[:workers] + others[:workers] + longest[workers:] + others[workers:]
    items[:] = [item for unit in order for item in units[unit]]


@pytest.fixture(scope="session")
def offline_model() -> Iterator[OfflineModelServer]:
    """One offline model for the session, playing the example scenarios and the tests' own."""
    book = ScenarioBook.load(EXAMPLES / "scenarios", TEST_SCENARIOS)
    with OfflineModelServer(book) as server:
        yield server


@pytest.fixture
def model_auth(offline_model: OfflineModelServer) -> dict[str, str]:
    return offline_env(offline_model)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A TCP listener on every address of this machine, counting who reached it (the attacker's aim)."""
    from tests.attacker.scene import Listener  # here: the scene module uses this one's helpers

    server = Listener()
    yield server
    server.sock.close()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository seeded with the example notes app on ``main``."""
    return seed_bare_remote(EXAMPLES / "notes-app", tmp_path / "remote.git")


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, and SIGKILL if it still runs ``grace`` seconds later; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def live_processes(pids: Iterable[int]) -> dict[int, int]:
    """Those of ``pids`` running now (a zombie does not count), each with its start time (clock ticks since
    boot): with the pid, a process's identity. pid_max is 32768 on this machine and the suite's parallel
    part starts about 18,000 processes (process accounting), so a pid can name another process seconds
    later."""
    found: dict[int, int] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[pid] = int(fields[19])
    return found


def still_running(processes: dict[int, int]) -> set[int]:
    """Those of ``processes`` (as ``live_processes`` found them) that are the same processes, running."""
    now = live_processes(processes)
    return {pid for pid, started in processes.items() if now.get(pid) == started}


def processes_matching(marker: str) -> list[str]:
    """Command lines of live processes below this one containing ``marker`` (to find orphans).

    Below this process, orphans included (``pytest_configure`` makes it their subreaper): what other
    tests run at the same time (pytest-xdist's other workers, another checkout's suite) is theirs.
    """
    me = os.getpid()
    children: dict[int, list[int]] = {}
    cmdlines: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(proc.name)
        children.setdefault(int(fields[1]), []).append(pid)
        if fields[0] != "Z":
            cmdlines[pid] = cmdline
    found, below = [], list(children.get(me, []))
    while below:
        pid = below.pop()
        below.extend(children.get(pid, []))
        if marker in cmdlines.get(pid, ""):
            found.append(cmdlines[pid])
    return found
