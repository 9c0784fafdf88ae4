"""``python -m orchestration.local.langfuse``: serve a Langfuse stand-in on loopback until Ctrl-C."""

from __future__ import annotations

from orchestration.local.langfuse.server import main

if __name__ == "__main__":
    main()
