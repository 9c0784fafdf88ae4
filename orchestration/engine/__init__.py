"""The local Cloud Workflows engine: runs ``orchestration/factory.yaml`` unchanged on one machine."""
