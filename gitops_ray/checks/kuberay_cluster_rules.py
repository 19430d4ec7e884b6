"""The operator's RayClusterSpec rules (`ValidateRayClusterSpec`), shared by every kind that embeds one.

A RayCluster's `spec`, a RayJob's `rayClusterSpec`, a RayService's
`rayClusterConfig` and a RayCronJob's `jobTemplate.rayClusterSpec` all pass
through the same checks; `at` is where the spec sits in the document, so each
finding points at the offending field. Also home of the `Context` every rule
reads (KubeRay version, operator feature gates, the owner's annotations).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gitops_ray.checks import k8s_values, kuberay_names, syntax
from gitops_ray.checks.hits import Hit as Hit
from gitops_ray.findings import Severity

if TYPE_CHECKING:
    from gitops_ray.environment import OperatorConfig

PathElem = str | int
Path = tuple[PathElem, ...]

RULES: dict[str, str] = {
    "kuberay:containers": "head and every worker group template have at least one container",
    "kuberay:worker-group-names": "worker group names are unique (the webhook's check)",
    "kuberay:replicas": "minReplicas and maxReplicas are >= 0 and minReplicas <= maxReplicas",
    "kuberay:ray-start-params-resources": "resources set in rayStartParams or in the group's resources, not both",
    "kuberay:group-labels": "no rayStartParams.labels; group labels are valid Kubernetes labels",
    "kuberay:idle-timeout": "idleTimeoutSeconds >= 0, per group only with autoscaler v2",
    "kuberay:priority": "worker group priority needs Ray >= 2.56.0 and autoscaler v2",
    "kuberay:worker-group-suspend": "a suspended worker group needs autoscaling off",
    "kuberay:gcs-ft": "GCS fault tolerance: options vs annotation, env vars and redis parameters",
    "kuberay:autoscaler-v2": "RAY_enable_autoscaler_v2 consistent with enableInTreeAutoscaling and autoscalerOptions",
    "kuberay:autoscaler-restart-policy": "autoscaler v2 needs restartPolicy Never or unset",
    "kuberay:autoscaler-env": "autoscalerOptions.env does not set KUBERAY_GEN_AUTOSCALER_START_CMD",
    "kuberay:auth": "token auth needs rayVersion >= 2.52.0; Kubernetes token auth rules",
    "kuberay:history-server": "historyServerOptions collector settings, per storage backend; no container named "
                              "ray-history-collector",
    "kuberay:network-policy": "networkPolicy rules consistent with its mode; worker group names exist",
    "kuberay:tls": "with tlsOptions, no operator-managed TLS env vars or mounts (head, workers, autoscaler)",
    "kuberay:upgrade-strategy": "RayCluster upgradeStrategy only on standalone RayClusters",
}

# Gate -> ((first KubeRay version with this default, default), ...): ray-operator/pkg/features/features.go
GATE_DEFAULTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "RayJobDeletionPolicy": (("1.0", False), ("1.6", True)),
    "RayServiceIncrementalUpgrade": (("1.0", False), ("1.7", True)),
    "RayCronJob": (("1.0", False),),
    "RayClusterNetworkPolicy": (("1.0", False),),
    "RayClusterMTLS": (("1.0", False),),
    "RayClusterHistoryServer": (("1.0", False),),
    "GCSFaultToleranceEmbeddedStorage": (("1.0", False),),
}

_V2_ENV = "RAY_enable_autoscaler_v2"
_RESOURCE_PARAMS = ("num-cpus", "num-gpus", "memory", "resources")
_TLS_ENV = ("RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT")
_COLLECTOR_CONTAINER = "ray-history-collector"  # constant.go CollectorContainerName (v1.7.0)
# STORAGE_BACKEND -> env vars it needs (validation.go validateCollectorOptions, v1.7.0; AZUREBLOB depends on
# AZURE_STORAGE_AUTH_MODE and is handled apart)
_BACKEND_ENV: dict[str, tuple[str, ...]] = {
    "GCS": ("GCS_BUCKET",), "S3": ("S3_REGION",), "ALIYUNOSS": ("OSS_BUCKET", "OSS_ENDPOINT", "OSS_REGION"),
}
_COLLECTOR_ENV = ("POD_IP", "FQ_RAY_IP", "RAY_CLUSTER_NAME", "RAY_CLUSTER_NAMESPACE", "RAY_ROLE", "OWNER_KIND",
                  "OWNER_NAME", "EVENTS_PORT")


@functools.cache
def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


class Context:
    def __init__(self, kuberay_version: str, operator: OperatorConfig | None,
                 annotations: Mapping[str, Any]) -> None:
        self.kuberay_version = kuberay_version
        self.version = _version(kuberay_version)
        self.operator = operator
        self.annotations = annotations

    def since(self, version: str) -> bool:
        return self.version >= _version(version)

    def gate_default(self, gate: str) -> bool:
        default = False
        for since, value in GATE_DEFAULTS.get(gate, ()):
            if self.since(since):
                default = value
        return default

    def needs_gate(self, gate: str, path: Path, what: str) -> Iterator[Hit]:
        default = self.gate_default(gate)
        state = self.operator.gate(gate, default) if self.operator is not None else None
        if state is False:
            yield Hit(path, "kuberay:feature-gate",
                      f"{what} needs the operator feature gate {gate}, which this environment's operator has off "
                      "(spec.operator.featureGates)")
        elif state is None and not default:
            yield Hit(path, "kuberay:feature-gate",
                      f"{what} needs the operator feature gate {gate} (off by default in KubeRay "
                      f"{self.kuberay_version}); declare the operator's featureGates in the environment to check "
                      "this", Severity.WARNING)


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _env(container: dict[str, Any], name: str) -> tuple[bool, str]:
    for var in _list(container.get("env")):
        if _d(var).get("name") == name:
            return True, str(_d(var).get("value") or "")
    return False, ""


class _Group:
    """A head or worker group: where it is, what it is called in messages, its parts."""

    __slots__ = ("at", "containers", "label", "pod", "ray_container", "spec")

    def __init__(self, at: Path, label: str, spec: dict[str, Any]) -> None:
        self.at = at
        self.label = label
        self.spec = spec
        self.pod = _d(_d(spec.get("template")).get("spec"))
        self.containers = _list(self.pod.get("containers"))
        self.ray_container = _d(self.containers[0]) if self.containers else {}


def check_cluster(spec: dict[str, Any], at: Path, ctx: Context, *, embedded: bool) -> Iterator[Hit]:
    head = _Group((*at, "headGroupSpec"), "the head group", _d(spec.get("headGroupSpec")))
    workers = [_Group((*at, "workerGroupSpecs", i), f"worker group {_d(w).get('groupName', i)!r}", _d(w))
               for i, w in enumerate(_list(spec.get("workerGroupSpecs")))]
    autoscaling = spec.get("enableInTreeAutoscaling") is True
    options = _d(spec.get("autoscalerOptions"))
    v2_env, v2_value = _env(head.ray_container, _V2_ENV)
    v2 = options.get("version") == "v2" or (v2_env and v2_value in ("1", "true"))
    for group in (head, *workers):
        yield from _group(group, ctx, autoscaling=autoscaling, v2=v2, is_head=group is head,
                          ray_version=spec.get("rayVersion"))
    yield from _unique_names(workers)
    yield from _k8s_values(spec, at, head, workers, ctx)
    yield from kuberay_names.cluster_children(spec, at, embedded=embedded)
    yield from _gcs(spec, at, head, ctx)
    yield from _autoscaler(spec, at, head, workers, ctx, autoscaling=autoscaling, v2_env=(v2_env, v2_value))
    yield from _auth(spec, at, ctx)
    if ctx.since("1.7"):
        yield from _alpha_features(spec, at, head, workers, ctx)
    if embedded and ctx.since("1.6") and _d(spec.get("upgradeStrategy")).get("type") is not None:
        yield Hit((*at, "upgradeStrategy"), "kuberay:upgrade-strategy",
                  "upgradeStrategy can be set only on a RayCluster created directly, not one embedded in a "
                  "RayJob or RayService")


def _k8s_values(spec: dict[str, Any], at: Path, head: _Group, workers: list[_Group],
                ctx: Context) -> Iterator[Hit]:
    """Kubernetes closed sets in what the operator turns into Pods and Services: nothing checks them before
    the operator's create fails (k8s_values)."""
    for group in (head, *workers):
        yield from k8s_values.pod_template(group.spec.get("template"), (*group.at, "template"))
    yield from k8s_values.one_of(head.spec, "serviceType", k8s_values.SERVICE_TYPES, head.at)
    yield from k8s_values.service_spec(_d(_d(head.spec.get("headService")).get("spec")),
                                       (*head.at, "headService", "spec"))
    options = _d(spec.get("autoscalerOptions"))
    yield from k8s_values.one_of(options, "imagePullPolicy", k8s_values.PULL_POLICIES, (*at, "autoscalerOptions"))
    storage = _d(_d(spec.get("gcsFaultToleranceOptions")).get("storage"))
    yield from k8s_values.access_modes(storage.get("accessModes"),
                                       (*at, "gcsFaultToleranceOptions", "storage", "accessModes"))


