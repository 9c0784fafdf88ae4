"""Links from a run's report to the files beside it, relative so the page works wherever it is read.

The report is ``runs/<run_id>/index.html``. The records name their files by absolute URL (``file://``
locally, ``gs://`` on GCP, or a path inside a container that mounted the prefix elsewhere): none of
those opens from a browser reading the page from Cloud Storage. Every such URL is cut back to the part
after ``runs/<run_id>/``, which is the same in all of them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from jobs.artifacts import check_key
from jobs.errors import ArtifactError
from jobs.models import run_key

REPORT_NAME = "index.html"


def report_key(run_id: str) -> str:
    """The report's key in the store."""
    return run_key(run_id, REPORT_NAME)


def relative(url_or_key: str, run_id: str) -> str | None:
    """The run-relative link (``e2e/screenshots/01-list.png``) to a file of this run, or None when the
    URL or key is not one of this run's files."""
    path = urlsplit(url_or_key).path if "://" in url_or_key else url_or_key
    path = unquote(path)
    marker = f"runs/{run_id}/"
    if path.startswith(marker):
        rest = path[len(marker) :]
    else:
        at = path.rfind("/" + marker)
        if at < 0:
            return None
        rest = path[at + 1 + len(marker) :]
    try:
        check_key(rest)
    except ArtifactError:
        return None
    return "/".join(quote(segment) for segment in rest.split("/"))


def anchor(path: str) -> str:
    """An element id for one file of the run (a transcript's section), from its run-relative path."""
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", unquote(path)).strip("-").lower()
