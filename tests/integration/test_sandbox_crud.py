"""CRUD and object-metadata semantics through the official client (spec §1.5-§1.7, §3)."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, UnprocessibleEntityError

from gitops_ray.sandbox import Sandbox

RAYJOB = {
    "apiVersion": "ray.io/v1", "kind": "RayJob",
    "metadata": {"name": "job", "labels": {"team": "a"}},
    "spec": {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": {"headGroupSpec": {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray"}]}}}}},
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _ns(kube: Any) -> str:
    name = _name("ns")
    kube.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": name}})
    return name


def _cm(kube: Any) -> Any:
    return kube.resources.get(api_version="v1", kind="ConfigMap")


def _rayjobs(kube: Any) -> Any:
    return kube.resources.get(api_version="ray.io/v1", kind="RayJob")


def test_create_sets_server_fields_and_get_returns_the_object(kube: Any) -> None:
    ns = _ns(kube)
    created = _cm(kube).create(body={"metadata": {"name": "c1"}, "data": {"k": "v"}}, namespace=ns).to_dict()
    meta = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["resourceVersion"].isdigit()
    assert "generation" not in meta, "core kinds have no metadata.generation"
    assert meta["managedFields"][0]["manager"] == "OpenAPI-Generator"
    assert meta["managedFields"][0]["operation"] == "Update"
    got = _cm(kube).get(name="c1", namespace=ns).to_dict()
    assert got["data"] == {"k": "v"}
    assert got["metadata"]["uid"] == meta["uid"]


def test_one_global_resource_version_moves_with_writes_to_other_objects(kube: Any) -> None:
    ns = _ns(kube)
    first = _cm(kube).create(body={"metadata": {"name": "a"}}, namespace=ns).metadata.resourceVersion
    second = _cm(kube).create(body={"metadata": {"name": "b"}}, namespace=ns).metadata.resourceVersion
    listed = _cm(kube).get(namespace=ns).metadata.resourceVersion
    assert int(second) > int(first)
    assert int(listed) >= int(second)


def test_noop_update_keeps_resource_version(kube: Any) -> None:
    ns = _ns(kube)
    live = _cm(kube).create(body={"metadata": {"name": "a"}, "data": {"k": "v"}}, namespace=ns).to_dict()
    again = _cm(kube).replace(body=live, namespace=ns).to_dict()
    assert again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    patched = _cm(kube).patch(body={"data": {"k": "v"}}, name="a", namespace=ns,
                              content_type="application/merge-patch+json").to_dict()
    assert patched["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]


def test_stale_resource_version_on_put_is_a_conflict(kube: Any) -> None:
    ns = _ns(kube)
    live = _cm(kube).create(body={"metadata": {"name": "a"}, "data": {"k": "v"}}, namespace=ns).to_dict()
    live["data"]["k"] = "w"
    _cm(kube).replace(body=live, namespace=ns)
    live["data"]["k"] = "x"
    with pytest.raises(ConflictError) as err:
        _cm(kube).replace(body=live, namespace=ns)
    status = json.loads(err.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on configmaps "a": the object has been modified; '
                                 "please apply your changes to the latest version and try again")


def test_custom_resource_generation_moves_only_with_spec(kube: Any) -> None:
    ns = _ns(kube)
    job = _rayjobs(kube).create(body=RAYJOB, namespace=ns).to_dict()
    assert job["metadata"]["generation"] == 1
    labelled = _rayjobs(kube).patch(body={"metadata": {"labels": {"x": "y"}}}, name="job", namespace=ns,
                                    content_type="application/merge-patch+json").to_dict()
    assert labelled["metadata"]["generation"] == 1
    assert labelled["metadata"]["resourceVersion"] != job["metadata"]["resourceVersion"]
    changed = _rayjobs(kube).patch(body={"spec": {"entrypoint": "echo 2"}}, name="job", namespace=ns,
                                   content_type="application/merge-patch+json").to_dict()
    assert changed["metadata"]["generation"] == 2


def test_status_is_dropped_on_create_and_written_only_through_the_subresource(kube: Any) -> None:
    ns = _ns(kube)
    body = {**RAYJOB, "status": {"jobStatus": "SUCCEEDED"}}
    job = _rayjobs(kube).create(body=body, namespace=ns).to_dict()
    assert "status" not in job
    job["status"] = {"jobStatus": "RUNNING"}
    job["spec"]["entrypoint"] = "ignored by /status"
    updated = _rayjobs(kube).status.replace(body=job, namespace=ns).to_dict()
    assert updated["status"]["jobStatus"] == "RUNNING"
    assert updated["spec"]["entrypoint"] == RAYJOB["spec"]["entrypoint"]
    assert updated["metadata"]["generation"] == 1
    updated["status"] = {"jobStatus": "FAILED"}
    main = _rayjobs(kube).replace(body=updated, namespace=ns).to_dict()
    assert main["status"]["jobStatus"] == "RUNNING", "the main endpoint keeps the old status"


def test_custom_resource_defaults_are_applied_on_write(kube: Any) -> None:
    ns = _ns(kube)
    job = _rayjobs(kube).create(body=RAYJOB, namespace=ns).to_dict()
    assert job["spec"]["submissionMode"] == "K8sJobMode"
    container = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "ray-head"


def test_custom_resource_list_items_carry_kind_but_builtin_items_do_not(kube: Any, sandbox: Sandbox) -> None:
    ns = _ns(kube)
    _rayjobs(kube).create(body=RAYJOB, namespace=ns)
    def raw_items(path: str) -> list[dict[str, Any]]:  # the client itself adds kind to list items
        with urllib.request.urlopen(sandbox.url + path) as response:
            items: list[dict[str, Any]] = json.load(response)["items"]
            return items

    cr_items = raw_items(f"/apis/ray.io/v1/namespaces/{ns}/rayjobs")
    core_items = raw_items(f"/api/v1/namespaces/{ns}/configmaps")
    assert cr_items[0]["kind"] == "RayJob" and cr_items[0]["apiVersion"] == "ray.io/v1"
    assert core_items and all("kind" not in item and "apiVersion" not in item for item in core_items)


def test_put_of_custom_resource_without_resource_version_is_invalid(kube: Any) -> None:
    ns = _ns(kube)
    job = _rayjobs(kube).create(body=RAYJOB, namespace=ns).to_dict()
    del job["metadata"]["resourceVersion"]
    with pytest.raises(UnprocessibleEntityError) as err:
        _rayjobs(kube).replace(body=job, namespace=ns)
    status = json.loads(err.value.body)
    assert status["message"] == ('rayjobs.ray.io "job" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
                                 "must be specified for an update")


def test_core_put_without_resource_version_is_unconditional(kube: Any) -> None:
    ns = _ns(kube)
    live = _cm(kube).create(body={"metadata": {"name": "a"}, "data": {"k": "v"}}, namespace=ns).to_dict()
    updated = _cm(kube).replace(body={"metadata": {"name": "a"}, "data": {"k": "w"}}, namespace=ns).to_dict()
    assert updated["data"] == {"k": "w"}
    assert updated["metadata"]["uid"] == live["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == live["metadata"]["creationTimestamp"]


def test_dry_run_create_validates_but_does_not_persist(kube: Any) -> None:
    ns = _ns(kube)
    result = _cm(kube).create(body={"metadata": {"name": "dry"}}, namespace=ns, dry_run="All").to_dict()
    assert result["metadata"]["uid"] and "resourceVersion" not in result["metadata"]
    with pytest.raises(NotFoundError):
        _cm(kube).get(name="dry", namespace=ns)


def test_merge_json_and_strategic_patches(kube: Any) -> None:
    ns = _ns(kube)
    _cm(kube).create(body={"metadata": {"name": "p"}, "data": {"a": "1", "b": "2"}}, namespace=ns)
    merged = _cm(kube).patch(body={"data": {"a": None, "c": "3"}}, name="p", namespace=ns,
                             content_type="application/merge-patch+json").to_dict()
    assert merged["data"] == {"b": "2", "c": "3"}
    ops = [{"op": "replace", "path": "/data/b", "value": "20"}]
    patched = kube.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/p", body=ops,
                           content_type="application/json-patch+json").to_dict()
    assert patched["data"]["b"] == "20"
    strategic = _cm(kube).patch(body={"data": {"d": "4"}}, name="p", namespace=ns).to_dict()
    assert strategic["data"] == {"b": "20", "c": "3", "d": "4"}


def test_service_gets_defaults_and_a_cluster_ip_that_is_immutable(kube: Any) -> None:
    ns = _ns(kube)
    services = kube.resources.get(api_version="v1", kind="Service")
    svc = services.create(body={"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}, namespace=ns).to_dict()
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert re.fullmatch(r"10\.96\.\d+\.\d+", spec["clusterIP"]) and spec["clusterIPs"] == [spec["clusterIP"]]
    with pytest.raises(UnprocessibleEntityError):
        services.patch(body={"spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}}, name="web",
                       namespace=ns, content_type="application/merge-patch+json")


def test_secret_string_data_is_merged_into_data(kube: Any) -> None:
    ns = _ns(kube)
    secrets = kube.resources.get(api_version="v1", kind="Secret")
    secret = secrets.create(body={"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}},
                            namespace=ns).to_dict()
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in secret


def test_generate_name_appends_five_characters(kube: Any) -> None:
    ns = _ns(kube)
    created = _cm(kube).create(body={"metadata": {"generateName": "gen-"}}, namespace=ns).to_dict()
    assert re.fullmatch(r"gen-[a-z0-9]{5}", created["metadata"]["name"])


def test_label_and_field_selectors_filter_lists(kube: Any) -> None:
    ns = _ns(kube)
    for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "x"}), ("c", {"app": "y"})):
        _cm(kube).create(body={"metadata": {"name": name, "labels": labels}}, namespace=ns)

    def names(**kwargs: Any) -> list[str]:
        return [i.metadata.name for i in _cm(kube).get(namespace=ns, **kwargs).items]

    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app in (x,y),!tier") == ["b", "c"]
    assert names(label_selector="app!=x") == ["c", "kube-root-ca.crt"]
    assert names(label_selector="tier") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector=f"metadata.namespace={ns},metadata.name!=a", label_selector="app") == ["b", "c"]


def test_limit_and_continue_page_through_a_list(kube: Any) -> None:
    ns = _ns(kube)
    for index in range(5):
        _cm(kube).create(body={"metadata": {"name": f"page-{index}"}}, namespace=ns)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = _cm(kube).get(namespace=ns, limit=2, _continue=token)
        seen += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata["continue"]
        if not token:
            break
        assert page.metadata.remainingItemCount == 6 - len(seen)
    assert seen == ["kube-root-ca.crt"] + [f"page-{i}" for i in range(5)]
    assert pages == 3


def test_delete_collection_returns_the_deleted_objects(kube: Any) -> None:
    ns = _ns(kube)
    for name in ("d1", "d2"):
        _cm(kube).create(body={"metadata": {"name": name, "labels": {"del": "yes"}}}, namespace=ns)
    result = _cm(kube).delete(namespace=ns, label_selector="del=yes").to_dict()
    assert result["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in result["items"]) == ["d1", "d2"]
    assert [i.metadata.name for i in _cm(kube).get(namespace=ns).items] == ["kube-root-ca.crt"]


def test_cluster_scoped_object_ignores_a_namespace_in_the_body(kube: Any) -> None:
    name = _name("pc")
    classes = kube.resources.get(api_version="scheduling.k8s.io/v1", kind="PriorityClass")
    created = classes.create(body={"metadata": {"name": name, "namespace": "default"}, "value": 10}).to_dict()
    assert "namespace" not in created["metadata"]
