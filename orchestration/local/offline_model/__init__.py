"""A scripted stand-in for the Claude model API.

It speaks the Anthropic Messages API (streaming SSE and plain JSON) on loopback and plays turns from
scenario files. It is not a language model: it only replays what a scenario says, which is what lets
the real Claude Code CLI run, offline and deterministically, in the demo and the tests.
"""

from orchestration.local.offline_model.scenarios import Scenario, ScenarioBook, Turn
from orchestration.local.offline_model.server import OfflineModelServer

__all__ = ["OfflineModelServer", "Scenario", "ScenarioBook", "Turn"]
