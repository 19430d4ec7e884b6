"""The KubeRay controllers' own spec checks (utils/validation.go at v1.7.0), worded as the operator words them.

Only a subset is re-stated: the rules a GitOps user is likely to trip over
(kuberay-facts.md §5). Each function returns the first error message, or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from gitops_ray.sandbox._raycommon import A_FT_ENABLED, dns1035_errors, go_list, int_or
from gitops_ray.sandbox._rayspec import autoscaling, head_container

MAX_CLUSTER_NAME = 53
MAX_JOB_NAME = MAX_SERVICE_NAME = MAX_CLUSTER_NAME - 6
MAX_CRONJOB_NAME = MAX_JOB_NAME - 11

Gate = Callable[[str], bool]
_START_RESOURCES = ("num-cpus", "num-gpus", "memory", "resources")


def _env_value(container: Mapping[str, Any], name: str) -> str | None:
    for var in container.get("env") or ():
        if var.get("name") == name:
            return str(var.get("value") or "")
    return None


def _pod_spec(group: Mapping[str, Any]) -> Mapping[str, Any]:
    return (group.get("template") or {}).get("spec") or {}


def _group_checks(name: str, group: Mapping[str, Any]) -> str | None:
    params = group.get("rayStartParams") or {}
    if any(params.get(k) for k in _START_RESOURCES) and group.get("resources"):
        return (f"resource fields should not be set in both rayStartParams and Resources for {name} group; "
                "please use only one")
    if "labels" in params:
        return (f"rayStartParams['labels'] is not supported for {name} group; please use the top-level Labels "
                "field instead")
    return None


def _version_below(version: str, floor: tuple[int, ...]) -> bool | None:
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    found = tuple(int(p or 0) for p in match.groups())
    return found < floor


def cluster_metadata(meta: Mapping[str, Any]) -> str | None:
    name = str(meta.get("name") or "")
    if len(name) > MAX_CLUSTER_NAME:
        return f"RayCluster name should be no more than {MAX_CLUSTER_NAME} characters"
    if errors := dns1035_errors(name):
        return f"RayCluster name should be a valid DNS1035 label: {go_list(errors)}"
    return None


def cluster_spec(spec: Mapping[str, Any], annotations: Mapping[str, Any], gate: Gate) -> str | None:
    """`ValidateRayClusterSpec` (rules 1-3, 6 partly, 8, 9, 11-14 of kuberay-facts.md §5)."""
    head = spec.get("headGroupSpec") or {}
    if not _pod_spec(head).get("containers"):
        return "headGroupSpec should have at least one container"
    if error := _group_checks("Head", head):
        return error
    scaling = autoscaling(spec)
    for group in spec.get("workerGroupSpecs") or ():
        name = group.get("groupName", "")
        if not _pod_spec(group).get("containers"):
            return "workerGroupSpec should have at least one container"
        low, high = group.get("minReplicas"), group.get("maxReplicas")
        if not scaling and (low is None or high is None):
            return f"worker group {name} must set both minReplicas and maxReplicas when autoscaling is disabled"
        if int_or(low, 0) < 0:
            return f"worker group {name} has negative minReplicas {low}"
        if int_or(high, 0) < 0:
            return f"worker group {name} has negative maxReplicas {high}"
        if low is not None and high is not None and int_or(low, 0) > int_or(high, 0):
            return f"worker group {name} has minReplicas {low} greater than maxReplicas {high}"
        if error := _group_checks(name, group):
            return error
    if annotations.get(A_FT_ENABLED) and spec.get("gcsFaultToleranceOptions") is not None:
        return (f"{A_FT_ENABLED} annotation and GcsFaultToleranceOptions are both set. "
                "Please use only GcsFaultToleranceOptions to configure GCS fault tolerance")
    container = head_container(spec)
    suspended = [g.get("groupName", "") for g in spec.get("workerGroupSpecs") or () if g.get("suspend") is True]
    if suspended and not gate("RayJobDeletionPolicy"):
        return (f"worker group {suspended[0]} can be suspended only when the RayJobDeletionPolicy feature gate is "
                "enabled")
    v2_env = _env_value(container, "RAY_enable_autoscaler_v2")
    if not scaling and v2_env in ("1", "true"):
        return (f"environment variable RAY_enable_autoscaler_v2 cannot be set to '{v2_env}' when "
                "enableInTreeAutoscaling is false. Please set enableInTreeAutoscaling: true to use autoscaler v2")
    if scaling and suspended:
        return f"worker group {suspended[0]} cannot be suspended with Autoscaler enabled"
    if scaling and (spec.get("autoscalerOptions") or {}).get("version") is not None and v2_env is not None:
        return ("both .spec.autoscalerOptions.version and head Pod env var RAY_enable_autoscaler_v2 are set, "
                "please only use the former")
    if spec.get("historyServerOptions") is not None and not gate("RayClusterHistoryServer"):
        return "RayClusterHistoryServer feature gate is not enabled"
    auth = spec.get("authOptions") or {}
    if auth.get("mode") == "token":
        version = str(spec.get("rayVersion") or "")
        if not version:
            return ("authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 or later is "
                    "required")
        if _version_below(version, (2, 52, 0)):
            return f"authOptions.mode is 'token' but minimum Ray version is 2.52.0, got {version}"
    if spec.get("networkPolicy") is not None and not gate("RayClusterNetworkPolicy"):
        return "spec.networkPolicy requires the RayClusterNetworkPolicy feature gate to be enabled"
    if spec.get("tlsOptions") is not None and not gate("RayClusterMTLS"):
        return "spec.tlsOptions requires the RayClusterMTLS feature gate to be enabled"
    gcs = spec.get("gcsFaultToleranceOptions") or {}
    if gcs.get("backend") == "rocksdb" and not gate("GCSFaultToleranceEmbeddedStorage"):
        return ("the embedded RocksDB GCS fault tolerance backend (GcsFaultToleranceOptions.Backend: 'rocksdb') "
                "requires the GCSFaultToleranceEmbeddedStorage feature gate to be enabled")
    return None


def cluster_upgrade_options(cluster: Mapping[str, Any]) -> str | None:
    """`ValidateRayClusterUpgradeOptions`: Recreate/None, and only on clusters users create themselves."""
    kind = ((cluster.get("spec") or {}).get("upgradeStrategy") or {}).get("type")
    if kind is None:
        return None
    if kind not in ("Recreate", "None"):
        return (f"The RayCluster spec is invalid: Spec.UpgradeStrategy.Type value {kind} is invalid, "
                "valid options are Recreate or None")
    creator = ((cluster.get("metadata") or {}).get("labels") or {}).get("ray.io/originated-from-crd")
    if creator in ("RayJob", "RayService"):
        return f"upgradeStrategy cannot be set when RayCluster is created by {creator}"
    return None


def _deletion(spec: Mapping[str, Any], gate: Gate) -> str | None:
    """`validateDeletionConfiguration` (the rule-by-rule TTL and duplicate checks are not re-stated)."""
    shutdown = spec.get("shutdownAfterJobFinishes") is True
    if not shutdown and int_or(spec.get("ttlSecondsAfterFinished"), 0) > 0:
        return ("The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false cannot have "
                "TTLSecondsAfterFinished")
    strategy = spec.get("deletionStrategy")
    if strategy is None:
        return None
    if not gate("RayJobDeletionPolicy"):
        return "RayJobDeletionPolicy feature gate must be enabled to use DeletionStrategy"
    legacy = strategy.get("onSuccess") is not None or strategy.get("onFailure") is not None
    rules = bool(strategy.get("deletionRules"))
    if rules and shutdown:
        return ("The RayJob spec is invalid: spec.shutdownAfterJobFinishes and spec.deletionStrategy.deletionRules "
                "are mutually exclusive")
    if rules and legacy:
        return ("The RayJob spec is invalid: Cannot use both legacy onSuccess/onFailure fields and deletionRules "
                "simultaneously")
    if legacy:
        if strategy.get("onSuccess") is None or strategy.get("onFailure") is None:
            return ("both DeletionStrategy.OnSuccess and DeletionStrategy.OnFailure must be set when using the "
                    "legacy deletion policy fields of DeletionStrategy")
        return None
    if not rules:
        return ("The RayJob spec is invalid: DeletionStrategy requires either BOTH onSuccess and onFailure, OR the "
                "deletionRules field (cannot be empty)")
    return _deletion_rules(spec, strategy.get("deletionRules") or [])


_TTL_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")


def _deletion_rules(spec: Mapping[str, Any], rules: list[dict[str, Any]]) -> str | None:
    """`validateDeletionRules`: every problem, joined by newlines as `errors.Join` prints them."""
    errors: list[str] = []
    selector = bool(spec.get("clusterSelector"))
    seen: dict[tuple[str, str], dict[str, int]] = {}
    for i, rule in enumerate(rules):
        policy, condition = str(rule.get("policy")), rule.get("condition") or {}
        has_job, has_deployment = condition.get("jobStatus") is not None, condition.get(
            "jobDeploymentStatus") is not None
        if has_job and has_deployment:
            errors.append(f"deletionRules[{i}]: cannot set both JobStatus and JobDeploymentStatus at the same time")
            continue
        if not has_job and not has_deployment:
            errors.append(f"deletionRules[{i}]: exactly one of JobStatus and JobDeploymentStatus must be set")
            continue
        ttl = int_or(condition.get("ttlSeconds"), 0)
        if ttl < 0:
            errors.append(f"deletionRules[{i}]: TTLSeconds must be non-negative")
            continue
        if selector and policy in ("DeleteCluster", "DeleteWorkers"):
            errors.append(f"deletionRules[{i}]: DeletionPolicyType '{policy}' not supported when ClusterSelector "
                          "is set")
            continue
        if autoscaling(spec.get("rayClusterSpec")) and policy == "DeleteWorkers":
            errors.append(f"deletionRules[{i}]: DeletionPolicyType 'DeleteWorkers' not supported with autoscaling "
                          "enabled")
            continue
        kind = ("JobStatus", str(condition["jobStatus"])) if has_job else (
            "JobDeploymentStatus", str(condition["jobDeploymentStatus"]))
        policies = seen.setdefault(kind, {})
        if policy in policies:
            errors.append(f"deletionRules[{i}]: duplicate rule for DeletionPolicyType '{policy}' and {kind[0]} "
                          f"'{kind[1]}'")
            continue
        policies[policy] = ttl
    for (field, value), ttls in seen.items():
        previous: tuple[str, int] | None = None
        for policy in _TTL_ORDER:
            if policy not in ttls:
                continue
            if previous is not None and ttls[policy] < previous[1]:
                errors.append(f"for {field} '{value}': {policy} TTL ({ttls[policy]}) must be >= {previous[0]} TTL "
                              f"({previous[1]})")
            previous = (policy, ttls[policy])
    return "\n".join(errors) or None


def rayjob(job: Mapping[str, Any], gate: Gate) -> str | None:
    """`ValidateRayJobMetadata`, `ValidateRayJobSpec` and `ValidateRayJobStatus`, in that order."""
    meta, spec, status = job.get("metadata") or {}, job.get("spec") or {}, job.get("status") or {}
    name = str(meta.get("name") or "")
    if len(name) > MAX_JOB_NAME:
        return f"The RayJob metadata is invalid: RayJob name should be no more than {MAX_JOB_NAME} characters"
    if errors := dns1035_errors(name):
        return f"The RayJob metadata is invalid: RayJob name should be a valid DNS1035 label: {go_list(errors)}"
    suspend, selector = spec.get("suspend") is True, spec.get("clusterSelector") or {}
    mode = spec.get("submissionMode") or "K8sJobMode"
    backoff = spec.get("backoffLimit")
    if suspend and spec.get("shutdownAfterJobFinishes") is not True:
        return ("The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false is not allowed to "
                "be suspended")
    if int_or(spec.get("ttlSecondsAfterFinished"), 0) < 0:
        return "The RayJob spec is invalid: TTLSecondsAfterFinished must be a non-negative integer"
    if error := _deletion(spec, gate):
        return error
    if suspend and selector:
        return "The RayJob spec is invalid: the ClusterSelector mode doesn't support the suspend operation"
    cluster_spec_ = spec.get("rayClusterSpec")
    if cluster_spec_ is None and not selector:
        return "The RayJob spec is invalid: one of RayClusterSpec or ClusterSelector must be set"
    if selector:
        if not selector.get("ray.io/cluster"):
            return "cluster name in ClusterSelector should not be empty"
        if mode == "SidecarMode":
            return "ClusterSelector is not supported in SidecarMode"
        if int_or(backoff, 0) > 0:
            return "The RayJob spec is invalid: BackoffLimit is incompatible with ClusterSelector mode"
    if mode == "InteractiveMode" and int_or(backoff, 0) > 0:
        return "The RayJob spec is invalid: BackoffLimit is incompatible with InteractiveMode"
    if mode == "SidecarMode":
        if spec.get("submitterPodTemplate") is not None:
            return "Currently, SidecarMode doesn't support SubmitterPodTemplate"
        if spec.get("submitterConfig") is not None:
            return "Currently, SidecarMode doesn't support SubmitterConfig"
    if cluster_spec_ is not None and (error := cluster_spec(cluster_spec_, meta.get("annotations") or {}, gate)):
        return f"The RayJob spec is invalid: {error}"
    runtime_env = spec.get("runtimeEnvYAML") or ""
    try:
        loaded = yaml.safe_load(runtime_env)
    except yaml.YAMLError as exc:
        return f"failed to unmarshal RuntimeEnvYAML: {runtime_env}: {exc}"
    if loaded is not None and not isinstance(loaded, dict):
        return f"failed to unmarshal RuntimeEnvYAML: {runtime_env}: cannot unmarshal {type(loaded).__name__} into a map"
    if spec.get("activeDeadlineSeconds") is not None and int_or(spec.get("activeDeadlineSeconds"), 0) <= 0:
        return "The RayJob spec is invalid: activeDeadlineSeconds must be a positive integer"
    if spec.get("preRunningDeadlineSeconds") is not None and int_or(spec.get("preRunningDeadlineSeconds"), 0) <= 0:
        return "The RayJob spec is invalid: preRunningDeadlineSeconds must be a positive integer"
    if backoff is not None and int_or(backoff, 0) < 0:
        return "The RayJob spec is invalid: backoffLimit must be a positive integer"
    if status.get("jobDeploymentStatus") == "Waiting" and mode != "InteractiveMode":
        return ("The RayJob status is invalid: JobDeploymentStatus cannot be `Waiting` when SubmissionMode is not "
                "InteractiveMode")
    return None


def rayservice(svc: Mapping[str, Any], gate: Gate) -> str | None:
    """`ValidateRayServiceMetadata` and `ValidateRayServiceSpec`."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    name = str(meta.get("name") or "")
    if len(name) > MAX_SERVICE_NAME:
        return (f"The RayService metadata is invalid: RayService name should be no more than {MAX_SERVICE_NAME} "
                "characters")
    if errors := dns1035_errors(name):
        return f"The RayService metadata is invalid: RayService name should be a valid DNS1035 label: {go_list(errors)}"
    config = spec.get("rayClusterConfig") or {}
    if error := cluster_spec(config, meta.get("annotations") or {}, gate):
        return f"The RayService spec is invalid: {error}"
    custom = (config.get("headGroupSpec") or {}).get("headService") or {}
    if (custom.get("metadata") or {}).get("name"):
        return ("The RayService spec is invalid: spec.rayClusterConfig.headGroupSpec.headService.metadata.name "
                "should not be set")
    kind = (spec.get("upgradeStrategy") or {}).get("type")
    if kind is not None and kind not in ("None", "NewCluster", "NewClusterWithIncrementalUpgrade"):
        return (f"The RayService spec is invalid: Spec.UpgradeStrategy.Type value {kind} is invalid, valid options "
                "are NewClusterWithIncrementalUpgrade, NewCluster, or None")
    delay = spec.get("rayClusterDeletionDelaySeconds")
    if delay is not None and int_or(delay, 0) < 0:
        return ("The RayService spec is invalid: Spec.RayClusterDeletionDelaySeconds should be a non-negative "
                f"integer, got {delay}")
    if kind == "NewClusterWithIncrementalUpgrade" and not autoscaling(config):
        return "The RayService spec is invalid: Ray Autoscaler is required for NewClusterWithIncrementalUpgrade"
    return None
