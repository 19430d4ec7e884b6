"""Deletion as a real control plane does it: asynchronous, through finalizers, the namespace controller and GC."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gitops_ray.devcluster import ControlPlane


def _eventually(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_namespace_stays_terminating_until_its_content_is_gone(control_plane: ControlPlane) -> None:
    api = control_plane.api
    name = f"terminating-{int(time.time() * 1000) % 10**8}"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    held = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    api.create(f"/api/v1/namespaces/{name}/configmaps", held)

    status, body = api.request("DELETE", f"/api/v1/namespaces/{name}")
    assert status == 200 and body["status"]["phase"] == "Terminating"
    status, body = api.request("POST", "/api/v1/namespaces", body=json.dumps({"metadata": {"name": name}}).encode())
    assert status == 409 and "object is being deleted" in body["message"], body
    status, body = api.request(
        "POST", f"/api/v1/namespaces/{name}/configmaps", body=json.dumps({"metadata": {"name": "new"}}).encode()
    )
    assert status == 403 and "is being terminated" in body["message"], body

    status, _ = api.request(
        "PATCH",
        f"/api/v1/namespaces/{name}/configmaps/held",
        body=json.dumps({"metadata": {"finalizers": None}}).encode(),
        content_type="application/merge-patch+json",
    )
    assert status == 200
    _eventually("the namespace to go", lambda: api.request("GET", f"/api/v1/namespaces/{name}")[0] == 404)


def test_deleting_a_raycluster_collects_its_pods_and_service(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "gc"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}},
            },
        },
    }
    api.create(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters", cluster)
    pods = f"/api/v1/namespaces/{namespace}/pods?labelSelector=ray.io/cluster=gc"
    services = f"/api/v1/namespaces/{namespace}/services?labelSelector=ray.io/cluster=gc"
    _eventually("the head pod", lambda: api.get(pods)["items"])
    _eventually("the head service", lambda: api.get(services)["items"])

    status, _ = api.request("DELETE", f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters/gc")
    assert status == 200
    _eventually("GC of the pods (kwok completes their deletion)", lambda: not api.get(pods)["items"])
    _eventually("GC of the service", lambda: not api.get(services)["items"])
