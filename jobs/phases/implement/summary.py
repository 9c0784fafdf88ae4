"""The implement phase's result as lines for people (the demo, ``factory`` commands)."""

from __future__ import annotations

from jobs.phases.implement.records import ImplementResult


def summary_lines(result: ImplementResult) -> list[str]:
    lines = [f"status      {result.status}{' - ' + result.detail if result.detail else ''}"]
    how = "resumed" if result.resumed else "new"
    lines.append(f"branch      {result.branch} ({how}, pushed: {result.pushed})")
    if result.agent is not None:
        agent, usage = result.agent, result.agent.usage
        lines.append(f"agent       {agent.status}, {agent.turns} turns, {agent.duration_seconds}s")
        lines.append(
            f"tokens      {usage.input_tokens} in / {usage.output_tokens} out, "
            f"${usage.cost_usd:.4f} (list price)"
        )
    lines.append(f"timings     {', '.join(f'{k} {v:.2f}s' for k, v in result.timings.items())}")
    lines.append(f"transcript  {result.transcript}")
    return lines
