"""How our MCP servers are served by the harness (``jobs.mcp.serve.ServedTool``): streamable HTTP on a
socket the harness already listens on, passed as a descriptor, to holders of the run's bearer.

This file imports nothing from our package: the browser server, run by path and isolated, loads it by
path too.
"""

from __future__ import annotations

import os
import socket
from typing import Any

HTTP_FD_ENV = "FACTORY_MCP_FD"
HTTP_TOKEN_ENV = "FACTORY_MCP_TOKEN"  # noqa: S105 - the variable's name


def bearer_only(app: Any, token: str) -> Any:
    """An ASGI app that answers 401 to any HTTP request without ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return guarded


def serve_http(server: Any, fd: int, token: str) -> None:
    """Serve the MCP ``server`` as streamable HTTP on the listening socket ``fd`` to holders of ``token``."""
    import uvicorn

    app = bearer_only(server.streamable_http_app(), token)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


def run(server: Any) -> None:
    """Serve over HTTP when the harness passed a socket and a bearer, else on stdio."""
    if HTTP_FD_ENV in os.environ:
        serve_http(server, int(os.environ[HTTP_FD_ENV]), os.environ[HTTP_TOKEN_ENV])
    else:
        server.run("stdio")
