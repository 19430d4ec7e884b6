"""The write pipeline shared by POST, PUT, every PATCH flavour, the status and
finalize subresources, the internal client and the garbage collector (spec §7):

  decode -> (SSA merge | patch | body) -> prune -> default -> strategy
  -> managedFields -> validate -> RV check -> persist -> event

Everything runs inside one store transaction, so the resourceVersion check and
the write are atomic: of two writers holding the same resourceVersion exactly
one wins, the other gets 409.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox import fieldmanager, patches
from gitops_ray.sandbox.admission import (
    Outcome,
    WriteOptions,
    check_body,
    check_namespace,
    default,
    generate_name,
    prepare_create,
    prepare_update,
    prune_unknown,
    raise_invalid,
    unchanged,
    validation_errors,
)
from gitops_ray.sandbox.context import ServerContext
from gitops_ray.sandbox.resources import ResourceType
from gitops_ray.sandbox.store import Row, Txn, clone

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
CR_PATCH_TYPES = (JSON_PATCH, MERGE, APPLY)
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)
MAX_JSON_PATCH_OPS = 10000


def create(api: ServerContext, txn: Txn, rt: ResourceType, ns: str, body: Any, opts: WriteOptions) -> Outcome:
    obj = check_body(rt, body, ns, None)
    generate_name(obj["metadata"])
    return _commit(api, txn, rt, obj, None, opts, [], subresource=None, applied=False, admit=True,
                   rv_given=bool(obj["metadata"].get("resourceVersion")))


def replace(api: ServerContext, txn: Txn, rt: ResourceType, ns: str, name: str, body: Any, opts: WriteOptions,
            subresource: str | None = None) -> Outcome:
    obj = check_body(rt, body, ns, name)
    row = txn.get(rt.group_resource, ns, name)
    if row is None:
        if subresource is None and rt.create_on_update:
            return _commit(api, txn, rt, obj, None, opts, [], subresource=None, applied=False, admit=True)
        raise E.not_found(rt.plural, rt.group, name)
    live = row.obj(rt.kind, rt.api_version)
    given_rv = str(obj["metadata"].get("resourceVersion") or "")
    if not given_rv and not rt.builtin:
        raise E.invalid(rt.plural, rt.group, name, [("FieldValueInvalid", "metadata.resourceVersion",
                                                     "Invalid value: 0x0: must be specified for an update")])
    if given_rv and given_rv != str(row.rv):
        raise E.conflict(rt.plural, rt.group, name)
    return _commit(api, txn, rt, obj, (row, live), opts, [], subresource=subresource, applied=False)


def patch(api: ServerContext, txn: Txn, rt: ResourceType, ns: str, name: str, content_type: str, raw: bytes,
          opts: WriteOptions, subresource: str | None = None) -> Outcome:
    accepted = BUILTIN_PATCH_TYPES if rt.builtin else CR_PATCH_TYPES
    if content_type not in accepted:
        raise E.unsupported_media_type(accepted)
    if content_type == APPLY:
        return apply(api, txn, rt, ns, name, raw, opts, subresource)
    if opts.force is not None:
        raise E.options_invalid("PatchOptions", [("FieldValueForbidden", "force",
                                                  "Forbidden: may not be specified for non-apply patch")])
    row = txn.get(rt.group_resource, ns, name)
    if row is None:
        raise E.not_found(rt.plural, rt.group, name)
    live = row.obj(rt.kind, rt.api_version)
    patched = _apply_patch(api, rt, live, content_type, raw)
    if not isinstance(patched, dict):
        raise E.bad_request("patch did not produce an object")
    meta = patched.get("metadata")
    if not isinstance(meta, dict):
        meta = patched["metadata"] = {}
    if meta.get("name", name) != name:
        raise E.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    meta["name"] = name
    check_namespace(rt, meta, ns)
    if patched.get("apiVersion") != rt.api_version or patched.get("kind") != rt.kind:
        raise E.bad_request(f"the API version in the data ({patched.get('apiVersion')}) does not match the expected "
                            f"API version ({rt.api_version})")
    given_rv = str(meta.get("resourceVersion") or "")
    if given_rv and given_rv != str(row.rv):
        raise E.conflict(rt.plural, rt.group, name)
    return _commit(api, txn, rt, patched, (row, live), opts, [], subresource=subresource, applied=False)


def _apply_patch(api: ServerContext, rt: ResourceType, live: Obj, content_type: str, raw: bytes) -> Any:
    try:
        doc = json.loads(raw or b"null")
    except ValueError as err:
        raise E.bad_request(f"error decoding patch: {err}") from None
    if content_type == JSON_PATCH:
        if not isinstance(doc, list):
            raise E.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        if len(doc) > MAX_JSON_PATCH_OPS:
            raise E.too_large(f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, "
                              f"got {len(doc)}")
        try:
            return patches.json_patch(live, doc)
        except patches.PatchError as err:
            raise _patch_error(err) from None
    if not isinstance(doc, dict):
        raise E.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
    if content_type == STRATEGIC:
        try:
            return patches.strategic_merge_patch(live, doc, api.registry.schema(rt))
        except patches.PatchError as err:
            raise _patch_error(err) from None
    return patches.merge_patch(live, doc)


def _patch_error(err: patches.PatchError) -> E.StatusError:
    """400 as a BadRequest; 422 the way apiserver's NewGenericServerResponse words it (patch.go)."""
    if err.code == 400:
        return E.bad_request(str(err))
    return E.StatusError(422, "Invalid", "the server rejected our request due to an error in our request",
                         {"causes": [{"reason": "UnexpectedServerResponse", "message": str(err)}]})


