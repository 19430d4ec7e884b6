"""What came back from the API server, read as data: JSON objects, Status errors, or one line
saying what arrived instead (an HTML page, a truncated body, a broken connection).

Nothing here trusts the server's answer to be shaped like Kubernetes; the caller
gets a dict or a `ClusterError` fit to print, never a traceback (docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitops_ray.errors import ClusterError

MAX_CONNECT_TIMEOUT = 10.0


class ApiError(ClusterError):
    """A request the API server answered with an error Status."""

    def __init__(self, message: str, *, status: int, reason: str = "", body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body: Mapping[str, Any] = body or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        details = self.body.get("details")
        causes = details.get("causes") if isinstance(details, Mapping) else None
        return [c for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []


class FieldConflict(ApiError):
    """A server-side apply conflict: other managers own fields we would change."""

    @property
    def conflicts(self) -> list[tuple[str, str]]:
        """(manager, field) pairs, e.g. ('"kubectl-edit" using v1', '.spec.x')."""
        out = []
        for cause in self.causes:
            if cause.get("reason") == "FieldManagerConflict":
                manager = str(cause.get("message", "")).removeprefix("conflict with ").strip()
                out.append((manager, str(cause.get("field", ""))))
        return out

    @property
    def managers(self) -> set[str]:
        return {_manager_name(manager) for manager, _ in self.conflicts}


def _manager_name(description: str) -> str:
    """'"kubectl-edit" using v1' -> 'kubectl-edit'."""
    if description.startswith('"'):
        return description[1:].split('"', 1)[0]
    return description.split(" ", 1)[0]


def lists(groups: dict[str, Any], group: str, version: str) -> bool:
    """Whether an APIGroupList names `group` at `version`."""
    for entry in groups.get("groups") or ():
        if isinstance(entry, dict) and entry.get("name") == group:
            return any(isinstance(v, dict) and v.get("version") == version for v in entry.get("versions") or ())
    return False


def is_object(item: Any) -> bool:
    meta = item.get("metadata") if isinstance(item, dict) else None
    return isinstance(meta, dict) and isinstance(meta.get("name"), str)


def _what_came(data: bytes, headers: Any) -> str:
    content_type = str((headers.get("Content-Type") if hasattr(headers, "get") else "") or "").split(";")[0]
    head = data.lstrip()[:64].lower()
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        return f"an HTML page ({len(data)} bytes)"
    if content_type and "json" not in content_type:
        return f"{content_type} ({len(data)} bytes)"
    return f"{len(data)} bytes"


def json_object(data: bytes, headers: Any, server: str, method: str, path: str) -> dict[str, Any]:
    """The answer as a JSON object, or one line saying what came back instead."""
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except (ValueError, RecursionError):
        raise ClusterError(f"{server}: {method} {path}: the answer is not JSON: {_what_came(data, headers)}"
                           ) from None
    if not isinstance(decoded, dict):
        raise ClusterError(f"{server}: {method} {path}: the answer is JSON but not an object "
                           f"(a {type(decoded).__name__})")
    return decoded


def api_error(status: int, data: bytes, headers: Any, method: str, path: str) -> ApiError:
    body: dict[str, Any] = {}
    try:
        decoded = json.loads(data) if data else {}
        body = decoded if isinstance(decoded, dict) else {}
    except (ValueError, TypeError, RecursionError):
        body = {}
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    if not message:
        shown = _what_came(data, headers) if data else "no body"
        message = f"HTTP {status} from {method} {path} ({shown})"
    reason = str(body.get("reason") or "")
    details = body.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    causes = causes if isinstance(causes, list) else []
    cls = FieldConflict if status == 409 and any(
        isinstance(c, dict) and c.get("reason") == "FieldManagerConflict" for c in causes) else ApiError
    return cls(message.splitlines()[0] if message else message, status=status, reason=reason, body=body)


def retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def short(err: Exception | None) -> str:
    text = str(err) if err else "unknown error"
    return text.splitlines()[0][:300] if text else type(err).__name__


def _chain(err: BaseException) -> list[BaseException]:
    """The error and what caused it (urllib3 keeps the cause in `reason`)."""
    found: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and len(found) < 8:
        found.append(current)
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    return found


def retryable_transport(err: BaseException) -> bool:
    """Refused or reset connections are worth another try; timeouts and TLS failures are not."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    chain = _chain(err)
    if any(isinstance(e, NewConnectionError) for e in chain):  # urllib3 files it under timeouts
        return True
    return not any(isinstance(e, Urllib3Timeout | TimeoutError | ApiException) for e in chain)


def transport_problem(err: Exception, timeout: float) -> str:
    """One line for a request that got no usable answer."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError

    for found in _chain(err):
        if isinstance(found, NewConnectionError):  # before ConnectTimeoutError, its base class
            return f"cannot connect: {short(found).rpartition('] ')[2] or short(found)}"
        if isinstance(found, ReadTimeoutError):
            return f"no answer within {timeout:g}s (--request-timeout)"
        if isinstance(found, ConnectTimeoutError):
            return f"could not connect within {min(timeout, MAX_CONNECT_TIMEOUT):g}s"
        if isinstance(found, ProtocolError):
            return f"the connection broke off mid-answer ({short(found)})"
        if isinstance(found, ApiException):  # the client's wrapper of TLS failures
            return " ".join(str(found.reason).split())[:300]
    return short(err)
