"""``factory demo --job onboard-client --client DOMAIN [--mode MODE]``: a client of the support-bot
onboarded through ``factory.yaml`` on the local engine.

The support-bot example is seeded into a fresh bare remote under ``<artifacts>/onboard-demo/``, then:

- ``full``: a new client whose source material the example ships (``onboarding/<client>/``, e.g.
  ``lumen-fitness.example``): the agent (the real CLI, the offline model's scripted turns unless
  ``--real``) writes its dataset, then its config and skills; Factory runs the eval, tunes, pushes the
  branch; review and e2e-verify follow, and a PR is opened;
- ``update-skills``: an existing client whose knowledge-base change the example ships
  (``onboarding/updates/<client>/``, e.g. ``northwind-travel.example``), committed to ``main`` first as
  its staff would; the agent updates the skills from the change, with the eval before and after;
- ``eval-only``: the eval of any existing client (``acme-shop.example``, ``northwind-travel.example``).

What is printed comes from the results our code wrote: the baseline and each round's accuracy, then the
review's and e2e's results and the branch's commit.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from jobs.errors import ConfigError
from jobs.onboard.config import check_client
from jobs.onboard.tickets import branch_for_onboarding
from jobs.workspace.git import Git
from orchestration.local.inputs import resolve_path
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import EXAMPLES, example_stack
from orchestration.local.summary import print_branch, print_run_summary, print_workflow
from orchestration.local.ticket import exit_code

JOB = "onboard-client"
APP = EXAMPLES / "support-bot"
MODES = ("full", "update-skills", "eval-only")


def check_demo_client(client: str, mode: str) -> None:
    """ConfigError, before anything runs, for a client the example cannot onboard in ``mode``."""
    check_client(client)
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    shipped = sorted(p.name for p in (APP / "clients").iterdir() if p.is_dir())
    material = sorted(p.name for p in (APP / "onboarding").iterdir() if p.is_dir() and p.name != "updates")
    updates = sorted(p.name for p in (APP / "onboarding" / "updates").iterdir() if p.is_dir())
    if mode == "full" and client not in material:
        raise ConfigError(
            f"the support-bot example has no onboarding material for {client}: --mode full onboards "
            f"one of {', '.join(material)} (its onboarding/<client>/ folder)"
        )
    if mode == "update-skills" and client not in updates:
        raise ConfigError(
            f"the support-bot example ships no knowledge-base update for {client}: --mode update-skills "
            f"runs for {', '.join(updates)} (onboarding/updates/<client>/)"
        )
    if mode == "eval-only" and client not in shipped:
        raise ConfigError(f"{client} is not a client of the support-bot example ({', '.join(shipped)} are)")


def demo_onboard(
    client: str,
    mode: str,
    artifacts: Path,
    real_model: bool,
    *,
    scenarios: Path | None = None,
    keep_work: bool = False,
) -> int:
    """Onboard ``client`` in ``mode`` through the workflow; 0 done, 1 failed, 3 e2e skipped."""
    check_demo_client(client, mode)
    prefix = resolve_path(artifacts) / "onboard-demo"
    remote = prefix / "support-bot.git"
    if remote.exists():
        shutil.rmtree(remote)
    seed_bare_remote(APP, remote)
    if mode == "update-skills":
        print(f"main        the staff's knowledge-base change for {client}: {commit_update(remote, client)}")
    stack = example_stack(remote, prefix, real_model, scenarios, keep_work)
    print(f"onboard-client {client} ({mode}) -> {remote}; orchestration/factory.yaml on the local engine\n")
    run_id = f"onboard-{client.split('.')[0]}-{mode}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    run = stack.run({"job": JOB, "client": client, "mode": mode}, run_id)
    print_run_summary(prefix, run_id, JOB)
    if mode != "eval-only":
        print_branch(remote, branch_for_onboarding(client, mode))
    code = exit_code(run)
    print_workflow(run, code == 3)
    print(f"\nartifacts   {prefix} (factory runs --artifacts {prefix})")
    return code


def commit_update(remote: Path, client: str) -> str:
    """Commit the example's knowledge-base update for ``client`` onto ``main`` of ``remote``, as the
    client's staff would; returns the commit's first line."""
    update = APP / "onboarding" / "updates" / client
    git = Git(author=("Support staff", "staff@support.example"))
    with tempfile.TemporaryDirectory(prefix="factory-update-") as tmp:
        work = Path(tmp) / "work"
        git.run(["clone", "--quiet", "--branch", "main", str(remote), str(work)])
        for source in sorted(update.rglob("*")):
            relative = source.relative_to(update)
            if source.is_file() and relative.parts[0] == "clients":
                (work / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, work / relative)
        title = f"{client}: knowledge-base update (from onboarding/updates/{client})"
        git.run(["add", "--all"], work)
        git.run(["commit", "--quiet", "-m", title], work)
        git.run(["push", "--quiet", "origin", "HEAD:refs/heads/main"], work)
    return title