def _group(group: _Group, ctx: Context, *, autoscaling: bool, v2: bool, is_head: bool,
           ray_version: Any) -> Iterator[Hit]:
    if not group.containers:
        yield Hit((*group.at, "template", "spec", "containers"), "kuberay:containers",
                  f"{group.label} needs at least one container (the first is the Ray container)")
    params = _d(group.spec.get("rayStartParams"))
    if ctx.since("1.5"):
        if any(params.get(p) for p in _RESOURCE_PARAMS) and _d(group.spec.get("resources")):
            yield Hit((*group.at, "resources"), "kuberay:ray-start-params-resources",
                      f"{group.label} sets resources both in rayStartParams and in resources; use only one")
        if "labels" in params:
            yield Hit((*group.at, "rayStartParams", "labels"), "kuberay:group-labels",
                      "rayStartParams.labels is not supported; use the group's labels field")
        for key, value in _d(group.spec.get("labels")).items():
            problem = syntax.qualified_name(str(key))
            if problem is None and isinstance(value, str):
                problem = syntax.label_value(value)
            if problem:
                yield Hit((*group.at, "labels", key), "kuberay:group-labels", f"label {key!r}: {problem}")
    if is_head:
        return
    yield from _replicas(group, ctx)
    idle = group.spec.get("idleTimeoutSeconds")
    if isinstance(idle, int) and ctx.since("1.6"):
        if idle < 0:
            yield Hit((*group.at, "idleTimeoutSeconds"), "kuberay:idle-timeout",
                      "idleTimeoutSeconds must not be negative")
        elif not v2:
            yield Hit((*group.at, "idleTimeoutSeconds"), "kuberay:idle-timeout",
                      "idleTimeoutSeconds on a worker group needs autoscaler v2 (autoscalerOptions.version: v2)")
    priority = group.spec.get("priority")
    if isinstance(priority, int) and priority != 0 and ctx.since("1.7"):
        parsed = syntax.ray_version(ray_version) if isinstance(ray_version, str) else None
        if parsed is None or parsed < (2, 56):
            yield Hit((*group.at, "priority"), "kuberay:priority",
                      f"priority needs rayVersion 2.56.0 or later (rayVersion is {ray_version or 'not set'})")
        elif not v2:
            yield Hit((*group.at, "priority"), "kuberay:priority", "priority needs autoscaler v2")
    if group.spec.get("suspend") is True and ctx.since("1.3"):  # v1.3.2 validation.go already checks both
        yield from ctx.needs_gate("RayJobDeletionPolicy", (*group.at, "suspend"), "suspending a worker group")
        if autoscaling:
            yield Hit((*group.at, "suspend"), "kuberay:worker-group-suspend",
                      "a worker group cannot be suspended while the autoscaler is enabled")


