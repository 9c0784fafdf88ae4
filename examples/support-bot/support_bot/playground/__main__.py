"""The playground: ``python -m support_bot.playground --port 3001`` (from the repository root)."""

from __future__ import annotations

from ..serve import main
from . import create_app

if __name__ == "__main__":
    main("python -m support_bot.playground", __doc__, create_app, 3001)
