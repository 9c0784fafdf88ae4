"""Figures as people read them, the same in the HTML report and on the console."""

from __future__ import annotations

from datetime import UTC, datetime


def money(usd: float | None) -> str:
    """Dollars: four decimals under a dollar (agent runs cost cents), two above."""
    if usd is None:
        return "-"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def duration(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def when(moment: datetime | None) -> str:
    """A moment in UTC, to the second: ``2026-12-04 17:36:03 UTC``."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_sha(sha: str | None) -> str:
    return sha[:10] if sha else "-"


def words(status: str | None) -> str:
    """A status as words: ``failed_after_max`` -> ``failed after max``; None -> ``pending``."""
    return status.replace("_", " ") if status else "pending"