def _replicas(group: _Group, ctx: Context) -> Iterator[Hit]:
    low = group.spec.get("minReplicas", 0)
    high = group.spec.get("maxReplicas", 2147483647)
    if not isinstance(low, int) or not isinstance(high, int):
        return
    enforced = ctx.since("1.6")
    severity = Severity.ERROR if enforced else Severity.WARNING
    suffix = "" if enforced else f" (KubeRay {ctx.kuberay_version} does not reject this, but the group cannot scale)"
    for key, value in (("minReplicas", low), ("maxReplicas", high)):
        if value < 0:
            yield Hit((*group.at, key), "kuberay:replicas", f"{group.label}: {key} {value} is negative{suffix}",
                      severity)
    if 0 <= high < low:
        yield Hit((*group.at, "minReplicas"), "kuberay:replicas",
                  f"{group.label}: minReplicas {low} is greater than maxReplicas {high}{suffix}", severity)


def _unique_names(workers: list[_Group]) -> Iterator[Hit]:
    seen: dict[str, int] = {}
    for index, group in enumerate(workers):
        name = group.spec.get("groupName")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield Hit((*group.at, "groupName"), "kuberay:worker-group-names",
                      f"worker group name {name!r} is already used by workerGroupSpecs[{seen[name]}]")
        else:
            seen[name] = index


