"""The onboard phase (job ``onboard-client``): a client's dataset, config and skills, tuned against the
target's own eval, in three modes.

- ``full``: a new client. Its knowledge base is copied from the source material by our code; one agent
  run writes the eval dataset from the material, a second run, which cannot see the dataset, writes
  the config and skills. Our code checks the dataset, splits it (``dataset.py``), runs the eval and
  records the baseline; then the tuning loop.
- ``update-skills``: an existing client whose knowledge base changed since its last onboarding: the
  agent updates the skills from the change, then the same loop, on the same split.
- ``eval-only``: the eval of an existing client, as the base branch holds it; no agent, no branch.

The tuning loop: the agent is shown only the tuning part's failures, works in a tree of its own in
which the held-out cases do not exist (``tree.py``), and may change only the tunable paths; our code
re-runs the eval; a round that lowers the tuning accuracy is undone; the loop stops at the target or
the round cap. The branch (``factory/onboard/<client>-<mode>``) is pushed with the client's files, and
the review and e2e phases then take it as a ticket (``tickets.py``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

from jobs import prompts
from jobs.agent import AgentStatus
from jobs.artifacts import write_model
from jobs.errors import ConfigError, StepFailed
from jobs.logs import get_logger
from jobs.models import run_key, utc_now
from jobs.onboard.body import accuracy_table, refused_lines
from jobs.onboard.config import ClientPaths, OnboardingConfig, check_client
from jobs.onboard.dataset import Case, Split, cases_file, parse_dataset, split
from jobs.onboard.evaluate import CaseResult, EvalRun, PartScore, run_eval
from jobs.onboard.records import AgentRun, DatasetInfo, OnboardResult, Purpose, Score, TuningRound
from jobs.onboard.summary import notices
from jobs.onboard.tickets import OnboardingTicket, branch_for_onboarding, identifier_for, write_ticket
from jobs.onboard.tree import closed_to_box, is_noise, make_agent_tree, take_back
from jobs.phases.kit.budget import BudgetSpent, PhaseBudget
from jobs.phases.kit.steps import Stopwatch, log_failure, run_agent, write_result
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import CONFIG_FILE, TargetConfig, base_target_config
from jobs.workspace import Workspace
from jobs.workspace.install import install
from jobs.workspace.snapshot import tree_state

PHASE = "onboard"
TRAILER = "Factory-Onboarding"
MAX_MATERIAL_BYTES = 256 * 1024  # the source material as a whole
MAX_MATERIAL_PROMPT = 24_000  # what of it a prompt quotes
MAX_FAILURES_SHOWN = 30
MAX_KB_DIFF = 16_000
RESERVE_SECONDS = 60  # besides the eval's own timeout: commit and push after the last round


def run_onboard(settings: JobSettings, services: Services, run_id: str) -> OnboardResult:
    """Run the mode and write ``onboard/result.json`` whatever happens."""
    clock = Stopwatch()
    client, mode = settings.client_domain or "", settings.mode
    result = OnboardResult(
        run_id=run_id,
        ticket_identifier="",
        branch="",
        base_branch=settings.base_branch,
        started_at=utc_now(),
        status="failed",
        client=client,
        mode=mode,
    )
    onboarding: Onboarding | None = None
    try:
        if not client:
            raise ConfigError("invalid setting CLIENT_DOMAIN: required for the onboard-client job")
        check_client(client)
        identifier = identifier_for(client, mode)
        result = result.model_copy(
            update={
                "ticket_identifier": identifier,
                "ticket": identifier if mode != "eval-only" else "",
                "branch": branch_for_onboarding(client, mode),
            }
        )
        onboarding = Onboarding(settings, services, run_id, clock, result)
        onboarding.run()
        result = onboarding.result
    except Exception as exc:
        log_failure(PHASE, exc)
        services.security.note_failure(exc)
        if onboarding is not None:
            result = onboarding.result
        result = result.model_copy(update={"status": "failed", "detail": services.redact(str(exc))})
    return write_result(services, PHASE, result.model_copy(update={"notices": notices(result)}), clock)


@dataclass
class Onboarding:
    """One onboarding run; ``result`` grows as it goes, so a failure keeps what was done."""

    settings: JobSettings
    services: Services
    run_id: str
    clock: Stopwatch
    result: OnboardResult
    checkout: Workspace | None = None
    paths: ClientPaths | None = None
    config: TargetConfig | None = None
    budget: PhaseBudget | None = None
    parts: Split | None = None
    runs: int = 0

    # --- the modes --------------------------------------------------------------------------
    def run(self) -> None:
        checkout, paths, onboarding = self._prepare()
        mode = self.result.mode
        update = ""
        if mode == "update-skills":  # before anything is installed: nothing changed, nothing to do
            update = self._knowledge_change(checkout, paths)
            if not update:
                self._update(status="no_changes")
                return
        material = self._material(checkout, paths, onboarding) if mode == "full" else {}
        self._install(checkout)
        if mode == "full":
            self._write_client(checkout, paths, onboarding, material)
        cases = self._dataset(checkout, paths, onboarding)
        self.parts = split(paths.client, cases, onboarding.held_out_fraction)
        if mode == "eval-only":
            self._eval_only(paths, onboarding)
            return
        self._update(
            dataset=DatasetInfo(
                path=paths.dataset,
                cases=len(cases),
                tuning=len(self.parts.tuning),
                held_out=len(self.parts.held_out),
                held_out_ids=sorted(self.parts.held_out_ids),
            ),
            target_accuracy=onboarding.target_accuracy,
        )
        baseline = self._score("baseline")
        self._update(baseline=baseline, final=baseline)
        self._tune(paths, onboarding, update)
        self._flag(onboarding)
        self._commit(paths)
        self._write_ticket(paths, onboarding)

    def _prepare(self) -> tuple[Workspace, ClientPaths, OnboardingConfig]:
        settings, services = self.settings, self.services
        # eval-only never pushes: its checkout is the base branch, under a local branch of its own.
        checkout = Workspace(
            services.git,
            settings.repo_url or "",
            services.place("repo"),
            self.result.branch,
            settings.base_branch,
            services.box,
        )
        with self.clock.step("clone"):
            checkout.clone()
        if self.result.mode == "eval-only" and checkout.resumed:
            checkout.git.run(
                ["checkout", "--quiet", "-B", checkout.branch, f"origin/{checkout.base_branch}"],
                checkout.path,
            )
        self.checkout = checkout
        config = base_target_config(checkout)
        if config.onboarding is None:
            raise ConfigError(f"{CONFIG_FILE} on {settings.base_branch} has no onboarding: section")
        onboarding = config.onboarding
        paths = onboarding.for_client(self.result.client)
        self.paths, self.config = paths, config
        self.budget = PhaseBudget(settings, config)
        onboarded = checkout.base_file(paths.dataset) is not None
        if self.result.mode == "full" and onboarded:
            raise ConfigError(
                f"{paths.client} is already onboarded ({paths.dataset} is on {settings.base_branch}): "
                "use mode update-skills or eval-only"
            )
        if self.result.mode != "full" and not onboarded:
            raise ConfigError(
                f"{paths.client} is not onboarded yet (no {paths.dataset} on {settings.base_branch}): "
                "use mode full"
            )
        get_logger().info("onboarding %s (%s) on %s", paths.client, self.result.mode, checkout.branch)
        # The checkout is ours: the box may read it, never change it (the clone handed it over).
        services.box.take_back(checkout.path)
        return checkout, paths, onboarding

    def _install(self, checkout: Workspace) -> None:
        """The target's install, in the box; then the checkout is ours again, for good: the box may read
        and run it (the eval), never change it."""
        assert self.config is not None and self.budget is not None
        config, services = self.config, self.services
        services.box.hand_over(checkout.path)
        with self.clock.step("install"):
            timeout = self.budget.command_seconds(config.install_timeout_seconds)
            log = install(config, checkout.path, timeout, services.box)
        services.store.write_bytes(self._key("install.log"), services.redact(log).encode())
        services.box.take_back(checkout.path)

    def _eval_only(self, paths: ClientPaths, onboarding: OnboardingConfig) -> None:
        score = self._score("eval-only")
        run = self._last_eval
        assert run is not None
        failing = sorted([f.id for f in run.failures] + run.held_out_failed)
        passed = score.tuning.passed + score.held_out.passed
        total = score.tuning.cases + score.held_out.cases
        self._update(
            status="done",
            baseline=score,
            final=score,
            failures=failing,
            target_accuracy=onboarding.target_accuracy,
            detail=f"{paths.client}: {passed}/{total} cases pass ({passed / total:.1%}); "
            f"tuning {score.tuning.accuracy:.1%}, held-out {score.held_out.accuracy:.1%}",
        )

    # --- full: the client's files from its material --------------------------------------------
    def _write_client(
        self,
        checkout: Workspace,
        paths: ClientPaths,
        onboarding: OnboardingConfig,
        material: dict[str, bytes],
    ) -> None:
        quoted = prompts.fence("source-material", _material_text(material), MAX_MATERIAL_PROMPT)
        if paths.knowledge_dir and not (checkout.path / paths.knowledge_dir).exists():
            for name, data in material.items():
                if name.startswith("kb/"):
                    target = checkout.path / paths.knowledge_dir / name.removeprefix("kb/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        give = (
            {f"{paths.source_dir}/{name}": data for name, data in material.items()}
            if onboarding.source == "upload"
            else {}
        )
        if not (checkout.path / paths.dataset).exists():
            prompt = prompts.render(
                "onboard-dataset",
                client=paths.client,
                workspace="{tree}",
                source_dir=paths.source_dir,
                dataset=paths.dataset,
                min_cases=str(onboarding.min_cases),
                material=quoted,
            )
            run = self._agent("dataset", prompt, lambda path: path == paths.dataset, give=give)
            self._update(writing=[*self.result.writing, run])
            if not (checkout.path / paths.dataset).exists():
                raise StepFailed(f"the dataset run wrote no {paths.dataset}")
        cases = tuple(self._dataset(checkout, paths, onboarding))  # checked now: before any skills run
        if not self._tunable_files(paths):
            prompt = prompts.render(
                "onboard-skills",
                client=paths.client,
                workspace="{tree}",
                knowledge_dir=paths.knowledge_dir or paths.client_dir,
                client_dir=paths.client_dir,
                tunable=", ".join(f"`{p}`" for p in paths.tunable),
                material=quoted,
            )
            run = self._agent(
                "skills", prompt, paths.may_change, hide=(paths.dataset,), give=give, secret=cases
            )
            self._update(writing=[*self.result.writing, run])
            if not self._tunable_files(paths):
                raise StepFailed(f"the skills run wrote none of {', '.join(paths.tunable)}")

    def _material(
        self, checkout: Workspace, paths: ClientPaths, onboarding: OnboardingConfig
    ) -> dict[str, bytes]:
        """The source material's files by relative path: a folder of the base branch, or the upload."""
        found: dict[str, bytes] = {}
        if onboarding.source == "upload":
            prefix = f"onboarding/uploads/{paths.client}/"
            for key in self.services.store.list(prefix):
                found[key.removeprefix(prefix)] = self.services.store.read_bytes(key)
            where = self.services.store.url(prefix.rstrip("/")) + "/"
        else:
            root = checkout.path / paths.source_dir
            for relative in sorted(tree_state(root)) if root.is_dir() else []:
                path = root / relative
                if path.is_file() and not path.is_symlink():
                    found[relative] = path.read_bytes()
            where = f"{paths.source_dir}/ on {self.settings.base_branch}"
        if not found:
            raise ConfigError(f"no source material for {paths.client} (nothing in {where})")
        if sum(len(data) for data in found.values()) > MAX_MATERIAL_BYTES:
            raise StepFailed(f"the source material in {where} is larger than {MAX_MATERIAL_BYTES} bytes")
        return found

    def _dataset(self, checkout: Workspace, paths: ClientPaths, onboarding: OnboardingConfig) -> list[Case]:
        path = checkout.path / paths.dataset
        if not path.is_file():
            raise StepFailed(f"no dataset at {paths.dataset}")
        return parse_dataset(path.read_bytes(), onboarding.min_cases)

    # --- update-skills: what changed in the knowledge base ------------------------------------
    def _knowledge_change(self, checkout: Workspace, paths: ClientPaths) -> str:
        """The update section of the first round's prompt; '' (and the detail said) when nothing changed."""
        git, base = checkout.git, f"origin/{checkout.base_branch}"
        if paths.knowledge_dir is None:
            raise ConfigError("update-skills needs onboarding.knowledge_dir in .factory.yaml")
        grep = ["log", "-1", "--format=%H", "--fixed-strings", f"--grep={TRAILER}: {paths.client} ", base]
        since = git.out(grep, checkout.path)
        if not since:  # never onboarded by Factory: since the client's dataset was added
            added = git.out(
                ["log", "--diff-filter=A", "--format=%H", base, "--", paths.dataset], checkout.path
            )
            since = added.split()[-1] if added else ""
        if not since:
            raise StepFailed(f"cannot tell when {paths.client} was onboarded")
        changed = git.out(
            ["diff", "--name-status", "--no-renames", since, base, "--", paths.knowledge_dir], checkout.path
        )
        self._update(since=since, knowledge_changes=changed.splitlines())
        if not changed:
            self._update(
                detail=f"the knowledge base of {paths.client} has not changed since {since[:12]}: "
                "nothing to update"
            )
            return ""
        diff = git.out(
            ["diff", "--no-color", "--no-ext-diff", "--no-textconv", since, base, "--", paths.knowledge_dir],
            checkout.path,
        )
        return prompts.load("onboard-update").substitute(
            knowledge_dir=paths.knowledge_dir,
            since=since[:12],
            diff=prompts.fence("knowledge-base-change", self.services.redact(diff), MAX_KB_DIFF),
        )

    # --- the tuning loop --------------------------------------------------------------------
    def _tune(self, paths: ClientPaths, onboarding: OnboardingConfig, update: str) -> None:
        assert self.parts is not None and self.result.final is not None
        self._standing = self._last_eval
        # The eval after a round must fit in what the phase has left: an agent gets the rest.
        reserve = onboarding.eval_timeout_seconds + RESERVE_SECONDS
        for n in range(1, onboarding.max_rounds + 1):
            if self.result.final.tuning.accuracy >= onboarding.target_accuracy and not self._pending(update):
                break
            try:
                self._round(n, paths, onboarding, update, reserve)
            except BudgetSpent as exc:
                get_logger().warning("tuning stops before round %d: %s", n, exc)
                self._update(stopped=f"before round {n}: {exc}")
                break
            last = self.result.rounds[-1]
            if not last.run.carried:
                break  # the agent changed nothing it may change
            if last.run.agent is not None and not last.run.agent.status.ok:
                break

    def _pending(self, update: str) -> str:
        """The knowledge base's change, shown until a round that follows it is kept."""
        return "" if any(r.kept for r in self.result.rounds) else update

    def _round(
        self, n: int, paths: ClientPaths, onboarding: OnboardingConfig, update: str, reserve: float
    ) -> None:
        """One round: the agent, the eval, kept or undone; ``result.final`` is what stands after it."""
        assert self.parts is not None and self.result.final is not None
        current, pending = self.result.final, self._pending(update)
        backup = self._tunable_files(paths)
        shown = self._standing  # the eval of the files as they stand: its failures are the prompt's
        failures = shown.failures if shown is not None else []
        prompt = prompts.render(
            "onboard-tune",
            phase="onboard-update" if pending else "onboard-tune",
            client=paths.client,
            round=str(n),
            workspace="{tree}",
            passed=str(current.tuning.passed),
            cases=str(current.tuning.cases),
            accuracy=f"{current.tuning.accuracy:.0%}",
            target=f"{onboarding.target_accuracy:.0%}",
            update=pending,
            client_dir=paths.client_dir,
            tunable=", ".join(f"`{p}`" for p in paths.tunable),
            failures=prompts.fence("eval-failures", _failures_text(failures)),
        )
        agent_run = self._agent(
            "update" if pending else "tune",
            prompt,
            paths.may_change,
            give={paths.dataset: cases_file(self.parts.tuning)},
            secret=self.parts.held_out,
            reserve=reserve,
        )
        record = TuningRound(round=n, run=agent_run, before=current, kept=False)
        if not agent_run.carried:
            record = record.model_copy(update={"why": "the agent changed nothing tuning may change"})
            self._update(rounds=[*self.result.rounds, record])
            return
        try:
            after = self._try_score(f"round-{n}")
        except BudgetSpent:
            self._restore(paths, backup)  # never measured: not kept
            self._update(
                rounds=[
                    *self.result.rounds,
                    record.model_copy(update={"why": "no time left to evaluate it"}),
                ]
            )
            raise
        if after is None:
            self._restore(paths, backup)
            record = record.model_copy(update={"why": "the eval could not run after it"})
        else:
            record = record.model_copy(update={"after": after})
            if after.tuning.accuracy < current.tuning.accuracy:
                self._restore(paths, backup)
                fell = f"tuning accuracy fell from {_pct(current.tuning)} to {_pct(after.tuning)}"
                record = record.model_copy(update={"why": fell})
            else:
                record = record.model_copy(update={"kept": True})
                current, self._standing = after, self._last_eval
        self._update(rounds=[*self.result.rounds, record], final=current)
        get_logger().info(
            "round %d: tuning %.0f%%, held-out %.0f%% (%s)",
            n,
            100 * current.tuning.accuracy,
            100 * current.held_out.accuracy,
            "kept" if record.kept else f"undone: {record.why}",
        )

    def _tunable_files(self, paths: ClientPaths) -> dict[str, bytes]:
        assert self.checkout is not None
        folder = self.checkout.path / paths.client_dir
        files = {}
        for relative in tree_state(folder) if folder.is_dir() else {}:
            path = f"{paths.client_dir}/{relative}"
            if paths.may_change(path):
                files[path] = (self.checkout.path / path).read_bytes()
        return files

    def _restore(self, paths: ClientPaths, backup: dict[str, bytes]) -> None:
        """Put the tunable files back as they were before the round (undo it)."""
        assert self.checkout is not None
        for path in self._tunable_files(paths):
            if path not in backup:
                (self.checkout.path / path).unlink()
        for path, data in backup.items():
            target = self.checkout.path / path
            if target.is_dir() and not target.is_symlink():  # a round that made a folder of a file
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def _flag(self, onboarding: OnboardingConfig) -> None:
        baseline, final = self.result.baseline, self.result.final
        assert baseline is not None and final is not None
        flags = []
        if final.tuning.accuracy < onboarding.target_accuracy:
            flags.append(
                f"the target accuracy {onboarding.target_accuracy:.0%} was not met: the tuning part ends at "
                f"{final.tuning.accuracy:.0%} after {len(self.result.rounds)} round(s)."
            )
        if (
            final.held_out.accuracy < baseline.held_out.accuracy
            and final.tuning.accuracy > baseline.tuning.accuracy
        ):
            flags.append(
                f"the held-out accuracy fell ({_pct(baseline.held_out)} → {_pct(final.held_out)}) "
                f"while the tuning accuracy rose ({_pct(baseline.tuning)} → {_pct(final.tuning)}): "
                "the skills may be fitted to the tuning cases."
            )
        if self.result.mode == "update-skills" and not any(r.kept for r in self.result.rounds):
            flags.append(
                f"the knowledge base changed ({len(self.result.knowledge_changes)} file(s)) but no update "
                "of the skills was kept."
            )
        if self.result.stopped:
            flags.append(f"the tuning stopped early, {self.result.stopped}.")
        refused = refused_lines(self.result)
        if refused:
            flags.append(
                f"the agent tried {len(refused)} change(s) outside what it may change; "
                "all were refused and undone."
            )
        self.services.security.flag(*flags)
        self._update(needs_human=flags)

    # --- agent runs and evals -----------------------------------------------------------------
    def _agent(
        self,
        purpose: Purpose,
        prompt: str,
        may_change: Callable[[str], bool],
        hide: tuple[str, ...] = (),
        give: dict[str, bytes] | None = None,
        secret: tuple[Case, ...] = (),
        reserve: float = 0.0,
    ) -> AgentRun:
        """One agent run in a tree of its own; what it may change is carried into the checkout."""
        assert self.checkout is not None and self.paths is not None and self.budget is not None
        assert self.config is not None
        services, paths = self.services, self.paths
        self.runs += 1
        tree = services.place(f"agent-{self.runs}-{purpose}")
        closed = [self.checkout.path, *([self.checkout.git_dir] if self.checkout.git_dir else [])]
        with self.clock.step(purpose):
            # Asked first: a spent budget leaves no tree behind.
            request = self.budget.request(
                prompt.replace("{tree}", str(tree)), tree, self.config.models.implement, reserve=reserve
            )
            cases = tuple((case.id, case.question) for case in secret)
            before, hidden = make_agent_tree(self.checkout.path, tree, services.box, hide, give, cases)
            if hidden:
                get_logger().warning(
                    "left out of the %s run's tree, holding cases it must not see: %s", purpose, hidden
                )
            key = self._key(f"transcript-{self.runs}-{purpose}.jsonl")
            with closed_to_box(*closed):
                outcome, transcript = run_agent(services, self.budget, request, key)
            changes = take_back(
                tree, before, self.checkout.path, may_change, lambda p: _why_refused(p, paths), services.box
            )
        shutil.rmtree(tree, ignore_errors=True)
        self._update(cost_usd=round(self.budget.spent_usd, 6))
        if outcome.status is AgentStatus.TIMED_OUT:
            get_logger().warning("%s run timed out: %s", purpose, outcome.detail)
        return AgentRun(
            purpose=purpose,
            agent=outcome,
            transcript=transcript,
            carried=list(changes.carried),
            refused=dict(changes.why_refused),
            hidden=hidden,
            seconds=outcome.duration_seconds,
        )

    _last_eval: EvalRun | None = None
    _standing: EvalRun | None = None  # the eval of the tunable files as they stand (kept)

    def _score(self, label: str) -> Score:
        score = self._try_score(label)
        if score is None:
            assert self._last_eval is not None
            raise StepFailed(f"the {label} eval gave no figures: {self._last_eval.error}")
        return score

    def _try_score(self, label: str) -> Score | None:
        assert self.checkout is not None and self.paths is not None and self.parts is not None
        assert self.budget is not None and self.config is not None and self.config.onboarding is not None
        with self.clock.step("eval"):
            timeout = self.budget.command_seconds(self.config.onboarding.eval_timeout_seconds)
            run = run_eval(
                self.paths,
                self.paths.dataset,
                self.parts,
                self.checkout.path,
                timeout,
                self.services.redact,
                self.services.box,
            )
        self.services.box.sweep()
        key = self._key(f"eval-{label}.json")
        write_model(self.services.store, key, run)
        self._last_eval = run
        if not run.ok:
            get_logger().warning("eval %s: %s", label, run.error)
            return None
        return Score.of(run, self.services.store.url(key))

    # --- the branch and the ticket -------------------------------------------------------------
    def _commit(self, paths: ClientPaths) -> None:
        """The client's folder, as the checkout now holds it, committed on the branch and pushed."""
        assert (
            self.checkout is not None and self.result.final is not None and self.result.baseline is not None
        )
        settings, services = self.settings, self.services
        ours = Workspace(
            services.git,
            settings.repo_url or "",
            services.place("commit"),
            self.result.branch,
            settings.base_branch,
            services.box,
        )
        with self.clock.step("commit_push"):
            ours.clone()
            target = ours.path / paths.client_dir
            if target.exists():
                shutil.rmtree(target)
            for relative in sorted(tree_state(self.checkout.path / paths.client_dir)):
                source = self.checkout.path / paths.client_dir / relative
                if source.is_symlink() or not source.is_file() or is_noise(relative):
                    continue
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target / relative)
            base, final = self.result.baseline, self.result.final
            title = (
                f"Onboard {paths.client} ({self.result.mode}): tuning {_pct(base.tuning)} → "
                f"{_pct(final.tuning)}, held-out {_pct(base.held_out)} → {_pct(final.held_out)}"
            )
            trailer = f"{TRAILER}: {paths.client} {self.result.mode}"
            message = f"{title}\n\nWritten by Factory run {self.run_id}.\n\n{trailer}"
            ours.commit_all(message, services.redact.finds_secret)
            pushed = bool(ours.new_commits())
            if pushed:
                ours.push()
        self._update(
            status="done" if pushed or ours.resumed else "no_changes",
            head_sha=ours.head(),
            commits=ours.branch_commits(),
            pushed=pushed,
            detail=self.result.detail or title,
        )

    def _write_ticket(self, paths: ClientPaths, onboarding: OnboardingConfig) -> None:
        result = self.result
        what = {
            "full": "Onboard a new client from its source material: its knowledge base, eval dataset, "
            "config and skills.",
            "update-skills": "Update the client's skills after its knowledge base changed.",
        }[result.mode]
        check = (onboarding.e2e_check or "").replace("{client}", paths.client) or (
            f"Check that the app answers as the client {paths.client}."
        )
        body = [
            what,
            "",
            f"Client: `{paths.client}` · files in `{paths.client_dir}` · dataset `{paths.dataset}`",
            "",
            "### Accuracy (measured by Factory with the target's eval command)",
            "",
            *accuracy_table(result, paths.client_dir),
            "",
            *(
                ["### Needs a human", "", *(f"- {flag}" for flag in result.needs_human), ""]
                if result.needs_human
                else []
            ),
            *(["### Refused changes", "", *refused_lines(result), ""] if refused_lines(result) else []),
            "### How to check it in a browser",
            "",
            check,
        ]
        ticket = OnboardingTicket(
            identifier=result.ticket,
            client=paths.client,
            mode=result.mode,
            run_id=self.run_id,
            title=f"Onboard {paths.client} ({result.mode})",
            body="\n".join(body),
        )
        write_ticket(self.services.store, ticket)

    # --- helpers ------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return run_key(self.run_id, PHASE, name)

    def _update(self, **fields: object) -> None:
        self.result = self.result.model_copy(update=fields)


def _pct(part: PartScore) -> str:
    return f"{part.accuracy:.0%}"


def _why_refused(path: str, paths: ClientPaths) -> str:
    if path == paths.dataset:
        return "the dataset is frozen: the change was refused and undone"
    if path == CONFIG_FILE:
        return "the eval command is frozen (it is set in .factory.yaml): the change was refused and undone"
    return "outside the paths the agent may change: refused and undone"


def _material_text(material: dict[str, bytes]) -> str:
    parts = []
    for name, data in material.items():
        parts.append(f"### {name}\n\n{data.decode('utf-8', errors='replace')}")
    return "\n\n".join(parts)


def _failures_text(failures: list[CaseResult]) -> str:
    if not failures:
        return "(none: every tuning case passes)"
    shown = [f"- {f.id}: {f.detail}" for f in failures[:MAX_FAILURES_SHOWN]]
    if len(failures) > MAX_FAILURES_SHOWN:
        shown.append(f"- ... and {len(failures) - MAX_FAILURES_SHOWN} more")
    return "\n".join(shown)
