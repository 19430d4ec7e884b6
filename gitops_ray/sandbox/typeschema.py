"""Merge and admission schema of one kind, and the custom-resource admission steps.

`TypeSchema` is what server-side apply (fieldmanager.py), strategic merge patch
(patches.py) and CR admission share: which lists are atomic, sets or keyed
maps, which maps are atomic, which fields exist; and, for CRDs, the structural
schema's defaults, validations and CEL rules. It is built once per CRD version
(cached) or built-in kind, from the CRD's `openAPIV3Schema` or from the
Kubernetes 1.32 definitions condensed in `_builtin_defs.py`.

`prune`, `apply_defaults` and `validate` are steps 2, 3 and 5-6 of the CR write
pipeline (sandbox spec §5), after apiextensions-apiserver 1.32:
`schema/pruning/algorithm.go`, `schema/objectmeta/coerce.go`,
`schema/defaulting/{prunenulls,algorithm}.go`, `validation/validation.go`,
`schema/listtype/validation.go`, `registry/customresource/strategy.go`.
Ratcheting (unchanged invalid fields pass on update) is not implemented.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from gitops_ray.sandbox import _nodes
from gitops_ray.sandbox._cel import CelError
from gitops_ray.sandbox._gofmt import error_value
from gitops_ray.sandbox._nodes import MISSING, Node
from gitops_ray.sandbox._validation import validate_node

# Schemas are built once and shared by the server's threads; building (and the recursive
# built-in type graph) happens under this lock so no thread sees a half-built node.
_BUILD_LOCK = threading.RLock()
_BLOCKING = frozenset({"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
                       "FieldValueTypeInvalid"})
_META_KEYS = frozenset({"apiVersion", "kind", "metadata"})
# ObjectMeta's JSON fields, and the nested lists whose items are themselves typed.
_OBJECT_META = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields",
})
_META_ITEMS = {
    "ownerReferences": frozenset({"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"}),
    "managedFields": frozenset({"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1",
                                "subresource"}),
}


@dataclass(frozen=True)
class FieldError:
    """One cause of a 422: `reason` type, field path, and the message after the path."""

    type: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class TypeSchema:
    """Merge + admission schema of one group/version/kind. Immutable and shared."""

    _openapi_cache: ClassVar[dict[int, tuple[dict[str, Any], TypeSchema]]] = {}
    _builtin_cache: ClassVar[dict[tuple[str, str, str], TypeSchema]] = {}

    def __init__(self, root: Node, *, validation_root: Node | None = None, is_builtin: bool = False) -> None:
        self.root = root
        self.validation_root = validation_root or root
        self.is_builtin = is_builtin
        fields = root.fields or {}
        self.has_status = "status" in fields
        # What the API server's "new empty object" of this kind looks like: typed Go objects have
        # their non-pointer struct fields (metadata, spec, status, roleRef) present but empty.
        self.empty_object: dict[str, Any] = {
            name: {} for name, node in fields.items()
            if is_builtin and node.fields and node.elem is None and not node.map_atomic
        }

    @classmethod
    def from_openapi(cls, openapi_v3_schema: dict[str, Any]) -> TypeSchema:
        """Schema of a CRD version from its `schema.openAPIV3Schema` (cached per schema object)."""
        key = id(openapi_v3_schema)
        hit = cls._openapi_cache.get(key)
        if hit is not None and hit[0] is openapi_v3_schema:
            return hit[1]
        with _BUILD_LOCK:
            hit = cls._openapi_cache.get(key)
            if hit is not None and hit[0] is openapi_v3_schema:
                return hit[1]
            return cls._build_openapi(openapi_v3_schema, key)

    @classmethod
    def _build_openapi(cls, openapi_v3_schema: dict[str, Any], key: int) -> TypeSchema:
        root, meta = _nodes.from_openapi(openapi_v3_schema)
        vroot = _nodes.Node()
        for slot in _nodes.Node.__slots__:
            setattr(vroot, slot, getattr(root, slot))
        vroot.fields = dict(root.fields or {})
        if meta is not None:
            vroot.fields["metadata"] = meta
        else:
            vroot.fields.pop("metadata", None)
        schema = cls(root, validation_root=vroot)
        if len(cls._openapi_cache) >= 64:
            cls._openapi_cache.pop(next(iter(cls._openapi_cache)))
        cls._openapi_cache[key] = (openapi_v3_schema, schema)
        return schema

    @classmethod
    def builtin(cls, group: str, version: str, kind: str) -> TypeSchema:
        """Schema of a built-in kind; unknown kinds get ObjectMeta plus granular maps and atomic lists."""
        key = (group, version, kind)
        schema = cls._builtin_cache.get(key)
        if schema is None:
            with _BUILD_LOCK:
                schema = cls._builtin_cache.get(key)
                if schema is None:
                    root = _nodes.builtin_root(group, version, kind)
                    schema = cls(root or _nodes.generic_root(), is_builtin=True)
                    cls._builtin_cache[key] = schema
        return schema


# --------------------------------------------------------------------------- pruning


def prune(schema: TypeSchema, obj: dict[str, Any]) -> list[str]:
    """Drop fields the schema does not declare, in place; returns their paths (`spec.foo`), sorted.

    apiVersion, kind and metadata are kept at the root (and in embedded resources); metadata
    is reduced to ObjectMeta's fields, and its empty or null values are dropped as the JSON
    round trip through ObjectMeta does. `x-kubernetes-preserve-unknown-fields` keeps unknown
    keys, but declared properties below it are still pruned."""
    unknown: list[str] = []
    _prune(obj, schema.root, "", unknown)
    unknown.sort()
    return unknown


def _prune(x: Any, node: Node | None, path: str, unknown: list[str]) -> None:
    if node is not None and node.preserve:
        _skip_prune(x, node, path, unknown)
        return
    if isinstance(x, dict):
        if node is None:
            for k in list(x):
                unknown.append(f"{path}.{k}" if path else k)
            x.clear()
            return
        fields = node.fields or {}
        addl = node.addl
        for k in list(x):
            if node.embedded and k in _META_KEYS:
                if k == "metadata" and isinstance(x[k], dict):
                    _prune_meta(x[k], f"{path}.metadata" if path else "metadata", unknown)
                continue
            child = fields.get(k)
            sub = f"{path}.{k}" if path else k
            if child is not None:
                _prune(x[k], child, sub, unknown)
            elif addl is not None:
                _prune(x[k], addl, sub, unknown)
            else:
                unknown.append(sub)
                del x[k]
    elif isinstance(x, list):
        item = node.item if node is not None else None
        for i, v in enumerate(x):
            if isinstance(v, dict | list):
                _prune(v, item, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, node: Node, path: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        fields = node.fields or {}
        for k, v in x.items():
            if node.embedded and k in _META_KEYS:
                if k == "metadata" and isinstance(v, dict):
                    _prune_meta(v, f"{path}.metadata" if path else "metadata", unknown)
                continue
            child = fields.get(k) or node.addl
            if child is not None and child is not _nodes.DEDUCED and isinstance(v, dict | list):
                _prune(v, child, f"{path}.{k}" if path else k, unknown)
    elif isinstance(x, list) and node.item is not None and node.item is not _nodes.UNTYPED_ATOMIC:
        for i, v in enumerate(x):
            _skip_prune(v, node.item, f"{path}[{i}]", unknown)


def _prune_meta(meta: dict[str, Any], path: str, unknown: list[str]) -> None:
    for k in list(meta):
        v = meta[k]
        if k not in _OBJECT_META:
            unknown.append(f"{path}.{k}")
            del meta[k]
        elif _omitted(k, v):
            del meta[k]
        elif k in _META_ITEMS and isinstance(v, list):
            allowed = _META_ITEMS[k]
            for i, item in enumerate(v):
                if isinstance(item, dict):
                    for ik in [ik for ik in item if ik not in allowed]:
                        unknown.append(f"{path}.{k}[{i}].{ik}")
                        del item[ik]


def _omitted(key: str, value: Any) -> bool:
    """Values ObjectMeta's JSON encoding leaves out (`omitempty`)."""
    if value is None or value == "":
        return True
    if isinstance(value, dict | list):
        return not value
    return key == "generation" and value == 0 and not isinstance(value, bool)


