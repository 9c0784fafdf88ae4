"""The development server: ``python -m taskboard --port 8090`` (from the repository root)."""

from __future__ import annotations

import argparse

from . import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m taskboard", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--debug", action="store_true", help="debugger and reloader (never in shared envs)")
    args = parser.parse_args()
    create_app().run(host=args.host, port=args.port, debug=args.debug, use_reloader=args.debug)


if __name__ == "__main__":
    main()
