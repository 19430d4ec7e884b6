"""The server with the simulated operator on: its status writes arrive through the same
pipeline (status subresource, its own field manager) and clients see them like any other write."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.kubectl

RAYCLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc}
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: rayproject/ray:2.9.0}]
  workerGroupSpecs:
  - groupName: small
    replicas: 2
    minReplicas: 0
    maxReplicas: 5
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-worker, image: rayproject/ray:2.9.0}]
"""


def test_kubectl_waits_for_the_simulated_operator_to_make_a_cluster_ready(operator_kubectl: Any) -> None:
    ns = f"op-{uuid.uuid4().hex[:8]}"
    operator_kubectl("create", "namespace", ns)
    operator_kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=RAYCLUSTER)
    out = operator_kubectl("wait", "-n", ns, "raycluster/rc", "--for=jsonpath={.status.state}=ready",
                           "--timeout=30s")
    assert "condition met" in out.stdout
    live = json.loads(operator_kubectl("get", "-n", ns, "raycluster", "rc", "-o", "json",
                                       "--show-managed-fields").stdout)
    status_writers = {e["manager"] for e in live["metadata"]["managedFields"] if e.get("subresource") == "status"}
    assert "kuberay-operator" in status_writers
    assert live["metadata"]["generation"] == 1, "status writes never move generation"
    table = operator_kubectl("get", "-n", ns, "rayclusters").stdout.splitlines()
    assert table[1].split()[0] == "rc" and "ready" in table[1].split()
