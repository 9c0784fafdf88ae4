"""``factory runs`` on a ``gs://`` prefix: the real google-cloud-storage client against fake-gcs-server
(the emulator ``tests/jobs/test_artifacts.py`` starts), through the same store the jobs write with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from jobs.artifacts import GcsStore
from orchestration.cli import app
from orchestration.runs.catalog import Filters, RunsError, find_run, list_runs
from orchestration.runs.opener import locate
from tests.jobs.test_artifacts import _client, _new_bucket, gcs_endpoint  # noqa: F401 (a fixture)
from tests.orchestration.runs.build import T0, build_run


@pytest.fixture
def bucket(gcs_endpoint: str) -> tuple[str, GcsStore]:  # noqa: F811 (the fixture above)
    name = _new_bucket(gcs_endpoint)
    store = GcsStore(name, "factory", _client(gcs_endpoint))
    build_run(store, "ix-101-a", started=T0)
    build_run(store, "ix-102-b", ticket="IX-102", started=T0 + timedelta(hours=1), e2e="failed")
    return name, store


def test_runs_are_listed_shown_and_their_report_written_on_gcs(bucket: tuple[str, GcsStore]) -> None:
    name, store = bucket
    assert [f.run_id for f in list_runs(store).runs] == ["ix-102-b", "ix-101-a"]
    assert [f.run_id for f in list_runs(store, Filters(status="failed")).runs] == ["ix-102-b"]
    assert find_run(store, "ix-101") == "ix-101-a"
    with pytest.raises(RunsError, match=f"no run 'ix-9' under gs://{name}/factory"):
        find_run(store, "ix-9")
    store.write_bytes("runs/ix-101-a/e2e/attempt-1/screenshots/01-notes.png", b"\x89PNG")
    report = locate(store, "ix-101-a")
    assert report.rendered and report.url == f"gs://{name}/factory/runs/ix-101-a/index.html"
    assert report.browser_url == f"https://storage.cloud.google.com/{name}/factory/runs/ix-101-a/index.html"
    page = store.read_bytes("runs/ix-101-a/index.html").decode()
    # The record names the screenshot by its gs:// URL; the page links it relative to itself.
    assert '<img src="e2e/attempt-1/screenshots/01-notes.png"' in page and "gs://" not in page


def test_the_command_reads_a_gs_prefix(bucket: tuple[str, GcsStore], gcs_endpoint: str) -> None:  # noqa: F811
    name, _ = bucket
    env = {"STORAGE_EMULATOR_HOST": gcs_endpoint, "GOOGLE_CLOUD_PROJECT": "test"}
    result = CliRunner().invoke(app, ["runs", "--artifacts", f"gs://{name}/factory"], env=env)
    assert result.exit_code == 0, result.output
    assert "ix-102-b" in result.stdout and "runs 1-2 of 2" in result.stdout
    result = CliRunner().invoke(
        app, ["runs", "open", "ix-102", "--artifacts", f"gs://{name}/factory"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"storage.cloud.google.com/{name}/factory/runs/ix-102-b/index.html")
