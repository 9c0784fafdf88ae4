"""Orchestration: the workflow (factory.yaml), its local engine and stack, the cloud client, the receiver."""

from pathlib import Path

FACTORY_YAML = Path(__file__).with_name("factory.yaml")  # the one workflow file, here and on GCP
