"""What gitops-ray knows about KubeRay that a generic GitOps tool does not, as data.

Each rule cites ../shared/docs/kuberay-facts.md (section numbers below) so it
can be checked against the operator's behaviour when KubeRay changes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitops_ray.changes import FieldChange

RAY_GROUP = "ray.io"

# Apply order within a wave (anchors.md §C: ordering as data). Namespaces first,
# then RBAC, then what pods mount, then the Ray objects that use them.
KIND_RANK: dict[str, int] = {
    "Namespace": 0,
    "CustomResourceDefinition": 0,
    "PriorityClass": 1,
    "ServiceAccount": 1,
    "ClusterRole": 1,
    "ClusterRoleBinding": 1,
    "Role": 1,
    "RoleBinding": 1,
    "ResourceQuota": 1,
    "LimitRange": 1,
    "ConfigMap": 2,
    "Secret": 2,
    "PersistentVolumeClaim": 2,
    "Service": 3,
    "NetworkPolicy": 3,
    "RayCluster": 5,
    "RayService": 6,
    "RayJob": 7,
    "RayCronJob": 8,
}
UNKNOWN_KIND_RANK = 4

# §2.1: fields the RayJob controller reads on every reconcile; changing them is a
# plain update. Everything else in spec is baked in at submission: a re-run.
RAYJOB_LIVE_FIELDS = frozenset({
    "suspend", "activeDeadlineSeconds", "preRunningDeadlineSeconds", "backoffLimit",
    "shutdownAfterJobFinishes", "ttlSecondsAfterFinished", "deletionStrategy",
})

# §4.2: a RayJob in these states no longer runs anything; replacing it loses nothing
# that the record has not kept.
RAYJOB_SAFE_TO_REPLACE = frozenset({"Complete", "Failed", "ValidationFailed", "Suspended"})
RAYJOB_TERMINAL = frozenset({"Complete", "Failed"})

KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def rank(kind: str) -> int:
    return KIND_RANK.get(kind, UNKNOWN_KIND_RANK)


def wave_of(body: dict[str, Any]) -> int:
    value = ((body.get("metadata") or {}).get("annotations") or {}).get("gitops-ray.io/wave", "0")
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------- owned fields


def owned_by_others(body: dict[str, Any]) -> list[tuple[str, ...]]:
    """Pointer patterns another actor owns on this object: not drift, and carried on apply.

    §3: with `enableInTreeAutoscaling` the Ray autoscaler owns worker replicas and
    `workersToDelete`; Kueue toggles `suspend` on objects it queues.
    """
    kind = body.get("kind")
    spec = body.get("spec") or {}
    labels = (body.get("metadata") or {}).get("labels") or {}
    patterns: list[tuple[str, ...]] = []
    if kind == "RayCluster" and spec.get("enableInTreeAutoscaling"):
        patterns += [
            ("spec", "workerGroupSpecs", "*", "replicas"),
            ("spec", "workerGroupSpecs", "*", "scaleStrategy", "workersToDelete"),
        ]
    if kind in ("RayJob", "RayCluster", "RayService") and KUEUE_QUEUE_LABEL in labels:
        patterns.append(("spec", "suspend"))
    return patterns


def carry_autoscaler_replicas(desired: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """Copy the autoscaler's replicas/workersToDelete into the object to apply, matching
    worker groups by name (Git may reorder or add groups). `workerGroupSpecs` is an
    atomic list (§1.3): omitting `replicas` would reset it to the schema default 0."""
    spec = desired.get("spec") or {}
    if desired.get("kind") != "RayCluster" or not spec.get("enableInTreeAutoscaling") or live is None:
        return desired
    live_groups = {g.get("groupName"): g for g in (live.get("spec") or {}).get("workerGroupSpecs") or ()}
    out = copy.deepcopy(desired)
    for group in out["spec"].get("workerGroupSpecs") or ():
        current = live_groups.get(group.get("groupName"))
        if current is None:
            continue
        if "replicas" in current:
            group["replicas"] = current["replicas"]
        deleting = (current.get("scaleStrategy") or {}).get("workersToDelete")
        if deleting:
            group.setdefault("scaleStrategy", {})["workersToDelete"] = copy.deepcopy(deleting)
    return out


# --------------------------------------------------------------------------- RayJob


@dataclass(frozen=True, slots=True)
class JobState:
    deployment: str
    job: str

    @property
    def label(self) -> str:
        parts = [self.deployment or "New"]
        if self.job:
            parts.append(self.job)
        return "/".join(parts)


def job_state(live: dict[str, Any]) -> JobState:
    status = live.get("status") or {}
    return JobState(str(status.get("jobDeploymentStatus") or ""), str(status.get("jobStatus") or ""))


def rayjob_needs_replace(diff: Sequence[FieldChange]) -> bool:
    """A change to any spec field the controller does not read live means a re-run."""
    for change in diff:
        parts = change.path.split("/")
        if len(parts) >= 2 and parts[1] == "spec" and (len(parts) == 2 or parts[2] not in RAYJOB_LIVE_FIELDS):
            return True
    return False


def rayjob_self_deletes(body: dict[str, Any], operator_env: dict[str, str] | None) -> bool:
    """Whether a finished RayJob deletes its own CR (§6.1): DeleteSelf rules, or the
    operator's DELETE_RAYJOB_CR_AFTER_JOB_FINISHES with shutdownAfterJobFinishes."""
    spec = body.get("spec") or {}
    strategy = spec.get("deletionStrategy") or {}
    for rule in strategy.get("deletionRules") or ():
        if rule.get("policy") == "DeleteSelf":
            return True
    for key in ("onSuccess", "onFailure"):
        if (strategy.get(key) or {}).get("policy") == "DeleteSelf":
            return True
    env = operator_env or {}
    return bool(spec.get("shutdownAfterJobFinishes")) and env.get("DELETE_RAYJOB_CR_AFTER_JOB_FINISHES") == "true"


