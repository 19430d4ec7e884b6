"""The real KubeRay operator on the real control plane: the dev environment's RayCluster becomes ready.

kwok plays every kubelet: the scheduler binds the operator's pods to the fake node and kwok marks them
Running and Ready (no container runs), which is all the operator checks for `status.state: ready`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops_ray.devcluster import ControlPlane

DEV_RAYCLUSTER = Path(__file__).resolve().parents[2] / "environments" / "dev" / "raycluster.yaml"


def _eventually(what: str, probe: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


def test_dev_raycluster_pods_run_and_cluster_becomes_ready(
    control_plane: ControlPlane, k8s_client: Any, namespace: str
) -> None:
    from kubernetes import client

    manifest = copy.deepcopy(yaml.safe_load(DEV_RAYCLUSTER.read_text()))
    manifest["metadata"]["namespace"] = namespace
    name = manifest["metadata"]["name"]
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "ray-workloads"}})
    custom = client.CustomObjectsApi(k8s_client)
    custom.create_namespaced_custom_object("ray.io", "v1", namespace, "rayclusters", manifest)
    workers = sum(group["replicas"] for group in manifest["spec"]["workerGroupSpecs"])

    def pods_running() -> list[Any]:
        pods = core.list_namespaced_pod(namespace, label_selector=f"ray.io/cluster={name}").items
        running = [p for p in pods if p.status.phase == "Running" and p.spec.node_name]
        return running if len(running) == workers + 1 else []

    pods = _eventually("the head and worker pods Running", pods_running)
    assert {p.metadata.labels["ray.io/node-type"] for p in pods} == {"head", "worker"}
    assert all(p.spec.node_name.startswith("kwok-node-") for p in pods)

    def ready() -> Any:
        obj = custom.get_namespaced_custom_object("ray.io", "v1", namespace, "rayclusters", name)
        return obj if obj.get("status", {}).get("state") == "ready" else None

    status = _eventually("RayCluster status.state=ready", ready)["status"]
    assert status["readyWorkerReplicas"] == workers
    assert {c["type"]: c["status"] for c in status.get("conditions", [])}.get("HeadPodReady") == "True"
    services = core.list_namespaced_service(namespace, label_selector=f"ray.io/cluster={name}").items
    assert any(s.metadata.name.endswith("head-svc") for s in services)
