"""The simulated KubeRay operator inside a running sandbox, observed through the official kubernetes client.

What gitops-ray relies on: objects reach the states kuberay-facts.md §4 names,
children appear and disappear as §6.1 says, and every operator write is
attributed in managedFields the way a real cluster attributes it (status via
the status subresource as `kuberay-operator`, the autoscaler's Update of
`workerGroupSpecs` as `ray-autoscaler`, which later applies conflict with).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.dynamic.exceptions import ConflictError

from gitops_ray.sandbox import Sandbox

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "kuberay-samples-v1.5.1"
TIMINGS = {"tick": 0.05, "head_ready": 0.2, "workers_ready": 0.2, "job_pending": 0.1, "job_runtime": 0.3,
           "serve_deploy": 0.1, "cluster_deletion_delay_scale": 0.005, "autoscaler_scale_up_after": 0.1}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox-operator"), operator=True, operator_timings=TIMINGS) as sandbox:
        yield sandbox
        assert not sandbox.operator.errors, list(sandbox.operator.errors)


@pytest.fixture(scope="module")
def kube(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from kubernetes import config, dynamic

    api_client = config.new_client_from_config(config_file=str(box.kubeconfig))
    return dynamic.DynamicClient(api_client, cache_file=str(tmp_path_factory.mktemp("kube-cache") / "discovery.json"))


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"gave up waiting; last value: {value}"
        time.sleep(0.05)
        value = read()
    return value


def resource(kube: Any, kind: str, api_version: str = "ray.io/v1") -> Any:
    return kube.resources.get(api_version=api_version, kind=kind)


def apply(kube: Any, body: dict[str, Any], force: bool = False) -> Any:
    api = resource(kube, body["kind"], body["apiVersion"])
    return kube.server_side_apply(api, body=body, namespace="default", field_manager="gitops-ray",
                                  force_conflicts=force)


def read(kube: Any, kind: str, name: str, api_version: str = "ray.io/v1") -> dict[str, Any] | None:
    items = resource(kube, kind, api_version).get(namespace="default").to_dict()["items"]
    return next((i for i in items if i["metadata"]["name"] == name), None)


def state(kube: Any, kind: str, name: str) -> dict[str, Any]:
    obj = read(kube, kind, name)
    assert obj is not None, f"{kind} {name} is gone"
    return obj


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}


def managers(obj: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(m["manager"], m["operation"], m.get("subresource", "")) for m in obj["metadata"]["managedFields"]}


def cluster_spec(replicas: int = 1, **extra: Any) -> dict[str, Any]:
    pod = {"containers": [{"name": "ray", "image": "rayproject/ray:2.46.0",
                           "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}
    return {"rayVersion": "2.46.0", "headGroupSpec": {"rayStartParams": {}, "template": {"spec": pod}},
            "workerGroupSpecs": [{"groupName": "workers", "replicas": replicas, "minReplicas": 0, "maxReplicas": 3,
                                  "rayStartParams": {}, "template": {"spec": pod}}], **extra}


def test_raycluster_sample_reaches_ready_and_status_is_written_via_the_status_subresource(kube: Any) -> None:
    body = yaml.safe_load((SAMPLES / "ray-cluster.sample.yaml").read_text())
    apply(kube, body)
    name = body["metadata"]["name"]
    cluster = wait_for(lambda: state(kube, "RayCluster", name),
                       lambda c: (c.get("status") or {}).get("state") == "ready")
    conds = conditions(cluster)
    assert (conds["HeadPodReady"]["status"], conds["HeadPodReady"]["reason"]) == ("True", "HeadPodRunningAndReady")
    assert (conds["RayClusterProvisioned"]["status"], conds["RayClusterProvisioned"]["reason"]) == (
        "True", "AllPodRunningAndReadyFirstTime")
    assert cluster["status"]["head"]["serviceName"] == f"{name}-head-svc"
    assert ("kuberay-operator", "Update", "status") in managers(cluster)
    assert ("gitops-ray", "Apply", "") in managers(cluster)
    svc = read(kube, "Service", f"{name}-head-svc", "v1")
    assert svc is not None and managers(svc) == {("kuberay-operator", "Update", "")}
    assert svc["metadata"]["ownerReferences"][0]["uid"] == cluster["metadata"]["uid"]


def test_rayjob_completes_and_its_cluster_goes_after_the_ttl_while_the_rayjob_stays(kube: Any) -> None:
    apply(kube, {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "ttl-job"},
                 "spec": {"entrypoint": "python -c 'print(42)'", "shutdownAfterJobFinishes": True,
                          "ttlSecondsAfterFinished": 1, "rayClusterSpec": cluster_spec()}})
    job = wait_for(lambda: state(kube, "RayJob", "ttl-job"),
                   lambda j: (j.get("status") or {}).get("jobDeploymentStatus") == "Complete")
    status = job["status"]
    assert status["jobStatus"] == "SUCCEEDED" and status["succeeded"] == 1
    assert job["metadata"]["finalizers"] == ["ray.io/rayjob-finalizer"]
    assert {("kuberay-operator", "Update", "status"), ("kuberay-operator", "Update", "")} <= managers(job)
    cluster = status["rayClusterName"]
    assert read(kube, "RayCluster", cluster) is not None
    wait_for(lambda: read(kube, "RayCluster", cluster), lambda c: c is None, timeout=5)
    assert read(kube, "RayJob", "ttl-job") is not None
    submitter = read(kube, "Job", "ttl-job", "batch/v1")
    assert submitter is not None
    assert [c["type"] for c in submitter["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert ("kube-controller-manager", "Update", "status") in managers(submitter)


def test_rayjob_whose_entrypoint_exits_1_ends_failed(kube: Any) -> None:
    apply(kube, {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "bad-job"},
                 "spec": {"entrypoint": "bash -c 'exit 1'", "rayClusterSpec": cluster_spec()}})
    job = wait_for(lambda: state(kube, "RayJob", "bad-job"),
                   lambda j: (j.get("status") or {}).get("jobDeploymentStatus") in ("Complete", "Failed"))
    status = job["status"]
    assert (status["jobDeploymentStatus"], status["jobStatus"], status["reason"]) == ("Failed", "FAILED",
                                                                                      "AppFailed")
    assert status["message"].startswith("Job entrypoint command failed with exit code 1")
    assert status["failed"] == 1 and "endTime" in status


def test_rayjob_spec_error_surfaces_as_validation_failed(kube: Any) -> None:
    apply(kube, {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "invalid-job"},
                 "spec": {"entrypoint": "true", "suspend": True, "rayClusterSpec": cluster_spec()}})
    job = wait_for(lambda: state(kube, "RayJob", "invalid-job"), lambda j: "status" in j)
    assert (job["status"]["jobDeploymentStatus"], job["status"]["message"]) == (
        "ValidationFailed", "The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false is "
                            "not allowed to be suspended")


def test_rayservice_sample_reaches_ready(kube: Any) -> None:
    body = yaml.safe_load((SAMPLES / "ray-service.sample.yaml").read_text())
    apply(kube, body)
    name = body["metadata"]["name"]
    svc = wait_for(lambda: state(kube, "RayService", name),
                   lambda s: conditions(s).get("Ready", {}).get("status") == "True")
    status = svc["status"]
    assert status["serviceStatus"] == "Running" and status["numServeEndpoints"] > 0
    assert conditions(svc)["UpgradeInProgress"]["status"] == "False"
    active = status["activeServiceStatus"]
    assert set(active["applicationStatuses"]) == {"fruit_app", "math_app"}
    assert read(kube, "RayCluster", active["rayClusterName"]) is not None
    for suffix in ("head-svc", "serve-svc"):
        assert read(kube, "Service", f"{name}-{suffix}", "v1") is not None


def test_autoscaler_update_owns_worker_group_specs_so_a_plain_apply_conflicts(kube: Any) -> None:
    body = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "scaled"},
            "spec": cluster_spec(replicas=1, enableInTreeAutoscaling=True)}
    apply(kube, body)
    cluster = wait_for(lambda: state(kube, "RayCluster", "scaled"),
                       lambda c: c["spec"]["workerGroupSpecs"][0]["replicas"] == 2)
    autoscaler = [m for m in cluster["metadata"]["managedFields"] if m["manager"] == "ray-autoscaler"]
    assert [(m["operation"], m.get("subresource")) for m in autoscaler] == [("Update", None)]
    assert "f:workerGroupSpecs" in autoscaler[0]["fieldsV1"]["f:spec"]
    with pytest.raises(ConflictError) as conflict:
        apply(kube, body)
    assert "ray-autoscaler" in str(conflict.value.body)
    forced = apply(kube, body, force=True).to_dict()
    assert forced["spec"]["workerGroupSpecs"][0]["replicas"] == 1


def test_deleting_a_rayjob_waits_for_the_operator_to_drop_its_finalizer_and_collects_its_children(kube: Any) -> None:
    apply(kube, {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "doomed"},
                 "spec": {"entrypoint": "sleep 1", "rayClusterSpec": cluster_spec()}})
    job = wait_for(lambda: state(kube, "RayJob", "doomed"),
                   lambda j: (j.get("status") or {}).get("jobDeploymentStatus") == "Running")
    cluster = job["status"]["rayClusterName"]
    resource(kube, "RayJob").delete(name="doomed", namespace="default")
    wait_for(lambda: read(kube, "RayJob", "doomed"), lambda j: j is None, timeout=5)
    wait_for(lambda: (read(kube, "RayCluster", cluster), read(kube, "Job", "doomed", "batch/v1")),
             lambda pair: pair == (None, None), timeout=5)
