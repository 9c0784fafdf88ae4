"""How the harness starts each of our MCP servers: its command, and its configuration as environment
variables, which the server reads back. One module per server, shared by the two sides.

A job process loads these, never the servers: a server imports the MCP library, about 0.7 s of CPU
that the job would pay again in every phase for processes it only starts (a rule of ``tests/layers.py``
keeps the phases off the servers' modules; ``tests/jobs/mcp/test_job_imports.py`` the whole package).
"""

from __future__ import annotations

import os

# The harness's own network settings, passed on to a server that calls a provider (Sentry, Langfuse)
# so that it reaches the provider as the job does.
NETWORK_ENV = (
    *("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR"),
)


def network_env() -> dict[str, str]:
    """The harness's network settings that are set (``NETWORK_ENV``)."""
    return {name: os.environ[name] for name in NETWORK_ENV if name in os.environ}
