"""Tests of the harness-side MCP tools (jobs/mcp): in-process, and served to the real Claude Code CLI."""