# --------------------------------------------------------------------------- nulls and defaults


def apply_defaults(schema: TypeSchema, obj: dict[str, Any]) -> None:
    """Drop nulls of non-nullable fields that have no default, then default top-down, in place."""
    _default(obj, schema.validation_root)


def _default(x: Any, node: Node) -> None:
    if isinstance(x, dict):
        fields = node.fields
        if fields is None:
            return
        addl = node.addl
        for k in [k for k, v in x.items() if v is None]:
            child = fields.get(k) or addl
            if child is not None and not child.nullable and child.default is MISSING:
                del x[k]
        for k, default in node.defaults:
            if k not in x or (x[k] is None and not fields[k].nullable):
                x[k] = copy.deepcopy(default)
        for k, v in x.items():
            if v is None:
                if addl is not None and k not in fields and not addl.nullable:
                    x[k] = copy.deepcopy(addl.default) if addl.default is not MISSING else None
                continue
            if isinstance(v, dict | list):
                child = fields.get(k) or addl
                if child is not None and not (node.embedded and k == "metadata"):
                    _default(v, child)
    elif isinstance(x, list):
        item = node.item
        if item is None:
            return
        for i, v in enumerate(x):
            if v is None and not item.nullable and item.default is not MISSING:
                x[i] = copy.deepcopy(item.default)
            elif isinstance(v, dict | list):
                _default(v, item)


