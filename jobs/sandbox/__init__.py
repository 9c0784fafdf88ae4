"""The box the agent and the target's commands run in (see ``box``), and the app's side of it (``app``)."""

from jobs.sandbox.box import AppSide, Box, ContainedBox, Containment, Who, open_box, side_of

__all__ = ["AppSide", "Box", "ContainedBox", "Containment", "Who", "open_box", "side_of"]
