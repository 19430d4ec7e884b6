"""API errors as exact `metav1.Status` bodies.

Clients branch on `code`, `reason` and `details` (the Python client maps the
code to an exception class, kubectl prints `message`), so every error the
sandbox answers is built here, worded as apimachinery `pkg/api/errors/errors.go`
words it (spec §1.9). Keys are emitted in the Go struct's field order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


class StatusError(Exception):
    """An API refusal: HTTP status `code`, machine `reason`, human `message`."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def body(self) -> bytes:
        return json.dumps(self.status(), separators=(",", ":")).encode()

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details.update({k: v for k, v in extra.items() if v})
    return details


def qualified(resource: str, group: str) -> str:
    """`configmaps`, `rayclusters.ray.io`: how a GroupResource prints."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       _details(name, group, resource))


def path_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                       _details(name, group, resource))


def conflict(resource: str, group: str, name: str, why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    message = f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}'
    return StatusError(409, "Conflict", message, _details(name, group, resource))


def apply_conflict(message: str, causes: list[dict[str, Any]]) -> StatusError:
    return StatusError(409, "Conflict", message, {"causes": causes})


def field_error_text(field: str, body: str) -> str:
    return f"{field}: {body}" if field else body


def aggregate(messages: Sequence[str]) -> str:
    """apimachinery's aggregate error text: duplicates dropped, brackets for several."""
    seen: list[str] = []
    for msg in messages:
        if msg not in seen:
            seen.append(msg)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid(kind: str, group: str, name: str, causes: Sequence[tuple[str, str, str]]) -> StatusError:
    """422 from (reason, field, body) causes; `kind` is the Kind here, not the plural."""
    texts = [field_error_text(field, body) for _, field, body in causes]
    message = f'{qualified(kind, group)} "{name}" is invalid: {aggregate(texts)}'
    cause_list = [{"reason": reason, "message": body, "field": field} for reason, field, body in causes]
    return StatusError(422, "Invalid", message, _details(name, group, kind, causes=cause_list))


def invalid_resource(resource: str, group: str, name: str, causes: Sequence[tuple[str, str, str]]) -> StatusError:
    """Store-level 422s (missing resourceVersion) name the resource, not the Kind."""
    err = invalid(resource, group, name, causes)
    return err


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(resource: str, group: str, name: str, why: str,
              causes: list[dict[str, Any]] | None = None) -> StatusError:
    message = f'{qualified(resource, group)} "{name}" is forbidden: {why}'
    return StatusError(403, "Forbidden", message, _details(name, group, resource, causes=causes))


def unsupported_media_type(accepted: Sequence[str]) -> StatusError:
    message = "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
    return StatusError(415, "UnsupportedMediaType", message)


def method_not_allowed() -> StatusError:
    return StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def internal(message: str) -> StatusError:
    """A plain Go error surfaced by the handler: 500 with no reason (spec §1.9, SSA undeclared field)."""
    return StatusError(500, "", message)


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large(message: str = "Request entity too large: limit is 3145728") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Gone", message)


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def too_many_requests(retry_after: int) -> StatusError:
    err = StatusError(429, "TooManyRequests", "Too many requests, please try again later.",
                      {"retryAfterSeconds": retry_after})
    err.headers["Retry-After"] = str(retry_after)
    return err


def options_invalid(kind: str, causes: Sequence[tuple[str, str, str]]) -> StatusError:
    """422 for bad CreateOptions/UpdateOptions/PatchOptions/DeleteOptions (group meta.k8s.io, empty name)."""
    texts = [field_error_text(field, body) for _, field, body in causes]
    message = f'{kind}.meta.k8s.io "" is invalid: {aggregate(texts)}'
    cause_list = [{"reason": reason, "message": body, "field": field} for reason, field, body in causes]
    return StatusError(422, "Invalid", message, {"group": "meta.k8s.io", "kind": kind, "causes": cause_list})


__all__ = [
    "CONTINUE_EXPIRED",
    "StatusError",
    "aggregate",
    "already_exists",
    "apply_conflict",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "internal",
    "internal_error",
    "invalid",
    "method_not_allowed",
    "not_found",
    "options_invalid",
    "path_not_found",
    "qualified",
    "service_unavailable",
    "too_large",
    "too_many_requests",
    "unsupported_media_type",
]
