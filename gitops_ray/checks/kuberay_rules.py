"""The KubeRay operator's own checks: what its controllers reject although the CRD schema accepts it.

Restated from `ray-operator/controllers/ray/utils/validation.go` (ValidateRay*Metadata,
ValidateRayClusterSpec, ValidateRayJobSpec, ValidateRayServiceSpec,
ValidateRayCronJobSpec) of every bundled KubeRay version, and the optional
webhook's worker-group-name check. The operator reports these only as events
or a `ValidationFailed` status after the apply; here they fail the pull request.

* Rules run on documents that passed the schema (the operator never sees the
  others), so shapes are as the schema says; values are still read defensively.
* Each rule has an id (`kuberay:<name>`, listed in RULES and docs/validation.md)
  and applies from the first KubeRay version that enforces it.
* A rule that depends on operator configuration (a feature gate) is an error
  or nothing when the environment declares the operator's gates, and otherwise
  a warning if the version's default would reject it (nothing if the default
  accepts it: a warning on every ordinary manifest would teach people to ignore them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gitops_ray.checks import k8s_values, kuberay_names, syntax
from gitops_ray.checks import kuberay_cluster_rules as cluster
from gitops_ray.findings import Severity

if TYPE_CHECKING:
    from gitops_ray.environment import OperatorConfig

PathElem = str | int
Path = tuple[PathElem, ...]

RULES: dict[str, str] = {
    **kuberay_names.RULES,
    "kuberay:feature-gate": "a field that needs an operator feature gate",
    "kuberay:enum": "a KubeRay string field with a closed set of values the CRD schema does not enumerate "
                    "(submissionMode, deletionPolicy)",
    "k8s:enum": "a Kubernetes string field with a closed set of values (imagePullPolicy, restartPolicy, Service "
                "type, port protocol, access modes, ...), in pod templates and Services too",
    **cluster.RULES,
    "kuberay:suspend-needs-shutdown": "RayJob suspend needs shutdownAfterJobFinishes: true",
    "kuberay:ttl-needs-shutdown": "ttlSecondsAfterFinished > 0 needs shutdownAfterJobFinishes: true; it is >= 0",
    "kuberay:deletion-policy": "RayJob deletionPolicy (KubeRay 1.3-1.4) combinations the operator rejects",
    "kuberay:deletion-strategy": "RayJob deletionStrategy: legacy vs rules, uniqueness, TTL order, selector, "
                                 "autoscaling",
    "kuberay:cluster-source": "RayJob needs rayClusterSpec or clusterSelector (one of them; both: the spec is ignored)",
    "kuberay:cluster-selector": "clusterSelector needs ray.io/cluster; no suspend, SidecarMode or backoffLimit > 0",
    "kuberay:submission-mode": "InteractiveMode: no backoffLimit > 0; SidecarMode: no submitter pod/config, head "
                               "restartPolicy Never",
    "kuberay:runtime-env-yaml": "runtimeEnvYAML is a YAML mapping",
    "kuberay:deadline": "activeDeadlineSeconds and preRunningDeadlineSeconds are > 0",
    "kuberay:backoff-limit": "backoffLimit is >= 0",
    "kuberay:job-metadata": "RayJob metadata needs rayVersion >= 2.6.0",
    "kuberay:head-service-name": "RayService headService.metadata.name must be empty",
    "kuberay:upgrade-strategy": "RayService upgradeStrategy.type values; incremental-upgrade options",
    "kuberay:deletion-delay": "RayService rayClusterDeletionDelaySeconds is >= 0",
    "kuberay:initializing-timeout": "ray.io/initializing-timeout is a positive Go duration or integer seconds",
    "kuberay:serve-port": "a RayService head that declares ports needs one named serve (warning)",
    "kuberay:cron-schedule": "RayCronJob schedule parses as a standard 5-field cron (no TZ= prefix from 1.7)",
    "kuberay:time-zone": "RayCronJob timeZone is a known IANA zone",
}

# JobSubmissionMode values (ray-operator/apis/ray/v1/rayjob_types.go): HTTPMode from v1.1.0, InteractiveMode
# from v1.3.0, SidecarMode from v1.5.0 (kuberay-facts §1.2); the CRD has no enum, and the controller treats an
# unknown mode as "submit nothing", so a misspelt mode applies cleanly and the job never runs.
SUBMISSION_MODES: tuple[tuple[str, str], ...] = (
    ("K8sJobMode", "1.0"), ("HTTPMode", "1.1"), ("InteractiveMode", "1.3"), ("SidecarMode", "1.5"))
# DeletionPolicy (v1.3-v1.4 rayjob_types.go; no enum in those CRDs; replaced by deletionStrategy in v1.5.0)
DELETION_POLICIES = ("DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone")
_INCREMENTAL = "NewClusterWithIncrementalUpgrade"


Hit = cluster.Hit


def check(kind: str, body: Mapping[str, Any], *, kuberay_version: str,
          operator: OperatorConfig | None = None) -> list[Hit]:
    """Every operator rule violated by one schema-valid KubeRay object."""
    ctx = cluster.Context(kuberay_version, operator, _d(_d(body.get("metadata")).get("annotations")))
    spec = _d(body.get("spec"))
    hits = list(kuberay_names.metadata(kind, _d(body.get("metadata")), ctx, spec))
    if kind == "RayCluster":
        hits += cluster.check_cluster(spec, ("spec",), ctx, embedded=False)
    elif kind == "RayJob":
        hits += _job(spec, ("spec",), ctx)
    elif kind == "RayService":
        hits += _service(spec, ctx)
    elif kind == "RayCronJob":
        hits += _cronjob(spec, ctx)
    return hits


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# --------------------------------------------------------------------------- RayJob


def _job(spec: dict[str, Any], at: Path, ctx: cluster.Context) -> Iterator[cluster.Hit]:
    shutdown = spec.get("shutdownAfterJobFinishes") is True
    selector = _d(spec.get("clusterSelector"))
    cluster_spec = spec.get("rayClusterSpec")
    mode = spec.get("submissionMode") or "K8sJobMode"
    backoff = spec.get("backoffLimit")
    modes = [m for m, since in SUBMISSION_MODES if ctx.since(since)]
    yield from _closed(spec, "submissionMode", modes, at, ctx, "the operator submits nothing for an unknown mode")
    autoscaling = isinstance(cluster_spec, dict) and cluster_spec.get("enableInTreeAutoscaling") is True

    template = spec.get("submitterPodTemplate")
    if isinstance(template, dict):  # the submitter is a batch/v1 Job: its Pods restart OnFailure or Never
        yield from k8s_values.pod_template(template, (*at, "submitterPodTemplate"), restart=("OnFailure", "Never"),
                                           restart_why="the submitter is a Kubernetes Job")
    if spec.get("suspend") is True and not shutdown:
        yield cluster.Hit((*at, "suspend"), "kuberay:suspend-needs-shutdown",
                          "a RayJob can be suspended only with shutdownAfterJobFinishes: true")
    ttl = _int(spec.get("ttlSecondsAfterFinished"))
    if ctx.since("1.4") and ttl < 0:
        yield cluster.Hit((*at, "ttlSecondsAfterFinished"), "kuberay:ttl-needs-shutdown",
                          "ttlSecondsAfterFinished must be a non-negative integer")
    if ctx.since("1.4") and ttl > 0 and not shutdown:
        yield cluster.Hit((*at, "ttlSecondsAfterFinished"), "kuberay:ttl-needs-shutdown",
                          "ttlSecondsAfterFinished has no effect without shutdownAfterJobFinishes: true, and the "
                          "operator rejects it")
    yield from _deletion_policy(spec, at, ctx, shutdown=shutdown, selector=bool(selector), autoscaling=autoscaling)
    yield from _deletion_strategy(spec, at, ctx, shutdown=shutdown, selector=bool(selector), autoscaling=autoscaling)

    if spec.get("suspend") is True and selector:
        yield cluster.Hit((*at, "suspend"), "kuberay:cluster-selector",
                          "a RayJob using clusterSelector cannot be suspended")
    if not selector and not isinstance(cluster_spec, dict):
        yield cluster.Hit(at, "kuberay:cluster-source", "set one of rayClusterSpec or clusterSelector")
    if selector and isinstance(cluster_spec, dict):
        yield cluster.Hit((*at, "rayClusterSpec"), "kuberay:cluster-source",
                          "rayClusterSpec is ignored when clusterSelector is set: the job runs on the selected "
                          "cluster", Severity.WARNING)
    if selector and ctx.since("1.5"):
        if not selector.get("ray.io/cluster"):
            yield cluster.Hit((*at, "clusterSelector"), "kuberay:cluster-selector",
                              'clusterSelector needs a non-empty "ray.io/cluster" (the cluster\'s name)')
        if mode == "SidecarMode":
            yield cluster.Hit((*at, "submissionMode"), "kuberay:cluster-selector",
                              "clusterSelector is not supported with SidecarMode")
    if selector and ctx.since("1.6") and _int(backoff) > 0:
        yield cluster.Hit((*at, "backoffLimit"), "kuberay:cluster-selector",
                          "backoffLimit > 0 is not supported with clusterSelector")
    if mode == "InteractiveMode" and ctx.since("1.4") and _int(backoff) > 0:
        yield cluster.Hit((*at, "backoffLimit"), "kuberay:submission-mode",
                          "backoffLimit > 0 is not supported with InteractiveMode")
    if mode == "SidecarMode" and ctx.since("1.5"):
        for key in ("submitterPodTemplate", "submitterConfig"):
            if spec.get(key) is not None:
                yield cluster.Hit((*at, key), "kuberay:submission-mode", f"SidecarMode does not support {key}")
        if isinstance(cluster_spec, dict):
            policy = _d(_d(_d(cluster_spec.get("headGroupSpec")).get("template")).get("spec")).get("restartPolicy")
            if policy not in (None, "", "Never"):
                yield cluster.Hit((*at, "rayClusterSpec", "headGroupSpec", "template", "spec", "restartPolicy"),
                                  "kuberay:submission-mode",
                                  "the head Pod's restartPolicy must be Never or unset with SidecarMode")
    if isinstance(cluster_spec, dict):
        if ctx.since("1.6") and _d(cluster_spec.get("authOptions")).get("enableK8sTokenAuth") is True:
            yield cluster.Hit((*at, "rayClusterSpec", "authOptions", "enableK8sTokenAuth"), "kuberay:auth",
                              "Kubernetes token auth is not supported for RayJob")
        yield from cluster.check_cluster(cluster_spec, (*at, "rayClusterSpec"), ctx, embedded=True)
    yield from _job_values(spec, at, ctx)


def _job_values(spec: dict[str, Any], at: Path, ctx: cluster.Context) -> Iterator[cluster.Hit]:
    runtime_env = spec.get("runtimeEnvYAML")
    if isinstance(runtime_env, str) and runtime_env.strip():
        problem = _yaml_mapping_problem(runtime_env)
        if problem:
            yield cluster.Hit((*at, "runtimeEnvYAML"), "kuberay:runtime-env-yaml", f"runtimeEnvYAML is {problem}")
    for key, since in (("activeDeadlineSeconds", "1.0"), ("preRunningDeadlineSeconds", "1.6")):
        value = spec.get(key)
        if isinstance(value, int) and value <= 0 and ctx.since(since):
            yield cluster.Hit((*at, key), "kuberay:deadline", f"{key} must be a positive integer")
    if _int(spec.get("backoffLimit")) < 0:
        yield cluster.Hit((*at, "backoffLimit"), "kuberay:backoff-limit", "backoffLimit must not be negative")
    cluster_spec = _d(spec.get("rayClusterSpec"))
    ray_version = cluster_spec.get("rayVersion")
    if spec.get("metadata") and isinstance(ray_version, str) and ray_version:
        parsed_version = syntax.ray_version(ray_version)
        if parsed_version is not None and parsed_version < (2, 6, 0):
            yield cluster.Hit((*at, "metadata"), "kuberay:job-metadata",
                              f"job metadata needs Ray 2.6.0 or later (rayVersion is {ray_version}); "
                              "the submission would fail")


def _closed(spec: dict[str, Any], key: str, allowed: Any, at: Path, ctx: cluster.Context,
            why: str) -> Iterator[cluster.Hit]:
    value = spec.get(key)
    if isinstance(value, str) and value not in allowed:
        suffix = f"; {why}" if why else ""
        yield cluster.Hit((*at, key), "kuberay:enum",
                          f"{key} {value!r} is not one of: {', '.join(allowed)} (KubeRay {ctx.kuberay_version})"
                          f"{suffix}")


def _yaml_mapping_problem(text: str) -> str | None:
    """Why `text` is not a YAML mapping (the operator unmarshals it into a map), or None.
    Composing is enough: it checks the syntax and the root's shape without building values."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as err:
        return f"invalid YAML ({str(err).splitlines()[0]})"
    if node is None or isinstance(node, yaml.MappingNode):
        return None
    return "a YAML list, not a mapping" if isinstance(node, yaml.SequenceNode) else "a YAML scalar, not a mapping"


