"""The review phase: rubric, reviewer verdicts, evidence, and the pull request body."""
