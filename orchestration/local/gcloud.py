"""How the real gcloud reaches ``factory serve``: its environment, a private config, the commands to type."""

from __future__ import annotations

from pathlib import Path

DUMMY_TOKEN = "local-executions-api"  # noqa: S105 - gcloud sends it; the local server ignores it


def gcloud_env(base_url: str, config_dir: str, token_file: str) -> dict[str, str]:
    """Environment pointing the real gcloud at ``base_url`` with no Google account and no change to the
    machine's gcloud configuration: a private ``CLOUDSDK_CONFIG`` and a dummy access token file."""
    return {
        "CLOUDSDK_CONFIG": config_dir,
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS": base_url,
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": token_file,
        "CLOUDSDK_CORE_PROJECT": "local",
        "CLOUDSDK_WORKFLOWS_LOCATION": "local",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    }


def prepare_gcloud(directory: Path) -> tuple[str, str]:
    """A private gcloud configuration directory and a dummy token file under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").mkdir(exist_ok=True)
    token = directory / "token"
    token.write_text(DUMMY_TOKEN + "\n", encoding="utf-8")
    return str((directory / "config").resolve()), str(token.resolve())


def gcloud_howto(base_url: str, config_dir: str, token_file: str) -> list[str]:
    """The shell lines that drive this server with the real gcloud."""
    exports = [f"export {key}={value}" for key, value in gcloud_env(base_url, config_dir, token_file).items()]
    return [
        *exports,
        'gcloud workflows run factory --data=\'{"job":"solve-linear-ticket","ticket":"IX-103"}\'',
        "gcloud workflows executions list factory",
        "gcloud workflows executions describe EXECUTION_ID --workflow factory",
        "gcloud workflows executions cancel EXECUTION_ID --workflow factory",
    ]