def _deletion_policy(spec: dict[str, Any], at: Path, ctx: cluster.Context, *, shutdown: bool, selector: bool,
                     autoscaling: bool) -> Iterator[cluster.Hit]:
    policy = spec.get("deletionPolicy")
    if not isinstance(policy, str):
        return
    where = (*at, "deletionPolicy")
    yield from ctx.needs_gate("RayJobDeletionPolicy", where, "deletionPolicy")
    yield from _closed(spec, "deletionPolicy", DELETION_POLICIES, at, ctx, "")
    if selector and policy in ("DeleteCluster", "DeleteWorkers"):
        yield cluster.Hit(where, "kuberay:deletion-policy", f"deletionPolicy {policy} is not supported with "
                          "clusterSelector")
    if policy == "DeleteWorkers" and autoscaling:
        yield cluster.Hit(where, "kuberay:deletion-policy", "deletionPolicy DeleteWorkers does not support "
                          "autoscaling clusters")
    if shutdown and policy == "DeleteNone":
        yield cluster.Hit(where, "kuberay:deletion-policy",
                          "deletionPolicy DeleteNone contradicts shutdownAfterJobFinishes: true")


def _deletion_strategy(spec: dict[str, Any], at: Path, ctx: cluster.Context, *, shutdown: bool, selector: bool,
                       autoscaling: bool) -> Iterator[cluster.Hit]:
    strategy = spec.get("deletionStrategy")
    if not isinstance(strategy, dict):
        return
    where = (*at, "deletionStrategy")
    rule = "kuberay:deletion-strategy"
    yield from ctx.needs_gate("RayJobDeletionPolicy", where, "deletionStrategy")
    legacy = {k: _d(strategy.get(k)) for k in ("onSuccess", "onFailure") if strategy.get(k) is not None}
    rules = [r for r in strategy.get("deletionRules") or () if isinstance(r, dict)]
    if rules and shutdown:
        yield cluster.Hit((*where, "deletionRules"), rule,
                          "deletionRules and shutdownAfterJobFinishes: true are mutually exclusive")
    if rules and legacy:
        yield cluster.Hit(where, rule, "use either onSuccess/onFailure or deletionRules, not both")
        return
    if legacy:
        if len(legacy) < 2:
            yield cluster.Hit(where, rule, "the legacy form needs both onSuccess and onFailure")
            return
        for key, value in legacy.items():
            policy = value.get("policy")
            if policy is None:
                yield cluster.Hit((*where, key), rule, f"{key}.policy must be set")
                continue
            if selector and policy in ("DeleteCluster", "DeleteWorkers"):
                yield cluster.Hit((*where, key, "policy"), rule, f"{policy} is not supported with clusterSelector")
            if policy == "DeleteWorkers" and autoscaling:
                yield cluster.Hit((*where, key, "policy"), rule, "DeleteWorkers does not support autoscaling clusters")
            if shutdown and policy == "DeleteNone":
                yield cluster.Hit((*where, key, "policy"), rule,
                                  "DeleteNone contradicts shutdownAfterJobFinishes: true")
        return
    if not rules:
        yield cluster.Hit(where, rule, "deletionStrategy needs both onSuccess and onFailure, or deletionRules")
        return
    yield from _deletion_rules(rules, (*where, "deletionRules"), selector=selector, autoscaling=autoscaling)


