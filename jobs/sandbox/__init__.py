"""The box the agent and the target's commands run in (see ``box``)."""

from jobs.sandbox.box import Box, ContainedBox, Containment, open_box

__all__ = ["Box", "ContainedBox", "Containment", "open_box"]
