"""``python -m orchestration.receiver``: the webhook receiver service (see service.py)."""

from orchestration.receiver.service import main

if __name__ == "__main__":
    raise SystemExit(main())