def _decode_apply(raw: bytes) -> Obj:
    try:
        doc = json.loads(raw)
    except ValueError:
        try:
            doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as err:
            raise E.bad_request(f"error decoding YAML: {err}") from None
    if not isinstance(doc, dict):
        raise E.bad_request("error decoding YAML: the patch is not an object")
    return doc


def apply(api: ServerContext, txn: Txn, rt: ResourceType, ns: str, name: str, raw: bytes, opts: WriteOptions,
          subresource: str | None) -> Outcome:
    if not opts.field_manager:
        raise E.options_invalid("PatchOptions", [("FieldValueRequired", "fieldManager",
                                                  "Required value: is required for apply patch")])
    config = _decode_apply(raw)
    meta = config.get("metadata")
    if not isinstance(meta, dict):
        meta = config["metadata"] = {}
    if meta.get("managedFields") is not None:
        raise E.bad_request("metadata.managedFields must be nil")
    if config.get("apiVersion") != rt.api_version:
        raise E.bad_request("Incorrect version specified in apply patch. Specified patch version: "
                            f"{config.get('apiVersion', '')}, expected: {rt.api_version}")
    if config.get("kind") != rt.kind:
        raise E.bad_request(f"Incorrect kind specified in apply patch. Specified patch kind: {config.get('kind', '')}, "
                            f"expected: {rt.kind}")
    if meta.get("name", name) != name:
        raise E.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    meta["name"] = name
    check_namespace(rt, meta, ns)
    row = txn.get(rt.group_resource, ns, name)
    live = row.obj(rt.kind, rt.api_version) if row else None
    if row is None:
        if subresource is not None:
            raise E.not_found(rt.plural, rt.group, name)
        api.admit_namespace(txn, rt, ns, name)
    given_rv = str(meta.get("resourceVersion") or "")
    if given_rv and (row is None or given_rv != str(row.rv)):
        raise E.conflict(rt.plural, rt.group, name)
    schema = api.registry.schema(rt)
    try:
        merged = fieldmanager.apply(live, config, manager=opts.field_manager, force=bool(opts.force), schema=schema,
                              api_version=rt.api_version, subresource=subresource, now=api.now())
    except fieldmanager.ApplyConflict as err:
        raise E.apply_conflict(str(err), err.causes()) from None
    except fieldmanager.UndeclaredField as err:
        raise E.internal(str(err)) from None
    except fieldmanager.BadApplyRequest as err:
        raise E.bad_request(str(err)) from None
    merged.setdefault("apiVersion", rt.api_version)
    merged.setdefault("kind", rt.kind)
    current = (row, live) if row is not None and live is not None else None
    return _commit(api, txn, rt, merged, current, opts, [], subresource=subresource, applied=True)