_DELETION_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")


def _deletion_rules(rules: list[dict[str, Any]], at: Path, *, selector: bool,
                    autoscaling: bool) -> Iterator[cluster.Hit]:
    rule_id = "kuberay:deletion-strategy"
    seen: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for i, rule in enumerate(rules):
        condition = _d(rule.get("condition"))
        policy = str(rule.get("policy", ""))
        status = condition.get("jobStatus")
        deployment = condition.get("jobDeploymentStatus")
        if (status is None) == (deployment is None):
            yield cluster.Hit((*at, i, "condition"), rule_id,
                              "set exactly one of condition.jobStatus and condition.jobDeploymentStatus")
            continue
        if _int(condition.get("ttlSeconds")) < 0:
            yield cluster.Hit((*at, i, "condition", "ttlSeconds"), rule_id, "ttlSeconds must be non-negative")
            continue
        if selector and policy in ("DeleteCluster", "DeleteWorkers"):
            yield cluster.Hit((*at, i, "policy"), rule_id, f"{policy} is not supported with clusterSelector")
            continue
        if autoscaling and policy == "DeleteWorkers":
            yield cluster.Hit((*at, i, "policy"), rule_id, "DeleteWorkers is not supported with autoscaling")
            continue
        key = ("jobStatus", str(status)) if status is not None else ("jobDeploymentStatus", str(deployment))
        policies = seen.setdefault(key, {})
        if policy in policies:
            yield cluster.Hit((*at, i), rule_id, f"duplicate rule for {policy} and {key[0]} {key[1]} "
                              f"(first at deletionRules[{policies[policy][1]}])")
            continue
        policies[policy] = (_int(condition.get("ttlSeconds")), i)
    for (what, value), policies in seen.items():
        previous: tuple[str, int] | None = None
        for policy in _DELETION_ORDER:
            if policy not in policies:
                continue
            ttl, index = policies[policy]
            if previous is not None and ttl < previous[1]:
                yield cluster.Hit((*at, index, "condition", "ttlSeconds"), rule_id,
                                  f"for {what} {value}: {policy} TTL ({ttl}) must be >= {previous[0]} TTL "
                                  f"({previous[1]}): workers go first, then the cluster, then the RayJob")
            previous = (policy, ttl)


