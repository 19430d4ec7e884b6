"""Built-in kinds: the defaults and strategies a kube-apiserver applies to them
(the subset spec §3 lists, plus what KubeRay's children need; their validation
is corevalidation.py). Each kind's behaviour is a small function in a table
keyed by Kind, so adding a kind is adding rows, not branches in the pipeline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox.resources import ResourceType

Obj = dict[str, Any]
# Reset on create by PrepareForCreate; the shape the typed Go object serializes to.
EMPTY_STATUS: dict[str, Obj] = {
    "Service": {"loadBalancer": {}},
    "Job": {},
    "PersistentVolumeClaim": {"phase": "Pending"},
    "Pod": {"phase": "Pending", "qosClass": "BestEffort"},
    "ResourceQuota": {},
}


def _zero_default(target: Obj, key: str, value: Any) -> Any:
    """Set a string default when the field is missing or empty: Go's zero value counts as unset."""
    if target.get(key) in (None, ""):
        target[key] = value
    return target[key]


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


# -- defaults (run on every write, like the Go defaulting funcs in decode) ---------------------------------------
def _namespace_defaults(obj: Obj) -> None:
    name = (obj.get("metadata") or {}).get("name", "")
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _canonical_base64(value: Any) -> Any:
    """Secret data is []byte: Go's decoder skips newlines, and the stored bytes re-encode without them."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)).decode()
    except (binascii.Error, ValueError):
        return value


def _secret_defaults(obj: Obj) -> None:
    _zero_default(obj, "type", "Opaque")
    if isinstance(obj.get("data"), dict):
        obj["data"] = {k: _canonical_base64(v) for k, v in obj["data"].items()}
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _cluster_ip(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return f"10.96.{digest[0] % 255}.{digest[1] % 253 + 2}"


def _service_defaults(obj: Obj) -> None:
    spec = _spec(obj)
    kind = _zero_default(spec, "type", "ClusterIP")
    _zero_default(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            _zero_default(port, "protocol", "TCP")
            if "targetPort" not in port and "port" in port:
                port["targetPort"] = port["port"]
    if kind == "ExternalName":
        return
    _zero_default(spec, "internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        _zero_default(spec, "externalTrafficPolicy", "Cluster")
        if kind == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)


def _allocate_service(obj: Obj) -> None:
    """What the Service REST storage allocates on create: cluster IPs, families, node ports."""
    spec = _spec(obj)
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return
    uid = obj["metadata"].get("uid", "")
    if not spec.get("clusterIP"):
        spec["clusterIP"] = _cluster_ip(uid)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    _zero_default(spec, "ipFamilyPolicy", "SingleStack")
    if kind in ("NodePort", "LoadBalancer"):
        for index, port in enumerate(spec.get("ports") or ()):
            if isinstance(port, dict) and not port.get("nodePort"):
                digest = hashlib.sha256(f"{uid}/{index}".encode()).digest()
                port["nodePort"] = 30000 + int.from_bytes(digest[:2], "big") % 2768


def _pvc_defaults(obj: Obj) -> None:
    _zero_default(_spec(obj), "volumeMode", "Filesystem")


def _pod_spec_defaults(spec: Obj) -> None:
    _zero_default(spec, "restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    _zero_default(spec, "dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    _zero_default(spec, "schedulerName", "default-scheduler")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        _zero_default(container, "terminationMessagePath", "/dev/termination-log")
        _zero_default(container, "terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
        container.setdefault("resources", {})
        for port in container.get("ports") or ():
            if isinstance(port, dict):
                _zero_default(port, "protocol", "TCP")


def _pod_defaults(obj: Obj) -> None:
    spec = _spec(obj)
    _pod_spec_defaults(spec)
    spec.setdefault("enableServiceLinks", True)
    _zero_default(spec, "serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    _zero_default(spec, "preemptionPolicy", "PreemptLowerPriority")


def _job_defaults(obj: Obj) -> None:
    spec = _spec(obj)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    _zero_default(spec, "completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec.setdefault("template", {})
    if isinstance(template, dict):
        tspec = template.setdefault("spec", {})
        if isinstance(tspec, dict):
            _pod_spec_defaults(tspec)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "TerminatingOrFailed"


def _job_create(obj: Obj) -> None:
    """The Job strategy's generated selector and labels (batch `strategy.go generateSelector`)."""
    spec = _spec(obj)
    if spec.get("manualSelector"):
        return
    meta = obj["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    tmeta.setdefault("labels", {}).update(labels)
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def _priorityclass_defaults(obj: Obj) -> None:
    _zero_default(obj, "preemptionPolicy", "PreemptLowerPriority")


DEFAULTS: dict[str, Callable[[Obj], None]] = {
    "Namespace": _namespace_defaults,
    "Secret": _secret_defaults,
    "Service": _service_defaults,
    "PersistentVolumeClaim": _pvc_defaults,
    "Pod": _pod_defaults,
    "Job": _job_defaults,
    "PriorityClass": _priorityclass_defaults,
}

ON_CREATE: dict[str, Callable[[Obj], None]] = {
    "Service": _allocate_service,
    "Job": _job_create,
}


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    fn = DEFAULTS.get(rt.kind)
    if fn is not None:
        fn(obj)


def prepare_create(rt: ResourceType, obj: Obj) -> None:
    """PrepareForCreate: status reset and allocations (after uid is set)."""
    if rt.kind == "Namespace":
        _spec(obj)["finalizers"] = ["kubernetes"]
        obj["status"] = {"phase": "Active"}
    elif rt.kind in EMPTY_STATUS:
        obj["status"] = dict(EMPTY_STATUS[rt.kind])
    elif rt.kind == "CustomResourceDefinition":
        obj.pop("status", None)
    fn = ON_CREATE.get(rt.kind)
    if fn is not None:
        fn(obj)


def prepare_update(rt: ResourceType, obj: Obj, old: Obj) -> None:
    """PrepareForUpdate on the main endpoint: status (and namespace finalizers) come from the old object."""
    if rt.kind == "Namespace":
        _spec(obj)["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
    if rt.has_status or rt.kind == "Namespace":
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)
    if rt.kind == "Service":
        spec, old_spec = _spec(obj), old.get("spec") or {}
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key not in spec and key in old_spec:
                spec[key] = old_spec[key]
        if spec.get("type") == old_spec.get("type"):
            _carry_node_ports(spec, old_spec)
    if rt.kind == "Job":
        spec, old_spec = _spec(obj), old.get("spec") or {}
        if "selector" not in spec and "selector" in old_spec:
            spec["selector"] = old_spec["selector"]


def _carry_node_ports(spec: Obj, old_spec: Obj) -> None:
    old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in old_spec.get("ports") or ()
                 if isinstance(p, dict)}
    for port in spec.get("ports") or ():
        if isinstance(port, dict) and not port.get("nodePort"):
            node_port = old_ports.get((port.get("port"), port.get("protocol")))
            if node_port:
                port["nodePort"] = node_port


__all__ = ["EMPTY_STATUS", "apply_defaults", "prepare_create", "prepare_update"]
