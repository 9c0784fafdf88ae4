"""The nightly triage of a chatbot's failures (job ``solve-chatbot-issues``).

Its own read clients for Sentry and Langfuse (``sentry``, ``langfuse``: httpx, the shared retry policy;
the same code reads the real services and the local stand-ins), findings and their fingerprints
(``findings``), what each source yields (``collect``), the decisions (``decide``) and the memory across
nights (``ledger``), the job itself (``phase``), its closing step (``close``), and a finding read as a
ticket by the implement, review and e2e phases (``tickets``).
"""

from __future__ import annotations

from jobs.triage.langfuse import LangfuseClient, LangfuseObservation, LangfuseScore, LangfuseTrace
from jobs.triage.sentry import SentryClient, SentryEvent, SentryException, SentryIssue, StackFrame

__all__ = [
    "LangfuseClient",
    "LangfuseObservation",
    "LangfuseScore",
    "LangfuseTrace",
    "SentryClient",
    "SentryEvent",
    "SentryException",
    "SentryIssue",
    "StackFrame",
]
