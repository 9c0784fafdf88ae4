"""Containment, tried as an attacker would (RELIABILITY E1-E5): a hostile repository and a scripted agent.

The target repository carries ``tests/attacker/attack.py``; its own install command runs it, and the
scripted agent runs it from its Bash tool through the real Claude Code CLI. It tries what got through
before the box: pushing to the remote (through ``sh -c``, ``git -c``, to ``main``), connecting out (a
socket, bash's ``/dev/tcp``, urllib, DNS) to a listener of ours on every address of this machine, reading
the harness's environment (its secrets) and signalling it, and reading and writing the artifacts and
another run's files. The phase runs as its job does (``python -m jobs implement``, its secrets in its
environment), once contained and once with the box open, which shows the attacks are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.local.offline_model import OfflineModelServer
from orchestration.local.stack import local_job_env
from tests.attacker.scene import CANARIES, INJECTED, TICKET, Listener, Scene, allowed, prepare
from tests.conftest import ROOT, TESTS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containment takes root")


def run_attacked_phase(
    remote: Path, tmp: Path, model_auth: dict[str, str], listener: Listener, containment: str
) -> tuple[Scene, subprocess.CompletedProcess[str]]:
    scene = prepare(remote, tmp, listener, "r1")
    env = local_job_env(
        TICKET, remote, scene.artifacts, "r1", workdir=tmp / "work" / "r1", tickets_dir=TESTS / "tickets"
    )
    job = subprocess.run(
        [sys.executable, "-m", "jobs", "implement"],
        env={
            **os.environ,
            **env,
            **model_auth,
            **CANARIES,
            "CONTAINMENT": containment,
            "KILL_GRACE_SECONDS": "2",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return scene, job


def test_the_box_refuses_every_attack_of_the_agent_and_the_target_commands(
    remote: Path,
    tmp_path: Path,
    model_auth: dict[str, str],
    listener: Listener,
    offline_model: OfflineModelServer,
) -> None:
    scene, job = run_attacked_phase(remote, tmp_path, model_auth, listener, "require")
    assert job.returncode == 0, job.stderr[-2000:]
    figures = scene.assert_contained(listener)
    assert figures["attempts"] >= 30
    # E3: the repository's CLAUDE.md never reached the model (its hook and MCP server never ran: above).
    sent = json.dumps([r.body for r in offline_model.requests if r.scenario == "implement-IX-940"])
    assert "implement-IX-940" in {r.scenario for r in offline_model.requests} and INJECTED not in sent


def test_with_the_box_open_the_same_attacks_get_through(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], listener: Listener
) -> None:
    """The control: without the box (CONTAINMENT=off) the attacker does reach what the box keeps from it."""
    scene, _ = run_attacked_phase(remote, tmp_path, model_auth, listener, "off")
    install, agent = scene.results()
    got_through = set(allowed(install)) | set(allowed(agent))
    print("\nwith the box open, allowed:", sorted(got_through))
    assert {"read the harness's environment", "signal the harness", "push to main"} <= got_through
    assert listener.hits  # it reached a listener on this machine
    assert str(scene.other_run / "pwned.txt") in scene.touched_outside()
