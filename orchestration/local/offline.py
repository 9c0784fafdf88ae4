"""Starting the offline model (the scripted Messages API server) for local runs."""

from __future__ import annotations

from pathlib import Path

from orchestration.local.offline_model import OfflineModelServer, ScenarioBook

# A placeholder the CLI sends as its API key to the offline model; it opens nothing anywhere else.
OFFLINE_API_KEY = "offline-model-placeholder-key"


def start_offline_model(
    scenarios: Path, record_path: Path | None = None, port: int = 0
) -> OfflineModelServer:
    book = ScenarioBook.load(scenarios)
    if not book.scenarios:
        raise FileNotFoundError(f"no scenario files under {scenarios}")
    return OfflineModelServer(book, port=port, record_path=record_path).start()


def offline_env(server: OfflineModelServer) -> dict[str, str]:
    """Environment that points the real Claude Code CLI at the offline model."""
    return {"ANTHROPIC_BASE_URL": server.base_url, "ANTHROPIC_API_KEY": OFFLINE_API_KEY}
