"""The implement phase end to end: real git, the real Claude Code CLI, the offline model.

Covers RELIABILITY C6 (no changes), D1 (resume), D3 (default branch), E1 (canaries in every sink).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from jobs.agent.reaper import descendants
from jobs.models import RunManifest
from jobs.phases.implement.records import ImplementResult
from jobs.sandbox.box import PARENT_ENV
from orchestration.local.connectors import task_dir
from tests.conftest import ROOT, git, live_processes, still_running
from tests.phase_jobs import implement_job, job_env

CANARIES = {
    "GITHUB_TOKEN": "ghp_canaryPHASEcanaryPHASEcanary00000001",
    "LINEAR_API_KEY": "lin_api_canaryPHASEcanaryPHASEcanary0002",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/TCANARY/BCANARY/canary0003",
}


def run_phase(
    ticket: str, remote: Path, tmp: Path, model_auth: dict[str, str], run_id: str = "r1"
) -> ImplementResult:
    return implement_job({**job_env(ticket, remote, tmp, model_auth, run_id), **CANARIES})


def remote_branches(remote: Path) -> list[str]:
    return git("--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def test_ticket_becomes_a_pushed_branch_whose_tests_pass(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    result = run_phase("IX-101", remote, tmp_path, model_auth)
    assert result.status == "done", result.detail
    assert result.pushed and not result.resumed and len(result.commits) == 1
    assert result.agent is not None and result.agent.turns >= 4
    assert set(result.timings) >= {"ticket", "clone", "install", "agent", "commit_push"}
    checkout = tmp_path / "check"
    git("clone", "-q", "-b", "factory/ix-101", str(remote), str(checkout))
    assert "word_count" in (checkout / "notes_app" / "store.py").read_text()
    tests = subprocess.run(
        ["python3", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stderr
    message = git("log", "-1", "--format=%B", cwd=checkout)
    assert message.startswith("IX-101: Add a word count to each note")
    run_dir = tmp_path / "artifacts" / "runs" / "r1"
    stored = read_model_file(run_dir / "implement" / "result.json", ImplementResult)
    assert stored.head_sha == result.head_sha
    assert RunManifest.model_validate_json((run_dir / "manifest.json").read_text()).branch == "factory/ix-101"
    assert (run_dir / "implement" / "transcript.jsonl").stat().st_size > 0


def read_model_file(path: Path, cls: type[ImplementResult]) -> ImplementResult:
    return cls.model_validate_json(path.read_text())


def test_d1_rerun_resumes_the_same_branch(remote: Path, tmp_path: Path, model_auth: dict[str, str]) -> None:
    first = run_phase("IX-101", remote, tmp_path, model_auth, run_id="r1")
    second = run_phase("IX-101", remote, tmp_path, model_auth, run_id="r2")
    assert first.status == "done"
    assert second.resumed and second.status == "done", second.detail
    assert second.head_sha == first.head_sha and second.commits == first.commits  # nothing redone
    assert not second.pushed
    ticket_branches = [b for b in remote_branches(remote) if b != "main"]
    print(f"\nD1 branches per ticket after a re-run: {len(ticket_branches)} ({', '.join(ticket_branches)})")
    assert ticket_branches == ["factory/ix-101"]


def test_c6_no_changes_no_branch_and_the_ticket_is_told(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    result = run_phase("IX-103", remote, tmp_path, model_auth)
    assert result.status == "no_changes", result.detail
    assert not result.pushed and result.commits == []
    pulls = list((tmp_path / "artifacts" / "pulls").glob("*.json"))  # where a local PR record would be
    print(f"\nC6 PRs: {len(pulls)}; branches pushed: {len(remote_branches(remote)) - 1}")
    assert remote_branches(remote) == ["main"]
    log = json.loads((tmp_path / "artifacts" / "tickets" / "IX-103.json").read_text())
    assert "no changes" in json.dumps(log)


def test_d7_hostile_ticket_title_is_flattened_in_the_commit(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    result = run_phase("IX-102", remote, tmp_path, model_auth)
    assert result.status == "done", result.detail
    subject, *_ = git("--git-dir", str(remote), "log", "-1", "--format=%B", "factory/ix-102").split("\n")
    assert subject.startswith("IX-102: ")
    assert not any(c in subject for c in "\u2028\u202e\r")
    assert "Phase: re" in subject and len(subject) <= len("IX-102: ") + 120  # one clamped line


def variants(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(secret.encode()).decode()[:24],
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
    ]


def test_e1_d3_canaries_reach_no_sink_and_main_is_untouched(
    remote: Path,
    tmp_path: Path,
    model_auth: dict[str, str],
    capfd: pytest.CaptureFixture[str],
    offline_model: object,
) -> None:
    main_before = git("--git-dir", str(remote), "rev-parse", "main")
    result = run_phase("IX-901", remote, tmp_path, model_auth)
    # The agent wrote its environment into the repo. It holds no secret of ours: the model key stays in
    # the harness's model proxy, the agent has a per-run token that died with the run. So the commit
    # goes to the ticket's branch (never main), and the dump shows what the agent could see.
    assert result.status == "done", result.detail
    assert remote_branches(remote) == ["factory/ix-901", "main"]
    dump = json.loads(git("--git-dir", str(remote), "show", "factory/ix-901:env-dump.json"))
    assert dump["ANTHROPIC_API_KEY"] != model_auth["ANTHROPIC_API_KEY"]
    assert dump["ANTHROPIC_BASE_URL"] != model_auth["ANTHROPIC_BASE_URL"]
    assert not set(dump) & {*CANARIES, "LINEAR_API_KEY", "GITHUB_TOKEN"}
    assert result.agent is not None and result.agent.permission_denials == 1  # the push to main
    main_after = git("--git-dir", str(remote), "rev-parse", "main")
    assert main_after == main_before
    logs = "".join(capfd.readouterr())
    print(f"\nD3 protected pushes: {int(main_after != main_before)}")  # after capfd's read: shown with -s
    sinks = {
        "logs": logs,
        "artifacts": "".join(
            p.read_text(errors="replace") for p in (tmp_path / "artifacts").rglob("*") if p.is_file()
        ),
        "pushed objects": subprocess.run(
            ["git", "--git-dir", str(remote), "cat-file", "--batch-all-objects", "--batch"],
            capture_output=True,
            check=True,
        ).stdout.decode(errors="replace"),
        ".git/config": "".join(p.read_text() for p in (tmp_path / "work" / "r1").glob("*/.git/config")),
        "model requests": json.dumps([r.body for r in offline_model.requests]),  # type: ignore[attr-defined]
    }
    hits = [
        (name, key)
        for name, text in sinks.items()
        for key, secret in CANARIES.items()
        for v in variants(secret)
        if v in text
    ]
    print(f"\nE1 canary hits: {len(hits)} ({len(CANARIES)} canaries x 4 variants, {len(sinks)} sinks)")
    assert hits == []


def test_finished_work_is_pushed_when_its_transcript_cannot_be_kept(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    """Issue 14, item 17: the store refuses the transcript (as a full disk would: here a directory
    stands where the file goes); the agent's change is committed and pushed all the same, and the log
    says what was not kept."""
    (tmp_path / "artifacts" / "runs" / "r1" / "implement" / "transcript.jsonl").mkdir(parents=True)
    result = run_phase("IX-101", remote, tmp_path, model_auth)
    assert result.status == "done" and result.pushed, result.detail
    assert git("--git-dir", str(remote), "rev-parse", "factory/ix-101").strip() == result.head_sha
    assert "could not keep runs/r1/implement/transcript.jsonl" in capfd.readouterr().err


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b"(gone)"


def test_b3_a_job_killed_mid_agent_leaves_no_process_behind(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """Issue 14, item 20: SIGKILL to the phase job (no clean-up of its own) while its agent waits on the
    model (IX-920's model answers after 60 s). The supervisor, the CLI and the box's namespace holder
    were left running; they now end with the job (PR_SET_PDEATHSIG)."""
    env = job_env("IX-920", remote, tmp_path, model_auth, "r1")
    with task_dir() as boxes:  # the killed job's box tree goes with it, as run_subprocess does
        job = subprocess.Popen(
            [sys.executable, "-m", "jobs", "implement"],
            env={**os.environ, **env, PARENT_ENV: str(boxes)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            below: set[int] = set()
            while time.monotonic() < deadline:  # until the CLI runs under the supervisor
                below = set(descendants(job.pid))
                cmdlines = [_cmdline(pid) for pid in live_processes(below)]
                if any(b"reaper.py" in c for c in cmdlines) and any(
                    b"--output-format" in c for c in cmdlines
                ):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the agent never started")
            identity = live_processes(below)
            job.kill()
            job.wait()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and still_running(identity):
                time.sleep(0.2)
            left = {pid: _cmdline(pid) for pid in still_running(identity)}
            print(f"\nB3 mid-agent: {len(below)} processes below the job, {len(left)} left after SIGKILL")
            assert left == {}
        finally:
            if job.poll() is None:
                job.kill()