def _gcs(spec: dict[str, Any], at: Path, head: _Group, ctx: Context) -> Iterator[Hit]:
    rule = "kuberay:gcs-ft"
    options = spec.get("gcsFaultToleranceOptions")
    annotation = ctx.annotations.get("ray.io/ft-enabled")
    head_env = head.ray_container
    params = _d(head.spec.get("rayStartParams"))
    if annotation and isinstance(options, dict):
        yield Hit((*at, "gcsFaultToleranceOptions"), rule,
                  "the ray.io/ft-enabled annotation and gcsFaultToleranceOptions are both set; use only "
                  "gcsFaultToleranceOptions")
    enabled = str(annotation).lower() == "true" or isinstance(options, dict)
    if not enabled and ctx.since("1.3") and _env(head_env, "RAY_REDIS_ADDRESS")[0]:  # in v1.3.2 validation.go
        yield Hit((*head.at, "template", "spec", "containers", 0, "env"), rule,
                  "RAY_REDIS_ADDRESS implicitly enables GCS fault tolerance; set gcsFaultToleranceOptions instead")
    if isinstance(options, dict):
        if params.get("redis-password"):
            yield Hit((*head.at, "rayStartParams", "redis-password"), rule,
                      "with gcsFaultToleranceOptions, set the password in gcsFaultToleranceOptions.redisPassword")
        for name in ("REDIS_PASSWORD", "RAY_REDIS_ADDRESS"):
            if _env(head_env, name)[0]:
                yield Hit((*head.at, "template", "spec", "containers", 0, "env"), rule,
                          f"with gcsFaultToleranceOptions, the head must not set the {name} env var")
        if ctx.annotations.get("ray.io/external-storage-namespace"):
            yield Hit(("metadata", "annotations", "ray.io/external-storage-namespace"), rule,
                      "with gcsFaultToleranceOptions, use gcsFaultToleranceOptions.externalStorageNamespace")
        if ctx.since("1.7"):
            yield from _gcs_backend(options, (*at, "gcsFaultToleranceOptions"), head, ctx)
    if params.get("redis-username") or _env(head_env, "REDIS_USERNAME")[0]:
        yield Hit((*head.at, "rayStartParams"), rule,
                  "set the redis username in gcsFaultToleranceOptions.redisUsername, not in rayStartParams or env")