# --------------------------------------------------------------------------- RayService


def _service(spec: dict[str, Any], ctx: cluster.Context) -> Iterator[cluster.Hit]:
    at: Path = ("spec",)
    config = _d(spec.get("rayClusterConfig"))
    if ctx.since("1.6") and _d(config.get("authOptions")).get("enableK8sTokenAuth") is True:
        yield cluster.Hit((*at, "rayClusterConfig", "authOptions", "enableK8sTokenAuth"), "kuberay:auth",
                          "Kubernetes token auth is not supported for RayService")
    yield from cluster.check_cluster(config, (*at, "rayClusterConfig"), ctx, embedded=True)
    serve = _d(spec.get("serveService"))
    yield from k8s_values.service_spec(_d(serve.get("spec")), (*at, "serveService", "spec"))
    head = _d(config.get("headGroupSpec"))
    if _d(_d(head.get("headService")).get("metadata")).get("name"):
        yield cluster.Hit((*at, "rayClusterConfig", "headGroupSpec", "headService", "metadata", "name"),
                          "kuberay:head-service-name", "headService.metadata.name must not be set in a RayService")
    strategy = _d(spec.get("upgradeStrategy"))
    kind = strategy.get("type")
    valid = ("NewCluster", "None", _INCREMENTAL) if ctx.since("1.5") else ("NewCluster", "None")
    if isinstance(kind, str) and kind not in valid:
        yield cluster.Hit((*at, "upgradeStrategy", "type"), "kuberay:upgrade-strategy",
                          f"upgradeStrategy.type {kind!r} is not one of {', '.join(valid)}")
    delay = spec.get("rayClusterDeletionDelaySeconds")
    if ctx.since("1.5") and isinstance(delay, int) and delay < 0:
        yield cluster.Hit((*at, "rayClusterDeletionDelaySeconds"), "kuberay:deletion-delay",
                          "rayClusterDeletionDelaySeconds must not be negative")
    if kind == _INCREMENTAL and ctx.since("1.5"):
        yield from _incremental(strategy, config, (*at, "upgradeStrategy"), ctx)
    yield from _initializing_timeout(ctx)
    yield from _serve_port(spec, head, ctx)


