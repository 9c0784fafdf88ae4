"""Prompt files and the fencing of untrusted text inside them."""

from __future__ import annotations

import secrets
import unicodedata
from pathlib import Path
from string import Template

PROMPTS = Path(__file__).parent
MAX_UNTRUSTED_CHARS = 32_000


def load(name: str) -> Template:
    return Template((PROMPTS / f"{name}.md").read_text(encoding="utf-8"))


def scrub(text: str, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """Drop control and invisible format characters (bidi overrides, zero-width), clamp the length."""
    kept = [c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")]
    out = "".join(kept)
    return out if len(out) <= limit else out[:limit] + "\n[... truncated by Factory ...]"


def fence(label: str, text: str, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """Wrap untrusted text in tags with a random id, so the text cannot close the fence itself."""
    tag = f"untrusted-{label}-{secrets.token_hex(6)}"
    body = scrub(text, limit).replace(tag, "[removed]")
    return f"<{tag}>\n{body}\n</{tag}>"


def render(name: str, **values: str) -> str:
    """Fill a prompt file; substitution is one pass, so ``$`` in ticket text is never expanded."""
    return load(name).substitute(values)


FINDING_LABEL = "factory:finding"  # what jobs.triage.tickets labels a finding's ticket with


def for_finding(labels: list[str], name: str = "finding") -> str:
    """What a prompt adds when its ticket is a production failure (the triage's finding); else ''."""
    return load(name).template if FINDING_LABEL in labels else ""


def reask(rejected: str | None) -> str:
    """The section that asks again after a reply our code could not use ('' on the first ask)."""
    if rejected is None:
        return ""
    return (
        "\n## Previous reply rejected\n\nYour previous reply could not be used: "
        f"{scrub(rejected, 400)}\nReply again with only the JSON object the schema describes.\n"
    )
