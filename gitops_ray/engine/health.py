"""Ray status -> healthy / progressing / degraded / suspended, per kind (a registry).

Argo CD ships no health check for any ray.io kind, and generic kstatus sees a
RayCluster as "Current" as soon as its generation is observed (anchors.md B1.6).
These follow kuberay-facts.md §4: RayCluster by its conditions (`state: ready`
is sticky and not enough), RayService by `Ready`/`UpgradeInProgress`, RayJob by
`jobDeploymentStatus`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Health(StrEnum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    DEGRADED = "degraded"  # failed: stop and report
    SUSPENDED = "suspended"
    MISSING = "missing"

    @property
    def settled(self) -> bool:
        return self in (Health.HEALTHY, Health.SUSPENDED, Health.DEGRADED)


@dataclass(frozen=True, slots=True)
class HealthStatus:
    health: Health
    message: str = ""


def _conditions(obj: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    status = obj.get("status") or {}
    return {c.get("type", ""): c for c in status.get("conditions") or () if isinstance(c, dict)}


def _true(cond: dict[str, Any] | None) -> bool:
    return bool(cond) and cond is not None and cond.get("status") == "True"


def raycluster_health(obj: Mapping[str, Any], wait_jobs: bool) -> HealthStatus:
    conds = _conditions(obj)
    if _true(conds.get("RayClusterSuspended")):
        return HealthStatus(Health.SUSPENDED, "suspended")
    failure = conds.get("ReplicaFailure")
    if _true(failure):
        assert failure is not None
        return HealthStatus(Health.DEGRADED, f"ReplicaFailure: {failure.get('reason', '')} {failure.get('message', '')}"
                            .strip())
    head, provisioned = conds.get("HeadPodReady"), conds.get("RayClusterProvisioned")
    if _true(head) and _true(provisioned):
        return HealthStatus(Health.HEALTHY, "head pod ready, all pods provisioned")
    waiting = [name for name, cond in (("HeadPodReady", head), ("RayClusterProvisioned", provisioned))
               if not _true(cond)]
    return HealthStatus(Health.PROGRESSING, "waiting for " + ", ".join(waiting))


def rayservice_health(obj: Mapping[str, Any], wait_jobs: bool) -> HealthStatus:
    conds = _conditions(obj)
    if _true(conds.get("Suspended")):
        return HealthStatus(Health.SUSPENDED, "suspended")
    ready = conds.get("Ready") or {}
    reason = str(ready.get("reason", ""))
    if ready.get("status") == "False" and reason in ("ValidationFailed", "InitializingTimeout"):
        return HealthStatus(Health.DEGRADED, f"{reason}: {ready.get('message', '')}".strip())
    for app, app_status in ((obj.get("status") or {}).get("activeServiceStatus") or {}).get(
            "applicationStatuses", {}).items():
        if app_status.get("status") in ("DEPLOY_FAILED", "UNHEALTHY"):
            return HealthStatus(Health.DEGRADED, f"Serve application {app} is {app_status.get('status')}")
    if _true(ready) and not _true(conds.get("UpgradeInProgress")):
        return HealthStatus(Health.HEALTHY, "Ready")
    if _true(conds.get("UpgradeInProgress")):
        return HealthStatus(Health.PROGRESSING, "upgrade in progress")
    return HealthStatus(Health.PROGRESSING, f"not ready ({reason or 'no Ready condition yet'})")


def rayjob_health(obj: Mapping[str, Any], wait_jobs: bool) -> HealthStatus:
    status = obj.get("status") or {}
    deployment = str(status.get("jobDeploymentStatus") or "")
    job = str(status.get("jobStatus") or "")
    message = str(status.get("message") or status.get("reason") or "")
    label = "/".join(p for p in (deployment or "New", job) if p)
    if deployment == "ValidationFailed":
        return HealthStatus(Health.DEGRADED, f"ValidationFailed: {message}")
    if deployment == "Failed":
        return HealthStatus(Health.DEGRADED, f"job failed ({label}): {message}".rstrip(": "))
    if deployment == "Complete":
        return HealthStatus(Health.HEALTHY, f"job finished ({label})")
    if deployment in ("Suspended", "Suspending"):
        return HealthStatus(Health.SUSPENDED, deployment)
    if deployment in ("", "Initializing", "Retrying") or (wait_jobs and deployment in ("Running", "Waiting")):
        return HealthStatus(Health.PROGRESSING, label)
    return HealthStatus(Health.HEALTHY, f"job submitted ({label})")


def namespace_health(obj: Mapping[str, Any], wait_jobs: bool) -> HealthStatus:
    phase = (obj.get("status") or {}).get("phase", "Active")
    if phase == "Terminating":
        return HealthStatus(Health.PROGRESSING, "Terminating")
    return HealthStatus(Health.HEALTHY, str(phase))


HealthCheck = Callable[[Mapping[str, Any], bool], HealthStatus]

CHECKS: dict[tuple[str, str], HealthCheck] = {
    ("ray.io", "RayCluster"): raycluster_health,
    ("ray.io", "RayService"): rayservice_health,
    ("ray.io", "RayJob"): rayjob_health,
    ("", "Namespace"): namespace_health,
}


def health_of(obj: Mapping[str, Any] | None, group: str, kind: str, *, wait_jobs: bool = False) -> HealthStatus:
    if obj is None:
        return HealthStatus(Health.MISSING, "not found")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return HealthStatus(Health.PROGRESSING, "being deleted")
    check = CHECKS.get((group, kind))
    if check is None:
        return HealthStatus(Health.HEALTHY, "exists")
    return check(obj, wait_jobs)


def needs_wait(group: str, kind: str) -> bool:
    return (group, kind) in CHECKS
