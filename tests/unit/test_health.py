from __future__ import annotations

import pytest

from gitops_ray.engine.health import Health, health_of


def cond(type_, status="True", reason=""):
    return {"type": type_, "status": status, "reason": reason}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"state": "ready"}, Health.PROGRESSING),  # `state: ready` alone is sticky and not enough
        ({"conditions": [cond("HeadPodReady"), cond("RayClusterProvisioned")]}, Health.HEALTHY),
        ({"conditions": [cond("HeadPodReady", "False"), cond("RayClusterProvisioned")]}, Health.PROGRESSING),
        ({"conditions": [cond("HeadPodReady"), cond("RayClusterProvisioned"),
                         cond("ReplicaFailure", reason="FailedCreateWorkerPod")]}, Health.DEGRADED),
        ({"conditions": [cond("RayClusterSuspended")]}, Health.SUSPENDED),
    ],
)
def test_raycluster_health_by_conditions(status, expected):
    assert health_of({"status": status}, "ray.io", "RayCluster").health is expected


@pytest.mark.parametrize(
    ("deployment", "job", "wait_jobs", "expected"),
    [
        ("", "", False, Health.PROGRESSING),
        ("Initializing", "", False, Health.PROGRESSING),
        ("Running", "RUNNING", False, Health.HEALTHY),
        ("Running", "RUNNING", True, Health.PROGRESSING),
        ("Complete", "SUCCEEDED", True, Health.HEALTHY),
        ("Failed", "FAILED", True, Health.DEGRADED),
        ("ValidationFailed", "", False, Health.DEGRADED),
        ("Suspended", "", False, Health.SUSPENDED),
    ],
)
def test_rayjob_health(deployment, job, wait_jobs, expected):
    obj = {"status": {"jobDeploymentStatus": deployment, "jobStatus": job, "message": "boom"}}
    assert health_of(obj, "ray.io", "RayJob", wait_jobs=wait_jobs).health is expected


def test_validation_failed_carries_the_operator_message():
    obj = {"status": {"jobDeploymentStatus": "ValidationFailed", "message": "suspend requires shutdown"}}
    assert "suspend requires shutdown" in health_of(obj, "ray.io", "RayJob").message


def test_rayservice_health():
    ready = {"status": {"conditions": [cond("Ready", reason="NonZeroServeEndpoints"),
                                       cond("UpgradeInProgress", "False")]}}
    assert health_of(ready, "ray.io", "RayService").health is Health.HEALTHY
    upgrading = {"status": {"conditions": [cond("Ready"), cond("UpgradeInProgress")]}}
    assert health_of(upgrading, "ray.io", "RayService").health is Health.PROGRESSING
    failed = {"status": {"conditions": [cond("Ready", "False", "ValidationFailed")]}}
    assert health_of(failed, "ray.io", "RayService").health is Health.DEGRADED


def test_other_kinds_are_healthy_when_they_exist_and_missing_otherwise():
    assert health_of({"metadata": {"name": "x"}}, "", "ConfigMap").health is Health.HEALTHY
    assert health_of(None, "", "ConfigMap").health is Health.MISSING
    deleting = {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert health_of(deleting, "ray.io", "RayCluster").health is Health.PROGRESSING
