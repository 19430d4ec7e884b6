"""The official Python client and kubectl against the real kube-apiserver, with the KubeRay CRDs installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitops_ray.devcluster import ControlPlane, pins

RAYCLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "crud"},
    "spec": {
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}},
        },
    },
}


def test_version_is_the_pinned_release(control_plane: ControlPlane) -> None:
    version = control_plane.api.get("/version")
    assert version["gitVersion"] == pins()["kubernetes"]
    assert (version["major"], version["minor"]) == tuple(pins()["kubernetes"].removeprefix("v").split(".")[:2])


def test_python_client_crud_configmap(k8s_client: Any, namespace: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(k8s_client)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"})
    created = core.create_namespaced_config_map(namespace, body)
    assert created.metadata.uid and created.data == {"a": "1"}
    patched = core.patch_namespaced_config_map("settings", namespace, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    listed = core.list_namespaced_config_map(namespace)
    assert [cm.metadata.name for cm in listed.items if cm.metadata.name == "settings"] == ["settings"]
    core.delete_namespaced_config_map("settings", namespace)
    try:
        core.read_namespaced_config_map("settings", namespace)
    except ApiException as err:
        assert err.status == 404
    else:
        raise AssertionError("the ConfigMap is still there after DELETE")


def test_python_client_crud_raycluster(k8s_client: Any, namespace: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    custom = client.CustomObjectsApi(k8s_client)
    args = ("ray.io", "v1", namespace, "rayclusters")
    created = custom.create_namespaced_custom_object(*args, RAYCLUSTER)
    assert created["metadata"]["generation"] == 1
    patched = custom.patch_namespaced_custom_object(*args, "crud", {"spec": {"suspend": True}})
    assert patched["spec"]["suspend"] is True and patched["metadata"]["generation"] == 2
    try:  # structural schema: an unknown type for a known field is refused by the real CRD validation
        custom.patch_namespaced_custom_object(*args, "crud", {"spec": {"suspend": "yes"}})
    except ApiException as err:
        assert err.status == 422, err.body
    else:
        raise AssertionError("a string for spec.suspend was accepted")
    custom.delete_namespaced_custom_object(*args, "crud")


def test_kubectl_get_and_server_side_apply(real_kubectl: Any, namespace: str) -> None:
    version = json.loads(real_kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == pins()["kubernetes"]
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm", "namespace": namespace},
                "data": {"k": "v"},
            },
            {**RAYCLUSTER, "metadata": {"name": "ssa", "namespace": namespace}},
        ],
    }
    out = real_kubectl(
        "apply", "--server-side", "--field-manager=gitops-ray-test", "-f", "-", input=json.dumps(manifest)
    )
    assert "configmap/cm serverside-applied" in out.stdout
    assert "raycluster.ray.io/ssa serverside-applied" in out.stdout
    got = json.loads(
        real_kubectl("get", "raycluster", "ssa", "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    )
    managers = {entry["manager"] for entry in got["metadata"]["managedFields"]}
    assert "gitops-ray-test" in managers
    names = real_kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split()
    assert "configmap/cm" in names


def test_installed_crds_are_the_operators_release(control_plane: ControlPlane) -> None:
    crd_dir = Path(__file__).resolve().parents[2] / "schemas" / "kuberay" / control_plane.kuberay_version / "crds"
    expected = {f"{p.name.split('_', 1)[1].removesuffix('.yaml.gz')}.ray.io" for p in crd_dir.glob("*.yaml.gz")}
    listed = control_plane.api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    assert {crd["metadata"]["name"] for crd in listed if crd["spec"]["group"] == "ray.io"} == expected
