"""The implement phase: the coding agent implements the ticket on its branch; our code pushes it."""
