"""DELETE, finalizers, and the controllers that finish deletions: the garbage
collector (owner-reference cascade, `foregroundDeletion`, `orphan`) and the
namespace controller (empty a Terminating namespace, then finalize it).

A real cluster runs those controllers asynchronously; here `settle` runs them
at the end of every write transaction until nothing is left to do, so objects
whose finalizers nobody removes stay visible with `deletionTimestamp` exactly
as on a cluster, while everything else is gone before the response returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.admission import Outcome
from gitops_ray.sandbox.context import ServerContext
from gitops_ray.sandbox.resources import ResourceType
from gitops_ray.sandbox.store import Row, Txn
from gitops_ray.sandbox.writes import remove, system_update

Obj = dict[str, Any]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
GC_MANAGER = "generic-garbage-collector"
NS_MANAGER = "namespace-controller"
# batch/v1 Jobs orphan their pods unless told otherwise (DefaultGarbageCollectionPolicy).
DEFAULT_ORPHAN = ("jobs.batch",)


@dataclass
class DeleteOptions:
    propagation: str | None = None
    grace_period: int | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


def parse_options(query: dict[str, str], body: Any) -> DeleteOptions:
    body = body if isinstance(body, dict) else {}
    propagation = query.get("propagationPolicy") or body.get("propagationPolicy")
    orphan = query.get("orphanDependents", body.get("orphanDependents"))
    if orphan is not None and propagation:
        raise E.options_invalid("DeleteOptions", [
            ("FieldValueInvalid", "propagationPolicy",
             f'Invalid value: "{propagation}": orphanDependents and deletionPropagation cannot be both set')])
    if orphan is not None:
        propagation = "Orphan" if str(orphan).lower() == "true" else "Background"
    if propagation and propagation not in ("Background", "Foreground", "Orphan"):
        raise E.options_invalid("DeleteOptions", [
            ("FieldValueNotSupported", "propagationPolicy",
             f'Unsupported value: "{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"')])
    pre = body.get("preconditions") or {}
    grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
    dry = query.get("dryRun") or body.get("dryRun")
    return DeleteOptions(propagation=propagation, grace_period=int(grace) if grace not in (None, "") else None,
                         uid=pre.get("uid"), resource_version=pre.get("resourceVersion"), dry_run=bool(dry))


def _success(rt: ResourceType, obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    details: Obj = {"name": meta.get("name", "")}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details["uid"] = meta.get("uid", "")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def delete(api: ServerContext, txn: Txn, rt: ResourceType, ns: str, name: str, opts: DeleteOptions) -> tuple[int, Obj]:
    row = txn.get(rt.group_resource, ns, name)
    if row is None:
        raise E.not_found(rt.plural, rt.group, name)
    if opts.uid is not None and opts.uid != row.uid:
        raise E.conflict(rt.plural, rt.group, name, f"Precondition failed: UID in precondition: {opts.uid}, UID in "
                                                    f"object meta: {row.uid}")
    if opts.resource_version is not None and opts.resource_version != str(row.rv):
        raise E.conflict(rt.plural, rt.group, name, "Precondition failed: ResourceVersion in precondition: "
                         f"{opts.resource_version}, ResourceVersion in object meta: {row.rv}")
    if rt.kind == "Namespace" and name in PROTECTED_NAMESPACES:
        raise E.forbidden(rt.plural, rt.group, name, "this namespace may not be deleted")
    obj = row.obj(rt.kind, rt.api_version)
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return 200, obj
    propagation = opts.propagation or ("Orphan" if rt.group_resource in DEFAULT_ORPHAN else "Background")
    finalizers = list(meta.get("finalizers") or [])
    gc_finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation)
    if gc_finalizer and gc_finalizer not in finalizers:
        finalizers = [f for f in finalizers if f not in ("foregroundDeletion", "orphan")] + [gc_finalizer]
    ns_finalizers = (obj.get("spec") or {}).get("finalizers") if rt.kind == "Namespace" else None
    if not finalizers and not ns_finalizers:
        if opts.dry_run:
            return 200, _success(rt, obj)
        remove(api, txn, rt, row)
        return 200, _success(rt, obj)
    meta["deletionTimestamp"] = api.now()
    meta["deletionGracePeriodSeconds"] = 0
    if finalizers:
        meta["finalizers"] = finalizers
    if rt.has_generation:
        meta["generation"] = int(meta.get("generation", 0)) + 1
    if rt.kind == "Namespace":
        obj.setdefault("status", {})["phase"] = "Terminating"
    if opts.dry_run:
        return 200, obj
    txn.put(rt, obj, row)
    if rt.kind == "Namespace":
        txn.ns_queue.add(name)
    if gc_finalizer:
        txn.gc_queue.append((rt.group_resource, ns, name))
    return 200, obj


def delete_collection(api: ServerContext, txn: Txn, rt: ResourceType, ns: str | None, rows: list[Row],
                      opts: DeleteOptions) -> list[Obj]:
    out = []
    for row in rows:
        _, result = delete(api, txn, rt, row.ns, row.name, opts)
        out.append(result if result.get("kind") != "Status" else row.obj(rt.kind, rt.api_version))
    return out


def settle(api: ServerContext, txn: Txn) -> None:
    """Run the garbage collector and namespace controller until they have nothing left to do."""
    seen_removed = 0
    for _ in range(100000):
        progressed = False
        while seen_removed < len(txn.removed):
            row, _obj = txn.removed[seen_removed]
            seen_removed += 1
            _collect_dependents(api, txn, row.uid)
            progressed = True
        while txn.gc_queue:
            gr, ns, name = txn.gc_queue.pop(0)
            _finish_gc_finalizers(api, txn, gr, ns, name)
            progressed = True
        while txn.ns_queue:
            _sweep_namespace(api, txn, txn.ns_queue.pop())
            progressed = True
        if not progressed and seen_removed >= len(txn.removed):
            return


def _type(api: ServerContext, gr: str) -> ResourceType | None:
    return api.registry.storage_type(gr)


def _collect_dependents(api: ServerContext, txn: Txn, owner_uid: str) -> None:
    for gr, ns, name in txn.dependents(owner_uid):
        rt = _type(api, gr)
        row = txn.get(gr, ns, name)
        if rt is None or row is None:
            continue
        obj = row.obj(rt.kind, rt.api_version)
        refs = obj["metadata"].get("ownerReferences") or []
        alive = [r for r in refs if isinstance(r, dict) and txn.by_uid(str(r.get("uid", ""))) is not None]
        if alive:
            if len(alive) != len(refs):
                obj["metadata"]["ownerReferences"] = alive
                system_update(api, txn, rt, obj, manager=GC_MANAGER)
        elif not obj["metadata"].get("deletionTimestamp"):
            delete(api, txn, rt, ns, name, DeleteOptions(propagation="Background"))


def _finish_gc_finalizers(api: ServerContext, txn: Txn, gr: str, ns: str, name: str) -> None:
    rt = _type(api, gr)
    row = txn.get(gr, ns, name)
    if rt is None or row is None:
        return
    obj = row.obj(rt.kind, rt.api_version)
    meta = obj["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if not meta.get("deletionTimestamp"):
        return
    dependents = txn.dependents(row.uid)
    if "orphan" in finalizers:
        for dgr, dns, dname in dependents:
            drt, drow = _type(api, dgr), txn.get(dgr, dns, dname)
            if drt is None or drow is None:
                continue
            dobj = drow.obj(drt.kind, drt.api_version)
            dobj["metadata"]["ownerReferences"] = [r for r in dobj["metadata"].get("ownerReferences") or ()
                                                   if r.get("uid") != row.uid]
            if not dobj["metadata"]["ownerReferences"]:
                del dobj["metadata"]["ownerReferences"]
            system_update(api, txn, drt, dobj, manager=GC_MANAGER)
        finalizers.remove("orphan")
    elif "foregroundDeletion" in finalizers:
        pending = False
        for dgr, dns, dname in dependents:
            drt, drow = _type(api, dgr), txn.get(dgr, dns, dname)
            if drt is None or drow is None:
                continue
            pending = True
            if not drow.obj(drt.kind).get("metadata", {}).get("deletionTimestamp"):
                delete(api, txn, drt, dns, dname, DeleteOptions(propagation="Foreground"))
        if pending and txn.dependents(row.uid):
            return
        finalizers.remove("foregroundDeletion")
    else:
        return
    fresh = txn.get(gr, ns, name)
    if fresh is None:
        return
    obj = fresh.obj(rt.kind, rt.api_version)
    obj["metadata"]["finalizers"] = finalizers
    if not finalizers:
        del obj["metadata"]["finalizers"]
    system_update(api, txn, rt, obj, manager=GC_MANAGER)


def _sweep_namespace(api: ServerContext, txn: Txn, ns: str) -> None:
    nrt = api.registry.storage_type("namespaces")
    row = txn.get("namespaces", "", ns)
    if nrt is None or row is None:
        return
    obj = row.obj(nrt.kind, nrt.api_version)
    if not obj["metadata"].get("deletionTimestamp"):
        return
    remaining = False
    for item in txn.in_namespace(ns):
        rt = _type(api, item.gr)
        if rt is None:
            continue
        remaining = True
        current = txn.get(item.gr, item.ns, item.name)
        if current is not None and not current.obj(rt.kind).get("metadata", {}).get("deletionTimestamp"):
            delete(api, txn, rt, item.ns, item.name, DeleteOptions(propagation="Background"))
    if remaining and txn.in_namespace(ns):
        return
    if (obj.get("spec") or {}).get("finalizers"):
        obj["spec"]["finalizers"] = []
        system_update(api, txn, nrt, obj, manager=NS_MANAGER, subresource="finalize")
    fresh = txn.get("namespaces", "", ns)
    if fresh is not None:
        final = fresh.obj(nrt.kind, nrt.api_version)
        if not final["metadata"].get("finalizers") and not (final.get("spec") or {}).get("finalizers"):
            remove(api, txn, nrt, fresh)


def outcome(code: int, obj: Obj) -> Outcome:
    return Outcome(code, obj)


__all__ = ["DeleteOptions", "delete", "delete_collection", "parse_options", "remove", "settle"]
