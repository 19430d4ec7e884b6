"""RayCluster spec arithmetic shared by the controllers: desired workers, ports, the spec hash, head Services."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gitops_ray.sandbox._raycommon import (
    CORE_V1,
    DEFAULT_PORTS,
    FIELD_MANAGER,
    L_APP_NAME,
    L_CLUSTER,
    L_CREATED_BY,
    L_IDENTIFIER,
    L_NODE_TYPE,
    MAX_INT32,
    Env,
    check_label,
    get,
    int_or,
)


def autoscaling(spec: Mapping[str, Any] | None) -> bool:
    return bool(spec) and spec is not None and spec.get("enableInTreeAutoscaling") is True


def group_desired(group: Mapping[str, Any]) -> int:
    """`utils.GetWorkerGroupDesiredReplicas`: clamp(replicas, min, max) x numOfHosts, 0 when suspended."""
    if group.get("suspend") is True:
        return 0
    low, high = int_or(group.get("minReplicas"), 0), int_or(group.get("maxReplicas"), MAX_INT32)
    replicas = group.get("replicas")
    wanted = low if not isinstance(replicas, int) or replicas < low else min(replicas, high)
    return wanted * hosts(group)


def hosts(group: Mapping[str, Any]) -> int:
    return int_or(group.get("numOfHosts"), 1)


def head_container(spec: Mapping[str, Any]) -> dict[str, Any]:
    containers = (((spec.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    return containers[0] if containers else {}


def service_ports(spec: Mapping[str, Any]) -> dict[str, int]:
    """`getServicePorts`: the head container's declared ports, or all defaults; `metrics` always."""
    ports: dict[str, int] = {}
    for port in head_container(spec).get("ports") or ():
        number = int_or(port.get("containerPort"), 0)
        ports[port.get("name") or f"{number}-port"] = number
    if not ports:
        ports = dict(DEFAULT_PORTS)
    ports.setdefault("metrics", DEFAULT_PORTS["metrics"])
    return ports


def is_serving_port(name: str) -> bool:
    return name == "serve" or name.startswith("serve-")


def _prune_empty(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def spec_hash(spec: Mapping[str, Any]) -> str:
    """`GenerateHashWithoutReplicasAndWorkersToDelete`: SHA-1, base32hex, of the spec without the fields
    autoscalers and Kueue change (replicas, min/max, workersToDelete, tolerations, schedulingGates,
    upgradeStrategy). Canonical JSON here, Go struct JSON upstream: same shape, different digits."""
    muted = copy.deepcopy(dict(spec))
    muted.pop("upgradeStrategy", None)
    head_pod = ((muted.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}
    head_pod.pop("tolerations", None)
    head_pod.pop("schedulingGates", None)
    for group in muted.get("workerGroupSpecs") or ():
        for key in ("replicas", "minReplicas", "maxReplicas"):
            group.pop(key, None)
        (group.get("scaleStrategy") or {}).pop("workersToDelete", None)
        pod = (group.get("template") or {}).get("spec") or {}
        pod.pop("tolerations", None)
        pod.pop("schedulingGates", None)
    canonical = json.dumps(_prune_empty(muted), sort_keys=True, separators=(",", ":"))
    return base64.b32hexencode(hashlib.sha1(canonical.encode(), usedforsecurity=False).digest()).decode()


def head_service(cluster: Mapping[str, Any], env: Env, *, own_annotations: bool = True) -> dict[str, Any]:
    """`BuildServiceForHeadPod`: headless unless a serviceType or ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE says otherwise.
    `headServiceAnnotations` apply to the cluster's own head Service only (RayJob/RayService pass none)."""
    meta, spec = cluster.get("metadata") or {}, cluster.get("spec") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", "")
    head = spec.get("headGroupSpec") or {}
    template_labels = ((head.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = {L_CLUSTER: name, L_NODE_TYPE: "head", L_IDENTIFIER: check_label(f"{name}-head"),
                L_APP_NAME: template_labels.get(L_APP_NAME, "kuberay"), L_CREATED_BY: FIELD_MANAGER}
    ports = [{"name": port, "port": number, "appProtocol": "tcp"}
             for port, number in sorted(service_ports(spec).items())]
    annotations = dict(spec.get("headServiceAnnotations") or {}) if own_annotations else {}
    service_type = head.get("serviceType") or ""
    custom = head.get("headService")
    if custom:
        svc = copy.deepcopy(custom)
        svc_meta = svc.setdefault("metadata", {})
        svc_spec = svc.setdefault("spec", {})
        svc_spec["selector"] = selector
        svc_meta["annotations"] = {**(svc_meta.get("annotations") or {}), **annotations}
        svc_spec["ports"] = list(svc_spec.get("ports") or []) + ports
        svc_meta["labels"] = {**(svc_meta.get("labels") or {}), **selector}
        svc_meta["name"] = svc_meta.get("name") or f"{name}-head-svc"
        svc_meta["namespace"] = namespace
        if not svc_spec.get("type") and service_type:
            svc_spec["type"] = service_type
    else:
        svc_spec = {"selector": selector, "ports": ports}
        if service_type:
            svc_spec["type"] = service_type
        if not env.env_true("ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE") and service_type in ("", "ClusterIP"):
            svc_spec["clusterIP"] = "None"
            svc_spec["publishNotReadyAddresses"] = True
        svc_meta = {"name": f"{name}-head-svc", "namespace": namespace, "labels": dict(selector)}
        if annotations:
            svc_meta["annotations"] = annotations
        svc = {"metadata": svc_meta, "spec": svc_spec}
    svc["apiVersion"], svc["kind"] = CORE_V1, "Service"
    svc.pop("status", None)
    return dict(svc)


def head_service_name(cluster: Mapping[str, Any]) -> str:
    """`GenerateHeadServiceName` for a RayCluster: a custom headService name wins."""
    custom = ((cluster.get("spec") or {}).get("headGroupSpec") or {}).get("headService") or {}
    return str((custom.get("metadata") or {}).get("name") or f"{(cluster.get('metadata') or {}).get('name')}-head-svc")


def dashboard_url(env: Env, cluster: Mapping[str, Any]) -> str:
    """`FetchHeadServiceURL`: `<head svc>.<ns>.svc.cluster.local:<dashboard port>`, "" when not servable yet."""
    namespace = (cluster.get("metadata") or {}).get("namespace", "")
    svc = get(env, CORE_V1, "services", namespace, head_service_name(cluster))
    if svc is None:
        return ""
    for port in (svc.get("spec") or {}).get("ports") or ():
        if port.get("name") == "dashboard":
            domain = env.operator_env.get("CLUSTER_DOMAIN") or "cluster.local"
            return f"{svc['metadata']['name']}.{namespace}.svc.{domain}:{port.get('port')}"
    return ""