# --------------------------------------------------------------------------- RayCluster


_TEMPLATE_MARKERS = ("/template", "/rayStartParams")


def raycluster_warnings(diff: Sequence[FieldChange], desired: dict[str, Any], prefix: str = "/spec") -> list[str]:
    """§2.2: pods are never updated in place; the head Service is create-only."""
    spec = desired.get("spec") or {}
    if prefix != "/spec":
        for part in prefix.split("/")[2:]:
            spec = spec.get(part) or {}
    paths = [c.path for c in diff if c.path.startswith(prefix + "/")]
    warnings: list[str] = []
    template_changed = any(
        any(m in p for m in _TEMPLATE_MARKERS) or p.startswith(prefix + "/rayVersion")
        or p.startswith(prefix + "/autoscalerOptions") for p in paths
    )
    if template_changed and prefix == "/spec":
        if (spec.get("upgradeStrategy") or {}).get("type") == "Recreate":
            warnings.append("upgradeStrategy Recreate: the operator deletes and recreates every pod of this cluster")
        else:
            warnings.append(
                "pod template/rayVersion change: running pods keep the old template; only new pods (scale-up, "
                "replacements) use it. Set spec.upgradeStrategy.type: Recreate to roll all pods"
            )
    head_service = (prefix + "/headGroupSpec/serviceType", prefix + "/headGroupSpec/headService",
                    prefix + "/headServiceAnnotations")
    if any(p.startswith(head_service) for p in paths):
        warnings.append("head Service type/annotations change: the operator ignores it until the head Service is "
                        "deleted and re-created")
    removed_groups = [c for c in diff if c.op == "remove" and c.path.startswith(prefix + "/workerGroupSpecs/")
                      and c.path.count("/") == prefix.count("/") + 2]
    if removed_groups:
        warnings.append("a worker group is removed: the operator does not delete its pods (kuberay#1739)")
    return warnings


# --------------------------------------------------------------------------- RayService

# §2.3: fields the RayService controller leaves out of its cluster hash.
_HASH_EXCLUDED = frozenset({"replicas", "minReplicas", "maxReplicas", "workersToDelete", "tolerations",
                            "schedulingGates", "upgradeStrategy", "suspend"})


def rayservice_effect(diff: Sequence[FieldChange], desired: dict[str, Any], live: dict[str, Any]) -> tuple[str, str]:
    """(strategy, sentence) for a RayService change, as the controller will act on it."""
    spec = desired.get("spec") or {}
    cluster_paths = [c for c in diff if c.path.startswith("/spec/rayClusterConfig")]
    serve_changed = any(c.path.startswith("/spec/serveConfigV2") for c in diff)
    other = [c for c in diff if c.path.startswith("/spec") and not c.path.startswith(
        ("/spec/rayClusterConfig", "/spec/serveConfigV2"))]
    hashed = [c for c in cluster_paths if not (set(c.path.split("/")) & _HASH_EXCLUDED)]
    strategy = (spec.get("upgradeStrategy") or {}).get("type") or "NewCluster"
    if not hashed:
        if serve_changed:
            return "serve-config", "in-place Serve config update: the operator re-submits serveConfigV2; no new cluster"
        if cluster_paths:
            return "no-effect", ("no effect on the running cluster: the operator does not propagate replica bounds "
                                 "(rayClusterConfig replicas/min/max) to an existing RayCluster")
        if other:
            return "update", "RayService settings update"
        return "metadata", "metadata-only update"
    if strategy == "None":
        return "no-effect", ("no effect: upgradeStrategy None ignores cluster changes; delete and re-create the "
                             "RayService to apply them")
    if _only_appended_groups(desired, live):
        return "in-place", "in-place cluster update: worker groups appended to the existing RayCluster"
    if strategy == "NewClusterWithIncrementalUpgrade":
        return "incremental", ("incremental zero-downtime upgrade: a new RayCluster takes traffic step by step "
                               "through the Gateway")
    suffix = " and re-submits serveConfigV2 to it" if serve_changed else ""
    return "new-cluster", ("zero-downtime upgrade: the operator creates a new RayCluster" + suffix +
                           ", switches traffic when it is ready, then deletes the old one (needs ~2x capacity)")


def _strip_excluded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_excluded(v) for k, v in value.items() if k not in _HASH_EXCLUDED}
    if isinstance(value, list):
        return [_strip_excluded(v) for v in value]
    return value


def _only_appended_groups(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    want = _strip_excluded((desired.get("spec") or {}).get("rayClusterConfig") or {})
    have = _strip_excluded((live.get("spec") or {}).get("rayClusterConfig") or {})
    want_groups = want.pop("workerGroupSpecs", []) or []
    have_groups = have.pop("workerGroupSpecs", []) or []
    if len(want_groups) <= len(have_groups):
        return False
    from gitops_ray.engine.diff import project

    if project(have, want) != want:
        return False
    return all(project(h, w) == w for h, w in zip(have_groups, want_groups, strict=False))