def _incremental(strategy: dict[str, Any], config: dict[str, Any], at: Path,
                 ctx: cluster.Context) -> Iterator[cluster.Hit]:
    gate_hits = list(ctx.needs_gate("RayServiceIncrementalUpgrade", (*at, "type"), _INCREMENTAL))
    yield from gate_hits
    if gate_hits:
        return  # with the gate off the operator does not look at the options
    rule = "kuberay:upgrade-strategy"
    if config.get("enableInTreeAutoscaling") is not True:
        yield cluster.Hit((*at, "type"), rule, f"{_INCREMENTAL} needs the Ray autoscaler (enableInTreeAutoscaling)")
    options = strategy.get("clusterUpgradeOptions")
    if not isinstance(options, dict):
        yield cluster.Hit(at, rule, f"{_INCREMENTAL} needs clusterUpgradeOptions")
        return
    where = (*at, "clusterUpgradeOptions")
    surge = _int(options.get("maxSurgePercent"), 100)
    step = options.get("stepSizePercent")
    if not 0 <= surge <= 100:
        yield cluster.Hit((*where, "maxSurgePercent"), rule, "maxSurgePercent must be between 0 and 100")
    if not isinstance(step, int) or not 0 <= step <= 100:
        yield cluster.Hit((*where, "stepSizePercent"), rule, "stepSizePercent must be between 0 and 100")
    elif ctx.since("1.7") and step > surge:
        yield cluster.Hit((*where, "stepSizePercent"), rule, "stepSizePercent must be <= maxSurgePercent")
    interval = options.get("intervalSeconds")
    if not isinstance(interval, int) or interval <= 0:
        yield cluster.Hit((*where, "intervalSeconds"), rule, "intervalSeconds must be greater than 0")
    if not options.get("gatewayClassName"):
        yield cluster.Hit((*where, "gatewayClassName"), rule, f"gatewayClassName is required for {_INCREMENTAL}")


