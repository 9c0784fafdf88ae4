"""A scripted day of support-bot traffic into local Sentry and Langfuse.

``python -m orchestration.local.traffic`` makes what the coming ``solve-chatbot-issues`` job reads, with
the app's real SDKs and no cloud account:

1. the Sentry and Langfuse stand-ins (``orchestration.local.sentry``, ``.langfuse``) on loopback;
2. a throwaway PostgreSQL (``TempPostgres``, as the e2e phase uses), migrated with the app's Alembic
   migrations and loaded with its seeds as its ``.factory.yaml`` lists them;
3. the support-bot's chat API (``examples/support-bot``, copied to a temporary directory, run from a
   venv of its pinned ``requirements.txt`` kept under a cache directory) with ``SENTRY_DSN`` and
   ``LANGFUSE_*`` pointed at the stand-ins, so its own ``sentry-sdk`` and Langfuse sender report;
4. ``DAY``: 40 chat turns of two clients' customers, with their thumbs up and down, including the
   inputs that hit the app's two known defects (its README, "Known defects"): messages with no words
   crash the turn (an ``IndexError`` Sentry groups into one issue), and Acme Shop's refund questions are
   answered by the shipping skill (the customers rate them down in Langfuse);
5. a summary read back through the stand-ins' read APIs with Factory's own clients, the triage job's
   ``SentryClient`` and ``LangfuseClient`` (``SupportBotDay.clients``): Sentry's issues with their
   counts, the clients their events name (a tag search per client), the latest event's message and
   in-app frames; Langfuse's ``user-feedback`` scores per skill, with the questions rated down.

The app's keys (``sb-test-key-*``) are the seeds' test fixtures, not secrets.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Self

import httpx
from pydantic import SecretStr

from jobs.errors import DatabaseError, FactoryError
from jobs.phases.e2e.database import SEEDS_DIR, TempPostgres, load_seeds
from jobs.serving import PORT_TAKEN_IN_LOG, PortTaken, on_a_free_port
from jobs.target_config import CONFIG_FILE, parse_target_config
from jobs.triage import LangfuseClient, LangfuseScore, LangfuseTrace, SentryClient, SentryEvent
from orchestration.local.langfuse import LangfuseStandIn
from orchestration.local.sentry import SentryStandIn

APP = Path(__file__).resolve().parents[2] / "examples" / "support-bot"
ACME = "acme-shop.example"
NORTHWIND = "northwind-travel.example"
KEYS = {ACME: "sb-test-key-acme-shop", NORTHWIND: "sb-test-key-northwind"}  # the seeds' test fixtures
ENVIRONMENT = "production"  # what the app tells Sentry and Langfuse: the day stands in for production
SENTRY_ORG = "factory"
SENTRY_PROJECT = "support-bot"  # its slug: the triage's client sends it as ``projectSlug``
FEEDBACK_SCORE = "user-feedback"
TRACE_NAME = "chat-turn"
START_SECONDS = 30.0
DELIVERY_SECONDS = 30.0
INSTALL_SECONDS = 900.0
READ_SECONDS = 10.0
READ_WINDOW = timedelta(hours=24)  # what the read-back looks at: the day just played
Rating = Literal["up", "down"]
Say = Callable[[str], None]


class TrafficError(RuntimeError):
    """The day could not be set up or played (one line saying why)."""


@dataclass(frozen=True)
class Turn:
    """One customer message, and what the customer thought of the answer (None: not rated)."""

    client: str
    session: str
    message: str
    rating: Rating | None = None
    comment: str | None = None


def _day() -> tuple[Turn, ...]:
    acme: list[tuple[str, str, Rating | None, str | None]] = [
        ("acme-0800", "Hi", None, None),
        ("acme-0800", "Where is my order?", "up", None),
        ("acme-0815", "How much is shipping?", "up", None),
        ("acme-0815", "👍", None, None),  # defect 1: no words
        ("acme-0842", "How long do refunds take?", "down", "I asked about my refund, not delivery"),
        ("acme-0910", "Do you ship to Canada?", "up", None),
        ("acme-0933", "When will my refund arrive?", "down", None),
        ("acme-1002", "Which payment methods do you accept?", "up", None),
        ("acme-1020", "Can I return a pair of shoes I bought three weeks ago?", "up", None),
        ("acme-1047", "How long until I get my money back?", "down", "This is about shipping, not my money"),
        ("acme-1115", "I forgot my password", "up", None),
        ("acme-1140", "How long do I have to return an item?", "down", None),
        ("acme-1208", "Can I pay in instalments?", "up", None),
        ("acme-1208", "🙏", None, None),  # defect 1
        ("acme-1236", "Do you sell garden furniture in your stores?", "down", None),
        ("acme-1301", "How long does delivery take?", "up", None),
        ("acme-1322", "My tracking link shows nothing yet", None, None),
        ("acme-1350", "How long do refunds take?", "down", "Wrong answer"),
        ("acme-1417", "How do I send back an item?", "up", None),
        ("acme-1444", "?", None, None),  # defect 1
        ("acme-1512", "When is my card charged?", None, None),
        ("acme-1539", "Where do I find my order number?", "up", None),
    ]
    northwind: list[tuple[str, str, Rating | None, str | None]] = [
        ("nw-0805", "Good morning", None, None),
        ("nw-0805", "I need to cancel my holiday, what will it cost?", "up", None),
        ("nw-0851", "How big can my cabin bag be?", "up", None),
        ("nw-0926", "Can I change my flight to a later one?", "up", None),
        ("nw-1004", "When does online check-in open?", "up", None),
        ("nw-1039", "Do I need an ESTA to fly to New York?", "up", None),
        ("nw-1039", "...", None, None),  # defect 1
        ("nw-1118", "How are refunds paid?", "up", None),
        ("nw-1153", "My suitcase is overweight", None, None),
        ("nw-1231", "Do you sell gift certificates?", "down", "I just wanted a voucher"),
        ("nw-1309", "Can I choose my seat?", "up", None),
        ("nw-1309", "👋", None, None),  # defect 1
        ("nw-1346", "Can I get a voucher instead of a refund?", "up", None),
        ("nw-1422", "The airline lost my bag", "up", None),
        ("nw-1457", "Does my passport need to be valid for 6 months?", "up", None),
        ("nw-1533", "My name is misspelled on the booking", None, None),
        ("nw-1610", "What time do the check-in desks at the airport close?", "up", None),
        ("nw-1648", "Is checked luggage included in my holiday?", "up", None),
    ]
    turns = [Turn(ACME, *row) for row in acme] + [Turn(NORTHWIND, *row) for row in northwind]
    # Interleaved by the time in the session name, as the day went.
    return tuple(sorted(turns, key=lambda t: t.session.rsplit("-", 1)[1]))


DAY = _day()


def has_no_words(message: str) -> bool:
    """Whether the app finds no words in ``message`` (its ``text.words``: letters and digits)."""
    return re.search(r"[^\W_]", message) is None


@dataclass(frozen=True)
class Played:
    """A turn as the chat API answered it."""

    turn: Turn
    status: int
    skill: str | None = None
    answer_id: str | None = None
    rated: bool = False


@dataclass(frozen=True)
class SentryIssue:
    """One Sentry issue as Factory's Sentry client reads it, with what its events say."""

    short_id: str
    title: str
    culprit: str
    count: int
    clients: list[str]  # the clients whose ``client`` tag the issue's events carry
    latest_message: str | None  # the latest event's customer message, as its frame locals show it
    frames: list[tuple[str, str]]  # the latest event's in-app frames (file, function), outermost first


