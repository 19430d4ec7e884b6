"""Kubernetes string fields whose values are a closed set, though no schema we have says so.

The OpenAPI v2 definitions (kubernetes-validate's source) carry no enums, and
controller-gen copies none into CRDs for the core types a CRD embeds, so
`imagePullPolicy: Sometimes` passes every schema. For a built-in kind the API
server rejects it at apply; inside a KubeRay pod template nothing rejects it
until the operator creates the Pod, and then the cluster never comes up. Both
are errors here, naming the allowed values.

The sets are the `+enum` string types of k8s.io/api/core/v1/types.go (and the
validation of k8s.io/kubernetes/pkg/apis/core/validation for where they are
required); they have been stable across every bundled Kubernetes minor.

Each walker takes the object and where it sits in the document; `check_builtin`
knows, per built-in kind, where its pod specs, Service spec and claims are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gitops_ray.checks.hits import Hit, Path

RULE = "k8s:enum"

RESTART_POLICIES = ("Always", "OnFailure", "Never")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")
PULL_POLICIES = ("Always", "Never", "IfNotPresent")

_CONTAINER: dict[str, tuple[str, ...]] = {
    "imagePullPolicy": PULL_POLICIES,
    "terminationMessagePolicy": ("File", "FallbackToLogsOnError"),
}
_POD: dict[str, tuple[str, ...]] = {
    "restartPolicy": RESTART_POLICIES,
    "dnsPolicy": ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
    "preemptionPolicy": ("PreemptLowerPriority", "Never"),
}
_SECCOMP = ("RuntimeDefault", "Unconfined", "Localhost")
_NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_SERVICE: dict[str, tuple[str, ...]] = {
    "type": SERVICE_TYPES,
    "externalTrafficPolicy": ("Cluster", "Local"),
    "internalTrafficPolicy": ("Cluster", "Local"),
    "sessionAffinity": ("None", "ClientIP"),
    "ipFamilyPolicy": ("SingleStack", "PreferDualStack", "RequireDualStack"),
}
_HOST_PATH = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def one_of(obj: Mapping[str, Any], key: str, allowed: Sequence[str], at: Path, what: str = "") -> Iterator[Hit]:
    """A hit when `obj[key]` is a string outside `allowed` (absent and non-strings are the schema's business)."""
    value = obj.get(key)
    if isinstance(value, str) and value not in allowed:
        label = what or key
        shown = ", ".join(a for a in allowed if a) + (" (or empty)" if "" in allowed else "")
        yield Hit((*at, key), RULE, f"{label} {value!r} is not one of: {shown}")


def _table(obj: Mapping[str, Any], table: Mapping[str, Sequence[str]], at: Path) -> Iterator[Hit]:
    for key, allowed in table.items():
        yield from one_of(obj, key, allowed, at)


def container(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    yield from _table(spec, _CONTAINER, at)
    for i, port in _items(spec.get("ports")):
        yield from one_of(port, "protocol", PROTOCOLS, (*at, "ports", i))
    for i, policy in _items(spec.get("resizePolicy")):
        yield from one_of(policy, "restartPolicy", ("NotRequired", "RestartContainer"), (*at, "resizePolicy", i))
    for i, mount in _items(spec.get("volumeMounts")):
        yield from one_of(mount, "mountPropagation", ("None", "HostToContainer", "Bidirectional"),
                          (*at, "volumeMounts", i))
    context = _d(spec.get("securityContext"))
    yield from _security_context(context, (*at, "securityContext"))
    yield from one_of(context, "procMount", ("Default", "Unmasked"), (*at, "securityContext"))


def _security_context(context: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    for key in ("seccompProfile", "appArmorProfile"):
        yield from one_of(_d(context.get(key)), "type", _SECCOMP, (*at, key), f"{key}.type")


def _selector(selector: Mapping[str, Any], at: Path, operators: Sequence[str]) -> Iterator[Hit]:
    for i, expression in _items(selector.get("matchExpressions")):
        yield from one_of(expression, "operator", operators, (*at, "matchExpressions", i))


def _affinity(affinity: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    node = _d(affinity.get("nodeAffinity"))
    required = _d(node.get("requiredDuringSchedulingIgnoredDuringExecution"))
    for i, term in _items(required.get("nodeSelectorTerms")):
        where = (*at, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", i)
        yield from _selector(term, where, _NODE_OPERATORS)
    for i, pref in _items(node.get("preferredDuringSchedulingIgnoredDuringExecution")):
        where = (*at, "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", i, "preference")
        yield from _selector(_d(pref.get("preference")), where, _NODE_OPERATORS)
    for kind in ("podAffinity", "podAntiAffinity"):
        part = _d(affinity.get(kind))
        for i, term in _items(part.get("requiredDuringSchedulingIgnoredDuringExecution")):
            where = (*at, kind, "requiredDuringSchedulingIgnoredDuringExecution", i, "labelSelector")
            yield from _selector(_d(term.get("labelSelector")), where, _LABEL_OPERATORS)
        for i, weighted in _items(part.get("preferredDuringSchedulingIgnoredDuringExecution")):
            term = _d(weighted.get("podAffinityTerm"))
            where = (*at, kind, "preferredDuringSchedulingIgnoredDuringExecution", i, "podAffinityTerm",
                     "labelSelector")
            yield from _selector(_d(term.get("labelSelector")), where, _LABEL_OPERATORS)


def pod_spec(spec: Mapping[str, Any], at: Path, *, restart: Sequence[str] = RESTART_POLICIES,
             restart_why: str = "") -> Iterator[Hit]:
    """A PodSpec. `restart` narrows restartPolicy where the owner does (a Deployment's pods: Always)."""
    table: dict[str, Sequence[str]] = dict(_POD)
    table["restartPolicy"] = restart
    for key, allowed in table.items():
        hits = list(one_of(spec, key, allowed, at))
        if hits and key == "restartPolicy" and restart_why:
            hits = [Hit(h.path, h.rule, f"{h.message} ({restart_why})") for h in hits]
        yield from hits
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, item in _items(spec.get(key)):
            yield from container(item, (*at, key, i))
    yield from _security_context(_d(spec.get("securityContext")), (*at, "securityContext"))
    yield from one_of(_d(spec.get("securityContext")), "fsGroupChangePolicy", ("OnRootMismatch", "Always"),
                      (*at, "securityContext"))
    for i, toleration in _items(spec.get("tolerations")):
        yield from one_of(toleration, "operator", ("Exists", "Equal"), (*at, "tolerations", i))
        yield from one_of(toleration, "effect", ("", "NoSchedule", "PreferNoSchedule", "NoExecute"),
                          (*at, "tolerations", i))
    for i, constraint in _items(spec.get("topologySpreadConstraints")):
        where = (*at, "topologySpreadConstraints", i)
        yield from one_of(constraint, "whenUnsatisfiable", ("DoNotSchedule", "ScheduleAnyway"), where)
        for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            yield from one_of(constraint, key, ("Honor", "Ignore"), where)
        yield from _selector(_d(constraint.get("labelSelector")), (*where, "labelSelector"), _LABEL_OPERATORS)
    yield from _affinity(_d(spec.get("affinity")), (*at, "affinity"))
    for i, volume in _items(spec.get("volumes")):
        where = (*at, "volumes", i)
        yield from one_of(_d(volume.get("hostPath")), "type", _HOST_PATH, (*where, "hostPath"), "hostPath.type")
        claim = _d(_d(_d(volume.get("ephemeral")).get("volumeClaimTemplate")).get("spec"))
        yield from pvc_spec(claim, (*where, "ephemeral", "volumeClaimTemplate", "spec"))


def pod_template(template: Any, at: Path, **kwargs: Any) -> Iterator[Hit]:
    yield from pod_spec(_d(_d(template).get("spec")), (*at, "spec"), **kwargs)


def service_spec(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    yield from _table(spec, _SERVICE, at)
    for i, port in _items(spec.get("ports")):
        yield from one_of(port, "protocol", PROTOCOLS, (*at, "ports", i))
    families = spec.get("ipFamilies")
    if isinstance(families, list):
        for i, family in enumerate(families):
            if isinstance(family, str) and family not in ("IPv4", "IPv6"):
                yield Hit((*at, "ipFamilies", i), RULE, f"ipFamily {family!r} is not one of: IPv4, IPv6")


def access_modes(modes: Any, at: Path) -> Iterator[Hit]:
    if isinstance(modes, list):
        for i, mode in enumerate(modes):
            if isinstance(mode, str) and mode not in ACCESS_MODES:
                yield Hit((*at, i), RULE, f"access mode {mode!r} is not one of: {', '.join(ACCESS_MODES)}")


def pvc_spec(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    yield from access_modes(spec.get("accessModes"), (*at, "accessModes"))
    yield from one_of(spec, "volumeMode", ("Filesystem", "Block"), at)


def _pv_spec(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    yield from pvc_spec(spec, at)
    yield from one_of(spec, "persistentVolumeReclaimPolicy", ("Retain", "Recycle", "Delete"), at)


_ALWAYS = (("Always",), "pods of a controller that keeps them running restart Always")
_JOB = (("OnFailure", "Never"), "a Job's pods restart OnFailure or Never")


def _workload(body: Mapping[str, Any], at: Path, restart: tuple[tuple[str, ...], str]) -> Iterator[Hit]:
    spec = _d(body.get("spec"))
    yield from pod_template(spec.get("template"), (*at, "spec", "template"), restart=restart[0],
                            restart_why=restart[1])
    for i, claim in _items(spec.get("volumeClaimTemplates")):
        yield from pvc_spec(_d(claim.get("spec")), (*at, "spec", "volumeClaimTemplates", i, "spec"))


def check_builtin(group: str, kind: str, body: Mapping[str, Any]) -> list[Hit]:
    """Closed-set fields of a built-in object (an empty list for kinds without any)."""
    top: Path = ()
    if group == "" and kind == "Pod":
        return list(pod_spec(_d(body.get("spec")), ("spec",)))
    if group == "" and kind == "PodTemplate":
        return list(pod_template(body.get("template"), ("template",)))
    if (group, kind) in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet"),
                         ("apps", "StatefulSet"), ("", "ReplicationController")):
        return list(_workload(body, top, _ALWAYS))
    if (group, kind) == ("batch", "Job"):
        return list(_workload(body, top, _JOB))
    if (group, kind) == ("batch", "CronJob"):
        job = _d(_d(body.get("spec")).get("jobTemplate"))
        return list(_workload(job, ("spec", "jobTemplate"), _JOB))
    if group == "" and kind == "Service":
        return list(service_spec(_d(body.get("spec")), ("spec",)))
    if group == "" and kind == "PersistentVolumeClaim":
        return list(pvc_spec(_d(body.get("spec")), ("spec",)))
    if group == "" and kind == "PersistentVolume":
        return list(_pv_spec(_d(body.get("spec")), ("spec",)))
    return []