def _commit(api: ServerContext, txn: Txn, rt: ResourceType, new: Obj, current: tuple[Row, Obj] | None,
            opts: WriteOptions, warnings: list[str], *, subresource: str | None, applied: bool,
            manager: str | None = None, trusted: bool = False, admit: bool = False, rv_given: bool = False) -> Outcome:
    """Run prune..persist on a candidate object; `applied` means managedFields already came from SSA.

    The order of refusals is the API server's: decoding (400), namespace admission when `admit` (404/403),
    validation (422), then storage: a resourceVersion on a create (500), an existing object (409)."""
    schema = api.registry.schema(rt)
    name = new["metadata"].get("name", "")
    new = clone(new)
    prune_unknown(rt, schema, new, "Ignore" if applied else opts.field_validation, warnings)
    default(rt, schema, new)
    now = api.now()
    row, live = current if current is not None else (None, None)
    if admit and live is None:
        api.admit_namespace(txn, rt, new["metadata"].get("namespace", ""), name)
    managed = new["metadata"].get("managedFields")
    if live is None:
        if not name:
            raise_invalid(rt, name, [("FieldValueRequired", "metadata.name",
                                      "Required value: name or generateName is required")])
        prepare_create(rt, new, now)
    else:
        new = prepare_update(rt, new, live, subresource)
        if applied:
            new["metadata"]["managedFields"] = managed
    if not applied:
        new = fieldmanager.update(live, new, manager=manager or opts.field_manager, schema=schema,
                            api_version=rt.api_version, subresource=subresource, now=now)
    if not trusted:
        raise_invalid(rt, name, validation_errors(rt, schema, new, live, subresource))
    if live is not None and row is not None:
        if unchanged(new, live):
            return Outcome(200, live, warnings)
        if live["metadata"].get("deletionTimestamp") and finalized(rt, new):
            if opts.dry_run:
                return Outcome(200, new, warnings)
            return Outcome(200, remove(api, txn, rt, row, new), warnings)
    if rv_given:  # etcd3 store.Create's plain error, which the handler answers as a 500 without a reason
        raise E.internal("resourceVersion should not be set on objects to be created")
    if live is None and txn.get(rt.group_resource, new["metadata"].get("namespace", ""), name) is not None:
        raise E.already_exists(rt.plural, rt.group, name)
    if opts.dry_run:
        return Outcome(201 if live is None else 200, new, warnings)
    txn.put(rt, new, row)
    api.after_write(txn, rt, new, live)
    return Outcome(201 if live is None else 200, new, warnings)


def finalized(rt: ResourceType, obj: Obj) -> bool:
    """No finalizer left: a deleting object with nothing holding it goes away (namespaces: spec ones too)."""
    if obj["metadata"].get("finalizers"):
        return False
    return not (rt.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"))


def remove(api: ServerContext, txn: Txn, rt: ResourceType, row: Row, final: Obj | None = None) -> Obj:
    """Delete for good; queue what the controllers must look at next."""
    obj = txn.delete(rt, row, final)
    for ref in obj["metadata"].get("ownerReferences") or ():
        owner = txn.by_uid(str(ref.get("uid", ""))) if isinstance(ref, dict) else None
        if owner is not None:
            txn.gc_queue.append((owner.gr, owner.ns, owner.name))
    if row.ns:
        txn.ns_queue.add(row.ns)
    api.after_remove(txn, rt, obj)
    return obj


def system_update(api: ServerContext, txn: Txn, rt: ResourceType, obj: Obj, *, manager: str,
                  subresource: str | None = None, live: Obj | None = None) -> Outcome:
    """An Update by a controller (GC, namespace controller, CRD status): no RV check, no dry run.
    `live`, when the caller already holds the stored object, saves decoding it again."""
    meta = obj["metadata"]
    row = txn.get(rt.group_resource, meta.get("namespace", ""), meta["name"])
    if row is None:
        raise E.not_found(rt.plural, rt.group, meta["name"])
    if live is None:
        live = row.obj(rt.kind, rt.api_version)
    obj = {**obj, "apiVersion": rt.api_version, "kind": rt.kind}
    return _commit(api, txn, rt, obj, (row, live), WriteOptions(field_manager=manager, field_validation="Ignore"),
                   [], subresource=subresource, applied=False, manager=manager)


def system_create(api: ServerContext, txn: Txn, rt: ResourceType, obj: Obj, *, manager: str,
                  trusted: bool = False) -> Outcome:
    """A create by the server itself; `trusted` objects (the bundled CRDs) skip validation."""
    obj = {**obj, "apiVersion": rt.api_version, "kind": rt.kind}
    return _commit(api, txn, rt, obj, None, WriteOptions(field_manager=manager, field_validation="Ignore"), [],
                   subresource=None, applied=False, manager=manager, trusted=trusted)


__all__ = ["APPLY", "BUILTIN_PATCH_TYPES", "CR_PATCH_TYPES", "JSON_PATCH", "MERGE", "STRATEGIC", "apply", "create",
           "patch", "remove", "replace", "system_create", "system_update"]
