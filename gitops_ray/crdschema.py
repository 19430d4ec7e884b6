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
* Go RE2 `pattern`s are Python-compatible for every pattern the KubeRay CRDs use.

Pure: no I/O. The catalogue in schemas.py decides what to convert and caches it.
"""

from __future__ import annotations

import copy
from typing import Any

DIALECT = "http://json-schema.org/draft-07/schema#"

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


def prune_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """Drop `null`s in fields the schema does not mark nullable, as the API server does
    before defaulting (apiextensions-apiserver `schema/defaulting`). Returns a new value
    only where something changed; untouched subtrees are shared."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        changed = False
        out: dict[str, Any] = {}
        for key, sub in value.items():
            sub_schema = props.get(key) if key in props else (additional if isinstance(additional, dict) else None)
            if sub is None and sub_schema is not None and not sub_schema.get("nullable"):
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
