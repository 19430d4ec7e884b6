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
_POD_OTHER: dict[str, tuple[str, ...]] = {
    "dnsPolicy": ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
    "preemptionPolicy": ("PreemptLowerPriority", "Never"),
}
_SPREAD: dict[str, tuple[str, ...]] = {
    "whenUnsatisfiable": ("DoNotSchedule", "ScheduleAnyway"),
    "nodeAffinityPolicy": ("Honor", "Ignore"), "nodeTaintsPolicy": ("Honor", "Ignore"),
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


def _hit(value: Any, allowed: Sequence[str], where: Path, label: str) -> Hit | None:
    if not isinstance(value, str) or value in allowed:
        return None
    shown = ", ".join(a for a in allowed if a) + (" (or empty)" if "" in allowed else "")
    return Hit(where, RULE, f"{label} {value!r} is not one of: {shown}")


def one_of(obj: Mapping[str, Any], key: str, allowed: Sequence[str], at: Path, what: str = "") -> Iterator[Hit]:
    """A hit when `obj[key]` is a string outside `allowed` (absent and non-strings are the schema's business)."""
    hit = _hit(obj.get(key), allowed, (*at, key), what or key) if key in obj else None
    if hit is not None:
        yield hit


# The walkers below append to `out` rather than yield: they run on every pod template of every document, and
# most fields are absent, so they look only at the keys that are there.


def _table(obj: Mapping[str, Any], table: Mapping[str, Sequence[str]], at: Path, out: list[Hit]) -> None:
    for key in obj.keys() & table.keys():
        hit = _hit(obj[key], table[key], (*at, key), key)
        if hit is not None:
            out.append(hit)


def _each(items: Any, key: str, allowed: Sequence[str], at: Path, out: list[Hit]) -> None:
    """`key` of every mapping in the list `items` (at `at`)."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if isinstance(item, dict) and key in item:
            hit = _hit(item[key], allowed, (*at, i, key), key)
            if hit is not None:
                out.append(hit)


def _container(spec: Mapping[str, Any], at: Path, out: list[Hit]) -> None:
    _table(spec, _CONTAINER, at, out)
    if "ports" in spec:
        _each(spec["ports"], "protocol", PROTOCOLS, (*at, "ports"), out)
    if "resizePolicy" in spec:
        _each(spec["resizePolicy"], "restartPolicy", ("NotRequired", "RestartContainer"), (*at, "resizePolicy"), out)
    if "volumeMounts" in spec:
        _each(spec["volumeMounts"], "mountPropagation", ("None", "HostToContainer", "Bidirectional"),
              (*at, "volumeMounts"), out)
    context = spec.get("securityContext")
    if isinstance(context, dict) and context:
        _security_context(context, (*at, "securityContext"), out)
        out.extend(one_of(context, "procMount", ("Default", "Unmasked"), (*at, "securityContext")))


def container(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    out: list[Hit] = []
    _container(spec, at, out)
    yield from out


def _security_context(context: Mapping[str, Any], at: Path, out: list[Hit]) -> None:
    for key in ("seccompProfile", "appArmorProfile"):
        if key in context:
            out.extend(one_of(_d(context[key]), "type", _SECCOMP, (*at, key), f"{key}.type"))


def _selector(selector: Mapping[str, Any], at: Path, operators: Sequence[str], out: list[Hit]) -> None:
    if "matchExpressions" in selector:
        _each(selector["matchExpressions"], "operator", operators, (*at, "matchExpressions"), out)


def _affinity(affinity: Mapping[str, Any], at: Path, out: list[Hit]) -> None:
    node = _d(affinity.get("nodeAffinity"))
    required = _d(node.get("requiredDuringSchedulingIgnoredDuringExecution"))
    for i, term in _items(required.get("nodeSelectorTerms")):
        where = (*at, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", i)
        _selector(term, where, _NODE_OPERATORS, out)
    for i, pref in _items(node.get("preferredDuringSchedulingIgnoredDuringExecution")):
        where = (*at, "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", i, "preference")
        _selector(_d(pref.get("preference")), where, _NODE_OPERATORS, out)
    for kind in ("podAffinity", "podAntiAffinity"):
        part = _d(affinity.get(kind))
        for i, term in _items(part.get("requiredDuringSchedulingIgnoredDuringExecution")):
            where = (*at, kind, "requiredDuringSchedulingIgnoredDuringExecution", i, "labelSelector")
            _selector(_d(term.get("labelSelector")), where, _LABEL_OPERATORS, out)
        for i, weighted in _items(part.get("preferredDuringSchedulingIgnoredDuringExecution")):
            term = _d(weighted.get("podAffinityTerm"))
            where = (*at, kind, "preferredDuringSchedulingIgnoredDuringExecution", i, "podAffinityTerm",
                     "labelSelector")
            _selector(_d(term.get("labelSelector")), where, _LABEL_OPERATORS, out)


def pod_spec(spec: Mapping[str, Any], at: Path, *, restart: Sequence[str] = RESTART_POLICIES,
             restart_why: str = "") -> Iterator[Hit]:
    """A PodSpec. `restart` narrows restartPolicy where the owner does (a Deployment's pods: Always)."""
    out: list[Hit] = []
    _pod_spec(spec, at, restart, restart_why, out)
    yield from out


def _pod_spec(spec: Mapping[str, Any], at: Path, restart: Sequence[str], restart_why: str, out: list[Hit]) -> None:
    _table(spec, _POD_OTHER, at, out)
    if "restartPolicy" in spec:
        hit = _hit(spec["restartPolicy"], restart, (*at, "restartPolicy"), "restartPolicy")
        if hit is not None:
            out.append(Hit(hit.path, hit.rule, f"{hit.message} ({restart_why})") if restart_why else hit)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    _container(item, (*at, key, i), out)
    context = spec.get("securityContext")
    if isinstance(context, dict) and context:
        _security_context(context, (*at, "securityContext"), out)
        out.extend(one_of(context, "fsGroupChangePolicy", ("OnRootMismatch", "Always"), (*at, "securityContext")))
    if "tolerations" in spec:
        _each(spec["tolerations"], "operator", ("Exists", "Equal"), (*at, "tolerations"), out)
        _each(spec["tolerations"], "effect", ("", "NoSchedule", "PreferNoSchedule", "NoExecute"),
              (*at, "tolerations"), out)
    for i, constraint in _items(spec.get("topologySpreadConstraints")):
        where = (*at, "topologySpreadConstraints", i)
        _table(constraint, _SPREAD, where, out)
        _selector(_d(constraint.get("labelSelector")), (*where, "labelSelector"), _LABEL_OPERATORS, out)
    if "affinity" in spec:
        _affinity(_d(spec["affinity"]), (*at, "affinity"), out)
    for i, volume in _items(spec.get("volumes")):
        where = (*at, "volumes", i)
        if "hostPath" in volume:
            out.extend(one_of(_d(volume["hostPath"]), "type", _HOST_PATH, (*where, "hostPath"), "hostPath.type"))
        if "ephemeral" in volume:
            claim = _d(_d(_d(volume["ephemeral"]).get("volumeClaimTemplate")).get("spec"))
            out.extend(pvc_spec(claim, (*where, "ephemeral", "volumeClaimTemplate", "spec")))


def pod_template(template: Any, at: Path, **kwargs: Any) -> Iterator[Hit]:
    yield from pod_spec(_d(_d(template).get("spec")), (*at, "spec"), **kwargs)


def service_spec(spec: Mapping[str, Any], at: Path) -> Iterator[Hit]:
    out: list[Hit] = []
    _table(spec, _SERVICE, at, out)
    if "ports" in spec:
        _each(spec["ports"], "protocol", PROTOCOLS, (*at, "ports"), out)
    families = spec.get("ipFamilies")
    if isinstance(families, list):
        for i, family in enumerate(families):
            if isinstance(family, str) and family not in ("IPv4", "IPv6"):
                out.append(Hit((*at, "ipFamilies", i), RULE, f"ipFamily {family!r} is not one of: IPv4, IPv6"))
    yield from out


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