@dataclass(frozen=True)
class SkillFeedback:
    """Thumbs up and down on the traces of one skill, and the questions rated down."""

    skill: str
    up: int
    down: int
    down_questions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DaySummary:
    """What the day left in Sentry and Langfuse, read back through their read APIs by Factory's clients."""

    played: list[Played]
    issues: list[SentryIssue]
    traces: int
    feedback: list[SkillFeedback]  # most thumbs down first

    @property
    def failed(self) -> list[Played]:
        return [p for p in self.played if p.status >= 500]


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "factory" / "traffic"


def app_python(app: Path, cache_dir: Path, say: Say) -> Path:
    """The python of a venv holding the app's pinned requirements, installed once per requirements file
    and kept under ``cache_dir`` (a lock keeps two runs from installing it at once)."""
    requirements = app / "requirements.txt"
    base = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    key = hashlib.sha256(requirements.read_bytes() + base.encode()).hexdigest()[:12]
    venv = cache_dir / f"support-bot-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".factory-ready"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.is_file():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        say(f"installing the support-bot's requirements into {venv} (once)")
        started = time.monotonic()
        _run([base, "-m", "venv", str(venv)], "python -m venv", timeout=120)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, "-r", str(requirements)], "pip install", timeout=INSTALL_SECONDS)
        ready.write_text(f"installed in {time.monotonic() - started:.1f}s\n")
    return python


