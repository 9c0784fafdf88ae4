"""The command line shared by the three dev servers: ``python -m support_bot.<server> --port N``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from flask import Flask


def main(prog: str, description: str, create_app: Callable[[], Flask], default_port: int) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--debug", action="store_true", help="debugger and reloader (never in shared envs)")
    args = parser.parse_args()
    # threaded: the playground's page load asks the backend while a chat request may be running.
    create_app().run(host=args.host, port=args.port, debug=args.debug, use_reloader=args.debug, threaded=True)
