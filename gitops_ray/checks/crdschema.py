"""CRD `openAPIV3Schema` -> JSON Schema, the way the API server would judge a document.

A structural CRD schema is almost JSON Schema; the differences are what makes a
naive conversion wrong (kubeconform's converter rejects 3 of the 69 KubeRay
v1.5.1 samples for want of them; see ../shared/docs/validation-perf.md):

* `x-kubernetes-int-or-string` -> `type: [integer, string]`. Not `anyOf`: the
  `anyOf` controller-gen emits beside it makes jsonschema 1.3x and
  fastjsonschema 92x slower, for the same verdict.
* `nullable: true` -> `"null"` added to `type`.
* `x-kubernetes-preserve-unknown-fields` -> unknown keys allowed in that subtree;
  everywhere else `additionalProperties: false` when `strict` (the API server's
  strict field validation; kubeconform -strict).
* `required` entries that have a `default`: the server defaults before it
  checks `required`, so they are dropped. Callers validating raw manifests
  should also drop nulls in non-nullable fields (`prune_nulls`), as the server does.
* Go RE2 `pattern`s are Python- and ECMA-compatible for every pattern the KubeRay CRDs use; the one
  RE2 construct other bundled CRDs use that neither accepts, a case-insensitive `(?i)` after `^`
  (prometheus-operator), is spelled out as `[aA]`-style classes (`portable_pattern`).
* The root gets `apiVersion`/`kind` enums and the standard ObjectMeta fields
  (`OBJECT_META`): a CRD schema says only `metadata: {type: object}`, but the
  API server checks custom resources' metadata like any object's.

Not enforced (documented in docs/schemas.md): CEL `x-kubernetes-validations`,
list-map key uniqueness, `format`s.

Pure: no I/O. The catalogue in schemas.py decides what to convert and caches it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DIALECT = "http://json-schema.org/draft-07/schema#"

CONVERTER_VERSION = "3"
"""Bumped whenever the output of this module changes: part of every cache key and
recorded in the committed schemas' index, so stale conversions are never used."""

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}

OBJECT_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
                    "uid": {"type": "string"}, "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
                "required": ["apiVersion", "kind", "name", "uid"],
                "additionalProperties": False,
            },
        },
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "selfLink": {"type": "string"},
    },
    "additionalProperties": False,
}
"""The fields of meta/v1 ObjectMeta (k8s.io/apimachinery/pkg/apis/meta/v1/types.go)
with their JSON types; name syntax is checked by rules, not here."""

# Keywords JSON Schema draft 7 understands with the same meaning as OpenAPI v3.
_PASSTHROUGH = (
    "description", "enum", "pattern", "minLength", "maxLength", "minItems", "maxItems",
    "minimum", "maximum", "multipleOf", "minProperties", "maxProperties", "format", "uniqueItems",
)


def openapi_to_jsonschema(schema: dict[str, Any], *, strict: bool = True, descriptions: bool = False) -> dict[str, Any]:
    """Convert one `openAPIV3Schema` node tree. The input is not modified."""
    return _convert(schema, strict=strict, descriptions=descriptions, preserve=False)