def _run(
    argv: list[str], what: str, *, timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    try:
        run = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TrafficError(f"{what} did not finish in {timeout:.0f}s") from None
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip()[-1500:]
        raise TrafficError(f"{what} failed ({run.returncode}): {tail}")


class SupportBotDay:
    """The stand-ins, the database and the app's chat API, up for one day of traffic.

    ``with SupportBotDay(cache_dir) as day:`` starts everything (``day.sentry``, ``day.langfuse``,
    ``day.api_url``); ``play`` sends turns; ``clients`` gives Factory's own read clients of both
    stand-ins, and ``read_back`` reads what arrived with them. All of it is stopped and removed on
    exit."""

    def __init__(self, cache_dir: Path | None = None, say: Say | None = None, app: Path = APP) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.say: Say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.app_source = app
        self.sentry_token = f"sntryu_{secrets.token_hex(32)}"
        self._sentry: SentryStandIn | None = None
        self._langfuse: LangfuseStandIn | None = None
        self.api_url = ""
        self.log: Path | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def sentry(self) -> SentryStandIn:
        if self._sentry is None:
            raise TrafficError("the Sentry stand-in is not running")
        return self._sentry

    @property
    def langfuse(self) -> LangfuseStandIn:
        if self._langfuse is None:
            raise TrafficError("the Langfuse stand-in is not running")
        return self._langfuse

    def _start(self) -> None:
        python = app_python(self.app_source, self.cache_dir, self.say)  # first: it may take minutes
        sentry = SentryStandIn(token=self.sentry_token, project_slug=SENTRY_PROJECT, org_slug=SENTRY_ORG)
        self._sentry = self._stack.enter_context(sentry)
        self._langfuse = self._stack.enter_context(LangfuseStandIn(project_id="support-bot"))
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="factory-traffic-")))
        app = work / "support-bot"
        shutil.copytree(
            self.app_source, app, ignore=shutil.ignore_patterns(".venv", "__pycache__", "instance")
        )
        try:
            database = self._stack.enter_context(TempPostgres("support_bot"))
            env = self._env(database.dsn)
            _run(
                [str(python), "-m", "alembic", "upgrade", "head"],
                "alembic upgrade head",
                timeout=120,
                env=env,
                cwd=app,
            )
            # The seeds its .factory.yaml lists, read and loaded as the e2e phase reads and loads them.
            seeds = parse_target_config((app / CONFIG_FILE).read_text(encoding="utf-8")).e2e.seeds
            load_seeds(database.dsn, seeds, SEEDS_DIR, repo=app)
        except DatabaseError as exc:
            raise TrafficError(f"the database: {exc}") from None
        self.say(f"database migrated and seeded ({', '.join(seeds)})")
        try:
            on_a_free_port(functools.partial(self._start_api, python, app, env, work))
        except PortTaken as exc:
            raise TrafficError(f"the chat API lost its port to another process each time: {exc}") from None
        self.say(
            f"support-bot chat API on {self.api_url}, reporting to {self.sentry.url} and {self.langfuse.url}"
        )

    def _start_api(self, python: Path, app: Path, env: dict[str, str], work: Path, port: int) -> None:
        """The chat API on ``port``, once it answers; PortTaken when another process had taken it."""
        self.api_url = f"http://127.0.0.1:{port}"
        self.log = work / f"backend-{port}.log"
        server = [str(python), "-m", "support_bot.backend", "--port", str(port)]
        with self.log.open("wb") as log:
            process = subprocess.Popen(server, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._stack.callback(_stop, process)
        try:
            self._wait_healthy(process)
        except TrafficError:
            if process.poll() is None or not PORT_TAKEN_IN_LOG.search(self.log_tail()):
                raise
            self.say(f"another process took port {port} before the chat API could; trying another")
            raise PortTaken(self.log_tail()) from None

    def _env(self, dsn: str) -> dict[str, str]:
        """The app's environment: named here, so nothing of ours (a model key, a token) reaches it."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only where HOME is unset
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "DATABASE_URL": dsn,
            "SENTRY_DSN": self.sentry.dsn,
            "LANGFUSE_HOST": self.langfuse.url,
            "LANGFUSE_PUBLIC_KEY": self.langfuse.public_key,
            "LANGFUSE_SECRET_KEY": self.langfuse.secret_key,
            "SUPPORT_BOT_ENVIRONMENT": ENVIRONMENT,
        }

    def _wait_healthy(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise TrafficError(f"the chat API exited ({process.returncode}): {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TrafficError(f"the chat API did not answer /health in {START_SECONDS:.0f}s: {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        if self.log is None or not self.log.is_file():
            return "(no log)"
        return self.log.read_text(errors="replace")[-chars:].strip() or "(empty log)"

    # -- the day ----------------------------------------------------------------------------------

    def play(self, turns: tuple[Turn, ...] = DAY) -> list[Played]:
        """Send each turn to the chat API with its client's key, then its rating; what each answer was."""
        played = []
        with httpx.Client(base_url=self.api_url, timeout=10) as http:
            for turn in turns:
                headers = {"X-Api-Key": KEYS[turn.client]}
                body = {"client": turn.client, "session_id": turn.session, "message": turn.message}
                response = http.post("/api/chat", json=body, headers=headers)
                if response.status_code != 200:
                    played.append(Played(turn, response.status_code))
                    continue
                answer = response.json()
                rated = False
                if turn.rating is not None:
                    rating: dict[str, str] = {"answer_id": answer["answer_id"], "rating": turn.rating}
                    if turn.comment:
                        rating["comment"] = turn.comment
                    rated = http.post("/api/feedback", json=rating, headers=headers).status_code in (200, 201)
                played.append(Played(turn, 200, answer["skill"], answer["answer_id"], rated))
        return played

    def wait_for_delivery(self, played: list[Played], timeout: float = DELIVERY_SECONDS) -> None:
        """Until the SDKs' background senders delivered what the day should have made: one trace per
        answer, one score per rating, one Sentry event per failed turn."""
        traces = sum(1 for p in played if p.status == 200)
        scores = sum(1 for p in played if p.rated)
        events = sum(1 for p in played if p.status >= 500)
        deadline = time.monotonic() + timeout
        while True:
            got = (len(self.langfuse.traces), len(self.langfuse.scores), self._sentry_events())
            if got[0] >= traces and got[1] >= scores and got[2] >= events:
                return
            if time.monotonic() > deadline:
                raise TrafficError(
                    f"after {timeout:.0f}s the stand-ins hold {got[0]} of {traces} traces, {got[1]} of "
                    f"{scores} scores and {got[2]} of {events} Sentry events; the chat API's log: "
                    f"{self.log_tail(600)}"
                )
            time.sleep(0.2)

    def _sentry_events(self) -> int:
        return sum(len(issue.events) for issue in list(self.sentry.issues))

    # -- reading it back --------------------------------------------------------------------------

    @contextlib.contextmanager
    def clients(self) -> Iterator[tuple[SentryClient, LangfuseClient]]:
        """Factory's own read clients, the triage job's, on the stand-ins with the day's token and keys."""
        with httpx.Client(timeout=READ_SECONDS, trust_env=False) as http:  # loopback: no proxy
            sentry = SentryClient(http, SecretStr(self.sentry_token), base_url=self.sentry.url)
            langfuse = LangfuseClient(
                http, self.langfuse.public_key, SecretStr(self.langfuse.secret_key), host=self.langfuse.url
            )
            yield sentry, langfuse

    def read_back(self, played: list[Played]) -> DaySummary:
        """What the day left, as Factory's clients read it: the day's issues, traces and feedback."""
        until = datetime.now(UTC) + timedelta(minutes=1)  # the end is exclusive: keep the last turn
        try:
            with self.clients() as (sentry, langfuse):
                issues = sentry_issues(sentry)
                traces = list(langfuse.traces(TRACE_NAME, from_ts=until - READ_WINDOW, to_ts=until))
                scores = list(langfuse.scores(FEEDBACK_SCORE, from_ts=until - READ_WINDOW, to_ts=until))
        except FactoryError as exc:
            raise TrafficError(f"reading back what the day left: {exc}") from None
        return DaySummary(played, issues, len(traces), feedback_by_skill(traces, scores))


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sentry_issues(sentry: SentryClient) -> list[SentryIssue]:
    """The project's issues of the last day (any status), most events first, each with the clients its
    events name (one ``client:<domain>`` tag search per client) and its latest event's message and
    in-app frames."""
    period = f"{int(READ_WINDOW.total_seconds() // 3600)}h"
    found = list(sentry.issues(SENTRY_ORG, SENTRY_PROJECT, query="", stats_period=period))
    tagged = {client: _issue_ids(sentry, f"client:{client}", period) for client in KEYS}
    issues = []
    for issue in sorted(found, key=lambda i: (-i.count, i.short_id)):
        latest = sentry.latest_event(issue.id, org=SENTRY_ORG)
        issues.append(
            SentryIssue(
                short_id=issue.short_id,
                title=issue.title,
                culprit=issue.culprit or "",
                count=issue.count,
                clients=sorted(client for client, ids in tagged.items() if issue.id in ids),
                latest_message=crashed_message(latest),
                frames=[
                    (f.filename or f.abs_path or "?", f.function or "?") for f in latest.frames if f.in_app
                ],
            )
        )
    return issues


def _issue_ids(sentry: SentryClient, query: str, period: str) -> set[str]:
    return {issue.id for issue in sentry.issues(SENTRY_ORG, SENTRY_PROJECT, query=query, stats_period=period)}


def crashed_message(event: SentryEvent) -> str | None:
    """The customer's message in the outermost in-app frame that holds one, as the SDK sends frame locals
    (a ``repr``: quoted). What the client reads of an event is its exceptions and tags; the request
    body is not among them, the app's own ``chat`` frame is."""
    for frame in event.frames:
        message = (frame.vars or {}).get("message") if frame.in_app else None
        if isinstance(message, str):
            return message
    return None


def feedback_by_skill(traces: list[LangfuseTrace], scores: list[LangfuseScore]) -> list[SkillFeedback]:
    """Thumbs up (true or 1) and down per ``skill:`` tag of the scored trace, most thumbs down first."""
    by_id = {trace.id: trace for trace in traces}
    tallies: dict[str, tuple[int, int, list[str]]] = {}
    for score in sorted(scores, key=lambda s: s.timestamp or datetime.min.replace(tzinfo=UTC)):
        trace = by_id.get(score.trace_id or "")
        tags = trace.tags if trace is not None else []
        skill = next((tag.split(":", 1)[1] for tag in tags if tag.startswith("skill:")), "(unknown)")
        up, down, asked = tallies.get(skill, (0, 0, []))
        if score.value in (True, 1):
            up += 1
        else:
            down += 1
            asked = [*asked, str(trace.input) if trace is not None and trace.input is not None else "?"]
        tallies[skill] = (up, down, asked)
    rows = [SkillFeedback(skill, up, down, asked) for skill, (up, down, asked) in tallies.items()]
    return sorted(rows, key=lambda row: (-row.down, -row.up, row.skill))


def render(summary: DaySummary, sentry_url: str = "", langfuse_url: str = "") -> str:
    """The summary for the console."""
    played = summary.played
    clients = sorted({p.turn.client for p in played})
    per_client = ", ".join(f"{c} {sum(1 for p in played if p.turn.client == c)}" for c in clients)
    ratings = [p for p in played if p.rated]
    downs = sum(1 for p in ratings if p.turn.rating == "down")
    answered = sum(1 for p in played if p.status == 200)
    statuses = ", ".join(sorted({str(p.status) for p in summary.failed}))
    lines = [
        f"A day of support-bot traffic: {len(played)} turns ({per_client}); {answered} answered, "
        f"{len(summary.failed)} failed (HTTP {statuses or '-'}); "
        f"{len(ratings)} rated ({len(ratings) - downs} up, {downs} down)",
        "",
        f"Sentry{f' ({sentry_url})' if sentry_url else ''}: {len(summary.issues)} issue(s), "
        "read back through its API with Factory's Sentry client",
    ]
    for issue in summary.issues:
        lines.append(
            f"  {issue.short_id}  {issue.title}  {issue.count} event(s), clients {', '.join(issue.clients)}"
        )
        lines.append(f"    culprit {issue.culprit}")
        lines.append(f"    latest event's message {issue.latest_message or '(not in its frames)'}")
        lines.append(
            "    in-app frames " + " -> ".join(f"{file} {function}" for file, function in issue.frames)
        )
    lines += [
        "",
        f"Langfuse{f' ({langfuse_url})' if langfuse_url else ''}: {summary.traces} {TRACE_NAME} trace(s); "
        f"{FEEDBACK_SCORE} scores per skill, read back through its API with Factory's Langfuse client",
        f"  {'skill':<24}{'up':>4}{'down':>6}",
    ]
    for row in summary.feedback:
        lines.append(f"  {row.skill:<24}{row.up:>4}{row.down:>6}")
    for row in summary.feedback:
        if row.down:
            lines.append(f"  rated down on {row.skill}: {', '.join(repr(q) for q in row.down_questions)}")
    return "\n".join(lines)


@contextlib.contextmanager
def played_day(
    cache_dir: Path | None = None, say: Say | None = None
) -> Iterator[tuple[SupportBotDay, DaySummary]]:
    """Everything up, the day played and delivered, its summary read back; torn down on exit."""
    with SupportBotDay(cache_dir, say) as day:
        played = day.play(DAY)
        day.wait_for_delivery(played)
        yield day, day.read_back(played)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.local.traffic",
        description="Play a scripted day of support-bot traffic into local Sentry and Langfuse stand-ins.",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"where the app's venv is kept (default {default_cache_dir()})",
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")  # the day's emoji, on a console that has none
    started = time.monotonic()
    try:
        with played_day(args.cache_dir) as (day, summary):
            print(render(summary, day.sentry.url, day.langfuse.url))
    except TrafficError as exc:
        print(f"traffic: {exc}", file=sys.stderr)
        return 1
    print(f"\n{len(DAY)} turns played and read back in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