def _gcs_backend(options: dict[str, Any], at: Path, head: _Group, ctx: Context) -> Iterator[Hit]:
    rule = "kuberay:gcs-ft"
    storage = options.get("storage")
    if options.get("backend") != "rocksdb":
        if storage is not None:
            yield Hit((*at, "storage"), rule, "storage applies only to the rocksdb backend")
        return
    gate_hits = list(ctx.needs_gate("GCSFaultToleranceEmbeddedStorage", (*at, "backend"), "the rocksdb GCS backend"))
    yield from gate_hits
    if gate_hits:  # the operator stops at the gate; its other checks apply once the gate is on
        return
    for key in ("redisAddress", "redisUsername", "redisPassword", "externalStorageNamespace"):
        if options.get(key):
            yield Hit((*at, key), rule, f"{key} cannot be set with the rocksdb backend")
    storage = _d(storage)
    if storage.get("claimName") and any(storage.get(k) for k in ("size", "storageClassName", "accessModes")):
        yield Hit((*at, "storage", "claimName"), rule,
                  "storage.claimName excludes size, storageClassName and accessModes")
    container = head.ray_container
    for name in ("RAY_gcs_storage", "RAY_gcs_storage_path"):
        if _env(container, name)[0]:
            yield Hit((*head.at, "template", "spec", "containers", 0, "env"), rule,
                      f"{name} is managed by the operator with the rocksdb backend")
    for mount in _list(container.get("volumeMounts")):
        if _d(mount).get("name") == "gcs-storage" or _d(mount).get("mountPath") == "/data/gcs":
            yield Hit((*head.at, "template", "spec", "containers", 0, "volumeMounts"), rule,
                      "the gcs-storage mount (/data/gcs) is managed by the operator with the rocksdb backend")
    for i, volume in enumerate(_list(head.pod.get("volumes"))):
        if _d(volume).get("name") == "gcs-storage":
            yield Hit((*head.at, "template", "spec", "volumes", i, "name"), rule,
                      "the gcs-storage volume is managed by the operator with the rocksdb backend")


def _autoscaler(spec: dict[str, Any], at: Path, head: _Group, workers: list[_Group], ctx: Context, *,
                autoscaling: bool, v2_env: tuple[bool, str]) -> Iterator[Hit]:
    options = _d(spec.get("autoscalerOptions"))
    env_at = (*head.at, "template", "spec", "containers", 0, "env")
    if not autoscaling and ctx.since("1.5") and v2_env[0] and v2_env[1] in ("1", "true"):
        yield Hit(env_at, "kuberay:autoscaler-v2",
                  f"{_V2_ENV}={v2_env[1]} needs enableInTreeAutoscaling: true")
    if autoscaling and ctx.since("1.4"):
        if options.get("version") is not None and v2_env[0]:
            yield Hit((*at, "autoscalerOptions", "version"), "kuberay:autoscaler-v2",
                      f"both autoscalerOptions.version and the head env var {_V2_ENV} are set; use only the former")
        if options.get("version") == "v2":
            for group in (head, *workers):
                policy = group.pod.get("restartPolicy")
                if policy not in (None, "", "Never"):
                    yield Hit((*group.at, "template", "spec", "restartPolicy"), "kuberay:autoscaler-restart-policy",
                              f"{group.label}: restartPolicy must be Never or unset with autoscaler v2")
    idle = options.get("idleTimeoutSeconds")
    if ctx.since("1.6") and isinstance(idle, int) and idle < 0:
        yield Hit((*at, "autoscalerOptions", "idleTimeoutSeconds"), "kuberay:idle-timeout",
                  "autoscalerOptions.idleTimeoutSeconds must not be negative")
    if ctx.since("1.7") and _env(options, "KUBERAY_GEN_AUTOSCALER_START_CMD")[0]:
        yield Hit((*at, "autoscalerOptions", "env"), "kuberay:autoscaler-env",
                  "autoscalerOptions.env must not set KUBERAY_GEN_AUTOSCALER_START_CMD (the operator injects it)")


def _auth(spec: dict[str, Any], at: Path, ctx: Context) -> Iterator[Hit]:
    auth = _d(spec.get("authOptions"))
    k8s_token = auth.get("enableK8sTokenAuth") is True
    where = (*at, "authOptions")
    if auth.get("mode") == "token":
        version_text = spec.get("rayVersion")
        parsed = syntax.ray_version(version_text) if isinstance(version_text, str) and version_text else None
        if not version_text:
            yield Hit((*where, "mode"), "kuberay:auth", "authOptions.mode token needs rayVersion (2.52.0 or later)")
        elif parsed is None:
            yield Hit((*at, "rayVersion"), "kuberay:auth", f"rayVersion {version_text!r} is not a version")
        elif parsed < (2, 52):
            yield Hit((*where, "mode"), "kuberay:auth",
                      f"authOptions.mode token needs Ray 2.52.0 or later (rayVersion is {version_text})")
        elif k8s_token and ctx.since("1.6"):
            if parsed < (2, 55):
                yield Hit((*where, "enableK8sTokenAuth"), "kuberay:auth",
                          f"enableK8sTokenAuth needs Ray 2.55.0 or later (rayVersion is {version_text})")
            if auth.get("secretName"):
                yield Hit((*where, "secretName"), "kuberay:auth", "enableK8sTokenAuth excludes secretName")
    elif k8s_token and ctx.since("1.6"):
        yield Hit((*where, "enableK8sTokenAuth"), "kuberay:auth", "enableK8sTokenAuth needs authOptions.mode token")