# --------------------------------------------------------------------------- validation


def validate(schema: TypeSchema, obj: dict[str, Any], old: dict[str, Any] | None = None, *,
             subresource: str | None = None, preceding: Sequence[FieldError] = ()) -> list[FieldError]:
    """Schema, list-type and CEL validation of a custom resource (built-in kinds: none; the
    server checks them by hand). `old` makes it an update: transition rules run and list-type
    duplicates are only reported if the old object had none. With `subresource="status"` only
    `status` is checked against the schema, as the status endpoint does. `preceding` are errors
    found before (ObjectMeta): they also keep the CEL rules from running."""
    if schema.is_builtin:
        return []
    raw: list[tuple[str, str, str]] = []
    root = schema.validation_root
    if subresource == "status":
        status_node = (root.fields or {}).get("status")
        if status_node is not None and "status" in obj:
            found: list[tuple[str, str, str]] = []
            validate_node(obj["status"], status_node, "", found)
            raw.extend((t, "status" if f in ("", "<nil>") else f"status.{f}", m) for t, f, m in found)
    else:
        validate_node(obj, root, "", raw)
    if root.has_listtype:
        found_lt: list[tuple[str, str, str]] = []
        _listtype(obj, root, "", found_lt)
        if found_lt and (old is None or not _listtype_errors(old, root)):  # old duplicates are ratcheted
            raw.extend(found_lt)
    if root.has_cel:
        blocking = any(e[0] in _BLOCKING for e in raw) or any(e.type in _BLOCKING for e in preceding)
        if blocking:
            raw.append(("FieldValueInvalid", "<nil>", 'Invalid value: "null": some validation rules were not '
                        "checked because the object was invalid; correct the existing errors to complete validation"))
        else:
            _cel(obj, old if old is not None else MISSING, root, "", raw)
    seen: set[tuple[str, str]] = set()
    out: list[FieldError] = []
    for t, f, m in raw:
        if (f, m) not in seen:  # field.ErrorList.ToAggregate drops repeated messages
            seen.add((f, m))
            out.append(FieldError(t, f, m))
    return out


def _listtype_errors(obj: dict[str, Any], root: Node) -> bool:
    found: list[tuple[str, str, str]] = []
    _listtype(obj, root, "", found)
    return bool(found)


def _child_path(path: str, key: str, declared: bool) -> str:
    if not declared:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _listtype(x: Any, node: Node, path: str, errs: list[tuple[str, str, str]]) -> None:
    if isinstance(x, dict):
        fields = node.fields or {}
        for k, v in x.items():
            child = fields.get(k)
            declared = child is not None
            if child is None:
                child = node.addl
            if child is not None and child.has_listtype and isinstance(v, dict | list):
                _listtype(v, child, _child_path(path, k, declared), errs)
    elif isinstance(x, list):
        if node.list_type == "set":
            for i in _duplicates([_hashable(v) for v in x]):
                errs.append(("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {error_value(x[i])}"))
        elif node.list_type == "map":
            _listmap(x, node, path, errs)
        item = node.item
        if item is not None and item.has_listtype:
            for i, v in enumerate(x):
                if isinstance(v, dict | list):
                    _listtype(v, item, f"{path}[{i}]", errs)


