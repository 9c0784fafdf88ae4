"""The built-in call targets of the local engine: ``sys.log``, ``sys.sleep`` and ``http.*``.

They follow Google's standard-library reference pages of the same names:

- ``sys.log``: exactly one of ``data``/``text``/``json``; ``severity`` one of the Cloud Logging
  severities (default ``DEFAULT``); arguments by name, or as a list in that documented order (the
  page's ``argsList`` examples: ``args: [${myVar}, "ERROR"]``). It is the only call target whose
  reference shows a list; every other one takes a map, as Google's JSON schema types ``args``.
- ``sys.sleep``: ``seconds``, a non-negative number; the engine's injected ``sleep`` does the waiting.
- ``http.get``/``post``/``put``/``patch``/``delete``/``request``: ``url``, ``headers``, ``body``,
  ``query``, ``auth``, ``timeout`` (default 300 s, at most 1800 s). The response is a map with ``body``
  (decoded from JSON when the response says JSON), ``code`` and ``headers`` (lower-case names). A status
  of 400 or more raises ``HttpError`` with ``code``, ``headers`` and ``body``; a refused connection
  raises ``ConnectionFailedError``, a broken one ``ConnectionError``, a timeout ``TimeoutError``.
  ``auth`` is accepted and ignored (no Google credentials locally).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from orchestration.engine.errors import WorkflowError, type_error, value_error

LogSink = Callable[[str, Any], None]
"""Receives ``(severity, payload)``: a string for a text payload, a map for a JSON payload."""

HTTP_METHODS = {
    "http.get": "GET",
    "http.post": "POST",
    "http.put": "PUT",
    "http.patch": "PATCH",
    "http.delete": "DELETE",
}
_HTTP_ARGS = ("url", "headers", "body", "query", "auth", "timeout", "private_service_name", "ca_certificate")

# Call target -> (argument names in their documented positional order, required ones).
BUILTIN_ARGS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "sys.log": (("data", "severity", "text", "json", "timeout"), frozenset()),
    "sys.sleep": (("seconds",), frozenset({"seconds"})),
    **{name: (_HTTP_ARGS, frozenset({"url"})) for name in HTTP_METHODS},
    "http.request": (("method", *_HTTP_ARGS), frozenset({"url", "method"})),
}
# Arguments by position are documented for sys.log only (its reference's argsList examples).
POSITIONAL_OK = frozenset({"sys.log"})

SEVERITIES = frozenset(
    {"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}
)
DEFAULT_HTTP_TIMEOUT = 300.0
MAX_HTTP_TIMEOUT = 1800.0


def named_args(function: str, args: Any) -> dict[str, Any]:
    """``args`` as a map: a list is matched to the documented positional order."""
    if args is None:
        return {}
    if isinstance(args, dict):
        return args
    names = BUILTIN_ARGS[function][0]
    if function not in POSITIONAL_OK or not isinstance(args, list) or len(args) > len(names):
        raise type_error(
            f"{function}: arguments must be a map"
            + (f" or a list of at most {len(names)} values" if function in POSITIONAL_OK else "")
        )
    return {name: value for name, value in zip(names, args, strict=False) if value is not None}


def sys_log(args: Mapping[str, Any], sink: LogSink) -> None:
    """``sys.log``: one payload at one severity, handed to the sink."""
    payloads = [key for key in ("data", "text", "json") if args.get(key) is not None]
    if len(payloads) != 1:
        raise type_error("sys.log: exactly one of data, text or json must be given")
    severity = args.get("severity", "DEFAULT")
    if severity not in SEVERITIES:
        raise value_error(f"sys.log: severity must be one of {', '.join(sorted(SEVERITIES))}")
    kind, value = payloads[0], args[payloads[0]]
    if kind == "json" and not isinstance(value, dict):
        raise type_error("sys.log: json must be a map")
    # A map given as data becomes a JSON payload; everything else given as data or text is text.
    if kind == "json" or (kind == "data" and isinstance(value, dict)):
        sink(severity, value)
    else:
        sink(severity, value if isinstance(value, str) else json.dumps(value))


def sys_sleep(args: Mapping[str, Any], sleep: Callable[[float], None]) -> None:
    """``sys.sleep``: wait ``seconds`` through the injected sleep (tests pass a recorder)."""
    seconds = args.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise type_error("sys.sleep: seconds must be a number")
    if seconds < 0:
        raise value_error("sys.sleep: seconds must not be negative")
    sleep(float(seconds))


def http_call(function: str, args: Mapping[str, Any], client: httpx.Client) -> dict[str, Any]:
    """One ``http.*`` call: build the request as Google documents, map the outcome to its errors."""
    method = HTTP_METHODS.get(function) or args.get("method")
    if not isinstance(method, str) or not method:
        raise type_error(f"{function}: method must be a string")
    url = args.get("url")
    if not isinstance(url, str):
        raise type_error(f"{function}: url must be a string")
    for unsupported in ("private_service_name", "ca_certificate"):
        if args.get(unsupported) is not None:
            raise value_error(f"{function}: {unsupported} is not supported by the local engine")
    timeout = _timeout(function, args.get("timeout"))
    headers = _headers(function, args.get("headers"))
    content = _encode_body(args.get("body"), headers)
    try:
        response = client.request(
            method.upper(),
            url,
            params=_query(function, args.get("query")),
            headers=headers,
            content=content,
            timeout=timeout,
            follow_redirects=True,
        )
    except httpx.TimeoutException as exc:
        raise WorkflowError(["TimeoutError"], f"{method} {url}: timed out after {timeout:g} s") from exc
    except httpx.ConnectError as exc:
        # The connection was never made (refused, unknown host): Google's ConnectionFailedError.
        raise WorkflowError(["ConnectionFailedError"], f"{method} {url}: {exc}") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise value_error(f"{function}: invalid url {url!r}: {exc}") from exc
    except httpx.TransportError as exc:
        raise WorkflowError(["ConnectionError"], f"{method} {url}: {exc}") from exc
    result = {
        "body": _decode_body(response),
        "code": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
    }
    if response.status_code >= 400:
        raise WorkflowError(
            ["HttpError"], f"HTTP server responded with error code {response.status_code}", **result
        )
    return result


def _timeout(function: str, value: Any) -> float:
    if value is None:
        return DEFAULT_HTTP_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(f"{function}: timeout must be a number")
    if value > MAX_HTTP_TIMEOUT:
        raise value_error(f"{function}: timeout must not exceed {MAX_HTTP_TIMEOUT:g} seconds")
    return float(value)


def _headers(function: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise type_error(f"{function}: headers must be a map of strings")
    return {str(name): v for name, v in value.items()}


def _query(function: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_error(f"{function}: query must be a map")
    return {str(k): (json.dumps(v) if isinstance(v, bool) else v) for k, v in value.items()}


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    """The request body as the reference prescribes: JSON unless a Content-Type says otherwise."""
    if body is None:
        return None
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is None:
        if isinstance(body, bytes):
            headers["Content-Type"] = "application/octet-stream"
            return body
        headers["Content-Type"] = "application/json; charset=utf-8"
        return json.dumps(body).encode()
    if isinstance(body, bytes):
        return body
    if "json" in content_type:
        return json.dumps(body).encode()
    if "x-www-form-urlencoded" in content_type and isinstance(body, dict):
        return urlencode(body).encode()
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def _decode_body(response: httpx.Response) -> Any:
    """JSON bodies become values, text bodies strings, anything else stays bytes."""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return json.loads(response.content) if response.content else None
        except ValueError:
            return response.text
    if content_type.startswith("text/"):
        return response.text
    return response.content
