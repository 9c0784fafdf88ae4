"""``python -m orchestration.local.sentry``: serve a Sentry stand-in on loopback until Ctrl-C."""

from __future__ import annotations

from orchestration.local.sentry.server import main

if __name__ == "__main__":
    main()
