"""The Linear webhook receiver: verifies a delivery, dedupes it, locks the ticket and publishes its ids."""

from orchestration.receiver.app import Receiver, ReceiverServer, Reply
from orchestration.receiver.publishing import BackgroundPublisher, LocalPublisher, Publisher
from orchestration.receiver.triggers import Decision, TriggerConfig, decide
from orchestration.receiver.verify import sign, signature_ok, timestamp_ok

__all__ = [
    "BackgroundPublisher",
    "Decision",
    "LocalPublisher",
    "Publisher",
    "Receiver",
    "ReceiverServer",
    "Reply",
    "TriggerConfig",
    "decide",
    "sign",
    "signature_ok",
    "timestamp_ok",
]
