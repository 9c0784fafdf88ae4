"""One run's HTML report, ``runs/<run_id>/index.html``: a single static page, no server, no build step.

Everything it shows is read from the run's artifacts, so it can be rendered again at any time: each
phase writes it at its end (readable mid-run, complete at the end), and ``factory runs open`` renders
it for a run that has none. A night's page is its findings and decisions, each fix linked to its
chain's own page; an onboarding's is a ticket's with its accuracy table first. Its stylesheet is
inline and it has no script at all; its Content Security Policy says so too, so even a mistake in
escaping could not run one. Images and links to the run's files are relative, so the page works from
a directory and from Cloud Storage alike.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote

from jobs.artifacts import ArtifactStore
from jobs.errors import ArtifactError
from jobs.models import run_key, utc_now
from jobs.report.browser_check import e2e_section
from jobs.report.conversation import TranscriptFile, is_transcript, transcripts_section
from jobs.report.facts import RunFacts, load_run
from jobs.report.fmt import when
from jobs.report.guard import security_section
from jobs.report.links import anchor, relative, report_key
from jobs.report.markup import Html, el, join
from jobs.report.night import findings_section, night_section
from jobs.report.onboarding import onboard_section
from jobs.report.overview import header, timeline
from jobs.report.phases import implement_section, review_section
from jobs.report.style import CSS

# No script, no plugin, no form; styles and images only (images from the run's own files, or https).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' file: https: data:; "
    "base-uri 'none'; form-action 'none'"
)


def write_report(store: ArtifactStore, run_id: str) -> str:
    """Render the run's report from its artifacts and store it; returns its key."""
    facts = load_run(store, run_id)
    base = run_key(run_id) + "/"
    files = []
    for key in facts.keys:
        path = key[len(base) :]
        if not is_transcript(path):
            continue
        try:
            files.append(TranscriptFile(path, store.read_bytes(key)))
        except ArtifactError as exc:
            facts.problems.append(str(exc))
    key = report_key(run_id)
    store.write_bytes(key, render_report(facts, files).encode())
    return key


def render_report(facts: RunFacts, transcripts: list[TranscriptFile], now: datetime | None = None) -> str:
    """The page for ``facts``; ``transcripts`` are the run's agent streams (run-relative paths)."""
    base = run_key(facts.run_id) + "/"
    present = {key[len(base) :] for key in facts.keys if key.startswith(base)}
    streams = {file.path for file in transcripts}

    def rel(url: str | None) -> str | None:
        """A link to one of the run's files, only when the file is there."""
        path = relative(url, facts.run_id) if url else None
        return path if path is not None and unquote(path) in present else None

    def transcript(url: str | None) -> str | None:
        """The id of a transcript's section on this page, when the page has it."""
        path = relative(url, facts.run_id) if url else None
        return anchor(unquote(path)) if path is not None and unquote(path) in streams else None

    parts: list[tuple[str, str, Html]]
    if facts.is_night:  # a night runs no agent: its findings are the page, its fixes have their own
        parts = [
            ("night", "The night", night_section(facts, rel)),
            ("findings", "Findings", findings_section(facts)),
            ("timeline", "Timeline", timeline(facts)),
        ]
    else:
        parts = [("timeline", "Timeline", timeline(facts))]
        if facts.onboard is not None:
            section = onboard_section(facts.onboard, rel, transcript, facts.keys)
            parts.append(("onboard", "Onboard", section))
        if facts.implement is not None:
            parts.append(("implement", "Implement", implement_section(facts.implement, rel, transcript)))
        if facts.review is not None:
            parts.append(("review", "Review", review_section(facts.review, rel, transcript)))
        if facts.e2e is not None:
            parts.append(("e2e", "Browser check", e2e_section(facts.e2e, rel, transcript)))
        parts.append(("transcripts", "Transcripts", transcripts_section(transcripts)))
    if facts.security:
        parts.append(("security", "Security", security_section(facts.security)))
    toc = [(anchor_id, label) for anchor_id, label, _ in parts]
    title = f"{facts.subject or facts.run_id} · {facts.title or 'Factory run'}"
    footer = el(
        "footer",
        f"Factory run {facts.run_id} · page written {when(now or utc_now())}",
        f" after {', '.join(facts.results)}" if facts.results else "",
        " · every figure comes from the run's records; text written by agents and tickets is shown as text",
    )
    page = join(
        Html("<!doctype html>\n"),
        el(
            "html",
            el(
                "head",
                el("meta", charset="utf-8"),
                el("meta", name="viewport", content="width=device-width, initial-scale=1"),
                el("meta", http_equiv="Content-Security-Policy", content=CSP),
                el("meta", name="referrer", content="no-referrer"),
                el("title", title),
                el("style", Html(CSS)),
            ),
            el("body", el("main", header(facts, toc), [part for _, _, part in parts], footer)),
            lang="en",
        ),
    )
    return str(page)