def _initializing_timeout(ctx: cluster.Context) -> Iterator[cluster.Hit]:
    key = "ray.io/initializing-timeout"
    value = ctx.annotations.get(key)
    if not ctx.since("1.5") or not isinstance(value, str) or not value:
        return
    seconds = syntax.go_duration(value)
    if seconds is None and value.lstrip("+-").isdigit():
        seconds = float(int(value))
    if seconds is None or seconds <= 0:
        yield cluster.Hit(("metadata", "annotations", key), "kuberay:initializing-timeout",
                          f"{key} must be a positive Go duration (5m, 1h) or integer seconds, not {value!r}")


def _serve_port(spec: dict[str, Any], head: dict[str, Any], ctx: cluster.Context) -> Iterator[cluster.Hit]:
    if spec.get("serveService") is not None:
        return
    containers = _d(_d(head.get("template")).get("spec")).get("containers") or []
    ports = _d(containers[0]).get("ports") if containers else None
    if not isinstance(ports, list) or not ports:
        return  # no declared ports: the operator adds its defaults, serve included
    names = [str(_d(p).get("name", "")) for p in ports]
    if not any(n == "serve" or n.startswith("serve-") for n in names):
        yield cluster.Hit(("spec", "rayClusterConfig", "headGroupSpec", "template", "spec", "containers", 0, "ports"),
                          "kuberay:serve-port",
                          "the head container declares ports but none is named serve (or serve-*): the operator "
                          "will not create the serve Service", Severity.WARNING)


# --------------------------------------------------------------------------- RayCronJob


def _cronjob(spec: dict[str, Any], ctx: cluster.Context) -> Iterator[cluster.Hit]:
    at: Path = ("spec",)
    yield from ctx.needs_gate("RayCronJob", ("kind",), "RayCronJob")
    # from v1.7.0 ValidateRayCronJobSpec also checks the name (kuberay_names.metadata)
    schedule = spec.get("schedule")
    if isinstance(schedule, str):
        if ctx.since("1.7") and "TZ" in schedule:
            yield cluster.Hit((*at, "schedule"), "kuberay:cron-schedule",
                              "TZ/CRON_TZ cannot be used in schedule; set timeZone instead")
        else:
            problem = syntax.cron_schedule(schedule)
            if problem:
                yield cluster.Hit((*at, "schedule"), "kuberay:cron-schedule", f"invalid cron schedule: {problem}")
    zone = spec.get("timeZone")
    if isinstance(zone, str) and ctx.since("1.7"):
        problem = syntax.time_zone(zone) if zone else "must not be empty (omit it for the operator's zone)"
        if problem:
            yield cluster.Hit((*at, "timeZone"), "kuberay:time-zone", f"timeZone {zone!r}: {problem}")
    template = spec.get("jobTemplate")
    if isinstance(template, dict):
        yield from _job(template, (*at, "jobTemplate"), ctx)
