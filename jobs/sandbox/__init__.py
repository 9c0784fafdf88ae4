"""The box the agent and the target's commands run in (see ``box``), and the app's side of it (``app``)."""

from jobs.sandbox.box import Box, ContainedBox, Containment, Who, open_box

__all__ = ["Box", "ContainedBox", "Containment", "Who", "open_box"]
