"""What the plan says about the deployment as a whole, beyond any one resource.

Each note is one line: an API that must be on although the deploy never calls it (so no call can fail
and say so), what the config leaves out on purpose, and how images are rolled out.
"""

from __future__ import annotations

from deploy.config import DeployConfig
from deploy.names import Names
from deploy.phases import TRIAGE_PHASES, deployed_images

# APIs Factory depends on at run time that `factory deploy` itself never calls, so a disabled one would
# go unnoticed until the first run. Eventarc's "Route Pub/Sub events to Workflows" lists both.
UNCALLED_APIS = {
    "workflowexecutions.googleapis.com": "Eventarc and Cloud Scheduler start executions through it",
    "eventarcpublishing.googleapis.com": "Eventarc's Pub/Sub-to-Workflows routing needs it",
}


def uncalled_apis(config: DeployConfig) -> str:
    names = " ".join(UNCALLED_APIS)
    why = "; ".join(f"{api}: {reason}" for api, reason in UNCALLED_APIS.items())
    return (
        f"APIs used at run time but never called by the deploy ({why}); enable them once with: "
        f"gcloud services enable {names} --project={config.project}"
    )


def triage_skipped(names: Names) -> str:
    jobs = ", ".join(names.job(phase) for phase in TRIAGE_PHASES)
    return (
        f"Cloud Scheduler job {names.nightly} and Cloud Run jobs {jobs}: not created, because "
        "triage.enabled is false (a solve-chatbot-issues run would find no triage job); set "
        "triage.enabled: true, with the Sentry or Langfuse secrets, to create them"
    )


def image_tags(config: DeployConfig) -> list[str]:
    """Cloud Run keeps the image reference as written and resolves a tag to a digest only when it makes
    a revision: content pushed again under the same tag changes nothing apply can see."""
    lines = [
        "Image tags must be immutable: Cloud Run stores the tag, not the digest, so an image pushed again "
        "under the same tag is not rolled out; push each build under a new images.tag"
    ]
    latest = [image for image in deployed_images(config) if config.images.ref(image).endswith(":latest")]
    if latest:
        lines.append(
            f"warning: {', '.join(latest)} use the tag 'latest', which apply cannot roll out when it "
            "moves; use a tag per build (or a @sha256: digest in images.overrides)"
        )
    return lines


def plan_notes(config: DeployConfig) -> list[str]:
    """The plan's closing notes for ``config``."""
    names = Names.of(config)
    notes = [uncalled_apis(config)]
    if not config.triage.enabled:
        notes.append(triage_skipped(names))
    return notes + image_tags(config)