def _alpha_features(spec: dict[str, Any], at: Path, head: _Group, workers: list[_Group],
                    ctx: Context) -> Iterator[Hit]:
    history = spec.get("historyServerOptions")
    if isinstance(history, dict):
        where = (*at, "historyServerOptions")
        gate_hits = list(ctx.needs_gate("RayClusterHistoryServer", where, "historyServerOptions"))
        yield from gate_hits
        collector = history.get("collectorOptions")
        if gate_hits:  # the operator stops at the gate (validation.go v1.7.0); the rest needs it on
            pass
        elif not isinstance(collector, dict):
            yield Hit(where, "kuberay:history-server", "historyServerOptions.collectorOptions must be set")
        else:
            yield from _collector(collector, (*where, "collectorOptions"))
        for group in (head, *workers) if not gate_hits else ():
            for i, item in enumerate(group.containers):
                if _d(item).get("name") == _COLLECTOR_CONTAINER:
                    yield Hit((*group.at, "template", "spec", "containers", i, "name"), "kuberay:history-server",
                              f"{group.label}: the container name {_COLLECTOR_CONTAINER} is reserved for the "
                              "history server collector the operator adds")
    policy = spec.get("networkPolicy")
    if isinstance(policy, dict):
        gate_hits = list(ctx.needs_gate("RayClusterNetworkPolicy", (*at, "networkPolicy"), "networkPolicy"))
        yield from gate_hits
        if not gate_hits:
            yield from _network_policy(policy, (*at, "networkPolicy"), workers)
    tls = spec.get("tlsOptions")
    if isinstance(tls, dict):
        gate_hits = list(ctx.needs_gate("RayClusterMTLS", (*at, "tlsOptions"), "tlsOptions"))
        yield from gate_hits
        if tls.get("enabled") is True and not gate_hits:
            yield from _tls(spec, at, (head, *workers))


def _collector(collector: dict[str, Any], at: Path) -> Iterator[Hit]:
    rule = "kuberay:history-server"
    if not collector.get("image"):
        yield Hit((*at, "image"), rule, "collectorOptions.image must be set")
    env = {_d(v).get("name"): _d(v) for v in _list(collector.get("env"))}
    for name in _COLLECTOR_ENV:
        if name in env:
            yield Hit((*at, "env"), rule, f"collectorOptions.env must not set {name} (the operator injects it)")
    backend = env.get("STORAGE_BACKEND", {}).get("value")
    if not backend:
        yield Hit((*at, "env"), rule, "collectorOptions.env must set STORAGE_BACKEND to a literal value")
        return
    yield from _collector_backend(str(backend), env, at)


