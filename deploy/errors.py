"""API errors as one line: which resource, what we were doing, what Google said, and the fix.

Google reports a disabled API as 403 with an ``ErrorInfo`` whose reason is ``SERVICE_DISABLED`` and whose
metadata names the service; that becomes "enable <service>". A 404 while *writing* (a read's 404 just
means "not there yet") usually means the project id is wrong or the API is not on. 409/412 are races with
someone else's change. An error that only means an IAM grant is not in effect yet (propagation.py) says
so and asks for another apply in a minute. A Cloud Run revision that did not start names the command
that shows its logs: the cause is in there, and applying again without fixing it fails the same way.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from google.api_core import exceptions as core_exceptions
from google.auth import exceptions as auth_exceptions

from deploy.propagation import propagating
from jobs.errors import FactoryError

REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")
ACT_AS = re.compile(r"iam\.serviceAccounts\.actAs'? denied on service account ([\w.-]+@[\w.-]+\.com)", re.I)
PROPAGATING_FIX = "IAM grants may still be propagating (it can take minutes); run apply again in a minute"
REVISION = re.compile(r"Revision '([^']+)' is not ready")
# The deploy attaches its own service accounts to what it creates, which takes iam.serviceAccounts.actAs.
ACCOUNT_USER = (
    "roles/iam.serviceAccountUser on the service accounts the deploy attaches "
    "(factory-jobs, -workflow, -receiver, -eventarc, and with the triage -triage, -scheduler), or on the "
    "project"
)


class DeployError(FactoryError):
    """A deploy step failed; the message is one line naming the resource and the fix."""


def _reason(exc: core_exceptions.GoogleAPICallError) -> tuple[str, str]:
    reason = str(exc.reason or "")
    service = str((exc.metadata or {}).get("service", "")) if reason == "SERVICE_DISABLED" else ""
    if not service and "has not been used in project" in exc.message:
        reason = "SERVICE_DISABLED"
    return reason, service


def explain(
    exc: core_exceptions.GoogleAPICallError, label: str, doing: str, api: str, admin_role: str, project: str
) -> str:
    """The one line for ``exc``, raised while ``doing`` something to the resource called ``label``."""
    code = exc.code or 0
    # REST errors arrive as "POST https://...?query: message": the request line is noise here.
    said = REQUEST_LINE.sub("", " ".join(str(exc.message).split())) or exc.__class__.__name__
    head = f"{label}: {doing} failed ({code} {said})"
    reason, service = _reason(exc)
    if reason == "SERVICE_DISABLED":
        service = service or api
        return f"{head} — fix: enable {service}: gcloud services enable {service} --project={project}"
    if propagating(exc):
        return f"{head} — fix: {PROPAGATING_FIX}"
    act_as = ACT_AS.search(said)
    if code == 403 and act_as:
        return (
            f"{head} — fix: the deploying account needs roles/iam.serviceAccountUser on {act_as[1]} "
            f"(or on project {project}) to attach it"
        )
    if code == 403:
        return (
            f"{head} — fix: the deploying account needs {admin_role} on project {project}, and {ACCOUNT_USER}"
        )
    if code == 404:
        return f"{head} — fix: check the project id {project!r} and that {api} is enabled"
    revision = REVISION.search(said)
    if revision:
        logs = revision_logs(revision[1], project)
        return f"{head} — fix: the new revision did not start; its logs say why: {logs}"
    if code == 409 or code == 412:
        return f"{head} — fix: it changed since it was read (someone else deploying?); run apply again"
    if code == 400:
        return f"{head} — fix: the config gives this resource a value the API refuses; correct it"
    if code == 429 or code >= 500:
        return f"{head} — fix: a transient failure on Google's side; run apply again"
    return f"{head} — fix: see the message; nothing was changed after this step"


def revision_logs(revision: str, project: str) -> str:
    """The command that shows a Cloud Run revision's logs (a failed start is explained there)."""
    query = f'resource.type="cloud_run_revision" AND resource.labels.revision_name="{revision}"'
    return f"gcloud logging read '{query}' --project={project} --limit=50"


@contextlib.contextmanager
def explained(label: str, doing: str, api: str, admin_role: str, project: str) -> Iterator[None]:
    """Turn any API, auth or network failure inside the block into a DeployError line."""
    try:
        yield
    except core_exceptions.GoogleAPICallError as exc:
        raise DeployError(explain(exc, label, doing, api, admin_role, project)) from exc
    except core_exceptions.RetryError as exc:
        raise DeployError(
            f"{label}: {doing} timed out ({exc}) — fix: run apply again", retryable=True
        ) from exc
    except auth_exceptions.DefaultCredentialsError as exc:
        raise DeployError(
            f"{label}: no Google credentials — fix: gcloud auth application-default login ({exc})"
        ) from exc
    except auth_exceptions.GoogleAuthError as exc:
        raise DeployError(f"{label}: {doing}: authentication failed: {exc}") from exc
    except OSError as exc:
        raise DeployError(f"{label}: {doing}: cannot reach {api}: {exc}", retryable=True) from exc