def _listmap(x: list[Any], node: Node, path: str, errs: list[tuple[str, str, str]]) -> None:
    for i, v in enumerate(x):
        if v is not None and not isinstance(v, dict):
            errs.append(("FieldValueInvalid", f"{path}[{i}]",
                         f"Invalid value: {error_value(v)}: must be an object for an array of list-type map"))
            return
    names = node.keys
    keys = [tuple(_hashable(v[k]) if k in v else None for k in names) if isinstance(v, dict) else () for v in x]
    for i in _duplicates(keys):
        item = x[i] if isinstance(x[i], dict) else {}
        shown = {k: item[k] for k in names if k in item}
        errs.append(("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {error_value(shown)}"))


def _hashable(v: Any) -> Any:
    """A key equal for equal JSON values (bool and number kept apart)."""
    if isinstance(v, dict | list):
        return ("json", json.dumps(v, sort_keys=True))
    return (type(v).__name__ if isinstance(v, bool | str) or v is None else "number", v)


def _duplicates(keys: Sequence[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated key (`validateListSet`)."""
    counts: dict[Any, int] = {}
    out: list[int] = []
    for i, k in enumerate(keys):
        counts[k] = counts.get(k, 0) + 1
        if counts[k] == 2:
            out.append(i)
    return out


def _cel(x: Any, old: Any, node: Node, path: str, errs: list[tuple[str, str, str]]) -> None:
    if x is None:
        return
    for rule in node.cel:
        if rule.transition and old is MISSING:
            continue
        try:
            ok = rule.evaluate({"self": x, "oldSelf": None if old is MISSING else old}) is True
        except CelError as exc:
            text = rule.message.strip() if rule.message else rule.rule.strip()
            errs.append(("FieldValueInvalid", path, f"Invalid value: {error_value(node.type_name)}: "
                         f"{exc} evaluating rule: {text}"))
            continue
        if not ok:
            errs.append(_cel_error(rule.reason, path, node.type_name, rule.error_text()))
    if isinstance(x, dict):
        fields = node.fields or {}
        olds = old if isinstance(old, dict) else {}
        for k, v in x.items():
            child = fields.get(k)
            declared = child is not None
            if child is None:
                child = node.addl
            if child is not None and child.has_cel:
                _cel(v, olds.get(k, MISSING), child, _child_path(path, k, declared), errs)
    elif isinstance(x, list) and node.item is not None and node.item.has_cel:
        item = node.item
        correlated = _correlate(old, node) if isinstance(old, list) else {}
        for i, v in enumerate(x):
            match = correlated.get(_item_key(v, node), MISSING) if correlated else MISSING
            _cel(v, match, item, f"{path}[{i}]", errs)


def _item_key(v: Any, node: Node) -> str:
    if node.list_type == "map" and isinstance(v, dict):
        return json.dumps([v.get(k) for k in node.keys])
    return json.dumps(v, sort_keys=True)


def _correlate(old: list[Any], node: Node) -> dict[str, Any]:
    """Old items matched by map keys (list-type map) or value (set); atomic lists do not correlate."""
    if node.list_type not in ("map", "set"):
        return {}
    return {_item_key(v, node): v for v in old}


def _cel_error(reason: str, path: str, type_name: str, detail: str) -> tuple[str, str, str]:
    if reason == "FieldValueForbidden":
        return ("FieldValueForbidden", path, f"Forbidden: {detail}")
    if reason == "FieldValueRequired":
        return ("FieldValueRequired", path, f"Required value: {detail}")
    if reason == "FieldValueDuplicate":
        return ("FieldValueDuplicate", path, f"Duplicate value: {error_value(type_name)}")
    return ("FieldValueInvalid", path, f"Invalid value: {error_value(type_name)}: {detail}")
