"""JSON values as the API server shows them to CEL under a CRD schema (k8s.io/apiserver/pkg/cel/common/values.go).

Strings of format date-time, date and duration become protobuf Timestamp and Duration
messages: cel-expr-python accepts Python datetimes only as top-level variables of a
declared type, but unwraps these well-known messages anywhere in a value. protobuf is
imported on the first such field, not before (it costs ~50 ms).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

MISSING: Final[Any] = object()
"""No value at all (as opposed to null): no old object, or no old value at this path."""


def _timestamp(text: str, date_only: bool) -> Any:
    import datetime as dt

    from google.protobuf import timestamp_pb2

    if date_only:
        moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
    else:
        moment = dt.datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> Any:
    """strfmt.ParseDuration: Go durations, plus days and weeks."""
    from google.protobuf import duration_pb2

    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not parts or _DURATION_PART.sub("", body).strip():
        raise ValueError(f"invalid duration {text!r}")
    seconds = sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    result = duration_pb2.Duration()
    result.FromNanoseconds(round(seconds * 1e9))
    return result


def _bytes(text: str) -> bytes:
    import base64

    return base64.b64decode(text, validate=True)


_FORMATS: dict[str, Any] = {
    "date-time": lambda s: _timestamp(s, False),
    "date": lambda s: _timestamp(s, True),
    "duration": _duration,
    "byte": _bytes,
}


def to_cel(value: Any, schema: Mapping[str, Any] | None, *, resource_root: bool = False) -> Any:
    """A JSON value as the API server shows it to CEL under `schema` (common/values.go `UnstructuredToVal`).

    Numbers are doubles; strings of format date-time/date, duration and byte are
    timestamps, durations and bytes; fields outside `properties` are dropped (the server
    prunes them before validating); a resource root shows only `apiVersion`, `kind` and
    `metadata.name`/`generateName` beside its properties (`WithTypeAndObjectMeta`). A
    value the format does not parse stays a string (the server would make it an error
    value).
    """
    if value is None or schema is None or schema.get("x-kubernetes-int-or-string"):
        return value
    kind = schema.get("type")
    if isinstance(value, dict):
        embedded = resource_root or bool(schema.get("x-kubernetes-embedded-resource"))
        props = schema.get("properties")
        if props is not None or embedded:
            props = props or {}
            out = {k: to_cel(v, props[k]) for k, v in value.items() if k in props}
            if embedded:
                out.update({k: value[k] for k in ("apiVersion", "kind") if k in value})
                meta = value.get("metadata")
                if isinstance(meta, dict):
                    out["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
            return out
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict):
            return {k: to_cel(v, addl) for k, v in value.items()}
        return value
    if isinstance(value, list):
        items = schema.get("items")
        return [to_cel(v, items) for v in value] if isinstance(items, dict) else value
    if isinstance(value, str) and kind == "string" and schema.get("format") in _FORMATS:
        try:
            return _FORMATS[schema["format"]](value)
        except (ValueError, TypeError):
            return value
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
