"""The backoffice: ``python -m support_bot.backoffice --port 3002`` (from the repository root)."""

from __future__ import annotations

from ..serve import main
from . import create_app

if __name__ == "__main__":
    main("python -m support_bot.backoffice", __doc__, create_app, 3002)
