"""YAML documents, read safely, by the parser that suits where the text comes from.

``safe_load`` is for files of ours and the operator's (the scenario books, deploy configs): libyaml's
parser where PyYAML was built with it (its wheels are), about ten times faster than PyYAML's own
(the scenario book in 0.021 s instead of 0.165 s). ``untrusted_load`` is for text anyone else wrote
(a target's ``.factory.yaml``, a ticket's front matter): PyYAML's own parser, because libyaml's recurses
without a limit and 25,000 nested brackets (25 KB) crash the process outright, where the Python parser
runs out of recursion, which is a YAML error here like any other.
"""

from __future__ import annotations

from typing import Any

import yaml

LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load(text)`` of a file of ours, by the faster parser when there is one."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - LOADER is a safe loader (C or Python)


def untrusted_load(text: str) -> Any:
    """``yaml.safe_load(text)`` of text someone else wrote; too deep a nesting is a ``yaml.YAMLError``."""
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deeply") from None
