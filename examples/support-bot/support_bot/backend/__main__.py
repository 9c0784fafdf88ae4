"""The chat API: ``python -m support_bot.backend --port 8080`` (from the repository root)."""

from __future__ import annotations

from ..serve import main
from . import create_app

if __name__ == "__main__":
    main("python -m support_bot.backend", __doc__, create_app, 8080)
