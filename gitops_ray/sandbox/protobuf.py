"""Just enough Kubernetes protobuf to accept `kubectl create namespace|configmap|secret|serviceaccount`.

kubectl's typed commands send `application/vnd.kubernetes.protobuf` bodies for
built-in kinds (a `k8s\\x00` magic, then a runtime.Unknown wrapping the object).
This decodes the fields of those four kinds into the JSON shape the rest of the
server handles; responses stay JSON, which kubectl accepts. Field numbers are
those of k8s.io/api `core/v1/generated.proto` and apimachinery `meta/v1/generated.proto`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from gitops_ray.sandbox import errors as E

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

Decoder = Callable[[bytes], Any]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value): ints for varints, bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos:pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _text(raw: Any) -> str:
    return bytes(raw).decode() if isinstance(raw, bytes) else str(raw)


def _message(spec: dict[int, tuple[str, str, Decoder | None]]) -> Decoder:
    """A decoder for one message: field number -> (json name, "one" | "list" | "map", value decoder)."""
    def decode(data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for number, raw in _fields(data):
            if number not in spec:
                continue
            name, shape, inner = spec[number]
            value = inner(raw) if inner is not None and isinstance(raw, bytes) else raw
            if shape == "list":
                out.setdefault(name, []).append(value)
            elif shape == "map":
                out.setdefault(name, {}).update(value)
            else:
                out[name] = value
        return out
    return decode


def _string(raw: bytes) -> str:
    return _text(raw)


def _map_entry(value_decoder: Decoder) -> Decoder:
    def decode(data: bytes) -> dict[str, Any]:
        key, value = "", value_decoder(b"")
        for number, raw in _fields(data):
            if number == 1:
                key = _text(raw)
            elif number == 2 and isinstance(raw, bytes):
                value = value_decoder(raw)
        return {key: value}
    return decode


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


_STRING_MAP = _map_entry(_string)
_OWNER = _message({1: ("kind", "one", _string), 3: ("name", "one", _string), 4: ("uid", "one", _string),
                   5: ("apiVersion", "one", _string), 6: ("controller", "one", None),
                   7: ("blockOwnerDeletion", "one", None)})
_OBJECT_META = _message({
    1: ("name", "one", _string), 2: ("generateName", "one", _string), 3: ("namespace", "one", _string),
    6: ("resourceVersion", "one", _string), 11: ("labels", "map", _STRING_MAP),
    12: ("annotations", "map", _STRING_MAP), 13: ("ownerReferences", "list", _OWNER),
    14: ("finalizers", "list", _string),
})
_REFERENCE = _message({1: ("kind", "one", _string), 2: ("namespace", "one", _string), 3: ("name", "one", _string),
                       4: ("uid", "one", _string), 5: ("apiVersion", "one", _string)})
_KINDS: dict[str, Decoder] = {
    "Namespace": _message({1: ("metadata", "one", _OBJECT_META),
                           2: ("spec", "one", _message({1: ("finalizers", "list", _string)}))}),
    "ConfigMap": _message({1: ("metadata", "one", _OBJECT_META), 2: ("data", "map", _STRING_MAP),
                           3: ("binaryData", "map", _map_entry(_b64)), 4: ("immutable", "one", None)}),
    "Secret": _message({1: ("metadata", "one", _OBJECT_META), 2: ("data", "map", _map_entry(_b64)),
                        3: ("type", "one", _string), 4: ("stringData", "map", _STRING_MAP),
                        5: ("immutable", "one", None)}),
    "ServiceAccount": _message({1: ("metadata", "one", _OBJECT_META), 2: ("secrets", "list", _REFERENCE),
                                3: ("imagePullSecrets", "list", _message({1: ("name", "one", _string)})),
                                4: ("automountServiceAccountToken", "one", None)}),
}
_BOOLEANS = ("immutable", "automountServiceAccountToken", "controller", "blockOwnerDeletion")


def _booleans(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: bool(v) if k in _BOOLEANS and isinstance(v, int) else _booleans(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_booleans(v) for v in value]
    return value


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a protobuf request body; 415 for kinds this does not know."""
    if not body.startswith(MAGIC):
        raise E.bad_request("provided protobuf data does not start with the Kubernetes magic prefix")
    api_version = kind = ""
    raw = b""
    try:
        for number, value in _fields(body[len(MAGIC):]):
            if number == 1 and isinstance(value, bytes):
                for field, text in _fields(value):
                    if field == 1:
                        api_version = _text(text)
                    elif field == 2:
                        kind = _text(text)
            elif number == 2 and isinstance(value, bytes):
                raw = value
        decoder = _KINDS.get(kind)
        if decoder is None:
            raise E.unsupported_media_type(["application/json", "application/yaml"])
        obj: dict[str, Any] = _booleans(decoder(raw))
    except ValueError as err:
        raise E.bad_request(f"unable to decode protobuf body: {err}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}


__all__ = ["MEDIA_TYPE", "decode"]
