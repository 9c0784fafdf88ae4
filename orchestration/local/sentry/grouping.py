"""How the Sentry stand-in groups events into issues and describes them.

``event`` items become events, grouped into issues by a fingerprint computed as Sentry's grouping docs
describe (an explicit ``fingerprint`` first, ``{{ default }}`` expanded; else the exception types and the
in-app frames' module/function, all frames when none is in-app; else type and value; else the message).
An event's title, culprit, location, metadata, user and tags are derived as Sentry derives them.
"""

from __future__ import annotations

import hashlib
import re

from orchestration.local.sentry.model import Json


def exceptions_of(payload: Json) -> list[Json]:
    exc = payload.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    return [v for v in values or [] if isinstance(v, dict)]


def frames_of(exception: Json) -> list[Json]:
    stacktrace = exception.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames or [] if isinstance(f, dict)]


def message_of(payload: Json) -> str | None:
    logentry = payload.get("logentry")
    if isinstance(logentry, dict):
        text = logentry.get("formatted") or logentry.get("message")
        if isinstance(text, str) and text:
            return text
    message = payload.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    return message if isinstance(message, str) and message else None


def grouping_frames(frames: list[Json]) -> list[Json]:
    """The frames grouping looks at: the in-app ones, or every frame when none is in-app."""
    in_app = [f for f in frames if f.get("in_app") is True]
    return in_app or frames


def default_grouping(payload: Json) -> list[str]:
    """Components of Sentry's default fingerprint: stack trace, then exception, then message."""
    components: list[str] = []
    for exception in exceptions_of(payload):
        components.append(str(exception.get("type") or "Error"))
        frames = grouping_frames(frames_of(exception))
        if frames:
            for frame in frames:
                where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or "?"
                components.append(f"{where}:{frame.get('function') or '?'}")
        else:
            components.append(str(exception.get("value") or ""))
    if components:
        return components
    logentry = payload.get("logentry")
    template = logentry.get("message") if isinstance(logentry, dict) else None
    return [str(template or message_of(payload) or "<unlabeled event>")]


def fingerprint_hash(payload: Json) -> str:
    """The grouping hash: an explicit ``fingerprint`` (``{{ default }}`` expanded) or the default."""
    explicit = payload.get("fingerprint")
    if isinstance(explicit, list) and explicit:
        parts: list[str] = []
        for item in explicit:
            if re.fullmatch(r"\{\{\s*default\s*\}\}", str(item)):
                parts.extend(default_grouping(payload))
            else:
                parts.append(str(item))
        components = ["fingerprint", *parts]
    else:
        components = ["default", *default_grouping(payload)]
    return hashlib.md5("\x00".join(components).encode(), usedforsecurity=False).hexdigest()


def culprit_frame(payload: Json) -> Json | None:
    """The frame Sentry names as culprit: the last in-app frame of the last exception (else its last)."""
    exceptions = exceptions_of(payload)
    if not exceptions:
        return None
    frames = frames_of(exceptions[-1])
    in_app = [f for f in frames if f.get("in_app") is True]
    chosen = in_app or frames
    return chosen[-1] if chosen else None


def describe(payload: Json) -> tuple[str, str, str | None, Json, str]:
    """Title, culprit, location, metadata and type of an event, as Sentry derives them."""
    frame = culprit_frame(payload)
    culprit = ""
    location = None
    if frame is not None:
        where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or "?"
        culprit = f"{where} in {frame.get('function') or '?'}"
        if frame.get("filename") and frame.get("lineno") is not None:
            location = f"{frame['filename']}:{frame['lineno']}"
    if isinstance(payload.get("transaction"), str) and payload["transaction"]:
        culprit = payload["transaction"]
    if isinstance(payload.get("culprit"), str) and payload["culprit"]:
        culprit = payload["culprit"]
    exceptions = exceptions_of(payload)
    if exceptions:
        last = exceptions[-1]
        kind = str(last.get("type") or "Error")
        value = str(last.get("value") or "")
        first_line = value.splitlines()[0] if value else ""
        title = f"{kind}: {first_line[:100]}" if first_line else kind
        frames = frames_of(last)
        in_app = [f.get("in_app") is True for f in frames]
        metadata: Json = {
            "type": kind,
            "value": value,
            "filename": frame.get("filename") if frame else None,
            "function": frame.get("function") if frame else None,
            "in_app_frame_mix": "in-app-only"
            if in_app and all(in_app)
            else "system-only"
            if not any(in_app)
            else "mixed",
        }
        return title, culprit, location, metadata, "error"
    message = message_of(payload) or "<unlabeled event>"
    title = message.splitlines()[0][:100]
    return title, culprit, location, {"title": title}, "default"


def user_key(payload: Json) -> str | None:
    user = payload.get("user")
    if not isinstance(user, dict):
        return None
    for key in ("id", "email", "username", "ip_address"):
        if user.get(key):
            return f"{key}:{user[key]}"
    return None


def event_tags(payload: Json) -> list[tuple[str, str]]:
    raw = payload.get("tags")
    tags: dict[str, str] = {}
    if isinstance(raw, dict):
        tags.update({str(k): str(v) for k, v in raw.items()})
    elif isinstance(raw, list):
        tags.update({str(p[0]): str(p[1]) for p in raw if isinstance(p, list | tuple) and len(p) == 2})
    tags["level"] = str(payload.get("level") or "error")
    for key in ("environment", "release", "server_name", "transaction", "dist"):
        if payload.get(key):
            tags[key] = str(payload[key])
    exceptions = exceptions_of(payload)
    mechanism = exceptions[-1].get("mechanism") if exceptions else None
    if isinstance(mechanism, dict):
        if "handled" in mechanism:
            tags["handled"] = "yes" if mechanism["handled"] else "no"
        if mechanism.get("type"):
            tags["mechanism"] = str(mechanism["type"])
    who = user_key(payload)
    if who:
        tags["user"] = who
    return sorted(tags.items())
