"""A client's files under ``clients/<domain>/``: its settings, its skills and its knowledge base.

    clients/acme-shop.example/
      config.yaml        name, tone, greeting, fallback answer, enabled skills (in priority order)
      skills/<name>.md   one skill: YAML front matter (name, description, triggers, optional kb), body
      kb/<doc>.md        the knowledge base: markdown, "## " sections are what retrieval returns
      eval.jsonl         evaluation cases (support_bot.eval reads them, the bot never does)

The files are the client's configuration, edited by people (and by Factory's onboarding job), so a
mistake in them is reported with the file and the reason rather than a bare traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TONES = ("friendly", "formal", "concise")
# A client's folder name is its domain; checked so a domain from the database can never climb out.
DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")
SKILL_NAME = re.compile(r"[a-z][a-z0-9-]{0,47}")
RESERVED_SKILLS = ("greeting", "fallback")  # what the engine answers with when no skill does
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?(.*)\Z", re.DOTALL)


class ClientFileError(Exception):
    """A client's file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Skill:
    """One way of answering: chosen when the message contains one of its trigger phrases."""

    name: str
    description: str
    triggers: tuple[str, ...]
    body: str  # the answer's template: "{passages}" is replaced by what retrieval found
    kb: tuple[str, ...] = ()  # knowledge-base files to search (empty: the whole knowledge base)
    max_passages: int = 2


@dataclass(frozen=True)
class KBDoc:
    """One knowledge-base document: its file name, its title and its markdown text."""

    file: str
    title: str
    text: str


@dataclass(frozen=True)
class ClientConfig:
    """``config.yaml``: how the bot speaks for this client and which skills it may use."""

    domain: str
    name: str
    tone: str
    greeting: str
    fallback: str
    skills: tuple[str, ...]


@dataclass(frozen=True)
class ClientFiles:
    """Everything the bot needs for one client, loaded and checked."""

    config: ClientConfig
    skills: tuple[Skill, ...]  # the enabled ones, in the config's order
    kb: tuple[KBDoc, ...]


def is_domain(value: str) -> bool:
    return len(value) <= 253 and DOMAIN.fullmatch(value) is not None


def load_client(root: Path, domain: str) -> ClientFiles:
    """The files of ``domain`` under ``root``; ClientFileError if any is missing or malformed."""
    if not is_domain(domain):
        raise ClientFileError(f"{domain!r} is not a domain name")
    folder = root / domain
    config = _load_config(folder / "config.yaml", domain)
    skills = tuple(_load_skill(folder / "skills" / f"{name}.md", name) for name in config.skills)
    kb = tuple(_load_doc(path) for path in sorted((folder / "kb").glob("*.md")))
    known = {doc.file for doc in kb}
    for skill in skills:
        if unknown := [f for f in skill.kb if f not in known]:
            raise ClientFileError(f"{folder / 'skills' / skill.name}.md: kb names missing files {unknown}")
    return ClientFiles(config=config, skills=skills, kb=kb)


def load_config(root: Path, domain: str) -> ClientConfig:
    """Only ``config.yaml`` of ``domain`` under ``root`` (its name, tone...); ClientFileError if malformed."""
    if not is_domain(domain):
        raise ClientFileError(f"{domain!r} is not a domain name")
    return _load_config(root / domain / "config.yaml", domain)


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """The YAML mapping between the leading ``---`` lines, and the markdown after it."""
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if match is None:
        raise ClientFileError(f"{path}: expected YAML front matter between '---' lines")
    meta = _yaml_mapping(match.group(1), path)
    return meta, match.group(2).strip()


def _load_config(path: Path, domain: str) -> ClientConfig:
    data = _yaml_mapping(_read(path), path)
    tone = _text(data, "tone", path)
    if tone not in TONES:
        raise ClientFileError(f"{path}: tone must be one of {', '.join(TONES)}, not {tone!r}")
    skills = data.get("skills")
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        raise ClientFileError(f"{path}: skills must be a non-empty list of skill names")
    for name in skills:
        if not SKILL_NAME.fullmatch(name) or name in RESERVED_SKILLS:
            raise ClientFileError(f"{path}: {name!r} is not a usable skill name")
    if len(set(skills)) != len(skills):
        raise ClientFileError(f"{path}: a skill is listed twice")
    return ClientConfig(
        domain=domain,
        name=_text(data, "name", path),
        tone=tone,
        greeting=_text(data, "greeting", path),
        fallback=_text(data, "fallback", path),
        skills=tuple(skills),
    )


def _load_skill(path: Path, name: str) -> Skill:
    meta, body = split_front_matter(_read(path), path)
    if meta.get("name") != name:
        raise ClientFileError(f"{path}: name must be {name!r}, the file's name")
    triggers = meta.get("triggers")
    if (
        not isinstance(triggers, list)
        or not triggers
        or not all(isinstance(t, str) and t.strip() for t in triggers)
    ):
        raise ClientFileError(f"{path}: triggers must be a non-empty list of phrases")
    kb = meta.get("kb", [])
    if not isinstance(kb, list) or not all(isinstance(f, str) for f in kb):
        raise ClientFileError(f"{path}: kb must be a list of file names under kb/")
    max_passages = meta.get("max_passages", 2)
    if not isinstance(max_passages, int) or not 1 <= max_passages <= 5:
        raise ClientFileError(f"{path}: max_passages must be a whole number from 1 to 5")
    if not body:
        raise ClientFileError(f"{path}: the body (how to answer) is empty")
    return Skill(
        name=name,
        description=_text(meta, "description", path),
        triggers=tuple(t.strip() for t in triggers),
        body=body,
        kb=tuple(kb),
        max_passages=max_passages,
    )


def _load_doc(path: Path) -> KBDoc:
    text = _read(path).replace("\r\n", "\n").strip()
    first = text.splitlines()[0] if text else ""
    title = first[2:].strip() if first.startswith("# ") else path.stem.replace("-", " ").capitalize()
    return KBDoc(file=path.name, title=title, text=text)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClientFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientFileError(f"{path}: cannot be read ({exc})") from None


def _yaml_mapping(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClientFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ClientFileError(f"{path}: expected a YAML mapping")
    return data


def _text(data: dict[str, Any], key: str, path: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ClientFileError(f"{path}: {key} must be a non-empty string")
    return value.strip()