def _collector_backend(backend: str, env: dict[Any, dict[str, Any]], at: Path) -> Iterator[Hit]:
    """The variables each storage backend needs (a value or a valueFrom); unknown backends are not checked."""
    rule = "kuberay:history-server"

    def has(name: str) -> bool:
        var = env.get(name, {})
        return bool(var.get("value")) or var.get("valueFrom") is not None

    kind = backend.upper()
    for name in _BACKEND_ENV.get(kind, ()):
        if not has(name):
            yield Hit((*at, "env"), rule, f"collectorOptions.env must set {name} when STORAGE_BACKEND is {kind}")
    if kind != "AZUREBLOB":
        return
    mode = str(env.get("AZURE_STORAGE_AUTH_MODE", {}).get("value") or "").strip().lower()
    if mode == "connection_string" and not has("AZURE_STORAGE_CONNECTION_STRING"):
        yield Hit((*at, "env"), rule, "collectorOptions.env must set AZURE_STORAGE_CONNECTION_STRING when "
                  "STORAGE_BACKEND is AZUREBLOB and AZURE_STORAGE_AUTH_MODE is connection_string")
    elif mode in ("workload_identity", "default") and not has("AZURE_STORAGE_ACCOUNT_URL"):
        yield Hit((*at, "env"), rule, f"collectorOptions.env must set AZURE_STORAGE_ACCOUNT_URL when STORAGE_BACKEND "
                  f"is AZUREBLOB and AZURE_STORAGE_AUTH_MODE is {mode}")
    elif mode not in ("connection_string", "workload_identity", "default") and not (
            has("AZURE_STORAGE_CONNECTION_STRING") or has("AZURE_STORAGE_ACCOUNT_URL")):
        yield Hit((*at, "env"), rule, "collectorOptions.env must set AZURE_STORAGE_CONNECTION_STRING or "
                  "AZURE_STORAGE_ACCOUNT_URL when STORAGE_BACKEND is AZUREBLOB")


def _network_policy(policy: dict[str, Any], at: Path, workers: list[_Group]) -> Iterator[Hit]:
    rule = "kuberay:network-policy"
    mode = policy.get("mode") or "DenyAll"
    forbidden = {"DenyAllEgress": "ingressRules", "DenyAllIngress": "egressRules"}.get(mode)
    for part in ("head", "worker"):
        if forbidden and _d(policy.get(part)).get(forbidden):
            yield Hit((*at, part, forbidden), rule, f"{part}.{forbidden} cannot be set with mode {mode}")
    names = set()
    for group in workers:
        name = group.spec.get("groupName")
        if isinstance(name, str):
            names.add(name)
            problem = syntax.dns1123_label(name)
            if problem:
                yield Hit((*group.at, "groupName"), rule,
                          f"with networkPolicy, worker group names must be DNS-1123 labels: {name!r} {problem}")
    for i, entry in enumerate(_list(policy.get("workerGroups"))):
        entry = _d(entry)
        if forbidden and entry.get(forbidden):
            yield Hit((*at, "workerGroups", i, forbidden), rule, f"{forbidden} cannot be set with mode {mode}")
        if entry.get("groupName") not in names:
            yield Hit((*at, "workerGroups", i, "groupName"), rule,
                      f"no worker group named {entry.get('groupName')!r} in workerGroupSpecs")


def _tls(spec: dict[str, Any], at: Path, groups: tuple[_Group, ...]) -> Iterator[Hit]:
    rule = "kuberay:tls"
    for group in groups:
        container = group.ray_container
        for name in _TLS_ENV:
            if _env(container, name)[0]:
                yield Hit((*group.at, "template", "spec", "containers", 0, "env"), rule,
                          f"{group.label}: {name} is managed by the operator when tlsOptions is set")
        for mount in _list(container.get("volumeMounts")):
            if _d(mount).get("name") == "ray-tls" or _d(mount).get("mountPath") == "/etc/ray/tls":
                yield Hit((*group.at, "template", "spec", "containers", 0, "volumeMounts"), rule,
                          f"{group.label}: the ray-tls mount (/etc/ray/tls) is managed by the operator")
    options = _d(spec.get("autoscalerOptions"))
    for name in _TLS_ENV:
        if _env(options, name)[0]:
            yield Hit((*at, "autoscalerOptions", "env"), rule, f"autoscalerOptions.env: {name} is managed by the "
                      "operator when tlsOptions is set")
    for i, mount in enumerate(_list(options.get("volumeMounts"))):
        if _d(mount).get("name") == "ray-tls" or _d(mount).get("mountPath") == "/etc/ray/tls":
            yield Hit((*at, "autoscalerOptions", "volumeMounts", i), rule,
                      "autoscalerOptions.volumeMounts: the ray-tls mount (/etc/ray/tls) is managed by the operator")
