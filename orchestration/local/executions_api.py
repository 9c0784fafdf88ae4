"""Moved: the local Workflows Executions API is the package ``orchestration.local.executions``.

This module only re-exports ``ExecutionsServer`` for the importer not yet pointed at the package
(``orchestration/cli.py``); import from ``orchestration.local.executions`` instead. Delete this file once
nothing imports it.
"""

from orchestration.local.executions import ExecutionsServer

__all__ = ["ExecutionsServer"]
