"""Pure pieces of the simulated RayService controller: status comparison, spec hashes, child object bodies."""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox._raycommon import (
    A_HASH,
    A_KUBERAY_VERSION,
    A_NUM_GROUPS,
    CORE_V1,
    KUBERAY_VERSION,
    L_CLUSTER,
    L_FROM_CRD,
    L_FROM_NAME,
    L_SERVE,
    RAY_V1,
    owner_reference,
)
from gitops_ray.sandbox._rayjob import ZERO_CLUSTER_STATUS
from gitops_ray.sandbox._rayspec import is_serving_port, service_ports, spec_hash


class Requeue(Exception):
    """A dashboard or Service lookup failed: stop this reconcile without writing status."""


def inconsistent(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`InconsistentRayServiceStatuses`: cluster statuses, timestamps and observedGeneration do not count."""
    if any((old.get(k) or None) != (new.get(k) or None) for k in ("serviceStatus", "numServeEndpoints",
                                                                  "conditions")):
        return True
    for side in ("activeServiceStatus", "pendingServiceStatus"):
        a, b = old.get(side) or {}, new.get(side) or {}
        if (a.get("rayClusterName") or "") != (b.get("rayClusterName") or "") or (
                a.get("applicationStatuses") or {}) != (b.get("applicationStatuses") or {}):
            return True
    return False


def goal_spec(svc: dict[str, Any]) -> dict[str, Any]:
    """`rayClusterSpecForHashing`: `suspend` is handed to the cluster only at creation."""
    spec = copy.deepcopy((svc.get("spec") or {}).get("rayClusterConfig") or {})
    spec.pop("suspend", None)
    return spec


def hash_equal(svc: dict[str, Any], cluster: dict[str, Any], partial: bool) -> bool:
    """`isClusterSpecHashEqual`; partial compares only the worker groups the cluster already has."""
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    have, goal = annotations.get(A_HASH, ""), goal_spec(svc)
    if not partial:
        return bool(have == spec_hash(goal))
    try:
        groups = int(annotations.get(A_NUM_GROUPS, ""))
    except ValueError:
        return True
    wanted = ""
    if len(goal.get("workerGroupSpecs") or []) >= groups:
        goal["workerGroupSpecs"] = (goal.get("workerGroupSpecs") or [])[:groups]
        wanted = spec_hash(goal)
    return bool(have == wanted)


def serialize(status: dict[str, Any]) -> dict[str, Any]:
    """Go writes the zero RayServiceStatus structs (and their zero RayClusterStatus) too."""
    body = copy.deepcopy(status)
    for side in ("activeServiceStatus", "pendingServiceStatus"):
        part = body.setdefault(side, {})
        part.setdefault("rayClusterStatus", copy.deepcopy(ZERO_CLUSTER_STATUS))
        if not part.get("applicationStatuses"):
            part.pop("applicationStatuses", None)
    for key in ("serviceStatus", "numServeEndpoints", "observedGeneration"):
        if not body.get(key):
            body.pop(key, None)
    return body


def cluster_body(svc: dict[str, Any], name: str) -> dict[str, Any]:
    """`constructRayClusterForRayService`: labels, hash annotations, owner reference."""
    meta, config = svc["metadata"], (svc.get("spec") or {}).get("rayClusterConfig") or {}
    annotations = {**(meta.get("annotations") or {}), A_HASH: spec_hash(goal_spec(svc)),
                   A_NUM_GROUPS: str(len(config.get("workerGroupSpecs") or [])),
                   A_KUBERAY_VERSION: KUBERAY_VERSION}
    return {"apiVersion": RAY_V1, "kind": "RayCluster", "metadata": {
        "name": name, "namespace": meta["namespace"],
        "labels": {**(meta.get("labels") or {}), L_FROM_NAME: meta["name"], L_FROM_CRD: "RayService"},
        "annotations": annotations, "ownerReferences": [owner_reference(svc)]}, "spec": copy.deepcopy(config)}


def serve_service_body(svc: dict[str, Any], cluster: dict[str, Any]) -> dict[str, Any]:
    """`BuildServeServiceForRayService`: serving ports only; a custom `serveService` is merged."""
    meta, spec = svc["metadata"], svc.get("spec") or {}
    name = meta["name"]
    labels = {L_FROM_NAME: name, L_FROM_CRD: "RayService", L_SERVE: f"{name}-serve"}
    selector = {L_CLUSTER: cluster["metadata"]["name"], L_SERVE: "true"}
    ports = [{"name": p, "port": n} for p, n in sorted(service_ports(cluster.get("spec") or {}).items())
             if is_serving_port(p)]
    service_type = ((spec.get("rayClusterConfig") or {}).get("headGroupSpec") or {}).get("serviceType")
    custom = spec.get("serveService")
    if custom:
        body = copy.deepcopy(custom)
        body_meta, body_spec = body.setdefault("metadata", {}), body.setdefault("spec", {})
        body_spec["selector"] = selector
        body_meta.setdefault("annotations", {})
        if ports:
            mine = {p.get("name"): p for p in body_spec.get("ports") or ()}
            body_spec["ports"] = [mine.get(p["name"], p) for p in ports]
        body_meta["labels"] = {**(body_meta.get("labels") or {}), **labels}
        body_meta["name"] = body_meta.get("name") or f"{name}-serve-svc"
        body_meta["namespace"] = meta["namespace"]
        if not body_spec.get("type") and service_type:
            body_spec["type"] = service_type
    else:
        if not ports:
            raise Requeue  # "Please specify a port named 'serve' ..." - the Serve Service is never created
        body = {"metadata": {"name": f"{name}-serve-svc", "namespace": meta["namespace"], "labels": labels},
                "spec": {"selector": selector, "ports": ports}}
        if service_type:
            body["spec"]["type"] = service_type
    body["apiVersion"], body["kind"] = CORE_V1, "Service"
    body.pop("status", None)
    return dict(body)