def _convert(node: dict[str, Any], *, strict: bool, descriptions: bool, preserve: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    preserve = preserve or bool(node.get("x-kubernetes-preserve-unknown-fields"))
    int_or_string = bool(node.get("x-kubernetes-int-or-string"))

    for key in _PASSTHROUGH:
        if key in node and (descriptions or key != "description"):
            out[key] = copy.deepcopy(node[key])
    if isinstance(out.get("pattern"), str):
        out["pattern"] = portable_pattern(out["pattern"])
    if out.get("format") in ("int32", "int64", "int-or-string"):
        del out["format"]  # type-matching hints only; the server does no range check

    if int_or_string:
        types: list[str] = ["integer", "string"]
    elif "type" in node:
        types = [node["type"]]
    else:
        types = []
    if node.get("nullable") and types:
        types.append("null")
    if len(types) == 1:
        out["type"] = types[0]
    elif types:
        out["type"] = types

    if "properties" in node:
        props = node["properties"]
        out["properties"] = {
            name: _convert(sub, strict=strict, descriptions=descriptions, preserve=preserve)
            for name, sub in props.items()
        }
        required = [
            name for name in node.get("required", ())
            if not (name in props and "default" in props[name])
        ]
        if required:
            out["required"] = required
        if strict and not preserve and "additionalProperties" not in node:
            out["additionalProperties"] = False
    elif "required" in node:
        out["required"] = list(node["required"])

    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = _convert(additional, strict=strict, descriptions=descriptions, preserve=preserve)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional

    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _convert(items, strict=strict, descriptions=descriptions, preserve=preserve)

    for junctor in ("allOf", "anyOf", "oneOf"):
        if junctor in node and not int_or_string:
            out[junctor] = [
                _convert(sub, strict=False, descriptions=descriptions, preserve=True) for sub in node[junctor]
            ]
    if "not" in node:
        out["not"] = _convert(node["not"], strict=False, descriptions=descriptions, preserve=True)
    return out


def portable_pattern(pattern: str) -> str:
    """An RE2 pattern with an inline `(?i)` rewritten without it, for Python's `re` (which allows
    flags only at the very start) and ECMA regexes (no inline flags): from the flag on, every ASCII
    letter matches both cases (`a` -> `[aA]`, `[a-z]` -> `[a-zA-Z]`)."""
    at = pattern.find("(?i)")
    if at < 0:
        return pattern
    head, rest = pattern[:at], pattern[at + 4:].replace("(?i)", "")
    out: list[str] = []
    i = 0
    while i < len(rest):
        char = rest[i]
        if char == "\\" and i + 1 < len(rest):
            out.append(rest[i:i + 2])
            i += 2
        elif char == "[":
            end = i + 1
            while end < len(rest) and (rest[end] != "]" or end == i + 1 or rest[end - 1] == "\\"):
                end += 1
            body = rest[i + 1:end]
            extra = "".join(_swapped_ranges(body))
            out.append(f"[{body}{extra}]")
            i = end + 1
        elif char.isascii() and char.isalpha():
            out.append(f"[{char.lower()}{char.upper()}]")
            i += 1
        else:
            out.append(char)
            i += 1
    return head + "".join(out)


def _swapped_ranges(body: str) -> list[str]:
    """The other-case counterparts of the letters and letter ranges in a character class body."""
    out: list[str] = []
    i = 1 if body.startswith("^") else 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if i + 2 < len(body) and body[i + 1] == "-" and body[i].isalpha() and body[i + 2].isalpha():
            out.append(f"{body[i].swapcase()}-{body[i + 2].swapcase()}")
            i += 3
            continue
        if body[i].isascii() and body[i].isalpha():
            out.append(body[i].swapcase())
        i += 1
    return out


@dataclass(frozen=True, slots=True)
class ServedVersion:
    """One served version of a CRD, converted: what the catalogue stores per (apiVersion, kind)."""

    api_version: str
    kind: str
    schema: dict[str, Any]
    deprecated: bool = False
    deprecation_warning: str = ""


class CRDFormatError(ValueError):
    """The document is not an apiextensions.k8s.io/v1 CRD with structural schemas."""


def crd_to_jsonschemas(crd: dict[str, Any], *, strict: bool = True) -> list[ServedVersion]:
    """Every served version of one CRD as a root JSON Schema (draft 7)."""
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise CRDFormatError("not a CustomResourceDefinition")
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
        raise CRDFormatError(f"apiVersion {crd.get('apiVersion')!r} is not supported (need apiextensions.k8s.io/v1)")
    spec = crd.get("spec") or {}
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        raise CRDFormatError("spec.group or spec.names.kind is missing")
    out: list[ServedVersion] = []
    for version in spec.get("versions") or ():
        if not version.get("served", True):
            continue
        openapi = ((version.get("schema") or {}).get("openAPIV3Schema"))
        if not isinstance(openapi, dict):
            raise CRDFormatError(f"{kind} {version.get('name')}: no schema.openAPIV3Schema")
        api_version = f"{group}/{version['name']}"
        root = openapi_to_jsonschema(openapi, strict=strict)
        props = root.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [api_version]}
        props["kind"] = {"type": "string", "enum": [kind]}
        props["metadata"] = copy.deepcopy(OBJECT_META)
        root["required"] = sorted({*root.get("required", ()), "apiVersion", "kind", "metadata"})
        schema = {"$schema": DIALECT, "title": f"{kind} {api_version}", **root}
        out.append(ServedVersion(
            api_version=api_version, kind=kind, schema=schema,
            deprecated=bool(version.get("deprecated")),
            deprecation_warning=str(version.get("deprecationWarning") or ""),
        ))
    if not out:
        raise CRDFormatError(f"{kind}: no served versions")
    return out


def _nullable(schema: dict[str, Any]) -> bool:
    if schema.get("nullable"):
        return True
    types = schema.get("type")
    return types == "null" or (isinstance(types, list) and "null" in types)


def prune_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """Drop `null`s in fields the schema does not mark nullable, as the API server does
    before defaulting (apiextensions-apiserver `schema/defaulting`). Returns a new value
    only where something changed; untouched subtrees are shared.

    `schema` may be the CRD's openAPIV3Schema (`nullable: true`) or its conversion
    (`"null"` in `type`)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        changed = False
        out: dict[str, Any] = {}
        for key, sub in value.items():
            sub_schema = props.get(key) if key in props else (additional if isinstance(additional, dict) else None)
            if sub is None and sub_schema is not None and not _nullable(sub_schema):
                changed = True
                continue
            new = prune_nulls(sub, sub_schema) if sub_schema is not None else sub
            changed = changed or new is not sub
            out[key] = new
        return out if changed else value
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return value
        new_list = [prune_nulls(v, items) for v in value]
        return new_list if any(a is not b for a, b in zip(new_list, value, strict=True)) else value
    return value
