"""Harness-side MCP servers: tools our code serves to the agent, holding what the agent must not."""
