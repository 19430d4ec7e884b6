"""The per-object steps of the write pipeline that do not touch storage (spec §7):
body checks, prune, defaulting, strategy (status reset, generation, server-set
metadata), validation, and the "nothing changed" test that keeps a no-op write
from bumping the resourceVersion.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from gitops_ray.sandbox import corekinds, corevalidation, crds
from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.meta import Cause, validate_meta
from gitops_ray.sandbox.resources import ResourceType
from gitops_ray.sandbox.store import clone
from gitops_ray.sandbox.typeschema import FieldError, TypeSchema, apply_defaults, prune, validate

Obj = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                "resourceVersion", "selfLink")


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Ignore | Warn | Strict
    force: bool | None = None  # only apply may carry it (present at all on another patch: 422)


@dataclass
class Outcome:
    """What a write answers: HTTP code, the object, Warning header texts."""

    code: int
    obj: Obj
    warnings: list[str] = field(default_factory=list)


def check_body(rt: ResourceType, body: Any, ns: str, url_name: str | None) -> Obj:
    """Decode-time checks of POST/PUT bodies: an object of this kind, namespace and name consistent with the URL."""
    if not isinstance(body, dict):
        raise E.bad_request(f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
    # Missing apiVersion/kind default to the endpoint's, as the API server's decoder does.
    kind = body.setdefault("kind", rt.kind) or rt.kind
    body.setdefault("apiVersion", rt.api_version)
    api_version = body.get("apiVersion", "")
    if api_version != rt.api_version:
        raise E.bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                            f"({rt.api_version})")
    if kind != rt.kind:
        raise E.bad_request(f"{kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: the kind in the "
                            f"data ({kind}) does not match the expected kind ({rt.kind})")
    meta = body.get("metadata")
    if meta is None:
        meta = body["metadata"] = {}
    if not isinstance(meta, dict):
        raise E.bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                            "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
    check_namespace(rt, meta, ns)
    if url_name is not None and meta.get("name", "") != url_name:
        raise E.bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the URL "
                            f"({url_name})")
    return body


def check_namespace(rt: ResourceType, meta: Obj, ns: str) -> None:
    if not rt.namespaced:
        meta.pop("namespace", None)
        return
    body_ns = meta.get("namespace") or ""
    if not body_ns:
        meta["namespace"] = ns
    elif body_ns != ns:
        raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")


def prune_unknown(rt: ResourceType, schema: TypeSchema, obj: Obj, validation: str, warnings: list[str]) -> None:
    """Drop undeclared fields; Strict refuses them (400), Warn reports them, Ignore is silent."""
    unknown = prune(schema, obj)
    if not unknown or validation == "Ignore":
        return
    if validation == "Strict":
        listed = ", ".join(f'unknown field "{p}"' for p in unknown)
        raise E.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                            f"strict decoding error: {listed}")
    warnings.extend(f'unknown field "{p}"' for p in unknown)


def default(rt: ResourceType, schema: TypeSchema, obj: Obj) -> None:
    if rt.builtin:
        corekinds.apply_defaults(rt, obj)
        if rt.kind == "CustomResourceDefinition":
            crds.crd_type_defaults(obj)
    else:
        apply_defaults(schema, obj)


def generate_name(meta: Obj) -> None:
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))


def prepare_create(rt: ResourceType, obj: Obj, now: str) -> None:
    """Server-set metadata and PrepareForCreate: new uid, timestamp, generation 1, status reset."""
    meta = obj["metadata"]
    for key in _SERVER_META:
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now
    if rt.has_generation:
        meta["generation"] = 1
    if rt.builtin:
        corekinds.prepare_create(rt, obj)
    elif rt.has_status:
        obj.pop("status", None)
    _order(obj)


def prepare_update(rt: ResourceType, obj: Obj, live: Obj, subresource: str | None) -> Obj:
    """PrepareForUpdate. Returns the object to store: for /status and /finalize, live with only that part replaced."""
    if subresource == "status":
        new = clone(live)
        if "status" in obj:
            new["status"] = obj["status"]
        else:
            new.pop("status", None)
        obj = new
    elif subresource == "finalize":
        new = clone(live)
        new.setdefault("spec", {})["finalizers"] = list((obj.get("spec") or {}).get("finalizers") or [])
        obj = new
    else:
        if rt.builtin:
            corekinds.prepare_update(rt, obj, live)
        elif rt.has_status:
            if "status" in live:
                obj["status"] = live["status"]
            else:
                obj.pop("status", None)
    meta, old_meta = obj["metadata"], live["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        if key == "uid" and meta.get("uid"):
            continue
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    meta.pop("selfLink", None)
    if rt.has_generation and _spec_part(obj, rt) != _spec_part(live, rt):
        meta["generation"] = int(old_meta.get("generation", 0)) + 1
    _order(obj)
    return obj


def _spec_part(obj: Obj, rt: ResourceType) -> Obj:
    skip = ("metadata", "status") if rt.has_status else ("metadata",)
    return {k: v for k, v in obj.items() if k not in skip}


def _order(obj: Obj) -> None:
    """apiVersion, kind, metadata, then the rest (spec before status), as Go serializes."""
    keys = ["apiVersion", "kind", "metadata"]
    rest = [k for k in obj if k not in keys and k != "status"]
    ordered = {k: obj[k] for k in [*keys, *rest, "status"] if k in obj}
    obj.clear()
    obj.update(ordered)


def validation_errors(rt: ResourceType, schema: TypeSchema, obj: Obj, old: Obj | None,
                      subresource: str | None) -> list[Cause]:
    causes: list[Cause] = list(validate_meta(rt, obj, old)) if subresource is None else []
    if rt.builtin:
        if subresource is None:
            causes += corevalidation.validate(rt, obj, old)
            if rt.kind == "CustomResourceDefinition":
                causes += crds.validate_crd(obj)
        return causes
    preceding = [FieldError(r, f, m) for r, f, m in causes]
    found = validate(schema, obj, old, subresource=subresource, preceding=preceding)
    return causes + [(e.type, e.field, e.message) for e in found]


def raise_invalid(rt: ResourceType, name: str, causes: list[Cause]) -> None:
    if causes:
        raise E.invalid(rt.kind, rt.group, name, causes)


def without_times(obj: Obj) -> Obj:
    """The object for "did anything change": managedFields timestamps and resourceVersion left out."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if isinstance(meta.get("managedFields"), list):
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
                                 for e in meta["managedFields"]]
    return {**obj, "metadata": meta}


def unchanged(new: Obj, live: Obj) -> bool:
    return without_times(new) == without_times(live)


__all__ = ["Outcome", "WriteOptions", "check_body", "check_namespace", "default",
           "generate_name", "prepare_create", "prepare_update", "prune_unknown", "raise_invalid", "unchanged",
           "validation_errors", "without_times"]
