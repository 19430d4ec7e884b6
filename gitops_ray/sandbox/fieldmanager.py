"""Server-side apply and `metadata.managedFields`, as kube-apiserver 1.32 does them.

`apply` is structured-merge-diff's `Updater.Apply` (merge the config into the
live object, prune what this manager stopped applying unless someone else owns
it, conflicts on changed values owned by others) wrapped in apimachinery's
field-manager chain (`before-first-apply`, stripped metadata fields, entry
times, conflict messages); `update` is `Updater.Update` for POST, PUT and
non-apply PATCH (the writer takes what it changed; nobody conflicts). Sources:
structured-merge-diff v4.4.2 `merge/update.go`, apimachinery v0.32
`util/managedfields/internal/{fieldmanager,structuredmerge,skipnonapplied,
stripmeta,managedfieldsupdater,managedfields,conflict}.go`.

Not modelled: conversion between managers' apiVersions, the cap of 10 Update
entries (`ancient-changes`), and the kubectl client-side-apply migration.
Like the API server, `apply` may leave `null` where it emptied a map or list of
a custom resource; the CR pipeline's `apply_defaults` drops those (for built-in
kinds `apply` drops them itself, as decoding into Go types does).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from gitops_ray.sandbox._fieldpath import (
    FieldSet,
    difference,
    encode,
    intersection,
    is_subset,
    iter_paths,
    strip_meta,
    union,
    without_top,
)
from gitops_ray.sandbox._gofmt import go_json, go_quote
from gitops_ray.sandbox._smd import compare, ensure_named, fieldset, merge, remove_items
from gitops_ray.sandbox.typeschema import TypeSchema, apply_defaults

BEFORE_FIRST_APPLY = "before-first-apply"


class ApplyConflict(Exception):
    """409: fields owned by other managers would change. `str(exc)` is the Status message."""

    def __init__(self, conflicts: list[tuple[str, str]], message: str) -> None:
        super().__init__(message)
        self.conflicts = conflicts  # (manager description, field path), e.g. ('"kubectl-edit" using v1', '.data.k')

    def causes(self) -> list[dict[str, str]]:
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": path}
                for who, path in self.conflicts]


class UndeclaredField(Exception):
    """The apply config does not fit the schema (an undeclared field, a wrong type, a duplicate
    key): the API server answers 500 with `str(exc)`. `path` is the first offending path."""

    def __init__(self, config: dict[str, Any], errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        self.path = errors[0][0]
        if len(errors) == 1:
            detail = f"{errors[0][0]}: {errors[0][1]}"
        else:
            detail = "errors:\n" + "\n".join(f"  {p}: {m}" for p, m in errors)
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        group_version = str(config.get("apiVersion", ""))
        gv = group_version if "/" in group_version else f"/{group_version}"
        gvk = f"{gv}, Kind={config.get('kind', '')}"
        who = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {gvk}"
        super().__init__(f"failed to create typed patch object ({who}): {detail}")


class BadApplyRequest(Exception):
    """400: an apply body the field manager refuses (`metadata.managedFields must be nil`)."""


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet
    raw: dict[str, Any] | None = None

    @property
    def ident(self) -> str:
        return _ident(self.manager, self.operation, self.api_version, self.subresource)

    def describe(self) -> str:
        """apimachinery `printManager`."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def emit(self) -> dict[str, Any]:
        raw = self.raw
        if raw is not None and raw.get("time") == self.time and raw.get("apiVersion") == self.api_version \
                and raw.get("fieldsV1") == self.fields:
            return raw
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _ident(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """`BuildManagerIdentifier`: appliers are one manager whatever apiVersion they use."""
    key: dict[str, str] = {"manager": manager, "operation": operation}
    if operation == "Update" and api_version:
        key["apiVersion"] = api_version
    if subresource:
        key["subresource"] = subresource
    return go_json(key)


def _decode(entries: Any) -> dict[str, _Entry] | None:
    """Managers by identity; None when the entries are not valid managedFields."""
    if not isinstance(entries, list):
        return None
    out: dict[str, _Entry] = {}
    for e in entries:
        if not isinstance(e, dict) or e.get("operation") not in ("Apply", "Update") or not e.get("apiVersion") \
                or e.get("fieldsType") != "FieldsV1":
            return None
        fields = e.get("fieldsV1") or {}
        if not isinstance(fields, dict):
            return None
        entry = _Entry(str(e.get("manager", "")), e["operation"], e["apiVersion"], str(e.get("subresource") or ""),
                       e.get("time"), fields, e)
        out[entry.ident] = entry
    return out


def _managed_of(obj: dict[str, Any] | None) -> dict[str, _Entry]:
    meta = obj.get("metadata") if obj else None
    return (_decode(meta.get("managedFields")) if isinstance(meta, dict) else None) or {}


def _body(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without metadata.managedFields (shallow)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    body = dict(obj)
    body["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return body


def _clone(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clone(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clone(x) for x in v]
    return v


def _with_managed(body: dict[str, Any], managers: dict[str, _Entry]) -> dict[str, Any]:
    """A deep copy of `body` carrying the encoded, sorted managedFields."""
    result: dict[str, Any] = _clone(body)
    entries = sorted((m.emit() for m in managers.values()),
                     key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
                                    e.get("subresource", "")))
    meta = result.get("metadata")
    if entries:
        if not isinstance(meta, dict):
            meta = result["metadata"] = {}
        meta["managedFields"] = _clone(entries)
    elif isinstance(meta, dict):
        meta.pop("managedFields", None)
    return result


def _reset(reset_fields: Collection[str] | None, subresource: str | None, schema: TypeSchema) -> tuple[str, ...]:
    """Top-level fields the endpoint resets (strategy `GetResetFields`), excluded from ownership."""
    if reset_fields is not None:
        return tuple(reset_fields)
    if subresource == "status":
        return ("spec",)
    return ("status",) if schema.has_status else ()


def apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool, schema: TypeSchema,
          api_version: str, subresource: str | None, now: str,
          reset_fields: Collection[str] | None = None) -> dict[str, Any]:
    """Server-side apply of `config` by `manager`; returns the new object with managedFields.

    Raises ApplyConflict (409), UndeclaredField (500) or BadApplyRequest (400). A no-op apply
    returns an object equal to `live` (same managedFields, entry times untouched). `reset_fields`
    defaults to `status` on the main endpoint of a kind with a status field and `spec` on
    `/status`; pass `()` for a CRD without the status subresource."""
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise BadApplyRequest("metadata.managedFields must be nil")
    root = schema.root
    errors: list[tuple[str, str]] = []
    config_set = fieldset(config, root, errors)
    if errors:
        raise UndeclaredField(config, errors)
    reset = _reset(reset_fields, subresource, schema)
    sub = subresource or ""
    managers = _managed_of(live)
    live_body = _body(live) if live is not None else dict(schema.empty_object)
    if live is not None and not managers:
        added, _, _ = compare(schema.empty_object, live_body, root)
        owned = strip_meta(without_top(added, reset))
        if owned:
            first = _Entry(BEFORE_FIRST_APPLY, "Update", api_version, sub, now, owned)
            managers[first.ident] = first

    merged = merge(live_body, config, root)
    me = _ident(manager, "Apply", api_version, sub)
    previous = managers.get(me)
    applied = without_top(config_set, reset)
    managers[me] = _Entry(manager, "Apply", api_version, sub, previous.time if previous else None, applied,
                          previous.raw if previous else None)
    if previous is not None and previous.fields and not is_subset(previous.fields, applied):
        merged = _prune(merged, previous.fields, managers, schema)

    added, modified, removed = (without_top(s, reset) for s in compare(live_body, merged, root))
    changed = union(modified, added)
    conflicts = [(e, c) for ident, e in managers.items() if ident != me and (c := intersection(e.fields, changed))]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    lost = {id(e): c for e, c in conflicts}
    for ident, entry in list(managers.items()):
        if ident == me:
            continue
        fields = difference(entry.fields, lost[id(entry)]) if id(entry) in lost else entry.fields
        fields = difference(fields, removed)
        if fields:
            entry.fields = fields
        else:
            del managers[ident]
    mine = managers[me]
    mine.fields = strip_meta(mine.fields)
    if not mine.fields:
        del managers[me]
    elif merged is not live_body and merged != live_body:
        mine.time = now
    result = _with_managed(merged, managers)
    if schema.is_builtin:
        apply_defaults(schema, result)  # typed objects cannot hold the nulls SMD leaves in emptied maps and lists
    return result


def _prune(merged: dict[str, Any], last: FieldSet, managers: dict[str, _Entry],
           schema: TypeSchema) -> dict[str, Any]:
    """`Updater.prune`: remove what the applier owned last time and no longer applies, unless
    another manager (or the new config) owns it (`addBackOwnedItems`, `addBackDanglingItems`)."""
    root = schema.root
    last_e = ensure_named(last, root)
    pruned = remove_items(merged, last_e, root) or {}
    managed: FieldSet = {}
    for entry in managers.values():
        managed = union(managed, entry.fields)
    merged_set = ensure_named(fieldset(merged, root), root)
    pruned_set = ensure_named(fieldset(pruned, root), root)
    keep = union(pruned_set, ensure_named(managed, root))
    pruned = remove_items(merged, difference(merged_set, keep), root) or {}
    pruned_set = ensure_named(fieldset(pruned, root), root)
    result: dict[str, Any] = remove_items(merged, intersection(difference(merged_set, pruned_set), last_e), root) or {}
    return result


def _conflict_error(conflicts: list[tuple[_Entry, FieldSet]]) -> ApplyConflict:
    """apimachinery `NewConflictError`: one line for one conflict, else grouped by manager."""
    items = [(entry, path) for entry, fields in conflicts for path in iter_paths(fields)]
    pairs = [(entry.describe(), path) for entry, path in items]
    if len(items) == 1:
        who, path = pairs[0]
        return ApplyConflict(pairs, f"Apply failed with 1 conflict: conflict with {who}: {path}")
    lines: list[str] = []
    for entry, _ in sorted(conflicts, key=lambda c: c[0].ident):
        lines.append(f"conflicts with {entry.describe()}:")
        lines.extend(f"- {path}" for e, path in items if e is entry)
    return ApplyConflict(pairs, f"Apply failed with {len(items)} conflicts: " + "\n".join(lines))


def update(live: dict[str, Any] | None, new: dict[str, Any], *, manager: str, schema: TypeSchema,
           api_version: str, subresource: str | None, now: str,
           reset_fields: Collection[str] | None = None) -> dict[str, Any]:
    """Ownership bookkeeping of a non-apply write (POST, PUT, patch) of `new` over `live`.

    The writer takes every field it added or changed, others lose those and whatever was
    removed; nothing conflicts. On the main endpoint a body carrying managedFields replaces
    them and `[{}]` clears them (`[]` is ignored); an existing object without managedFields
    stays untracked."""
    root = schema.root
    reset = _reset(reset_fields, subresource, schema)
    sub = subresource or ""
    requested = (new.get("metadata") or {}).get("managedFields") if isinstance(new.get("metadata"), dict) else None
    managers: dict[str, _Entry] | None = None
    if subresource is None and isinstance(requested, list) and requested:
        managers = {} if requested == [{}] else _decode(requested) or None
    if managers is None:
        managers = _managed_of(live)
    new_body = _body(new)
    if live is not None and not managers:
        return _with_managed(new_body, {})
    live_body = _body(live) if live is not None else dict(schema.empty_object)
    added, modified, removed = (without_top(s, reset) for s in compare(live_body, new_body, root))
    touched = union(modified, added)
    for ident, entry in list(managers.items()):
        fields = difference(difference(entry.fields, touched), removed)
        if fields:
            entry.fields = fields
        else:
            del managers[ident]
    mine = strip_meta(touched)
    if mine:
        me = _ident(manager, "Update", api_version, sub)
        previous = managers.get(me)
        fields = union(mine, previous.fields) if previous is not None else mine
        managers[me] = _Entry(manager, "Update", api_version, sub, now, fields)
    return _with_managed(new_body, managers)
